//! What a stack owns in the (emulated) cloud, read through each service's API, with the
//! address each object's ownership tag names: how tests count duplicates and orphans
//! without trusting cairn's own state.

/// One object carrying `cairn:stack=<stack>`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Owned {
    /// The id cairn's state records for it (EC2 id, RDS or ElastiCache identifier, ARN).
    pub id: String,
    /// Its `cairn:resource` tag.
    pub address: String,
    pub kind: &'static str,
    /// Its `cairn:token` tag (which create made it), when it has one.
    pub token: String,
}

fn tag<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>, key: &str) -> Option<String> {
    pairs
        .into_iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.to_string())
}

/// Every live object of `stack`, by service (objects AWS still lists while deleting, or
/// as deleted, are left out: they are going).
pub async fn owned(sdk: &aws_config::SdkConfig, stack: &str) -> Vec<Owned> {
    let mut out = Vec::new();
    let mine = |pairs: Vec<(&str, &str)>, id: &str, kind: &'static str, out: &mut Vec<Owned>| {
        if tag(pairs.iter().copied(), "cairn:stack").as_deref() == Some(stack) {
            out.push(Owned {
                id: id.to_string(),
                address: tag(pairs.iter().copied(), "cairn:resource").unwrap_or_default(),
                kind,
                token: tag(pairs, "cairn:token").unwrap_or_default(),
            });
        }
    };

    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let filter = |name: &str, value: &str| {
        aws_sdk_ec2::types::Filter::builder()
            .name(name)
            .values(value)
            .build()
    };
    let mut by_id: std::collections::BTreeMap<String, Vec<(String, String)>> = Default::default();
    let mut pages = ec2
        .describe_tags()
        .filters(filter("key", "cairn:stack"))
        .filters(filter("value", stack))
        .into_paginator()
        .send();
    let mut ids = Vec::new();
    while let Some(page) = pages.next().await {
        for t in page.expect("DescribeTags").tags() {
            ids.push(t.resource_id().unwrap_or_default().to_string());
        }
    }
    for chunk in ids.chunks(100) {
        let mut pages = ec2
            .describe_tags()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("resource-id")
                    .set_values(Some(chunk.to_vec()))
                    .build(),
            )
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for t in page.expect("DescribeTags").tags() {
                by_id
                    .entry(t.resource_id().unwrap_or_default().to_string())
                    .or_default()
                    .push((
                        t.key().unwrap_or_default().to_string(),
                        t.value().unwrap_or_default().to_string(),
                    ));
            }
        }
    }
    // Listed while going away, as on AWS: not live.
    let nats_gone: Vec<String> = ec2
        .describe_nat_gateways()
        .send()
        .await
        .expect("DescribeNatGateways")
        .nat_gateways()
        .iter()
        .filter(|n| matches!(n.state().map(|s| s.as_str()), Some("deleted" | "deleting")))
        .filter_map(|n| n.nat_gateway_id().map(str::to_string))
        .collect();
    let endpoints_gone: Vec<String> = ec2
        .describe_vpc_endpoints()
        .send()
        .await
        .expect("DescribeVpcEndpoints")
        .vpc_endpoints()
        .iter()
        .filter(|e| {
            e.state()
                .is_some_and(|s| s.as_str().eq_ignore_ascii_case("deleted"))
        })
        .filter_map(|e| e.vpc_endpoint_id().map(str::to_string))
        .collect();
    for (id, pairs) in &by_id {
        if nats_gone.contains(id) || endpoints_gone.contains(id) {
            continue;
        }
        let view = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        mine(view, id, "ec2", &mut out);
    }

    let rds = aws_sdk_rds::Client::new(sdk);
    let rds_tags = |arn: String| {
        let rds = rds.clone();
        async move {
            rds.list_tags_for_resource()
                .resource_name(arn)
                .send()
                .await
                .expect("ListTagsForResource")
                .tag_list()
                .iter()
                .map(|t| {
                    (
                        t.key().unwrap_or_default().to_string(),
                        t.value().unwrap_or_default().to_string(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let instances = rds.describe_db_instances().send().await.expect("RDS");
    for d in instances.db_instances() {
        if d.db_instance_status() == Some("deleting") {
            continue;
        }
        let t = rds_tags(d.db_instance_arn().unwrap_or_default().to_string()).await;
        let view = t.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        mine(
            view,
            d.db_instance_identifier().unwrap_or_default(),
            "db instance",
            &mut out,
        );
    }
    let groups = rds.describe_db_subnet_groups().send().await.expect("RDS");
    for g in groups.db_subnet_groups() {
        let t = rds_tags(g.db_subnet_group_arn().unwrap_or_default().to_string()).await;
        let view = t.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        mine(
            view,
            g.db_subnet_group_name().unwrap_or_default(),
            "db subnet group",
            &mut out,
        );
    }
    let params = rds
        .describe_db_parameter_groups()
        .send()
        .await
        .expect("RDS");
    for g in params.db_parameter_groups() {
        let t = rds_tags(g.db_parameter_group_arn().unwrap_or_default().to_string()).await;
        let view = t.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        mine(
            view,
            g.db_parameter_group_name().unwrap_or_default(),
            "db parameter group",
            &mut out,
        );
    }

    let ec = aws_sdk_elasticache::Client::new(sdk);
    let ec_tags = |arn: String| {
        let ec = ec.clone();
        async move {
            ec.list_tags_for_resource()
                .resource_name(arn)
                .send()
                .await
                .map(|t| {
                    t.tag_list()
                        .iter()
                        .map(|t| {
                            (
                                t.key().unwrap_or_default().to_string(),
                                t.value().unwrap_or_default().to_string(),
                            )
                        })
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        }
    };
    let rgs = ec
        .describe_replication_groups()
        .send()
        .await
        .expect("ElastiCache");
    for g in rgs.replication_groups() {
        if g.status() == Some("deleting") {
            continue;
        }
        let t = ec_tags(g.arn().unwrap_or_default().to_string()).await;
        let view = t.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        mine(
            view,
            g.replication_group_id().unwrap_or_default(),
            "replication group",
            &mut out,
        );
    }
    let csgs = ec
        .describe_cache_subnet_groups()
        .send()
        .await
        .expect("ElastiCache");
    for g in csgs.cache_subnet_groups() {
        let t = ec_tags(g.arn().unwrap_or_default().to_string()).await;
        let view = t.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        mine(
            view,
            g.cache_subnet_group_name().unwrap_or_default(),
            "cache subnet group",
            &mut out,
        );
    }

    let elb = aws_sdk_elasticloadbalancingv2::Client::new(sdk);
    let mut arns = Vec::new();
    for lb in elb
        .describe_load_balancers()
        .send()
        .await
        .expect("ELB")
        .load_balancers()
    {
        arns.push(lb.load_balancer_arn().unwrap_or_default().to_string());
    }
    for tg in elb
        .describe_target_groups()
        .send()
        .await
        .expect("ELB")
        .target_groups()
    {
        arns.push(tg.target_group_arn().unwrap_or_default().to_string());
    }
    for chunk in arns.chunks(20) {
        let tags = elb
            .describe_tags()
            .set_resource_arns(Some(chunk.to_vec()))
            .send()
            .await
            .expect("ELB DescribeTags");
        for d in tags.tag_descriptions() {
            let view = d
                .tags()
                .iter()
                .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()))
                .collect();
            let arn = d.resource_arn().unwrap_or_default();
            let kind = if arn.contains(":targetgroup/") {
                "target group"
            } else {
                "load balancer"
            };
            mine(view, arn, kind, &mut out);
        }
    }

    let sm = aws_sdk_secretsmanager::Client::new(sdk);
    let mut pages = sm.list_secrets().into_paginator().send();
    while let Some(page) = pages.next().await {
        for s in page.expect("ListSecrets").secret_list() {
            if s.deleted_date().is_some() {
                continue;
            }
            let view = s
                .tags()
                .iter()
                .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()))
                .collect();
            mine(view, s.arn().unwrap_or_default(), "secret", &mut out);
        }
    }

    let kafka = aws_sdk_kafka::Client::new(sdk);
    for c in kafka
        .list_clusters()
        .send()
        .await
        .expect("MSK")
        .cluster_info_list()
    {
        if c.state().map(|s| s.as_str()) == Some("DELETING") {
            continue;
        }
        let view = c
            .tags()
            .map(|m| m.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect())
            .unwrap_or_default();
        mine(
            view,
            c.cluster_arn().unwrap_or_default(),
            "msk cluster",
            &mut out,
        );
    }
    out.sort();
    out
}
