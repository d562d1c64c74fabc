//! Managed Service for Apache Kafka: a cluster sized in vCPUs and memory, reached from one
//! subnetwork of the stack's network, and its topics.
//!
//! Clusters carry labels (ownership) and take a `requestId`: the create's token as a UUID,
//! so a create re-sent after a crash is recognised by the service itself. A refresh lists
//! the region's clusters once, keeping the stack's by label, and each cluster's topics
//! once. Topics carry nothing of their own: their cluster is the stack's, and their id
//! (the topic name) is the natural key.

use crate::compute::{last, s};
use crate::error::{convert, is_conflict, is_not_found, GaxError};
use crate::Ctx;
use cairn_core::provider::*;
use cairn_core::value::{Attrs, Text, Value};
use cairn_provider_kit::adopt::{self, Existing};
use cairn_provider_kit::ownership::{label_value, request_id};
use google_cloud_longrunning::model::Operation;
use google_cloud_managedkafka_v1::model::{
    AccessConfig, CapacityConfig, Cluster, GcpConfig, NetworkConfig, Topic,
};
use std::collections::BTreeMap;
use std::time::Duration;

fn int(a: &Attrs, k: &str) -> i64 {
    match a.get(k) {
        Some(Value::Int(n)) => *n,
        _ => 0,
    }
}

fn parent(ctx: &Ctx, region: &str) -> String {
    format!("projects/{}/locations/{region}", ctx.project)
}

async fn done(
    ctx: &Ctx,
    address: &str,
    progress: &Progress,
    op: Operation,
    timeout: Duration,
) -> Result<(), ProviderError> {
    crate::lro::done(
        address,
        "Kafka cluster",
        progress,
        op,
        timeout,
        ctx.options.first_poll,
        |name| ctx.c.kafka.get_operation().set_name(name).send(),
    )
    .await
}

/// Send `call` (retried while the cluster is busy) and wait on its operation.
async fn run<F, Fut>(
    ctx: &Ctx,
    address: &str,
    progress: &Progress,
    timeout: Duration,
    call: F,
) -> Result<(), ProviderError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Operation, GaxError>>,
{
    match crate::lro::sent_when_free(address, progress, timeout, crate::lro::busy, call).await? {
        Some(op) => done(ctx, address, progress, op, timeout).await,
        None => Err(ProviderError::NotFound {
            address: address.to_string(),
        }),
    }
}

// ---------------------------------------------------------------------------------------
// gcp_managed_kafka_cluster

fn cluster_body(stack: &str, address: &str, token: Option<&str>, a: &Attrs) -> Cluster {
    let labels = crate::labels::marked(stack, address, token, a);
    let subnets = match a.get("subnets") {
        Some(Value::List(l)) => l
            .iter()
            .filter_map(Value::as_str)
            .map(|subnet| NetworkConfig::new().set_subnet(subnet))
            .collect(),
        _ => Vec::new(),
    };
    Cluster::new()
        .set_capacity_config(
            CapacityConfig::new()
                .set_vcpu_count(int(a, "vcpu_count"))
                .set_memory_bytes(int(a, "memory_bytes")),
        )
        .set_gcp_config(
            GcpConfig::new().set_access_config(AccessConfig::new().set_network_configs(subnets)),
        )
        .set_labels(labels)
}

/// `projects/{number or id}/rest` as `projects/{project_id}/rest`.
fn by_project_id(project_id: &str, path: &str) -> String {
    match path
        .strip_prefix("projects/")
        .and_then(|p| p.split_once('/'))
    {
        Some((_, rest)) => format!("projects/{project_id}/{rest}"),
        None => path.to_string(),
    }
}

fn cluster_attrs(project_id: &str, x: &Cluster) -> Attrs {
    let user = crate::labels::user(&x.labels);
    let capacity = x.capacity_config.clone().unwrap_or_default();
    let subnets = match &x.platform_config {
        Some(google_cloud_managedkafka_v1::model::cluster::PlatformConfig::GcpConfig(g)) => g
            .access_config
            .iter()
            .flat_map(|a| a.network_configs.iter())
            // Answered with the project's number: recorded with its id, as declared.
            .map(|n| Value::str(by_project_id(project_id, &n.subnet)))
            .collect(),
        _ => Vec::new(),
    };
    let parts: Vec<&str> = x.name.split('/').collect();
    let cluster = last(&x.name);
    let region = parts.get(3).copied().unwrap_or_default();
    let project = parts.get(1).copied().unwrap_or_default();
    Attrs::from([
        ("id".into(), Value::str(&x.name)),
        ("cluster_id".into(), Value::str(cluster)),
        ("region".into(), Value::str(region)),
        ("vcpu_count".into(), Value::Int(capacity.vcpu_count)),
        ("memory_bytes".into(), Value::Int(capacity.memory_bytes)),
        ("subnets".into(), Value::List(subnets)),
        ("labels".into(), user),
        (
            "state".into(),
            Value::str(x.state.name().unwrap_or_default()),
        ),
        // Managed Kafka's bootstrap address follows one documented pattern.
        (
            "bootstrap_address".into(),
            Value::str(format!(
                "bootstrap.{cluster}.{region}.managedkafka.{project}.cloud.goog:9092"
            )),
        ),
    ])
}

async fn get_cluster(
    ctx: &Ctx,
    address: &str,
    name: &str,
) -> Result<Option<Cluster>, ProviderError> {
    match ctx.c.kafka.get_cluster().set_name(name).send().await {
        Ok(x) => Ok(Some(x)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(convert(address, e)),
    }
}

/// The stack's clusters in the provider's region, by label: one list call a page (those
/// being deleted included).
pub(crate) async fn listed_clusters(
    ctx: &Ctx,
    stack: &str,
    what: &str,
) -> Result<Vec<Cluster>, ProviderError> {
    let stack = label_value(stack);
    let mut listed: Vec<Cluster> = Vec::new();
    let mut token = String::new();
    loop {
        let page = ctx
            .c
            .kafka
            .list_clusters()
            .set_parent(parent(ctx, &ctx.region))
            .set_page_token(&token)
            .send()
            .await
            .map_err(|e| convert(what, e))?;
        let stuck = page.clusters.is_empty() && page.next_page_token == token;
        listed.extend(
            page.clusters
                .into_iter()
                .filter(|x| x.labels.get("cairn-stack") == Some(&stack)),
        );
        if page.next_page_token.is_empty() || stuck {
            break;
        }
        token = page.next_page_token;
    }
    Ok(listed)
}

pub(crate) async fn read_clusters(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    let listed = listed_clusters(ctx, &req.stack, &req.type_name).await?;
    let mut out = BTreeMap::new();
    for item in &req.items {
        let found = match &item.id {
            Some(id) => match listed.iter().find(|x| last(&x.name) == last(id)) {
                Some(x) => Some(x.clone()),
                None => get_cluster(ctx, &item.address, id).await?,
            },
            None => {
                let mark = label_value(&item.address);
                listed
                    .iter()
                    .find(|x| x.labels.get("cairn-resource") == Some(&mark))
                    .cloned()
            }
        };
        let outcome = match found {
            Some(x) if x.state.name() != Some("DELETING") => ReadOutcome::Found {
                id: x.name.as_str().into(),
                attrs: cluster_attrs(&ctx.project, &x),
            },
            _ => ReadOutcome::Gone,
        };
        out.insert(item.address.clone(), outcome);
    }
    Ok(out)
}

pub(crate) async fn create_cluster(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let region = s(a, "region");
    let id = s(a, "cluster_id");
    let name = format!("{}/clusters/{id}", parent(ctx, region));
    let sent = ctx
        .c
        .kafka
        .create_cluster()
        .set_parent(parent(ctx, region))
        .set_cluster_id(id)
        .set_request_id(request_id(&req.token))
        .set_cluster(cluster_body(&req.stack, &req.address, Some(&req.token), a))
        .send()
        .await;
    match sent {
        Ok(op) => {
            done(
                ctx,
                &req.address,
                &req.progress,
                op,
                ctx.options.create_timeout,
            )
            .await?
        }
        // Taken: an interrupted run's create (its labels say so), adopted once active.
        Err(e) if is_conflict(&e) => {
            let x = get_cluster(ctx, &req.address, &name)
                .await?
                .ok_or_else(|| ProviderError::Api {
                    address: req.address.to_string(),
                    code: "AlreadyExists".into(),
                    message: format!("Kafka cluster {name} exists but cannot be read"),
                })?;
            let owner = crate::labels::owner(&req.stack, &req.address, &x.labels);
            adopt::decide(
                &req.address,
                "Kafka cluster",
                &name,
                owner.into(),
                &req.progress,
            )?;
            cairn_provider_kit::wait::until(
                &req.address,
                "Kafka cluster",
                &req.progress,
                ctx.options.create_timeout,
                ctx.options.first_poll,
                || async {
                    use cairn_provider_kit::wait::Poll;
                    Ok(match get_cluster(ctx, &req.address, &name).await? {
                        Some(x) => match x.state.name() {
                            Some("ACTIVE") => Poll::Ready(()),
                            Some("DELETING") => Poll::Failed("DELETING".into()),
                            s => Poll::Pending(s.unwrap_or("CREATING").to_string()),
                        },
                        None => Poll::Failed("deleted".into()),
                    })
                },
            )
            .await?;
        }
        Err(e) => return Err(convert(&req.address, e)),
    }
    let x = get_cluster(ctx, &req.address, &name)
        .await?
        .ok_or_else(|| ProviderError::Indeterminate {
            address: req.address.to_string(),
            message: format!("Kafka cluster {name} was created but cannot be read"),
        })?;
    Ok(CreateResponse {
        id: x.name.as_str().into(),
        attrs: cluster_attrs(&ctx.project, &x),
    })
}

/// Capacity and labels change in place, by update mask.
pub(crate) async fn update_cluster(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    let fields: Vec<&str> = [
        ("vcpu_count", "capacity_config.vcpu_count"),
        ("memory_bytes", "capacity_config.memory_bytes"),
        ("labels", "labels"),
    ]
    .into_iter()
    .filter(|(attr, _)| req.changed.iter().any(|c| c == attr))
    .map(|(_, field)| field)
    .collect();
    let body = cluster_body(&req.stack, &req.address, None, &req.attrs).set_name(req.id.as_str());
    // One id per update: a retry of this call is the same request.
    let request = request_id(&format!("{}-update-{}", req.id, fields.join(",")));
    run(
        ctx,
        &req.address,
        &req.progress,
        ctx.options.create_timeout,
        || {
            ctx.c
                .kafka
                .update_cluster()
                .set_cluster(body.clone())
                .set_update_mask(google_cloud_wkt::FieldMask::default().set_paths(fields.clone()))
                .set_request_id(&request)
                .send()
        },
    )
    .await?;
    let x = get_cluster(ctx, &req.address, &req.id)
        .await?
        .ok_or_else(|| ProviderError::NotFound {
            address: req.address.to_string(),
        })?;
    Ok(UpdateResponse {
        attrs: cluster_attrs(&ctx.project, &x),
    })
}

pub(crate) async fn delete_cluster(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    match run(
        ctx,
        &req.address,
        &req.progress,
        ctx.options.delete_timeout,
        || {
            ctx.c
                .kafka
                .delete_cluster()
                .set_name(req.id.as_str())
                .send()
        },
    )
    .await
    {
        Ok(()) | Err(ProviderError::NotFound { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

// ---------------------------------------------------------------------------------------
// gcp_managed_kafka_topic

fn topic_configs(a: &Attrs) -> Vec<(String, String)> {
    match a.get("configs") {
        Some(Value::Map(m)) => m
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_str().unwrap_or_default().to_string()))
            .collect(),
        _ => Vec::new(),
    }
}

fn topic_attrs(t: &Topic) -> Attrs {
    let cluster = t.name.rsplit_once("/topics/").map_or("", |(c, _)| c);
    Attrs::from([
        ("id".into(), Value::str(&t.name)),
        ("cluster".into(), Value::str(cluster)),
        ("topic_id".into(), Value::str(last(&t.name))),
        (
            "partition_count".into(),
            Value::Int(i64::from(t.partition_count)),
        ),
        (
            "replication_factor".into(),
            Value::Int(i64::from(t.replication_factor)),
        ),
        (
            "configs".into(),
            Value::Map(
                t.configs
                    .iter()
                    .map(|(k, v)| (Text::from(k.as_str()), Value::str(v)))
                    .collect(),
            ),
        ),
    ])
}

/// One list of topics per cluster asked about.
pub(crate) async fn read_topics(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    let mut by_cluster: BTreeMap<String, Vec<Topic>> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for item in &req.items {
        let (cluster, topic) = match &item.id {
            Some(id) => match id.rsplit_once("/topics/") {
                Some((c, t)) => (c.to_string(), t.to_string()),
                None => (String::new(), id.to_string()),
            },
            None => (
                s(&item.prior, "cluster").to_string(),
                s(&item.prior, "topic_id").to_string(),
            ),
        };
        if !by_cluster.contains_key(&cluster) {
            let mut topics = Vec::new();
            let mut token = String::new();
            loop {
                match ctx
                    .c
                    .kafka
                    .list_topics()
                    .set_parent(&cluster)
                    .set_page_token(&token)
                    .send()
                    .await
                {
                    Ok(page) => {
                        let stuck = page.topics.is_empty() && page.next_page_token == token;
                        topics.extend(page.topics);
                        if page.next_page_token.is_empty() || stuck {
                            break;
                        }
                        token = page.next_page_token;
                    }
                    // The cluster is gone, and its topics with it.
                    Err(e) if is_not_found(&e) => break,
                    Err(e) => return Err(convert(&item.address, e)),
                }
            }
            by_cluster.insert(cluster.clone(), topics);
        }
        let outcome = match by_cluster[&cluster].iter().find(|t| last(&t.name) == topic) {
            Some(t) => ReadOutcome::Found {
                id: t.name.as_str().into(),
                attrs: topic_attrs(t),
            },
            None => ReadOutcome::Gone,
        };
        out.insert(item.address.clone(), outcome);
    }
    Ok(out)
}

pub(crate) async fn create_topic(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let (cluster, topic_id) = (s(a, "cluster"), s(a, "topic_id"));
    let name = format!("{cluster}/topics/{topic_id}");
    let body = Topic::new()
        .set_partition_count(i32::try_from(int(a, "partition_count")).unwrap_or(1))
        .set_replication_factor(i32::try_from(int(a, "replication_factor")).unwrap_or(3))
        .set_configs(topic_configs(a));
    let t = match ctx
        .c
        .kafka
        .create_topic()
        .set_parent(cluster)
        .set_topic_id(topic_id)
        .set_topic(body)
        .send()
        .await
    {
        Ok(t) => t,
        // A topic of this name in this stack's cluster: an interrupted run's.
        Err(e) if is_conflict(&e) => {
            adopt::decide(&req.address, "topic", &name, Existing::Ours, &req.progress)?;
            ctx.c
                .kafka
                .get_topic()
                .set_name(&name)
                .send()
                .await
                .map_err(|e| convert(&req.address, e))?
        }
        Err(e) => return Err(convert(&req.address, e)),
    };
    Ok(CreateResponse {
        id: t.name.as_str().into(),
        attrs: topic_attrs(&t),
    })
}

/// Partitions (grown only) and configs change in place.
pub(crate) async fn update_topic(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    let a = &req.attrs;
    let fields: Vec<&str> = [
        ("partition_count", "partition_count"),
        ("configs", "configs"),
    ]
    .into_iter()
    .filter(|(attr, _)| req.changed.iter().any(|c| c == attr))
    .map(|(_, field)| field)
    .collect();
    let t = ctx
        .c
        .kafka
        .update_topic()
        .set_topic(
            Topic::new()
                .set_name(req.id.as_str())
                .set_partition_count(i32::try_from(int(a, "partition_count")).unwrap_or(1))
                .set_configs(topic_configs(a)),
        )
        .set_update_mask(google_cloud_wkt::FieldMask::default().set_paths(fields))
        .send()
        .await
        .map_err(|e| convert(&req.address, e))?;
    Ok(UpdateResponse {
        attrs: topic_attrs(&t),
    })
}

pub(crate) async fn delete_topic(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    match ctx
        .c
        .kafka
        .delete_topic()
        .set_name(req.id.as_str())
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(convert(&req.address, e)),
    }
}
