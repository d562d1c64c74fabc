//! Amazon MSK (Kafka) clusters.
//!
//! Creating takes a long time on AWS: create waits for `ACTIVE`. Each in-place change is
//! its own MSK operation (broker count, storage, instance type, Kafka version), run one at
//! a time with the cluster's current version as MSK requires, waiting for `ACTIVE` between
//! them. Broker count and storage can only grow; shrinking either forces a replacement
//! (the planner sees it as an update, and MSK's refusal names the attribute).

pub(crate) mod topic;

use crate::error::{convert, is_not_found};
use crate::util::{list, s};
use crate::wait::{self, Poll};
use crate::Ctx;
use aws_sdk_kafka::types::{
    BrokerEbsVolumeInfo, BrokerNodeGroupInfo, ClientBroker, ClusterState, EbsStorageInfo,
    EncryptionInTransit, EncryptionInfo, StorageInfo,
};
use cairn_core::provider::*;
use cairn_core::value::{Attrs, Text, Value};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

fn cluster_attrs(c: &aws_sdk_kafka::types::ClusterInfo) -> Attrs {
    let mut a = Attrs::new();
    let arn = c.cluster_arn().unwrap_or_default();
    a.insert("id".into(), Value::str(arn));
    a.insert("arn".into(), Value::str(arn));
    a.insert(
        "cluster_name".into(),
        Value::str(c.cluster_name().unwrap_or_default()),
    );
    a.insert(
        "current_version".into(),
        Value::str(c.current_version().unwrap_or_default()),
    );
    a.insert(
        "state".into(),
        Value::str(c.state().map(|s| s.as_str()).unwrap_or_default()),
    );
    a.insert(
        "number_of_broker_nodes".into(),
        Value::Int(i64::from(c.number_of_broker_nodes().unwrap_or(0))),
    );
    if let Some(v) = c
        .current_broker_software_info()
        .and_then(|s| s.kafka_version())
    {
        a.insert("kafka_version".into(), Value::str(v));
    }
    if let Some(b) = c.broker_node_group_info() {
        a.insert(
            "instance_type".into(),
            Value::str(b.instance_type().unwrap_or_default()),
        );
        a.insert(
            "client_subnets".into(),
            Value::List(b.client_subnets().iter().map(Value::str).collect()),
        );
        a.insert(
            "security_groups".into(),
            Value::List(b.security_groups().iter().map(Value::str).collect()),
        );
        if let Some(size) = b
            .storage_info()
            .and_then(|s| s.ebs_storage_info())
            .and_then(|e| e.volume_size())
        {
            a.insert("ebs_volume_size".into(), Value::Int(i64::from(size)));
        }
    }
    if let Some(t) = c.encryption_info().and_then(|e| e.encryption_in_transit()) {
        a.insert(
            "encryption_in_transit_client_broker".into(),
            Value::str(t.client_broker().map(|c| c.as_str()).unwrap_or("TLS")),
        );
        a.insert(
            "encryption_in_transit_in_cluster".into(),
            Value::Bool(t.in_cluster().unwrap_or(true)),
        );
    }
    crate::util::set_user_tags(
        &mut a,
        c.tags()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    a
}

/// Recorded = read + what MSK does not report back (the kafka version as asked until AWS
/// reports it).
fn recorded(mut read: Attrs, desired: &Attrs) -> Attrs {
    for k in ["kafka_version", "bootstrap_brokers_tls"] {
        if let Some(v) = desired.get(k) {
            read.entry(k.into()).or_insert_with(|| v.clone());
        }
    }
    for k in ["client_subnets", "security_groups"] {
        if let (Some(p), true) = (desired.get(k), read.contains_key(k)) {
            let actual = list(&read, k);
            read.insert(k.into(), crate::ec2::order_like(Some(p), actual));
        }
    }
    read
}

async fn describe(ctx: &Ctx, address: &str, arn: &str) -> Result<Option<Attrs>, ProviderError> {
    match ctx.c.kafka.describe_cluster().cluster_arn(arn).send().await {
        Ok(out) => Ok(out.cluster_info().map(cluster_attrs)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(convert(address, e)),
    }
}

async fn wait_active(
    ctx: &Ctx,
    address: &str,
    arn: &str,
    progress: &Progress,
) -> Result<Attrs, ProviderError> {
    wait::until(
        address,
        "MSK cluster",
        progress,
        ctx.options.create_timeout,
        Duration::from_millis(250),
        || async {
            Ok(match describe(ctx, address, arn).await? {
                Some(a) if s(&a, "state") == ClusterState::Active.as_str() => Poll::Ready(a),
                Some(a) if s(&a, "state") == ClusterState::Failed.as_str() => {
                    Poll::Failed("FAILED".into())
                }
                Some(a) => Poll::Pending(s(&a, "state").to_string()),
                None => Poll::Failed("the cluster disappeared".into()),
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
    let mut tags = HashMap::from([
        (crate::ec2::TAG_STACK.to_string(), req.stack.clone()),
        (
            crate::ec2::TAG_RESOURCE.to_string(),
            req.address.to_string(),
        ),
    ]);
    if let Some(Value::Map(m)) = a.get("tags") {
        tags.extend(
            m.iter()
                .map(|(k, v)| (k.to_string(), v.as_str().unwrap_or_default().to_string())),
        );
    }
    let brokers = BrokerNodeGroupInfo::builder()
        .instance_type(s(a, "instance_type"))
        .set_client_subnets(Some(list(a, "client_subnets")))
        .set_security_groups(Some(list(a, "security_groups")))
        .storage_info(
            StorageInfo::builder()
                .ebs_storage_info(
                    EbsStorageInfo::builder()
                        .volume_size(int(a, "ebs_volume_size"))
                        .build(),
                )
                .build(),
        )
        .build();
    let encryption = EncryptionInfo::builder()
        .encryption_in_transit(
            EncryptionInTransit::builder()
                .client_broker(ClientBroker::from(s(
                    a,
                    "encryption_in_transit_client_broker",
                )))
                .in_cluster(
                    a.get("encryption_in_transit_in_cluster")
                        .and_then(Value::as_bool)
                        .unwrap_or(true),
                )
                .build(),
        )
        .build();
    let out = ctx
        .c
        .kafka
        .create_cluster()
        .cluster_name(s(a, "cluster_name"))
        .kafka_version(s(a, "kafka_version"))
        .number_of_broker_nodes(int(a, "number_of_broker_nodes"))
        .broker_node_group_info(brokers)
        .encryption_info(encryption)
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|e| convert(&req.address, e))?;
    let arn = out.cluster_arn().unwrap_or_default().to_string();
    let read = wait_active(ctx, &req.address, &arn, &req.progress).await?;
    Ok(CreateResponse {
        id: arn.into(),
        attrs: recorded(read, a),
    })
}

pub(crate) async fn read(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    let mut by_arn = BTreeMap::new();
    let mut by_address = BTreeMap::new();
    let mut pages = ctx.c.kafka.list_clusters().into_paginator().send();
    while let Some(page) = pages.next().await {
        for c in page
            .map_err(|e| convert(&req.type_name, e))?
            .cluster_info_list()
        {
            if c.state() == Some(&ClusterState::Deleting) {
                continue;
            }
            let arn = c.cluster_arn().unwrap_or_default().to_string();
            if let Some(addr) = c.tags().and_then(|t| t.get(crate::ec2::TAG_RESOURCE)) {
                by_address.insert(addr.clone(), arn.clone());
            }
            by_arn.insert(arn, cluster_attrs(c));
        }
    }
    Ok(cairn_provider_kit::adopt::match_listed(
        &req.items,
        by_arn,
        &by_address,
        |i, attrs| recorded(attrs, &i.prior),
    ))
}

pub(crate) async fn update(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    let a = &req.attrs;
    let changed = |k: &str| req.changed.iter().any(|c| c == k);
    let arn = req.id.as_str();
    // One operation at a time, each against the version the previous one left.
    let mut version = s(
        &wait_active(ctx, &req.address, arn, &req.progress).await?,
        "current_version",
    )
    .to_string();
    macro_rules! step {
        ($call:expr) => {{
            $call
                .cluster_arn(arn)
                .current_version(&version)
                .send()
                .await
                .map_err(|e| convert(&req.address, e))?;
            version = s(
                &wait_active(ctx, &req.address, arn, &req.progress).await?,
                "current_version",
            )
            .to_string();
        }};
    }
    if changed("number_of_broker_nodes") {
        step!(ctx
            .c
            .kafka
            .update_broker_count()
            .target_number_of_broker_nodes(int(a, "number_of_broker_nodes")));
    }
    if changed("ebs_volume_size") {
        step!(ctx
            .c
            .kafka
            .update_broker_storage()
            .target_broker_ebs_volume_info(
                BrokerEbsVolumeInfo::builder()
                    .kafka_broker_node_id("ALL")
                    .volume_size_gb(int(a, "ebs_volume_size"))
                    .build()
            ));
    }
    if changed("instance_type") {
        step!(ctx
            .c
            .kafka
            .update_broker_type()
            .target_instance_type(s(a, "instance_type")));
    }
    if changed("kafka_version") {
        step!(ctx
            .c
            .kafka
            .update_cluster_kafka_version()
            .target_kafka_version(s(a, "kafka_version")));
    }
    let _ = version;
    let read = wait_active(ctx, &req.address, arn, &req.progress).await?;
    Ok(UpdateResponse {
        attrs: recorded(read, a),
    })
}

pub(crate) async fn delete(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    match ctx
        .c
        .kafka
        .delete_cluster()
        .cluster_arn(req.id.as_str())
        .send()
        .await
    {
        Ok(_) => {}
        Err(e) if is_not_found(&e) => return Ok(()),
        Err(e) => return Err(convert(&req.address, e)),
    }
    wait::until_gone(
        &req.address,
        "MSK cluster deletion",
        &req.progress,
        ctx.options.delete_timeout,
        || async {
            Ok(describe(ctx, &req.address, &req.id)
                .await?
                .map(|a| s(&a, "state").to_string()))
        },
    )
    .await
}

fn int(a: &Attrs, k: &str) -> i32 {
    crate::util::int(a, k).unwrap_or(0)
}
