"""Compute's global external Application Load Balancer chain, for the GCP emulator: health
checks, backend services, URL maps, SSL certificates, target HTTP(S) proxies, global
forwarding rules and Cloud Armor security policies. gcp_compute.py stores them and runs
their operations like its other collections; what is theirs alone lives here, so that
file stays about Compute in general: their fields' rules and defaults, the references
between them (which must exist, are kept as full URLs, and keep what they name from being
deleted), fingerprints and labels, and their methods beyond insert / get / list / delete /
patch. Their rules as data (formats, defaults, references, server fields) and the small
checks they share are in gcp_compute_lb_rules.py. See cairn_gcp.py for the whole."""

import copy
import ipaddress
import json
import re
import time

from gcp_compute_lb_rules import (
    ACTIONS,
    CLASSIC_PORTS,
    DEFAULT_PRIORITY,
    DOMAIN,
    EMPTY_LABELS,
    FINGERPRINTED,
    FINGERPRINT_REQUIRED,
    GROUP,
    HC_BLOCKS,
    HC_PORTS,
    HOST,
    KINDS,
    LABELLED,
    NAME,
    NOT_EMULATED,
    OUTPUT,
    PATH,
    PEM_CERT,
    PEM_KEY,
    REFS,
    SERVER,
    asked_priority,
    bad,
    check_labels,
    clear,
    decode_certificate,
    digest,
    has,
    merge_patch,
    rewrite,
)
from gcp_contract import ApiError


class LoadBalancing:
    """The load-balancing collections' rules, over Compute's store (`compute.objects`)."""

    def __init__(self, compute):
        self.compute = compute

    # --- references -------------------------------------------------------------------

    def key(self, project, ref, default):
        """(project, scope, collection, name) of a full or partial URL, or of a bare name
        (then of collection `default`)."""
        parts = re.sub(r"^(?:https?://[^/]+)?/?(?:compute/(?:v1|beta|alpha)/)?", "", ref).split("/")
        if parts[0] == "projects" and len(parts) > 2:
            project, parts = parts[1], parts[2:]
        if len(parts) == 1:
            return project, "global", default, parts[0]
        scope, segment = "/".join(parts[:-2]), parts[-2]
        if scope == "global":
            segment = {"addresses": "globalAddresses", "forwardingRules": "globalForwardingRules"}.get(segment, segment)
        return project, scope, segment, parts[-1]

    def path(self, key):
        project, scope, collection, name = key
        return f"projects/{project}/{scope}/{self.compute.SEGMENT.get(collection, collection)}/{name}"

    def linked(self, project, where, ref, wanted):
        """The full URL of the existing object a field names, or Compute's refusal."""
        if not ref:
            raise bad(where, ref, f"It must name a {' or '.join(wanted)} resource.")
        key = self.key(project, ref, wanted[0])
        if key[2] in NOT_EMULATED:
            raise ApiError(501, f"'{where}' names a {key[2]} resource ('{ref}'), which is not emulated yet.")
        if key[1] != "global" or key[2] not in wanted:
            raise bad(where, ref, f"It must name a global {' or '.join(wanted)} resource.")
        self.compute.must_exist(key)
        return self.compute.link(*key)

    def refs(self, project, collection, obj):
        """The keys of the objects `obj` names."""
        found = []
        rewrite(REFS.get(collection, {}), obj, lambda w, ref, wanted: found.append(self.key(project, ref, wanted[0])), "resource")
        return found

    def everything(self):
        """(key, object) of every object, and of those being made or changed."""
        items = list(self.compute.objects.items())
        items += [(r["key"], r["body"]) for r in self.compute.operations.values() if r["op"]["status"] != "DONE" and r["body"] is not None]
        return items

    def user(self, key):
        """The path of an object naming `key` (Compute's in-use refusal), or None."""
        for k, o in self.everything():
            if key in self.refs(k[0], k[2], o):
                return self.path(k)
            if key[2] == "globalAddresses" and k[2] == "globalForwardingRules" and k[0] == key[0]:
                if o.get("IPAddress") == self.compute.objects[key].get("address"):
                    return self.path(k)
        return None

    def view(self, key, obj):
        """A get's answer beyond what is stored: who uses a backend service or an address."""
        project, _, collection, _ = key
        found = sorted(self.compute.objects.items())
        if collection == "backendServices":
            used = [o["selfLink"] for k, o in found if k[2] == "urlMaps" and key in self.refs(k[0], "urlMaps", o)]
            if used:
                obj["usedBy"] = [{"reference": u} for u in used]
        elif collection == "globalAddresses" and obj.get("addressType") == "EXTERNAL":
            users = [o["selfLink"] for k, o in found if k[2] == "globalForwardingRules" and k[0] == project and o.get("IPAddress") == obj.get("address")]
            if users:
                obj.update(users=users, status="IN_USE")
        return obj

    def stamp(self, collection, obj):
        """New fingerprints, of the contents and of the labels."""
        if collection in LABELLED:
            if not obj.get("labels"):
                obj.pop("labels", None)
            obj["labelFingerprint"] = digest(obj["labels"]) if obj.get("labels") else EMPTY_LABELS
        if collection in FINGERPRINTED:
            obj["fingerprint"] = digest({k: v for k, v in obj.items() if k not in SERVER + ("fingerprint", "labelFingerprint")})

    # --- insert, patch, update, and the other methods ----------------------------------

    def check(self, project, collection, body, key):
        """The object `body` describes, as Compute keeps it: output-only fields dropped,
        defaults filled, its collection's rules kept, references as full URLs of objects
        that exist. `key` is the object's own."""
        obj = {k: copy.deepcopy(v) for k, v in body.items() if k not in OUTPUT}
        if collection == "healthChecks":
            self.health_check(obj)
        elif collection == "backendServices":
            self.backend_service(obj)
        elif collection == "urlMaps":
            self.url_map(obj)
        elif collection == "sslCertificates":
            self.certificate(obj)
        elif collection in ("targetHttpsProxies", "targetHttpProxies"):
            self.proxy(collection, obj)
        elif collection == "globalForwardingRules":
            self.forwarding_rule(obj)
        elif collection == "securityPolicies":
            self.security_policy(obj)
        obj = rewrite(REFS.get(collection, {}), obj, lambda w, ref, wanted: self.linked(project, w, ref, wanted), "resource")
        # What depends on the objects named.
        if collection == "backendServices" and "securityPolicy" in obj:
            self.armor(project, obj, "resource.securityPolicy")
        elif collection == "urlMaps":
            self.routes(project, obj, key)
        elif collection == "targetHttpsProxies":
            self.no_https_redirect(project, obj["urlMap"], "resource.urlMap")
        elif collection == "globalForwardingRules":
            self.fits(project, obj)
            self.address(project, obj, key)
        return obj

    def change(self, verb, key, body, query):
        """What the object `key` becomes by a patch, an update or one of its collection's
        other methods, refused as Compute refuses it; the caller's operation applies it."""
        project, _, collection, name = key
        old = self.compute.objects[key]
        new = copy.deepcopy(old)
        if verb in ("patch", "update"):
            if collection in FINGERPRINT_REQUIRED or "fingerprint" in body:
                if body.get("fingerprint") != old.get("fingerprint"):
                    raise ApiError(412, "Invalid fingerprint.", "conditionNotMet")
            if collection == "globalForwardingRules":  # "you can only patch the network_tier field"
                for k, v in body.items():
                    if k not in OUTPUT and v != old.get(k) and k != "networkTier":
                        raise bad(f"resource.{k}", v, "Only networkTier can be patched on a forwarding rule.")
                if body.get("networkTier", "PREMIUM") != "PREMIUM":
                    raise bad("resource.networkTier", body["networkTier"], "Global forwarding rules are always in the PREMIUM network tier.")
            elif verb == "update":
                given = dict(body, name=name)
                if collection == "backendServices" and "securityPolicy" in old:  # output only: kept
                    given.setdefault("securityPolicy", old["securityPolicy"])
                new = self.check(project, collection, given, key)
            else:
                if collection == "securityPolicies":
                    if "rules" in body and body["rules"] != old["rules"]:
                        raise bad("resource.rules", "...", "The rules of a security policy are changed with addRule, patchRule and removeRule, not patch.")
                    if body.get("type", old["type"]) != old["type"]:
                        raise bad("resource.type", body["type"], "The type of a security policy is set when it is created.")
                new = merge_patch(old, body)
                clear(new, body, query)
                new = self.check(project, collection, new, key)
        elif verb == "setLabels":
            if body.get("labelFingerprint") != old.get("labelFingerprint"):
                raise ApiError(412, "Labels fingerprint either invalid or resource labels have changed", "conditionNotMet")
            check_labels(body.get("labels", {}), "labels")
            new["labels"] = body.get("labels", {})
        elif verb == "setSecurityPolicy":
            new.pop("securityPolicy", None)
            if body.get("securityPolicy"):
                new["securityPolicy"] = self.linked(project, "securityPolicy", body["securityPolicy"], ("securityPolicies",))
                self.armor(project, new, "securityPolicy")
        elif verb == "setUrlMap":
            new["urlMap"] = self.linked(project, "urlMap", body.get("urlMap", ""), ("urlMaps",))
            if collection == "targetHttpsProxies":
                self.no_https_redirect(project, new["urlMap"], "urlMap")
        elif verb == "setSslCertificates":
            new["sslCertificates"] = body.get("sslCertificates", [])
            self.certificates(new, "sslCertificates")
            new["sslCertificates"] = [self.linked(project, f"sslCertificates[{i}]", c, ("sslCertificates",)) for i, c in enumerate(new["sslCertificates"])]
        elif verb == "setTarget":
            wanted = ("targetHttpProxies", "targetHttpsProxies")
            new["target"] = self.linked(project, "target", body.get("target", ""), wanted)
            if self.key(project, new["target"], "")[2] != self.key(project, old["target"], "")[2]:
                raise bad("target", body["target"], "The new target should be of the same type as the old target.")
            self.fits(project, new)
        else:
            new["rules"] = self.rules_after(verb, old["rules"], body, query)
        for field in SERVER:
            new[field] = old[field]
        self.stamp(collection, new)
        return new

    def get_rule(self, key, query):
        self.compute.must_exist(key)
        priority = asked_priority(query)
        for rule in self.compute.objects[key]["rules"]:
            if rule["priority"] == priority:
                return copy.deepcopy(rule)
        raise bad("priority", priority, "The security policy has no rule with this priority.")

    # --- the collections' rules -------------------------------------------------------

    def health_check(self, hc):
        kind = hc.get("type", "")
        if kind not in HC_BLOCKS:
            raise bad("resource.type", kind, f"The type of a health check must be one of {', '.join(HC_BLOCKS)}.")
        field = HC_BLOCKS[kind]
        for other in HC_BLOCKS.values():
            if other != field and other in hc:
                raise bad(f"resource.{other}", "...", f"A health check of type {kind} takes {field} only.")
        block = hc.setdefault(field, {})
        if block.get("portSpecification", "USE_FIXED_PORT") == "USE_FIXED_PORT" and kind in HC_PORTS:
            block.setdefault("port", HC_PORTS[kind])
        if "port" in block and not 1 <= int(block["port"]) <= 65535:
            raise bad(f"resource.{field}.port", block["port"], "The port must be between 1 and 65535.")
        if kind in ("HTTP", "HTTPS", "HTTP2"):
            if not block.setdefault("requestPath", "/").startswith("/"):
                raise bad(f"resource.{field}.requestPath", block["requestPath"], "The request path must start with /.")
        if kind in HC_PORTS:
            block.setdefault("proxyHeader", "NONE")
        for name, default, top in (("checkIntervalSec", 5, 300), ("timeoutSec", 5, 300), ("healthyThreshold", 2, 10), ("unhealthyThreshold", 2, 10)):
            hc[name] = int(hc.get(name, default))
            if not 1 <= hc[name] <= top:
                raise bad(f"resource.{name}", hc[name], f"It must be between 1 and {top}.")
        if hc["timeoutSec"] > hc["checkIntervalSec"]:
            raise bad("resource.timeoutSec", hc["timeoutSec"], "timeoutSec must be less than or equal to checkIntervalSec.")

    def backend_service(self, bs):
        scheme = bs.setdefault("loadBalancingScheme", "EXTERNAL")
        if scheme not in ("EXTERNAL", "EXTERNAL_MANAGED", "INTERNAL_MANAGED", "INTERNAL_SELF_MANAGED"):
            raise bad("resource.loadBalancingScheme", scheme, "A global backend service cannot have this load balancing scheme.")
        if bs.setdefault("protocol", "HTTP") in ("UDP", "UNSPECIFIED"):
            raise bad("resource.protocol", bs["protocol"], "A global backend service cannot have this protocol.")
        bs.setdefault("port", 80)
        bs.setdefault("portName", "http")
        bs.setdefault("timeoutSec", 30)
        bs.setdefault("sessionAffinity", "NONE")
        bs.setdefault("connectionDraining", {"drainingTimeoutSec": 0})
        if not 1 <= int(bs["port"]) <= 65535:
            raise bad("resource.port", bs["port"], "The port must be between 1 and 65535.")
        if not 1 <= int(bs["timeoutSec"]) <= DEFAULT_PRIORITY:
            raise bad("resource.timeoutSec", bs["timeoutSec"], "It must be between 1 and 2147483647.")
        checks = bs.get("healthChecks") or []
        if len(checks) > 1:
            raise bad("resource.healthChecks", ",".join(checks), "At most one health check can be specified.")
        groups, kinds = set(), set()
        for i, backend in enumerate(bs.get("backends") or []):
            group = backend.get("group", "")
            found = GROUP.fullmatch(group)
            if not found:
                raise bad(f"resource.backends[{i}].group", group, "The group must be the fully-qualified URL of an instance group or a network endpoint group.")
            if group in groups:
                raise bad(f"resource.backends[{i}].group", group, "Duplicate backend group.")
            groups.add(group)
            checked = found.group(2) == "instanceGroups" or found.group(1) == "zones"
            kinds.add(checked)
            if found.group(2) == "instanceGroups":
                backend.setdefault("balancingMode", "UTILIZATION")
            backend.setdefault("capacityScaler", 1)
        if True in kinds and not checks:
            raise bad("resource.healthChecks", "", "Backend services with instance group or zonal NEG backends must have a health check.")
        if False in kinds and checks:
            raise bad("resource.healthChecks", checks[0], "Backend services with internet or serverless NEG backends must not have a health check.")
        if not bs.get("securityPolicy"):
            bs.pop("securityPolicy", None)

    def armor(self, project, bs, where):
        policy = self.compute.objects[self.key(project, bs["securityPolicy"], "")]
        if policy["type"] != "CLOUD_ARMOR":
            raise bad(where, bs["securityPolicy"], f"A {policy['type']} security policy cannot be a backend service's securityPolicy.")
        if bs["loadBalancingScheme"] not in ("EXTERNAL", "EXTERNAL_MANAGED"):
            raise bad(where, bs["securityPolicy"], "Cloud Armor security policies protect backend services of external load balancers only.")

    def url_map(self, um):
        self.one_target(um, "resource", "default")
        names = set()
        for i, pm in enumerate(um.get("pathMatchers", [])):
            at = f"resource.pathMatchers[{i}]"
            if not NAME.fullmatch(pm.get("name", "")):
                raise bad(f"{at}.name", pm.get("name", ""), f"Must be a match of regex '{NAME.pattern}'.")
            if pm["name"] in names:
                raise bad(f"{at}.name", pm["name"], "Duplicate path matcher name.")
            names.add(pm["name"])
            self.one_target(pm, at, "default")
            if pm.get("pathRules") and pm.get("routeRules"):
                raise bad(f"{at}.routeRules", "...", "Only one of pathRules or routeRules can be set in a path matcher.")
            seen = set()
            for j, rule in enumerate(pm.get("pathRules", [])):
                if not rule.get("paths"):
                    raise bad(f"{at}.pathRules[{j}].paths", "", "A path rule needs at least one path.")
                for k, path in enumerate(rule["paths"]):
                    if not PATH.fullmatch(path):
                        raise bad(f"{at}.pathRules[{j}].paths[{k}]", path, "A path must start with / and can have a * only at its end, following a /; ? and # are not allowed.")
                    if path in seen:
                        raise bad(f"{at}.pathRules[{j}].paths[{k}]", path, "Duplicate path in path matcher.")
                    seen.add(path)
                self.one_target(rule, f"{at}.pathRules[{j}]", "")
        hosts = set()
        for i, rule in enumerate(um.get("hostRules", [])):
            at = f"resource.hostRules[{i}]"
            if not rule.get("hosts"):
                raise bad(f"{at}.hosts", "", "A host rule needs at least one host.")
            for k, host in enumerate(rule["hosts"]):
                if not HOST.fullmatch(host) or host.lower() in hosts:
                    raise bad(f"{at}.hosts[{k}]", host, "Hosts must be valid host names (a leading * allowed), each in one host rule only.")
                hosts.add(host.lower())
            if rule.get("pathMatcher") not in names:
                raise bad(f"{at}.pathMatcher", rule.get("pathMatcher", ""), "The path matcher is not defined in the URL map.")
        self.redirects(um, "resource")

    def one_target(self, obj, at, prefix):
        """Exactly one of (default)service, (default)urlRedirect, a weighted route action."""
        service, redirect = (f"{prefix}Service", f"{prefix}UrlRedirect") if prefix else ("service", "urlRedirect")
        action = f"{prefix}RouteAction" if prefix else "routeAction"
        given = [f for f in (service, redirect) if f in obj] + ([action] if (obj.get(action) or {}).get("weightedBackendServices") else [])
        if len(given) != 1:
            raise bad(at, ", ".join(given), f"Exactly one of {service}, {redirect} or {action}.weightedBackendServices must be set.")

    def redirects(self, value, at):
        """Redirect actions' rules and defaults, wherever they are in a URL map."""
        if isinstance(value, list):
            for i, v in enumerate(value):
                self.redirects(v, f"{at}[{i}]")
        if not isinstance(value, dict):
            return
        for k, v in value.items():
            if k in ("defaultUrlRedirect", "urlRedirect") and isinstance(v, dict):
                if "pathRedirect" in v and "prefixRedirect" in v:
                    raise bad(f"{at}.{k}.prefixRedirect", v["prefixRedirect"], "pathRedirect cannot be supplied together with prefixRedirect.")
                if not v.get("pathRedirect", "/").startswith("/"):
                    raise bad(f"{at}.{k}.pathRedirect", v["pathRedirect"], "The path must start with /.")
                v.setdefault("redirectResponseCode", "MOVED_PERMANENTLY_DEFAULT")
                v.setdefault("httpsRedirect", False)
                v.setdefault("stripQuery", False)
            else:
                self.redirects(v, f"{at}.{k}")

    def routes(self, project, um, key):
        """A URL map's backend services against each other and against its proxies."""
        services = [self.compute.objects[k] for k in dict.fromkeys(self.refs(project, "urlMaps", um))]
        schemes = {s["loadBalancingScheme"] for s in services}
        if len(schemes) > 1:
            raise bad("resource", um["name"], f"The backend services of a URL map must share one load balancing scheme, not {' and '.join(sorted(schemes))}.")
        for s in services:
            if s["protocol"] in ("TCP", "SSL"):
                raise bad("resource", um["name"], f"Backend service '{s['name']}' has protocol {s['protocol']}, which a URL map cannot route to.")
        if has(um, "httpsRedirect", True):
            for k, o in self.everything():
                if k[2] == "targetHttpsProxies" and key in self.refs(k[0], k[2], o):
                    raise bad("resource", um["name"], f"httpsRedirect cannot be set in a URL map that TargetHttpsProxy '{k[3]}' uses.")

    def certificate(self, cert):
        if cert.get("type") == "MANAGED":
            for field in ("certificate", "privateKey", "selfManaged"):
                if field in cert:
                    raise bad(f"resource.{field}", "...", "A MANAGED certificate takes managed.domains, no certificate or private key.")
            domains = (cert.get("managed") or {}).get("domains") or []
            if not 1 <= len(domains) <= 100 or len(set(domains)) < len(domains):
                raise bad("resource.managed.domains", ",".join(domains), "A managed certificate needs 1 to 100 distinct domains.")
            for i, d in enumerate(domains):
                if not DOMAIN.fullmatch(d):
                    raise bad(f"resource.managed.domains[{i}]", d, "Each domain must be a fully qualified domain name, without wildcards.")
            cert["managed"] = {"domains": domains, "status": "PROVISIONING", "domainStatus": {d: "PROVISIONING" for d in domains}}
            cert["subjectAlternativeNames"] = list(domains)
            return
        cert["type"] = "SELF_MANAGED"  # "If not specified, the certificate is self-managed"
        if "managed" in cert:
            raise bad("resource.managed", "...", "A SELF_MANAGED certificate takes a certificate and a private key, not managed.")
        given = cert.pop("selfManaged", None) or {}
        pem = cert.get("certificate") or given.get("certificate") or ""
        key = cert.pop("privateKey", None) or given.get("privateKey") or ""
        if not 1 <= len(PEM_CERT.findall(pem)) <= 5:
            raise ApiError(400, "The SSL certificate could not be parsed.", "sslCertificateCouldNotParseCert")
        if not PEM_KEY.search(key):
            raise ApiError(400, "The SSL key could not be parsed.", "sslCertificateCouldNotParseKey")
        names, expiry = decode_certificate(pem)
        cert.update(
            certificate=pem,
            subjectAlternativeNames=names,
            # A stand-in that does not decode is given a year, as a CA would.
            expireTime=expiry or time.strftime("%Y-%m-%dT%H:%M:%S.000-00:00", time.gmtime(time.time() + 365 * 86400)),
        )

    def certificates(self, proxy, where):
        certs = proxy.get("sslCertificates") or []
        if not 1 <= len(certs) <= 15 or len(set(certs)) < len(certs):
            raise bad(where, ",".join(certs), "A target HTTPS proxy needs 1 to 15 distinct SSL certificates.")

    def proxy(self, collection, proxy):
        if not proxy.get("urlMap"):
            raise bad("resource.urlMap", "", "A target proxy needs a URL map.")
        if collection == "targetHttpsProxies":
            if "certificateMap" in proxy:
                raise ApiError(501, "Certificate Manager certificate maps are not emulated yet.")
            self.certificates(proxy, "resource.sslCertificates")
            proxy.setdefault("quicOverride", "NONE")

    def no_https_redirect(self, project, link, where):
        if has(self.compute.objects[self.key(project, link, "")], "httpsRedirect", True):
            raise bad(where, link, "A URL map with httpsRedirect cannot be used by a TargetHttpsProxy.")

    def forwarding_rule(self, fr):
        scheme = fr.setdefault("loadBalancingScheme", "EXTERNAL")
        if scheme not in ("EXTERNAL", "EXTERNAL_MANAGED"):
            raise ApiError(501, f"Global forwarding rules with loadBalancingScheme {scheme} are not emulated yet.")
        if not fr.get("target") or "backendService" in fr:
            raise bad("resource.target", fr.get("target", ""), "An external global forwarding rule names a target proxy.")
        if fr.setdefault("IPProtocol", "TCP") != "TCP":
            raise bad("resource.IPProtocol", fr["IPProtocol"], "A forwarding rule to a target HTTP(S) proxy must use TCP.")
        if fr.setdefault("networkTier", "PREMIUM") != "PREMIUM":
            raise bad("resource.networkTier", fr["networkTier"], "Global forwarding rules are always in the PREMIUM network tier.")
        for field in ("ports", "allPorts"):
            if field in fr:
                raise bad(f"resource.{field}", fr[field], "A forwarding rule to a target proxy takes a portRange.")
        if "portRange" in fr:
            found = re.fullmatch(r"([0-9]+)(?:-([0-9]+))?", fr["portRange"])
            if not found or found.group(2) not in (None, found.group(1)) or not 1 <= int(found.group(1)) <= 65535:
                raise bad("resource.portRange", fr["portRange"], "A forwarding rule to a target proxy takes one port, from 1 to 65535.")
            fr["portRange"] = f"{found.group(1)}-{found.group(1)}"
        check_labels(fr.get("labels", {}), "resource.labels")

    def address(self, project, fr, key):
        """The rule's IP: a reserved global external address (named, or its number), else
        an ephemeral one (from 192.0.2.0/24), clear of other rules on the same port."""
        given = fr.get("IPAddress")
        if given:
            try:
                ipaddress.ip_address(given)
                found = [o for k, o in self.compute.objects.items() if k[:3] == (project, "global", "globalAddresses") and o.get("address") == given]
                if not found:
                    raise bad("resource.IPAddress", given, "The IP address is not a global address reserved in the project.")
                address = found[0]
            except ValueError:
                akey = self.key(project, given, "globalAddresses")
                if akey[1:3] != ("global", "globalAddresses"):
                    raise bad("resource.IPAddress", given, "A global forwarding rule needs a global address.")
                self.compute.must_exist(akey)
                address = self.compute.objects[akey]
            if address.get("addressType") != "EXTERNAL":
                raise bad("resource.IPAddress", given, "An external forwarding rule needs an EXTERNAL address.")
            version = address.get("ipVersion", "IPV4")
            if fr.setdefault("ipVersion", version) != version:
                raise bad("resource.ipVersion", fr["ipVersion"], f"The address is {version}.")
            fr["IPAddress"] = address["address"]
        else:
            taken = {o.get("IPAddress") for _, o in self.everything()}
            pool = ipaddress.ip_network("2001:db8:ffff::/112" if fr.get("ipVersion") == "IPV6" else "192.0.2.0/24")
            fr["IPAddress"] = next(str(h) for h in pool.hosts() if str(h) not in taken)
            fr.setdefault("ipVersion", "IPV6" if pool.version == 6 else "IPV4")
        for k, o in self.everything():
            if k[2] == "globalForwardingRules" and k != key and o.get("IPAddress") == fr["IPAddress"]:
                if o.get("IPProtocol") == fr["IPProtocol"] and o.get("portRange") == fr.get("portRange"):
                    raise bad("resource.IPAddress", fr["IPAddress"], "Specified IP address is in-use and would result in a conflict.")

    def fits(self, project, fr):
        """A forwarding rule's port and scheme against its target proxy and its services."""
        tkey = self.key(project, fr["target"], "")
        port = CLASSIC_PORTS[tkey[2]][0]
        fr.setdefault("portRange", f"{port}-{port}")
        port = int(fr["portRange"].split("-")[0])
        if fr["loadBalancingScheme"] == "EXTERNAL" and port not in CLASSIC_PORTS[tkey[2]]:
            allowed = " or ".join(map(str, CLASSIC_PORTS[tkey[2]]))
            raise bad("resource.portRange", fr["portRange"], f"A classic Application Load Balancer's {KINDS[tkey[2]][8:]} listens on port {allowed}.")
        url_map = self.compute.objects.get(self.key(project, self.compute.objects[tkey]["urlMap"], ""))
        schemes = {self.compute.objects[k]["loadBalancingScheme"] for k in self.refs(project, "urlMaps", url_map or {})}
        if schemes and schemes != {fr["loadBalancingScheme"]}:
            raise bad("resource.loadBalancingScheme", fr["loadBalancingScheme"], f"The target's backend services are {', '.join(sorted(schemes))}; the schemes must match.")

    def security_policy(self, sp):
        if sp.setdefault("type", "CLOUD_ARMOR") not in ("CLOUD_ARMOR", "CLOUD_ARMOR_EDGE"):
            raise bad("resource.type", sp["type"], "A global security policy is CLOUD_ARMOR or CLOUD_ARMOR_EDGE.")
        rules = [self.rule(r, f"resource.rules[{i}]") for i, r in enumerate(sp.get("rules", []))]
        priorities = [r["priority"] for r in rules]
        for i, p in enumerate(priorities):
            if p in priorities[:i]:
                raise bad(f"resource.rules[{i}].priority", p, "Cannot have rules with the same priorities.")
        if DEFAULT_PRIORITY not in priorities:  # "a default rule with action allow will be added"
            rules.append(
                {
                    "kind": "compute#securityPolicyRule",
                    "description": "default rule",
                    "priority": DEFAULT_PRIORITY,
                    "match": {"versionedExpr": "SRC_IPS_V1", "config": {"srcIpRanges": ["*"]}},
                    "action": "allow",
                    "preview": False,
                }
            )
        sp["rules"] = sorted(rules, key=lambda r: r["priority"])
        check_labels(sp.get("labels", {}), "resource.labels")

    def rule(self, rule, at):
        rule = dict(rule, kind="compute#securityPolicyRule")
        if "priority" not in rule:
            raise ApiError(400, f"Required field '{at}.priority' not specified")
        priority = rule["priority"] = int(rule["priority"])
        if not 0 <= priority <= DEFAULT_PRIORITY:
            raise bad(f"{at}.priority", priority, "The priority must be between 0 and 2147483647.")
        action = rule.get("action", "")
        if action not in ACTIONS:
            raise bad(f"{at}.action", action, f"The action must be one of {', '.join(ACTIONS)}.")
        for field, actions in (("rateLimitOptions", ("throttle", "rate_based_ban")), ("redirectOptions", ("redirect",))):
            if (field in rule) != (action in actions):
                raise bad(f"{at}.{field}", action, f"{field} is required with, and only with, the action {' or '.join(actions)}.")
        match = rule.get("match") or {}
        if ("versionedExpr" in match) == ("expr" in match) or ("config" in match) != ("versionedExpr" in match):
            raise bad(f"{at}.match", json.dumps(match), "A match needs versionedExpr with config, or expr.")
        if "versionedExpr" in match:
            ranges = match["config"].get("srcIpRanges") or []
            if not 1 <= len(ranges) <= 10:
                raise bad(f"{at}.match.config.srcIpRanges", ",".join(ranges), "Maximum number of src_ip_ranges allowed is 10 (and at least one is needed).")
            for i, cidr in enumerate(ranges):
                try:
                    if cidr != "*":
                        ipaddress.ip_network(cidr, strict=False)
                except ValueError:
                    raise bad(f"{at}.match.config.srcIpRanges[{i}]", cidr, "It is not a valid IP address or CIDR range.")
        elif not (match["expr"] or {}).get("expression"):
            raise bad(f"{at}.match.expr.expression", "", "The expression must not be empty.")
        if priority == DEFAULT_PRIORITY and (match.get("config") or {}).get("srcIpRanges") != ["*"]:
            raise bad(f"{at}.match", json.dumps(match), "The default rule (priority 2147483647) must match all traffic: srcIpRanges ['*'].")
        rule.setdefault("preview", False)
        return rule

    def rules_after(self, verb, rules, body, query):
        """A security policy's rules after addRule, patchRule or removeRule."""
        rules = copy.deepcopy(rules)
        index = {r["priority"]: i for i, r in enumerate(rules)}
        if verb == "addRule":
            rule = self.rule(body, "resource")
            if rule["priority"] in index:
                raise bad("resource.priority", rule["priority"], "Cannot have rules with the same priorities.")
            return sorted(rules + [rule], key=lambda r: r["priority"])
        priority = asked_priority(query)
        if priority not in index:
            raise bad("priority", priority, "The security policy has no rule with this priority.")
        if verb == "removeRule":
            if priority == DEFAULT_PRIORITY:
                raise bad("priority", priority, "The default rule cannot be removed.")
            rules.pop(index[priority])
            return rules
        rule = merge_patch(rules[index[priority]], body)
        clear(rule, body, query)
        rule = self.rule(rule, "resource")
        if rule["priority"] != priority and (rule["priority"] in index or priority == DEFAULT_PRIORITY):
            raise bad("resource.priority", rule["priority"], "Cannot have rules with the same priorities, nor move the default rule.")
        rules[index[priority]] = rule
        return sorted(rules, key=lambda r: r["priority"])
