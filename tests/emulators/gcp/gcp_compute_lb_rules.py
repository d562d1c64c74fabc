"""The rules of Compute's load-balancing collections, for gcp_compute_lb.py: which
collections and methods there are, the references between them, the fields the server
sets, the formats and defaults of their fields, and the small checks and merges the
collections' methods share."""

import base64
import copy
import hashlib
import json
import os
import re
import ssl
import tempfile
import time

from gcp_contract import ApiError


KINDS = {
    "healthChecks": "compute#healthCheck",
    "backendServices": "compute#backendService",
    "urlMaps": "compute#urlMap",
    "sslCertificates": "compute#sslCertificate",
    "targetHttpsProxies": "compute#targetHttpsProxy",
    "targetHttpProxies": "compute#targetHttpProxy",
    "globalForwardingRules": "compute#forwardingRule",
    "securityPolicies": "compute#securityPolicy",
}
SEGMENT = {"globalForwardingRules": "forwardingRules"}
# Methods served beyond insert / get / list / delete / patch (global addresses' labels too).
METHODS = {
    "healthChecks": ("update",),
    "backendServices": ("update", "setSecurityPolicy"),
    "urlMaps": ("update",),
    "targetHttpsProxies": ("setUrlMap", "setSslCertificates"),
    "targetHttpProxies": ("setUrlMap",),
    "globalForwardingRules": ("setLabels", "setTarget"),
    "securityPolicies": ("addRule", "patchRule", "removeRule", "getRule", "setLabels"),
    "globalAddresses": ("setLabels",),
}
# Where an object names others: field -> the collections it may name. URL maps name
# backend services at any depth (path matchers, path and route rules, route actions).
REFS = {
    "backendServices": {"healthChecks": ("healthChecks",), "securityPolicy": ("securityPolicies",)},
    "urlMaps": {f: ("backendServices",) for f in ("defaultService", "service", "backendService")},
    "targetHttpsProxies": {"urlMap": ("urlMaps",), "sslCertificates": ("sslCertificates",)},
    "targetHttpProxies": {"urlMap": ("urlMaps",)},
    "globalForwardingRules": {"target": ("targetHttpProxies", "targetHttpsProxies")},
}
# What a reference may rightly name but this emulator does not hold: a 501, not a 404.
NOT_EMULATED = {
    "backendBuckets", "httpHealthChecks", "httpsHealthChecks", "networkEndpointGroups",
    "targetGrpcProxies", "targetSslProxies", "targetTcpProxies", "targetPools",
}
FINGERPRINTED = {"backendServices", "urlMaps", "targetHttpsProxies", "targetHttpProxies", "globalForwardingRules", "securityPolicies"}
# The document: "An up-to-date fingerprint must be provided" to patch or update these
# (a forwarding rule's is optional).
FINGERPRINT_REQUIRED = FINGERPRINTED - {"globalForwardingRules"}
LABELLED = {"globalAddresses", "globalForwardingRules", "securityPolicies"}
SERVER = ("kind", "id", "creationTimestamp", "selfLink")
# Output-only fields, which a client sending back what it got does not set.
OUTPUT = set(SERVER) | {
    "fingerprint", "labelFingerprint", "usedBy", "users", "status", "region", "selfLinkWithId",
    "edgeSecurityPolicy", "expireTime", "subjectAlternativeNames",
}
DEFAULT_PRIORITY = 2147483647
EMPTY_LABELS = "42WmSpB8rSM="  # Compute's fingerprint of no labels

HC_BLOCKS = {
    "HTTP": "httpHealthCheck", "HTTPS": "httpsHealthCheck", "HTTP2": "http2HealthCheck",
    "TCP": "tcpHealthCheck", "SSL": "sslHealthCheck", "GRPC": "grpcHealthCheck",
    "GRPC_WITH_TLS": "grpcTlsHealthCheck",
}
HC_PORTS = {"HTTP": 80, "HTTPS": 443, "HTTP2": 443, "TCP": 80, "SSL": 443}
NAME = re.compile(r"[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?")
PATH = re.compile(r"/[^*?#]*(?:(?<=/)\*)?")
HOST = re.compile(r"\*|(?:\*[-.])?[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?(?::[0-9]{1,5})?", re.I)
DOMAIN = re.compile(r"(?=.{1,253}$)(?:[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z][-a-z0-9]{0,61}[a-z0-9]")
GROUP = re.compile(
    r"https://www\.googleapis\.com/compute/v1/projects/[^/]+/(?:(zones|regions)/[^/]+|global)/(instanceGroups|networkEndpointGroups)/[^/]+"
)
PEM_CERT = re.compile(r"-----BEGIN CERTIFICATE-----\s*[^-\s][^-]*-----END CERTIFICATE-----")
PEM_KEY = re.compile(r"-----BEGIN ((?:RSA |EC )?PRIVATE KEY)-----\s*[^-\s][^-]*-----END \1-----")
LABEL_KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}")
LABEL_VALUE = re.compile(r"[a-z0-9_-]{0,63}")
# The classic Application Load Balancer (EXTERNAL) listens on these only; the global
# external one (EXTERNAL_MANAGED) on any one port.
CLASSIC_PORTS = {"targetHttpProxies": (80, 8080), "targetHttpsProxies": (443,)}
ACTIONS = ("allow", "deny(403)", "deny(404)", "deny(502)", "redirect", "throttle", "rate_based_ban")


def bad(where, value, why):
    return ApiError(400, f"Invalid value for field '{where}': '{value}'. {why}")


def digest(value):
    """A fingerprint: eight bytes of a hash of the contents, in Base64 as Compute gives them."""
    data = json.dumps(value, sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()[:8]).decode()


def merge_patch(target, patch):
    """RFC 7396 JSON merge patch, as Compute's patch methods apply it: objects merge, a
    null removes, anything else (a list too) replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def clear(obj, body, query):
    """The fields an `updateMask` names and the body leaves out, cleared (what the mask of
    securityPolicies.patch and patchRule means)."""
    for path in filter(None, (p.strip() for p in (query.get("updateMask") or [""])[0].split(","))):
        *parents, last = path.split(".")
        have, given = obj, body
        for part in parents:
            have = have.get(part) if isinstance(have, dict) else None
            given = given.get(part) if isinstance(given, dict) else None
        if isinstance(have, dict) and not (isinstance(given, dict) and last in given):
            have.pop(last, None)


def rewrite(spec, value, fn, where):
    """`value` with each reference in a field of `spec` replaced by fn(where, ref, collections)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            at = f"{where}.{k}"
            if k in spec and isinstance(v, str):
                out[k] = fn(at, v, spec[k])
            elif k in spec and isinstance(v, list):
                out[k] = [fn(f"{at}[{i}]", x, spec[k]) for i, x in enumerate(v)]
            else:
                out[k] = rewrite(spec, v, fn, at)
        return out
    if isinstance(value, list):
        return [rewrite(spec, v, fn, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def has(value, field, want):
    """Whether `field` is `want` anywhere in `value`."""
    if isinstance(value, dict):
        return value.get(field) == want or any(has(v, field, want) for v in value.values())
    return isinstance(value, list) and any(has(v, field, want) for v in value)


def decode_certificate(pem):
    """(DNS names, expiry) of a certificate Python's own ssl module reads, else ([], None):
    a PEM-shaped stand-in is taken as it is."""
    with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False) as f:
        f.write(pem)
    try:
        info = ssl._ssl._test_decode_cert(f.name)
    except (AttributeError, ssl.SSLError, ValueError):
        return [], None
    finally:
        os.unlink(f.name)
    names = [v for k, v in info.get("subjectAltName", ()) if k == "DNS"]
    return names, time.strftime("%Y-%m-%dT%H:%M:%S.000-00:00", time.gmtime(ssl.cert_time_to_seconds(info["notAfter"])))


def asked_priority(query):
    """The `priority` parameter of getRule, patchRule and removeRule (0 when absent)."""
    text = (query.get("priority") or ["0"])[0]
    if not re.fullmatch(r"-?[0-9]+", text):
        raise bad("priority", text, "It must be an integer.")
    return int(text)


def check_labels(labels, where):
    if len(labels) > 64:
        raise bad(where, len(labels), "A resource can have at most 64 labels.")
    for k, v in labels.items():
        for what, text, form in (("key", k, LABEL_KEY), ("value", v, LABEL_VALUE)):
            if not form.fullmatch(text):
                raise bad(
                    f"{where}.{k}",
                    text,
                    f"Label {what} '{text}' violates format constraints. It can only contain lowercase letters, numeric characters, underscores and dashes, at most 63 characters (a key starts with a lowercase letter).",
                )
