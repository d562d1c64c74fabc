"""Azure Cache for Redis and Event Hubs as the Azure emulator serves them: what each
service checks before it accepts a resource and fills in when it answers, as its
documentation states (the swagger carries types and enums, not these rules). See
cairn_azure.py for the whole.

Redis (2024-03-01): the SKU's family is `C` for Basic and Standard (capacity 0-6) and `P`
for Premium (1-5); replicas per primary, zones and a subnet are Premium only; the version
is `4`, `6` (or `4.0`, `6.0`) or `latest`, answered as the full version the cache runs;
the version and zones never change in place; the host is `{name}.redis.cache.windows.net`,
port 6379 and TLS port 6380.

Event Hubs (2024-01-01): a Basic namespace has no Kafka endpoint; Standard takes 1-40
throughput units; the endpoint is `https://{name}.servicebus.windows.net:443/`. An event
hub of a Basic or Standard namespace takes 1-32 partitions, fixed at create, keeps events
at most 168 hours (24 on Basic), and log compaction needs Premium or Dedicated.
"""

from arm_contract import ArmError

REDIS = "microsoft.cache/redis"
NAMESPACES = "microsoft.eventhub/namespaces"
EVENTHUBS = NAMESPACES + "/eventhubs"
# The Redis each major version runs (what `redisVersion` answers).
REDIS_RUNS = {"4": "4.0.14", "6": "6.0.14", "latest": "6.0.14"}


def refuse(message, code="BadRequest"):
    return ArmError(400, code, message)


def put_redis(old, resource):
    props = resource.setdefault("properties", {})
    before = (old or {}).get("properties", {})
    sku = props.get("sku") or before.get("sku")
    if not sku:
        raise refuse("The property 'properties.sku' is required.")
    name, family, capacity = sku.get("name", ""), sku.get("family", ""), sku.get("capacity")
    premium = name.lower() == "premium"
    if family.upper() != ("P" if premium else "C"):
        raise refuse(f"The SKU family '{family}' does not go with the {name} tier (Basic and Standard are family C, Premium is family P).", "InvalidSkuFamily")
    if not isinstance(capacity, int) or not ((1 <= capacity <= 5) if premium else (0 <= capacity <= 6)):
        raise refuse(f"The capacity {capacity} is not offered in the {name} tier ({'1-5' if premium else '0-6'}).", "InvalidSkuCapacity")
    if not premium:
        for field in ("replicasPerPrimary", "replicasPerMaster", "shardCount", "subnetId"):
            if props.get(field) is not None:
                raise refuse(f"'{field}' is only available in the Premium tier.", "FeatureNotSupportedForSku")
        if resource.get("zones"):
            raise refuse("Zones are only available in the Premium tier.", "FeatureNotSupportedForSku")
    asked = str(props.get("redisVersion") or before.get("redisVersion") or "latest").split(".")[0]
    if asked not in REDIS_RUNS:
        raise refuse(f"Redis version '{props.get('redisVersion')}' is not supported: 4.0, 6.0 (latest).", "InvalidRedisVersion")
    runs = REDIS_RUNS[asked]
    if old is not None:
        if runs.split(".")[0] != str(before.get("redisVersion", "")).split(".")[0]:
            raise refuse("The Redis version cannot be changed in place to an older one or across majors here: create a new cache.", "InvalidRedisVersion")
        if sorted(resource.get("zones") or []) != sorted(old.get("zones") or []):
            raise refuse("The zones of a cache cannot change.", "ZonesCannotBeChanged")
    props.update(
        redisVersion=runs,
        hostName=f"{resource['name']}.redis.cache.windows.net",
        port=6379,
        sslPort=6380,
    )
    props.setdefault("enableNonSslPort", False)
    props.setdefault("minimumTlsVersion", "1.2")
    props.setdefault("publicNetworkAccess", "Enabled")


def put_namespace(old, resource):
    sku = resource.get("sku") or (old or {}).get("sku") or {}
    tier = sku.get("name", "")
    capacity = sku.get("capacity", 1)
    if tier == "Standard" and not 1 <= capacity <= 40:
        raise refuse(f"A Standard namespace takes 1 to 40 throughput units, not {capacity}.", "InvalidCapacity")
    props = resource.setdefault("properties", {})
    if tier == "Basic" and props.get("kafkaEnabled"):
        raise refuse("The Basic tier has no Kafka endpoint.", "KafkaNotSupportedForSku")
    props.update(
        kafkaEnabled=tier != "Basic",
        serviceBusEndpoint=f"https://{resource['name']}.servicebus.windows.net:443/",
        status="Active",
    )
    props.setdefault("minimumTlsVersion", "1.2")
    props.setdefault("publicNetworkAccess", "Enabled")


def put_eventhub(arm, rid, old, resource):
    namespace = arm.resources.get(rid.rsplit("/eventhubs/", 1)[0])
    tier = ((namespace or {}).get("sku") or {}).get("name", "Standard")
    props = resource.setdefault("properties", {})
    partitions = props.get("partitionCount", 4)
    if tier in ("Basic", "Standard") and not 1 <= partitions <= 32:
        raise refuse(f"An event hub of a {tier} namespace takes 1 to 32 partitions, not {partitions}.", "InvalidPartitionCount")
    if old is not None and tier in ("Basic", "Standard") and partitions != old["properties"].get("partitionCount"):
        raise refuse("The partition count of an event hub in a Basic or Standard namespace cannot change.", "PartitionCountCannotBeChanged")
    retention = props.setdefault("retentionDescription", {})
    hours = retention.setdefault("retentionTimeInHours", 168 if tier != "Basic" else 24)
    most = {"Basic": 24, "Standard": 168}.get(tier, 2160)
    if hours > most:
        raise refuse(f"A {tier} namespace keeps events at most {most} hours, not {hours}.", "InvalidRetention")
    if retention.get("cleanupPolicy", "Delete") == "Compact" and tier in ("Basic", "Standard"):
        raise refuse("Log compaction needs the Premium or Dedicated tier.", "CompactionNotSupportedForSku")
    retention.setdefault("cleanupPolicy", "Delete")
    props.update(partitionCount=partitions, partitionIds=[str(i) for i in range(partitions)], status="Active", messageRetentionInDays=max(1, hours // 24))


# --- private endpoints (Microsoft.Network, 2024-03-01) ---------------------------------------

PRIVATE_ENDPOINTS = "microsoft.network/privateendpoints"
# The Private Link group each target type offers (Azure's documentation).
LINK_GROUPS = {"microsoft.cache/redis": "redisCache", "microsoft.eventhub/namespaces": "namespace", "microsoft.keyvault/vaults": "vault", "microsoft.dbforpostgresql/flexibleservers": "postgresqlServer"}


def put_private_endpoint(arm, old, resource):
    """An endpoint needs its subnet and its target, with a group the target offers; it
    gets an address of the subnet and the target's name in `customDnsConfigs`."""
    props = resource.setdefault("properties", {})
    subnet_id = (props.get("subnet") or {}).get("id", "")
    subnet = arm.resources.get(subnet_id.lower())
    if subnet is None:
        raise ArmError(400, "InvalidResourceReference", f"Resource {subnet_id} referenced by resource {resource['id']} was not found.")
    if (subnet.get("properties") or {}).get("delegations"):
        raise refuse(f"Private endpoint {resource['id']} cannot be created in subnet {subnet_id}: the subnet is delegated.", "PrivateEndpointCreationNotAllowedAsSubnetIsDelegated")
    connections = props.get("privateLinkServiceConnections") or []
    if len(connections) != 1:
        raise refuse("A private endpoint takes exactly one private link service connection.", "InvalidPrivateEndpoint")
    conn = connections[0].get("properties") or {}
    target_id = conn.get("privateLinkServiceId", "")
    target = arm.resources.get(target_id.lower())
    if target is None:
        raise ArmError(400, "InvalidResourceReference", f"Resource {target_id} referenced by resource {resource['id']} was not found.")
    offered = LINK_GROUPS.get(arm.type_of(target_id).lower())
    if conn.get("groupIds") != [offered]:
        raise refuse(f"Group ids {conn.get('groupIds')} are not offered by {arm.type_of(target_id)} (it offers [{offered!r}]).", "PrivateEndpointBadRequest")
    if old is not None and (old["properties"].get("subnet") or {}).get("id", "").lower() != subnet_id.lower():
        raise refuse("The subnet of a private endpoint cannot change.", "CannotChangeSubnetOfPrivateEndpoint")
    conn["privateLinkServiceConnectionState"] = {"status": "Approved", "description": "Auto-Approved", "actionsRequired": "None"}
    prefix = (subnet.get("properties") or {}).get("addressPrefix", "10.0.0.0/24")
    base = prefix.split("/")[0].rsplit(".", 1)[0]
    used = {c.get("ipAddresses", [""])[0] for r in arm.resources.values() if arm.type_of(r.get("id", "")).lower() == PRIVATE_ENDPOINTS and r is not old for c in (r.get("properties") or {}).get("customDnsConfigs", [])}
    ip = (old or {}).get("properties", {}).get("customDnsConfigs", [{}])[0].get("ipAddresses", [None])[0] if old else None
    if ip is None:
        ip = next(f"{base}.{n}" for n in range(4, 255) if f"{base}.{n}" not in used)
    host = {"redisCache": "redis.cache.windows.net", "namespace": "servicebus.windows.net", "vault": "vault.azure.net", "postgresqlServer": "postgres.database.azure.com"}[offered]
    props["customDnsConfigs"] = [{"fqdn": f"{target['name']}.{host}", "ipAddresses": [ip]}]
