"""An emulator of Azure Resource Manager for the APIs cairn's Azure provider calls, built
to their published contract.

No emulator of ARM exists, so this one is made from the swagger files of
Azure/azure-rest-api-specs, compacted into arm_contract.json by gen_contract.py at
development time (the emulator reads nothing else, and needs nothing but Python's
standard library):

* routing: every operation of the contract at its ARM path, literal segments matched
  case-insensitively; `api-version` required and checked against the versions the path
  takes (`MissingApiVersionParameter`, `InvalidApiVersionParameter`); a request without a
  bearer token is a 401 `AuthenticationFailed`;
* request checking (arm_contract.py): JSON types, required properties, enum values,
  patterns and bounds, a 400 `InvalidRequestContent` naming the property; read-only and
  unknown properties dropped, as ARM does;
* behaviour, as far as it is emulated (below); an operation in the contract that is not
  emulated yet answers 501 `NotImplemented` naming it, never a made-up success.

Emulated so far: resource groups (PUT 201/200, GET, HEAD, list, DELETE 202 with
`Location`, deleting everything in the group when its operation finishes; a resource put
into a group that does not exist is a 404 `ResourceGroupNotFound`) and the generic life
of a resource: PUT creates (201) or replaces (200) it with the server's fields (`id`,
`name`, `type`, `properties.provisioningState`); a child's parent must exist (404
`ParentResourceNotFound`); GET / list by resource group or parent; DELETE (202 with
`Location` and `Azure-AsyncOperation` for long-running deletes, 200 / 204 otherwise;
children go with their parent), refused while another resource names it (a 400 with the
provider's code: `InUseNetworkSecurityGroupCannotBeDeleted`, `InUseSubnetCannotBeDeleted`,
...); names that are global (PostgreSQL servers, Redis caches, Event Hubs namespaces,
vaults) are a 409 with the provider's code when another group holds them. Key Vault:
soft delete always on (a deleted vault listed under `deletedVaults`, its name held until
purged; a PUT of that name is a 409 `ConflictError` unless `createMode` is `recover`, which
brings the vault back; a purge-protected vault cannot be purged), secrets whose `value` is
never answered. `listKeys` of Redis caches and Event Hubs authorization rules (keys made
once and kept; connection strings with the namespace's host and the hub's `EntityPath`). PostgreSQL flexible servers (azure_postgres.py): each a real local
PostgreSQL server with the stack's databases in it, the service's own rules checked, the
password never answered. Application gateways, their WAF policies, user-assigned
identities and role assignments (azure_gateway.py): a gateway's subnet, frontend, internal
references, rules and probes checked as the service does, and its Key Vault certificate
readable by its identity (a secrets-reading role on an RBAC vault, or a `get` access
policy) or the PUT is refused; role assignments at any scope (`{scope}` spans segments),
one per principal, role and scope, never updated. Key Vault's `Vaults_ListBySubscription`;
`Resources_ListByResourceGroup` (a group's top-level resources with their tags).
Secret properties (`x-ms-secret`) are never answered by any type.
Updates by PATCH are a JSON merge patch, then the same checks and operation as a PUT.
Long-running operations as ARM does them: a PUT of a
long-running operation answers with `provisioningState` "Creating" or "Updating" and an
`Azure-AsyncOperation` header; the operation resource is `InProgress` until it has been
polled `op_polls` times or `op_ms` have passed, then `Succeeded`, and the resource's state
with it; `Location` answers 202 until then and 200 after. Every answer of a long-running
operation carries `Retry-After` (`retry_after_s`, 0 by default: the Azure SDK for Rust
waits 30 s when it is missing).

Control plane (under /_emulator/):
  GET  /_emulator/ready        200 when serving
  POST /_emulator/reset        forget every resource, operation and call; settings back
                               to their start values
  GET/POST /_emulator/faults   {"latency_ms": 50, "throttle_rate": 0.1, "error_rate": 0.05,
                               "seed": 1, "op_polls": 2, "op_ms": 1000, "retry_after_s": 0,
                               "hold": ["VirtualNetworks_CreateOrUpdate", "Subnets_*"]}:
                               throttling is a 429 `TooManyRequests` with `Retry-After`,
                               errors a 503 `ServiceUnavailable`; "hold": those operations
                               take effect at once but answer only when released, at most
                               a minute later
  GET  /_emulator/held         the calls whose answers are held now
  POST /_emulator/held/release answer every held call
  GET  /_emulator/postgres/servers/NAME  where the real PostgreSQL behind a flexible
                               server answers: {"host", "port", "databases"}
  GET  /_emulator/calls        the call log: operation id, method, path, status, start,
                               end, fault, held
  POST /_emulator/calls/reset  empty the call log
The same settings are read at start from CAIRN_AZURE_LATENCY_MS, CAIRN_AZURE_OP_POLLS,
CAIRN_AZURE_OP_MS and CAIRN_AZURE_RETRY_AFTER_S.
"""

import argparse
import atexit
import json
import socket
import os
import random
import re
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from arm_contract import ArmError, Contract  # noqa: E402
from azure_postgres import CONFIGURATIONS, DATABASES, SERVERS, FlexibleServers  # noqa: E402
from keyvault_data import SecretsDataPlane  # noqa: E402
from arm_store import IN_USE, Arm, merge, now  # noqa: E402
import azure_streams  # noqa: E402
import azure_gateway  # noqa: E402

# Types whose names are global (a DNS name is made from them): a name another subscription
# or group holds is ARM's 409 with the provider's own code.
GLOBAL_NAMES = {
    "microsoft.dbforpostgresql/flexibleservers": "ServerNameAlreadyExists",
    "microsoft.cache/redis": "NameNotAvailable",
    "microsoft.eventhub/namespaces": "NamespaceNameNotAvailable",
    "microsoft.keyvault/vaults": "VaultAlreadyExists",
}
# Key Vault's operations at subscription scope (soft delete), served by `vaults`.
VAULT_OPERATIONS = {"Vaults_ListDeleted", "Vaults_GetDeleted", "Vaults_PurgeDeleted"}
# Operations whose paths look like a resource's but are actions: 501 until emulated.
NOT_GENERIC = {"Vaults_UpdateAccessPolicy"}

LOCK = threading.RLock()
RELEASED = threading.Condition(LOCK)
CONTRACT = Contract()
POSTGRES = FlexibleServers()
SECRETS_DATA = SecretsDataPlane()


class Settings:
    def __init__(self):
        self.reset()

    def reset(self):
        self.latency_ms, self.throttle_rate, self.error_rate = 0.0, 0.0, 0.0
        self.op_polls, self.op_ms, self.retry_after_s, self.seed, self.hold = 2, 1000, 0, 0, []
        env = {
            "latency_ms": os.environ.get("CAIRN_AZURE_LATENCY_MS"),
            "op_polls": os.environ.get("CAIRN_AZURE_OP_POLLS"),
            "op_ms": os.environ.get("CAIRN_AZURE_OP_MS"),
            "retry_after_s": os.environ.get("CAIRN_AZURE_RETRY_AFTER_S"),
        }
        self.update({k: v for k, v in env.items() if v is not None})
        self.rng = random.Random(self.seed)

    def update(self, d):
        unknown = set(d) - {"latency_ms", "throttle_rate", "error_rate", "op_polls", "op_ms", "retry_after_s", "seed", "hold"}
        if unknown:
            raise ArmError(400, "InvalidFaults", f"unknown fault settings: {sorted(unknown)}")
        for k in ("latency_ms", "throttle_rate", "error_rate"):
            if k in d:
                setattr(self, k, float(d[k]))
        for k in ("op_polls", "op_ms", "retry_after_s"):
            if k in d:
                setattr(self, k, max(0, int(d[k])))
        if "seed" in d:
            self.seed = int(d["seed"])
            self.rng = random.Random(self.seed)
        if "hold" in d:
            self.hold = list(d["hold"])

    def holds(self, op_id):
        return any(op_id == h or (h.endswith("*") and op_id.startswith(h[:-1])) for h in self.hold)

    def view(self):
        keys = ("latency_ms", "throttle_rate", "error_rate", "op_polls", "op_ms", "retry_after_s", "seed", "hold")
        return {k: getattr(self, k) for k in keys}


SETTINGS = Settings()
CALLS, HELD = [], []
ARM = Arm(SETTINGS, POSTGRES.removed)
ADDRESSES = iter(range(1, 1 << 24))


def public_ip(old, resource):
    """A public IP address: Standard ones are static, and each gets an address of its own
    (kept across updates), from 20.0.0.0/8 here."""
    props = resource.setdefault("properties", {})
    sku = ((resource.get("sku") or {}).get("name") or "Basic").lower()
    method = props.setdefault("publicIPAllocationMethod", "Static" if sku == "standard" else "Dynamic")
    if sku == "standard" and method.lower() != "static":
        raise ArmError(400, "StandardSkuPublicIPAddressesMustBeStatic", "Standard sku publicIp addresses must have AllocationMethod set to Static.")
    kept = ((old or {}).get("properties") or {}).get("ipAddress")
    if kept is None:
        n = next(ADDRESSES)
        kept = f"20.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
    props["ipAddress"] = kept


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # the call log is the record
        pass

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm
        # holds the body until the client's delayed ACK, up to 40 ms a request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def answer(self, status, body=None, headers=None):
        data = b"" if body is None else json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self):
        self.serve("GET")

    def do_HEAD(self):
        self.serve("HEAD")

    def do_PUT(self):
        self.serve("PUT")

    def do_PATCH(self):
        self.serve("PATCH")

    def do_POST(self):
        self.serve("POST")

    def do_DELETE(self):
        self.serve("DELETE")

    def base(self):
        return f"http://{self.headers.get('Host', '127.0.0.1')}"

    def serve(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        url = urllib.parse.urlsplit(self.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        if url.path.startswith("/_emulator/"):
            return self.control(method, url.path, raw)
        started, fault, held, op_id, status = time.time(), None, False, None, 500
        self.reserved = None
        try:
            if not self.headers.get("Authorization", "").lower().startswith("bearer "):
                raise ArmError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
            segments = [s for s in url.path.split("/") if s]
            if segments[:1] == ["keyvault"]:
                op_id = f"KeyVaultData_{method}"
                if SETTINGS.latency_ms > 0:
                    time.sleep(SETTINGS.latency_ms / 1000.0)
                with LOCK:
                    status, body = SECRETS_DATA.serve(ARM, method, segments[1:], query)
                headers = {}
            elif len(segments) >= 6 and segments[-2].lower() in ("operations", "operationresults") and segments[2].lower() == "providers":
                op_id = "ArmOperation_Get"
                status, body, headers = self.operation(segments, segments[-2].lower() == "operationresults")
            else:
                op, params = CONTRACT.route("GET" if method == "HEAD" else method, url.path, query.get("api-version"))
                op_id = op.id
                if SETTINGS.latency_ms > 0:
                    time.sleep(SETTINGS.latency_ms / 1000.0)
                with LOCK:
                    roll = SETTINGS.rng.random()
                if roll < SETTINGS.throttle_rate:
                    fault = "throttle"
                    raise ArmError(429, "TooManyRequests", "The request is being throttled.", {"Retry-After": "1"})
                if roll < SETTINGS.throttle_rate + SETTINGS.error_rate:
                    fault = "5xx"
                    raise ArmError(503, "ServiceUnavailable", "The service is currently unavailable.")
                try:
                    body = json.loads(raw) if raw.strip() else None
                except ValueError as e:
                    raise ArmError(400, "InvalidRequestContent", f"The request content was invalid and could not be deserialized: {e}.")
                body = CONTRACT.check(op, body)
                # A new flexible server's PostgreSQL is started ahead; waiting for one must
                # not hold up every other call.
                if op.id == "Servers_Create" and url.path.lower() not in ARM.resources:
                    self.reserved = POSTGRES.pool.take()
                with LOCK:
                    ARM.settle()
                    self.query = query
                    status, body, headers = self.dispatch(op, params, url.path, body, query["api-version"])
                    held = SETTINGS.holds(op.id)
                    if held:
                        entry = {"operation": op.id, "method": method, "path": url.path, "status": status, "start": started, "end": time.time(), "fault": None, "held": True}
                        CALLS.append(entry)
                        HELD.append(entry)
                        deadline = time.time() + 60
                        while SETTINGS.holds(op.id) and time.time() < deadline:
                            RELEASED.wait(timeout=max(0.0, deadline - time.time()))
                        HELD.remove(entry)
            self.answer(status, body, headers)
        except ArmError as e:
            status = e.status
            self.answer(e.status, e.body(), e.headers)
        except Exception as e:  # an emulator bug: said loudly, in ARM's shape
            import traceback

            traceback.print_exc()
            self.answer(500, {"error": {"code": "InternalServerError", "message": f"emulator error: {e!r}"}})
        finally:
            if self.reserved is not None:
                POSTGRES.pool.release(self.reserved)  # not used: the create was refused
                self.reserved = None
            if not held:
                with LOCK:
                    CALLS.append({"operation": op_id or f"{method} {url.path}", "method": method, "path": url.path, "status": status, "start": started, "end": time.time(), "fault": fault, "held": False})

    def retry(self):
        return {"Retry-After": str(SETTINGS.retry_after_s)}

    def operation(self, segments, result):
        with LOCK:
            record = ARM.operations.get(segments[-1])
            if record is None:
                raise ArmError(404, "OperationNotFound", f"The operation '{segments[-1]}' could not be found.")
            record = ARM.advance(segments[-1], True)
            if result:
                if record["status"] == "InProgress":
                    return 202, None, {**self.retry(), "Location": self.base() + self.path}
                return 200, None, {}
            body = {"name": segments[-1], "status": record["status"], "startTime": record["start"]}
            if "end" in record:
                body["endTime"] = record["end"]
            return 200, body, (self.retry() if record["status"] == "InProgress" else {})

    def dispatch(self, op, params, path, body, api):
        segments = [s for s in path.split("/") if s]
        if "scope" in params and "subscriptionId" not in params and segments[0].lower() == "subscriptions":
            params["subscriptionId"] = segments[1]  # an extension resource's scope says it
        subscription = params.get("subscriptionId", "")
        if op.id.startswith("ResourceGroups_"):
            name = params.get("resourceGroupName", "")
            if op.id == "ResourceGroups_CreateOrUpdate":
                return (*ARM.put_group(subscription, name, body), {})
            if op.id == "ResourceGroups_Get":
                return 200, ARM.group(subscription, name), {}
            if op.id == "ResourceGroups_CheckExistence":
                found = (subscription, name.lower()) in ARM.groups
                return (204 if found else 404), None, {}
            if op.id == "ResourceGroups_List":
                groups = [g for (s, _), g in sorted(ARM.groups.items()) if s == subscription]
                return 200, {"value": groups}, {}
            if op.id == "ResourceGroups_Delete":
                location = ARM.delete_group(self.base(), subscription, name, api)
                return 202, None, {**self.retry(), "Location": location}
        if op.id.startswith("Vaults_") and op.id in VAULT_OPERATIONS:
            return self.vaults(op, params, api)
        if op.id == "Resources_ListByResourceGroup":
            # Every top-level resource of the group, as generic resources (their tags too).
            ARM.group(subscription, params["resourceGroupName"])
            prefix = f"/subscriptions/{subscription}/resourcegroups/{params['resourceGroupName']}/providers/".lower()
            found = [
                {k: r[k] for k in ("id", "name", "type", "location", "tags", "sku", "zones") if k in r}
                for rid, r in sorted(ARM.resources.items())
                if rid.startswith(prefix) and rid.count("/providers/") == 1 and ARM.parent_of(rid) is None
            ]
            return 200, {"value": found}, {}
        if op.id == "Vaults_ListBySubscription":
            prefix = f"/subscriptions/{subscription}/".lower()
            vaults = [ARM.view(r) for rid, r in sorted(ARM.resources.items()) if rid.startswith(prefix) and ARM.type_of(rid).lower() == "microsoft.keyvault/vaults"]
            return 200, {"value": vaults}, {}
        if op.id == "RoleAssignments_ListForSubscription":
            return 200, {"value": self.assignments_in(subscription, self.query.get("$filter"))}, {}
        if op.id in NOT_GENERIC:
            raise ArmError(501, "NotImplemented", f"{op.id} is in the contract but not emulated yet.")
        if op.id.endswith("ListKeys") and op.method == "POST":
            ARM.group(subscription, segments[3])
            return 200, self.list_keys(op, params, path), {}
        names = [s.lower() for s in segments]
        if "providers" in names and "resourcegroups" in names:
            ARM.group(subscription, segments[3])  # ARM says so first, whatever the verb
            kind = op.id.split("_", 1)[1]
            last_literal = not op.segments[-1].startswith("{")
            if op.method == "PUT" and not last_literal:
                return self.put(op, params, path, body, api)
            if op.method == "PATCH" and not last_literal:
                return self.patch(op, params, path, body, api)
            if op.method == "GET" and not last_literal:
                return 200, ARM.view(ARM.get(path)), {}
            if op.method == "GET" and last_literal and kind.startswith("List"):
                return 200, {"value": [ARM.view(r) for r in self.listed(path)]}, {}
            if op.method == "DELETE":
                return self.delete(op, params, path, api)
        raise ArmError(501, "NotImplemented", f"{op.id} is in the contract but not emulated yet.")

    def assignments_in(self, subscription, condition):
        """RoleAssignments_ListForSubscription: the assignments at any scope of the
        subscription, all of them or (`principalId eq '<id>'`, `assignedTo('<id>')`) one
        principal's. ARM refuses a filter it does not know with 400 InvalidFilter."""
        principal = None
        if condition:
            m = re.fullmatch(r"\s*(?:principalId\s+eq\s+'([^']*)'|assignedTo\('([^']*)'\))\s*", condition)
            if m is None:
                raise ArmError(400, "InvalidFilter", f"The filter '{condition}' is not supported. Supported filters: principalId eq '<id>', assignedTo('<id>'), atScope().")
            principal = m.group(1) if m.group(1) is not None else m.group(2)
        prefix = f"/subscriptions/{subscription}/".lower()
        return [
            ARM.view(r)
            for rid, r in sorted(ARM.resources.items())
            if rid.startswith(prefix)
            and ARM.type_of(rid).lower() == "microsoft.authorization/roleassignments"
            and (principal is None or (r.get("properties") or {}).get("principalId") == principal)
        ]

    def scope_exists(self, scope):
        """Whether an ARM scope (a subscription, a group, a resource) exists here."""
        parts = [p for p in scope.split("/") if p]
        if len(parts) == 2:
            return parts[0].lower() == "subscriptions"
        if len(parts) == 4:
            return (parts[1], parts[3].lower()) in ARM.groups
        return scope.lower() in ARM.resources

    def list_keys(self, op, params, path):
        """A cache's access keys or an authorization rule's keys and connection strings,
        made once per resource and kept."""
        owner = path.rsplit("/", 1)[0]
        ARM.get(owner)
        primary, secondary = ARM.keys_of(owner.lower())
        if op.id == "Redis_ListKeys":
            return {"primaryKey": primary, "secondaryKey": secondary}
        rule = params["authorizationRuleName"]
        host = f"{params['namespaceName']}.servicebus.windows.net"
        entity = f";EntityPath={params['eventHubName']}" if "eventHubName" in params else ""
        conn = lambda key: f"Endpoint=sb://{host}/;SharedAccessKeyName={rule};SharedAccessKey={key}{entity}"  # noqa: E731
        return {
            "primaryConnectionString": conn(primary),
            "secondaryConnectionString": conn(secondary),
            "primaryKey": primary,
            "secondaryKey": secondary,
            "keyName": rule,
        }

    def vaults(self, op, params, api):
        """Key Vault's soft delete, at subscription scope: deleted vaults listed, read and
        purged (a purge-protected one refused until its date)."""
        subscription = params["subscriptionId"]
        if op.id == "Vaults_ListDeleted":
            return 200, {"value": [d for _, (d, _, _) in sorted(ARM.deleted_vaults.items())]}, {}
        name = params["vaultName"]
        entry = ARM.deleted_vaults.get(name.lower())
        if entry is None or entry[0]["properties"]["location"].lower() != params["location"].lower():
            raise ArmError(404, "ResourceNotFound", f"The Resource 'Microsoft.KeyVault/deletedVaults/{name}' under subscription '{subscription}' was not found.")
        if op.id == "Vaults_GetDeleted":
            return 200, entry[0], {}
        if entry[0]["properties"].get("purgeProtectionEnabled"):
            raise ArmError(409, "ConflictError", f"Vault '{name}' has purge protection enabled: it cannot be purged before {entry[0]['properties']['scheduledPurgeDate']}.")

        def finish():
            ARM.deleted_vaults.pop(name.lower(), None)
            SECRETS_DATA.forget_vault(entry[0]["properties"]["vaultId"])

        _, location = ARM.start(self.base(), subscription, "Microsoft.KeyVault", params["location"], finish, api)
        return 202, None, {**self.retry(), "Location": location}

    def listed(self, path):
        prefix = path.lower().rstrip("/") + "/"
        ARM.group(path.split("/")[2], path.split("/")[4])
        return [r for rid, r in sorted(ARM.resources.items()) if rid.startswith(prefix) and "/" not in rid[len(prefix):]]

    def put(self, op, params, path, body, api):
        subscription, group = params.get("subscriptionId", ""), path.split("/")[4]
        ARM.group(subscription, group)
        parent = ARM.parent_of(path)
        if parent is not None and parent.lower() not in ARM.resources:
            raise ArmError(404, "ParentResourceNotFound", f"Can not perform requested operation on nested resource. Parent resource '{parent.split('/')[-1]}' not found.")
        rid = path.lower()
        old = ARM.resources.get(rid)
        if old is not None and old.get("properties", {}).get("provisioningState") == "Deleting":
            raise ArmError(409, "AnotherOperationInProgress", "Another operation on this or dependent resource is in progress.")
        kind = ARM.type_of(path).lower()
        if kind in GLOBAL_NAMES and old is None:
            name = path.split("/")[-1].lower()
            if any(ARM.type_of(r).lower() == kind and r.split("/")[-1] == name for r in ARM.resources):
                raise ArmError(409, GLOBAL_NAMES[kind], f"The name '{path.split('/')[-1]}' is already in use: {kind} names are global.")
        if kind == "microsoft.keyvault/vaults" and old is None:
            deleted = ARM.deleted_vaults.get(path.split("/")[-1].lower())
            mode = ((body or {}).get("properties") or {}).get("createMode", "default")
            if deleted is not None and mode.lower() != "recover":
                raise ArmError(409, "ConflictError", f"Exist soft deleted vault with the same name '{path.split('/')[-1]}': recover it (createMode recover) or purge it.")
            if deleted is not None:
                ARM.deleted_vaults.pop(path.split("/")[-1].lower())
                recovered = dict(deleted[1], id=path)
                ARM.resources[rid] = recovered
                ARM.resources.update(deleted[2])
                return 200, recovered, {}
        body, secrets = CONTRACT.secrets(op, body)
        if kind == "microsoft.keyvault/vaults/secrets" and old is None:
            SECRETS_DATA.held(rid)
        if kind == "microsoft.keyvault/vaults/secrets":
            value = ((body or {}).get("properties") or {}).get("value")
            if value is not None:
                ARM.secret_values[rid] = value
            body = dict(body or {}, properties={k: v for k, v in ((body or {}).get("properties") or {}).items() if k != "value"})
        resource = dict(body or {})
        resource.update(id=old["id"] if old else path, name=path.split("/")[-1], type=ARM.type_of(path))
        return self.commit(op, subscription, path, old, resource, secrets, api)

    def patch(self, op, params, path, body, api):
        """An update: the body merged into the resource as it is (JSON merge patch), then
        the same checks and long-running operation as a PUT."""
        old = ARM.get(path)
        if old.get("properties", {}).get("provisioningState") == "Deleting":
            raise ArmError(409, "AnotherOperationInProgress", "Another operation on this or dependent resource is in progress.")
        body, secrets = CONTRACT.secrets(op, body)
        resource = merge(json.loads(json.dumps(old)), body or {})
        status, resource, headers = self.commit(op, params.get("subscriptionId", ""), path, old, resource, secrets, api)
        if op.lro and "202" in op.responses:
            return 202, None, {**headers, "Location": headers["Azure-AsyncOperation"].replace("/operations/", "/operationResults/")}
        return 200, resource, headers

    def commit(self, op, subscription, path, old, resource, secrets, api):
        """A resource as it will be: the service's own checks (which may refuse it or fill
        in what it answers), then stored, finished by a long-running operation or at once."""
        rid, kind = path.lower(), ARM.type_of(path).lower()
        if kind == SERVERS:
            POSTGRES.put_server(ARM, rid, old, resource, secrets, self.reserved)
            if old is None:
                self.reserved = None  # the server's now
        elif kind == DATABASES:
            POSTGRES.put_database(ARM, rid, old, resource)
        elif kind == CONFIGURATIONS:
            POSTGRES.put_configuration(ARM, rid, old, resource)
        elif kind == "microsoft.network/publicipaddresses":
            public_ip(old, resource)
        elif kind == azure_streams.REDIS:
            azure_streams.put_redis(old, resource)
        elif kind == azure_streams.NAMESPACES:
            azure_streams.put_namespace(old, resource)
        elif kind == azure_streams.EVENTHUBS:
            azure_streams.put_eventhub(ARM, rid, old, resource)
        elif kind == azure_streams.PRIVATE_ENDPOINTS:
            azure_streams.put_private_endpoint(ARM, old, resource)
        elif kind == "microsoft.keyvault/vaults":
            resource.setdefault("properties", {})["vaultUri"] = SECRETS_DATA.vault_uri(self.base(), resource["name"])
        elif kind == azure_gateway.GATEWAYS:
            azure_gateway.put_gateway(ARM, rid, old, resource, lambda v: (v.get("properties") or {}).get("vaultUri"))
        elif kind == azure_gateway.LOAD_BALANCERS:
            azure_gateway.put_load_balancer(ARM, rid, old, resource)
        elif kind == azure_gateway.WAF_POLICIES:
            azure_gateway.put_waf_policy(old, resource)
        elif kind == azure_gateway.IDENTITIES:
            azure_gateway.put_identity(old, resource)
        elif kind == azure_gateway.ROLE_ASSIGNMENTS:
            azure_gateway.check_role_assignment(ARM, path, old, resource, self.scope_exists)
        if op.method == "PUT":
            ARM.embed(path, resource)
        props = dict(resource.get("properties") or {})
        if op.lro:
            props["provisioningState"] = "Updating" if old else "Creating"
        else:
            props["provisioningState"] = "Succeeded"
        resource["properties"] = props
        ARM.resources[rid] = resource
        status = 200 if old else 201
        if not op.lro:
            return status, ARM.view(resource), {}

        def finish():
            r = ARM.resources.get(rid)
            if r is not None:
                r["properties"]["provisioningState"] = "Succeeded"

        namespace = path.split("/")[6]
        location = resource.get("location") or "global"
        async_url, _ = ARM.start(self.base(), subscription, namespace, location, finish, api)
        return status, ARM.view(resource), {**self.retry(), "Azure-AsyncOperation": async_url}

    def delete(self, op, params, path, api):
        rid = path.lower()
        resource = ARM.resources.get(rid)
        if resource is None:
            return 204, None, {}
        prefix = rid + "/"
        # Refused while anything outside it names it or one of its children (a network
        # whose subnet a server is delegated).
        for part in [rid] + sorted(r for r in ARM.resources if r.startswith(prefix)):
            user = ARM.user(part)
            if user is not None and not user.lower().startswith(prefix):
                code = IN_USE.get(ARM.type_of(part).lower(), "InUseResourceCannotBeDeleted")
                raise ArmError(400, code, f"{ARM.type_of(part)} {part.split('/')[-1]} is in use by {user} and cannot be deleted.")

        def finish():
            ARM.remove([r for r in ARM.resources if r == rid or r.startswith(prefix)])

        if not op.lro:
            if ARM.type_of(path).lower() == "microsoft.keyvault/vaults":
                self.soft_delete(resource)
            finish()
            if ARM.type_of(path).lower() == azure_gateway.ROLE_ASSIGNMENTS:
                return 200, ARM.view(resource), {}  # the assignment that was
            return 200, None, {}
        resource.setdefault("properties", {})["provisioningState"] = "Deleting"
        namespace = path.split("/")[6]
        async_url, location = ARM.start(self.base(), params.get("subscriptionId", ""), namespace, resource.get("location") or "global", finish, api)
        return 202, None, {**self.retry(), "Location": location, "Azure-AsyncOperation": async_url}

    def soft_delete(self, vault):
        """A deleted vault is kept, its name held, until purged (soft delete is always on)."""
        props = vault.get("properties") or {}
        days = int(props.get("softDeleteRetentionInDays") or 90)
        subscription, location, name = vault["id"].split("/")[2], vault.get("location", ""), vault["name"]
        ARM.deleted_vaults[name.lower()] = (
            {
                "id": f"/subscriptions/{subscription}/providers/Microsoft.KeyVault/locations/{location}/deletedVaults/{name}",
                "name": name,
                "type": "Microsoft.KeyVault/deletedVaults",
                "properties": {
                    "vaultId": vault["id"],
                    "location": location,
                    "deletionDate": now(),
                    "scheduledPurgeDate": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + days * 86400)),
                    "tags": vault.get("tags", {}),
                    "purgeProtectionEnabled": bool(props.get("enablePurgeProtection")),
                },
            },
            json.loads(json.dumps(vault)),
            # Its secrets come back with it.
            {rid: json.loads(json.dumps(r)) for rid, r in ARM.resources.items() if rid.startswith(vault["id"].lower() + "/")},
        )

    # --- the control plane -----------------------------------------------------------------

    def control(self, method, path, raw):
        try:
            if path == "/_emulator/ready" and method == "GET":
                return self.answer(200, {"ready": True, "operations": len(CONTRACT.operations)})
            if path == "/_emulator/reset" and method == "POST":
                with LOCK:
                    ARM.reset()
                    POSTGRES.reset()
                    SECRETS_DATA.reset()
                    CALLS.clear()
                    SETTINGS.reset()
                    RELEASED.notify_all()
                return self.answer(200, {"reset": True})
            if path == "/_emulator/faults":
                with LOCK:
                    if method == "POST":
                        SETTINGS.update(json.loads(raw or b"{}"))
                        RELEASED.notify_all()
                    return self.answer(200, SETTINGS.view())
            if path.startswith("/_emulator/postgres/servers/") and method == "GET":
                with LOCK:
                    view = POSTGRES.view(path.rsplit("/", 1)[1])
                if view is None:
                    raise ArmError(404, "NotFound", f"no flexible server {path.rsplit('/', 1)[1]}")
                return self.answer(200, view)
            if path == "/_emulator/calls" and method == "GET":
                with LOCK:
                    return self.answer(200, list(CALLS))
            if path == "/_emulator/calls/reset" and method == "POST":
                with LOCK:
                    CALLS.clear()
                return self.answer(200, {"reset": True})
            if path == "/_emulator/held" and method == "GET":
                with LOCK:
                    return self.answer(200, list(HELD))
            if path == "/_emulator/held/release" and method == "POST":
                with LOCK:
                    SETTINGS.update({"hold": []})
                    RELEASED.notify_all()
                return self.answer(200, {"released": True})
            raise ArmError(404, "NotFound", f"no control endpoint {method} {path}")
        except ArmError as e:
            self.answer(e.status, e.body())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--exit-with-parent", action="store_true", help="stop when the process that started us ends")
    args = parser.parse_args()
    if args.exit_with_parent:
        parent = os.getppid()

        def watch():
            while os.getppid() == parent:
                time.sleep(0.5)
            POSTGRES.pool.stop_all()
            os._exit(0)

        threading.Thread(target=watch, daemon=True).start()
    # Loopback only: the emulator is for this machine's tests.
    POSTGRES.pool.start()
    atexit.register(POSTGRES.pool.stop_all)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"cairn-azure: serving Azure Resource Manager ({len(CONTRACT.operations)} operations) on 127.0.0.1:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
