"""Compute as the GCP emulator serves it: global and regional collections, operations,
and the rules Compute keeps (the load-balancing collections' own in gcp_compute_lb.py).
See cairn_gcp.py for the whole."""

import base64
import ipaddress
import os
import random
import re
import time
import uuid

import gcp_compute_lb
import gcp_compute_lb_rules
from gcp_contract import ApiError
from gcp_secrets import project_number

COMPUTE_BASE = "https://www.googleapis.com/compute/v1/"


def now_rfc3339():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03d-00:00" % int((t % 1) * 1000)


class Compute:
    """Compute's global and regional collections, their operations and their rules."""

    # Collection -> the kind Compute gives its objects. Others are routed, not emulated.
    KINDS = {
        "networks": "compute#network",
        "subnetworks": "compute#subnetwork",
        "firewalls": "compute#firewall",
        "routers": "compute#router",
        "globalAddresses": "compute#address",
        **gcp_compute_lb_rules.KINDS,
    }
    # The URL segment of each collection (globalAddresses live at global/addresses).
    SEGMENT = {"globalAddresses": "addresses", **gcp_compute_lb_rules.SEGMENT}

    # Where private services access may allocate a range when none is given.
    PRIVATE_POOLS = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]

    def __init__(self, settings):
        self.settings = settings
        # What uses Compute's resources: callables (key) -> the path of one resource using
        # it, or None (the load-balancing chain's references; other APIs' resources, as
        # Service Networking's connections use addresses).
        self.lb = gcp_compute_lb.LoadBalancing(self)
        self.in_use = [self.lb.user]
        self.reset()

    def reset(self):
        self.objects = {}  # (project, scope, collection, name) -> object
        self.operations = {}  # (project, scope, name) -> operation record
        self.requests = {}  # (project, requestId) -> operation key
        self.next_id = 1000
        self.external = 0

    def new_id(self):
        self.next_id += 1
        return str(random.Random(self.next_id).getrandbits(63))

    def link(self, project, scope, collection, name=None):
        seg = self.SEGMENT.get(collection, collection)
        tail = f"/{name}" if name else ""
        return f"{COMPUTE_BASE}projects/{project}/{scope}/{seg}{tail}"

    # A reference in a body may be a full URL, a partial one, or (for networks) a name.
    def resolve(self, project, ref, collection):
        ref = ref.split("/compute/v1/", 1)[-1]
        if ref.startswith("projects/"):
            parts = ref.split("/")
            return parts[1], "/".join(parts[2:-2]), parts[-1]
        if ref.startswith(("global/", "regions/")):
            parts = ref.split("/")
            return project, "/".join(parts[:-2]), parts[-1]
        return project, "global", ref

    def settle(self):
        """Operations finish on their own after `op_ms`, polled or not, as on GCP (a run
        killed before it polled leaves an operation that still completes)."""
        if self.settings.op_ms <= 0:
            return
        now = time.time()
        for record in list(self.operations.values()):
            if record["op"]["status"] != "DONE" and now - record["started"] >= self.settings.op_ms / 1000.0:
                self.advance(record, finish=True)

    def handle(self, method, params, query, body):
        verb = method.id.split(".")[-1]
        collection = method.id.split(".")[1]
        project = params[0]
        if collection in ("globalOperations", "regionOperations"):
            scope = "global" if collection == "globalOperations" else f"regions/{params[1]}"
            if verb in ("list", "aggregatedList"):
                return self.list_operations(project, scope if verb == "list" else None, query)
            return self.operation(project, scope, params[-1], verb)
        if method.id == "compute.projects.get":
            # The project's `id` is its number, which Service Networking names networks by.
            return {
                "kind": "compute#project",
                "id": project_number(project),
                "name": project,
                "creationTimestamp": "2020-01-01T00:00:00.000-00:00",
                "selfLink": f"{COMPUTE_BASE}projects/{project}",
                "defaultNetworkTier": "PREMIUM",
            }
        verbs = ("insert", "get", "list", "delete", "patch") + gcp_compute_lb_rules.METHODS.get(collection, ())
        if collection not in self.KINDS or verb not in verbs:
            raise ApiError(501, f"{method.id} is routed but not emulated yet.")
        regional = collection in ("subnetworks", "routers")
        scope = f"regions/{params[1]}" if regional else "global"
        name = params[-1] if len(params) == (3 if regional else 2) else None
        key = (project, scope, collection, name)
        if verb == "list":
            return self.list(project, scope, collection, query)
        if verb == "get":
            return self.get(project, scope, collection, name)
        if verb == "getRule":
            return self.lb.get_rule(key, query)
        request_id = (query.get("requestId") or [None])[0]
        if request_id is not None:
            try:
                if uuid.UUID(request_id).int == 0:
                    raise ValueError
            except ValueError:
                raise ApiError(400, f"Invalid value for field 'requestId': '{request_id}'. The requestId must be a valid UUID, not the zero UUID.")
            earlier = self.requests.get((project, request_id))
            if earlier is not None:
                return self.operations[earlier]["op"]
        # validateOnly (security policies): checked, answered DONE, nothing changed.
        dry = (query.get("validateOnly") or ["false"])[0] == "true"
        if verb == "insert":
            key, body = self.check_insert(project, scope, collection, body)
            new_id = self.new_id()
            effect = None if dry else lambda: self.create(key, body, new_id)
            op = self.start(project, scope, "insert", key, effect, new_id, None if dry else body)
        elif verb == "delete":
            self.must_exist(key)
            self.check_delete(key)
            op = self.start(project, scope, "delete", key, lambda: self.objects.pop(key, None))
        else:
            self.must_exist(key)
            if body.get("name", name) != name:
                raise ApiError(400, f"Invalid value for field 'resource.name': '{body['name']}'. The name of a {collection[:-1]} cannot change.")
            if verb == "patch" and collection not in gcp_compute_lb_rules.KINDS:
                new, effect = None, lambda: self.patch(key, body)
            else:
                new = self.lb.change(verb, key, body, query)
                effect = None if dry else lambda: self.objects.__setitem__(key, new)
            op = self.start(project, scope, verb, key, effect, body=new)
        if request_id is not None:
            self.requests[(project, request_id)] = (project, scope, op["name"])
        return op

    def must_exist(self, key):
        if key not in self.objects:
            project, scope, collection, name = key
            seg = self.SEGMENT.get(collection, collection)
            raise ApiError(404, f"The resource 'projects/{project}/{scope}/{seg}/{name}' was not found")

    def check_insert(self, project, scope, collection, body):
        name = body.get("name", "")
        if not name:
            raise ApiError(400, "Required field 'resource.name' not specified")
        key = (project, scope, collection, name)
        pending = any(
            r["key"] == key and r["op"]["status"] != "DONE" and r["op"]["operationType"] == "insert"
            for r in self.operations.values()
        )
        if key in self.objects or pending:
            seg = self.SEGMENT.get(collection, collection)
            raise ApiError(409, f"The resource 'projects/{project}/{scope}/{seg}/{name}' already exists")
        if collection in ("subnetworks", "firewalls", "routers") or (collection == "globalAddresses" and body.get("network")):
            self.must_exist(self.network_key(project, body.get("network", "")))
        if collection == "subnetworks":
            self.check_range(project, scope, body)
        if collection == "globalAddresses":
            body = self.check_address(project, body)
        if collection in gcp_compute_lb_rules.KINDS:
            body = self.lb.check(project, collection, body, key)
        return key, body

    def network_key(self, project, ref):
        p, scope, name = self.resolve(project, ref, "networks")
        return (p, "global", "networks", name)

    def check_range(self, project, scope, body):
        cidr = body.get("ipCidrRange", "")
        try:
            net = ipaddress.ip_network(cidr, strict=True)
        except ValueError:
            raise ApiError(400, f"Invalid value for field 'resource.ipCidrRange': '{cidr}'. Invalid IPCidrRange: {cidr}.")
        network = self.network_key(project, body.get("network", ""))
        for (p, sc, coll, other), obj in self.objects.items():
            if coll == "subnetworks" and self.network_key(p, obj.get("network", "")) == network:
                if net.overlaps(ipaddress.ip_network(obj["ipCidrRange"])):
                    raise ApiError(
                        400,
                        f"Invalid IPCidrRange: {cidr} conflicts with existing subnetwork '{other}' in region '{sc.split('/')[-1]}'.",
                    )
        for other, allocated in self.allocated_ranges(network):
            if net.overlaps(allocated):
                raise ApiError(400, f"Invalid IPCidrRange: {cidr} conflicts with existing allocated IP range '{other}'.")

    def made_or_making(self, collection, network):
        """(key, body) of a collection's objects in a network, those being inserted too."""
        found = [(k, o) for k, o in self.objects.items() if k[2] == collection]
        found += [
            (r["key"], r["body"])
            for r in self.operations.values()
            if r["key"][2] == collection and r["op"]["operationType"] == "insert" and r["op"]["status"] != "DONE"
        ]
        return [(k, b) for k, b in found if self.network_key(k[0], b.get("network", "")) == network]

    def allocated_ranges(self, network):
        """(name, range) of the network's VPC_PEERING addresses, reserved or being reserved."""
        return [
            (key[3], ipaddress.ip_network(f"{b['address']}/{b['prefixLength']}"))
            for key, b in self.made_or_making("globalAddresses", network)
            if b.get("purpose") == "VPC_PEERING"
        ]

    def check_address(self, project, body):
        """A global address: VPC_PEERING ones are INTERNAL ranges of a network, given or
        allocated clear of its subnetworks and other ranges; others take no network."""
        purpose, kind = body.get("purpose"), body.get("addressType", "EXTERNAL")
        if purpose != "VPC_PEERING":
            if body.get("network") and not (kind == "INTERNAL" and purpose == "PRIVATE_SERVICE_CONNECT"):
                raise ApiError(
                    400,
                    f"Invalid value for field 'resource.network': '{body['network']}'. A network can only be given for an INTERNAL address with purpose VPC_PEERING or PRIVATE_SERVICE_CONNECT.",
                )
            if kind == "EXTERNAL" and "address" not in body:
                self.external += 1
                v6 = body.get("ipVersion") == "IPV6"
                body = dict(body, address=f"2001:db8::{self.external:x}" if v6 else f"198.51.100.{self.external % 254 + 1}")
            return body
        if kind != "INTERNAL":
            raise ApiError(400, f"Invalid value for field 'resource.addressType': '{kind}'. An address with purpose VPC_PEERING must be INTERNAL.")
        if not body.get("network"):
            raise ApiError(400, "Invalid value for field 'resource.network': ''. An address with purpose VPC_PEERING must name its network.")
        if "prefixLength" not in body:
            raise ApiError(400, "Invalid value for field 'resource.prefixLength': ''. An address with purpose VPC_PEERING needs a prefix length.")
        prefix = int(body["prefixLength"])
        if not 8 <= prefix <= 29:
            raise ApiError(400, f"Invalid value for field 'resource.prefixLength': '{prefix}'. The prefix length must be between 8 and 29.")
        network = self.network_key(project, body["network"])
        taken = [(f"subnetwork '{k[3]}'", ipaddress.ip_network(b["ipCidrRange"])) for k, b in self.made_or_making("subnetworks", network)]
        taken += [(f"allocated IP range '{name}'", r) for name, r in self.allocated_ranges(network)]
        if "address" in body:
            try:
                want = ipaddress.IPv4Network(f"{body['address']}/{prefix}", strict=True)
            except ValueError:
                raise ApiError(400, f"Invalid value for field 'resource.address': '{body['address']}'. It must be the first IPv4 address of a /{prefix} range.")
            for what, r in taken:
                if want.overlaps(r):
                    raise ApiError(400, f"Invalid IPCidrRange: {want} conflicts with existing {what}.")
            return dict(body, prefixLength=prefix)
        return dict(body, prefixLength=prefix, address=self.free_range(prefix, [r for _, r in taken]))

    def free_range(self, prefix, taken):
        """The first /prefix block of the private pools that overlaps nothing taken."""
        size = 2 ** (32 - prefix)
        for pool in self.PRIVATE_POOLS:
            if prefix < pool.prefixlen:
                continue
            start = int(pool.network_address)
            while start + size - 1 <= int(pool.broadcast_address):
                block = ipaddress.IPv4Network((start, prefix))
                clash = [r for r in taken if r.overlaps(block)]
                if not clash:
                    return str(block.network_address)
                after = max(int(r.broadcast_address) for r in clash) + 1
                start = -(-after // size) * size
        raise ApiError(400, f"Invalid value for field 'resource.prefixLength': '{prefix}'. No free /{prefix} range is left in the network.")

    def check_delete(self, key):
        project, scope, collection, name = key
        for hook in self.in_use:
            user = hook(key)
            if user:
                # Compute names the kind in snake case: "The health_check resource ..."
                kind = re.sub(r"(?<!^)([A-Z])", r"_\1", self.KINDS[collection].split("#")[1]).lower()
                seg = self.SEGMENT.get(collection, collection)
                raise ApiError(
                    400,
                    f"The {kind} resource 'projects/{project}/{scope}/{seg}/{name}' is already being used by '{user}'",
                    "resourceInUseByAnotherResource",
                )
        if collection != "networks":
            return
        for (p, sc, coll, other), obj in self.objects.items():
            if coll in ("subnetworks", "firewalls", "routers", "globalAddresses") and self.network_key(p, obj.get("network", "")) == key:
                seg = self.SEGMENT.get(coll, coll)
                raise ApiError(
                    400,
                    f"The network resource 'projects/{project}/global/networks/{name}' is already being used by 'projects/{p}/{sc}/{seg}/{other}'",
                    "resourceInUseByAnotherResource",
                )

    def create(self, key, body, new_id):
        project, scope, collection, name = key
        obj = dict(body)
        obj.update(
            {
                "kind": self.KINDS[collection],
                "id": new_id,
                "creationTimestamp": now_rfc3339(),
                "selfLink": self.link(project, scope, collection, name),
            }
        )
        if scope.startswith("regions/"):
            obj["region"] = f"{COMPUTE_BASE}projects/{project}/{scope}"
        if "network" in obj:
            p, _, net = self.resolve(project, obj["network"], "networks")
            obj["network"] = self.link(p, "global", "networks", net)
        if collection == "networks":
            obj.setdefault("autoCreateSubnetworks", True)
            obj.setdefault("routingConfig", {"routingMode": "REGIONAL"})
            obj["subnetworks"] = []
        if collection == "subnetworks":
            net = ipaddress.ip_network(obj["ipCidrRange"])
            obj["gatewayAddress"] = str(net.network_address + 1)
            obj.setdefault("privateIpGoogleAccess", False)
            # bytes travel as URL-safe Base64, as Google's JSON encodes them.
            obj["fingerprint"] = base64.urlsafe_b64encode(os.urandom(8)).decode()
        if collection == "globalAddresses":
            if obj.setdefault("addressType", "EXTERNAL") == "EXTERNAL":
                obj.setdefault("ipVersion", "IPV4")
                obj.setdefault("networkTier", "PREMIUM")
            obj["status"] = "RESERVED"
        if collection == "firewalls":
            obj.setdefault("direction", "INGRESS")
            obj.setdefault("priority", 1000)
            obj.setdefault("disabled", False)
        self.lb.stamp(collection, obj)
        self.objects[key] = obj
        return obj

    def patch(self, key, body):
        """A JSON merge patch, as Compute's patch methods are (server-set fields kept)."""
        obj = self.objects[key]
        kept = {k: obj[k] for k in ("id", "kind", "selfLink", "creationTimestamp")}
        self.objects[key] = dict(gcp_compute_lb_rules.merge_patch(obj, body), **kept)

    def start(self, project, scope, kind, key, effect, target_id=None, body=None):
        name = f"operation-{int(time.time() * 1000)}-{uuid.uuid4().hex[:12]}"
        op = {
            "kind": "compute#operation",
            "id": self.new_id(),
            "name": name,
            "operationType": kind,
            "targetLink": self.link(*key),
            "targetId": target_id or self.objects[key]["id"],
            "status": "PENDING",
            "progress": 0,
            "insertTime": now_rfc3339(),
            "user": "cairn-emulator@example.iam.gserviceaccount.com",
            "selfLink": f"{COMPUTE_BASE}projects/{project}/{scope}/operations/{name}",
        }
        if scope.startswith("regions/"):
            op["region"] = f"{COMPUTE_BASE}projects/{project}/{scope}"
        record = {"op": op, "key": key, "effect": effect, "polls": 0, "started": time.time(), "body": body}
        self.operations[(project, scope, name)] = record
        if self.settings.op_polls == 0 or effect is None:
            self.advance(record, finish=True)
        return dict(op)

    def advance(self, record, finish=False):
        op = record["op"]
        if op["status"] == "DONE":
            return
        record["polls"] += 1
        if finish or record["polls"] >= self.settings.op_polls:
            if record["effect"]:
                record["effect"]()
            op.update({"status": "DONE", "progress": 100, "endTime": now_rfc3339()})
            op.setdefault("startTime", op["insertTime"])
        else:
            op.update({"status": "RUNNING", "progress": 50, "startTime": now_rfc3339()})

    def operation(self, project, scope, name, verb):
        record = self.operations.get((project, scope, name))
        if record is None:
            raise ApiError(404, f"The resource 'projects/{project}/{scope}/operations/{name}' was not found")
        if verb == "delete":
            self.operations.pop((project, scope, name))
            return {}
        self.advance(record, finish=(verb == "wait"))
        return dict(record["op"])

    def list_operations(self, project, scope, query):
        """globalOperations / regionOperations list (one scope) and aggregatedList (scope
        None: every scope, grouped by scope as Compute answers it)."""
        keep = compile_filter((query.get("filter") or [""])[0])
        found = sorted((r["op"]["insertTime"], sc, name) for (p, sc, name), r in self.operations.items() if p == project and scope in (None, sc) and keep(r["op"]))
        page, token = paged(found, query)
        ops = [(sc, dict(self.operations[(project, sc, name)]["op"])) for _, sc, name in page]
        where = f"projects/{project}/{scope or 'aggregated'}/operations"
        out = {"kind": "compute#operationList", "id": where, "selfLink": COMPUTE_BASE + where}
        if scope is None:
            out["kind"] = "compute#operationAggregatedList"
            out["items"] = {}
            for sc, op in ops:
                out["items"].setdefault(sc, {"operations": []})["operations"].append(op)
        else:
            out["items"] = [op for _, op in ops]
        if token:
            out["nextPageToken"] = token
        return out

    def get(self, project, scope, collection, name):
        key = (project, scope, collection, name)
        self.must_exist(key)
        obj = dict(self.objects[key])
        if collection == "networks":
            obj["subnetworks"] = [
                o["selfLink"]
                for (p, sc, coll, _), o in sorted(self.objects.items())
                if coll == "subnetworks" and self.network_key(p, o["network"]) == key
            ]
        return self.lb.view(key, obj)

    def list(self, project, scope, collection, query):
        keep = compile_filter((query.get("filter") or [""])[0])
        names = sorted(
            name
            for (p, sc, coll, name), obj in self.objects.items()
            if (p, sc, coll) == (project, scope, collection) and keep(obj)
        )
        page, token = paged(names, query)
        out = {
            "kind": self.KINDS[collection] + "List",
            "id": f"projects/{project}/{scope}/{self.SEGMENT.get(collection, collection)}",
            "selfLink": self.link(project, scope, collection),
            "items": [self.get(project, scope, collection, n) for n in page],
        }
        if token:
            out["nextPageToken"] = token
        return out


def paged(items, query):
    """(this page of items, the next page's token or None): maxResults (at most 500) and
    pageToken, Compute's paging."""
    limit = min(int((query.get("maxResults") or ["0"])[0] or 0) or 500, 500)
    start = int((query.get("pageToken") or ["0"])[0] or 0)
    return items[start : start + limit], (str(start + limit) if start + limit < len(items) else None)


def compile_filter(text):
    """Compute's list filter, as far as cairn uses it: `FIELD eq REGEX` / `FIELD ne REGEX`
    (an RE2 regex, matched against the whole value), `FIELD = "x"` / `FIELD != "x"`, where
    FIELD is a top-level field (`name`, an operation's `status`) or `labels.KEY`; several as
    `(a) (b)` or `a AND b`. Anything else is refused, never ignored."""
    text = text.strip()
    if not text:
        return lambda obj: True
    if text.startswith("(") and text.endswith(")") and re.search(r"\)\s*(AND\s*)?\(", text):
        clauses = re.split(r"\)\s*(?:AND\s*)?\(", text[1:-1])
    else:
        clauses = re.split(r"\s+AND\s+", text)
    tests = []
    field = r"(labels\.[a-z0-9_-]+|[A-Za-z][A-Za-z0-9]*)"

    def value(o, name):
        got = o.get("labels", {}).get(name[7:]) if name.startswith("labels.") else o.get(name)
        return got if isinstance(got, str) or got is None else str(got)

    for clause in clauses:
        m = re.fullmatch(rf'\s*{field}\s+(eq|ne)\s+"?(.*?)"?\s*', clause)
        if m:
            name, op, rx = m.groups()
            try:
                compiled = re.compile(rx)
            except re.error:
                raise ApiError(400, f"Invalid value for field 'filter': '{text}'. Invalid regular expression.")
            tests.append(lambda o, name=name, rx=compiled, op=op: (rx.fullmatch(value(o, name) or "") is not None) == (op == "eq"))
            continue
        m = re.fullmatch(rf'\s*{field}\s*(=|!=)\s*"([^"]*)"\s*', clause)
        if m:
            name, op, want = m.groups()
            tests.append(lambda o, name=name, op=op, want=want: (value(o, name) == want) == (op == "="))
            continue
        raise ApiError(400, f"Invalid value for field 'filter': '{text}'. Invalid list filter expression.")
    return lambda obj: all(t(obj) for t in tests)

