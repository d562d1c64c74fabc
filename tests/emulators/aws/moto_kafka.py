"""MSK on moto: clusters that pass through AWS's pending states, the broker updates moto
lacks, and topics (moto has none), answered in the REST-JSON shapes the Kafka API uses.
"""

import base64
import json
import urllib.parse
import uuid

from emulator_state import later, settle_later, settle_later_key


def rest_error(status, kind, message):
    """A REST-JSON error answer. moto takes the HTTP status from the headers' "status"."""
    return status, {"status": status, "x-amzn-ErrorType": kind}, json.dumps({"message": message})


def patch_kafka():
    from moto.kafka import models as km
    from moto.kafka import responses as kr

    backend_cls = km.KafkaBackend

    def activate_later(cluster, from_state):
        settle_later(cluster, "state", from_state, "ACTIVE")

    for name in ("create_cluster", "create_cluster_v2"):
        original = getattr(backend_cls, name, None)
        if original is None:
            continue

        def make(original):
            def create(self, *args, **kwargs):
                result = original(self, *args, **kwargs)
                arn = result[0] if isinstance(result, tuple) else getattr(result, "arn", result)
                cluster = self.clusters.get(arn)
                if cluster is not None:
                    # moto writes a local time without zone; AWS sends RFC 3339 in UTC.
                    from datetime import datetime, timezone

                    cluster.creation_time = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
                    cluster.state = "CREATING"
                    activate_later(cluster, "CREATING")
                return result

            return create

        setattr(backend_cls, name, make(original))

    # AWS lists clusters with their whole ClusterInfo (broker count, node group, version);
    # moto lists name, state and time only.
    def list_clusters(self, cluster_name_filter=None):
        return [
            self.describe_cluster(c.arn)
            for c in list(self.clusters.values())
            if not cluster_name_filter or c.cluster_name.startswith(cluster_name_filter)
        ]

    backend_cls.list_clusters = list_clusters

    # An unknown cluster is NotFoundException (404) on AWS; moto raises a KeyError (500).
    from moto.core.exceptions import JsonRESTError

    for name in ("describe_cluster", "describe_cluster_v2"):
        original_describe = getattr(backend_cls, name, None)
        if original_describe is None:
            continue

        def make_describe(original_describe):
            def describe(self, cluster_arn, *args, **kwargs):
                if cluster_arn not in self.clusters:
                    error = JsonRESTError("NotFoundException", f"Cluster {cluster_arn} was not found.")
                    error.code = 404
                    raise error
                return original_describe(self, cluster_arn, *args, **kwargs)

            return describe

        setattr(backend_cls, name, make_describe(original_describe))

    original_delete = backend_cls.delete_cluster

    def delete_cluster(self, cluster_arn, current_version=None):
        cluster = self.clusters.get(cluster_arn)
        result = original_delete(self, cluster_arn, current_version) if cluster is None else None
        if cluster is None:
            return result
        cluster.state = "DELETING"

        def gone():
            self.clusters.pop(cluster_arn, None)

        later(gone)
        return cluster_arn, "DELETING"

    backend_cls.delete_cluster = delete_cluster

    def bump(cluster):
        # A new opaque version, like AWS's "K3AEGXETSR30VB"; stale versions are refused.
        cluster.current_version = "K" + uuid.uuid4().hex[:13].upper()
        cluster.state = "UPDATING"
        activate_later(cluster, "UPDATING")
        return f"{cluster.arn.replace(':cluster/', ':cluster-operation/')}/{uuid.uuid4()}"

    def update_response(mutate):
        def handler(self):
            arn = urllib.parse.unquote(self.path.split("/v1/clusters/")[1].split("/")[0])
            raw = json.loads(self.body or "{}")
            # MSK's REST API names fields in camelCase; accept either spelling.
            body = {k[:1].upper() + k[1:]: v for k, v in raw.items()}
            cluster = self.kafka_backend.clusters.get(arn)
            if cluster is None:
                return rest_error(404, "NotFoundException", f"{arn} not found")
            if body.get("CurrentVersion") and body["CurrentVersion"] != cluster.current_version:
                return rest_error(400, "BadRequestException", "The cluster's current version does not match.")
            if cluster.state != "ACTIVE":
                return rest_error(400, "BadRequestException", f"The cluster is {cluster.state}, not ACTIVE.")
            mutate(cluster, body)
            return json.dumps({"ClusterArn": arn, "ClusterOperationArn": bump(cluster)})

        return handler

    def set_count(c, b):
        c.number_of_broker_nodes = int(b["TargetNumberOfBrokerNodes"])

    # moto keeps the node group as the request sent it: camelCase keys.
    def set_storage(c, b):
        for info in b.get("TargetBrokerEBSVolumeInfo", []):
            size = info.get("VolumeSizeGB", info.get("volumeSizeGB"))
            storage = c.broker_node_group_info.setdefault("storageInfo", {}).setdefault("ebsStorageInfo", {})
            storage["volumeSize"] = int(size)

    def set_type(c, b):
        c.broker_node_group_info["instanceType"] = b["TargetInstanceType"]

    def set_version(c, b):
        c.kafka_version = b["TargetKafkaVersion"]

    kr.KafkaResponse.update_broker_count = update_response(set_count)
    kr.KafkaResponse.update_broker_storage = update_response(set_storage)
    kr.KafkaResponse.update_broker_type = update_response(set_type)
    kr.KafkaResponse.update_cluster_kafka_version = update_response(set_version)

    patch_kafka_topics(kr)


def patch_kafka_topics(kr):
    """MSK's topic API (CreateTopic, DescribeTopic, ListTopics, UpdateTopic, DeleteTopic),
    which moto lacks: topics live on their cluster (so a reset clears them), pass through
    CREATING/UPDATING/DELETING, and refuse what MSK refuses (inactive cluster, duplicate
    name, replication above the broker count, fewer partitions)."""

    error = rest_error

    def parse(self):
        tail = self.path.split("?")[0].split("/v1/clusters/")[1].split("/")
        arn = urllib.parse.unquote(tail[0])
        name = urllib.parse.unquote(tail[2]) if len(tail) > 2 else None
        return arn, self.kafka_backend.clusters.get(arn), name

    def view(cluster, t):
        return {
            "topicArn": t["arn"],
            "topicName": t["name"],
            "partitionCount": t["partitions"],
            "replicationFactor": t["replication"],
            "configs": t.get("configs", ""),
            "status": t["status"],
        }

    def bad_configs(body):
        """MSK's configs are Base64; a blob that is not, or that does not decode to Kafka
        `key=value` properties, is refused as MSK refuses a malformed request."""
        blob = body.get("configs")
        if blob is None:
            return None
        try:
            text = base64.b64decode(blob, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return error(400, "BadRequestException", "configs is not valid Base64.")
        for line in text.splitlines():
            if line.strip() and "=" not in line:
                return error(400, "BadRequestException", f"configs has no key=value in {line!r}.")
        return None

    def topics_of(cluster):
        if not hasattr(cluster, "cairn_topics"):
            cluster.cairn_topics = {}
        return cluster.cairn_topics

    def create_topic(self):
        arn, cluster, _ = parse(self)
        if cluster is None:
            return error(404, "NotFoundException", f"Cluster {arn} was not found.")
        if cluster.state != "ACTIVE":
            return error(400, "BadRequestException", f"The cluster is {cluster.state}, not ACTIVE.")
        body = json.loads(self.body or "{}")
        name = body.get("topicName", "")
        refused = bad_configs(body)
        if refused is not None:
            return refused
        topics = topics_of(cluster)
        if name in topics:
            return error(409, "ConflictException", f"Topic {name} already exists.")
        replication = int(body.get("replicationFactor", 3))
        if replication > int(cluster.number_of_broker_nodes):
            return error(
                400,
                "BadRequestException",
                f"replicationFactor {replication} exceeds the {cluster.number_of_broker_nodes} brokers.",
            )
        topic = {
            "arn": arn.replace(":cluster/", ":topic/") + "/" + name,
            "name": name,
            "partitions": int(body.get("partitionCount", 1)),
            "replication": replication,
            "configs": body.get("configs", ""),
        }
        topics[name] = topic
        settle_later_key(topic, "status", "CREATING", "ACTIVE")
        return json.dumps({"topicArn": topic["arn"], "topicName": name, "status": "CREATING"})

    def describe_topic(self):
        arn, cluster, name = parse(self)
        topic = topics_of(cluster).get(name) if cluster is not None else None
        if topic is None:
            return error(404, "NotFoundException", f"Topic {name} was not found.")
        return json.dumps(view(cluster, topic))

    def list_topics(self):
        arn, cluster, _ = parse(self)
        if cluster is None:
            return error(404, "NotFoundException", f"Cluster {arn} was not found.")
        prefix = (self.querystring.get("topicNameFilter") or [""])[0]
        limit = int((self.querystring.get("maxResults") or ["100"])[0])
        start = int((self.querystring.get("nextToken") or ["0"])[0])
        names = sorted(n for n in topics_of(cluster) if n.startswith(prefix))
        page = names[start : start + limit]
        out = {
            "topics": [
                {
                    "topicArn": topics_of(cluster)[n]["arn"],
                    "topicName": n,
                    "partitionCount": topics_of(cluster)[n]["partitions"],
                    "replicationFactor": topics_of(cluster)[n]["replication"],
                    "outOfSyncReplicaCount": 0,
                }
                for n in page
            ]
        }
        if start + limit < len(names):
            out["nextToken"] = str(start + limit)
        return json.dumps(out)

    def update_topic(self):
        arn, cluster, name = parse(self)
        topic = topics_of(cluster).get(name) if cluster is not None else None
        if topic is None:
            return error(404, "NotFoundException", f"Topic {name} was not found.")
        if topic["status"] != "ACTIVE":
            return error(400, "BadRequestException", f"The topic is {topic['status']}, not ACTIVE.")
        body = json.loads(self.body or "{}")
        refused = bad_configs(body)
        if refused is not None:
            return refused
        if "partitionCount" in body:
            wanted = int(body["partitionCount"])
            if wanted < topic["partitions"]:
                return error(
                    400,
                    "BadRequestException",
                    f"partitionCount can only grow: {topic['partitions']} -> {wanted}.",
                )
            topic["partitions"] = wanted
        if "configs" in body:
            topic["configs"] = body["configs"]
        settle_later_key(topic, "status", "UPDATING", "ACTIVE")
        return json.dumps({"topicArn": topic["arn"], "topicName": name, "status": "UPDATING"})

    def delete_topic(self):
        arn, cluster, name = parse(self)
        topics = topics_of(cluster) if cluster is not None else {}
        topic = topics.get(name)
        if topic is None:
            return error(404, "NotFoundException", f"Topic {name} was not found.")
        topic["status"] = "DELETING"
        later(lambda: topics.pop(name, None))
        return json.dumps({"topicArn": topic["arn"], "topicName": name, "status": "DELETING"})

    for fn in (create_topic, describe_topic, list_topics, update_topic, delete_topic):
        setattr(kr.KafkaResponse, fn.__name__, fn)
