"""An emulator of the Google Cloud APIs cairn's GCP provider calls, built to their contract.

No emulator of these APIs exists, so this one is made from the APIs' own discovery
documents (shipped in the `google-api-python-client` package, which `serve` installs; the
emulator never reads them from anywhere else):

* routing: every method of Compute v1, Cloud SQL Admin v1, Memorystore for Redis v1,
  Managed Kafka v1, Secret Manager v1 and Service Networking v1 is served at its real path
  on one port (the most literal path template wins where two APIs' templates overlap);
* request checking: a body is checked against the method's request schema: an unknown
  field, a wrong JSON type, a value outside the enum, a string not matching the field's
  pattern, or a field the document marks required for this method and left out, is a 400
  in the API's own error shape (Compute and Cloud SQL: `error.errors[].reason`; the
  others: `error.status`), before anything happens;
* behaviour, per API, as far as it is emulated (see EMULATED): a method routed but not
  emulated yet answers 501 `UNIMPLEMENTED` naming it, never a made-up success.

Compute (emulated): networks, subnetworks, firewalls, routers, global addresses, with
  server-set fields (`id` uint64 as a string, `selfLink`, `creationTimestamp`, `kind`),
  `Operation`s that pass PENDING -> RUNNING -> DONE over polls (`wait` finishes one), the
  resource appearing (or going) when its operation is DONE; `requestId` must be a UUID
  and a repeated one returns the first operation (Compute's idempotency); 409
  `alreadyExists`; 404 `notFound`; deleting a network that subnetworks, firewalls or
  routers use is a 400 `resourceInUseByAnotherResource`; a subnetwork range must be a
  valid CIDR inside no other subnetwork of its network; list `filter` on `name` and
  `labels.KEY`, with paging.

Control (all on the emulator's port, under /_emulator/ as every emulator of the project):
  GET  /_emulator/ready      200 {"ready": true, "emulator": "gcp", "apis": [...]}
  POST /_emulator/reset      forget every resource and operation, the call log; faults and
                             holds back to none
  GET/POST /_emulator/faults {"latency_ms": 50, "throttle_rate": 0.1, "error_rate": 0.05,
                             "seed": 1, "op_polls": 2, "op_ms": 1000,
                             "hold": ["compute.networks.insert", "compute.firewalls.*"]}
                            (throttling is a 429 RESOURCE_EXHAUSTED / rateLimitExceeded,
                             errors a 503 UNAVAILABLE / backendError; "op_polls": the polls an
                             operation takes to be DONE, "op_ms": the time after which it is
                             DONE unpolled (0: never); "hold": those methods take effect at
                             once but answer only when released, at most a minute later)
  GET  /_emulator/held       the calls whose answers are held now
  POST /_emulator/held/release  answer every held call
  GET  /_emulator/calls      the call log: service (the API), operation (the discovery
                             method id), start, end, fault, held
  POST /_emulator/calls/reset  clears it
The same settings are read at start from CAIRN_GCP_LATENCY_MS, CAIRN_GCP_THROTTLE_RATE,
CAIRN_GCP_ERROR_RATE, CAIRN_GCP_OP_POLLS, CAIRN_GCP_OP_MS and CAIRN_GCP_SEED.
"""

import argparse
import base64
import ipaddress
import json
import os
import random
import re
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Discovery document -> (API name, error style). "legacy": Compute and Cloud SQL answer
# errors with `errors[].reason`; "aip": the newer APIs with a canonical `status`.
APIS = {
    "compute.v1": ("compute", "legacy"),
    "sqladmin.v1": ("sqladmin", "legacy"),
    "redis.v1": ("redis", "aip"),
    "managedkafka.v1": ("managedkafka", "aip"),
    "secretmanager.v1": ("secretmanager", "aip"),
    "servicenetworking.v1": ("servicenetworking", "aip"),
}

STATUS = {
    400: "INVALID_ARGUMENT",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
}
REASON = {
    400: "invalid",
    404: "notFound",
    409: "alreadyExists",
    429: "rateLimitExceeded",
    501: "notImplemented",
    503: "backendError",
}

# Where Compute's selfLinks point, as on GCP (clients send them back as references).
COMPUTE_BASE = "https://www.googleapis.com/compute/v1/"

LOCK = threading.RLock()
RELEASED = threading.Condition(LOCK)


class ApiError(Exception):
    def __init__(self, code, message, reason=None):
        super().__init__(message)
        self.code, self.message, self.reason = code, message, reason


# ---------------------------------------------------------------------------------------
# The contract: discovery documents, methods, schemas.


def documents_dir():
    """The discovery documents of google-api-python-client (installed by `serve` for them
    alone: found, not imported, since its dependencies are not installed)."""
    import importlib.util

    spec = importlib.util.find_spec("googleapiclient")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("google-api-python-client is not installed: run tests/emulators/gcp/serve --install-only")
    return os.path.join(list(spec.submodule_search_locations)[0], "discovery_cache", "documents")


class Method:
    def __init__(self, api, style, doc, mid, spec, service_path):
        self.api, self.style, self.doc, self.id, self.spec = api, style, doc, mid, spec
        self.http = spec["httpMethod"]
        template = service_path + spec.get("flatPath", spec["path"])
        self.literal = len(re.sub(r"\{[^}]*\}", "", template))
        pattern = ""
        for part in re.split(r"(\{[^}]*\})", template):
            if part.startswith("{+"):
                pattern += r"(.+)"
            elif part.startswith("{"):
                pattern += r"([^/]+)"
            else:
                pattern += re.escape(part)
        self.regex = re.compile("^/" + pattern + "$")
        self.request = (spec.get("request") or {}).get("$ref")


class Contract:
    def __init__(self, directory):
        self.docs, self.methods = {}, []
        for name, (api, style) in APIS.items():
            with open(os.path.join(directory, name + ".json"), encoding="utf-8") as f:
                doc = json.load(f)
            self.docs[api] = doc
            self.walk(api, style, doc, doc.get("resources", {}), doc.get("servicePath", ""))
        # The most literal template first: where two APIs' templates overlap on one port
        # (`v1/projects/{project}/instances` against `v1/{+parent}/instances`) the
        # specific one is the one meant.
        self.methods.sort(key=lambda m: -m.literal)

    def walk(self, api, style, doc, resources, service_path):
        for resource in resources.values():
            for spec in resource.get("methods", {}).values():
                self.methods.append(Method(api, style, doc, spec["id"], spec, service_path))
            self.walk(api, style, doc, resource.get("resources", {}), service_path)

    def route(self, http, path):
        allowed = False
        for m in self.methods:
            found = m.regex.match(path)
            if found:
                if m.http == http:
                    return m, [urllib.parse.unquote(g) for g in found.groups()]
                allowed = True
        if allowed:
            raise ApiError(405, f"Method {http} is not allowed on {path}.")
        raise ApiError(404, f"The requested URL {path} was not found on this server.")


def check_body(method, body):
    """The request body against the method's request schema: every problem, Google-worded."""
    if method.request is None:
        if body not in (None, {}):
            raise ApiError(400, f'Invalid JSON payload received. {method.id} takes no body.')
        return
    if not isinstance(body, dict):
        raise ApiError(400, "Invalid JSON payload received. The body must be a JSON object.")
    problems = []
    check_value(method, body, {"$ref": method.request}, "resource" if method.style == "legacy" else "", problems, 0)
    if problems:
        raise ApiError(400, problems[0] if len(problems) == 1 else "; ".join(problems))


def check_value(method, value, schema, where, problems, depth):
    schemas = method.doc["schemas"]
    if "$ref" in schema:
        schema = schemas[schema["$ref"]]
        if depth > 40:  # recursive schemas (e.g. nested expressions) stop somewhere
            return
    kind = schema.get("type")
    at = where or "request"
    if kind == "object" or (kind is None and "properties" in schema):
        if not isinstance(value, dict):
            problems.append(f"Invalid value at '{at}': expected an object.")
            return
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for name, field in props.items():
            required = field.get("annotations", {}).get("required", [])
            if method.id in required and name not in value:
                problems.append(f"Required field '{join(where, name)}' not specified for {method.id}.")
        for name, sub in value.items():
            if name in props:
                check_value(method, sub, props[name], join(where, name), problems, depth + 1)
            elif extra is not None:
                check_value(method, sub, extra, f"{at}[{name!r}]", problems, depth + 1)
            else:
                problems.append(f'Invalid JSON payload received. Unknown name "{name}" at \'{at}\': Cannot find field.')
    elif kind == "array":
        if not isinstance(value, list):
            problems.append(f"Invalid value at '{at}': expected an array.")
            return
        for i, item in enumerate(value):
            check_value(method, item, schema.get("items", {}), f"{at}[{i}]", problems, depth + 1)
    elif kind == "string":
        fmt = schema.get("format")
        if fmt in ("int64", "uint64") and isinstance(value, int) and not isinstance(value, bool):
            return  # proto3 JSON takes 64-bit integers as numbers or strings
        if not isinstance(value, str):
            problems.append(f"Invalid value at '{at}' ({type_name(value)}): expected a string.")
            return
        if fmt in ("int64", "uint64") and not re.fullmatch(r"-?[0-9]+", value):
            problems.append(f"Invalid value at '{at}' ({value!r}): expected an {fmt}.")
        if "enum" in schema and value not in schema["enum"]:
            problems.append(f"Invalid value at '{at}' ({value!r}): not one of {', '.join(schema['enum'])}.")
        if "pattern" in schema and not re.fullmatch(schema["pattern"], value):
            problems.append(f"Invalid value for field '{at}': '{value}'. Must be a match of regex '{schema['pattern']}'.")
    elif kind == "integer":
        if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value))):
            problems.append(f"Invalid value at '{at}' ({type_name(value)}): expected an integer.")
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"Invalid value at '{at}' ({type_name(value)}): expected a number.")
    elif kind == "boolean":
        if not isinstance(value, bool):
            problems.append(f"Invalid value at '{at}' ({type_name(value)}): expected a boolean.")


def join(where, name):
    return f"{where}.{name}" if where else name


def type_name(v):
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number"}.get(type(v), "null")


# ---------------------------------------------------------------------------------------
# Settings, call log, holds.


class Settings:
    def __init__(self):
        self.reset()
        env = {
            "latency_ms": os.environ.get("CAIRN_GCP_LATENCY_MS"),
            "throttle_rate": os.environ.get("CAIRN_GCP_THROTTLE_RATE"),
            "error_rate": os.environ.get("CAIRN_GCP_ERROR_RATE"),
            "op_polls": os.environ.get("CAIRN_GCP_OP_POLLS"),
            "op_ms": os.environ.get("CAIRN_GCP_OP_MS"),
            "seed": os.environ.get("CAIRN_GCP_SEED"),
        }
        self.update({k: float(v) for k, v in env.items() if v})

    def reset(self):
        self.latency_ms, self.throttle_rate, self.error_rate = 0.0, 0.0, 0.0
        self.op_polls, self.op_ms, self.seed, self.hold = 2, 1000, 0, []
        self.rng = random.Random(0)

    def update(self, d):
        unknown = set(d) - {"latency_ms", "throttle_rate", "error_rate", "op_polls", "op_ms", "seed", "hold"}
        if unknown:
            raise ApiError(400, f"unknown fault settings: {sorted(unknown)}")
        for k in ("latency_ms", "throttle_rate", "error_rate"):
            if k in d:
                setattr(self, k, float(d[k]))
        if "op_polls" in d:
            self.op_polls = max(0, int(d["op_polls"]))
        if "op_ms" in d:
            self.op_ms = max(0, int(d["op_ms"]))
        if "seed" in d:
            self.seed = int(d["seed"])
            self.rng = random.Random(self.seed)
        if "hold" in d:
            self.hold = list(d["hold"])
            RELEASED.notify_all()

    def holds(self, mid):
        return any(mid == h or (h.endswith("*") and mid.startswith(h[:-1])) for h in self.hold)

    def as_dict(self):
        return {
            "latency_ms": self.latency_ms,
            "throttle_rate": self.throttle_rate,
            "error_rate": self.error_rate,
            "op_polls": self.op_polls,
            "op_ms": self.op_ms,
            "seed": self.seed,
            "hold": self.hold,
        }


SETTINGS = Settings()
CALLS = []
HELD = []


# ---------------------------------------------------------------------------------------
# Compute.


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

    def __init__(self):
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
        if SETTINGS.op_ms <= 0:
            return
        now = time.time()
        for record in list(self.operations.values()):
            if record["op"]["status"] != "DONE" and now - record["started"] >= SETTINGS.op_ms / 1000.0:
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
        if SETTINGS.op_polls == 0:
            self.advance(record, finish=True)
        return dict(op)

    def advance(self, record, finish=False):
        op = record["op"]
        if op["status"] == "DONE":
            return
        record["polls"] += 1
        if finish or record["polls"] >= SETTINGS.op_polls:
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


COMPUTE = Compute()


# ---------------------------------------------------------------------------------------
# HTTP.


def error_body(style, code, message, reason=None):
    err = {"code": code, "message": message, "status": STATUS.get(code, "UNKNOWN")}
    if style == "legacy":
        err["errors"] = [{"message": message, "domain": "global", "reason": reason or REASON.get(code, "invalid")}]
    return {"error": err}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    contract = None

    def log_message(self, fmt, *args):  # the call log is the record; keep stderr quiet
        pass

    def send_json(self, code, obj):
        data = json.dumps(obj).encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.serve("GET")

    def do_POST(self):
        self.serve("POST")

    def do_PATCH(self):
        self.serve("PATCH")

    def do_PUT(self):
        self.serve("PUT")

    def do_DELETE(self):
        self.serve("DELETE")

    def serve(self, http):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        if url.path.startswith("/_emulator/"):
            return self.control(http, url.path, raw)
        started, fault, held, method = time.time(), None, False, None
        style = "aip"
        try:
            method, params = self.contract.route(http, url.path)
            style = method.style
            if SETTINGS.latency_ms > 0:
                time.sleep(SETTINGS.latency_ms / 1000.0)
            with LOCK:
                roll = SETTINGS.rng.random()
            if roll < SETTINGS.throttle_rate:
                fault = "throttle"
                raise ApiError(429, "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute'.")
            if roll < SETTINGS.throttle_rate + SETTINGS.error_rate:
                fault = "5xx"
                raise ApiError(503, "The service is currently unavailable.")
            try:
                body = json.loads(raw) if raw.strip() else None
            except ValueError as e:
                raise ApiError(400, f"Invalid JSON payload received. {e}.")
            check_body(method, body if body is not None else ({} if method.request else None))
            with LOCK:
                answer = self.dispatch(method, params, query, body or {})
                held = SETTINGS.holds(method.id)
                if held:
                    entry = {"service": method.api, "operation": method.id, "start": started, "end": time.time(), "fault": None, "held": True}
                    CALLS.append(entry)
                    HELD.append(entry)
                    deadline = time.time() + 60
                    while SETTINGS.holds(method.id) and time.time() < deadline:
                        RELEASED.wait(timeout=max(0.0, deadline - time.time()))
                    HELD.remove(entry)
            self.send_json(200, answer)
        except ApiError as e:
            self.send_json(e.code, error_body(style, e.code, e.message, e.reason))
        except Exception as e:  # an emulator bug: said loudly, in Google's shape
            import traceback

            traceback.print_exc()
            self.send_json(500, error_body(style, 500, f"emulator error: {e!r}", "backendError"))
        finally:
            if not held:
                with LOCK:
                    CALLS.append(
                        {
                            "service": method.api if method else None,
                            "operation": method.id if method else f"{http} {url.path}",
                            "start": started,
                            "end": time.time(),
                            "fault": fault,
                        }
                    )

    def dispatch(self, method, params, query, body):
        if method.api == "compute":
            return COMPUTE.handle(method, params, query, body)
        raise ApiError(501, f"{method.id} is routed but not emulated yet.")

    def control(self, http, path, raw):
        try:
            if path == "/_emulator/ready" and http == "GET":
                return self.send_json(200, {"ready": True, "emulator": "gcp", "apis": sorted(a for a, _ in APIS.values())})
            if path == "/_emulator/reset" and http == "POST":
                with LOCK:
                    COMPUTE.reset()
                    SETTINGS.reset()
                    RELEASED.notify_all()
                    CALLS.clear()
                return self.send_json(200, {})
            if path == "/_emulator/faults" and http in ("GET", "POST"):
                with LOCK:
                    if http == "POST":
                        SETTINGS.update(json.loads(raw or b"{}"))
                    return self.send_json(200, SETTINGS.as_dict())
            if path == "/_emulator/held" and http == "GET":
                with LOCK:
                    return self.send_json(200, list(HELD))
            if path == "/_emulator/held/release" and http == "POST":
                with LOCK:
                    SETTINGS.update({"hold": []})
                return self.send_json(200, {})
            if path == "/_emulator/calls" and http == "GET":
                with LOCK:
                    return self.send_json(200, list(CALLS))
            if path == "/_emulator/calls/reset" and http == "POST":
                with LOCK:
                    CALLS.clear()
                return self.send_json(200, {})
            return self.send_json(404, {"message": f"no control endpoint {http} {path}"})
        except (ApiError, ValueError) as e:
            return self.send_json(400, {"message": str(e)})


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--exit-with-parent", action="store_true", help="stop when the process that started us ends")
    args = parser.parse_args()
    if args.exit_with_parent:
        parent = os.getppid()

        def watch():
            while os.getppid() == parent:
                time.sleep(0.5)
            os._exit(0)

        threading.Thread(target=watch, daemon=True).start()
    Handler.contract = Contract(documents_dir())
    # Loopback only: the emulator is for this machine's tests.
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
