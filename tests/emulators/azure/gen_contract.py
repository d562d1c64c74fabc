"""Regenerate arm_contract.json, the part of Azure's published API contract the emulator
checks requests against, from the azure-rest-api-specs swagger files (development time
only: the emulator reads the generated file, never the specs).

    python3 tests/emulators/azure/gen_contract.py SPEC_ROOT [SPEC_ROOT ...]

Each SPEC_ROOT holds `specification/...` as in Azure/azure-rest-api-specs (the stored set in
../shared/api-specs/azure, plus a root of the files that set lacks, read from the
repository at the commits the generated contract lists under `fetched`, with a
SOURCES.txt of `path commit size` lines). A `$ref` is looked for under every root. A file
none of the roots holds but the current contract was made from (a fetched file this
machine no longer has) is kept from the current contract: its operations, definitions and
provenance line, so adding one file never needs every earlier one fetched again. For each operation of the files
below: method, path template, api-version, whether it is long-running (and its
final-state-via), its body schema and response codes; for each definition reached: JSON
type, read-only, required, enum values (and whether the enum is open, `modelAsString`),
format, pattern, bounds, defaults, mutability, secrets. Descriptions and examples are
dropped.
"""

import json
import os
import sys

# Files and the operations kept from each (a prefix of the operationId; "" keeps all).
SPEC_FILES = {
    "network/resource-manager/Microsoft.Network/stable/2024-03-01/virtualNetwork.json": ("VirtualNetworks_", "Subnets_"),
    "network/resource-manager/Microsoft.Network/stable/2024-03-01/networkSecurityGroup.json": ("NetworkSecurityGroups_", "SecurityRules_"),
    "network/resource-manager/Microsoft.Network/stable/2024-03-01/publicIpAddress.json": ("PublicIPAddresses_",),
    "network/resource-manager/Microsoft.Network/stable/2024-03-01/loadBalancer.json": ("LoadBalancers_",),
    "network/resource-manager/Microsoft.Network/stable/2024-03-01/natGateway.json": ("NatGateways_",),
    "network/resource-manager/Microsoft.Network/stable/2024-03-01/applicationSecurityGroup.json": ("ApplicationSecurityGroups_",),
    "network/resource-manager/Microsoft.Network/stable/2024-03-01/applicationGateway.json": ("ApplicationGateways_",),
    "network/resource-manager/Microsoft.Network/stable/2024-03-01/privateEndpoint.json": ("PrivateEndpoints_", "PrivateDnsZoneGroups_"),
    "postgresql/resource-manager/Microsoft.DBforPostgreSQL/stable/2024-08-01/FlexibleServers.json": ("Servers_",),
    "postgresql/resource-manager/Microsoft.DBforPostgreSQL/stable/2024-08-01/Databases.json": ("Databases_",),
    "postgresql/resource-manager/Microsoft.DBforPostgreSQL/stable/2024-08-01/Configuration.json": ("Configurations_",),
    "postgresql/resource-manager/Microsoft.DBforPostgreSQL/stable/2024-08-01/FirewallRules.json": ("FirewallRules_",),
    "eventhub/resource-manager/Microsoft.EventHub/stable/2024-01-01/namespaces.json": ("Namespaces_",),
    "eventhub/resource-manager/Microsoft.EventHub/stable/2024-01-01/eventhubs.json": ("EventHubs_",),
    "eventhub/resource-manager/Microsoft.EventHub/stable/2024-01-01/AuthorizationRules.json": ("",),
    "redis/resource-manager/Microsoft.Cache/stable/2024-03-01/redis.json": ("Redis_",),
    "keyvault/resource-manager/Microsoft.KeyVault/stable/2024-11-01/keyvault.json": ("Vaults_",),
    "keyvault/resource-manager/Microsoft.KeyVault/stable/2024-11-01/secrets.json": ("Secrets_",),
    "resources/resource-manager/Microsoft.Resources/stable/2024-03-01/resources.json": ("ResourceGroups_",),
    # The versions the management crates (0.21) speak where the stored set has newer ones:
    # azure_mgmt_resources `package-resources-2021-04`, azure_mgmt_keyvault's default
    # profile (2019-09-01), azure_mgmt_privatedns `package-2024-06`.
    "resources/resource-manager/Microsoft.Resources/stable/2021-04-01/resources.json": ("ResourceGroups_", "Resources_ListByResourceGroup"),
    "keyvault/resource-manager/Microsoft.KeyVault/stable/2019-09-01/keyvault.json": ("Vaults_",),
    "keyvault/resource-manager/Microsoft.KeyVault/stable/2019-09-01/secrets.json": ("Secrets_",),
    "privatedns/resource-manager/Microsoft.Network/stable/2024-06-01/privatedns.json": ("PrivateZones_", "VirtualNetworkLinks_"),
    # azure_mgmt_network 0.21 (package-2024-03): the application gateway's WAF policy.
    "network/resource-manager/Microsoft.Network/stable/2024-03-01/webapplicationfirewall.json": ("WebApplicationFirewallPolicies_",),
    # azure_mgmt_msi 0.21 `package-2023-01-31` (its default): api-version 2023-01-31.
    "msi/resource-manager/Microsoft.ManagedIdentity/stable/2023-01-31/ManagedIdentity.json": ("UserAssignedIdentities_",),
    # azure_mgmt_authorization 0.21 `package-2022-04-01` (its default): role assignments
    # at api-version 2022-04-01, by `/{scope}/...` paths (and by id, `/{roleAssignmentId}`).
    "authorization/resource-manager/Microsoft.Authorization/stable/2022-04-01/authorization-RoleAssignmentsCalls.json": ("RoleAssignments_",),
}
KEEP = ("format", "pattern", "minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems", "default")


class Generator:
    def __init__(self, roots):
        self.roots = [os.path.join(r, "specification") for r in roots]
        self.files = {}
        self.defs = {}
        self.missing = set()
        self.unchecked = set()

    def find(self, rel):
        for root in self.roots:
            path = os.path.join(root, rel)
            if os.path.exists(path):
                return path
        return None

    def load(self, path):
        if path not in self.files:
            with open(path) as f:
                self.files[path] = json.load(f)
        return self.files[path]

    def rel(self, path):
        for root in self.roots:
            if path.startswith(root + os.sep):
                return os.path.relpath(path, root)
        return path

    def ref(self, ref, current):
        """The definition a `$ref` names, emitted once; its key."""
        file_part, _, pointer = ref.partition("#")
        if file_part:
            rel = os.path.normpath(os.path.join(os.path.dirname(self.rel(current)), file_part))
            path = self.find(rel)
        else:
            rel, path = self.rel(current), current
        name = pointer.split("/")[-1]
        key = f"{rel}#{name}"
        if path is None:
            # A definition in a file not carried: kept as untyped (taken as sent) and
            # listed in the contract's "unchecked", never guessed.
            self.unchecked.add(rel)
            self.defs.setdefault(key, {})
            return key
        if key not in self.defs:
            self.defs[key] = None  # reserved: definitions may refer to themselves
            self.defs[key] = self.schema(self.load(path)["definitions"][name], path)
        return key

    def schema(self, s, current):
        if "$ref" in s:
            return {"ref": self.ref(s["$ref"], current)}
        out = {}
        if "type" in s:
            out["type"] = s["type"]
        if s.get("readOnly"):
            out["readOnly"] = True
        if "enum" in s:
            out["enum"] = s["enum"]
            out["openEnum"] = bool(s.get("x-ms-enum", {}).get("modelAsString", True))
        for k in KEEP:
            if k in s:
                out[k] = s[k]
        if s.get("x-ms-mutability"):
            out["mutability"] = s["x-ms-mutability"]
        if s.get("x-ms-secret"):
            out["secret"] = True
        if s.get("x-ms-client-flatten"):
            out["flatten"] = True
        if "items" in s:
            out["items"] = self.schema(s["items"], current)
        if isinstance(s.get("additionalProperties"), dict):
            out["map"] = self.schema(s["additionalProperties"], current)
        if "properties" in s:
            out["properties"] = {k: self.schema(v, current) for k, v in s["properties"].items()}
        if s.get("required"):
            out["required"] = s["required"]
        if "allOf" in s:
            out["allOf"] = [self.schema(x, current) for x in s["allOf"]]
        if s.get("x-ms-azure-resource"):
            out["armResource"] = True
        return out

    def parameter(self, p, current):
        """A parameter as written, or the one its `$ref` names (`#/parameters/X`, or in
        another file); with the file it sits in. None if that file is on no root."""
        while isinstance(p, dict) and "$ref" in p:
            file_part, _, pointer = p["$ref"].partition("#")
            if file_part:
                current = self.find(os.path.normpath(os.path.join(os.path.dirname(self.rel(current)), file_part)))
                if current is None:
                    return None, None
            p = self.load(current).get("parameters", {}).get(pointer.split("/")[-1])
        return p, current

    def operations(self):
        ops = []
        for rel, prefixes in SPEC_FILES.items():
            path = self.find(rel)
            if path is None:
                self.missing.add(rel)
                continue
            spec = self.load(path)
            for template, methods in spec["paths"].items():
                for method, op in methods.items():
                    if method == "parameters" or not op.get("operationId", "").startswith(prefixes):
                        continue
                    params = [self.parameter(p, path) for p in op.get("parameters", [])]
                    body = [(p, at) for p, at in params if isinstance(p, dict) and p.get("in") == "body"]
                    entry = {
                        "source": rel,
                        "id": op["operationId"],
                        "method": method.upper(),
                        "path": template,
                        "api": spec["info"]["version"],
                        "lro": bool(op.get("x-ms-long-running-operation")),
                        "responses": sorted(c for c in op["responses"] if c != "default"),
                    }
                    via = op.get("x-ms-long-running-operation-options", {}).get("final-state-via")
                    if via:
                        entry["finalStateVia"] = via
                    if body:
                        entry["body"] = self.schema(body[0][0]["schema"], body[0][1])
                        entry["bodyRequired"] = bool(body[0][0].get("required"))
                    ops.append(entry)
        return sorted(ops, key=lambda o: (o["path"].lower(), o["method"]))


def kept(g, current, ops):
    """What the current contract holds of the files no root has now: their operations
    (by recorded source, or by version and prefix for entries made before sources were
    recorded), the definitions of files no root has, and those files' provenance."""
    missing = set(g.missing)
    for rel in sorted(missing):
        if rel not in current.get("sources", []):
            continue
        version = rel.split("/")[-2]
        for op in current["operations"]:
            source = op.get("source")
            if source == rel or (source is None and op["api"] == version and op["id"].startswith(SPEC_FILES[rel])):
                ops.append(dict(op, source=rel))
        g.missing.discard(rel)
    # Every definition the current contract has and this run did not reach: the kept
    # operations' (and what they refer to, which may sit in files a root does have).
    for key, schema in current["definitions"].items():
        if key not in g.defs:
            g.defs[key] = schema
            if schema:
                g.unchecked.discard(key.split("#")[0])
    # A definition kept as untyped because its file was absent is replaced by the kept one.
    for key, schema in current["definitions"].items():
        if g.defs.get(key) == {} and schema:
            g.defs[key] = schema
    return sorted(ops, key=lambda o: (o["path"].lower(), o["method"], o["api"]))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    g = Generator(sys.argv[1:])
    ops = g.operations()
    target = os.path.join(os.path.dirname(os.path.abspath(__file__)), "arm_contract.json")
    current = {}
    if os.path.exists(target):
        with open(target) as f:
            current = json.load(f)
        ops = kept(g, current, ops)
    if g.missing:
        sys.exit("missing spec files (add a root that has them):\n  " + "\n  ".join(sorted(g.missing)))
    # Where files came from beyond ../shared: a root's SOURCES.txt (path, commit, size per
    # line, as they were read from Azure/azure-rest-api-specs) is kept for provenance.
    fetched = []
    for root in sys.argv[1:]:
        listed = os.path.join(root, "SOURCES.txt")
        if os.path.exists(listed):
            with open(listed) as f:
                fetched += [line.strip() for line in f if line.strip()]
    # Provenance of files kept from the current contract (no root has them now).
    fetched += [line for line in current.get("fetched", []) if g.find(line.split()[0].removeprefix("specification/")) is None]
    fetched = sorted(set(fetched))
    out = {
        "sources": sorted(SPEC_FILES),
        "fetched": sorted(fetched),
        "unchecked": sorted(g.unchecked),
        "operations": ops,
        "definitions": g.defs,
    }
    with open(target, "w") as f:
        json.dump(out, f, indent=0, sort_keys=True, separators=(",", ":"))
        f.write("\n")
    print(f"{target}: {len(ops)} operations, {len(g.defs)} definitions, {os.path.getsize(target)} bytes")
    for rel in sorted(g.unchecked):
        print(f"  unchecked (file not given): {rel}")


if __name__ == "__main__":
    main()
