"""Service Networking as the GCP emulator serves it: private services access connections
(the VPC peering Cloud SQL's private IP and Memorystore's PRIVATE_SERVICE_ACCESS need) and
their long-running operations. See cairn_gcp.py for the whole.

The request is checked at once for its shape; whatever depends on other resources (the
network, its allocated ranges, an existing connection, producers still using it) is decided
when the operation finishes and, as on GCP, fails the *operation* (`error.code` 9
FAILED_PRECONDITION, 5 NOT_FOUND, 3 INVALID_ARGUMENT) rather than the call. Networks are
named `projects/{project number}/global/networks/{name}` in answers, as GCP names them;
requests may give the project's id or number."""

import ipaddress
import re
import time
import uuid

from gcp_contract import ApiError
from gcp_secrets import project_number

CONNECTION_TYPE = "type.googleapis.com/google.cloud.servicenetworking.v1.Connection"
EMPTY_TYPE = "type.googleapis.com/google.protobuf.Empty"
NETWORK = re.compile(r"projects/([^/]+)/global/networks/([^/]+)")
PRODUCERS_BUSY = (
    "Failed to delete connection; Producer services (e.g. CloudSQL, Cloud Memstore, etc.) "
    "are still using this connection."
)


class Failed(Exception):
    """The operation's error: a google.rpc.Status code and message."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message


class ServiceNetworking:
    def __init__(self, settings, compute):
        self.settings, self.compute = settings, compute
        # Producer services (Cloud SQL, Memorystore) tell which of their resources use a network:
        # callables (project, network) -> [(resource path, private IP)].
        self.producers = []
        compute.in_use.append(self.address_user)
        self.reset()

    def reset(self):
        self.connections = {}  # (project id, network name, service) -> connection
        self.operations = {}  # operation name -> record

    def handle(self, method, params, query, body):
        verb = method.id.split(".")[-1]
        if method.id == "servicenetworking.operations.get":
            return self.operation("operations/" + params[0])
        if ".connections." not in method.id:
            raise ApiError(501, f"{method.id} is routed but not emulated yet.")
        service = params[0]
        if verb == "create":
            return self.create(service, body)
        if verb == "list":
            return self.list(service, query)
        if verb == "patch":
            return self.patch(service, params[1], query, body)
        if verb == "deleteConnection":
            return self.delete(service, params[1], body)
        raise ApiError(501, f"{method.id} is routed but not emulated yet.")

    # Names.

    def network(self, ref, field):
        """(project id, network name) of a `projects/P/global/networks/N` reference, P an
        id or a number."""
        m = NETWORK.fullmatch(ref or "")
        if not m:
            raise ApiError(400, f"Invalid {field} '{ref}': expected projects/{{project number}}/global/networks/{{network}}.")
        given, name = m.groups()
        for p, _, collection, _ in self.compute.objects:
            if collection == "networks" and given in (p, project_number(p)):
                return p, name
        return given, name

    def shown(self, connection):
        return {k: v for k, v in connection.items() if k != "key"}

    @staticmethod
    def peering(service):
        return service.replace(".", "-")

    def connection(self, project, network, service="servicenetworking.googleapis.com"):
        """The connection of a network to a service, None when there is none (producers ask)."""
        return self.connections.get((project, network, service))

    def address_user(self, key):
        """Compute asks before deleting a global address: the peering using it, if any."""
        project, _, collection, name = key
        if collection != "globalAddresses":
            return None
        for (p, network, _), c in self.connections.items():
            if p == project and name in c["reservedPeeringRanges"]:
                return f"projects/{p}/global/networks/{network}/peerings/{c['peering']}"
        return None

    # Methods.

    def create(self, service, body):
        project, network = self.network(body.get("network"), "network")
        ranges = list(body.get("reservedPeeringRanges") or [])

        def effect():
            self.must_have_network(project, network)
            key = (project, network, service)
            existing = self.connections.get(key)
            if existing is not None:
                if ranges and sorted(ranges) != sorted(existing["reservedPeeringRanges"]):
                    raise Failed(9, "Cannot modify allocated ranges in CreateConnection. Please use UpdateConnection.")
                return self.shown(existing)
            if not ranges:
                raise Failed(3, "A new connection needs at least one allocated IP range in reservedPeeringRanges.")
            self.check_ranges(project, network, ranges)
            connection = {
                "key": key,
                "network": f"projects/{project_number(project)}/global/networks/{network}",
                "reservedPeeringRanges": ranges,
                "peering": self.peering(service),
                "service": f"services/{service}",
            }
            self.connections[key] = connection
            self.compute.objects[(project, "global", "networks", network)].setdefault("peerings", []).append(
                {
                    "name": connection["peering"],
                    "network": f"https://www.googleapis.com/compute/v1/projects/{project_number(project)}-tp/global/networks/servicenetworking",
                    "state": "ACTIVE",
                    "stateDetails": "Connected.",
                    "autoCreateRoutes": True,
                    "exchangeSubnetRoutes": True,
                    "exportCustomRoutes": False,
                    "importCustomRoutes": False,
                    "stackType": "IPV4_ONLY",
                }
            )
            return self.shown(connection)

        return self.start(project, effect, CONNECTION_TYPE)

    def list(self, service, query):
        ref = (query.get("network") or [""])[0]
        if not ref:
            raise ApiError(400, "network is required: projects/{project number}/global/networks/{network}.")
        project, network = self.network(ref, "network")
        found = [
            self.shown(c)
            for (p, n, s), c in sorted(self.connections.items())
            if (p, n) == (project, network) and service in ("-", s)
        ]
        # proto3 JSON leaves an empty list out: no connection answers {}.
        return {"connections": found} if found else {}

    def patch(self, service, name, query, body):
        self.must_name_peering(service, name)
        mask = [m for m in (query.get("updateMask") or [""])[0].split(",") if m]
        for field in mask:
            if field not in ("*", "reservedPeeringRanges", "reserved_peering_ranges"):
                raise ApiError(400, f"Invalid update mask '{field}': only reservedPeeringRanges can be updated.")
        force = (query.get("force") or ["false"])[0] == "true"
        project, network = self.network(body.get("network"), "network")
        ranges = list(body.get("reservedPeeringRanges") or [])

        def effect():
            self.must_have_network(project, network)
            connection = self.must_have_connection(project, network, service)
            if not ranges:
                raise Failed(3, "A connection needs at least one allocated IP range in reservedPeeringRanges.")
            self.check_ranges(project, network, ranges)
            removed = set(connection["reservedPeeringRanges"]) - set(ranges)
            if removed and not force:
                raise Failed(9, f"Removing allocated ranges {sorted(removed)} from a connection requires force=true.")
            for r in sorted(removed):
                for user, ip in self.users(project, network):
                    if self.holds(project, r, ip):
                        raise Failed(9, f"Cannot remove allocated range '{r}': producer service {user} still uses {ip} in it.")
            connection["reservedPeeringRanges"] = ranges
            return self.shown(connection)

        return self.start(project, effect, CONNECTION_TYPE)

    def delete(self, service, name, body):
        self.must_name_peering(service, name)
        project, network = self.network(body.get("consumerNetwork"), "consumerNetwork")

        def effect():
            connection = self.must_have_connection(project, network, service)
            if self.users(project, network):
                raise Failed(9, PRODUCERS_BUSY)
            del self.connections[connection["key"]]
            net = self.compute.objects.get((project, "global", "networks", network))
            if net is not None:
                net["peerings"] = [p for p in net.get("peerings", []) if p["name"] != connection["peering"]]
            return {}

        return self.start(project, effect, EMPTY_TYPE)

    # Rules.

    def must_name_peering(self, service, name):
        if name not in ("-", self.peering(service)):
            raise ApiError(404, f"Connection 'services/{service}/connections/{name}' not found: a connection is named by its peering, {self.peering(service)}.")

    def must_have_network(self, project, network):
        if (project, "global", "networks", network) not in self.compute.objects:
            raise Failed(5, f"Network 'projects/{project_number(project)}/global/networks/{network}' not found.")

    def must_have_connection(self, project, network, service):
        connection = self.connections.get((project, network, service))
        if connection is None:
            raise Failed(5, f"No connection to services/{service} from network 'projects/{project_number(project)}/global/networks/{network}'.")
        return connection

    def check_ranges(self, project, network, ranges):
        """Each range a global address of the network with purpose VPC_PEERING (so INTERNAL)."""
        want = self.compute.network_key(project, f"projects/{project}/global/networks/{network}")
        for r in ranges:
            address = self.compute.objects.get((project, "global", "globalAddresses", r))
            if (
                address is None
                or address.get("purpose") != "VPC_PEERING"
                or self.compute.network_key(project, address.get("network", "")) != want
            ):
                raise Failed(9, f"Allocated IP range '{r}' not found in network.")

    def users(self, project, network):
        return [u for hook in self.producers for u in hook(project, network)]

    def holds(self, project, range_name, ip):
        address = self.compute.objects.get((project, "global", "globalAddresses", range_name))
        if address is None:
            return False
        return ipaddress.ip_address(ip) in ipaddress.ip_network(f"{address['address']}/{address['prefixLength']}")

    # Operations: `done` after `op_polls` polls of operations.get, or after `op_ms`.

    def start(self, project, effect, response_type):
        name = f"operations/pssn.p24-{project_number(project)}-{uuid.uuid4()}"
        record = {"op": {"name": name}, "effect": effect, "type": response_type, "polls": 0, "started": time.time()}
        self.operations[name] = record
        if self.settings.op_polls == 0:
            self.finish(record)
        return dict(record["op"])

    def finish(self, record):
        op = record["op"]
        try:
            op["response"] = {"@type": record["type"], **record["effect"]()}
        except Failed as e:
            op["error"] = {"code": e.code, "message": e.message}
        op["done"] = True

    def settle(self):
        if self.settings.op_ms <= 0:
            return
        now = time.time()
        for record in self.operations.values():
            if not record["op"].get("done") and now - record["started"] >= self.settings.op_ms / 1000.0:
                self.finish(record)

    def operation(self, name):
        record = self.operations.get(name)
        if record is None:
            raise ApiError(404, f"Operation '{name}' not found.")
        if not record["op"].get("done"):
            record["polls"] += 1
            if record["polls"] >= self.settings.op_polls:
                self.finish(record)
        # proto3 JSON leaves `done: false` out: a running operation is just its name.
        return dict(record["op"])
