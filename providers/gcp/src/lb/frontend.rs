//! What clients meet: the managed certificate, the target HTTPS and HTTP proxies, and
//! the global forwarding rules listening on the balancer's address.

/// `gcp_compute_ssl_certificate`: a certificate Google issues and renews for the domains
/// (`MANAGED`; it turns ACTIVE once their DNS points at the balancer). Compute cannot change
/// one: every attribute forces a new certificate.
pub(crate) mod certificate {
    use crate::compute::s;
    use crate::lb::{base, not_updatable};
    use crate::Ctx;
    use cairn_core::provider::*;
    use cairn_core::value::{Attrs, Value};
    use google_cloud_compute_v1::model::{
        ssl_certificate, SslCertificate, SslCertificateManagedSslCertificate,
    };

    global_collection!(
        ssl_certificates,
        set_ssl_certificate,
        SslCertificate,
        "SSL certificate",
        attrs
    );

    fn attrs(project: &str, c: &SslCertificate) -> Attrs {
        let managed = c.managed.clone().unwrap_or_default();
        let mut a = base(project, "sslCertificates", &c.name, &c.self_link);
        a.extend([
            (
                "type".into(),
                Value::str(c.r#type.as_ref().and_then(|t| t.name()).unwrap_or_default()),
            ),
            (
                "domains".into(),
                Value::List(managed.domains.iter().map(Value::str).collect()),
            ),
            (
                "status".into(),
                Value::str(
                    managed
                        .status
                        .as_ref()
                        .and_then(|t| t.name())
                        .unwrap_or_default(),
                ),
            ),
        ]);
        a
    }

    pub(crate) async fn create(
        ctx: &Ctx,
        req: &CreateRequest,
    ) -> Result<CreateResponse, ProviderError> {
        let a = &req.attrs;
        let domains: Vec<String> = a
            .get("domains")
            .and_then(Value::as_list)
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        let body = SslCertificate::new()
            .set_name(s(a, "name"))
            .set_type(ssl_certificate::Type::from(s(a, "type")))
            .set_managed(SslCertificateManagedSslCertificate::new().set_domains(domains));
        insert(ctx, req, body).await
    }

    pub(crate) async fn update(
        _ctx: &Ctx,
        req: &UpdateRequest,
    ) -> Result<UpdateResponse, ProviderError> {
        Err(not_updatable(req, "certificate"))
    }
}

/// `gcp_compute_target_https_proxy`: terminates TLS with the certificates and hands the
/// request to the URL map. Both are changed in place (`setUrlMap`, `setSslCertificates`).
pub(crate) mod https_proxy {
    use crate::compute::s;
    use crate::lb::base;
    use crate::operation::{self, Scope};
    use crate::Ctx;
    use cairn_core::provider::*;
    use cairn_core::value::{Attrs, Value};
    use google_cloud_compute_v1::model::{
        TargetHttpsProxiesSetSslCertificatesRequest, TargetHttpsProxy, UrlMapReference,
    };

    global_collection!(
        target_https_proxies,
        set_target_https_proxy,
        TargetHttpsProxy,
        "target HTTPS proxy",
        attrs
    );

    fn attrs(project: &str, p: &TargetHttpsProxy) -> Attrs {
        let mut a = base(project, "targetHttpsProxies", &p.name, &p.self_link);
        a.extend([
            (
                "url_map".into(),
                Value::str(p.url_map.as_deref().unwrap_or_default()),
            ),
            (
                "ssl_certificates".into(),
                Value::List(p.ssl_certificates.iter().map(Value::str).collect()),
            ),
        ]);
        a
    }

    fn certificates(a: &Attrs) -> Vec<String> {
        a.get("ssl_certificates")
            .and_then(Value::as_list)
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    }

    pub(crate) async fn create(
        ctx: &Ctx,
        req: &CreateRequest,
    ) -> Result<CreateResponse, ProviderError> {
        let a = &req.attrs;
        let body = TargetHttpsProxy::new()
            .set_name(s(a, "name"))
            .set_url_map(s(a, "url_map"))
            .set_ssl_certificates(certificates(a));
        insert(ctx, req, body).await
    }

    pub(crate) async fn update(
        ctx: &Ctx,
        req: &UpdateRequest,
    ) -> Result<UpdateResponse, ProviderError> {
        let name = s(&req.attrs, "name");
        let held = get(ctx, &req.address, name).await?;
        let proxies = &ctx.c.target_https_proxies;
        if held.get("url_map") != req.attrs.get("url_map") {
            let sent = proxies
                .set_url_map()
                .set_project(&ctx.project)
                .set_target_https_proxy(name)
                .set_body(UrlMapReference::new().set_url_map(s(&req.attrs, "url_map")))
                .send()
                .await;
            operation::patched(ctx, req, "target HTTPS proxy", Scope::Global, sent).await?;
        }
        if held.get("ssl_certificates") != req.attrs.get("ssl_certificates") {
            let sent = proxies
                .set_ssl_certificates()
                .set_project(&ctx.project)
                .set_target_https_proxy(name)
                .set_body(
                    TargetHttpsProxiesSetSslCertificatesRequest::new()
                        .set_ssl_certificates(certificates(&req.attrs)),
                )
                .send()
                .await;
            operation::patched(ctx, req, "target HTTPS proxy", Scope::Global, sent).await?;
        }
        Ok(UpdateResponse {
            attrs: get(ctx, &req.address, name).await?,
        })
    }
}

/// `gcp_compute_target_http_proxy`: hands plain HTTP to a URL map (the redirect map).
pub(crate) mod http_proxy {
    use crate::compute::s;
    use crate::lb::base;
    use crate::operation::{self, Scope};
    use crate::Ctx;
    use cairn_core::provider::*;
    use cairn_core::value::{Attrs, Value};
    use google_cloud_compute_v1::model::{TargetHttpProxy, UrlMapReference};

    global_collection!(
        target_http_proxies,
        set_target_http_proxy,
        TargetHttpProxy,
        "target HTTP proxy",
        attrs
    );

    fn attrs(project: &str, p: &TargetHttpProxy) -> Attrs {
        let mut a = base(project, "targetHttpProxies", &p.name, &p.self_link);
        a.insert(
            "url_map".into(),
            Value::str(p.url_map.as_deref().unwrap_or_default()),
        );
        a
    }

    pub(crate) async fn create(
        ctx: &Ctx,
        req: &CreateRequest,
    ) -> Result<CreateResponse, ProviderError> {
        let a = &req.attrs;
        let body = TargetHttpProxy::new()
            .set_name(s(a, "name"))
            .set_url_map(s(a, "url_map"));
        insert(ctx, req, body).await
    }

    pub(crate) async fn update(
        ctx: &Ctx,
        req: &UpdateRequest,
    ) -> Result<UpdateResponse, ProviderError> {
        let name = s(&req.attrs, "name");
        let sent = ctx
            .c
            .target_http_proxies
            .set_url_map()
            .set_project(&ctx.project)
            .set_target_http_proxy(name)
            .set_body(UrlMapReference::new().set_url_map(s(&req.attrs, "url_map")))
            .send()
            .await;
        operation::patched(ctx, req, "target HTTP proxy", Scope::Global, sent).await?;
        Ok(UpdateResponse {
            attrs: get(ctx, &req.address, name).await?,
        })
    }
}

/// `gcp_compute_global_forwarding_rule`: the balancer's address and one port, handed to a
/// target proxy (`EXTERNAL_MANAGED`, TCP, Premium tier). Only the target changes in place
/// (`setTarget`: Compute patches nothing else of a global forwarding rule but its tier).
pub(crate) mod forwarding_rule {
    use crate::compute::s;
    use crate::lb::base;
    use crate::operation::{self, Scope};
    use crate::Ctx;
    use cairn_core::provider::*;
    use cairn_core::value::{Attrs, Value};
    use google_cloud_compute_v1::model::{forwarding_rule, ForwardingRule, TargetReference};

    global_collection!(
        global_forwarding_rules,
        set_forwarding_rule,
        ForwardingRule,
        "forwarding rule",
        attrs
    );

    fn attrs(project: &str, f: &ForwardingRule) -> Attrs {
        let mut a = base(project, "forwardingRules", &f.name, &f.self_link);
        a.extend([
            (
                "target".into(),
                Value::str(f.target.as_deref().unwrap_or_default()),
            ),
            (
                "ip_address".into(),
                Value::str(f.ip_address.as_deref().unwrap_or_default()),
            ),
            (
                "port_range".into(),
                Value::str(f.port_range.as_deref().unwrap_or_default()),
            ),
            (
                "load_balancing_scheme".into(),
                Value::str(
                    f.load_balancing_scheme
                        .as_ref()
                        .and_then(|p| p.name())
                        .unwrap_or("EXTERNAL"),
                ),
            ),
        ]);
        a
    }

    pub(crate) async fn create(
        ctx: &Ctx,
        req: &CreateRequest,
    ) -> Result<CreateResponse, ProviderError> {
        let a = &req.attrs;
        let body = ForwardingRule::new()
            .set_name(s(a, "name"))
            .set_target(s(a, "target"))
            .set_ip_address(s(a, "ip_address"))
            .set_port_range(s(a, "port_range"))
            .set_ip_protocol(forwarding_rule::IPProtocol::from("TCP"))
            .set_load_balancing_scheme(forwarding_rule::LoadBalancingScheme::from(s(
                a,
                "load_balancing_scheme",
            )))
            .set_network_tier(forwarding_rule::NetworkTier::from("PREMIUM"));
        insert(ctx, req, body).await
    }

    pub(crate) async fn update(
        ctx: &Ctx,
        req: &UpdateRequest,
    ) -> Result<UpdateResponse, ProviderError> {
        let name = s(&req.attrs, "name");
        let sent = ctx
            .c
            .global_forwarding_rules
            .set_target()
            .set_project(&ctx.project)
            .set_forwarding_rule(name)
            .set_body(TargetReference::new().set_target(s(&req.attrs, "target")))
            .send()
            .await;
        operation::patched(ctx, req, "forwarding rule", Scope::Global, sent).await?;
        Ok(UpdateResponse {
            attrs: get(ctx, &req.address, name).await?,
        })
    }
}

/// Certificates a stack names without managing them (`Certificate::existing`): read when a
/// plan reads the cloud, so a name Compute does not hold is refused naming the field
/// before any create, never created or deleted.
pub(crate) mod existing {
    use crate::Ctx;
    use cairn_core::provider::{ProviderError, ReadOutcome, ReadRequest};
    use cairn_core::value::{Attrs, Text};
    use std::collections::BTreeMap;

    /// The type such a certificate is read as.
    pub(crate) const CERTIFICATE: &str = "gcp_compute_existing_ssl_certificate";

    /// One `sslCertificates.get` per certificate (each may be in another project).
    pub(crate) async fn read(
        ctx: &Ctx,
        req: &ReadRequest,
    ) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
        let mut out = BTreeMap::new();
        for item in &req.items {
            let link = item.id.clone().unwrap_or_default();
            // `…/projects/PROJECT/global/sslCertificates/NAME`, as the lowering wrote it.
            let tail = link.rsplit("/projects/").next().unwrap_or_default();
            let (project, name) = match tail.split('/').collect::<Vec<_>>()[..] {
                [p, "global", "sslCertificates", n] => (p.to_string(), n.to_string()),
                _ => (ctx.project.clone(), tail.to_string()),
            };
            let answer = ctx
                .c
                .ssl_certificates
                .get()
                .set_project(&project)
                .set_ssl_certificate(&name)
                .send()
                .await;
            let outcome = match answer {
                Ok(_) => ReadOutcome::Found {
                    id: link,
                    attrs: Attrs::new(),
                },
                Err(e) => match crate::error::convert(&item.address, e) {
                    ProviderError::NotFound { .. } => ReadOutcome::Gone,
                    other => ReadOutcome::Failed(other),
                },
            };
            out.insert(item.address.clone(), outcome);
        }
        Ok(out)
    }
}
