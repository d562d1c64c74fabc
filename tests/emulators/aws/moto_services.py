"""EC2, RDS, ELBv2 and ElastiCache on moto, patched to behave as AWS does where cairn's
AWS provider depends on it: pending states, the calls moto lacks, deletes of things in
use refused, and the duplicates AWS refuses. (MSK is in moto_kafka.py.)
"""

import uuid

import local_postgres
from emulator_state import later, settle_later


# The minor RDS picks when a PostgreSQL version is asked for as a major (its default minor
# for new instances); moto echoes the major, which hid reads that AWS answers with a minor.
POSTGRES_DEFAULT_MINOR = {"12": "12.22", "13": "13.20", "14": "14.17", "15": "15.12", "16": "16.8", "17": "17.4"}


def full_engine_version(engine, version):
    if engine == "postgres" and version and "." not in version:
        return POSTGRES_DEFAULT_MINOR.get(version, version + ".1")
    return version


def patch_rds():
    from moto.rds import models as rds
    from moto.rds.exceptions import RDSClientError

    backend_cls = rds.RDSBackend

    original_create = backend_cls.create_db_instance

    def create_db_instance(self, db_kwargs):
        db = original_create(self, db_kwargs)
        db.engine_version = full_engine_version(db.engine, db.engine_version)
        if local_postgres.SERVER.running:
            db.port = local_postgres.SERVER.port
            local_postgres.SERVER.instance_created(
                db_kwargs.get("master_username"), db_kwargs.get("master_user_password"), db_kwargs.get("db_name")
            )
        settle_later(db, "status", "creating", "available")
        return db

    # Every instance answers at the local PostgreSQL (see local_postgres.py).
    original_address = rds.DBInstance.address

    def address(self):
        return "127.0.0.1" if local_postgres.SERVER.running else original_address.fget(self)

    rds.DBInstance.address = property(address)

    backend_cls.create_db_instance = create_db_instance

    original_modify = backend_cls.modify_db_instance

    def modify_db_instance(self, db_instance_identifier, db_kwargs):
        db = original_modify(self, db_instance_identifier, db_kwargs)
        db.engine_version = full_engine_version(db.engine, db.engine_version)
        local_postgres.SERVER.password_changed(db.master_username, db_kwargs.get("master_user_password"))
        settle_later(db, "status", "modifying", "available")
        return db

    backend_cls.modify_db_instance = modify_db_instance

    original_delete = backend_cls.delete_db_instance

    def delete_db_instance(self, db_instance_identifier, *args, **kwargs):
        db = original_delete(self, db_instance_identifier, *args, **kwargs)
        local_postgres.SERVER.instance_deleted(db.master_username)
        # AWS keeps the instance visible as "deleting" for a while.
        db.status = "deleting"
        self.databases[db_instance_identifier] = db

        def gone():
            if self.databases.get(db_instance_identifier) is db:
                self.databases.pop(db_instance_identifier)

        later(gone)
        return db

    backend_cls.delete_db_instance = delete_db_instance

    # AWS refuses a second DB subnet group of the same name; moto silently replaces it.
    original_create_subnet_group = backend_cls.create_subnet_group

    def create_subnet_group(self, subnet_name, *args, **kwargs):
        if subnet_name in self.subnet_groups:
            raise RDSClientError(
                "DBSubnetGroupAlreadyExists",
                f"The DB subnet group '{subnet_name}' already exists.",
            )
        return original_create_subnet_group(self, subnet_name, *args, **kwargs)

    backend_cls.create_subnet_group = create_subnet_group

    def modify_db_subnet_group(self, subnet_name, description, subnets):
        # moto pops the group out of the backend; AWS modifies it in place.
        group = self.subnet_groups.get(subnet_name)
        if not group:
            raise rds.DBSubnetGroupNotFoundError(subnet_name)
        group.subnets = subnets
        if description is not None:
            group.description = description
        return group

    backend_cls.modify_db_subnet_group = modify_db_subnet_group

    original_delete_group = backend_cls.delete_subnet_group

    def delete_subnet_group(self, subnet_name):
        for db in self.databases.values():
            name = db.__dict__.get("_db_subnet_group_name")
            if name == subnet_name and db.status != "deleting":
                raise RDSClientError(
                    "InvalidDBSubnetGroupStateFault",
                    f"Cannot delete the subnet group '{subnet_name}' because at least one database instance: "
                    f"{db.db_instance_identifier} is still using it.",
                )
        return original_delete_group(self, subnet_name)

    backend_cls.delete_subnet_group = delete_subnet_group

    # A parameter group still named by an instance (even one being deleted) is refused.
    original_delete_parameters = backend_cls.delete_db_parameter_group

    def delete_db_parameter_group(self, db_parameter_group_name):
        for db in self.databases.values():
            if (db.db_parameter_group_name or "").lower() == db_parameter_group_name.lower():
                raise RDSClientError(
                    "InvalidDBParameterGroupState",
                    f"One or more database instances are still members of this parameter group "
                    f"{db_parameter_group_name}, so the group cannot be deleted",
                )
        return original_delete_parameters(self, db_parameter_group_name)

    backend_cls.delete_db_parameter_group = delete_db_parameter_group


def in_use_security_group(account_id, region, group_id):
    """Who uses `group_id`, as AWS would report it, or None."""
    from moto.ec2.models import ec2_backends
    from moto.elasticache.models import elasticache_backends
    from moto.elbv2.models import elbv2_backends
    from moto.rds.models import rds_backends

    ec2 = ec2_backends[account_id][region]
    for groups in ec2.groups.values():
        for g in groups.values():
            if g.id == group_id:
                continue
            for rule in list(g.ingress_rules) + list(g.egress_rules):
                if (getattr(rule, "source_group", None) or {}).get("GroupId") == group_id:
                    return f"security group {g.id}"
    for db in rds_backends[account_id][region].databases.values():
        if group_id in (db.vpc_security_group_ids or []) and db.status != "deleting":
            return f"DB instance {db.db_instance_identifier}"
    for rg in elasticache_backends[account_id][region].replication_groups.values():
        if group_id in rg.__dict__.get("cairn_security_group_ids", []) and rg.status != "deleting":
            return f"replication group {rg.replication_group_id}"
    for lb in elbv2_backends[account_id][region].load_balancers.values():
        if group_id in (lb.security_groups or []):
            return f"load balancer {lb.name}"
    return None


def patch_ec2():
    from moto.ec2.exceptions import DependencyViolationError
    from moto.ec2.models import EC2Backend
    from moto.ec2.models.security_groups import SecurityGroupRule

    # moto reports a rule's description only from its CIDR range; AWS also for rules that
    # reference another group (the description given with the group pair).
    def rule_description(self):
        return self.ip_range.get("Description") or (self.source_group or {}).get("Description")

    SecurityGroupRule.description = property(rule_description)

    # AWS filters DescribeVpcEndpoints by id (and vpc-id, service-name); moto knows neither.
    from moto.ec2.models.vpcs import VPCEndPoint

    original_endpoint_filter = VPCEndPoint.get_filter_value

    def endpoint_filter(self, filter_name, method_name=None):
        if filter_name == "vpc-endpoint-id":
            return self.id
        if filter_name == "vpc-id":
            return self.vpc_id
        if filter_name == "service-name":
            return self.service_name
        return original_endpoint_filter(self, filter_name, method_name)

    VPCEndPoint.get_filter_value = endpoint_filter

    # AWS refuses to associate a subnet that already has an explicit association (with any
    # table: ReplaceRouteTableAssociation moves it); moto answers with the old association.
    from moto.ec2.exceptions import ResourceAlreadyAssociatedError

    original_associate = EC2Backend.associate_route_table

    def associate_route_table(self, route_table_id, gateway_id=None, subnet_id=None):
        if subnet_id:
            for table in self.route_tables.values():
                if subnet_id in table._associations.values():
                    raise ResourceAlreadyAssociatedError(subnet_id)
        return original_associate(self, route_table_id, gateway_id=gateway_id, subnet_id=subnet_id)

    EC2Backend.associate_route_table = associate_route_table

    original_delete_sg = EC2Backend.delete_security_group

    def delete_security_group(self, name=None, group_id=None):
        if group_id:
            user = in_use_security_group(self.account_id, self.region_name, group_id)
            if user:
                raise DependencyViolationError(f"resource {group_id} has a dependent object ({user})")
        return original_delete_sg(self, name=name, group_id=group_id)

    EC2Backend.delete_security_group = delete_security_group

    original_delete_subnet = EC2Backend.delete_subnet

    def subnet_id_of(s):
        # moto keeps a DB subnet group's subnets as objects, or as dicts once modified.
        if isinstance(s, dict):
            return s.get("SubnetIdentifier") or s.get("subnet_id") or s.get("id")
        return s.id

    def delete_subnet(self, subnet_id):
        from moto.elasticache.models import elasticache_backends
        from moto.rds.models import rds_backends

        for nat in self.nat_gateways.values():
            if nat.subnet_id == subnet_id and nat.state not in ("deleted",):
                raise DependencyViolationError(f"The subnet '{subnet_id}' has dependencies and cannot be deleted.")
        for group in rds_backends[self.account_id][self.region_name].subnet_groups.values():
            if any(subnet_id_of(s) == subnet_id for s in group.subnets):
                raise DependencyViolationError(f"The subnet '{subnet_id}' has dependencies and cannot be deleted.")
        for group in elasticache_backends[self.account_id][self.region_name].cache_subnet_groups.values():
            if subnet_id in (getattr(group, "subnet_ids", None) or []):
                raise DependencyViolationError(f"The subnet '{subnet_id}' has dependencies and cannot be deleted.")
        return original_delete_subnet(self, subnet_id)

    EC2Backend.delete_subnet = delete_subnet

    original_delete_vpc = EC2Backend.delete_vpc

    def delete_vpc(self, vpc_id):
        for igw in self.internet_gateways.values():
            if igw.vpc and igw.vpc.id == vpc_id:
                raise DependencyViolationError(f"The vpc '{vpc_id}' has dependencies and cannot be deleted.")
        return original_delete_vpc(self, vpc_id)

    EC2Backend.delete_vpc = delete_vpc

    original_create_nat = EC2Backend.create_nat_gateway

    def create_nat_gateway(self, *args, **kwargs):
        nat = original_create_nat(self, *args, **kwargs)
        settle_later(nat, "state", "pending", "available")
        return nat

    EC2Backend.create_nat_gateway = create_nat_gateway

    original_delete_nat = EC2Backend.delete_nat_gateway

    def delete_nat_gateway(self, nat_gateway_id):
        nat = original_delete_nat(self, nat_gateway_id)
        nat.state = "deleting"
        backend = self

        def done():
            nat.state = "deleted"
            # AWS frees the gateway's Elastic IP (it stays allocated, unassociated).
            for addr in backend.addresses:
                if addr.eni is not None and addr.eni is nat._eni:
                    addr.eni = None
                    addr.instance = None
                    addr.association_id = None

        later(done)
        return nat

    EC2Backend.delete_nat_gateway = delete_nat_gateway


def patch_elbv2():
    from moto.elbv2 import models as elbv2

    original_create = elbv2.ELBv2Backend.create_load_balancer

    def create_load_balancer(self, *args, **kwargs):
        lb = original_create(self, *args, **kwargs)
        lb.state = "provisioning"
        lb.__dict__["cairn_ready"] = False

        def ready():
            lb.__dict__["cairn_ready"] = True
            lb.state = "active"

        later(ready)
        return lb

    elbv2.ELBv2Backend.create_load_balancer = create_load_balancer

    # moto flips provisioning -> active on the first describe; keep it until the deadline.
    original_activate = getattr(elbv2.FakeLoadBalancer, "activate", None)
    if original_activate is not None:

        def activate(self):
            if self.__dict__.get("cairn_ready", True):
                original_activate(self)

        elbv2.FakeLoadBalancer.activate = activate


def patch_elasticache():
    from moto.elasticache import models as ec
    from moto.elasticache import responses as ecr
    from moto.elasticache.exceptions import ElastiCacheException

    backend_cls = ec.ElastiCacheBackend

    # moto sizes a non-clustered group from ReplicasPerNodeGroup only and ignores
    # NumCacheClusters; AWS creates NumCacheClusters member clusters.
    original_members = ec.ReplicationGroup._set_node_members_clusters_disabled

    def set_members(self, *args, **kwargs):
        if not kwargs.get("replicas_per_node_group") and (kwargs.get("num_cache_clusters") or 1) > 1:
            kwargs["replicas_per_node_group"] = kwargs["num_cache_clusters"] - 1
        return original_members(self, *args, **kwargs)

    ec.ReplicationGroup._set_node_members_clusters_disabled = set_members

    original_create = backend_cls.create_replication_group

    def create_replication_group(self, *args, **kwargs):
        rg = original_create(self, *args, **kwargs)
        # moto keeps neither on the group; AWS reports both and refuses deletes while used.
        rg.__dict__["cairn_security_group_ids"] = list(kwargs.get("security_group_ids") or [])
        rg.__dict__["cairn_cache_subnet_group_name"] = kwargs.get("cache_subnet_group_name")
        settle_later(rg, "status", "creating", "available")
        return rg

    backend_cls.create_replication_group = create_replication_group

    original_modify = backend_cls.modify_replication_group

    def modify_replication_group(self, *args, **kwargs):
        rg = original_modify(self, *args, **kwargs)
        settle_later(rg, "status", "modifying", "available")
        return rg

    backend_cls.modify_replication_group = modify_replication_group

    original_delete = backend_cls.delete_replication_group

    def delete_replication_group(self, replication_group_id, *args, **kwargs):
        rg = original_delete(self, replication_group_id, *args, **kwargs)

        # moto leaves it "deleting" forever; AWS removes it when done.
        def gone():
            if self.replication_groups.get(replication_group_id) is rg:
                self.replication_groups.pop(replication_group_id)

        later(gone)
        return rg

    backend_cls.delete_replication_group = delete_replication_group

    # moto's ModifyReplicationGroup drops EngineVersion and SecurityGroupIds; AWS applies them.
    original_modify_response = ecr.ElastiCacheResponse.modify_replication_group

    def modify_replication_group_response(self):
        group_id = self._get_param("ReplicationGroupId")
        version = self._get_param("EngineVersion")
        groups = self._get_param("SecurityGroupIds")
        result = original_modify_response(self)
        rg = self.elasticache_backend.replication_groups.get(group_id)
        if rg is not None:
            if version:
                rg.engine_version = version
            if groups:
                rg.__dict__["cairn_security_group_ids"] = list(groups)
        return result

    ecr.ElastiCacheResponse.modify_replication_group = modify_replication_group_response

    # AWS lists a replication group's member clusters in DescribeCacheClusters (with the
    # engine version, subnet group and security groups the group itself does not report);
    # moto lists none. Build them from the group's current state on each call.
    def member_cluster(backend, rg, member):
        cluster = ec.CacheCluster(
            account_id=backend.account_id,
            region_name=backend.region_name,
            cache_cluster_id=member["cache_cluster_id"],
            cache_node_type=rg.cache_node_type,
            replication_group_id=rg.replication_group_id,
            az_mode="single-az",
            preferred_availability_zone=member.get("preferred_availability_zone"),
            num_cache_nodes=1,
            engine=rg.engine,
            engine_version=rg.engine_version,
            cache_parameter_group_name=None,
            cache_subnet_group_name=rg.__dict__.get("cairn_cache_subnet_group_name"),
            transit_encryption_enabled=rg.transit_encryption_enabled,
            network_type=None,
            ip_discovery=None,
            snapshot_name=None,
            preferred_maintenance_window=None,
            port=rg.port,
            notification_topic_arn=None,
            auto_minor_version_upgrade=None,
            snapshot_retention_limit=None,
            snapshot_window=None,
            auth_token=None,
            outpost_mode=None,
            preferred_outpost_arn=None,
            preferred_availability_zones=None,
            cache_security_group_names=None,
            security_group_ids=rg.__dict__.get("cairn_security_group_ids"),
            tags=None,
            snapshot_arns=None,
            preferred_outpost_arns=None,
            log_delivery_configurations=[],
            cache_node_ids_to_remove=None,
            cache_node_ids_to_reboot=None,
        )
        cluster.cache_cluster_status = rg.status
        cluster.security_groups = [
            {"SecurityGroupId": g, "Status": "active"} for g in rg.__dict__.get("cairn_security_group_ids", [])
        ]
        return cluster

    original_describe_clusters = backend_cls.describe_cache_clusters

    def describe_cache_clusters(self, cache_cluster_id=None, *args, **kwargs):
        members = {}
        for rg in list(self.replication_groups.values()):
            for group in rg.node_groups:
                for member in group["node_group_members"]:
                    members[member["cache_cluster_id"]] = (rg, member)
        if cache_cluster_id and cache_cluster_id in members:
            return [member_cluster(self, *members[cache_cluster_id])]
        own = original_describe_clusters(self, cache_cluster_id, *args, **kwargs)
        if cache_cluster_id:
            return own
        return list(own) + [member_cluster(self, rg, m) for rg, m in members.values()]

    backend_cls.describe_cache_clusters = describe_cache_clusters

    def delete_cache_subnet_group(self, cache_subnet_group_name):
        if cache_subnet_group_name not in self.cache_subnet_groups:
            raise ElastiCacheException(
                "CacheSubnetGroupNotFoundFault", f"CacheSubnetGroup {cache_subnet_group_name} not found."
            )
        for rg in self.replication_groups.values():
            if rg.__dict__.get("cairn_cache_subnet_group_name") == cache_subnet_group_name:
                raise ElastiCacheException(
                    "CacheSubnetGroupInUse", f"Cache subnet group {cache_subnet_group_name} is currently in use."
                )
        self.cache_subnet_groups.pop(cache_subnet_group_name)

    backend_cls.delete_cache_subnet_group = delete_cache_subnet_group

    def delete_cache_subnet_group_response(self):
        name = self._get_param("CacheSubnetGroupName")
        self.elasticache_backend.delete_cache_subnet_group(name)
        return (
            '<DeleteCacheSubnetGroupResponse xmlns="http://elasticache.amazonaws.com/doc/2015-02-02/">'
            f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
            "</DeleteCacheSubnetGroupResponse>"
        )

    ecr.ElastiCacheResponse.delete_cache_subnet_group = delete_cache_subnet_group_response

    # IncreaseReplicaCount / DecreaseReplicaCount (moto has neither): resize the member
    # list of a non-clustered group through "modifying", as AWS does.
    def change_replicas(self, replication_group_id, new_replica_count):
        rg = self.replication_groups.get(replication_group_id)
        if rg is None:
            raise ElastiCacheException("ReplicationGroupNotFoundFault", f"ReplicationGroup {replication_group_id} not found.")
        if rg.status != "available":
            raise ElastiCacheException("InvalidReplicationGroupState", f"Replication group must be available, is {rg.status}.")
        group = rg.node_groups[0]
        members = group["node_group_members"]
        want = int(new_replica_count) + 1
        while len(members) > want:
            gone = members.pop()
            rg.member_clusters.remove(gone["cache_cluster_id"])
        while len(members) < want:
            n = len(members) + 1
            member = dict(members[-1])
            member["cache_cluster_id"] = f"{replication_group_id}-{n:0>3}"
            member["current_role"] = "replica"
            members.append(member)
            rg.member_clusters.append(member["cache_cluster_id"])
        settle_later(rg, "status", "modifying", "available")
        return rg

    backend_cls.change_replicas = change_replicas

    def replica_response(self):
        from moto.core.responses import ActionResult

        rg = self.elasticache_backend.change_replicas(self._get_param("ReplicationGroupId"), self._get_int_param("NewReplicaCount"))
        return ActionResult({"ReplicationGroup": rg})

    ecr.ElastiCacheResponse.increase_replica_count = replica_response
    ecr.ElastiCacheResponse.decrease_replica_count = replica_response
