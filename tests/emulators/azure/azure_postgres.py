"""Azure Database for PostgreSQL flexible servers as the Azure emulator serves them: each
server is a real PostgreSQL server on loopback (the AWS emulator's local_postgres.py,
shared through its `ServerPool`), so the stack's databases exist there and a test logs in
as the administrator with the password the API was given. See cairn_azure.py for the whole.

What the service checks before it accepts a server, as its documentation states them
(the swagger carries types and enums, not these rules): the name (3-63 characters: lower
case letters, digits, hyphens, neither first nor last a hyphen); an administrator login
that is not reserved (`azure_superuser`, `azure_pg_admin`, `admin`, `administrator`,
`root`, `guest`, `public`, nor `pg_...`) and a password of 8-128 characters from three of
the four classes (upper, lower, digit, other); a SKU name of the tier's family
(Burstable `Standard_B*`, GeneralPurpose `Standard_D*`, MemoryOptimized `Standard_E*`);
storage of one of the offered sizes (32 GiB ... 32 TiB), never shrunk; backup retention of
7-35 days; geo-redundant backup chosen at create only; zone-redundant high availability
not on Burstable, its standby in another zone than the primary; private access through a
subnet delegated to `Microsoft.DBforPostgreSQL/flexibleServers` with a private DNS zone
named `*.postgres.database.azure.com` linked to that subnet's network (public access is
then off). The major version cannot change in place. The password is never answered.

Each server comes with the databases `postgres`, `azure_maintenance` and `azure_sys`, and
its configurations are the real server's settings (`pg_settings`): a value is checked
against the setting's type and range, then set with ALTER SYSTEM and a reload; a setting
that needs a restart says so (`isConfigPendingRestart`).
"""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "aws"))
import local_postgres  # noqa: E402  (shared with the AWS and GCP emulators)

from arm_contract import ArmError  # noqa: E402

ident = local_postgres._ident
literal = local_postgres._literal

SERVERS = "microsoft.dbforpostgresql/flexibleservers"
DATABASES = SERVERS + "/databases"
CONFIGURATIONS = SERVERS + "/configurations"
DELEGATION = "microsoft.dbforpostgresql/flexibleservers"

STORAGE_GB = (32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768)
RESERVED_LOGINS = {"azure_superuser", "azure_pg_admin", "admin", "administrator", "root", "guest", "public"}
BUILT_IN_DATABASES = ("postgres", "azure_maintenance", "azure_sys")
SKU_FAMILY = {"burstable": "Standard_B", "generalpurpose": "Standard_D", "memoryoptimized": "Standard_E"}
# The minor version the service reports per major (read-only `minorVersion`).
MINOR = {"11": "22", "12": "22", "13": "20", "14": "17", "15": "12", "16": "8"}
NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,61})[a-z0-9]$")
DATA_TYPES = {"bool": "Boolean", "enum": "Enumeration", "integer": "Integer", "real": "Numeric", "string": "String"}


def refuse(code, message):
    return ArmError(400, code, message)


class FlexibleServers:
    def __init__(self):
        self.pool = local_postgres.ServerPool(
            "cairn-azure",
            # The service's stand-in for a superuser: the administrator is a member of it.
            ["CREATE ROLE azure_pg_admin NOLOGIN CREATEDB CREATEROLE"],
            lambda: ArmError(503, "ServiceUnavailable", "The service is currently unavailable (no local PostgreSQL server started in a minute)."),
            # Azure's own superuser: `postgres` is a login the administrator may take.
            superuser="azure_superuser",
        )
        self.servers = {}  # server id lower -> LocalPostgres (or None without PostgreSQL)

    def reset(self):
        for server in self.servers.values():
            self.pool.release(server)
        self.servers = {}

    # --- servers -------------------------------------------------------------------------

    def put_server(self, arm, rid, old, resource, secrets, reserved):
        """Check a server's PUT and fill in what the service answers; `reserved` is a
        started PostgreSQL server taken before the lock (consumed by a create)."""
        props = resource.setdefault("properties", {})
        name = resource["name"]
        password = secrets.get("properties.administratorLoginPassword")
        if old is None:
            if not NAME.match(name):
                raise refuse("InvalidServerName", f"Server name '{name}' is invalid: 3-63 characters of lower case letters, digits and hyphens, not starting or ending with a hyphen.")
            login = props.get("administratorLogin")
            if not login:
                raise refuse("InvalidParameterValue", "The property 'properties.administratorLogin' is required to create a server.")
            if login.lower() in RESERVED_LOGINS or login.lower().startswith("pg_"):
                raise refuse("InvalidAdministratorLogin", f"The administrator login '{login}' is reserved: choose another name.")
            if password is None:
                raise refuse("InvalidParameterValue", "The property 'properties.administratorLoginPassword' is required to create a server.")
        else:
            for keep in ("administratorLogin", "fullyQualifiedDomainName", "minorVersion"):
                if keep in old["properties"]:
                    props[keep] = old["properties"][keep]
        if password is not None:
            check_password(password, props.get("administratorLogin", ""))
        self.check(arm, old, resource)
        server = self.servers.get(rid)
        if old is None:
            server = reserved
            if server is not None:
                login = props["administratorLogin"]
                server.sql(f"CREATE ROLE {ident(login)} LOGIN CREATEDB CREATEROLE PASSWORD {literal(password)} IN ROLE azure_pg_admin")
                for db in BUILT_IN_DATABASES[1:]:
                    server.sql(f"CREATE DATABASE {ident(db)}")
            self.servers[rid] = server
            for db in BUILT_IN_DATABASES:
                arm.resources[f"{rid}/databases/{db}"] = database_resource(resource["id"], db, "UTF8", "en_US.utf8")
            for conf in self.settings(resource["id"], server):
                arm.resources[conf["id"].lower()] = conf
        elif password is not None and server is not None:
            server.sql(f"ALTER ROLE {ident(props['administratorLogin'])} PASSWORD {literal(password)}")
        props.update(
            fullyQualifiedDomainName=f"{name}.postgres.database.azure.com",
            minorVersion=MINOR.get(props["version"], "0"),
            state="Ready",
        )
        return True

    def check(self, arm, old, resource):
        """The service's rules for a server as it will be (`old` merged with the request)."""
        props = resource["properties"]
        before = (old or {}).get("properties", {})
        sku = resource.get("sku") or (old or {}).get("sku")
        if sku is None:
            raise refuse("InvalidParameterValue", "The property 'sku' is required to create a server.")
        tier = sku.get("tier", "")
        family = SKU_FAMILY.get(tier.lower())
        if family and not sku.get("name", "").startswith(family):
            raise refuse("InvalidSkuName", f"SKU '{sku.get('name')}' is not offered in the {tier} tier (its names start with {family}).")
        props.setdefault("version", before.get("version", "16"))
        if old is not None and props["version"] != before.get("version"):
            raise refuse("InvalidParameterValue", f"The major version cannot change in place ({before.get('version')} to {props['version']}): use a major version upgrade.")
        storage = {**before.get("storage", {"storageSizeGB": 128, "autoGrow": "Disabled", "tier": "P10", "type": "Premium_LRS"}), **props.get("storage", {})}
        size = storage.get("storageSizeGB")
        if size not in STORAGE_GB:
            raise refuse("InvalidStorageSize", f"Storage size {size} GB is not offered: choose one of {', '.join(map(str, STORAGE_GB))}.")
        if old is not None and size < before.get("storage", {}).get("storageSizeGB", 0):
            raise refuse("StorageSizeDecreaseNotSupported", f"Storage cannot shrink ({before['storage']['storageSizeGB']} GB to {size} GB).")
        props["storage"] = storage
        backup = {**before.get("backup", {"backupRetentionDays": 7, "geoRedundantBackup": "Disabled"}), **props.get("backup", {})}
        days = backup.get("backupRetentionDays")
        if not isinstance(days, int) or not 7 <= days <= 35:
            raise refuse("InvalidBackupRetentionDays", f"Backup retention of {days} days is not offered: 7 to 35.")
        if old is not None and backup.get("geoRedundantBackup", "Disabled").lower() != before.get("backup", {}).get("geoRedundantBackup", "Disabled").lower():
            raise refuse("GeoRedundantBackupCannotBeChanged", "Geo-redundant backup is chosen when a server is created and cannot change.")
        backup["earliestRestoreDate"] = before.get("backup", {}).get("earliestRestoreDate") or local_now()
        props["backup"] = backup
        ha = {**before.get("highAvailability", {"mode": "Disabled", "standbyAvailabilityZone": ""}), **props.get("highAvailability", {})}
        if ha.get("mode", "Disabled").lower() != "disabled":
            if tier.lower() == "burstable":
                raise refuse("HANotSupportedForBurstableSkus", "High availability is not offered in the Burstable tier.")
            zone = props.get("availabilityZone") or before.get("availabilityZone")
            if ha["mode"].lower() == "zoneredundant" and zone and ha.get("standbyAvailabilityZone") == zone:
                raise refuse("InvalidParameterValue", f"A zone-redundant standby must be in another zone than the primary ({zone}).")
            ha["state"] = "Healthy"
        else:
            ha["state"] = "NotEnabled"
        props["highAvailability"] = ha
        network = {**before.get("network", {}), **props.get("network", {})}
        subnet_id = network.get("delegatedSubnetResourceId")
        if old is not None and (subnet_id or "").lower() != (before.get("network", {}).get("delegatedSubnetResourceId") or "").lower():
            raise refuse("InvalidParameterValue", "A server's network access (delegated subnet) is chosen when it is created and cannot change.")
        if subnet_id:
            self.check_private_access(arm, subnet_id, network)
            network["publicNetworkAccess"] = "Disabled"
        else:
            network.setdefault("publicNetworkAccess", "Enabled")
        props["network"] = network

    def check_private_access(self, arm, subnet_id, network):
        subnet = arm.resources.get(subnet_id.lower())
        if subnet is None:
            raise refuse("SubnetNotFound", f"The subnet '{subnet_id}' was not found.")
        services = [d.get("properties", {}).get("serviceName", "").lower() for d in subnet.get("properties", {}).get("delegations", [])]
        if DELEGATION not in services:
            raise refuse("SubnetNotDelegated", f"The subnet '{subnet_id}' is not delegated to Microsoft.DBforPostgreSQL/flexibleServers.")
        if network.get("publicNetworkAccess", "Disabled").lower() == "enabled":
            raise refuse("InvalidParameterValue", "Public network access cannot be enabled on a server with private access (a delegated subnet).")
        zone_id = network.get("privateDnsZoneArmResourceId")
        if not zone_id:
            raise refuse("PrivateDnsZoneRequired", "A server with private access needs 'network.privateDnsZoneArmResourceId'.")
        zone = arm.resources.get(zone_id.lower())
        if zone is None:
            raise refuse("PrivateDnsZoneNotFound", f"The private DNS zone '{zone_id}' was not found.")
        if not zone["name"].lower().endswith(".postgres.database.azure.com"):
            raise refuse("InvalidPrivateDnsZoneName", f"The private DNS zone '{zone['name']}' must end with '.postgres.database.azure.com'.")
        vnet = subnet_id.lower().rsplit("/subnets/", 1)[0]
        links = [r for k, r in arm.resources.items() if k.startswith(zone_id.lower() + "/virtualnetworklinks/")]
        if not any((r.get("properties", {}).get("virtualNetwork", {}).get("id") or "").lower() == vnet for r in links):
            raise refuse("PrivateDnsZoneNotLinked", f"The private DNS zone '{zone['name']}' is not linked to the subnet's virtual network.")

    def settings(self, server_id, server):
        """The server's configurations, from its real settings (none without PostgreSQL)."""
        if server is None:
            return []
        rows = server.rows(
            "SELECT name, setting, COALESCE(boot_val, ''), vartype, COALESCE(min_val, ''), COALESCE(max_val, ''), "
            "COALESCE(array_to_string(enumvals, ','), ''), context, COALESCE(unit, ''), replace(short_desc, '|', ' ') "
            "FROM pg_settings ORDER BY name"
        )
        out = []
        for row in rows:
            name, value, default, vartype, low, high, enum, context, unit, desc = row.split("|", 9)
            allowed = {"bool": "on,off", "enum": enum, "integer": f"{low}-{high}", "real": f"{low}-{high}"}.get(vartype, "")
            out.append({
                "id": f"{server_id}/configurations/{name}",
                "name": name,
                "type": "Microsoft.DBforPostgreSQL/flexibleServers/configurations",
                "properties": {
                    "value": value,
                    "description": desc,
                    "defaultValue": default,
                    "dataType": DATA_TYPES.get(vartype, "String"),
                    "allowedValues": allowed,
                    "source": "system-default",
                    "isDynamicConfig": context not in ("postmaster", "internal"),
                    "isReadOnly": context == "internal",
                    "isConfigPendingRestart": False,
                    "unit": unit,
                },
            })
        return out

    # --- configurations and databases -----------------------------------------------------

    def put_configuration(self, arm, rid, old, resource):
        name = resource["name"]
        if old is None:
            raise ArmError(404, "ConfigurationNotFound", f"The configuration '{name}' does not exist on this server.")
        props = {**old["properties"], **{k: v for k, v in resource.get("properties", {}).items() if k in ("value", "source")}}
        value = str(props.get("value", ""))
        if old["properties"]["isReadOnly"]:
            raise refuse("ConfigurationIsReadOnly", f"The configuration '{name}' cannot be changed.")
        check_value(name, value, old["properties"])
        server = self.servers.get(rid.rsplit("/configurations/", 1)[0])
        if server is not None:
            error = server.error_of(f"ALTER SYSTEM SET {ident(name)} = {literal(value)}")
            if error is not None:
                raise refuse("InvalidParameterValue", f"The value '{value}' of configuration '{name}' was refused: {error.split('ERROR:', 1)[-1].strip()}")
            server.sql("SELECT pg_reload_conf()")
        props["source"] = "user-override"
        props["isConfigPendingRestart"] = not props["isDynamicConfig"] and value != old["properties"]["value"]
        resource["properties"] = props

    def put_database(self, arm, rid, old, resource):
        if old is not None:
            return
        server = self.servers.get(rid.rsplit("/databases/", 1)[0])
        name = resource["name"]
        props = resource.setdefault("properties", {})
        charset, collation = props.setdefault("charset", "UTF8"), props.setdefault("collation", "en_US.utf8")
        if server is None:
            return
        owner = arm.resources[rid.rsplit("/databases/", 1)[0]]["properties"]["administratorLogin"]
        create = f"CREATE DATABASE {ident(name)} OWNER {ident(owner)} ENCODING {literal(charset)} TEMPLATE template0"
        error = server.error_of(f"{create} LC_COLLATE {literal(collation)} LC_CTYPE {literal(collation)}")
        if error is not None and "invalid locale name" in error:
            # This machine lacks the locale Azure's servers have (en_US.utf8): the database
            # gets the server's own, and the API keeps answering the one asked for.
            error = server.error_of(create)
        if error is not None:
            raise refuse("DatabaseCreateFailed", f"Database '{name}' could not be created: {error.split('ERROR:', 1)[-1].strip()}")

    def removed(self, rid, kind):
        """A resource gone from ARM: its server stopped, or its database dropped."""
        if kind == SERVERS:
            self.pool.release(self.servers.pop(rid, None))
        elif kind == DATABASES:
            server_id, name = rid.rsplit("/databases/", 1)
            server = self.servers.get(server_id)
            if server is not None:
                server.sql(f"DROP DATABASE IF EXISTS {ident(name)} WITH (FORCE)", check=False)

    def view(self, name):
        """The control endpoint's view of a server: where its real PostgreSQL answers."""
        for rid, server in self.servers.items():
            if rid.rsplit("/", 1)[1] == name.lower():
                if server is None:
                    return {"name": name, "host": None, "port": None, "databases": []}
                databases = server.rows("SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY datname")
                return {"name": name, "host": "127.0.0.1", "port": server.port, "databases": databases}
        return None


def database_resource(server_id, name, charset, collation):
    return {
        "id": f"{server_id}/databases/{name}",
        "name": name,
        "type": "Microsoft.DBforPostgreSQL/flexibleServers/databases",
        "properties": {"charset": charset, "collation": collation},
    }


def check_password(password, login):
    classes = sum(bool(re.search(p, password)) for p in (r"[A-Z]", r"[a-z]", r"[0-9]", r"[^A-Za-z0-9]"))
    if not 8 <= len(password) <= 128 or classes < 3 or (login and login.lower() in password.lower()):
        raise refuse(
            "InvalidPasswordComplexity" if 8 <= len(password) <= 128 else "InvalidPasswordLength",
            "The administrator password must be 8-128 characters from three of: upper case letters, lower case letters, digits, other characters; and must not contain the login.",
        )


def check_value(name, value, props):
    kind, allowed = props["dataType"], props["allowedValues"]
    bad = False
    if kind == "Boolean":
        bad = value.lower() not in ("on", "off", "true", "false", "1", "0", "yes", "no")
    elif kind == "Enumeration":
        bad = value.lower() not in [a.lower() for a in allowed.split(",")]
    elif kind in ("Integer", "Numeric") and "-" in allowed[1:]:
        low, high = allowed.rsplit("-", 1) if not allowed.startswith("-") else ("-" + allowed[1:].split("-", 1)[0], allowed[1:].split("-", 1)[1])
        try:
            number = float(value)
            bad = number < float(low) or number > float(high) or (kind == "Integer" and number != int(number))
        except ValueError:
            bad = True
    if bad:
        raise refuse("InvalidParameterValue", f"The value '{value}' is not valid for configuration '{name}' ({kind}, allowed: {allowed}).")


def local_now():
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
