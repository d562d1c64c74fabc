"""An emulator of the Google Cloud APIs cairn's GCP provider calls, built to their contract.

No emulator of these APIs exists, so this one is made from the APIs' own discovery
documents (shipped in the `google-api-python-client` package, which `serve` installs; the
emulator never reads them from anywhere else):

* routing: every method of Compute v1, Cloud SQL Admin v1, Memorystore for Redis v1,
  Managed Kafka v1, Secret Manager v1 and Service Networking v1 is served at its real path
  on one port. GCP tells APIs apart by host, and Memorystore's and Managed Kafka's
  `v1/projects/*/locations/*/clusters` and `operations` paths are the same, so a path may
  begin with the API's host, as a client pointed at `{endpoint}/{host}` sends it:
  `/managedkafka.googleapis.com/v1/projects/...`, `/redis.googleapis.com/v1/...`,
  `/compute.googleapis.com/compute/v1/...` (and sqladmin, secretmanager,
  servicenetworking); the host is taken off and only that API's methods are tried (an
  unknown host is a 404). Without a host the most literal template of any API wins (and
  where two are as literal, the API listed first above: Memorystore's clusters);
* request checking: a body is checked against the method's request schema: an unknown
  field, a wrong JSON type, a value outside the enum, a string not matching the field's
  pattern, or a field the document marks required for this method and left out, is a 400
  in the API's own error shape (Compute and Cloud SQL: `error.errors[].reason`; the
  others: `error.status`), before anything happens;
* behaviour, per API, as far as it is emulated (below): a method routed but not emulated
  yet answers 501 `UNIMPLEMENTED` naming it, never a made-up success.

Files: `gcp_contract.py` (discovery documents, routing, body checks, error shapes),
`gcp_compute.py` (Compute's collections and operations) with `gcp_compute_lb.py` (the
load-balancing collections' rules), `gcp_secrets.py` (Secret
Manager), `gcp_servicenetworking.py` (private services access), `gcp_sql.py` (Cloud SQL)
with `gcp_sql_postgres.py` (a real PostgreSQL server per instance, through
`../aws/local_postgres.py`), `gcp_redis.py` (Memorystore for Redis), `gcp_kafka.py`
(Managed Kafka), `gcp_storage.py` (Cloud Storage, JSON and gRPC), this one (HTTP, the
gRPC splice, settings, the call log, holds, controls).

Cloud Storage (emulated for the `gs://` state backend; see gcp_storage.py): buckets,
objects with generations and preconditions, uploads (media, multipart, resumable),
downloads, listing, over the JSON API and over gRPC (`google.storage.v2.Storage`) on the
same port: a connection that opens with HTTP/2's preface is spliced to a grpcio server.
gRPC calls go through the same faults, holds and call log, named by the JSON API's method
ids (`storage.objects.list`).

Compute (emulated): networks, subnetworks, firewalls, routers, global addresses, with
  server-set fields (`id` uint64 as a string, `selfLink`, `creationTimestamp`, `kind`),
  `Operation`s that pass PENDING -> RUNNING -> DONE over polls (`wait` finishes one), the
  resource appearing (or going) when its operation is DONE; `requestId` must be a UUID
  and a repeated one returns the first operation (Compute's idempotency); 409
  `alreadyExists`; 404 `notFound`; deleting a network that subnetworks, firewalls, routers
  or global addresses use is a 400 `resourceInUseByAnotherResource`, and so is deleting a
  global address a Service Networking connection uses; a subnetwork range must be a valid
  CIDR inside no other subnetwork or allocated range of its network; a VPC_PEERING global
  address must be INTERNAL, name its network and a prefixLength of 8-29, and is given the
  first free range of 10/8, 172.16/12, 192.168/16 clear of the network's subnetworks and
  ranges when it names no `address` (an EXTERNAL one an address of 198.51.100.0/24); patch
  is a JSON merge patch; list `filter` on `name`, other top-level fields and `labels.KEY`,
  with paging, and so are global / regional operations' list and aggregatedList. The
  global external Application Load Balancer chain (`gcp_compute_lb.py`): health checks,
  backend services (`update`, `setSecurityPolicy`), URL maps (`update`), SSL certificates
  (self-managed PEM, the key never answered; managed ones stay PROVISIONING), target
  HTTP(S) proxies (`setUrlMap`, `setSslCertificates`), global forwarding rules (`setLabels`,
  `setTarget`; a reserved address or an ephemeral one of 192.0.2.0/24) and Cloud Armor
  security policies (`addRule` / `patchRule` / `removeRule` / `getRule`, the default rule
  kept), with their field rules; what they name must exist (404), is answered as a full URL
  and cannot be deleted while named (the 400 above); a stale `fingerprint` (or a missing
  one where the document requires it) is a 412 `conditionNotMet`. Backends' instance
  groups and NEGs are checked by URL shape only, URL map `tests` are kept but not run, and
  backend buckets and other target types are not emulated (naming one is a 501).

Service Networking (emulated): connections create / list / patch / deleteConnection and
  operations.get. Operations are `done` after `op_polls` polls (or `op_ms`), `done: false`
  left out as proto3 JSON does; what depends on other resources fails the operation
  (`error.code` 9): a range that is not a VPC_PEERING address of the network ("Allocated IP
  range 'r' not found in network."), a second create with other ranges ("Cannot modify
  allocated ranges in CreateConnection. Please use UpdateConnection."), deleting while Cloud
  SQL or Memorystore instances use the network ("Failed to delete connection; Producer
  services (e.g. CloudSQL, Cloud Memstore, etc.) are still using this connection.");
  removing ranges on patch needs `force=true`, and a range a producer's address is in
  stays. Connections name networks by project number; the network gets
  the `servicenetworking-googleapis-com` peering.

Cloud SQL (emulated, PostgreSQL only): instances insert / get / list / patch / update /
  delete / restart, databases and users, operations get / list (sql#operation PENDING ->
  RUNNING -> DONE as Compute's, one at a time per instance, else 409 operationInProgress).
  An instance is PENDING_CREATE until its CREATE operation is DONE; `rootPassword` is the
  `postgres` user's password and is never answered. Rules: name, 409 instanceAlreadyExists
  (also for a name deleted less than `sql_name_reuse_ms` ago, in GCP's words), tier by
  edition (Enterprise Plus by default from POSTGRES_16: db-perf-optimized-N-*; Enterprise:
  db-f1-micro, db-g1-small, db-custom-CPUS-MiB within Cloud SQL's limits), disk 10-65536
  GB and never shrunk, backup / maintenance / label rules, flags named once, private IP
  only on a network with a Service Networking connection ("Incorrect Service Networking
  config for instance: P:I:NETWORK_NOT_PEERED.") and taken from its allocated range (from
  the range's .3), a deletion-protected instance refused deletion; `settingsVersion` counts patches and
  updates, a stale one is a 412; patch merges settings, update replaces them. List filter
  `field.path:value` terms (`settings.userLabels.env:prod`), with paging. Databases and
  users are made, changed and dropped on the instance's real server at once (PostgreSQL's
  refusals as Cloud SQL's 400 "Invalid request: failed to ... Detail: pq: ..."), owned by /
  members of `cloudsqlsuperuser`; listing them needs a RUNNABLE instance.

Memorystore for Redis (emulated, metadata only: no Redis server behind it): instances
  create / get / list (`-` for every location, with paging) / patch / delete /
  getAuthString, and operations get / list / delete. Every change is a
  google.longrunning.Operation (metadata google.cloud.redis.v1.OperationMetadata), `done`
  after `op_polls` polls (or `op_ms`), its `response` the Instance (Empty for delete); the
  instance is CREATING / UPDATING / DELETING until then, and any other change meanwhile is
  a 400 FAILED_PRECONDITION ("Unable to update due to ongoing operations. Please wait until
  instance is in READY state."). Rules: instance id, 409 "Resource '...' already exists",
  tier, memory 1-300 GB, redis version (REDIS_7_0 by default), labels, the redisConfigs
  the document names per version, replicas (0 for BASIC, 1 for STANDARD_HA, 1-5 and 5 GB or
  more with read replicas, which stay on once enabled), zones of the region, the
  authorized network in the instance's project and existing; PRIVATE_SERVICE_ACCESS needs
  the network's Service Networking connection (400 FAILED_PRECONDITION "Google private
  service access is not enabled. ...") and takes a free /29 (/28 with read replicas) of
  the named allocated range or any of the connection's, answered as `reservedIpRange`;
  DIRECT_PEERING a /29 of the network's own space; port 6378 with SERVER_AUTHENTICATION
  (and `serverCaCerts`), else 6379. `updateMask` is required ("Update mask is empty") and
  names only updatable fields ("Invalid option 'tier': 'tier' cannot be updated on existing
  instances."). getAuthString answers `{}` unless AUTH is enabled. While an instance exists
  its network cannot be deleted (Compute's 400 `resourceInUseByAnotherResource`).

Managed Service for Apache Kafka (emulated, metadata only: no broker behind it): clusters
  create / get (`view` FULL adds brokerDetails and effectiveCapacityConfig) / list (`-`
  for every location; `filter` on labels.KEY, name and state; `orderBy` name, createTime,
  updateTime; paging) / patch / delete, their operations get / list / delete, and topics
  create / get / list / patch / delete. Cluster changes are google.longrunning.Operations
  (metadata google.cloud.managedkafka.v1.OperationMetadata), `done` after `op_polls` polls
  (or `op_ms`), their `response` the Cluster (Empty for delete); the cluster is CREATING /
  UPDATING / DELETING meanwhile and another change is a 400 FAILED_PRECONDITION; a
  `requestId` must be a non-zero UUID and a repeated one answers the first operation.
  Rules: cluster id, 409 "Resource '...' already exists", capacity (vcpuCount 3 or more,
  memoryBytes 1-8 GiB per vCPU; brokers of at most 15 vCPUs, never removed, each keeping
  1 vCPU; an upscale leaving brokers below 90% of their size fails its operation unless
  updateOptions allows it), 1-10 network configs whose subnets exist in Compute, in the
  cluster's region, one per network (answered, like kmsKey and CA pools, with the
  project's number), kmsKey in the region and immutable, public ranges, kafkaVersion
  3.7.x, labels; `updateMask` required and limited to updatable fields; the bootstrap
  address `bootstrap.CLUSTER.REGION.managedkafka.PROJECT.cloud.goog` once ACTIVE;
  brokerCapacityConfig is kept but not answered. Topics are synchronous, only while the
  cluster's Kafka serves (ACTIVE or UPDATING), and refused in Kafka's words: topic names,
  409 "Topic 't' already exists.", partitions and replication factor (at most the broker
  count, immutable), partitions never fewer, configs among Kafka 3.7's topic configs with
  values of their types (a patch replaces them). A cluster's delete takes its topics
  along; while it exists its subnets cannot be deleted (Compute's 400
  `resourceInUseByAnotherResource`). Consumer groups, ACLs, Connect and schema registries
  answer 501.

Secret Manager (emulated): global secrets and their versions; names answered with the
  project's number; secret id and label rules; `replication` required; `updateMask`
  required on patch, `etag` checked; `addVersion` payloads as Base64 with an optional
  CRC32C; `versions/latest:access`; disable/enable/destroy; list `filter` on
  `labels.KEY` and `name`, with paging. Regional secrets answer 501.

Control (all on the emulator's port, under /_emulator/ as every emulator of the project):
  GET  /_emulator/ready      200 {"ready": true, "emulator": "gcp", "apis": [...]}
  POST /_emulator/reset      forget every resource and operation (stopping the Cloud SQL
                             instances' PostgreSQL servers), the call log; faults and holds
                             back to none
  GET/POST /_emulator/faults {"latency_ms": 50, "throttle_rate": 0.1, "error_rate": 0.05,
                             "seed": 1, "op_polls": 2, "op_ms": 1000,
                             "hold": ["compute.networks.insert", "compute.firewalls.*"]}
                            (throttling is a 429 RESOURCE_EXHAUSTED / rateLimitExceeded,
                             errors a 503 UNAVAILABLE / backendError; "op_polls": the polls an
                             operation takes to be DONE, "op_ms": the time after which it is
                             DONE unpolled (0: never); "hold": those methods take effect at
                             once but answer only when released, at most a minute later;
                             "sql_name_reuse_ms": how long a deleted Cloud SQL instance's
                             name stays taken, a week on GCP, 0 by default)
  GET  /_emulator/sql/instances/NAME  where the real PostgreSQL behind a Cloud SQL
                             instance answers (its private IP does not route here):
                             {"host": "127.0.0.1", "port": 5xxxx, "databases": [...],
                             "users": [...]} (any project; "port" null without PostgreSQL)
  GET  /_emulator/held       the calls whose answers are held now
  POST /_emulator/held/release  answer every held call
  GET  /_emulator/calls      the call log: service (the API), operation (the discovery
                             method id), start, end, fault, held, detail (an upload's type)
  POST /_emulator/calls/reset  clears it
The same settings are read at start from CAIRN_GCP_LATENCY_MS, CAIRN_GCP_THROTTLE_RATE,
CAIRN_GCP_ERROR_RATE, CAIRN_GCP_OP_POLLS, CAIRN_GCP_OP_MS, CAIRN_GCP_SEED and
CAIRN_GCP_SQL_NAME_REUSE_MS.
"""

import argparse
import atexit
import json
import os
import random
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from gcp_compute import Compute
from gcp_contract import APIS, ApiError, Contract, check_body, normalize_enums, documents_dir, error_body
from gcp_kafka import Kafka
from gcp_redis import Redis
from gcp_secrets import Secrets
from gcp_servicenetworking import ServiceNetworking
from gcp_sql import CloudSql
from gcp_sql_postgres import Servers
from gcp_storage import Media, Storage

# grpcio (Cloud Storage's gRPC API) registers fork handlers that run in every child the
# emulator forks (the Cloud SQL servers' psql, with a preexec_fn) and can fail it there
# ("epoll_wait error: Bad file descriptor"). The children only exec: no handlers needed.
os.environ["GRPC_ENABLE_FORK_SUPPORT"] = "false"

LOCK = threading.RLock()
RELEASED = threading.Condition(LOCK)



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
            "sql_name_reuse_ms": os.environ.get("CAIRN_GCP_SQL_NAME_REUSE_MS"),
        }
        self.update({k: float(v) for k, v in env.items() if v})

    def reset(self):
        self.latency_ms, self.throttle_rate, self.error_rate = 0.0, 0.0, 0.0
        self.op_polls, self.op_ms, self.seed, self.hold = 2, 1000, 0, []
        self.sql_name_reuse_ms = 0
        self.rng = random.Random(0)

    def update(self, d):
        unknown = set(d) - {"latency_ms", "throttle_rate", "error_rate", "op_polls", "op_ms", "seed", "hold", "sql_name_reuse_ms"}
        if unknown:
            raise ApiError(400, f"unknown fault settings: {sorted(unknown)}")
        for k in ("latency_ms", "throttle_rate", "error_rate"):
            if k in d:
                setattr(self, k, float(d[k]))
        if "op_polls" in d:
            self.op_polls = max(0, int(d["op_polls"]))
        if "op_ms" in d:
            self.op_ms = max(0, int(d["op_ms"]))
        if "sql_name_reuse_ms" in d:
            self.sql_name_reuse_ms = max(0, int(d["sql_name_reuse_ms"]))
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
            "sql_name_reuse_ms": self.sql_name_reuse_ms,
        }


SETTINGS = Settings()
CALLS = []
HELD = []


COMPUTE = Compute(SETTINGS)
SECRETS = Secrets(SETTINGS)
NETWORKING = ServiceNetworking(SETTINGS, COMPUTE)
SERVERS = Servers()
SQL = CloudSql(SETTINGS, COMPUTE, NETWORKING, SERVERS)
REDIS = Redis(SETTINGS, COMPUTE, NETWORKING)
KAFKA = Kafka(SETTINGS, COMPUTE)
STORAGE = Storage()
EMULATED = {
    "compute": COMPUTE,
    "managedkafka": KAFKA,
    "redis": REDIS,
    "secretmanager": SECRETS,
    "servicenetworking": NETWORKING,
    "sqladmin": SQL,
    "storage": STORAGE,
}


def log_call(api, operation, started, fault, held=False, detail=None):
    entry = {"service": api, "operation": operation, "start": started, "end": time.time(), "fault": fault}
    if held:
        entry["held"] = True
    if detail:
        entry["detail"] = detail
    with LOCK:
        CALLS.append(entry)
    return entry


def call(api, mid, work, detail=None):
    """`work()` run as every call of either transport is: the latency, a throttle or 5xx
    rolled, then `work` under the lock, an answer held while a hold names the method, and
    the call logged. Answers what `work` answers; raises ApiError."""
    started, fault, held = time.time(), None, False
    try:
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
        with LOCK:
            answer = work()
            held = SETTINGS.holds(mid)
            if held:
                entry = log_call(api, mid, started, None, held=True, detail=detail)
                HELD.append(entry)
                deadline = time.time() + 60
                while SETTINGS.holds(mid) and time.time() < deadline:
                    RELEASED.wait(timeout=max(0.0, deadline - time.time()))
                HELD.remove(entry)
        return answer
    finally:
        if not held:
            log_call(api, mid, started, fault, detail=detail)


# ---------------------------------------------------------------------------------------
# HTTP, and gRPC on the same port.


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    contract = None

    def log_message(self, fmt, *args):  # the call log is the record; keep stderr quiet
        pass

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm
        # holds the body until the client's delayed ACK, some 40 ms a request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

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

    def send_media(self, media):
        self.send_response(media.status)
        for k, v in media.headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(media.body)))
        self.end_headers()
        self.wfile.write(media.body)

    def read_body(self):
        """The request body, sent with a length or in chunks (streamed uploads are)."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            raw = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return bytes(raw)
                raw += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def serve(self, http):
        raw = self.read_body()
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        if url.path.startswith("/_emulator/"):
            return self.control(http, url.path, raw)
        style = "aip"
        try:
            # A resumable upload's chunks are PUT to the session's URL, the upload path.
            routed_as = "POST" if http == "PUT" and "upload_id" in query else http
            try:
                method, params = self.contract.route(routed_as, url.path)
            except ApiError:
                log_call(None, f"{http} {url.path}", time.time(), None)
                raise
            style = method.style
            # Where this emulator answers, for the URLs it hands out (a resumable upload's
            # session): the official client sends `Host` without the port.
            host, port = self.server.server_address[:2]
            request = {"headers": self.headers, "raw": raw, "host": f"http://{host}:{port}"}
            # An upload's kind is worth seeing in the log (`uploadType=resumable`).
            detail = f"uploadType={query['uploadType'][-1]}" if method.upload and "uploadType" in query else None
            answer = call(method.api, method.id, lambda: self.work(method, params, query, raw, request), detail)
            if isinstance(answer, Media):
                return self.send_media(answer)
            self.send_json(200, answer)
        except ApiError as e:
            if e.code == 304:
                return self.send_media(Media(304, b"", {}))
            self.send_json(e.code, error_body(style, e.code, e.message, e.reason, e.status))
        except Exception as e:  # an emulator bug: said loudly, in Google's shape
            import traceback

            traceback.print_exc()
            self.send_json(500, error_body(style, 500, f"emulator error: {e!r}", "backendError"))

    def work(self, method, params, query, raw, request):
        """A routed call's body checked and its API's behaviour run (under the lock)."""
        if method.upload:  # the body is media: Cloud Storage checks its metadata part
            return self.dispatch(method, params, query, {}, request)
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError as e:
            raise ApiError(400, f"Invalid JSON payload received. {e}.")
        body = normalize_enums(method, body)
        check_body(method, body if body is not None else ({} if method.request else None))
        return self.dispatch(method, params, query, body or {}, request)

    def dispatch(self, method, params, query, body, request):
        # Every API's operations settle first: one API's rules read another's resources.
        for api in (COMPUTE, NETWORKING, SQL, REDIS, KAFKA):
            api.settle()
        if method.api == "storage":
            return STORAGE.handle(method, params, query, body, request)
        if method.api in EMULATED:
            return EMULATED[method.api].handle(method, params, query, body)
        raise ApiError(501, f"{method.id} is routed but not emulated yet.")

    def control(self, http, path, raw):
        try:
            if path == "/_emulator/ready" and http == "GET":
                return self.send_json(200, {"ready": True, "emulator": "gcp", "apis": sorted(a for a, _ in APIS.values()), "grpc": GRPC_PORT is not None})
            if path == "/_emulator/reset" and http == "POST":
                with LOCK:
                    for api in EMULATED.values():
                        api.reset()
                    SETTINGS.reset()
                    RELEASED.notify_all()
                    CALLS.clear()
                return self.send_json(200, {})
            if path == "/_emulator/faults" and http in ("GET", "POST"):
                with LOCK:
                    if http == "POST":
                        SETTINGS.update(json.loads(raw or b"{}"))
                    return self.send_json(200, SETTINGS.as_dict())
            if path.startswith("/_emulator/sql/instances/") and http == "GET":
                with LOCK:
                    found = SQL.endpoint(path.rsplit("/", 1)[1])
                if found is None:
                    return self.send_json(404, {"message": f"no Cloud SQL instance {path.rsplit('/', 1)[1]}"})
                return self.send_json(200, found)
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


GRPC_PORT = None
GRPC_SERVER = None  # held: a grpc.server that is collected stops serving
GRPC_READY = threading.Event()


def start_grpc():
    """Cloud Storage's gRPC API (google.storage.v2) on an inner port: a connection to the
    emulator's port that opens with HTTP/2's preface is spliced to it, so one endpoint
    serves both transports, as storage.googleapis.com does. Its packages take a second to
    import, so it starts beside the HTTP server; a gRPC call that comes first waits."""
    global GRPC_PORT, GRPC_SERVER
    try:
        import grpc
        from concurrent import futures

        server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
        server.add_generic_rpc_handlers((STORAGE.grpc_handler(lambda mid, work: call("storage", mid, work)),))
        GRPC_PORT = server.add_insecure_port("127.0.0.1:0")
        server.start()
        GRPC_SERVER = server
    finally:
        GRPC_READY.set()


def splice(conn):
    """Copy bytes both ways between `conn` and the gRPC server until both sides close."""
    GRPC_READY.wait(60)
    if GRPC_PORT is None:
        return
    upstream = socket.create_connection(("127.0.0.1", GRPC_PORT))
    for end in (conn, upstream):
        end.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    back = threading.Thread(target=pump, args=(upstream, conn), daemon=True)
    back.start()
    pump(conn, upstream)
    back.join()
    upstream.close()


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def finish_request(self, request, client_address):
        try:
            head = request.recv(4, socket.MSG_PEEK | socket.MSG_WAITALL)
        except OSError:
            return
        if head == b"PRI ":  # HTTP/2 with prior knowledge: gRPC
            return splice(request)
        super().finish_request(request, client_address)


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
            SERVERS.stop_all()
            os._exit(0)

        threading.Thread(target=watch, daemon=True).start()
    Handler.contract = Contract(documents_dir())
    SERVERS.start()
    atexit.register(SERVERS.stop_all)
    threading.Thread(target=start_grpc, daemon=True).start()
    # Loopback only: the emulator is for this machine's tests.
    server = Server(("127.0.0.1", args.port), Handler)
    server.serve_forever()


if __name__ == "__main__":
    main()
