"""The contract the GCP emulator holds requests to: the APIs' discovery documents (methods,
paths, request schemas) and Google's error shapes. See cairn_gcp.py for the whole."""

import json
import os
import re
import urllib.parse

APIS = {
    "compute.v1": ("compute", "legacy"),
    "sqladmin.v1": ("sqladmin", "legacy"),
    "redis.v1": ("redis", "aip"),
    "managedkafka.v1": ("managedkafka", "aip"),
    "secretmanager.v1": ("secretmanager", "aip"),
    "servicenetworking.v1": ("servicenetworking", "aip"),
    "storage.v1": ("storage", "legacy"),
}

STATUS = {
    400: "INVALID_ARGUMENT",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
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

# `/{host}/{path}`: a first segment with a dot is an API's host (no API path has one).
HOST_PREFIX = re.compile(r"/([^/]*\.[^/]*)(/.*)")


class ApiError(Exception):
    def __init__(self, code, message, reason=None, status=None):
        super().__init__(message)
        self.code, self.message, self.reason, self.status = code, message, reason, status



def error_body(style, code, message, reason=None, status=None):
    err = {"code": code, "message": message, "status": status or STATUS.get(code, "UNKNOWN")}
    if style == "legacy":
        err["errors"] = [{"message": message, "domain": "global", "reason": reason or REASON.get(code, "invalid")}]
    return {"error": err}


def documents_dir():
    """The discovery documents of google-api-python-client (installed by `serve` for them
    alone: found, not imported, since its dependencies are not installed)."""
    import importlib.util

    spec = importlib.util.find_spec("googleapiclient")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("google-api-python-client is not installed: run tests/emulators/gcp/serve --install-only")
    return os.path.join(list(spec.submodule_search_locations)[0], "discovery_cache", "documents")


class Method:
    def __init__(self, api, style, doc, mid, spec, service_path, upload_path=None):
        self.api, self.style, self.doc, self.id, self.spec = api, style, doc, mid, spec
        self.http = spec["httpMethod"]
        # A media upload (Cloud Storage's objects.insert) has a path of its own, from the
        # root, and a body that is the media, not JSON.
        self.upload = upload_path is not None
        template = upload_path.lstrip("/") if self.upload else service_path + spec.get("flatPath", spec["path"])
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
        self.docs, self.methods, self.hosts = {}, [], {}
        for name, (api, style) in APIS.items():
            with open(os.path.join(directory, name + ".json"), encoding="utf-8") as f:
                doc = json.load(f)
            self.docs[api] = doc
            self.hosts[urllib.parse.urlsplit(doc["rootUrl"]).netloc] = api
            self.walk(api, style, doc, doc.get("resources", {}), doc.get("servicePath", ""))
        # The most literal template first: where two APIs' templates overlap on one port
        # (`v1/projects/{project}/instances` against `v1/{+parent}/instances`) the
        # specific one is the one meant.
        self.methods.sort(key=lambda m: -m.literal)

    def walk(self, api, style, doc, resources, service_path):
        for resource in resources.values():
            for spec in resource.get("methods", {}).values():
                self.methods.append(Method(api, style, doc, spec["id"], spec, service_path))
                for protocol in spec.get("mediaUpload", {}).get("protocols", {}).values():
                    self.methods.append(Method(api, style, doc, spec["id"], spec, service_path, protocol["path"]))
            self.walk(api, style, doc, resource.get("resources", {}), service_path)

    def route(self, http, path):
        """The method a request means. A path may begin with its API's host, as a client
        pointed at `{endpoint}/{host}` sends it (`/managedkafka.googleapis.com/v1/...`): the
        host is taken off and only that API's methods are tried, as on GCP, where the host
        tells APIs with the same paths apart (Memorystore's and Managed Kafka's clusters and
        operations). Without one, the most literal template of any API wins."""
        api, asked = None, path
        prefixed = HOST_PREFIX.fullmatch(path)
        if prefixed:
            api = self.hosts.get(prefixed.group(1))
            if api is None:
                raise ApiError(404, f"The requested URL {asked} was not found on this server.")
            path = prefixed.group(2)
        allowed = False
        for m in self.methods:
            if api is not None and m.api != api:
                continue
            found = m.regex.match(path)
            if found:
                if m.http == http:
                    return m, [urllib.parse.unquote(g) for g in found.groups()]
                allowed = True
        if allowed:
            raise ApiError(405, f"Method {http} is not allowed on {asked}.")
        raise ApiError(404, f"The requested URL {asked} was not found on this server.")


# APIs served from protobuf definitions: their JSON takes an enum as its name or its
# protobuf number (proto3 JSON), and the official Rust clients send numbers. Discovery
# documents give only names; the numbers come from proto_enums.json (gen_proto_enums.py).
PROTO_JSON = {"sqladmin", "redis", "managedkafka", "secretmanager", "servicenetworking"}
_ENUM_TABLES = None


def enum_table(names):
    """{number: name} for the enum whose names are `names`, or None when none is known."""
    global _ENUM_TABLES
    if _ENUM_TABLES is None:
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "proto_enums.json"), encoding="utf-8") as f:
            _ENUM_TABLES = json.load(f)
    wanted = set(names)
    best, score = None, 0.0
    for table in _ENUM_TABLES:
        keys = set(table)
        overlap = len(keys & wanted) / len(keys | wanted)
        if overlap > score:
            best, score = table, overlap
    # Documents and protos may differ by a deprecated value or two, never more.
    if best is None or score < 0.8:
        return None
    return {number: name for name, number in best.items()}


def normalize_enums(method, value, schema=None, where="", depth=0):
    """`value` with every enum given by number (proto3 JSON) written as its name, so the
    checks and the emulation see one form; a number the enum does not have is a 400."""
    if method.api not in PROTO_JSON or depth > 40:
        return value
    schemas = method.doc["schemas"]
    if schema is None:
        if method.request is None:
            return value
        schema = {"$ref": method.request}
    if "$ref" in schema:
        schema = schemas[schema["$ref"]]
    kind = schema.get("type")
    if isinstance(value, dict) and (kind == "object" or "properties" in schema):
        props, extra = schema.get("properties", {}), schema.get("additionalProperties")
        return {
            k: normalize_enums(method, v, props.get(k) or extra or {}, join(where, k), depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list) and kind == "array":
        return [normalize_enums(method, v, schema.get("items", {}), f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
    if kind == "string" and "enum" in schema and isinstance(value, int) and not isinstance(value, bool):
        table = enum_table(schema["enum"])
        if table is None or value not in table:
            raise ApiError(400, f"Invalid value at '{where or 'request'}' (TYPE_ENUM), {value}")
        return table[value]
    return value


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
    if value is None and method.api == "compute" and method.http == "PATCH":
        return  # Compute's patch is a JSON merge patch: a null removes the field
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

