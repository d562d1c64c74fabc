"""Managed Service for Apache Kafka as the GCP emulator serves it: clusters with their
long-running operations, and their topics. See cairn_gcp.py for the whole.

Metadata only: no broker stands behind a cluster, its bootstrap address resolves nowhere.
What a provider can get wrong is decided as the service decides it: capacity (3 vCPUs or
more, 1-8 GiB per vCPU, brokers of at most 15 vCPUs that are never removed), the subnets
(existing in Compute, in the cluster's region, one per network, answered with the project's
number), one change at a time, `requestId` idempotency. Cluster changes are operations that
settle over polls (or `op_ms`), as Memorystore's do; topics are synchronous and refused in
Kafka's own words (unknown configs, bad values, fewer partitions, more replicas than
brokers), since the service hands them to Kafka."""

import copy
import ipaddress
import math
import re
import time
import uuid

from gcp_contract import ApiError
from gcp_redis import Redis, camel, invalid, now_rfc3339, precondition, snake
from gcp_secrets import LABEL_KEY, LABEL_VALUE, project_number
from gcp_servicenetworking import Failed

CLUSTER_TYPE = "type.googleapis.com/google.cloud.managedkafka.v1.Cluster"
METADATA_TYPE = "type.googleapis.com/google.cloud.managedkafka.v1.OperationMetadata"
EMPTY_TYPE = "type.googleapis.com/google.protobuf.Empty"
CLUSTER_ID = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")
SUBNET = re.compile(r"projects/([^/]+)/regions/([^/]+)/subnetworks/([^/]+)")
KMS_KEY = re.compile(r"projects/([^/]+)/locations/([^/]+)/(keyRings/[^/]+/cryptoKeys/[^/]+)")
CA_POOL = re.compile(r"projects/([^/]+)/(locations/[^/]+/caPools/[^/]+)")
TOPIC_NAME = re.compile(r"[a-zA-Z0-9._-]+")
GIB = 1024**3
KAFKA_VERSIONS = ["3.7.x"]  # the document's "Supported values"
BROKER_VCPUS = 15  # brokers grow to 15 vCPUs, then the service adds brokers
# What updateMask may name (first segments); kmsKey is Immutable, the rest Output only.
UPDATABLE = {"capacityConfig", "brokerCapacityConfig", "gcpConfig", "rebalanceConfig", "labels", "tlsConfig", "kafkaVersion"}
# Kept but not answered: the per-broker disk (a GET leaves it out; the FULL view answers it
# as effectiveCapacityConfig). updateOptions says how to apply an update and is not kept.
HIDDEN = {"brokerCapacityConfig"}
ACTIVE_STATES = ("ACTIVE", "UPDATING")  # Kafka itself is serving: topics can be managed

# Kafka 3.7's topic configs: (type, rule) as its ConfigDef checks them.
LONG, INT, DOUBLE, BOOLEAN, STRING, LIST = "LONG", "INT", "DOUBLE", "BOOLEAN", "STRING", "LIST"
TOPIC_CONFIGS = {
    "cleanup.policy": (LIST, ["compact", "delete"]),
    "compression.type": (STRING, ["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"]),
    "delete.retention.ms": (LONG, 0),
    "file.delete.delay.ms": (LONG, 0),
    "flush.messages": (LONG, 1),
    "flush.ms": (LONG, 0),
    "follower.replication.throttled.replicas": (LIST, None),
    "index.interval.bytes": (INT, 0),
    "leader.replication.throttled.replicas": (LIST, None),
    "local.retention.bytes": (LONG, -2),
    "local.retention.ms": (LONG, -2),
    "max.compaction.lag.ms": (LONG, 1),
    "max.message.bytes": (INT, 0),
    "message.downconversion.enable": (BOOLEAN, None),
    "message.format.version": (STRING, None),
    "message.timestamp.after.max.ms": (LONG, 0),
    "message.timestamp.before.max.ms": (LONG, 0),
    "message.timestamp.difference.max.ms": (LONG, 0),
    "message.timestamp.type": (STRING, ["CreateTime", "LogAppendTime"]),
    "min.cleanable.dirty.ratio": (DOUBLE, (0, 1)),
    "min.compaction.lag.ms": (LONG, 0),
    "min.insync.replicas": (INT, 1),
    "preallocate": (BOOLEAN, None),
    "remote.storage.enable": (BOOLEAN, None),
    "retention.bytes": (LONG, None),
    "retention.ms": (LONG, -1),
    "segment.bytes": (INT, 14),
    "segment.index.bytes": (INT, 4),
    "segment.jitter.ms": (LONG, 0),
    "segment.ms": (LONG, 1),
    "unclean.leader.election.enable": (BOOLEAN, None),
}
BOUNDS = {INT: (-(2**31), 2**31 - 1), LONG: (-(2**63), 2**63 - 1)}


def param(query, name):
    """A query parameter by its JSON name or its proto field name, None when absent."""
    return (query.get(name) or query.get(snake(name)) or [None])[0]


def whole(value, field):
    """An int64 (a JSON string or number) or int32 field as an int."""
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        raise invalid(f"Invalid value at '{field}': {value!r} is not an integer.")


class Kafka:
    def __init__(self, settings, compute):
        self.settings, self.compute = settings, compute
        compute.in_use.append(self.subnet_user)
        self.reset()

    def reset(self):
        # cluster name -> {"res", "brokers": count, "subnets": [Compute keys], "topics": {id: topic}}
        self.clusters = {}
        self.operations = {}  # operation name -> record, in start order
        self.requests = {}  # (project, requestId) -> operation name

    def handle(self, method, params, query, body):
        collection, verb = method.id.split(".")[-2:]
        schemas = method.doc["schemas"]
        if collection == "operations" and verb in ("get", "list", "delete"):
            if verb == "list":
                return self.list_operations(params[0], params[1], query)
            return self.operation(f"projects/{params[0]}/locations/{params[1]}/operations/{params[2]}", verb)
        if collection == "clusters":
            project, location = params[0], params[1]
            if verb == "list":
                return self.list(project, location, query)
            if verb == "create":
                return self.idempotent(project, query, lambda: self.create(project, location, query, body))
            name = f"projects/{project}/locations/{location}/clusters/{params[2]}"
            if verb == "get":
                return self.view(self.must_exist(name), param(query, "view"))
            if verb == "patch":
                return self.idempotent(project, query, lambda: self.patch(self.must_exist(name), query, body, schemas))
            if verb == "delete":
                return self.idempotent(project, query, lambda: self.delete(self.must_exist(name)))
        if collection == "topics":
            return self.topic_call(verb, params, query, body)
        raise ApiError(501, f"{method.id} is routed but not emulated yet.")

    def must_exist(self, name):
        cluster = self.clusters.get(name)
        if cluster is None:
            raise ApiError(404, f"Resource '{name}' was not found")
        return cluster

    def idempotent(self, project, query, act):
        """A change under a `requestId`: a UUID other than the zero one; a repeated one answers
        the first request's operation and does nothing (the document's idempotency)."""
        request_id = param(query, "requestId")
        if request_id is None:
            return act()
        try:
            valid = uuid.UUID(request_id).int != 0
        except ValueError:
            valid = False
        if not valid:
            raise invalid(f"Invalid request_id '{request_id}': it must be a valid UUID other than the zero UUID.")
        earlier = self.requests.get((project, request_id))
        if earlier in self.operations:
            return copy.deepcopy(self.operations[earlier]["op"])
        op = act()
        self.requests[(project, request_id)] = op["name"]
        return op

    # Clusters.

    def create(self, project, location, query, body):
        cluster_id = param(query, "clusterId") or ""
        if not cluster_id:
            raise invalid("cluster_id is required.")
        if not CLUSTER_ID.fullmatch(cluster_id):
            raise invalid(
                f"Invalid cluster_id '{cluster_id}': it must be 1-63 characters long and match the regular expression "
                "`[a-z]([-a-z0-9]*[a-z0-9])?`."
            )
        name = f"projects/{project}/locations/{location}/clusters/{cluster_id}"
        if name in self.clusters:
            raise ApiError(409, f"Resource '{name}' already exists")
        res = {k: copy.deepcopy(v) for k, v in body.items() if k in UPDATABLE}
        res.setdefault("kafkaVersion", KAFKA_VERSIONS[0])
        brokers, subnets = self.check(project, location, res, 0)
        now = now_rfc3339()
        res.update({"name": name, "createTime": now, "updateTime": now, "state": "CREATING", "satisfiesPzi": False, "satisfiesPzs": False})
        self.clusters[name] = {"res": res, "brokers": brokers, "subnets": subnets, "topics": {}}

        def created():
            res["state"] = "ACTIVE"
            # The document's legacy form, without a port: clients pick their listener's.
            res["bootstrapAddress"] = f"bootstrap.{cluster_id}.{location}.managedkafka.{project}.cloud.goog"
            return self.response(res)

        return self.start(name, "create", created)

    def check(self, project, location, res, brokers):
        """The rules every cluster keeps, created or updated (`brokers`: its brokers now):
        (its brokers then, the subnets' Compute keys)."""
        capacity = res.get("capacityConfig")
        if not capacity:
            raise invalid("capacity_config is required.")
        vcpus, memory = whole(capacity.get("vcpuCount"), "capacity_config.vcpu_count"), whole(capacity.get("memoryBytes"), "capacity_config.memory_bytes")
        if vcpus < 3:
            raise invalid(f"Invalid capacity_config.vcpu_count {vcpus}: the minimum is 3.")
        if not vcpus * GIB <= memory <= 8 * vcpus * GIB:
            raise invalid(
                f"Invalid capacity_config.memory_bytes {memory}: the memory must be between 1 GiB and 8 GiB per vCPU "
                f"({vcpus * GIB} to {8 * vcpus * GIB} bytes for {vcpus} vCPUs)."
            )
        res["capacityConfig"] = {"vcpuCount": str(vcpus), "memoryBytes": str(memory)}
        grown = max(brokers, 3, math.ceil(vcpus / BROKER_VCPUS))
        if vcpus < grown:
            raise invalid(f"Invalid capacity_config.vcpu_count {vcpus}: the cluster has {grown} brokers and each needs at least 1 vCPU.")
        disk = (res.get("brokerCapacityConfig") or {}).get("diskSizeGib")
        if disk is not None and whole(disk, "broker_capacity_config.disk_size_gib") < 100:
            raise invalid(f"Invalid broker_capacity_config.disk_size_gib {disk}: the minimum is 100 GiB.")
        gcp = res.get("gcpConfig") or {}
        networks = (gcp.get("accessConfig") or {}).get("networkConfigs") or []
        if not networks:
            raise invalid("gcp_config.access_config.network_configs is required: at least 1 network is required.")
        if len(networks) > 10:
            raise invalid(f"Invalid gcp_config.access_config.network_configs: at most 10 networks can be specified, not {len(networks)}.")
        subnets, seen = [], set()
        for i, config in enumerate(networks):
            key = self.subnet(config.get("subnet", ""), location, f"gcp_config.access_config.network_configs[{i}].subnet")
            network = self.compute.network_key(key[0], self.compute.objects[key]["network"])
            if network in seen:
                raise invalid("Multiple subnets from the same parent network must not be specified.")
            seen.add(network)
            subnets.append(key)
            config["subnet"] = f"projects/{project_number(key[0])}/{key[1]}/subnetworks/{key[3]}"
        public = gcp["accessConfig"].get("publicClusterConfig")
        if public is not None:
            self.check_public(public.get("allowedSourceIpRanges") or [])
        if gcp.get("kmsKey"):
            m = KMS_KEY.fullmatch(gcp["kmsKey"])
            if not m or m.group(2) != location:
                raise invalid(
                    f"Invalid gcp_config.kms_key '{gcp['kmsKey']}': it must be "
                    f"projects/{{project}}/locations/{location}/keyRings/{{key_ring}}/cryptoKeys/{{crypto_key}}, in the cluster's region."
                )
            gcp["kmsKey"] = f"projects/{project_number(self.project_id(m.group(1)))}/locations/{location}/{m.group(3)}"
        pools = ((res.get("tlsConfig") or {}).get("trustConfig") or {}).get("casConfigs") or []
        if len(pools) > 10:
            raise invalid(f"Invalid tls_config.trust_config.cas_configs: at most 10 CA pools can be specified, not {len(pools)}.")
        for pool in pools:
            m = CA_POOL.fullmatch(pool.get("caPool", ""))
            if not m:
                raise invalid(f"Invalid ca_pool '{pool.get('caPool', '')}': expected projects/{{project}}/locations/{{location}}/caPools/{{ca_pool}}.")
            pool["caPool"] = f"projects/{project_number(self.project_id(m.group(1)))}/{m.group(2)}"
        if "rebalanceConfig" in res:
            mode = res["rebalanceConfig"].get("mode", "MODE_UNSPECIFIED")
            res["rebalanceConfig"] = {"mode": "NO_REBALANCE" if mode == "MODE_UNSPECIFIED" else mode}
        if res.get("kafkaVersion") not in KAFKA_VERSIONS:
            raise invalid(f"Invalid kafka_version '{res.get('kafkaVersion', '')}': supported values: {', '.join(KAFKA_VERSIONS)}.")
        labels = res.get("labels", {})
        if len(labels) > 64:
            raise invalid("A cluster may carry at most 64 labels.")
        for k, v in labels.items():
            if not LABEL_KEY.fullmatch(k) or not LABEL_VALUE.fullmatch(v):
                raise invalid(
                    f"Invalid label {k}={v}: keys are 1-63 lowercase letters, digits, '_' or '-' starting with a letter; "
                    "values at most 63 of them."
                )
        return grown, subnets

    @staticmethod
    def broker_downscale(before, after, brokers, grown, options):
        """The document's UpdateOptions rule, which fails the update's operation: an upscale
        that leaves each broker less than 90% of its vCPUs or memory, unless allowed."""
        old = [int(before["vcpuCount"]), int(before["memoryBytes"])]
        new = [int(after["vcpuCount"]), int(after["memoryBytes"])]
        if (new[0] <= old[0] and new[1] <= old[1]) or (options or {}).get("allowBrokerDownscaleOnClusterUpscale"):
            return None
        if any(n / grown < 0.9 * o / brokers for n, o in zip(new, old)):
            return (
                f"The update would add brokers ({brokers} -> {grown}) and leave each with less than 90% of its current "
                "vCPUs or memory. Set update_options.allow_broker_downscale_on_cluster_upscale to allow it."
            )
        return None

    @staticmethod
    def check_public(ranges):
        if not ranges:
            raise invalid("public_cluster_config.allowed_source_ip_ranges is required when public_cluster_config is given.")
        if len(ranges) > 500:
            raise invalid(f"Invalid public_cluster_config.allowed_source_ip_ranges: at most 500 ranges, not {len(ranges)}.")
        for r in ranges:
            try:
                net = ipaddress.IPv4Network(r, strict=True)
            except ValueError:
                raise invalid(f"Invalid allowed_source_ip_range '{r}': expected an IPv4 range in CIDR notation.")
            if net.prefixlen < 16:
                raise invalid(f"Invalid allowed_source_ip_range '{r}': no range may be larger than a /16.")

    def project_id(self, given):
        """A project named by id or number, as Compute keys it (by id)."""
        return next((p for p, *_ in self.compute.objects if given in (p, project_number(p))), given)

    def subnet(self, ref, location, field):
        """The Compute key of a network config's subnet: well formed, in the cluster's region
        (the project may differ), existing."""
        m = SUBNET.fullmatch(ref)
        if not m:
            raise invalid(f"Invalid {field} '{ref}': expected projects/{{project}}/regions/{{region}}/subnetworks/{{subnet}}.")
        given, region, name = m.groups()
        if region != location:
            raise invalid(f"Invalid {field} '{ref}': the subnet must be located in the same region as the Kafka cluster ({location}).")
        key = (self.project_id(given), f"regions/{region}", "subnetworks", name)
        if key not in self.compute.objects:
            raise invalid(f"Invalid {field}: subnetwork '{ref}' was not found.")
        return key

    def subnet_user(self, key):
        """Compute asks before deleting a subnetwork: a cluster with endpoints in it, if any."""
        return next((name for name, c in sorted(self.clusters.items()) if key in c["subnets"]), None)

    def busy(self, cluster, verb):
        """One operation at a time: anything but ACTIVE refuses another change."""
        res = cluster["res"]
        if res["state"] != "ACTIVE":
            raise precondition(
                f"Unable to {verb} cluster '{res['name']}' while it is {res['state']}: an operation is in progress. "
                "Please wait until the cluster is ACTIVE."
            )

    def patch(self, cluster, query, body, schemas):
        paths = [camel(p.strip()) for p in (param(query, "updateMask") or "").split(",") if p.strip()]
        if not paths:
            raise invalid("update_mask is required.")
        if paths == ["*"]:
            paths = sorted(UPDATABLE)
        for path in paths:
            if not known_path(schemas, "Cluster", path):
                raise invalid(f"Invalid update_mask path '{snake(path)}': Cluster has no such field.")
            if path.split(".")[0] not in UPDATABLE | {"updateOptions"}:
                raise invalid(f"Invalid update_mask path '{snake(path)}': the field cannot be updated.")
        self.busy(cluster, "update")
        res = cluster["res"]
        new = copy.deepcopy(res)
        for path in paths:
            if not path.startswith("updateOptions"):
                apply(new, body, path)
        project, location = res["name"].split("/")[1], res["name"].split("/")[3]
        brokers, subnets = self.check(project, location, new, cluster["brokers"])
        if (new.get("gcpConfig") or {}).get("kmsKey") != res["gcpConfig"].get("kmsKey"):
            raise invalid("gcp_config.kms_key is immutable: the key of an existing cluster cannot be changed.")
        refused = self.broker_downscale(res["capacityConfig"], new["capacityConfig"], cluster["brokers"], brokers, body.get("updateOptions"))
        res["state"] = new["state"] = "UPDATING"

        def updated():
            if refused:
                res["state"] = "ACTIVE"
                raise Failed(9, refused)
            new["state"], new["updateTime"] = "ACTIVE", now_rfc3339()
            cluster.update(res=new, brokers=brokers, subnets=subnets)
            return self.response(new)

        return self.start(res["name"], "update", updated)

    def delete(self, cluster):
        # Topics go with their cluster, as on GCP: nothing refuses the delete.
        self.busy(cluster, "delete")
        res = cluster["res"]
        res["state"] = "DELETING"

        def deleted():
            self.clusters.pop(res["name"], None)
            return {"@type": EMPTY_TYPE}

        return self.start(res["name"], "delete", deleted)

    @staticmethod
    def public(res):
        return {k: copy.deepcopy(v) for k, v in res.items() if k not in HIDDEN}

    def response(self, res):
        return {"@type": CLUSTER_TYPE, **self.public(res)}

    def view(self, cluster, view):
        """clusters.get: BASIC by default; FULL adds the brokers and the effective capacity."""
        views = ["CLUSTER_VIEW_UNSPECIFIED", "CLUSTER_VIEW_BASIC", "CLUSTER_VIEW_FULL"]
        view = views[int(view)] if view and view.isdigit() and int(view) < len(views) else (view or views[0])
        if view not in views:
            raise invalid(f"Invalid value for view: '{view}'. Expected one of {', '.join(views)}.")
        out = self.public(cluster["res"])
        if view == "CLUSTER_VIEW_FULL" and out["state"] != "CREATING":
            region = out["name"].split("/")[3]
            out["brokerDetails"] = [{"brokerIndex": str(i), "nodeId": str(i), "rack": f"{region}-{'abc'[i % 3]}"} for i in range(cluster["brokers"])]
            effective = {"brokerCount": str(cluster["brokers"])}
            disk = (cluster["res"].get("brokerCapacityConfig") or {}).get("diskSizeGib")
            if disk is not None:
                effective["brokerDiskSizeGib"] = str(disk)
            out["effectiveCapacityConfig"] = effective
        return out

    def list(self, project, location, query):
        # `-` lists every location of the project.
        keep = compile_filter(param(query, "filter") or "")
        found = [
            self.public(c["res"])
            for name, c in self.clusters.items()
            if name.split("/")[1] == project and location in ("-", name.split("/")[3]) and keep(c["res"])
        ]
        return Redis.page(order(found, param(query, "orderBy") or "name"), query, "clusters", 1000)

    # Topics: synchronous, on a cluster whose Kafka is serving.

    def topic_call(self, verb, params, query, body):
        project, location, cluster_id = params[:3]
        cluster = self.must_exist(f"projects/{project}/locations/{location}/clusters/{cluster_id}")
        res, topics = cluster["res"], cluster["topics"]
        if res["state"] not in ACTIVE_STATES:
            raise precondition(f"Cluster '{res['name']}' is {res['state']}: topics can only be managed while it is ACTIVE.")
        if verb == "list":
            found = [copy.deepcopy(t) for _, t in sorted(topics.items())]
            if not whole(param(query, "pageSize"), "page_size"):
                return {"topics": found} if found else {}
            return Redis.page(found, query, "topics", len(found))
        if verb == "create":
            return self.create_topic(cluster, param(query, "topicId") or "", body)
        name = f"{res['name']}/topics/{params[3]}"
        topic = topics.get(params[3])
        if topic is None:
            raise ApiError(404, f"Resource '{name}' was not found")
        if verb == "get":
            return copy.deepcopy(topic)
        if verb == "delete":
            del topics[params[3]]
            return {}
        return self.patch_topic(topic, query, body)

    def create_topic(self, cluster, topic_id, body):
        # Kafka's own rules and words for a topic's name.
        if not topic_id:
            raise invalid("Topic name is illegal, it can't be empty")
        if topic_id in (".", ".."):
            raise invalid('Topic name cannot be "." or ".."')
        if len(topic_id) > 249:
            raise invalid(f"Topic name is illegal, it can't be longer than 249 characters, topic name: {topic_id}")
        if not TOPIC_NAME.fullmatch(topic_id):
            raise invalid(f'Topic name "{topic_id}" is illegal, it contains a character other than ASCII alphanumerics, \'.\', \'_\' and \'-\'')
        name = f"{cluster['res']['name']}/topics/{topic_id}"
        if topic_id in cluster["topics"]:
            raise ApiError(409, f"Topic '{topic_id}' already exists.")
        clash = next((t for t in cluster["topics"] if t.replace(".", "_") == topic_id.replace(".", "_")), None)
        if clash:
            raise invalid(f"Topic '{topic_id}' collides with existing topic: {clash}")
        partitions = whole(body.get("partitionCount"), "partition_count")
        if partitions <= 0:
            raise invalid("Number of partitions was set to an invalid non-positive value.")
        replicas = whole(body.get("replicationFactor"), "replication_factor")
        if replicas <= 0:
            raise invalid("Replication factor must be larger than 0.")
        if replicas > cluster["brokers"]:
            raise invalid(
                f"Unable to replicate the partition {replicas} time(s): The target replication factor of {replicas} "
                f"cannot be reached because only {cluster['brokers']} broker(s) are registered."
            )
        topic = {"name": name, "partitionCount": partitions, "replicationFactor": replicas}
        if body.get("configs"):
            topic["configs"] = check_configs(body["configs"])
        cluster["topics"][topic_id] = topic
        return copy.deepcopy(topic)

    def patch_topic(self, topic, query, body):
        paths = [camel(p.strip()) for p in (param(query, "updateMask") or "").split(",") if p.strip()]
        if not paths:
            raise invalid("update_mask is required.")
        if paths == ["*"]:
            paths = ["partitionCount", "configs"]
            if "replicationFactor" in body and whole(body["replicationFactor"], "replication_factor") != topic["replicationFactor"]:
                paths.append("replicationFactor")
        for path in paths:
            if path == "replicationFactor":
                raise invalid("replication_factor is immutable: the replication factor of an existing topic cannot be changed.")
            if path not in ("partitionCount", "configs"):
                raise invalid(f"Invalid update_mask path '{snake(path)}': the field cannot be updated.")
        new = dict(topic)
        if "partitionCount" in paths:
            count = whole(body.get("partitionCount"), "partition_count")
            if count < topic["partitionCount"]:
                topic_id = topic["name"].rsplit("/", 1)[1]
                raise invalid(f"The topic {topic_id} currently has {topic['partitionCount']} partition(s); {count} would not be an increase.")
            new["partitionCount"] = count
        if "configs" in paths:
            new.pop("configs", None)
            if body.get("configs"):
                new["configs"] = check_configs(body["configs"])
        topic.clear()
        topic.update(new)
        return copy.deepcopy(topic)

    # Operations: `done` after `op_polls` polls of operations.get, or after `op_ms`.

    def start(self, target, verb, effect):
        parent = target.split("/clusters/")[0]
        name = f"{parent}/operations/operation-{int(time.time() * 1000)}-{uuid.uuid4().hex[:13]}-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:8]}"
        metadata = {"@type": METADATA_TYPE, "createTime": now_rfc3339(), "target": target, "verb": verb, "apiVersion": "v1"}
        record = {"op": {"name": name, "metadata": metadata}, "effect": effect, "polls": 0, "started": time.time()}
        self.operations[name] = record
        if self.settings.op_polls == 0:
            self.finish(record)
        return copy.deepcopy(record["op"])

    def finish(self, record):
        op = record["op"]
        try:
            op["response"] = record["effect"]()
        except Failed as e:  # the change is refused when it runs: the operation's error
            op["error"] = {"code": e.code, "message": e.message}
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
        if param(query, "filter"):
            raise ApiError(501, "operations.list with a filter is not emulated.")
        found = [
            copy.deepcopy(r["op"])
            for name, r in reversed(list(self.operations.items()))
            if name.split("/")[1] == project and location in ("-", name.split("/")[3])
        ]
        return Redis.page(found, query, "operations", 100)


def known_path(schemas, schema, path):
    """Whether a field mask path names a field of the schema (a map's key included)."""
    node = schemas[schema]
    for part in path.split("."):
        if part in node.get("properties", {}):
            field = node["properties"][part]
        elif "additionalProperties" in node:
            field = node["additionalProperties"]
        else:
            return False
        node = schemas[field["$ref"]] if "$ref" in field else field
    return True


def apply(target, source, path):
    """A field mask path: the field takes the body's value, or is cleared when the body has none."""
    *parents, leaf = path.split(".")
    for part in parents:
        source = source.get(part) if isinstance(source, dict) else None
        target = target.setdefault(part, {})
    if isinstance(source, dict) and leaf in source:
        target[leaf] = copy.deepcopy(source[leaf])
    else:
        target.pop(leaf, None)


def check_configs(configs):
    """Topic configs as Kafka's CreateTopics / IncrementalAlterConfigs check them, in its words."""
    for key, value in configs.items():
        if key not in TOPIC_CONFIGS:
            raise invalid(f"Unknown topic config name: {key}")
        kind, rule = TOPIC_CONFIGS[key]
        text = value.strip()
        bad = f"Invalid value {value} for configuration {key}: "
        if kind in (INT, LONG, DOUBLE):
            try:
                number = float(text) if kind == DOUBLE else int(text)
            except ValueError:
                raise invalid(bad + f"Not a number of type {kind}")
            low, high = rule if kind == DOUBLE else (rule, None)
            if kind != DOUBLE and not BOUNDS[kind][0] <= number <= BOUNDS[kind][1]:
                raise invalid(bad + f"Not a number of type {kind}")
            if low is not None and number < low:
                raise invalid(bad + f"Value must be at least {low}")
            if high is not None and number > high:
                raise invalid(bad + f"Value must be no more than {high}")
        elif kind == BOOLEAN and text.lower() not in ("true", "false"):
            raise invalid(bad + "Expected value to be either true or false")
        elif kind == STRING and rule and text not in rule:
            raise invalid(bad + f"String must be one of: {', '.join(rule)}")
        elif kind == LIST and rule:
            for item in [i.strip() for i in text.split(",")]:
                if item not in rule:
                    raise invalid(f"Invalid value {item} for configuration {key}: String must be one of: {', '.join(rule)}")
    return dict(configs)


def compile_filter(text):
    """ListClusters' filter (AIP-160), as far as a provider needs it: `labels.KEY = "v"`,
    `labels.KEY != "v"`, `labels.KEY:*` (present), `name = "..."`, `state = ACTIVE`, joined
    by AND or spaces. Anything else is refused, never ignored."""
    text = text.strip()
    if not text:
        return lambda res: True
    tests = []
    for clause in re.split(r"\s+AND\s+|\s+(?=(?:labels\.|name|state))", text):
        m = re.fullmatch(r'(labels\.[a-z][a-z0-9_-]*|name|state)\s*(=|!=|:)\s*("([^"]*)"|[A-Za-z0-9_*./-]+)', clause.strip())
        if not m:
            raise invalid(f"Invalid filter '{text}': only labels.KEY, name and state with =, != or : are supported.")
        field, op, raw, quoted = m.groups()
        want = quoted if quoted is not None else raw

        def test(res, field=field, op=op, want=want):
            got = res.get("labels", {}).get(field[7:]) if field.startswith("labels.") else res.get(field)
            if op == ":":
                return got is not None and (want == "*" or got == want)
            return (got == want) == (op == "=")

        tests.append(test)
    return lambda res: all(t(res) for t in tests)


def order(items, text):
    """ListClusters' orderBy: `name`, `createTime`, `updateTime`, each optionally `desc`."""
    keys = []
    for part in [p.strip() for p in text.split(",") if p.strip()]:
        m = re.fullmatch(r"(name|createTime|create_time|updateTime|update_time)(\s+(asc|desc))?", part)
        if not m:
            raise invalid(f"Invalid order_by '{text}': only name, create_time and update_time, asc or desc, are supported.")
        keys.append((camel(m.group(1)), m.group(3) == "desc"))
    for field, descending in reversed(keys):
        items.sort(key=lambda res: res.get(field, ""), reverse=descending)
    return items
