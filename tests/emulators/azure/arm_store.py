"""The Azure emulator's resource store: resource groups, resources and their long-running
operations, embedded children (a network's subnets, a security group's rules) and the
references that make a resource in use. See cairn_azure.py for the whole; this module holds
state and ARM's generic rules, the HTTP handler there routes to it.
"""

import base64
import json
import os
import time
import uuid

from arm_contract import ArmError

# The code a resource provider refuses a delete with while another resource names the one
# being deleted (an NSG attached to a subnet, a subnet a server is delegated).
IN_USE = {
    "microsoft.network/networksecuritygroups": "InUseNetworkSecurityGroupCannotBeDeleted",
    "microsoft.network/virtualnetworks/subnets": "InUseSubnetCannotBeDeleted",
    "microsoft.network/natgateways": "InUseNatGatewayCannotBeDeleted",
    "microsoft.network/publicipaddresses": "PublicIPAddressInUseByAnotherResource",
    "microsoft.network/applicationsecuritygroups": "InUseApplicationSecurityGroupCannotBeDeleted",
}

# Children ARM answers inside their parent, and takes from a PUT of the parent: the
# parent's property, and the children's type segment. A parent's PUT sets the whole list
# (a child it leaves out is deleted, refused while in use), as Microsoft.Network does.
EMBEDDED = {
    "microsoft.network/virtualnetworks": ("subnets", "subnets"),
    "microsoft.network/networksecuritygroups": ("securityRules", "securityRules"),
}
# The rules every network security group has, below any of its own.
DEFAULT_RULES = [
    ("AllowVnetInBound", "Inbound", "Allow", 65000, "VirtualNetwork", "VirtualNetwork"),
    ("AllowAzureLoadBalancerInBound", "Inbound", "Allow", 65001, "AzureLoadBalancer", "*"),
    ("DenyAllInBound", "Inbound", "Deny", 65500, "*", "*"),
    ("AllowVnetOutBound", "Outbound", "Allow", 65000, "VirtualNetwork", "VirtualNetwork"),
    ("AllowInternetOutBound", "Outbound", "Allow", 65001, "*", "Internet"),
    ("DenyAllOutBound", "Outbound", "Deny", 65500, "*", "*"),
]


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())


class Arm:
    """Resource groups, resources and their long-running operations."""

    def __init__(self, settings, on_removed):
        self.settings = settings  # op_polls, op_ms: when an operation ends
        self.on_removed = on_removed  # told (id, type) of each resource forgotten
        self.groups = {}  # (subscription, group lower) -> resource group
        self.resources = {}  # id lower -> resource
        self.operations = {}  # operation id -> record
        self.deleted_vaults = {}  # vault name lower -> (deleted vault, the vault as it was)
        self.keys = {}  # resource id lower -> (primary, secondary)
        self.secret_values = {}  # secret id lower -> value (never answered)

    def reset(self):
        """Forget every group, resource, operation and key."""
        self.__init__(self.settings, self.on_removed)

    # --- operations ---------------------------------------------------------------------

    def start(self, base, subscription, namespace, location, finish, api):
        """A long-running operation that runs `finish` when it is done; its two URLs."""
        op_id = str(uuid.uuid4())
        self.operations[op_id] = {"polls": 0, "started": time.time(), "finish": finish, "status": "InProgress", "start": now()}
        root = f"{base}/subscriptions/{subscription}/providers/{namespace}/locations/{location}"
        return (
            f"{root}/operations/{op_id}?api-version={api}",
            f"{root}/operationResults/{op_id}?api-version={api}",
        )

    def advance(self, op_id, polled):
        record = self.operations[op_id]
        if polled:
            record["polls"] += 1
        done = record["polls"] >= self.settings.op_polls or (self.settings.op_ms and time.time() - record["started"] >= self.settings.op_ms / 1000.0)
        if record["status"] == "InProgress" and done:
            record["finish"]()
            record["status"] = "Succeeded"
            record["end"] = now()
        return record

    def settle(self):
        """Finish what has run its time, without counting a poll."""
        for op_id in list(self.operations):
            self.advance(op_id, False)

    # --- resource groups -----------------------------------------------------------------

    def group(self, subscription, name):
        g = self.groups.get((subscription, name.lower()))
        if g is None or g["properties"]["provisioningState"] == "Deleting":
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")
        return g

    def put_group(self, subscription, name, body):
        key = (subscription, name.lower())
        existed = key in self.groups
        if existed and self.groups[key]["properties"]["provisioningState"] == "Deleting":
            raise ArmError(409, "ResourceGroupBeingDeleted", f"The resource group '{name}' is in deprovisioning state and cannot perform this operation.")
        g = {
            "id": f"/subscriptions/{subscription}/resourceGroups/{self.groups[key]['name'] if existed else name}",
            "name": self.groups[key]["name"] if existed else name,
            "type": "Microsoft.Resources/resourceGroups",
            "location": body["location"],
            "properties": {"provisioningState": "Succeeded"},
        }
        if existed and body["location"].lower() != self.groups[key]["location"].lower():
            raise ArmError(409, "InvalidResourceGroupLocation", f"Invalid resource group location '{body['location']}'. The Resource group already exists in location '{self.groups[key]['location']}'.")
        for k in ("tags", "managedBy"):
            if k in body:
                g[k] = body[k]
        self.groups[key] = g
        return (200 if existed else 201), g

    def delete_group(self, base, subscription, name, api):
        g = self.group(subscription, name)
        g["properties"]["provisioningState"] = "Deleting"
        prefix = g["id"].lower() + "/"

        def finish():
            self.remove([r for r in self.resources if r.startswith(prefix)])
            self.groups.pop((subscription, name.lower()), None)

        _, location = self.start(base, subscription, "Microsoft.Resources", "global", finish, api)
        return location

    # --- resources -----------------------------------------------------------------------

    def parent_of(self, rid):
        """The id of a child's parent (`.../vnets/v/subnets/s` -> `.../vnets/v`), or None."""
        parts = rid.split("/")
        at = [i for i, p in enumerate(parts) if p.lower() == "providers"][-1]
        tail = parts[at + 2:]  # type/name pairs after the namespace
        return "/".join(parts[:-2]) if len(tail) > 2 else None

    def type_of(self, rid):
        parts = rid.split("/")
        at = [i for i, p in enumerate(parts) if p.lower() == "providers"][-1]
        tail = parts[at + 2:]
        return "/".join([parts[at + 1]] + tail[0::2])

    def referenced(self, value):
        """The resource ids a body names (`{"id": ...}` objects, `...ResourceId` fields)."""
        found = []
        if isinstance(value, dict):
            for k, v in value.items():
                if isinstance(v, str) and v.lower().startswith("/subscriptions/") and (k == "id" or k.endswith("ResourceId")):
                    found.append(v.lower())
                else:
                    found += self.referenced(v)
        elif isinstance(value, list):
            for v in value:
                found += self.referenced(v)
        return found

    def user(self, rid):
        """A resource (not a child of `rid`) naming `rid`, or None."""
        for other, r in self.resources.items():
            if other == rid or other.startswith(rid + "/"):
                continue
            body = {k: v for k, v in r.items() if k != "id"}
            if rid in self.referenced(body):
                return r["id"]
        return None

    def remove(self, rids):
        """Forget resources, children first, telling the services that keep more (a
        flexible server's real PostgreSQL)."""
        for rid in sorted(rids, key=len, reverse=True):
            if self.resources.pop(rid, None) is not None:
                self.on_removed(rid, self.type_of(rid).lower())

    def keys_of(self, rid):
        if rid not in self.keys:
            make = lambda: base64.b64encode(os.urandom(32)).decode()  # noqa: E731
            self.keys[rid] = (make(), make())
        return self.keys[rid]

    def get(self, rid):
        r = self.resources.get(rid.lower())
        if r is None:
            name = rid.split("/")[-1]
            raise ArmError(404, "ResourceNotFound", f"The Resource '{self.type_of(rid)}/{name}' under resource group '{rid.split('/')[4]}' was not found.")
        return r

    def view(self, resource):
        """A resource as ARM answers it: with its embedded children (a network's subnets,
        a security group's rules and default rules, the subnets it is attached to)."""
        out = json.loads(json.dumps(resource))
        kind = self.type_of(resource["id"]).lower()
        if kind in EMBEDDED:
            prop, segment = EMBEDDED[kind]
            prefix = resource["id"].lower() + "/" + segment.lower() + "/"
            out.setdefault("properties", {})[prop] = [
                self.view(r) for rid, r in sorted(self.resources.items()) if rid.startswith(prefix) and "/" not in rid[len(prefix):]
            ]
        if kind == "microsoft.network/networksecuritygroups":
            out["properties"]["defaultSecurityRules"] = [
                {
                    "id": f"{resource['id']}/defaultSecurityRules/{name}",
                    "name": name,
                    "type": "Microsoft.Network/networkSecurityGroups/defaultSecurityRules",
                    "properties": {
                        "protocol": "*", "sourcePortRange": "*", "destinationPortRange": "*",
                        "sourceAddressPrefix": source, "destinationAddressPrefix": destination,
                        "access": access, "priority": priority, "direction": direction,
                        "provisioningState": "Succeeded",
                    },
                }
                for name, direction, access, priority, source, destination in DEFAULT_RULES
            ]
            attached = [
                {"id": r["id"]} for r in self.resources.values()
                if self.type_of(r["id"]).lower() == "microsoft.network/virtualnetworks/subnets"
                and ((r.get("properties") or {}).get("networkSecurityGroup") or {}).get("id", "").lower() == resource["id"].lower()
            ]
            if attached:
                out["properties"]["subnets"] = attached
        return out

    def embed(self, path, resource):
        """Take a parent's embedded children out of its body: the children it lists are
        put, those it leaves out deleted (refused first while any is in use)."""
        kind = self.type_of(path).lower()
        if kind not in EMBEDDED:
            return
        prop, segment = EMBEDDED[kind]
        listed = (resource.get("properties") or {}).pop(prop, None) or []
        prefix = path.lower() + "/" + segment.lower() + "/"
        wanted = {}
        for child in listed:
            name = child.get("name")
            if not name:
                raise ArmError(400, "InvalidRequestFormat", f"Every item of properties.{prop} needs a name.")
            wanted[(prefix + name).lower()] = child
        existing = [rid for rid in self.resources if rid.startswith(prefix) and "/" not in rid[len(prefix):]]
        for rid in existing:
            if rid not in wanted:
                user = self.user(rid)
                if user is not None:
                    code = IN_USE.get(self.type_of(rid).lower(), "InUseResourceCannotBeDeleted")
                    raise ArmError(400, code, f"{self.resources[rid]['name']} is in use by {user} and cannot be deleted.")
        self.remove([rid for rid in existing if rid not in wanted])
        for rid, child in wanted.items():
            props = dict(child.get("properties") or {})
            props["provisioningState"] = "Succeeded"
            self.resources[rid] = {
                "id": self.resources[rid]["id"] if rid in self.resources else f"{path}/{segment}/{child['name']}",
                "name": child["name"],
                "type": self.type_of(f"{path}/{segment}/{child['name']}"),
                "properties": props,
            }


def merge(target, patch):
    """JSON merge patch (RFC 7396): objects merged, null removes, anything else replaces."""
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        elif isinstance(v, dict) and isinstance(target.get(k), dict):
            merge(target[k], v)
        else:
            target[k] = v
    return target
