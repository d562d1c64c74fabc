//! The global external Application Load Balancer, as Compute builds it from parts: an
//! external global address, health checks, backend services (two per blue/green target
//! group), Cloud Armor security policies for routes limited to some clients, URL maps (the
//! routes; a second one answering HTTP with a redirect to HTTPS), a managed certificate,
//! target HTTP(S) proxies and the forwarding rules that listen on the address.
//!
//! Like the other Compute types, none of them carries cairn's labels (forwarding rules and
//! security policies could, the rest cannot), so each one's deterministic name
//! (`{stack}-{balancer}-…`) is its ownership mark and its id its Compute path. Every
//! collection is global; a refresh lists each once, filtered to the names asked for.
//!
//! References between the parts are full Compute URLs (what Compute answers), so a
//! reference read back compares equal to the `self_link` it was declared from. Compute
//! keeps a part from being deleted while another names it; the engine deletes in
//! reverse dependency order, and a delete refused while a dependent is still going is
//! re-sent until the delete timeout.

use cairn_core::value::{Attrs, Value};

/// `get`, `read`, `insert` and `delete` for one global Compute collection: `$client` is its
/// client in [`crate::client::Clients`], `$named` the builders' setter naming one object,
/// `$model` its object type and `$attrs` how cairn records one.
macro_rules! global_collection {
    ($client:ident, $named:ident, $model:ty, $what:expr, $attrs:path) => {
        /// The object `name` as cairn records it.
        pub(crate) async fn get(
            ctx: &crate::Ctx,
            address: &str,
            name: &str,
        ) -> Result<cairn_core::value::Attrs, cairn_core::provider::ProviderError> {
            let o = fetch(ctx, address, name).await?;
            Ok($attrs(&ctx.project, &o))
        }

        /// The object `name` as Compute holds it (with its fingerprint).
        #[allow(dead_code)]
        pub(crate) async fn fetch(
            ctx: &crate::Ctx,
            address: &str,
            name: &str,
        ) -> Result<$model, cairn_core::provider::ProviderError> {
            ctx.c
                .$client
                .get()
                .set_project(&ctx.project)
                .$named(name)
                .send()
                .await
                .map_err(|e| crate::error::convert(address, e))
        }

        /// A batch refresh: one list, filtered to the names asked for.
        pub(crate) async fn read(
            ctx: &crate::Ctx,
            req: &cairn_core::provider::ReadRequest,
        ) -> Result<
            std::collections::BTreeMap<cairn_core::value::Text, cairn_core::provider::ReadOutcome>,
            cairn_core::provider::ProviderError,
        > {
            let wanted = crate::compute::wanted(req);
            let names: Vec<String> = wanted.iter().map(|(_, n)| n.clone()).collect();
            let items = crate::compute::all_pages(&req.type_name, |token| {
                let list = ctx
                    .c
                    .$client
                    .list()
                    .set_project(&ctx.project)
                    .set_filter(crate::compute::name_filter(&names))
                    .set_page_token(token);
                async move { list.send().await.map(|p| (p.items, p.next_page_token)) }
            })
            .await?;
            let found = items
                .iter()
                .map(|o| {
                    let a = $attrs(&ctx.project, o);
                    (crate::compute::s(&a, "name").to_string(), a)
                })
                .collect();
            Ok(crate::compute::answer(wanted, found))
        }

        /// `(name, id)` of every object whose name `filter` matches (an inventory's list).
        pub(crate) async fn listed(
            ctx: &crate::Ctx,
            filter: &str,
        ) -> Result<Vec<(String, String)>, cairn_core::provider::ProviderError> {
            let items = crate::compute::all_pages(filter, |token| {
                let list = ctx
                    .c
                    .$client
                    .list()
                    .set_project(&ctx.project)
                    .set_filter(filter)
                    .set_page_token(token);
                async move { list.send().await.map(|p| (p.items, p.next_page_token)) }
            })
            .await?;
            Ok(items
                .iter()
                .map(|o| {
                    let a = $attrs(&ctx.project, o);
                    (
                        crate::compute::s(&a, "name").to_string(),
                        crate::compute::s(&a, "id").to_string(),
                    )
                })
                .collect())
        }

        /// Insert `body` under the create's token (a re-sent insert is known to Compute)
        /// and wait for it; one already there under its name is this stack's, adopted.
        pub(crate) async fn insert(
            ctx: &crate::Ctx,
            req: &cairn_core::provider::CreateRequest,
            body: $model,
        ) -> Result<cairn_core::provider::CreateResponse, cairn_core::provider::ProviderError> {
            let sent = ctx
                .c
                .$client
                .insert()
                .set_project(&ctx.project)
                .set_request_id(cairn_provider_kit::ownership::request_id(&req.token))
                .set_body(body)
                .send()
                .await;
            crate::operation::inserted(ctx, req, $what, crate::operation::Scope::Global, sent)
                .await?;
            let attrs = get(ctx, &req.address, crate::compute::s(&req.attrs, "name")).await?;
            Ok(cairn_core::provider::CreateResponse {
                id: crate::compute::s(&attrs, "id").into(),
                attrs,
            })
        }

        pub(crate) async fn delete(
            ctx: &crate::Ctx,
            req: &cairn_core::provider::DeleteRequest,
        ) -> Result<(), cairn_core::provider::ProviderError> {
            let name = crate::compute::last(&req.id).to_string();
            crate::operation::deleted_when_free(
                ctx,
                req,
                $what,
                crate::operation::Scope::Global,
                || {
                    ctx.c
                        .$client
                        .delete()
                        .set_project(&ctx.project)
                        .$named(&name)
                        .send()
                },
            )
            .await
        }
    };
}

pub(crate) mod armor;
pub(crate) mod backend;
pub(crate) mod frontend;
pub(crate) mod health_check;
pub(crate) mod url_map;

/// `projects/{project}/global/{collection}/{name}`: how cairn names a global object.
fn path(project: &str, collection: &str, name: &Option<String>) -> String {
    format!(
        "projects/{project}/global/{collection}/{}",
        name.as_deref().unwrap_or_default()
    )
}

/// The common attributes: id (Compute path), name, self link.
fn base(project: &str, collection: &str, name: &Option<String>, link: &Option<String>) -> Attrs {
    Attrs::from([
        ("id".into(), Value::str(path(project, collection, name))),
        (
            "name".into(),
            Value::str(name.as_deref().unwrap_or_default()),
        ),
        (
            "self_link".into(),
            Value::str(link.as_deref().unwrap_or_default()),
        ),
    ])
}

fn int(a: &Attrs, k: &str, default: i64) -> i32 {
    i32::try_from(a.get(k).and_then(Value::as_int).unwrap_or(default)).unwrap_or(i32::MAX)
}

/// Refused: a type whose every attribute forces a new object.
fn not_updatable(
    req: &cairn_core::provider::UpdateRequest,
    what: &str,
) -> cairn_core::provider::ProviderError {
    cairn_core::provider::ProviderError::Api {
        address: req.address.to_string(),
        code: "NotUpdatable".into(),
        message: format!("a {what} changes only by replacement"),
    }
}
