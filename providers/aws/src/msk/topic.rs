//! Kafka topics on an MSK cluster, through MSK's topic API (CreateTopic, ListTopics,
//! UpdateTopic, DeleteTopic), so no Kafka client or network path to the brokers is needed.
//!
//! A topic's id is its ARN (`arn:…:topic/CLUSTER/UUID/NAME`), from which the cluster's ARN
//! follows, so import needs the id alone. Topics carry no tags: a name is unique within the
//! cluster, which this stack owns, so after a crash a topic of the wanted name is adopted.
//! Partitions can only grow (a Kafka rule); MSK's refusal to shrink names the field.
//!
//! Retention and cleanup policy travel as MSK's `configs`: Kafka topic properties, Base64
//! encoded (MSK documents only the Base64; cairn writes `key=value` lines, the form of MSK's
//! other Base64 property blob, `ServerProperties`). ListTopics carries no configs, so a
//! refresh lists each cluster once and describes each topic it finds.

use crate::error::{code, convert, is_not_found};
use crate::util::{int, s};
use crate::wait::{self, Poll};
use crate::Ctx;
use cairn_core::provider::*;
use cairn_core::value::{Attrs, Text, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// The cluster ARN a topic ARN belongs to.
fn cluster_of(topic_arn: &str) -> Option<String> {
    let (head, rest) = topic_arn.split_once(":topic/")?;
    let (cluster, _name) = rest.rsplit_once('/')?;
    Some(format!("{head}:cluster/{cluster}"))
}

/// Kafka's own defaults, which a topic without the property has.
const DEFAULT_RETENTION_MS: i64 = 168 * 3_600_000;

/// The `configs` blob for a topic's retention and cleanup policy.
fn encode_configs(a: &Attrs) -> String {
    let hours = a
        .get("retention_hours")
        .and_then(Value::as_int)
        .unwrap_or(168);
    let policy = match s(a, "cleanup_policy") {
        "" => "delete",
        p => p,
    };
    let text = format!(
        "cleanup.policy={policy}\nretention.ms={}\n",
        hours * 3_600_000
    );
    aws_smithy_types::base64::encode(text)
}

/// `retention_hours` and `cleanup_policy` from a `configs` blob; what it leaves out has
/// Kafka's default. A retention not in whole hours is shown in hours rounded up, so the
/// plan shows a change rather than hiding one.
fn decode_configs(blob: &str, into: &mut Attrs) {
    let text = aws_smithy_types::base64::decode(blob)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default();
    let mut retention_ms = DEFAULT_RETENTION_MS;
    let mut policy = "delete".to_string();
    for line in text.lines() {
        match line.split_once('=').map(|(k, v)| (k.trim(), v.trim())) {
            Some(("retention.ms", v)) => retention_ms = v.parse().unwrap_or(retention_ms),
            Some(("cleanup.policy", v)) => policy = v.to_string(),
            _ => {}
        }
    }
    let hours = if retention_ms < 0 {
        -1 // Kafka's "forever"
    } else {
        (retention_ms + 3_599_999) / 3_600_000
    };
    into.insert("retention_hours".into(), Value::Int(hours));
    into.insert("cleanup_policy".into(), Value::str(policy));
}

fn topic_attrs(
    cluster_arn: &str,
    arn: &str,
    name: &str,
    partitions: i32,
    replication: i32,
) -> Attrs {
    Attrs::from([
        ("id".into(), Value::str(arn)),
        ("arn".into(), Value::str(arn)),
        ("cluster_arn".into(), Value::str(cluster_arn)),
        ("name".into(), Value::str(name)),
        ("partitions".into(), Value::Int(i64::from(partitions))),
        ("replication".into(), Value::Int(i64::from(replication))),
    ])
}

/// Every topic of `cluster_arn` (all pages), by name. `None` when the cluster is gone.
async fn list(
    ctx: &Ctx,
    address: &str,
    cluster_arn: &str,
) -> Result<Option<BTreeMap<String, Attrs>>, ProviderError> {
    let mut out = BTreeMap::new();
    let mut pages = ctx
        .c
        .kafka
        .list_topics()
        .cluster_arn(cluster_arn)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(p) => p,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(convert(address, e)),
        };
        for t in page.topics() {
            let name = t.topic_name().unwrap_or_default();
            out.insert(
                name.to_string(),
                topic_attrs(
                    cluster_arn,
                    t.topic_arn().unwrap_or_default(),
                    name,
                    t.partition_count().unwrap_or(0),
                    t.replication_factor().unwrap_or(0),
                ),
            );
        }
    }
    Ok(Some(out))
}

/// One ListTopics walk per cluster, however many topics are asked for, then DescribeTopic
/// for each topic found (the list omits configs).
pub(crate) async fn read(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    let mut wanted: BTreeMap<String, Vec<(&ReadItem, String)>> = BTreeMap::new();
    let mut results = BTreeMap::new();
    for item in &req.items {
        let cluster = match &item.id {
            Some(id) => cluster_of(id),
            None => Some(s(&item.prior, "cluster_arn").to_string()).filter(|c| !c.is_empty()),
        };
        let name = match &item.id {
            Some(id) => id.rsplit('/').next().unwrap_or_default().to_string(),
            None => s(&item.prior, "name").to_string(),
        };
        match cluster {
            Some(c) => wanted.entry(c).or_default().push((item, name)),
            None => {
                results.insert(item.address.clone(), ReadOutcome::Gone);
            }
        }
    }
    for (cluster, items) in wanted {
        let topics = list(ctx, &req.type_name, &cluster)
            .await?
            .unwrap_or_default();
        for (item, name) in items {
            let found = match topics.get(&name) {
                // Deleted between the list and the describe: gone.
                Some(_) => describe(ctx, &req.type_name, &cluster, &name).await?,
                None => None,
            };
            let outcome = match found {
                Some((a, _)) => ReadOutcome::Found {
                    id: s(&a, "arn").into(),
                    attrs: a,
                },
                None => ReadOutcome::Gone,
            };
            results.insert(item.address.clone(), outcome);
        }
    }
    Ok(results)
}

async fn describe(
    ctx: &Ctx,
    address: &str,
    cluster_arn: &str,
    name: &str,
) -> Result<Option<(Attrs, String)>, ProviderError> {
    match ctx
        .c
        .kafka
        .describe_topic()
        .cluster_arn(cluster_arn)
        .topic_name(name)
        .send()
        .await
    {
        Ok(t) => Ok(Some((
            {
                let mut a = topic_attrs(
                    cluster_arn,
                    t.topic_arn().unwrap_or_default(),
                    name,
                    t.partition_count().unwrap_or(0),
                    t.replication_factor().unwrap_or(0),
                );
                decode_configs(t.configs().unwrap_or_default(), &mut a);
                a
            },
            t.status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
        ))),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(convert(address, e)),
    }
}

async fn wait_active(
    ctx: &Ctx,
    address: &str,
    cluster_arn: &str,
    name: &str,
    progress: &Progress,
) -> Result<Attrs, ProviderError> {
    wait::until(
        address,
        "Kafka topic",
        progress,
        ctx.options.create_timeout,
        Duration::from_millis(200),
        || async {
            Ok(match describe(ctx, address, cluster_arn, name).await? {
                Some((a, state)) if state == "ACTIVE" => Poll::Ready(a),
                Some((_, state)) => Poll::Pending(state),
                None => Poll::Failed("the topic disappeared".into()),
            })
        },
    )
    .await
}

pub(crate) async fn create(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let (cluster, name) = (s(a, "cluster_arn"), s(a, "name"));
    let sent = ctx
        .c
        .kafka
        .create_topic()
        .cluster_arn(cluster)
        .topic_name(name)
        .set_partition_count(int(a, "partitions"))
        .set_replication_factor(int(a, "replication"))
        .configs(encode_configs(a))
        .send()
        .await;
    match sent {
        Ok(_) => {}
        // Made by an earlier, interrupted run of this stack: the cluster is ours, so is it.
        Err(e) if code(&e).as_deref() == Some("ConflictException") => {
            cairn_provider_kit::adopt::decide(
                &req.address,
                "topic",
                name,
                cairn_provider_kit::adopt::Existing::Identical,
                &req.progress,
            )?;
        }
        Err(e) => return Err(convert(&req.address, e)),
    }
    let attrs = wait_active(ctx, &req.address, cluster, name, &req.progress).await?;
    Ok(CreateResponse {
        id: s(&attrs, "arn").into(),
        attrs,
    })
}

pub(crate) async fn update(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    let a = &req.attrs;
    let (cluster, name) = (s(a, "cluster_arn"), s(a, "name"));
    ctx.c
        .kafka
        .update_topic()
        .cluster_arn(cluster)
        .topic_name(name)
        .set_partition_count(int(a, "partitions"))
        .configs(encode_configs(a))
        .send()
        .await
        .map_err(|e| convert(&req.address, e))?;
    let attrs = wait_active(ctx, &req.address, cluster, name, &req.progress).await?;
    Ok(UpdateResponse { attrs })
}

pub(crate) async fn delete(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    let cluster = cluster_of(&req.id).unwrap_or_else(|| s(&req.prior, "cluster_arn").to_string());
    let name = s(&req.prior, "name");
    match ctx
        .c
        .kafka
        .delete_topic()
        .cluster_arn(&cluster)
        .topic_name(name)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e) if is_not_found(&e) => return Ok(()),
        Err(e) => return Err(convert(&req.address, e)),
    }
    wait::until_gone(
        &req.address,
        "Kafka topic",
        &req.progress,
        ctx.options.delete_timeout,
        || async {
            Ok(describe(ctx, &req.address, &cluster, name)
                .await?
                .map(|(_, st)| st))
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use cairn_core::value::{Attrs, Value};

    #[test]
    fn topic_configs_round_trip_and_default_to_kafkas() {
        let wanted = Attrs::from([
            ("retention_hours".into(), Value::Int(24)),
            ("cleanup_policy".into(), Value::str("compact")),
        ]);
        let mut read = Attrs::new();
        super::decode_configs(&super::encode_configs(&wanted), &mut read);
        assert_eq!(read, wanted);
        let mut bare = Attrs::new();
        super::decode_configs("", &mut bare);
        assert_eq!(bare["retention_hours"], Value::Int(168));
        assert_eq!(bare["cleanup_policy"], Value::str("delete"));
        // 90 minutes is not whole hours: shown as 2, so the plan wants a change.
        let mut odd = Attrs::new();
        super::decode_configs(
            &aws_smithy_types::base64::encode("retention.ms=5400000\n"),
            &mut odd,
        );
        assert_eq!(odd["retention_hours"], Value::Int(2));
    }

    #[test]
    fn a_topic_arn_names_its_cluster() {
        assert_eq!(
            super::cluster_of("arn:aws:kafka:us-east-1:123456789012:topic/events/0b5e-1/orders")
                .as_deref(),
            Some("arn:aws:kafka:us-east-1:123456789012:cluster/events/0b5e-1")
        );
        assert_eq!(
            super::cluster_of("arn:aws:kafka:us-east-1:1:cluster/x/y"),
            None
        );
    }
}
