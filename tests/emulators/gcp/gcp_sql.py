"""Cloud SQL for PostgreSQL as the GCP emulator serves it: instances, their databases and
users, and `sql#operation`s. See cairn_gcp.py for the whole.

Each instance has a real PostgreSQL server behind it (gcp_sql_postgres.py). Databases and
users are made on it when the API is asked, as Cloud SQL does, so PostgreSQL's own refusals
come back in Cloud SQL's words (`Invalid request: failed to create database d. Detail: pq:
...`) and a test logs in with the password it gave. Private IP needs the network's Service
Networking connection; the address is taken from the connection's allocated range (a
Compute global address). Only PostgreSQL instances are emulated: MySQL and SQL Server
answer 501."""

import copy
import hashlib
import ipaddress
import re
import time
import uuid

from gcp_contract import ApiError
from gcp_secrets import LABEL_KEY, LABEL_VALUE, project_number
from gcp_sql_postgres import ident, literal, run

BASE = "https://sqladmin.googleapis.com/v1/"
CALLER = "cairn-emulator@example.iam.gserviceaccount.com"
NAME = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
CUSTOM = re.compile(r"db-custom-([0-9]+)-([0-9]+)")
PERF = re.compile(r"db-perf-optimized-N-([0-9]+)")
PERF_CPUS = {2, 4, 8, 16, 32, 48, 64, 80, 96, 128}
# The minor version Cloud SQL installs for each major it offers.
MINOR = {
    "POSTGRES_9_6": 24, "POSTGRES_10": 23, "POSTGRES_11": 22, "POSTGRES_12": 22, "POSTGRES_13": 21,
    "POSTGRES_14": 18, "POSTGRES_15": 13, "POSTGRES_16": 9, "POSTGRES_17": 5, "POSTGRES_18": 1,
}
# What the API takes but never gives back, and what only it sets.
INPUT_ONLY = {"rootPassword", "includeReplicasForMajorVersionUpgrade", "skipPrecheck", "tags", "switchTransactionLogsToCloudStorageEnabled"}
SERVER_SET = {"state", "ipAddresses", "connectionName", "selfLink", "serviceAccountEmailAddress", "createTime", "gceZone",
              "secondaryGceZone", "databaseInstalledVersion", "kind", "project", "backendType", "etag"}
NOT_RUNNING = "Invalid request: Invalid request since instance is not running."
REUSED = (
    "The Cloud SQL instance already exists. When you delete an instance, you can't reuse the name "
    "of the deleted instance until one week from the deletion date."
)


def now_rfc3339():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)


def invalid(message):
    return ApiError(400, f"Invalid request: {message}")


def merge(into, patch):
    """A patch merged field by field into nested objects; lists and scalars replace."""
    for k, v in patch.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            merge(into[k], v)
        else:
            into[k] = copy.deepcopy(v)
    return into


class CloudSql:
    def __init__(self, settings, compute, networking, servers):
        self.settings, self.compute, self.networking, self.servers = settings, compute, networking, servers
        self.instances = {}
        networking.producers.append(self.private_users)
        self.reset()

    def reset(self):
        for inst in self.instances.values():
            self.servers.release(inst["server"])
        self.instances = {}  # (project, name) -> {"res", "server", "databases", "users"}
        self.operations = {}  # (project, operation name) -> record, in insertion order
        self.deleted = {}  # (project, name) -> when its deletion finished
        self.public = 0

    def handle(self, method, params, query, body):
        parts = method.id.split(".")
        collection, verb, project = parts[1], parts[-1], params[0]
        if collection == "operations" and verb in ("get", "list"):
            return self.operation(project, params[1]) if verb == "get" else self.list_operations(project, query)
        if collection == "instances" and verb in ("insert", "list"):
            if verb == "insert":
                return self.insert(project, body)
            return self.list(project, query, method.doc["schemas"]["DatabaseInstance"]["properties"])
        if collection == "instances" and verb in ("get", "patch", "update", "delete", "restart"):
            inst = self.must_exist(project, params[1])
            if verb == "get":
                return self.shown(inst)
            return getattr(self, verb)(inst, body)
        if collection == "databases" and len(parts) == 3:
            return self.databases(verb, self.must_exist(project, params[1]), params[2:], body)
        if collection == "users" and len(parts) == 3:
            return self.users(verb, self.must_exist(project, params[1]), params[2:], query, body)
        raise ApiError(501, f"{method.id} is routed but not emulated yet.")

    # Instances.

    def must_exist(self, project, name):
        inst = self.instances.get((project, name))
        if inst is None:
            raise ApiError(404, "The Cloud SQL instance does not exist.", "instanceDoesNotExist")
        return inst

    def shown(self, inst):
        return copy.deepcopy(inst["res"])

    def insert(self, project, body):
        if not body:
            raise invalid("Missing parameter: Instance.")
        name = body.get("name", "")
        if not NAME.fullmatch(name) or len(project) + 1 + len(name) > 98:
            raise invalid(f"instance name ({name}).")
        key = (project, name)
        if key in self.instances:
            raise ApiError(409, "The Cloud SQL instance already exists.", "instanceAlreadyExists")
        gone = self.deleted.get(key)
        if gone is not None and time.time() - gone < self.settings.sql_name_reuse_ms / 1000.0:
            raise ApiError(409, REUSED, "instanceAlreadyExists")
        version = body.get("databaseVersion", "MYSQL_8_0")
        self.check_version(version)
        if body.get("masterInstanceName") or body.get("replicaConfiguration") or body.get("instanceType", "CLOUD_SQL_INSTANCE") != "CLOUD_SQL_INSTANCE":
            raise ApiError(501, "Read replicas and other instance types are not emulated: only CLOUD_SQL_INSTANCE.")
        if not (body.get("settings") or {}).get("tier"):
            raise ApiError(400, "Missing parameter: Tier.")
        settings = self.complete(project, version, copy.deepcopy(body["settings"]))
        self.check_settings(version, settings, None)
        region = body.get("region", "us-central1")
        res = {k: copy.deepcopy(v) for k, v in body.items() if k not in INPUT_ONLY | SERVER_SET}
        res.update(
            {
                "kind": "sql#instance",
                "name": name,
                "project": project,
                "region": region,
                "databaseVersion": version,
                "databaseInstalledVersion": f"{version}_{MINOR[version]}",
                "backendType": "SECOND_GEN",
                "instanceType": "CLOUD_SQL_INSTANCE",
                "state": "PENDING_CREATE",
                "settings": settings,
                "connectionName": f"{project}:{region}:{name}",
                "selfLink": f"{BASE}projects/{project}/instances/{name}",
                "serviceAccountEmailAddress": f"p{project_number(project)}-{hashlib.sha256(name.encode()).hexdigest()[:6]}@gcp-sa-cloud-sql.iam.gserviceaccount.com",
                "createTime": now_rfc3339(),
                "sqlNetworkArchitecture": "NEW_NETWORK_ARCHITECTURE",
            }
        )
        res["ipAddresses"] = self.addresses(project, name, settings, None)
        self.place(res)
        database = {"kind": "sql#database", "name": "postgres", "charset": "UTF8", "collation": "en_US.UTF8"}
        inst = {"res": res, "server": None, "databases": {}, "users": {"postgres"}}
        inst["databases"]["postgres"] = self.database_resource(inst, database)
        inst["server"] = self.servers.take()
        self.instances[key] = inst
        root = body.get("rootPassword")

        def created():
            res["state"] = "RUNNABLE"
            # Cloud SQL for PostgreSQL: the root password is the `postgres` user's.
            if root:
                run(inst["server"], f"ALTER ROLE postgres PASSWORD {literal(root)}")

        return self.start(inst, "CREATE", created)

    def check_version(self, version):
        if not version.startswith("POSTGRES_"):
            raise ApiError(501, f"{version} instances are not emulated: only Cloud SQL for PostgreSQL is (databaseVersion defaults to MYSQL_8_0).")
        if version not in MINOR:
            raise invalid(f"Invalid database version ({version}).")

    def complete(self, project, version, s):
        """The settings with Cloud SQL's defaults where the request left fields out."""
        plus_default = int(version.split("_")[1]) >= 16
        if s.get("edition") in (None, "EDITION_UNSPECIFIED"):
            # Cloud SQL makes PostgreSQL 16 and later Enterprise Plus unless told otherwise.
            s["edition"] = "ENTERPRISE_PLUS" if plus_default else "ENTERPRISE"
        if s.get("availabilityType") in (None, "SQL_AVAILABILITY_TYPE_UNSPECIFIED"):
            s["availabilityType"] = "ZONAL"
        plus = s["edition"] == "ENTERPRISE_PLUS"
        defaults = {
            "kind": "sql#settings",
            "pricingPlan": "PER_USE",
            "replicationType": "SYNCHRONOUS",
            "activationPolicy": "ALWAYS",
            "dataDiskType": "PD_SSD",
            "dataDiskSizeGb": "10",
            "storageAutoResize": True,
            "storageAutoResizeLimit": "0",
            "deletionProtectionEnabled": False,
            "connectorEnforcement": "NOT_REQUIRED",
            "settingsVersion": "1",
            "backupConfiguration": {},
            "ipConfiguration": {},
            "maintenanceWindow": {},
        }
        for k, v in defaults.items():
            s.setdefault(k, v)
        s["dataDiskSizeGb"] = str(s["dataDiskSizeGb"])
        backup = s["backupConfiguration"]
        backup.setdefault("kind", "sql#backupConfiguration")
        backup.setdefault("enabled", False)
        backup.setdefault("startTime", "04:00")
        backup.setdefault("pointInTimeRecoveryEnabled", False)
        backup.setdefault("transactionLogRetentionDays", 14 if plus else 7)
        backup.setdefault("backupRetentionSettings", {})
        backup["backupRetentionSettings"].setdefault("retentionUnit", "COUNT")
        backup["backupRetentionSettings"].setdefault("retainedBackups", 15 if plus else 7)
        ip = s["ipConfiguration"]
        ip.setdefault("ipv4Enabled", True)
        ip.setdefault("requireSsl", False)
        ip.setdefault("sslMode", "ALLOW_UNENCRYPTED_AND_ENCRYPTED")
        if ip.get("privateNetwork"):
            p, _, net = self.compute.resolve(project, ip["privateNetwork"].lstrip("/"), "networks")
            ip["privateNetwork"] = f"projects/{p}/global/networks/{net}"
        window = s["maintenanceWindow"]
        window.setdefault("kind", "sql#maintenanceWindow")
        window.setdefault("day", 0)
        window.setdefault("hour", 0)
        if plus:
            s.setdefault("dataCacheConfig", {"dataCacheEnabled": True})
        return s

    def check_settings(self, version, s, before):
        """Cloud SQL's rules on settings; `before` the current ones on patch and update."""
        tier, edition = s["tier"], s["edition"]
        if edition == "ENTERPRISE_PLUS":
            m = PERF.fullmatch(tier)
            if not (m and int(m.group(1)) in PERF_CPUS):
                raise invalid(
                    f"Invalid Tier ({tier}) for (ENTERPRISE_PLUS) Edition. Use a predefined Tier like db-perf-optimized-N-* "
                    "instead. Learn more at https://cloud.google.com/sql/docs/postgres/create-instance#machine-types."
                )
        elif edition == "ENTERPRISE":
            if tier not in ("db-f1-micro", "db-g1-small") and not custom_tier_ok(tier):
                raise invalid(f"Invalid Tier ({tier}) for (ENTERPRISE) Edition.")
        else:
            raise ApiError(501, f"The {edition} edition is not emulated: only ENTERPRISE and ENTERPRISE_PLUS.")
        size = int(s["dataDiskSizeGb"])
        if not 10 <= size <= 65536:
            raise invalid(f"The data disk size must be between 10 GB and 65536 GB, not {size} GB.")
        if before is not None and size < int(before["dataDiskSizeGb"]):
            raise invalid(f"The data disk size cannot be decreased (from {before['dataDiskSizeGb']} GB to {size} GB).")
        backup = s["backupConfiguration"]
        if not re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", backup["startTime"]):
            raise invalid(f"Invalid backup start time ({backup['startTime']}): expected HH:MM in UTC.")
        most = 35 if edition == "ENTERPRISE_PLUS" else 7
        if not 1 <= int(backup["transactionLogRetentionDays"]) <= most:
            raise invalid(f"transactionLogRetentionDays must be between 1 and {most} for the {edition} edition.")
        retention = backup["backupRetentionSettings"]
        if retention["retentionUnit"] != "COUNT" or not 1 <= int(retention["retainedBackups"]) <= 365:
            raise invalid("backupRetentionSettings must keep between 1 and 365 backups (retentionUnit COUNT).")
        if backup["pointInTimeRecoveryEnabled"] and not backup["enabled"]:
            raise invalid("Point-in-time recovery requires backups to be enabled.")
        window = s["maintenanceWindow"]
        if not (0 <= int(window["day"]) <= 7 and 0 <= int(window["hour"]) <= 23):
            raise invalid(f"Invalid maintenance window (day {window['day']}, hour {window['hour']}): the day is 1-7 (Monday-Sunday) or 0 (any), the hour 0-23.")
        names = [f.get("name") for f in s.get("databaseFlags", [])]
        for n in names:
            if not n or names.count(n) > 1:
                raise invalid(f"Invalid flag name ({n}): flags need a name, once each.")
        labels = s.get("userLabels", {})
        if len(labels) > 64:
            raise invalid("An instance may carry at most 64 user labels.")
        for k, v in labels.items():
            if not LABEL_KEY.fullmatch(k) or not LABEL_VALUE.fullmatch(v):
                raise invalid(f"Invalid user label {k}={v}: keys are 1-63 lowercase letters, digits, '_' or '-' starting with a letter; values at most 63 of them.")
        ip = s["ipConfiguration"]
        if ip.get("allocatedIpRange") and not ip.get("privateNetwork"):
            raise invalid("allocatedIpRange needs privateNetwork.")
        if not ip["ipv4Enabled"] and not ip.get("privateNetwork") and not ip.get("pscConfig"):
            raise invalid("At least one of Public IP or Private IP or PSC connectivity must be enabled.")
        if before is not None and before["ipConfiguration"].get("privateNetwork") and not ip.get("privateNetwork"):
            raise invalid("The private network of an instance cannot be removed once set.")

    def addresses(self, project, name, s, current):
        """The instance's IP mappings: a public PRIMARY one when ipv4Enabled, a PRIVATE one
        from the allocated range of its network's private services connection."""
        kept = {m["type"]: m for m in (current or {}).get("ipAddresses", [])}
        was = (current or {}).get("settings", {}).get("ipConfiguration", {})
        ip, out = s["ipConfiguration"], []
        if ip.get("privateNetwork") and (
            "PRIVATE" not in kept or (was.get("privateNetwork"), was.get("allocatedIpRange")) != (ip["privateNetwork"], ip.get("allocatedIpRange"))
        ):
            kept["PRIVATE"] = {"type": "PRIVATE", "ipAddress": self.private_ip(project, name, ip)}
        if ip["ipv4Enabled"]:
            if "PRIMARY" not in kept:
                self.public += 1
                kept["PRIMARY"] = {"type": "PRIMARY", "ipAddress": f"203.0.113.{self.public % 254 + 1}"}
            out.append(kept["PRIMARY"])
        if ip.get("privateNetwork"):
            out.append(kept["PRIVATE"])
        return out

    def private_ip(self, project, name, ip):
        p, _, network = self.compute.resolve(project, ip["privateNetwork"], "networks")
        connection = self.networking.connection(p, network)
        if connection is None:
            raise invalid(f"Incorrect Service Networking config for instance: {project}:{name}:NETWORK_NOT_PEERED.")
        ranges = connection["reservedPeeringRanges"]
        if ip.get("allocatedIpRange"):
            if ip["allocatedIpRange"] not in ranges:
                raise invalid(f"The allocated IP range '{ip['allocatedIpRange']}' is not one of the reserved peering ranges of the private services connection of network {ip['privateNetwork']}.")
            ranges = [ip["allocatedIpRange"]]
        used = {m["ipAddress"] for i in self.instances.values() for m in i["res"].get("ipAddresses", []) if m["type"] == "PRIVATE"}
        # Other producers' blocks in the same ranges (Memorystore's /29s) are taken too.
        blocks = [ipaddress.ip_network(held, strict=False) for _, held in self.networking.users(p, network)]
        for r in ranges:
            address = self.compute.objects[(p, "global", "globalAddresses", r)]
            block = ipaddress.ip_network(f"{address['address']}/{address['prefixLength']}")
            # The range's first host addresses, as Cloud SQL's producer subnet hands them out.
            for offset in range(3, block.num_addresses - 1):
                candidate = str(block.network_address + offset)
                if candidate not in used and not any(ipaddress.ip_address(candidate) in b for b in blocks):
                    return candidate
        raise invalid(f"The allocated IP ranges {ranges} of network {ip['privateNetwork']} have no free address left.")

    def place(self, res):
        """Zones: the preferred one or the region's first; REGIONAL adds a secondary."""
        s, region = res["settings"], res["region"]
        where = s.setdefault("locationPreference", {"kind": "sql#locationPreference"})
        res["gceZone"] = where.setdefault("zone", f"{region}-a")
        res.pop("secondaryGceZone", None)
        if s["availabilityType"] == "REGIONAL":
            res["secondaryGceZone"] = where.get("secondaryZone") or (f"{region}-b" if res["gceZone"] != f"{region}-b" else f"{region}-c")

    def list(self, project, query, fields):
        keep = compile_filter((query.get("filter") or [""])[0], fields)
        names = sorted(n for (p, n), i in self.instances.items() if p == project and keep(i["res"]))
        return self.page(names, query, "sql#instancesList", lambda n: self.shown(self.instances[(project, n)]))

    def page(self, keys, query, kind, show):
        # 0 (what a client leaves unset) means the server's default, as on GCP.
        limit = int((query.get("maxResults") or ["0"])[0] or 0) or 500
        start = int((query.get("pageToken") or ["0"])[0] or 0)
        out = {"kind": kind}
        if keys[start : start + limit]:
            out["items"] = [show(k) for k in keys[start : start + limit]]
        if start + limit < len(keys):
            out["nextPageToken"] = str(start + limit)
        return out

    def changed(self, inst, body, settings):
        """Checks a patch's or update's new settings; the UPDATE operation applies them."""
        res = inst["res"]
        self.busy(inst)
        for field in ("name", "region", "project"):
            if field in body and body[field] != res[field]:
                raise invalid(f"The {field} of an instance cannot be changed ({res[field]} to {body[field]}).")
        if "databaseVersion" in body and body["databaseVersion"] != res["databaseVersion"]:
            raise ApiError(501, "Major version upgrades (a new databaseVersion) are not emulated.")
        given = (body.get("settings") or {}).get("settingsVersion")
        if given is not None and str(given) != res["settings"]["settingsVersion"]:
            raise ApiError(412, "The condition doesn't match: settingsVersion is not the instance's current one.", "staleData")
        settings["settingsVersion"] = res["settings"]["settingsVersion"]
        self.check_settings(res["databaseVersion"], settings, res["settings"])
        ips = self.addresses(res["project"], res["name"], settings, res)

        def apply():
            settings["settingsVersion"] = str(int(res["settings"]["settingsVersion"]) + 1)
            res["settings"], res["ipAddresses"] = settings, ips
            self.place(res)

        return self.start(inst, "UPDATE", apply)

    def patch(self, inst, body):
        settings = merge(copy.deepcopy(inst["res"]["settings"]), body.get("settings") or {})
        return self.changed(inst, body, self.complete(inst["res"]["project"], inst["res"]["databaseVersion"], settings))

    def update(self, inst, body):
        if not (body.get("settings") or {}).get("tier"):
            raise ApiError(400, "Missing parameter: Tier.")
        res = inst["res"]
        return self.changed(inst, body, self.complete(res["project"], res["databaseVersion"], copy.deepcopy(body["settings"])))

    def delete(self, inst, body):
        self.busy(inst)
        if inst["res"]["settings"]["deletionProtectionEnabled"]:
            raise invalid(
                "The instance is protected. Please disable the deletion protection and try again. To disable deletion "
                "protection, update the instance settings with deletionProtectionEnabled set to false."
            )
        res = inst["res"]
        res["state"] = "PENDING_DELETE"
        key = (res["project"], res["name"])

        def deleted():
            self.servers.release(inst["server"])
            self.instances.pop(key, None)
            self.deleted[key] = time.time()

        return self.start(inst, "DELETE", deleted)

    def restart(self, inst, body):
        self.busy(inst)
        self.running(inst)
        return self.start(inst, "RESTART", lambda: None)

    def busy(self, inst):
        """One operation at a time per instance, as Cloud SQL allows."""
        key = (inst["res"]["project"], inst["res"]["name"])
        if any(r["instance"] == key and r["op"]["status"] != "DONE" for r in self.operations.values()):
            raise ApiError(409, "Operation failed because another operation was already in progress.", "operationInProgress")

    def running(self, inst):
        if inst["res"]["state"] != "RUNNABLE":
            raise ApiError(400, NOT_RUNNING)

    def private_users(self, project, network):
        """Service Networking asks: (instance, private IP) of the instances on a network."""
        want = f"projects/{project}/global/networks/{network}"
        return [
            (f"projects/{p}/instances/{n}", m["ipAddress"])
            for (p, n), i in self.instances.items()
            if i["res"]["settings"]["ipConfiguration"].get("privateNetwork") == want
            for m in i["res"].get("ipAddresses", [])
            if m["type"] == "PRIVATE"
        ]

    def endpoint(self, name):
        """The control endpoint's view: where the instance's real PostgreSQL answers."""
        for (_, n), inst in sorted(self.instances.items()):
            if n == name:
                server = inst["server"]
                return {
                    "host": "127.0.0.1",
                    "port": server.port if server is not None else None,
                    "databases": sorted(inst["databases"]),
                    "users": sorted(inst["users"]),
                }
        return None

    # Databases and users: made on the instance's server at once, their operation after.

    def database_resource(self, inst, given):
        res = inst["res"]
        db = {k: v for k, v in given.items() if k not in ("etag", "selfLink")}
        db.setdefault("charset", "UTF8")
        db.setdefault("collation", "en_US.UTF8")
        db.update(
            {
                "kind": "sql#database",
                "instance": res["name"],
                "project": res["project"],
                "selfLink": f"{res['selfLink']}/databases/{db['name']}",
            }
        )
        return db

    def databases(self, verb, inst, rest, body):
        dbs = inst["databases"]
        if verb in ("list", "get"):
            self.running(inst)
            if verb == "list":
                return {"kind": "sql#databasesList", "items": [dict(dbs[n]) for n in sorted(dbs)]}
            return dict(self.must_have_database(inst, rest[0]))
        self.busy(inst)
        self.running(inst)
        if verb == "insert":
            name = body.get("name", "")
            if not name or len(name) > 63:
                raise invalid(f"Invalid database name ({name}): 1-63 characters.")
            failure = f'pq: database "{name}" already exists' if name in dbs else None
            failure = failure or run(inst["server"], f"CREATE DATABASE {ident(name)} OWNER cloudsqlsuperuser TEMPLATE template0 ENCODING {literal(body.get('charset', 'UTF8'))}")
            if failure:
                raise invalid(f"failed to create database {name}. Detail: {failure}\n.")
            dbs[name] = self.database_resource(inst, body)
            return self.start(inst, "CREATE_DATABASE", lambda: None)
        db = self.must_have_database(inst, rest[0])
        if verb == "delete":
            failure = run(inst["server"], f"DROP DATABASE {ident(db['name'])}")
            if failure:
                raise invalid(f"failed to delete database {db['name']}. Detail: {failure}\n.")
            del dbs[db["name"]]
            return self.start(inst, "DELETE_DATABASE", lambda: None)
        for field in ("name", "charset", "collation"):
            if field in body and body[field] != db[field]:
                raise invalid(f"The {field} of database {db['name']} cannot be changed ({db[field]} to {body[field]}).")
        return self.start(inst, "UPDATE_DATABASE", lambda: None)

    def must_have_database(self, inst, name):
        if name not in inst["databases"]:
            raise ApiError(404, f"The database '{name}' does not exist in instance '{inst['res']['name']}'.")
        return inst["databases"][name]

    def user_resource(self, inst, name):
        res = inst["res"]
        # `type` BUILT_IN is the enum's zero value, which proto3 JSON leaves out.
        return {"kind": "sql#user", "name": name, "instance": res["name"], "project": res["project"]}

    def users(self, verb, inst, rest, query, body):
        users = inst["users"]
        if verb in ("list", "get"):
            self.running(inst)
            if verb == "list":
                return {"kind": "sql#usersList", "items": [self.user_resource(inst, n) for n in sorted(users)]}
            return self.user_resource(inst, self.must_have_user(inst, rest[0]))
        self.busy(inst)
        self.running(inst)
        if body.get("type", "BUILT_IN") != "BUILT_IN":
            raise ApiError(501, f"{body['type']} users are not emulated: only BUILT_IN ones.")
        password = body.get("password")
        if verb == "insert":
            name = body.get("name", "")
            if not name or len(name) > 63:
                raise invalid(f"Invalid user name ({name}): 1-63 characters.")
            failure = f'pq: role "{name}" already exists' if name in users else None
            with_password = f" PASSWORD {literal(password)}" if password else ""
            failure = failure or run(inst["server"], f"CREATE ROLE {ident(name)} LOGIN CREATEDB CREATEROLE IN ROLE cloudsqlsuperuser{with_password}")
            if failure:
                raise invalid(f"failed to create user {name}. Detail: {failure}\n.")
            users.add(name)
            return self.start(inst, "CREATE_USER", lambda: None)
        name = self.must_have_user(inst, (query.get("name") or [""])[0])
        if verb == "delete":
            failure = run(inst["server"], f"DROP ROLE {ident(name)}")
            if failure:
                raise invalid(f"failed to delete user {name}. Detail: {failure}\n.")
            users.discard(name)
            return self.start(inst, "DELETE_USER", lambda: None)
        if password is not None:
            failure = run(inst["server"], f"ALTER ROLE {ident(name)} PASSWORD {literal(password)}")
            if failure:
                raise invalid(f"failed to update user {name}. Detail: {failure}\n.")
        return self.start(inst, "UPDATE_USER", lambda: None)

    def must_have_user(self, inst, name):
        if not name:
            raise invalid("Missing parameter: name.")
        if name not in inst["users"]:
            raise ApiError(404, f"The user '{name}' does not exist in instance '{inst['res']['name']}'.")
        return name

    # Operations: PENDING -> RUNNING -> DONE over `op_polls` polls, or after `op_ms`.

    def start(self, inst, kind, effect):
        res = inst["res"]
        name = str(uuid.uuid4())
        op = {
            "kind": "sql#operation",
            "name": name,
            "operationType": kind,
            "status": "PENDING",
            "user": CALLER,
            "insertTime": now_rfc3339(),
            "targetId": res["name"],
            "targetProject": res["project"],
            "targetLink": res["selfLink"],
            "selfLink": f"{BASE}projects/{res['project']}/operations/{name}",
        }
        record = {"op": op, "effect": effect, "polls": 0, "started": time.time(), "instance": (res["project"], res["name"])}
        self.operations[(res["project"], name)] = record
        if self.settings.op_polls == 0:
            self.advance(record, finish=True)
        return dict(op)

    def advance(self, record, finish=False):
        op = record["op"]
        if op["status"] == "DONE":
            return
        record["polls"] += 1
        op.setdefault("startTime", now_rfc3339())
        if finish or record["polls"] >= self.settings.op_polls:
            record["effect"]()
            op.update({"status": "DONE", "endTime": now_rfc3339()})
        else:
            op["status"] = "RUNNING"

    def settle(self):
        if self.settings.op_ms <= 0:
            return
        now = time.time()
        for record in list(self.operations.values()):
            if record["op"]["status"] != "DONE" and now - record["started"] >= self.settings.op_ms / 1000.0:
                self.advance(record, finish=True)

    def operation(self, project, name):
        record = self.operations.get((project, name))
        if record is None:
            raise ApiError(404, "The Cloud SQL instance operation does not exist.", "operationDoesNotExist")
        self.advance(record)
        return dict(record["op"])

    def list_operations(self, project, query):
        instance = (query.get("instance") or [None])[0]
        keys = [
            k
            for k, r in reversed(list(self.operations.items()))
            if k[0] == project and (instance is None or r["instance"][1] == instance)
        ]
        return self.page(keys, query, "sql#operationsList", lambda k: dict(self.operations[k]["op"]))


def custom_tier_ok(tier):
    """db-custom-CPUS-MiB: 1 or an even 2-96 vCPUs; memory a multiple of 256 MiB, at least
    3840 MiB, and 0.9-6.5 GiB per vCPU."""
    m = CUSTOM.fullmatch(tier)
    if not m:
        return False
    cpus, mib = int(m.group(1)), int(m.group(2))
    return (
        (cpus == 1 or (cpus % 2 == 0 and 2 <= cpus <= 96))
        and mib % 256 == 0
        and mib >= 3840
        and 0.9 * 1024 * cpus <= mib <= 6.5 * 1024 * cpus
    )


def compile_filter(text, fields):
    """Cloud SQL's instance list filter: `field.path:value` (or `=`) terms, space-separated
    or joined by AND, a term true when the field's value (booleans as true/false) equals the
    value, `*` for present; `settings.userLabels.env:prod`, `name:db-1`, `state:RUNNABLE`.
    OR, NOT, negation and fields DatabaseInstance lacks are refused, never ignored."""
    text = text.strip()
    if not text:
        return lambda res: True
    tests = []
    for term in re.findall(r'(?:[^\s"]|"[^"]*")+', text):
        if term == "AND":
            continue
        m = re.fullmatch(r'([A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)*)([:=])"?([^"]*)"?', term)
        if not m or m.group(1).split(".")[0] not in fields:
            raise ApiError(400, f"Invalid request: Invalid filter ({text}): expected field:value terms on DatabaseInstance fields, joined by AND.")
        path, _, want = m.groups()

        def test(res, path=path.split("."), want=want):
            got = res
            for part in path:
                got = got.get(part) if isinstance(got, dict) else None
            if got is None or isinstance(got, (dict, list)):
                return got is not None and want == "*"
            shown = str(got).lower() if isinstance(got, bool) else str(got)
            return want == "*" or shown == want

        tests.append(test)
    return lambda res: all(t(res) for t in tests)
