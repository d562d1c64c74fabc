"""Compute as the GCP emulator serves it: global and regional collections, operations,
and the rules Compute keeps. See cairn_gcp.py for the whole."""

import base64
import ipaddress
import os
import random
import re
import time
import uuid

from gcp_contract import ApiError

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
    }
    # The URL segment of each collection (globalAddresses live at global/addresses).
    SEGMENT = {"globalAddresses": "addresses"}

    def __init__(self, settings):
        self.settings = settings
        self.reset()

    def reset(self):
        self.objects = {}  # (project, scope, collection, name) -> object
        self.operations = {}  # (project, scope, name) -> operation record
        self.requests = {}  # (project, requestId) -> operation key
        self.next_id = 1000

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
        self.settle()
        verb = method.id.split(".")[-1]
        collection = method.id.split(".")[1]
        project = params[0]
        if collection in ("globalOperations", "regionOperations"):
            scope = "global" if collection == "globalOperations" else f"regions/{params[1]}"
            return self.operation(project, scope, params[-1], verb)
        if collection not in self.KINDS or verb not in ("insert", "get", "list", "delete", "patch"):
            raise ApiError(501, f"{method.id} is routed but not emulated yet.")
        scope = "global" if len(params) in (1, 2) and collection != "subnetworks" and collection != "routers" else f"regions/{params[1]}"
        name = params[-1] if verb in ("get", "delete", "patch") else None
        if verb == "list":
            return self.list(project, scope, collection, query)
        if verb == "get":
            return self.get(project, scope, collection, name)
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
        if verb == "insert":
            key = self.check_insert(project, scope, collection, body)
            new_id = self.new_id()
            op = self.start(project, scope, "insert", key, lambda: self.create(key, body, new_id), new_id)
        elif verb == "delete":
            key = (project, scope, collection, name)
            self.must_exist(key)
            self.check_delete(key)
            op = self.start(project, scope, "delete", key, lambda: self.objects.pop(key, None))
        else:
            key = (project, scope, collection, name)
            self.must_exist(key)
            if "name" in body and body["name"] != name:
                raise ApiError(400, f"Invalid value for field 'resource.name': '{body['name']}'. The name of a {collection[:-1]} cannot change.")
            op = self.start(project, scope, "patch", key, lambda: self.patch(key, body))
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
        return key

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

    def check_delete(self, key):
        project, scope, collection, name = key
        if collection != "networks":
            return
        for (p, sc, coll, other), obj in self.objects.items():
            if coll in ("subnetworks", "firewalls", "routers") and self.network_key(p, obj.get("network", "")) == key:
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
        if collection == "firewalls":
            obj.setdefault("direction", "INGRESS")
            obj.setdefault("priority", 1000)
            obj.setdefault("disabled", False)
        self.objects[key] = obj
        return obj

    def patch(self, key, body):
        obj = self.objects[key]
        for k, v in body.items():
            if k not in ("id", "kind", "selfLink", "creationTimestamp"):
                obj[k] = v
        return obj

    def start(self, project, scope, kind, key, effect, target_id=None):
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
        record = {"op": op, "key": key, "effect": effect, "polls": 0, "started": time.time()}
        self.operations[(project, scope, name)] = record
        if self.settings.op_polls == 0:
            self.advance(record, finish=True)
        return dict(op)

    def advance(self, record, finish=False):
        op = record["op"]
        if op["status"] == "DONE":
            return
        record["polls"] += 1
        if finish or record["polls"] >= self.settings.op_polls:
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
        return obj

    def list(self, project, scope, collection, query):
        keep = compile_filter((query.get("filter") or [""])[0])
        names = sorted(
            name
            for (p, sc, coll, name), obj in self.objects.items()
            if (p, sc, coll) == (project, scope, collection) and keep(obj)
        )
        limit = int((query.get("maxResults") or ["500"])[0])
        start = int((query.get("pageToken") or ["0"])[0] or 0)
        page = names[start : start + limit]
        out = {
            "kind": self.KINDS[collection] + "List",
            "id": f"projects/{project}/{scope}/{self.SEGMENT.get(collection, collection)}",
            "selfLink": self.link(project, scope, collection),
            "items": [self.get(project, scope, collection, n) for n in page],
        }
        if start + limit < len(names):
            out["nextPageToken"] = str(start + limit)
        return out


def compile_filter(text):
    """Compute's list filter, as far as cairn uses it: `name eq REGEX` / `name ne REGEX`
    (an RE2 regex, matched against the whole name), `name = "x"`, `labels.KEY = "v"`;
    several as `(a) (b)` or `a AND b`. Anything else is refused, never ignored."""
    text = text.strip()
    if not text:
        return lambda obj: True
    if text.startswith("(") and text.endswith(")") and re.search(r"\)\s*(AND\s*)?\(", text):
        clauses = re.split(r"\)\s*(?:AND\s*)?\(", text[1:-1])
    else:
        clauses = re.split(r"\s+AND\s+", text)
    tests = []
    for clause in clauses:
        m = re.fullmatch(r'\s*name\s+(eq|ne)\s+"?(.*?)"?\s*', clause)
        if m:
            op, rx = m.groups()
            try:
                compiled = re.compile(rx)
            except re.error:
                raise ApiError(400, f"Invalid value for field 'filter': '{text}'. Invalid regular expression.")
            tests.append(lambda o, rx=compiled, op=op: (rx.fullmatch(o.get("name", "")) is not None) == (op == "eq"))
            continue
        m = re.fullmatch(r'\s*(name|labels\.[a-z0-9_-]+)\s*(=|!=)\s*"([^"]*)"\s*', clause)
        if m:
            field, op, want = m.groups()

            def test(o, field=field, op=op, want=want):
                got = o.get("labels", {}).get(field[7:]) if field.startswith("labels.") else o.get(field)
                return (got == want) == (op == "=")

            tests.append(test)
            continue
        raise ApiError(400, f"Invalid value for field 'filter': '{text}'. Invalid list filter expression.")
    return lambda obj: all(t(obj) for t in tests)

