"""Application Gateway v2, its WAF policies, Standard Load Balancers, user-assigned
identities and role assignments, as the services check them (beyond the contract's shapes, which arm_contract.py checks).

Application gateways (Azure's documentation on v2 gateways and their subnet):
* v2 SKUs only here (`Standard_v2`, `WAF_v2`), with a capacity or autoscale bounds;
  `WAF_v2` needs a firewall policy (or the legacy in-gateway configuration);
* the gateway's subnet exists, is delegated to nothing, and holds no other kind of
  resource (a private endpoint, a NIC): `ApplicationGatewaySubnetCannotHaveOtherResources`;
  its security group must let `GatewayManager` in on 65200-65535 before any deny
  (`ApplicationGatewaySubnetInboundTrafficBlockedByNetworkSecurityGroup`);
* the frontend's public IP exists and is Standard and static;
* every reference to one of the gateway's own parts (pools, HTTP settings, probes,
  listeners, ports, certificates, redirects, path maps) names a part the body declares
  (`InvalidResourceReference`); v2 routing rules all carry a priority, each its own
  (`ApplicationGatewayRequestRoutingRulePriorityCannotBeEmpty`,
  `ApplicationGatewayRequestRoutingRuleDuplicatePriority`); two listeners never share a
  frontend port; an HTTPS listener names a certificate; v2 probes name a host or take it
  from their settings;
* a Key Vault certificate (`keyVaultSecretId`) is read as the gateway's user-assigned
  identity: the vault whose `vaultUri` begins the id must hold the secret, and, for a vault
  using Azure RBAC, the identity's principal needs a secrets-reading role on the vault (or
  above it); for an access-policy vault, a policy with secrets `get`. Otherwise the PUT is
  refused with `UserAssignedIdentityDoesNotHaveGetPermissionOnKeyVault` (or
  `SecretDeletedOrNotFound`, `ApplicationGatewayIdentityNotFound`), as the gateway would
  otherwise come up with its HTTPS listener disabled.

Load balancers: a public IP of the balancer's SKU, every internal reference resolved, HTTP
probes with a path, probe intervals of at least 5 s, one rule per frontend, protocol and
port.

WAF policies: custom rule priorities unique, names unique; a `Block`/`Allow` action; at
least one managed rule set. User-assigned identities get a `principalId`, `clientId` and
`tenantId` once and keep them. Role assignments (at any scope, `.../providers/
Microsoft.Authorization/roleAssignments/{guid}`): the name a GUID, the scope existing, the
principal an identity the emulator made (`PrincipalNotFound`), one assignment per
principal, role and scope (`RoleAssignmentExists`), never changed once made
(`RoleAssignmentUpdateNotPermitted`).
"""

import re
import uuid

from arm_contract import ArmError

GATEWAYS = "microsoft.network/applicationgateways"
LOAD_BALANCERS = "microsoft.network/loadbalancers"
WAF_POLICIES = "microsoft.network/applicationgatewaywebapplicationfirewallpolicies"
IDENTITIES = "microsoft.managedidentity/userassignedidentities"
ROLE_ASSIGNMENTS = "microsoft.authorization/roleassignments"

# Built-in roles that read a vault's secrets: Key Vault Secrets User, Secrets Officer,
# Administrator.
SECRET_READERS = {
    "4633458b-17de-408a-b874-0445c86b69e6",
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
    "00482a5a-887f-4fb3-b363-3b7fe8e74483",
}
# The gateway's parts another part may refer to.
PARTS = (
    "gatewayIPConfigurations", "sslCertificates", "frontendIPConfigurations", "frontendPorts",
    "backendAddressPools", "backendHttpSettingsCollection", "httpListeners", "urlPathMaps",
    "requestRoutingRules", "probes", "redirectConfigurations", "rewriteRuleSets",
    "trustedRootCertificates", "authenticationCertificates",
)
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _props(r):
    return (r or {}).get("properties") or {}


def _ref(value):
    return ((value or {}).get("id") or "").lower()


def put_identity(old, resource):
    """A user-assigned identity: its principal and client ids made once and kept."""
    props = resource.setdefault("properties", {})
    kept = _props(old)
    for key in ("principalId", "clientId", "tenantId"):
        props[key] = kept.get(key) or str(uuid.uuid4())


def _gateway_manager_allowed(arm, nsg_id):
    """Whether the security group lets GatewayManager in on 65200-65535 before any deny."""
    nsg = arm.resources.get(nsg_id.lower())
    if nsg is None:
        return True
    prefix = nsg_id.lower() + "/securityrules/"
    rules = [_props(r) for rid, r in arm.resources.items() if rid.startswith(prefix)]
    rules = [r for r in rules if (r.get("direction") or "").lower() == "inbound"]
    rules.sort(key=lambda r: int(r.get("priority") or 0))

    def covers(r):
        sources = [r.get("sourceAddressPrefix")] + list(r.get("sourceAddressPrefixes") or [])
        if not any((s or "").lower() in ("*", "gatewaymanager", "any") for s in sources if s):
            return False
        if (r.get("protocol") or "*").lower() not in ("*", "tcp"):
            return False
        ports = [r.get("destinationPortRange")] + list(r.get("destinationPortRanges") or [])
        for p in ports:
            if p in ("*",):
                return True
            if p and "-" in p:
                lo, hi = (int(x) for x in p.split("-", 1))
                if lo <= 65200 and hi >= 65535:
                    return True
        return False

    for r in rules:
        if covers(r):
            return (r.get("access") or "").lower() == "allow"
    return False  # DenyAllInBound at 65500 (GatewayManager is not VirtualNetwork)


def _check_references(gid, props, parts=PARTS):
    declared = {}
    for part in parts:
        for item in props.get(part) or []:
            declared.setdefault(part.lower(), set()).add((item.get("name") or "").lower())

    def walk(value, where):
        if isinstance(value, dict):
            for k, v in value.items():
                if k == "id" and isinstance(v, str) and v.lower().startswith(gid + "/"):
                    rest = v[len(gid) + 1:].split("/")
                    if len(rest) != 2 or rest[1].lower() not in declared.get(rest[0].lower(), set()):
                        raise ArmError(400, "InvalidResourceReference", f"Resource {v} referenced by resource {where} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.")
                else:
                    walk(v, where)
        elif isinstance(value, list):
            for v in value:
                walk(v, where)

    for part in parts:
        for item in props.get(part) or []:
            walk(item.get("properties") or {}, f"{gid}/{part}/{item.get('name')}")


def _check_certificate(arm, resource, secret_id, vault_uri_of):
    identities = list(((resource.get("identity") or {}).get("userAssignedIdentities") or {}).keys())
    principals = []
    for ident in identities:
        found = arm.resources.get(ident.lower())
        if found is None:
            raise ArmError(400, "ApplicationGatewayIdentityNotFound", f"The user-assigned identity {ident} of the application gateway was not found.")
        principals.append(_props(found).get("principalId"))
    if not principals:
        raise ArmError(400, "ApplicationGatewayKeyVaultSecretNeedsIdentity", f"The application gateway references Key Vault secret {secret_id} but has no user-assigned identity to read it with.")
    wanted = secret_id.lower()
    vault = None
    for rid, r in arm.resources.items():
        if arm.type_of(rid).lower() == "microsoft.keyvault/vaults":
            uri = (vault_uri_of(r) or "").lower().rstrip("/")
            if uri and wanted.startswith(uri + "/"):
                vault = (rid, r)
    rest = wanted.split("/secrets/", 1)[1].strip("/").split("/") if "/secrets/" in wanted else []
    if vault is None or not rest or f"{vault[0]}/secrets/{rest[0]}" not in arm.resources:
        raise ArmError(400, "SecretDeletedOrNotFound", f"The Key Vault secret {secret_id} the application gateway references was not found.")
    vid, v = vault
    vp = _props(v)
    if vp.get("enableRbacAuthorization"):
        scopes = [vid]
        parts = vid.split("/")
        scopes += ["/".join(parts[:5]), "/".join(parts[:3])]  # its group, its subscription
        granted = False
        for rid, r in arm.resources.items():
            if arm.type_of(rid).lower() != ROLE_ASSIGNMENTS:
                continue
            p = _props(r)
            scope = rid.rsplit("/providers/microsoft.authorization/roleassignments/", 1)[0]
            if scope in scopes and p.get("principalId") in principals and (p.get("roleDefinitionId") or "").rsplit("/", 1)[-1].lower() in SECRET_READERS:
                granted = True
        if not granted:
            raise ArmError(400, "UserAssignedIdentityDoesNotHaveGetPermissionOnKeyVault", f"The user-assigned identity of the application gateway has no role on vault {v.get('name')} that reads secrets (Key Vault Secrets User).")
    else:
        if not any(
            (pol.get("objectId") in principals) and "get" in [x.lower() for x in ((pol.get("permissions") or {}).get("secrets") or [])]
            for pol in vp.get("accessPolicies") or []
        ):
            raise ArmError(400, "UserAssignedIdentityDoesNotHaveGetPermissionOnKeyVault", f"No access policy of vault {v.get('name')} gives the application gateway's identity secrets get.")


def put_gateway(arm, rid, old, resource, vault_uri_of):
    props = resource.setdefault("properties", {})
    gid = rid.lower()
    sku = props.get("sku") or {}
    name = (sku.get("name") or "").lower()
    if name not in ("standard_v2", "waf_v2"):
        raise ArmError(400, "ApplicationGatewaySkuNotSupported", f"The emulator serves v2 gateways (Standard_v2, WAF_v2), not {sku.get('name')}.")
    if (sku.get("tier") or "").lower() != name:
        raise ArmError(400, "ApplicationGatewaySkuTierMismatch", f"The SKU {sku.get('name')} needs the tier of the same name, not {sku.get('tier')}.")
    if "capacity" not in sku and not props.get("autoscaleConfiguration"):
        raise ArmError(400, "ApplicationGatewayCapacityOrAutoscaleRequired", "A v2 application gateway needs a capacity or an autoscale configuration.")
    auto = props.get("autoscaleConfiguration") or {}
    if auto and "maxCapacity" in auto and auto["maxCapacity"] < auto.get("minCapacity", 0):
        raise ArmError(400, "ApplicationGatewayAutoscaleInvalidMaxCapacity", "maxCapacity must be at least minCapacity.")
    if name == "waf_v2" and not props.get("firewallPolicy") and not props.get("webApplicationFirewallConfiguration"):
        raise ArmError(400, "ApplicationGatewayWafV2NeedsPolicy", "A WAF_v2 application gateway needs a firewall policy.")
    policy = _ref(props.get("firewallPolicy"))
    if policy and policy not in arm.resources:
        raise ArmError(400, "InvalidResourceReference", f"Resource {props['firewallPolicy']['id']} referenced by resource {resource['id']} was not found.")
    _check_references(gid, props)
    # The subnet: there, delegated to nothing, holding nothing but gateways.
    configs = props.get("gatewayIPConfigurations") or []
    if len(configs) != 1:
        raise ArmError(400, "ApplicationGatewayMustHaveOneGatewayIpConfiguration", "An application gateway has exactly one gateway IP configuration.")
    subnet_id = _ref(_props(configs[0]).get("subnet"))
    subnet = arm.resources.get(subnet_id)
    if subnet is None:
        raise ArmError(400, "InvalidResourceReference", f"Resource {subnet_id} referenced by resource {resource['id']} was not found.")
    sp = _props(subnet)
    if sp.get("delegations"):
        raise ArmError(400, "ApplicationGatewaySubnetCannotHaveDelegations", f"Subnet {subnet['name']} is delegated; an application gateway's subnet cannot be.")
    for other, r in arm.resources.items():
        if other == gid or arm.type_of(other).lower() == GATEWAYS:
            continue
        if arm.type_of(other).lower() in ("microsoft.network/privateendpoints", "microsoft.network/networkinterfaces"):
            if _ref(_props(r).get("subnet")) == subnet_id:
                raise ArmError(400, "ApplicationGatewaySubnetCannotHaveOtherResources", f"Subnet {subnet['name']} holds {r['id']}; an application gateway's subnet holds only application gateways.")
    nsg = _ref(sp.get("networkSecurityGroup"))
    if nsg and not _gateway_manager_allowed(arm, nsg):
        raise ArmError(400, "ApplicationGatewaySubnetInboundTrafficBlockedByNetworkSecurityGroup", f"Network security group {nsg.split('/')[-1]} blocks incoming internet traffic on ports 65200-65535 to subnet {subnet['name']}, associated with application gateway {resource['name']}. This is not permitted for application gateways that have V2 SKU.")
    # The frontend.
    for fe in props.get("frontendIPConfigurations") or []:
        ip_id = _ref(_props(fe).get("publicIPAddress"))
        if not ip_id:
            continue
        ip = arm.resources.get(ip_id)
        if ip is None:
            raise ArmError(400, "InvalidResourceReference", f"Resource {ip_id} referenced by resource {resource['id']} was not found.")
        if ((ip.get("sku") or {}).get("name") or "").lower() != "standard" or (_props(ip).get("publicIPAllocationMethod") or "").lower() != "static":
            raise ArmError(400, "ApplicationGatewayV2RequiresStandardStaticPublicIp", f"Public IP {ip['name']} must be Standard and static for a v2 application gateway.")
    # Listeners: one per frontend port; HTTPS ones with a certificate.
    ports = {}
    for lst in props.get("httpListeners") or []:
        lp = _props(lst)
        key = (_ref(lp.get("frontendIPConfiguration")), _ref(lp.get("frontendPort")), (lp.get("hostName") or "").lower())
        if key in ports:
            raise ArmError(400, "ApplicationGatewayHttpListenersUsingSameFrontendPortAndFrontendIpconfig", f"Listeners {ports[key]} and {lst.get('name')} use the same frontend port and IP configuration.")
        ports[key] = lst.get("name")
        if (lp.get("protocol") or "").lower() == "https" and not lp.get("sslCertificate"):
            raise ArmError(400, "ApplicationGatewayHttpsListenerMustReferenceSslCert", f"HTTPS listener {lst.get('name')} needs an SSL certificate.")
    priorities = {}
    for rule in props.get("requestRoutingRules") or []:
        p = _props(rule).get("priority")
        if p is None:
            raise ArmError(400, "ApplicationGatewayRequestRoutingRulePriorityCannotBeEmpty", f"Rule {rule.get('name')} has no priority: every rule of a v2 gateway needs one.")
        if p in priorities:
            raise ArmError(400, "ApplicationGatewayRequestRoutingRuleDuplicatePriority", f"Rules {priorities[p]} and {rule.get('name')} have the same priority {p}.")
        priorities[p] = rule.get("name")
    for probe in props.get("probes") or []:
        pp = _props(probe)
        if not pp.get("host") and not pp.get("pickHostNameFromBackendHttpSettings"):
            raise ArmError(400, "ApplicationGatewayProbeNoHostWithoutPickHostName", f"Probe {probe.get('name')} needs a host, or pickHostNameFromBackendHttpSettings.")
    for path_map in props.get("urlPathMaps") or []:
        mp = _props(path_map)
        if not mp.get("defaultBackendAddressPool") and not mp.get("defaultRedirectConfiguration"):
            raise ArmError(400, "ApplicationGatewayUrlPathMapMustHaveDefaultBackend", f"URL path map {path_map.get('name')} needs a default backend or redirect.")
        for rule in mp.get("pathRules") or []:
            for path in _props(rule).get("paths") or []:
                if not path.startswith("/") or "*" in path.rstrip("*") or "?" in path:
                    raise ArmError(400, "ApplicationGatewayPathRuleInvalidPath", f"Path {path!r} of rule {rule.get('name')}: a path starts with '/' and has '*' only at its end.")
    for cert in props.get("sslCertificates") or []:
        secret = _props(cert).get("keyVaultSecretId")
        if secret:
            _check_certificate(arm, resource, secret, vault_uri_of)
    props["operationalState"] = "Running"
    # ARM answers each part with its id and type.
    for part in PARTS:
        for item in props.get(part) or []:
            item["id"] = f"{resource['id']}/{part}/{item.get('name')}"
            item.setdefault("properties", {})["provisioningState"] = "Succeeded"


LB_PARTS = ("frontendIPConfigurations", "backendAddressPools", "probes", "loadBalancingRules", "inboundNatRules", "outboundRules")


def put_load_balancer(arm, rid, old, resource):
    """A Standard Load Balancer: Standard public IPs only, every internal reference
    resolved, HTTP probes with a path and at least 5 s apart, one rule per frontend port."""
    props = resource.setdefault("properties", {})
    sku = ((resource.get("sku") or {}).get("name") or "Basic").lower()
    gid = rid.lower()
    _check_references(gid, props, LB_PARTS)
    for fe in props.get("frontendIPConfigurations") or []:
        ip_id = _ref(_props(fe).get("publicIPAddress"))
        if not ip_id:
            continue
        ip = arm.resources.get(ip_id)
        if ip is None:
            raise ArmError(400, "InvalidResourceReference", f"Resource {ip_id} referenced by resource {resource['id']} was not found.")
        if ((ip.get("sku") or {}).get("name") or "basic").lower() != sku:
            raise ArmError(400, "LoadBalancerReferencesPublicIPAddressWithDifferentSku", f"Load balancer {resource['name']} ({sku}) cannot use public IP {ip['name']} of another SKU.")
    for probe in props.get("probes") or []:
        pp = _props(probe)
        if (pp.get("protocol") or "").lower() in ("http", "https") and not pp.get("requestPath"):
            raise ArmError(400, "LoadBalancerProbeRequestPathRequired", f"Probe {probe.get('name')}: an HTTP probe needs a requestPath.")
        if int(pp.get("intervalInSeconds") or 15) < 5:
            raise ArmError(400, "InvalidProbeInterval", f"Probe {probe.get('name')}: intervalInSeconds is at least 5.")
    seen = {}
    for rule in props.get("loadBalancingRules") or []:
        rp = _props(rule)
        key = (_ref(rp.get("frontendIPConfiguration")), (rp.get("protocol") or "").lower(), rp.get("frontendPort"))
        if key in seen:
            raise ArmError(400, "LoadBalancingRulesWithSameFrontendPortAndProtocol", f"Rules {seen[key]} and {rule.get('name')} use the same frontend IP, protocol and port.")
        seen[key] = rule.get("name")
    for part in LB_PARTS:
        for item in props.get(part) or []:
            item["id"] = f"{resource['id']}/{part}/{item.get('name')}"
            item.setdefault("properties", {})["provisioningState"] = "Succeeded"


def put_waf_policy(old, resource):
    props = resource.setdefault("properties", {})
    names, priorities = set(), set()
    for rule in props.get("customRules") or []:
        if rule.get("priority") in priorities:
            raise ArmError(400, "WafPolicyCustomRulesDuplicatePriority", f"Custom rule {rule.get('name')}: priority {rule.get('priority')} is used by another rule.")
        if (rule.get("name") or "").lower() in names:
            raise ArmError(400, "WafPolicyCustomRulesDuplicateName", f"Custom rule name {rule.get('name')} is used twice.")
        priorities.add(rule.get("priority"))
        names.add((rule.get("name") or "").lower())
    if not ((props.get("managedRules") or {}).get("managedRuleSets")):
        raise ArmError(400, "WafPolicyMustHaveManagedRuleSet", "A web application firewall policy needs at least one managed rule set.")
    props["resourceState"] = "Enabled"


def check_role_assignment(arm, path, old, resource, exists):
    """A role assignment at `path` (`{scope}/providers/Microsoft.Authorization/
    roleAssignments/{name}`): refused as ARM refuses one, else filled in."""
    at = path.lower().rindex("/providers/microsoft.authorization/roleassignments/")
    scope, name = path[:at], path.rsplit("/", 1)[1]
    if not GUID.match(name):
        raise ArmError(400, "InvalidRoleAssignmentId", f"The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID.")
    if not exists(scope):
        raise ArmError(404, "ResourceNotFound", f"The scope '{scope}' of the role assignment does not exist.")
    props = resource.setdefault("properties", {})
    principal, role = props.get("principalId"), (props.get("roleDefinitionId") or "")
    if old is not None:
        before = _props(old)
        if before.get("principalId") != principal or before.get("roleDefinitionId", "").lower() != role.lower():
            raise ArmError(400, "RoleAssignmentUpdateNotPermitted", "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.")
    if not any(arm.type_of(r).lower() == IDENTITIES and _props(x).get("principalId") == principal for r, x in arm.resources.items()):
        raise ArmError(400, "PrincipalNotFound", f"Principal {principal} does not exist in the directory.")
    for other, r in arm.resources.items():
        if other == path.lower() or arm.type_of(other).lower() != ROLE_ASSIGNMENTS:
            continue
        p = _props(r)
        if other.rsplit("/providers/microsoft.authorization/roleassignments/", 1)[0] == scope.lower() and p.get("principalId") == principal and (p.get("roleDefinitionId") or "").lower() == role.lower():
            raise ArmError(409, "RoleAssignmentExists", "The role assignment already exists.")
    props["scope"] = scope
