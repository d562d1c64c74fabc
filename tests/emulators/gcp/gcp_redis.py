"""Memorystore for Redis as the GCP emulator serves it: instances and their long-running
operations. See cairn_gcp.py for the whole.

Metadata only: no Redis server stands behind an instance, its host routes nowhere. What an
instance takes from its network is decided as Memorystore decides it, because that is where
a provider goes wrong: PRIVATE_SERVICE_ACCESS needs the network's Service Networking
connection and takes a /29 block (/28 with read replicas) of one of the connection's
allocated ranges, clear of the other producers' addresses, and then holds the connection
and the range (Service Networking and Compute ask here before letting them go);
DIRECT_PEERING takes a block of the network's own private space. Rules are checked at the
call, as Memorystore checks them; the operation then settles over polls (or `op_ms`) and
carries the instance."""

import copy
import hashlib
import ipaddress
import re
import ssl
import time
import uuid

from gcp_contract import ApiError
from gcp_secrets import LABEL_KEY, LABEL_VALUE, project_number

INSTANCE_TYPE = "type.googleapis.com/google.cloud.redis.v1.Instance"
METADATA_TYPE = "type.googleapis.com/google.cloud.redis.v1.OperationMetadata"
EMPTY_TYPE = "type.googleapis.com/google.protobuf.Empty"
INSTANCE_ID = re.compile(r"[a-z]([a-z0-9-]{0,38}[a-z0-9])?")
VERSIONS = ["REDIS_3_2", "REDIS_4_0", "REDIS_5_0", "REDIS_6_X", "REDIS_7_0", "REDIS_7_2"]
# The redisConfigs the Instance document names, by the first version that takes them.
CONFIGS = {
    "maxmemory-policy": "REDIS_3_2", "notify-keyspace-events": "REDIS_3_2", "activedefrag": "REDIS_4_0",
    "lfu-decay-time": "REDIS_4_0", "lfu-log-factor": "REDIS_4_0", "maxmemory-gb": "REDIS_4_0",
    "stream-node-max-bytes": "REDIS_5_0", "stream-node-max-entries": "REDIS_5_0",
}
# What updateMask may name (what Terraform's google_redis_instance updates in place).
UPDATABLE = {
    "displayName", "labels", "memorySizeGb", "redisConfigs", "replicaCount", "readReplicasMode",
    "maintenancePolicy", "maintenanceVersion", "persistenceConfig", "authEnabled", "secondaryIpRange",
}
# Taken on create but not kept: `tags` is input only, `secondaryIpRange` is for updates.
NOT_KEPT = {"name", "tags", "secondaryIpRange"}
ENABLED, DISABLED = "READ_REPLICAS_ENABLED", "READ_REPLICAS_DISABLED"
PSA = "PRIVATE_SERVICE_ACCESS"
NO_PSA = (
    "Google private service access is not enabled. Enable private service access and try again. For "
    "information on enabling private service access, see "
    "https://cloud.google.com/service-infrastructure/docs/enabling-private-services-access"
)
# One self-signed CA stands for every instance's server CA (nothing serves TLS here).
SERVER_CA = """-----BEGIN CERTIFICATE-----
MIICHTCCAcOgAwIBAgIUX9UJzesIPKg76tLy3TPUv5BIPcswCgYIKoZIzj0EAwIw
ZDELMAkGA1UEBhMCVVMxFzAVBgNVBAoMDmNhaXJuIGVtdWxhdG9yMTwwOgYDVQQD
DDNHb29nbGUgQ2xvdWQgTWVtb3J5c3RvcmUgUmVkaXMgU2VydmVyIENBIChlbXVs
YXRlZCkwHhcNMjYxMjAyMTMxODMxWhcNMzYxMTI5MTMxODMxWjBkMQswCQYDVQQG
EwJVUzEXMBUGA1UECgwOY2Fpcm4gZW11bGF0b3IxPDA6BgNVBAMMM0dvb2dsZSBD
bG91ZCBNZW1vcnlzdG9yZSBSZWRpcyBTZXJ2ZXIgQ0EgKGVtdWxhdGVkKTBZMBMG
ByqGSM49AgEGCCqGSM49AwEHA0IABNAwKxFKLlU+2l2eRIjDw1F1TpQ2wAVeoC4G
X1gYLH92NhFAeyVkde4LVL63ShMdBEM4s/lSgWNev7hZoz7c512jUzBRMB0GA1Ud
DgQWBBTRpyAnBWJ5Jx7yX4cnWJrtkNxWzTAfBgNVHSMEGDAWgBTRpyAnBWJ5Jx7y
X4cnWJrtkNxWzTAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIEns
ag87gFxh8izmAb2W3dc3NFv10jIN6NtV39YGAiqtAiEAqyh1E5gF81oU/hDbWGpR
bFIbnSfH4TcifGUktoor7Ic=
-----END CERTIFICATE-----
"""
SERVER_CA_CERT = {
    "cert": SERVER_CA,
    "createTime": "2026-12-02T13:18:31Z",
    "expireTime": "2036-11-29T13:18:31Z",
    "serialNumber": "547105036036421729823675136638091322989904149963",
    "sha1Fingerprint": hashlib.sha1(ssl.PEM_cert_to_DER_cert(SERVER_CA)).hexdigest(),
}


def now_rfc3339():
    t = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t // 10**9)) + ".%09dZ" % (t % 10**9)


def invalid(message):
    return ApiError(400, message)


def precondition(message):
    return ApiError(400, message, status="FAILED_PRECONDITION")


def snake(name):
    return re.sub(r"[A-Z]", lambda m: "_" + m.group(0).lower(), name)


def camel(name):
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)


class Redis:
    def __init__(self, settings, compute, networking):
        self.settings, self.compute, self.networking = settings, compute, networking
        networking.producers.append(self.private_users)
        compute.in_use.append(self.network_user)
        self.reset()

    def reset(self):
        # instance name -> {"res", "network": (project, name), "blocks": [cidr], "auth"}
        self.instances = {}
        self.operations = {}  # operation name -> record, in start order

    def handle(self, method, params, query, body):
        collection, verb = method.id.split(".")[-2:]
        if collection == "operations" and verb in ("get", "list", "delete"):
            if verb == "list":
                return self.list_operations(params[0], params[1], query)
            return self.operation(f"projects/{params[0]}/locations/{params[1]}/operations/{params[2]}", verb)
        if collection == "instances" and verb == "create":
            return self.create(params[0], params[1], query, body, method.doc["schemas"]["Instance"]["properties"])
        if collection == "instances" and verb == "list":
            return self.list(params[0], params[1], query)
        if collection == "instances" and verb in ("get", "patch", "delete", "getAuthString"):
            inst = self.must_exist(f"projects/{params[0]}/locations/{params[1]}/instances/{params[2]}")
            if verb == "get":
                return copy.deepcopy(inst["res"])
            if verb == "getAuthString":
                # Not an error without AUTH: the document says the answer is then empty.
                return {"authString": inst["auth"]} if inst["res"].get("authEnabled") else {}
            return self.patch(inst, query, body) if verb == "patch" else self.delete(inst)
        raise ApiError(501, f"{method.id} is routed but not emulated yet.")

    def must_exist(self, name):
        inst = self.instances.get(name)
        if inst is None:
            raise ApiError(404, f"Resource '{name}' was not found")
        return inst

    # Instances.

    def create(self, project, region, query, body, props):
        instance_id = (query.get("instanceId") or [""])[0]
        if not instance_id:
            raise invalid("instance_id is required.")
        if not INSTANCE_ID.fullmatch(instance_id):
            raise invalid(
                f"Invalid instance_id '{instance_id}': it must be 1-40 lowercase letters, numbers and hyphens, "
                "start with a letter and end with a letter or a number."
            )
        name = f"projects/{project}/locations/{region}/instances/{instance_id}"
        if name in self.instances:
            raise ApiError(409, f"Resource '{name}' already exists")
        res = {k: copy.deepcopy(v) for k, v in body.items() if k not in NOT_KEPT and not props.get(k, {}).get("readOnly")}
        tier = res.get("tier", "TIER_UNSPECIFIED")
        if tier not in ("BASIC", "STANDARD_HA"):
            raise invalid("tier is required: BASIC or STANDARD_HA.")
        if "memorySizeGb" not in res:
            raise invalid("memory_size_gb is required.")
        version = res.get("redisVersion") or "REDIS_7_0"
        if version not in VERSIONS:
            raise invalid(f"Invalid redis_version '{version}': expected one of {', '.join(VERSIONS)}.")
        mode = res.get("connectMode", "CONNECT_MODE_UNSPECIFIED")
        mode = "DIRECT_PEERING" if mode == "CONNECT_MODE_UNSPECIFIED" else mode
        tls = res.get("transitEncryptionMode", "TRANSIT_ENCRYPTION_MODE_UNSPECIFIED")
        tls = "DISABLED" if tls == "TRANSIT_ENCRYPTION_MODE_UNSPECIFIED" else tls
        replicas = res.get("readReplicasMode", "READ_REPLICAS_MODE_UNSPECIFIED")
        replicas = DISABLED if replicas == "READ_REPLICAS_MODE_UNSPECIFIED" else replicas
        res.update({"tier": tier, "redisVersion": version, "connectMode": mode, "transitEncryptionMode": tls, "readReplicasMode": replicas})
        count = int(res.get("replicaCount", 0))
        if replicas == ENABLED:
            self.check_read_replicas(res)
            count = count or 2
        elif count:
            raise invalid('Setting replica count requires read-replicas-mode to be "READ_REPLICAS_ENABLED"')
        else:
            count = 1 if tier == "STANDARD_HA" else 0
        res["replicaCount"] = count
        self.check(res)
        location = res.get("locationId") or f"{region}-b"  # zones b and c: every region has them
        if not re.fullmatch(re.escape(region) + r"-[a-z]", location):
            raise invalid(f"Invalid location_id '{location}': it must be a zone of region {region}.")
        res["locationId"] = res["currentLocationId"] = location
        if tier == "STANDARD_HA":
            alternative = res.get("alternativeLocationId") or (f"{region}-c" if location != f"{region}-c" else f"{region}-b")
            if alternative == location or not re.fullmatch(re.escape(region) + r"-[a-z]", alternative):
                raise invalid(f"Invalid alternative_location_id '{alternative}': it must be another zone of region {region}.")
            res["alternativeLocationId"] = alternative
        elif res.get("alternativeLocationId"):
            raise invalid("alternative_location_id is only applicable to the STANDARD_HA tier.")
        network = self.authorized_network(project, res.get("authorizedNetwork"))
        res["authorizedNetwork"] = f"projects/{project}/global/networks/{network}"
        block = self.allocate(project, network, mode, 28 if replicas == ENABLED else 29, res.get("reservedIpRange"))
        res.update(
            {
                "name": name,
                "createTime": now_rfc3339(),
                "state": "CREATING",
                "reservedIpRange": block,
                "port": 6378 if tls == "SERVER_AUTHENTICATION" else 6379,
                "persistenceIamIdentity": f"serviceAccount:service-{project_number(project)}@cloud-redis.iam.gserviceaccount.com",
            }
        )
        res["persistenceConfig"] = self.persistence(res.get("persistenceConfig"), None)
        if "maintenancePolicy" in res:
            res["maintenancePolicy"] = self.maintenance(res["maintenancePolicy"], None)
        if tls == "SERVER_AUTHENTICATION":
            res["serverCaCerts"] = [dict(SERVER_CA_CERT)]
        inst = {"res": res, "network": (project, network), "blocks": [block], "auth": None}
        self.place(inst, res)
        self.instances[name] = inst

        def created():
            res["state"] = "READY"
            return self.response(res)

        return self.start(name, "create", created)

    def authorized_network(self, project, ref):
        """The name of the instance's network, `default` when none is named; it must be the
        instance's project's and exist."""
        ref = ref or f"projects/{project}/global/networks/default"
        p, _, network = self.compute.resolve(project, ref, "networks")
        if p not in (project, project_number(project)):
            raise invalid("authorized_network must exist in the same project as redis instance")
        if (project, "global", "networks", network) not in self.compute.objects:
            raise invalid(f"authorized_network '{ref}' was not found.")
        return network

    def check_read_replicas(self, res):
        if res["tier"] != "STANDARD_HA":
            raise invalid("Read replicas are only supported for the STANDARD_HA tier.")
        if int(res["memorySizeGb"]) < 5:
            raise invalid("Read replicas are only supported for instances of 5 GB or more.")

    def check(self, res):
        """The rules every instance keeps, created or patched."""
        res["memorySizeGb"] = size = int(res.get("memorySizeGb", 0))
        if not 1 <= size <= 300:
            raise invalid(f"memory_size_gb must be between 1 and 300, not {size}.")
        if res["readReplicasMode"] == ENABLED:
            self.check_read_replicas(res)
            res["replicaCount"] = int(res["replicaCount"])
            if not 1 <= res["replicaCount"] <= 5:
                raise invalid(f"replica_count must be between 1 and 5 with read replicas enabled, not {res['replicaCount']}.")
        labels = res.get("labels", {})
        if len(labels) > 64:
            raise invalid("An instance may carry at most 64 labels.")
        for k, v in labels.items():
            if not LABEL_KEY.fullmatch(k) or not LABEL_VALUE.fullmatch(v):
                raise invalid(
                    f"Invalid label {k}={v}: keys are 1-63 lowercase letters, digits, '_' or '-' starting with a letter; "
                    "values at most 63 of them."
                )
        version = res["redisVersion"]
        for k in res.get("redisConfigs", {}):
            if k not in CONFIGS or VERSIONS.index(CONFIGS[k]) > VERSIONS.index(version):
                raise invalid(f"Invalid redis config '{k}': it is not supported for {version}.")

    def persistence(self, given, before):
        """persistenceConfig with its defaults; fields left out keep their value."""
        config = dict(before or {"persistenceMode": "DISABLED"})
        config.update(given or {})
        config.pop("rdbNextSnapshotTime", None)
        if config["persistenceMode"] in ("PERSISTENCE_MODE_UNSPECIFIED", "DISABLED"):
            return {"persistenceMode": "DISABLED"}
        config.setdefault("rdbSnapshotPeriod", "TWENTY_FOUR_HOURS")
        if config["rdbSnapshotPeriod"] == "SNAPSHOT_PERIOD_UNSPECIFIED":
            config["rdbSnapshotPeriod"] = "TWENTY_FOUR_HOURS"
        config.setdefault("rdbSnapshotStartTime", now_rfc3339())
        config["rdbNextSnapshotTime"] = config["rdbSnapshotStartTime"]
        return config

    def maintenance(self, given, before):
        """maintenancePolicy: at most one weekly window (an hour long), its start a time of day."""
        if len(given.get("description", "")) > 512:
            raise invalid("maintenance_policy.description must be at most 512 characters.")
        windows = given.get("weeklyMaintenanceWindow", [])
        if len(windows) > 1:
            raise invalid("maintenance_policy may have at most one weekly_maintenance_window.")
        for w in windows:
            start = w.get("startTime", {})
            if w.get("day", "DAY_OF_WEEK_UNSPECIFIED") == "DAY_OF_WEEK_UNSPECIFIED" or not (
                0 <= int(start.get("hours", 0)) <= 23 and 0 <= int(start.get("minutes", 0)) <= 59
            ):
                raise invalid("weekly_maintenance_window needs a day and a start_time of hours 0-23 and minutes 0-59.")
            w["duration"] = "3600s"
        now = now_rfc3339()
        return dict(given, createTime=(before or {}).get("createTime", now), updateTime=now)

    # Addresses.

    def allocate(self, project, network, mode, prefix, given):
        """A free /prefix block for an instance: with PRIVATE_SERVICE_ACCESS, inside the
        allocated range `given` names (else any of the connection's); with DIRECT_PEERING,
        the CIDR `given` (else the first free one of the network's private space)."""
        taken = [ipaddress.ip_network(b) for i in self.instances.values() if i["network"] == (project, network) for b in i["blocks"]]
        if mode == PSA:
            connection = self.networking.connection(project, network)
            if connection is None:
                raise precondition(NO_PSA)
            ranges = connection["reservedPeeringRanges"]
            if given:
                if given not in ranges:
                    raise invalid(
                        f"Invalid reserved_ip_range '{given}': it is not an allocated IP range of the private service "
                        f"access connection of network projects/{project}/global/networks/{network}."
                    )
                ranges = [given]
            # Other producers (Cloud SQL) hold single addresses of the same ranges.
            taken += [ipaddress.ip_network(ip) for _, ip in self.networking.users(project, network)]
            for r in ranges:
                address = self.compute.objects[(project, "global", "globalAddresses", r)]
                space = ipaddress.ip_network(f"{address['address']}/{address['prefixLength']}")
                for block in space.subnets(new_prefix=prefix) if space.prefixlen <= prefix else []:
                    if not any(block.overlaps(t) for t in taken):
                        return str(block)
            raise invalid(f"No free /{prefix} block is left in the allocated IP ranges {ranges}.")
        key = (project, "global", "networks", network)
        taken += [ipaddress.ip_network(b["ipCidrRange"]) for _, b in self.compute.made_or_making("subnetworks", key)]
        taken += [r for _, r in self.compute.allocated_ranges(key)]
        if not given:
            return f"{self.compute.free_range(prefix, taken)}/{prefix}"
        try:
            block = ipaddress.IPv4Network(given, strict=True)
        except ValueError:
            raise invalid(f"Invalid IP range: {given}.")
        if block.prefixlen > prefix:
            need = " when read replica is enabled" if prefix == 28 else ""
            raise invalid(f"Invalid IP range: {given}. Require a minimum of /{prefix} block size{need}.")
        if not block.is_private or any(block.overlaps(t) for t in taken):
            raise invalid(f"Invalid IP range: {given}. It must be private and overlap no subnetwork or reserved range of the network.")
        return given

    def place(self, inst, res):
        """Host, read endpoint and nodes from the instance's blocks, tier and replicas."""
        first = ipaddress.ip_network(inst["blocks"][0]).network_address
        res["host"] = str(first + (4 if res["tier"] == "STANDARD_HA" else 3))
        res.pop("readEndpoint", None)
        res.pop("readEndpointPort", None)
        if res["readReplicasMode"] == ENABLED:
            res["readEndpoint"] = str(ipaddress.ip_network(inst["blocks"][-1]).network_address + 5)
            res["readEndpointPort"] = res["port"]
        zones = [res["locationId"], res.get("alternativeLocationId", res["locationId"])]
        res["nodes"] = [{"id": f"node-{i}", "zone": zones[i % 2]} for i in range(int(res.get("replicaCount", 0)) + 1)]
        if not res.get("replicaCount"):
            res.pop("replicaCount", None)  # 0, which proto3 JSON leaves out
        if res.get("authEnabled") is False:
            del res["authEnabled"]
        if res.get("authEnabled") and inst["auth"] is None:
            inst["auth"] = str(uuid.uuid4())
        elif not res.get("authEnabled"):
            inst["auth"] = None

    def private_users(self, project, network):
        """Service Networking asks: (instance, host) of the PRIVATE_SERVICE_ACCESS instances
        on a network."""
        return [
            (name, i["res"]["host"])
            for name, i in sorted(self.instances.items())
            if i["network"] == (project, network) and i["res"]["connectMode"] == PSA
        ]

    def network_user(self, key):
        """Compute asks before deleting a network: an instance on it, if any."""
        project, _, collection, network = key
        if collection != "networks":
            return None
        return next((name for name, i in sorted(self.instances.items()) if i["network"] == (project, network)), None)

    # Changes.

    def busy(self, inst, verb):
        """One operation at a time: anything but READY refuses another change."""
        if inst["res"]["state"] != "READY":
            raise precondition(f"Unable to {verb} due to ongoing operations. Please wait until instance is in READY state.")

    def patch(self, inst, query, body):
        # Query parameters go by the JSON name or the proto field name.
        mask = query.get("updateMask") or query.get("update_mask") or [""]
        paths = [p.strip() for p in mask[0].split(",") if p.strip()]
        if not paths:
            raise invalid("Update mask is empty")
        fields = []
        for path in paths:
            field = camel(path)
            if field not in UPDATABLE:
                raise invalid(f"Invalid option '{snake(path)}': '{snake(path)}' cannot be updated on existing instances.")
            fields.append(field)
        self.busy(inst, "update")
        res = inst["res"]
        new = copy.deepcopy(res)
        for field in fields:
            if field == "persistenceConfig":
                new[field] = self.persistence(body.get(field), res[field])
            elif field == "maintenancePolicy" and body.get(field):
                new[field] = self.maintenance(copy.deepcopy(body[field]), res.get(field))
            elif field in body and body[field] not in ({}, None):
                new[field] = copy.deepcopy(body[field])
            else:
                new.pop(field, None)
        blocks = list(inst["blocks"])
        was = res["readReplicasMode"]
        if "readReplicasMode" in fields:
            want = new.get("readReplicasMode", "READ_REPLICAS_MODE_UNSPECIFIED")
            new["readReplicasMode"] = want = DISABLED if want == "READ_REPLICAS_MODE_UNSPECIFIED" else want
            if was == ENABLED and want == DISABLED:
                raise invalid("Read replicas cannot be disabled once they are enabled.")
            if was == DISABLED and want == ENABLED:
                self.check_read_replicas(new)
                secondary = new.pop("secondaryIpRange", None)
                if "secondaryIpRange" not in fields or not secondary:
                    raise invalid("secondary_ip_range is required to enable read replicas on an existing instance.")
                project, network = inst["network"]
                given = None if secondary == "auto" else secondary
                blocks.append(self.allocate(project, network, res["connectMode"], 28, given))
                new["secondaryIpRange"] = blocks[-1]
                if "replicaCount" not in fields:
                    new["replicaCount"] = 2
        elif "secondaryIpRange" in fields:
            raise invalid("secondary_ip_range can only be given when enabling read replicas.")
        if "replicaCount" in fields and new["readReplicasMode"] != ENABLED:
            raise precondition("Read Replicas mode must be enabled on the instance in order to update replica count.")
        new.setdefault("replicaCount", 1 if new["tier"] == "STANDARD_HA" else 0)
        self.check(new)
        res["state"] = new["state"] = "UPDATING"
        inst["blocks"] = blocks

        def updated():
            self.place(inst, new)
            new["state"] = "READY"
            inst["res"] = new
            return self.response(new)

        return self.start(res["name"], "update", updated)

    def delete(self, inst):
        self.busy(inst, "delete")
        res = inst["res"]
        res["state"] = "DELETING"

        def deleted():
            self.instances.pop(res["name"], None)
            return {"@type": EMPTY_TYPE}

        return self.start(res["name"], "delete", deleted)

    @staticmethod
    def response(res):
        return {"@type": INSTANCE_TYPE, **copy.deepcopy(res)}

    # Lists: `pageToken` is the offset of the page's first item.

    @staticmethod
    def page(items, query, field, default):
        try:
            size = int((query.get("pageSize") or ["0"])[0] or 0)
            start = int((query.get("pageToken") or ["0"])[0] or 0)
        except ValueError:
            raise invalid("Invalid page_size or page_token.")
        size = size if size > 0 else default
        # proto3 JSON leaves an empty list out: nothing to list answers {}.
        out = {field: items[start : start + size]} if items[start : start + size] else {}
        if start + size < len(items):
            out["nextPageToken"] = str(start + size)
        return out

    def list(self, project, location, query):
        # `-` lists every location of the project, as the document says.
        found = [
            copy.deepcopy(i["res"])
            for name, i in sorted(self.instances.items())
            if name.split("/")[1] == project and location in ("-", name.split("/")[3])
        ]
        return self.page(found, query, "instances", 1000)

    # Operations: `done` after `op_polls` polls of operations.get, or after `op_ms`.

    def start(self, target, verb, effect):
        parent = target.split("/instances/")[0]
        name = f"{parent}/operations/operation-{int(time.time() * 1000)}-{uuid.uuid4().hex[:13]}-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:8]}"
        metadata = {"@type": METADATA_TYPE, "createTime": now_rfc3339(), "target": target, "verb": verb, "apiVersion": "v1"}
        record = {"op": {"name": name, "metadata": metadata}, "effect": effect, "polls": 0, "started": time.time()}
        self.operations[name] = record
        if self.settings.op_polls == 0:
            self.finish(record)
        return copy.deepcopy(record["op"])

    def finish(self, record):
        op = record["op"]
        op["response"] = record["effect"]()
        op["metadata"]["endTime"] = now_rfc3339()
        op["done"] = True

    def settle(self):
        if self.settings.op_ms <= 0:
            return
        now = time.time()
        for record in list(self.operations.values()):
            if not record["op"].get("done") and now - record["started"] >= self.settings.op_ms / 1000.0:
                self.finish(record)

    def operation(self, name, verb):
        record = self.operations.get(name)
        if record is None:
            raise ApiError(404, f"Resource '{name}' was not found")
        if verb == "delete":
            del self.operations[name]
            return {}
        if not record["op"].get("done"):
            record["polls"] += 1
            if record["polls"] >= self.settings.op_polls:
                self.finish(record)
        # proto3 JSON leaves `done: false` out.
        return copy.deepcopy(record["op"])

    def list_operations(self, project, location, query):
        if (query.get("filter") or [""])[0]:
            raise ApiError(501, "operations.list with a filter is not emulated.")
        found = [
            copy.deepcopy(r["op"])
            for name, r in reversed(list(self.operations.items()))
            if name.split("/")[1] == project and location in ("-", name.split("/")[3])
        ]
        return self.page(found, query, "operations", 100)
