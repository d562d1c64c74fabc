"""moto 5.2.5, wrapped to behave like AWS where cairn's AWS provider depends on it.
(The services' patches are in moto_services.py and moto_kafka.py; what they and this
middleware share, in emulator_state.py.)

Runs moto's own WSGI app in-process and closes its known gaps, without touching moto's
files (everything is patched from here, at start-up):

* pending states, with AWS's documented names and a configurable duration:
  RDS instances creating/modifying/deleting -> available/gone; NAT gateways
  pending/deleting -> available/deleted; ALBs provisioning -> active; ElastiCache
  replication groups creating/modifying/deleting -> available/gone; MSK clusters
  CREATING/UPDATING/DELETING -> ACTIVE/gone;
* calls moto lacks: MSK UpdateBrokerCount, UpdateBrokerStorage, UpdateBrokerType,
  UpdateClusterKafkaVersion; ElastiCache DeleteCacheSubnetGroup;
* moto bugs: ModifyDBSubnetGroup deleting the group;
* deletes of things in use fail as on AWS: security groups referenced by rules, RDS,
  ElastiCache or load balancers (DependencyViolation), subnets with NAT gateways or used by
  DB/cache subnet groups (DependencyViolation), VPCs with an attached internet gateway
  (DependencyViolation), DB subnet groups used by instances (InvalidDBSubnetGroupStateFault),
  DB parameter groups used by instances (InvalidDBParameterGroupState),
  cache subnet groups used by replication groups (CacheSubnetGroupInUse);
* injectable latency, throttling and 5xx faults, in each protocol's real error shape;
* a call log (service, operation, start, end) for benchmarks;
* tags of deleted EC2 objects dropped with them, as on AWS (and of security group rules
  an Authorize refused as duplicates, which moto tags before refusing);
* RDS instances answering at a real local PostgreSQL (local_postgres.py);
* held answers, to stage a crash: the named operations take effect at once but their
  answers wait until the hold is lifted (the cloud did it, the client never heard);
* delayed effects: the named operations take effect only some time after they arrive,
  whether or not their client is still there (a request in flight when its run died);
* AssociateRouteTable refusing a subnet that is associated already
  (Resource.AlreadyAssociated) and CreateDBSubnetGroup refusing a taken name
  (DBSubnetGroupAlreadyExists), as on AWS.

Control (all on the emulator's port, under /_emulator/ as every emulator of the project):
  GET  /_emulator/ready     200 {"ready": true, "emulator": "aws"} once it serves
  POST /_emulator/reset     forget every resource (moto's reset), pending transitions, the
                            call log; faults, holds and delays back to none
  GET/POST /_emulator/faults {"latency_ms": 50, "throttle_rate": 0.1, "error_rate": 0.05,
                            "transition_ms": 300, "seed": 1,
                            "hold": ["CreateSecret", "POST /v1/clusters"],
                            "delay": {"AllocateAddress": 1500, "Create*": 200}}
                           ("hold": [] answers everything held; a held call is logged
                            with "held": true once it took effect; an entry ending in "*"
                            holds every operation it prefixes, for REST paths that carry
                            ids: "POST /v1/clusters/*";
                            "delay" makes the named operations take effect that many ms
                            after they arrive, even if the client is gone by then: a
                            request still in flight when its run was killed; such a call
                            is logged on arrival with "delayed": true, "end" set once done)
  GET  /_emulator/held      the calls whose answers are held now
  POST /_emulator/held/release  answer every held call (same as "hold": [])
  GET  /_emulator/calls     the call log;  POST /_emulator/calls/reset  clears it
  POST /_emulator/certificate {"domain": "example.com"[, "arn": ARN]} -> {"arn": ...}, an ACM certificate
The same settings are read at start from CAIRN_MOTO_LATENCY_MS, CAIRN_MOTO_THROTTLE_RATE,
CAIRN_MOTO_ERROR_RATE, CAIRN_MOTO_TRANSITION_MS and CAIRN_MOTO_SEED.
"""

import argparse
import atexit
import io
import json
import socket
import os
import threading
import time
import urllib.parse
import uuid

from werkzeug.serving import WSGIRequestHandler, run_simple

import local_postgres
import moto_kafka
import moto_services
from emulator_state import (
    CALLS,
    HELD,
    LOCK,
    MUTATING,
    RELEASED,
    SETTINGS,
    TRANSITIONS,
    advance,
)

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

# ---------------------------------------------------------------------------------------
# The WSGI middleware: control endpoints, latency, faults, call log.

PROTOCOL = {  # service signing name -> protocol family (a fault answered in another's
    # shape is one the SDK cannot parse, so never retries)
    "acm": "json",
    "ec2": "ec2",
    "rds": "query",
    "elasticloadbalancing": "query",
    "elasticache": "query",
    "secretsmanager": "json",
    "kafka": "rest-json",
}


def sweep_ec2_tags():
    """moto keeps the tags of deleted EC2 objects forever (DescribeTags keeps listing
    them); AWS drops them with the object. Forget tags of objects that are gone."""
    from moto.ec2.models import ec2_backends

    prefixes = ("vpc-", "subnet-", "sg-", "sgr-", "rtb-", "igw-", "eipalloc-", "vpce-")
    for account in list(ec2_backends.values()):
        for b in list(account.values()):
            live = set(b.vpcs) | set(b.route_tables) | set(b.internet_gateways)
            for zone in b.subnets.values():
                live |= set(zone)
            for groups in b.groups.values():
                for g in groups.values():
                    live.add(g.id)
                    live |= {r.id for r in g.ingress_rules + g.egress_rules}
            live |= {a.allocation_id for a in b.addresses}
            live |= {i for i, e in b.vpc_end_points.items() if e.state != "deleted"}
            for resource_id in list(b.tags):
                if resource_id.startswith(prefixes) and resource_id not in live:
                    b.tags.pop(resource_id, None)


def describe_request(environ, body):
    """(service, operation) of a request, as AWS names them."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    service = "unknown"
    if "Credential=" in auth:
        scope = auth.split("Credential=")[1].split(",")[0].split("/")
        if len(scope) >= 4:
            service = scope[3]
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return service, target.split(".")[-1]
    if PROTOCOL.get(service) in ("ec2", "query"):
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        return service, form.get("Action", ["Unknown"])[0]
    return service, f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}"


def fault_response(service, kind):
    """A throttling or 5xx answer in the shape the service's protocol uses."""
    rid = str(uuid.uuid4())
    family = PROTOCOL.get(service, "query")
    if kind == "throttle":
        code, status, message = {
            "ec2": ("RequestLimitExceeded", 503, "Request limit exceeded."),
            "json": ("ThrottlingException", 400, "Rate exceeded"),
            "rest-json": ("TooManyRequestsException", 429, "Too Many Requests"),
        }.get(family, ("Throttling", 400, "Rate exceeded"))
    else:
        code, status, message = {
            "ec2": ("InternalError", 500, "An internal error has occurred"),
            "json": ("InternalServiceError", 500, "An error occurred on the server side."),
            "rest-json": ("InternalServerErrorException", 500, "An internal error occurred."),
        }.get(family, ("InternalFailure", 500, "The request processing has failed because of an unknown error."))
    if family == "ec2":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
            f"<Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>{rid}</RequestID></Response>"
        )
        return status, [("Content-Type", "text/xml")], body
    if family == "query":
        kind_ = "Sender" if kind == "throttle" else "Receiver"
        body = (
            f'<ErrorResponse><Error><Type>{kind_}</Type><Code>{code}</Code><Message>{message}</Message></Error>'
            f"<RequestId>{rid}</RequestId></ErrorResponse>"
        )
        return status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", rid)], body
    if family == "json":
        body = json.dumps({"__type": code, "message": message})
        return status, [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", rid)], body
    body = json.dumps({"message": message})
    return status, [("Content-Type", "application/json"), ("x-amzn-ErrorType", code), ("x-amzn-RequestId", rid)], body


STATUS_TEXT = {200: "OK", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}


def reply(start_response, status, headers, body):
    data = body.encode("utf-8") if isinstance(body, str) else body
    start_response(f"{status} {STATUS_TEXT.get(status, 'OK')}", headers + [("Content-Length", str(len(data)))])
    return [data]


class Middleware:
    def __init__(self, app):
        self.app = app

    def held(self, environ, start_response, service, operation, started):
        """Let the call take effect now and answer only once the hold is lifted (at most a
        minute: a forgotten hold must not wedge the emulator)."""
        answer = {}

        def capture(status, headers, exc_info=None):
            answer["status"], answer["headers"] = status, headers
            return lambda data: None

        chunks = list(self.app(environ, capture))
        entry = {"service": service, "operation": operation, "start": started, "end": time.time(), "fault": None, "held": True}
        with LOCK:
            CALLS.append(entry)
            HELD.append(entry)
        try:
            RELEASED.wait(timeout=60)
        finally:
            with LOCK:
                HELD.remove(entry)
        start_response(answer["status"], answer["headers"])
        return chunks

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        if path.startswith("/_emulator/"):
            return self.control(environ, path, method, body, start_response)
        if path.startswith("/moto-api"):
            if path.startswith("/moto-api/reset"):
                with LOCK:
                    TRANSITIONS.clear()
                SETTINGS.update({"hold": []})
                local_postgres.SERVER.reset()
            return self.app(environ, start_response)
        advance()
        service, operation = describe_request(environ, body)
        started = time.time()
        if SETTINGS.latency_ms > 0:
            time.sleep(SETTINGS.latency_ms / 1000.0)
        with LOCK:
            roll = SETTINGS.rng.random()
        fault = None
        arrived = None  # the call's log entry when it is logged on arrival
        if roll < SETTINGS.throttle_rate:
            fault = "throttle"
        elif roll < SETTINGS.throttle_rate + SETTINGS.error_rate:
            fault = "5xx"
        try:
            if fault:
                status, headers, text = fault_response(service, fault)
                return reply(start_response, status, headers, text)
            delay = SETTINGS.delay_of(operation)
            if delay > 0:
                # The request is on its way: it takes effect later, whether or not the
                # client is still there to hear the answer (a run killed meanwhile).
                # Logged on arrival so a test can kill its run while the effect is due.
                arrived = {"service": service, "operation": operation, "start": started, "end": None, "fault": None, "delayed": True}
                with LOCK:
                    CALLS.append(arrived)
                time.sleep(delay / 1000.0)
            if SETTINGS.holds(operation):
                return self.held(environ, start_response, service, operation, started)
            if not operation.startswith(("Describe", "List", "Get", "GET ")):
                # AWS applies each change atomically; moto checks, then changes, and two
                # identical requests racing (a retry overtaking its slow first attempt)
                # would both pass its duplicate checks.
                with MUTATING:
                    result = self.app(environ, start_response)
            else:
                result = self.app(environ, start_response)
            # Authorize too: moto tags the rule it was about to add before refusing it as a
            # duplicate, leaving tags of a rule that never existed (AWS tags atomically).
            if service == "ec2" and operation.startswith(("Delete", "Release", "Revoke", "Authorize")):
                sweep_ec2_tags()
            return result
        finally:
            with LOCK:
                if arrived is not None:
                    arrived["end"] = time.time()
                else:
                    CALLS.append({"service": service, "operation": operation, "start": started, "end": time.time(), "fault": fault})

    def control(self, environ, path, method, body, start_response):
        headers = [("Content-Type", "application/json")]
        if path == "/_emulator/ready" and method == "GET":
            return reply(start_response, 200, headers, json.dumps({"ready": True, "emulator": "aws"}))
        if path == "/_emulator/reset" and method == "POST":
            # moto's own reset, through the same path as /moto-api/reset (which also clears
            # transitions, holds and the PostgreSQL databases).
            inner = dict(environ, PATH_INFO="/moto-api/reset", REQUEST_METHOD="POST")
            inner["wsgi.input"] = io.BytesIO(b"")
            inner["CONTENT_LENGTH"] = "0"
            list(self(inner, lambda status, headers, exc_info=None: (lambda data: None)))
            with LOCK:
                SETTINGS.update({"latency_ms": 0, "throttle_rate": 0, "error_rate": 0, "transition_ms": 300, "hold": [], "delay": {}, "seed": 0})
                CALLS.clear()
            return reply(start_response, 200, headers, "{}")
        if path == "/_emulator/faults":
            if method == "POST":
                with LOCK:
                    SETTINGS.update(json.loads(body or b"{}"))
            return reply(start_response, 200, headers, json.dumps(SETTINGS.as_dict()))
        if path == "/_emulator/held" and method == "GET":
            with LOCK:
                return reply(start_response, 200, headers, json.dumps(HELD))
        if path == "/_emulator/held/release" and method == "POST":
            with LOCK:
                SETTINGS.update({"hold": []})
            return reply(start_response, 200, headers, "{}")
        if path == "/_emulator/calls" and method == "GET":
            with LOCK:
                return reply(start_response, 200, headers, json.dumps(CALLS))
        if path == "/_emulator/calls/reset" and method == "POST":
            with LOCK:
                CALLS.clear()
            return reply(start_response, 200, headers, "{}")
        if path == "/_emulator/certificate" and method == "POST":
            # A certificate in ACM (what an HTTPS listener needs), as a test fixture.
            from moto.acm.models import acm_backends
            from moto.core import DEFAULT_ACCOUNT_ID

            req = json.loads(body or b"{}")
            backend = acm_backends[req.get("account", DEFAULT_ACCOUNT_ID)][req.get("region", "us-east-1")]
            arn = backend.request_certificate(req.get("domain", "example.com"), None, [], [])
            if req.get("arn"):
                # Held under a given ARN (golden plans name a fixed one).
                cert = backend._certificates.pop(arn)
                cert.arn = arn = req["arn"]
                backend._certificates[arn] = cert
            return reply(start_response, 200, headers, json.dumps({"arn": arn}))
        return reply(start_response, 404, headers, json.dumps({"message": f"no control endpoint {method} {path}"}))


def patch_dispatch():
    """moto finds the service a request is for by listing its own package directory, a
    stat of every one of its ~180 service folders, twice for each request (a third of an
    S3 request's time). The folders do not change while it runs: list them once."""
    import moto.backends

    modules = tuple(moto.backends.list_of_moto_modules())
    moto.backends.list_of_moto_modules = lambda: modules


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
            local_postgres.SERVER.stop()
            os._exit(0)

        threading.Thread(target=watch, daemon=True).start()
    local_postgres.SERVER.start()
    atexit.register(local_postgres.SERVER.stop)
    patch_dispatch()
    moto_services.patch_rds()
    moto_services.patch_ec2()
    moto_services.patch_elbv2()
    moto_services.patch_elasticache()
    moto_kafka.patch_kafka()
    app = Middleware(DomainDispatcherApplication(create_backend_app))
    # Loopback only: the emulator is for this machine's tests.
    run_simple(
        "127.0.0.1", args.port, app, threaded=True, use_reloader=False, use_debugger=False, request_handler=NoDelayHandler
    )


class NoDelayHandler(WSGIRequestHandler):
    """Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm
    holds the body until the client's delayed ACK, up to 40 ms a request."""

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


if __name__ == "__main__":
    main()
