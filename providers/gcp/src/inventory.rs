//! Everything in the project marked as one stack's: the provider's half of
//! `Engine::inventory`.
//!
//! GCP marks ownership two ways, so the listing has two halves:
//! - The types that carry labels (secrets, Cloud SQL instances, Memorystore instances,
//!   Kafka clusters) are listed by the `cairn-stack` label, one list a page, with the same
//!   calls a refresh makes. Labels hold a digest of the address (an address has a `.`,
//!   which labels refuse), so an object is named by the recorded address whose digest it
//!   carries, or left unnamed when none does (an orphan's address is not recorded
//!   anywhere). Its `cairn-token` label says which create made it.
//! - Compute objects carry no labels on most of these types: their name, `{stack}-…`, is
//!   the mark (see `lower::gcp_name`), so each collection is listed once with a name
//!   filter on that prefix. In a project shared by two stacks whose names one begins the
//!   other with a `-` (`shop` and `shop-eu`), the shorter one's listing holds the longer
//!   one's Compute objects too: keep such stacks in separate projects (as GCP advises for
//!   environments anyway) or their inventories will report each other's objects.
//!
//! Objects being deleted are left out: they are going. Types inside a listed parent (SQL
//! databases and users, Kafka topics, the private service connection) live and die with
//! it and are not listed.

use crate::compute::{all_pages, s};
use crate::Ctx;
use cairn_core::provider::{OwnedObject, ProviderError};
use cairn_core::value::Text;
use cairn_provider_kit::ownership::label_value;
use std::collections::HashMap;

/// Every live object of `stack` the project holds, sorted; `addresses`: those state
/// records, to name labelled objects by.
pub(crate) async fn list(
    ctx: &Ctx,
    stack: &str,
    addresses: &[Text],
) -> Result<Vec<OwnedObject>, ProviderError> {
    let mut out = compute(ctx, stack).await?;
    let by_digest: HashMap<String, &Text> = addresses
        .iter()
        .map(|a| (label_value(a.as_str()), a))
        .collect();
    let labelled = |type_name: &str, id: &str, labels: &HashMap<String, String>| OwnedObject {
        type_name: type_name.into(),
        id: id.into(),
        address: labels
            .get("cairn-resource")
            .and_then(|d| by_digest.get(d))
            .map(|a| (*a).clone())
            .unwrap_or_default(),
        token: labels.get("cairn-token").map(|t| t.as_str().into()),
        kept: None,
    };
    for x in crate::secret::listed(ctx, stack, stack).await? {
        out.push(labelled("gcp_secret_manager_secret", &x.name, &x.labels));
    }
    for x in crate::sql::listed(ctx, stack, stack).await? {
        if crate::sql::state(&x) != "PENDING_DELETE" {
            let attrs = crate::sql::instance_attrs(ctx, &x);
            let labels = x
                .settings
                .as_ref()
                .map(|s| s.user_labels.clone())
                .unwrap_or_default();
            out.push(labelled(
                "gcp_sql_database_instance",
                s(&attrs, "id"),
                &labels,
            ));
        }
    }
    for x in crate::redis::listed(ctx, stack, stack).await? {
        if x.state.name() != Some("DELETING") {
            out.push(labelled("gcp_redis_instance", &x.name, &x.labels));
        }
    }
    for x in crate::kafka::listed_clusters(ctx, stack, stack).await? {
        if x.state.name() != Some("DELETING") {
            out.push(labelled("gcp_managed_kafka_cluster", &x.name, &x.labels));
        }
    }
    out.sort();
    Ok(out)
}

/// `(name, id)` of the objects of one Compute collection whose names match `$filter`:
/// `$attrs` is how cairn records one (its id included); `$region` for a regional one.
macro_rules! named {
    ($ctx:expr, $filter:expr, $client:ident, $attrs:path $(, region = $region:expr)?) => {{
        let items = all_pages($filter, |token| {
            let list = $ctx
                .c
                .$client
                .list()
                .set_project(&$ctx.project)
                $(.set_region($region))?
                .set_filter($filter)
                .set_page_token(token);
            async move { list.send().await.map(|p| (p.items, p.next_page_token)) }
        })
        .await?;
        items
            .iter()
            .map(|o| {
                let a = $attrs(&$ctx.project, o);
                (s(&a, "name").to_string(), s(&a, "id").to_string())
            })
            .collect::<Vec<(String, String)>>()
    }};
}

/// The Compute objects named as the stack's, one filtered list per collection.
async fn compute(ctx: &Ctx, stack: &str) -> Result<Vec<OwnedObject>, ProviderError> {
    // The stack's part of every name it gives, as `gcp_name` spells it.
    let named_x = crate::lower::gcp_name(stack, "x");
    let prefix = named_x.strip_suffix('x').unwrap_or(&named_x).to_string();
    let filter = format!("name eq {prefix}.*");
    let f = filter.as_str();
    use crate::lb::{armor, backend, frontend, health_check, url_map};
    let found: Vec<(&str, Vec<(String, String)>)> = vec![
        (
            "gcp_compute_network",
            named!(ctx, f, networks, crate::compute::network_attrs),
        ),
        (
            "gcp_compute_subnetwork",
            named!(
                ctx,
                f,
                subnetworks,
                crate::compute::subnetwork_attrs,
                region = &ctx.region
            ),
        ),
        (
            "gcp_compute_firewall",
            named!(ctx, f, firewalls, crate::firewall::firewall_attrs),
        ),
        (
            "gcp_compute_router",
            named!(
                ctx,
                f,
                routers,
                crate::router::router_attrs,
                region = &ctx.region
            ),
        ),
        (
            "gcp_compute_global_address",
            named!(ctx, f, global_addresses, crate::psa::address_attrs),
        ),
        (
            "gcp_compute_health_check",
            health_check::listed(ctx, f).await?,
        ),
        ("gcp_compute_security_policy", armor::listed(ctx, f).await?),
        (
            "gcp_compute_backend_service",
            backend::listed(ctx, f).await?,
        ),
        ("gcp_compute_url_map", url_map::listed(ctx, f).await?),
        (
            "gcp_compute_ssl_certificate",
            frontend::certificate::listed(ctx, f).await?,
        ),
        (
            "gcp_compute_target_https_proxy",
            frontend::https_proxy::listed(ctx, f).await?,
        ),
        (
            "gcp_compute_target_http_proxy",
            frontend::http_proxy::listed(ctx, f).await?,
        ),
        (
            "gcp_compute_global_forwarding_rule",
            frontend::forwarding_rule::listed(ctx, f).await?,
        ),
    ];
    Ok(found
        .into_iter()
        .flat_map(|(type_name, objects)| {
            let prefix = prefix.clone();
            objects.into_iter().map(move |(name, id)| OwnedObject {
                type_name: type_name.into(),
                address: format!(
                    "{type_name}.{}",
                    name.strip_prefix(prefix.as_str()).unwrap_or(&name)
                )
                .into(),
                id: id.into(),
                token: None,
                kept: None,
            })
        })
        .collect())
}
