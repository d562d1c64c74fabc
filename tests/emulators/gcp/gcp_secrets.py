"""Secret Manager as the GCP emulator serves it: global secrets, their versions and the
rules Secret Manager keeps. See cairn_gcp.py for the whole.

As on GCP, names in answers carry the project's *number* (`projects/123456789012/secrets/s`)
whatever the request named it by, so a client that compares names by project id breaks
here as it would there. Requests may name the project either way."""

import base64
import binascii
import hashlib
import re
import time

from gcp_contract import ApiError

LABEL_KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}")
LABEL_VALUE = re.compile(r"[a-z0-9_-]{0,63}")
SECRET_ID = re.compile(r"[a-zA-Z0-9_-]{1,255}")
MAX_PAYLOAD = 64 * 1024


def now_rfc3339():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % int((t % 1) * 1_000_000)


def project_number(project):
    """A stable 12-digit number for a project id (a number stays itself)."""
    if project.isdigit():
        return project
    return str(100_000_000_000 + int(hashlib.sha256(project.encode()).hexdigest(), 16) % 900_000_000_000)


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def check_labels(labels):
    if len(labels) > 64:
        raise ApiError(400, "A secret may carry at most 64 labels.")
    for k, v in labels.items():
        if not LABEL_KEY.fullmatch(k):
            raise ApiError(400, f"Invalid label key '{k}': keys are 1-63 lowercase letters, digits, '_' or '-', starting with a letter.")
        if not isinstance(v, str) or not LABEL_VALUE.fullmatch(v):
            raise ApiError(400, f"Invalid label value '{v}' for key '{k}': values are at most 63 lowercase letters, digits, '_' or '-'.")


class Secrets:
    """Global secrets (`projects/P/secrets/S`) and their versions; regional secrets
    (`projects/P/locations/L/secrets/S`) are routed but not emulated."""

    def __init__(self, settings):
        self.settings = settings
        self.reset()

    def reset(self):
        self.secrets = {}  # (project number, secret id) -> secret
        self.versions = {}  # (project number, secret id) -> [version, ...] (number i at i-1)
        self.payloads = {}  # (project number, secret id, version number) -> bytes
        self.etags = 0

    def etag(self):
        self.etags += 1
        return f'"{base64.b64encode(self.etags.to_bytes(8, "big")).decode()[:14]}"'

    def handle(self, method, params, query, body):
        parts = method.id.split(".")
        if parts[2] == "locations":
            raise ApiError(501, f"{method.id} is routed but not emulated yet (regional secrets).")
        verb = parts[-1]
        number = project_number(params[0])
        if parts[-2] == "versions":
            return self.version_call(verb, number, params[1], params[2], body)
        if verb == "create":
            return self.create(number, (query.get("secretId") or [""])[0], body)
        if verb == "list":
            return self.list(number, query)
        key = (number, params[1])
        if verb == "get":
            return self.get(key)
        if verb == "patch":
            return self.patch(key, query, body)
        if verb == "delete":
            return self.delete(key, query)
        if verb == "addVersion":
            return self.add_version(key, body)
        raise ApiError(501, f"{method.id} is routed but not emulated yet.")

    def path(self, key):
        return f"projects/{key[0]}/secrets/{key[1]}"

    def must_exist(self, key):
        if key not in self.secrets:
            raise ApiError(404, f"Secret [{self.path(key)}] not found.")
        return self.secrets[key]

    def create(self, number, secret_id, body):
        if not secret_id:
            raise ApiError(400, "The secretId parameter is required.")
        if not SECRET_ID.fullmatch(secret_id):
            raise ApiError(400, f"Invalid secret id '{secret_id}': ids are 1-255 letters, digits, '_' or '-'.")
        key = (number, secret_id)
        if key in self.secrets:
            raise ApiError(409, f"Secret [{self.path(key)}] already exists.")
        replication = body.get("replication")
        if not replication or len([k for k in ("automatic", "userManaged") if k in replication]) != 1:
            raise ApiError(400, "Secret.replication must set exactly one of automatic or userManaged.")
        check_labels(body.get("labels", {}))
        secret = {k: v for k, v in body.items() if k not in ("name", "createTime", "etag")}
        secret.update({"name": self.path(key), "createTime": now_rfc3339(), "etag": self.etag()})
        self.secrets[key] = secret
        self.versions[key] = []
        return dict(secret)

    def get(self, key):
        return dict(self.must_exist(key))

    def list(self, number, query):
        keep = compile_filter((query.get("filter") or [""])[0])
        names = sorted(k for k, s in self.secrets.items() if k[0] == number and keep(s))
        size = int((query.get("pageSize") or ["25"])[0] or 25)
        if size <= 0 or size > 25000:
            size = 25 if size <= 0 else 25000
        start = int((query.get("pageToken") or ["0"])[0] or 0)
        page = names[start : start + size]
        out = {"secrets": [dict(self.secrets[k]) for k in page], "totalSize": len(names)}
        if start + size < len(names):
            out["nextPageToken"] = str(start + size)
        return out

    def patch(self, key, query, body):
        secret = self.must_exist(key)
        mask = [m for m in (query.get("updateMask") or [""])[0].split(",") if m]
        if not mask:
            raise ApiError(400, "update_mask is required: name the fields to change.")
        if "etag" in body and body["etag"] != secret["etag"]:
            raise ApiError(409, f"The etag provided for Secret [{self.path(key)}] does not match its current etag.", status="ABORTED")
        settable = {"labels", "annotations", "expireTime", "ttl", "topics", "rotation", "versionAliases", "versionDestroyTtl", "tags"}
        for field in mask:
            top = field.split(".")[0]
            if top not in settable:
                raise ApiError(400, f"The field '{field}' of Secret cannot be updated.")
        if "labels" in mask:
            check_labels(body.get("labels", {}))
        for field in mask:
            top = field.split(".")[0]
            if top in body:
                secret[top] = body[top]
            else:
                secret.pop(top, None)
        secret["etag"] = self.etag()
        return dict(secret)

    def delete(self, key, query):
        secret = self.must_exist(key)
        etag = (query.get("etag") or [None])[0]
        if etag is not None and etag != secret["etag"]:
            raise ApiError(409, f"The etag provided for Secret [{self.path(key)}] does not match its current etag.", status="ABORTED")
        del self.secrets[key]
        for v in self.versions.pop(key, []):
            self.payloads.pop((key[0], key[1], int(v["name"].rsplit("/", 1)[1])), None)
        return {}

    def add_version(self, key, body):
        self.must_exist(key)
        payload = body.get("payload") or {}
        # Google's JSON takes bytes as standard or URL-safe Base64, padded or not.
        text = payload.get("data", "").replace("-", "+").replace("_", "/")
        try:
            data = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(400, "Invalid value at 'payload.data' (TYPE_BYTES): not valid Base64.")
        if len(data) > MAX_PAYLOAD:
            raise ApiError(400, f"Secret payload is larger than the maximum of {MAX_PAYLOAD} bytes.")
        given = payload.get("dataCrc32c")
        if given is not None and int(given) != crc32c(data):
            raise ApiError(400, "Checksum mismatch: the payload's dataCrc32c does not match its data.")
        versions = self.versions[key]
        n = len(versions) + 1
        version = {
            "name": f"{self.path(key)}/versions/{n}",
            "createTime": now_rfc3339(),
            "state": "ENABLED",
            "replicationStatus": {"automatic": {}},
            "etag": self.etag(),
            "clientSpecifiedPayloadChecksum": given is not None,
        }
        versions.append(version)
        self.payloads[(key[0], key[1], n)] = data
        return dict(version)

    def find_version(self, key, which):
        self.must_exist(key)
        versions = self.versions[key]
        if which == "latest":
            live = [v for v in versions if v["state"] != "DESTROYED"]
            if not live:
                raise ApiError(404, f"Secret Version [{self.path(key)}/versions/latest] not found.")
            return live[-1]
        if not which.isdigit() or not (1 <= int(which) <= len(versions)):
            raise ApiError(404, f"Secret Version [{self.path(key)}/versions/{which}] not found.")
        return versions[int(which) - 1]

    def version_call(self, verb, number, secret_id, which, body):
        key = (number, secret_id)
        if verb == "list":
            self.must_exist(key)
            versions = list(reversed(self.versions[key]))
            return {"versions": [dict(v) for v in versions], "totalSize": len(versions)}
        version = self.find_version(key, which)
        n = int(version["name"].rsplit("/", 1)[1])
        if verb == "get":
            return dict(version)
        if verb == "access":
            if version["state"] != "ENABLED":
                raise ApiError(400, f"Secret Version [{version['name']}] is in {version['state']} state.", status="FAILED_PRECONDITION")
            data = self.payloads[(number, secret_id, n)]
            return {"name": version["name"], "payload": {"data": base64.b64encode(data).decode(), "dataCrc32c": str(crc32c(data))}}
        if verb in ("disable", "enable", "destroy"):
            if version["state"] == "DESTROYED":
                raise ApiError(400, f"Secret Version [{version['name']}] is in DESTROYED state.", status="FAILED_PRECONDITION")
            version["state"] = {"disable": "DISABLED", "enable": "ENABLED", "destroy": "DESTROYED"}[verb]
            if verb == "destroy":
                version["destroyTime"] = now_rfc3339()
                self.payloads.pop((number, secret_id, n), None)
            version["etag"] = self.etag()
            return dict(version)
        raise ApiError(501, f"secretmanager versions.{verb} is routed but not emulated yet.")


def compile_filter(text):
    """Secret Manager's list filter, as far as cairn uses it: `labels.KEY=VALUE`,
    `labels.KEY:VALUE` (a label of that value), `labels.KEY:*` (present), `name:TEXT` (the
    name contains it), joined by spaces or AND. Anything else is refused, never ignored."""
    text = text.strip()
    if not text:
        return lambda s: True
    tests = []
    for clause in re.split(r"\s+(?:AND\s+)?", text):
        m = re.fullmatch(r'labels\.([a-z][a-z0-9_-]*)([=:])"?([a-z0-9_*-]*)"?', clause)
        if m:
            k, _, want = m.groups()
            tests.append(lambda s, k=k, want=want: k in s.get("labels", {}) and (want == "*" or s["labels"][k] == want))
            continue
        m = re.fullmatch(r'name:"?([A-Za-z0-9_-]+)"?', clause)
        if m:
            tests.append(lambda s, t=m.group(1): t in s["name"].rsplit("/", 1)[1])
            continue
        raise ApiError(400, f"Invalid filter: '{text}'.")
    return lambda s: all(t(s) for t in tests)
