//! Acceptance checks for the EC2 networking types, modelled on Terraform's: apply, empty
//! plan, empty after refresh, import, out-of-band deletion, in-place update, forced
//! replacement, destroy verified through the AWS API.

use crate::support::Aws;
use cairn_aws::AwsProvider;
use cairn_core::plan::Action;
use cairn_core::prelude::*;
use cairn_core::value::Value;

fn network_stack(dns: bool, isolated_cidr: &str, rule_description: &str) -> Stack {
    let mut s = Stack::new("acc-net");
    let vpc = s.add(
        "main",
        Network::new("10.20.0.0/16").nat(NatMode::None).dns(dns),
    );
    s.add(
        "public-a",
        Subnet::new(&vpc, "10.20.1.0/24").tier(Tier::Public).zone(0),
    );
    s.add(
        "data-a",
        Subnet::new(&vpc, isolated_cidr)
            .tier(Tier::Isolated)
            .zone(0),
    );
    let web = s.add(
        "web",
        SecurityGroup::new(&vpc, "web tier")
            .ingress(
                Rule::tcp(443)
                    .from_cidr("0.0.0.0/0")
                    .description(rule_description),
            )
            .allow_all_egress(),
    );
    s.add(
        "db",
        SecurityGroup::new(&vpc, "database")
            .ingress(Rule::tcp(5432).from_group(&web).description("from web")),
    );
    s
}

const TYPES: &[&str] = &[
    "aws_vpc",
    "aws_internet_gateway",
    "aws_route_table",
    "aws_route",
    "aws_subnet",
    "aws_route_table_association",
    "aws_security_group",
    "aws_security_group_rule",
];

fn owned_vpcs(aws: &Aws) -> usize {
    let f = aws_sdk_ec2::types::Filter::builder()
        .name("tag:cairn:stack")
        .values("acc-net")
        .build();
    aws.rt
        .block_on(aws.ec2().describe_vpcs().filters(f).send())
        .unwrap()
        .vpcs()
        .len()
}

#[test]
fn networking_lifecycle() {
    let aws = Aws::new();
    let engine = aws.engine("net.json");
    let stack = network_stack(true, "10.20.2.0/24", "https");

    // (1) apply creates every type.
    let plan = aws.converge(&engine, &stack);
    let created: std::collections::BTreeSet<&str> =
        plan.changes.iter().map(|c| c.type_name.as_str()).collect();
    for t in TYPES {
        assert!(created.contains(t), "{t} was not created: {created:?}");
    }
    assert_eq!(owned_vpcs(&aws), 1, "the VPC carries its ownership tags");
    // The default allow-all egress rule AWS adds is gone; only declared rules exist.
    let state = engine.store().read().unwrap().unwrap();
    let db_group = state.resources["aws_security_group.db"].id.clone();
    let groups = aws
        .rt
        .block_on(
            aws.ec2()
                .describe_security_groups()
                .group_ids(db_group.as_str())
                .send(),
        )
        .unwrap();
    assert!(
        groups.security_groups()[0]
            .ip_permissions_egress()
            .is_empty(),
        "egress is explicit"
    );

    // (2) and (3): the plan is empty right after apply, with refresh.
    aws.assert_clean(&engine, &stack);

    // (4) import by id into a fresh state gives the same attributes and an empty plan.
    aws.assert_import_matches(&engine, &stack, &[]);

    // (5) deleted out of band -> the next plan recreates it.
    let rule_id = state.resources["aws_security_group_rule.web-ingress-0"]
        .id
        .clone();
    aws.rt
        .block_on(
            aws.ec2()
                .revoke_security_group_ingress()
                .group_id(state.resources["aws_security_group.web"].id.as_str())
                .security_group_rule_ids(rule_id.as_str())
                .send(),
        )
        .unwrap();
    let plan = aws.plan(&engine, &stack);
    let action =
        |p: &cairn_core::Plan, a: &str| p.changes.iter().find(|c| c.address == a).map(|c| c.action);
    assert_eq!(
        action(&plan, "aws_security_group_rule.web-ingress-0"),
        Some(Action::Create)
    );
    aws.apply(&engine, &plan);
    aws.assert_clean(&engine, &stack);

    // In-place updates: VPC DNS, rule description.
    let updated = network_stack(false, "10.20.2.0/24", "https from anywhere");
    let plan = aws.plan(&engine, &updated);
    assert_eq!(action(&plan, "aws_vpc.main"), Some(Action::Update));
    assert_eq!(
        action(&plan, "aws_security_group_rule.web-ingress-0"),
        Some(Action::Update)
    );
    aws.apply(&engine, &plan);
    aws.assert_clean(&engine, &updated);
    let vpc = engine.store().read().unwrap().unwrap().resources["aws_vpc.main"]
        .id
        .clone();
    let dns = aws
        .rt
        .block_on(
            aws.ec2()
                .describe_vpc_attribute()
                .vpc_id(vpc.as_str())
                .attribute(aws_sdk_ec2::types::VpcAttributeName::EnableDnsSupport)
                .send(),
        )
        .unwrap();
    assert_eq!(
        dns.enable_dns_support().and_then(|b| b.value()),
        Some(false)
    );

    // Forced replacement: a subnet's CIDR cannot change in place.
    let replaced = network_stack(false, "10.20.3.0/24", "https from anywhere");
    let plan = aws.plan(&engine, &replaced);
    let subnet = plan
        .changes
        .iter()
        .find(|c| c.address == "aws_subnet.data-a")
        .unwrap();
    assert_eq!(subnet.action, Action::Replace);
    assert_eq!(subnet.replace_because, ["cidr_block"]);
    let old_subnet = subnet.id.clone().unwrap();
    aws.apply(&engine, &plan);
    aws.assert_clean(&engine, &replaced);
    let gone = aws
        .rt
        .block_on(
            aws.ec2()
                .describe_subnets()
                .filters(
                    aws_sdk_ec2::types::Filter::builder()
                        .name("subnet-id")
                        .values(old_subnet.as_str())
                        .build(),
                )
                .send(),
        )
        .unwrap();
    assert!(gone.subnets().is_empty(), "the replaced subnet is deleted");

    // (6) destroy removes everything, verified through the API.
    aws.destroy(&engine, &replaced);
    assert_eq!(owned_vpcs(&aws), 0);
    assert!(engine.store().read().unwrap().unwrap().resources.is_empty());
}

#[test]
fn refresh_costs_one_describe_per_type() {
    let aws = Aws::new();
    let provider = aws.provider();
    let engine = cairn_core::Engine::new(
        provider.clone(),
        std::sync::Arc::new(cairn_core::state::LocalStore::new(
            aws.dir.path().join("s.json"),
        )),
    );
    let stack = network_stack(true, "10.20.2.0/24", "https");
    aws.converge(&engine, &stack);
    provider.calls().reset();
    aws.assert_clean(&engine, &stack);
    let calls = provider.calls().by_operation();
    let describes: u64 = calls
        .iter()
        .filter(|(k, _)| k.contains(":Describe") && !k.contains("VpcAttribute"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(
        describes as usize,
        TYPES.len(),
        "one Describe per type: {calls:?}"
    );
    assert!(
        provider.calls().total() as usize <= 2 * TYPES.len(),
        "{calls:?}"
    );
    let _ = Value::Null;
}

/// Private subnets with a NAT per zone (EIPs, NAT gateways through their pending state),
/// an S3 gateway endpoint and secrets (generated and given).
fn egress_stack(given: &str) -> Stack {
    let mut s = Stack::new("acc-egress");
    let vpc = s.add(
        "main",
        Network::new("10.30.0.0/16")
            .nat(NatMode::PerZone)
            .storage_endpoint(true),
    );
    for (z, i) in [(0u8, 1), (1u8, 2)] {
        s.add(
            &format!("public-{z}"),
            Subnet::new(&vpc, &format!("10.30.{i}.0/24"))
                .tier(Tier::Public)
                .zone(z),
        );
        s.add(
            &format!("app-{z}"),
            Subnet::new(&vpc, &format!("10.30.1{i}.0/24"))
                .tier(Tier::Private)
                .zone(z),
        );
    }
    s.add(
        "generated",
        Secret::generated().description("made by cairn"),
    );
    s.add("given", Secret::given(given));
    s
}

#[test]
fn nat_endpoint_and_secrets_lifecycle() {
    let aws = Aws::new();
    // Pending long enough that the waiter's first look lands in it even on a busy machine
    // (the default 300 ms can pass before the create's answer is read).
    aws.set_faults(r#"{"transition_ms": 2000}"#);
    let engine = aws.engine("egress.json");
    let stack = egress_stack("First-Given-Secret-1!");
    let progress = std::sync::Arc::new(Progress::default());
    let plan = aws.plan(&engine, &stack);
    let report = aws
        .rt
        .block_on(engine.apply(
            &plan,
            &cairn_core::apply::ApplyOptions {
                observer: progress.clone(),
                ..Default::default()
            },
        ))
        .unwrap();
    assert!(report.is_success(), "{report}");
    let nats = plan
        .changes
        .iter()
        .filter(|c| c.type_name == "aws_nat_gateway")
        .count();
    assert_eq!(nats, 2, "one NAT per zone with private subnets");
    assert!(
        progress
            .messages
            .lock()
            .unwrap()
            .iter()
            .any(|m| m.contains("NAT gateway: pending")),
        "the waiter saw the pending state: {:?}",
        progress.messages.lock().unwrap()
    );
    aws.set_faults(r#"{"transition_ms": 300}"#);
    aws.assert_clean(&engine, &stack);
    aws.assert_import_matches(&engine, &stack, &[]);

    // The secrets hold their values in Secrets Manager; state only digests.
    let state = engine.store().read().unwrap().unwrap();
    let sm = aws_sdk_secretsmanager::Client::new(&aws.sdk);
    let given = aws
        .rt
        .block_on(
            sm.get_secret_value()
                .secret_id(
                    state.resources["aws_secretsmanager_secret.given"]
                        .id
                        .as_str(),
                )
                .send(),
        )
        .unwrap();
    assert_eq!(given.secret_string(), Some("First-Given-Secret-1!"));
    let raw = std::fs::read_to_string(aws.dir.path().join("egress.json")).unwrap();
    assert!(!raw.contains("First-Given-Secret-1!"));

    // Changing a given secret is an in-place update (a new version).
    let changed = egress_stack("Second-Given-Secret-2!");
    let plan = aws.plan(&engine, &changed);
    assert_eq!(
        plan.changes
            .iter()
            .find(|c| c.address == "aws_secretsmanager_secret.given")
            .unwrap()
            .action,
        Action::Update
    );
    aws.apply(&engine, &plan);
    aws.assert_clean(&engine, &changed);
    let given = aws
        .rt
        .block_on(
            sm.get_secret_value()
                .secret_id(
                    state.resources["aws_secretsmanager_secret.given"]
                        .id
                        .as_str(),
                )
                .send(),
        )
        .unwrap();
    assert_eq!(given.secret_string(), Some("Second-Given-Secret-2!"));

    // A secret deleted out of band (no recovery window) is recreated with its value.
    aws.rt
        .block_on(
            sm.delete_secret()
                .secret_id(
                    state.resources["aws_secretsmanager_secret.given"]
                        .id
                        .as_str(),
                )
                .force_delete_without_recovery(true)
                .send(),
        )
        .unwrap();
    aws.assert_recreated(&engine, &changed, &["aws_secretsmanager_secret.given"]);

    // A NAT gateway deleted out of band is recreated.
    let nat = state.resources["aws_nat_gateway.main-a"].id.clone();
    aws.rt
        .block_on(
            aws.ec2()
                .delete_nat_gateway()
                .nat_gateway_id(nat.as_str())
                .send(),
        )
        .unwrap();
    let plan = aws.plan(&engine, &changed);
    assert_eq!(
        plan.changes
            .iter()
            .find(|c| c.address == "aws_nat_gateway.main-a")
            .unwrap()
            .action,
        Action::Create
    );
    aws.apply(&engine, &plan);
    aws.assert_clean(&engine, &changed);

    aws.destroy(&engine, &changed);
    let left = aws
        .rt
        .block_on(aws.ec2().describe_nat_gateways().send())
        .unwrap();
    assert!(left
        .nat_gateways()
        .iter()
        .all(|n| n.state().map(|s| s.as_str()) == Some("deleted")));
    let secrets = aws.rt.block_on(sm.list_secrets().send()).unwrap();
    assert!(secrets.secret_list().is_empty(), "secrets deleted");
    assert_eq!(
        aws.rt
            .block_on(aws.ec2().describe_addresses().send())
            .unwrap()
            .addresses()
            .len(),
        0,
        "EIPs released"
    );
}

/// Collects provider progress messages.
#[derive(Default)]
struct Progress {
    messages: std::sync::Mutex<Vec<String>>,
}

impl cairn_core::apply::Observer for Progress {
    fn op_progress(&self, _op: &cairn_core::apply::OpInfo, message: &str) {
        self.messages.lock().unwrap().push(message.to_string());
    }
}

#[test]
fn throttling_and_server_faults_are_ridden_out() {
    let aws = Aws::new();
    let provider = aws.provider();
    let engine = aws.engine_with(provider.clone(), "faults.json");
    let stack = network_stack(true, "10.20.2.0/24", "https");
    // One call in four throttled, one in ten a 5xx, each in its service's real error shape.
    aws.set_faults(r#"{"throttle_rate": 0.25, "error_rate": 0.1, "seed": 7}"#);
    aws.converge(&engine, &stack);
    aws.assert_clean(&engine, &stack);
    let faulted = aws.calls().matches("\"fault\": \"throttle\"").count();
    assert!(
        faulted > 5,
        "the emulator throttled calls ({faulted}) and the provider retried them"
    );
    // EC2's budget saw the throttling and shrank; other services' budgets are their own.
    let ec2 = |p: &AwsProvider| {
        p.budgets()
            .into_iter()
            .find(|b| b.service == "ec2")
            .unwrap()
    };
    let throttled = ec2(&provider);
    assert!(throttled.throttled > 0, "{throttled:?}");
    assert!(throttled.lowest_limit < 16, "{throttled:?}");
    // Without faults it grows back.
    aws.set_faults(r#"{"throttle_rate": 0, "error_rate": 0}"#);
    aws.destroy(&engine, &stack);
    aws.converge(&engine, &stack);
    aws.destroy(&engine, &stack);
    let recovered = ec2(&provider);
    assert!(
        recovered.limit > throttled.limit && recovered.limit > recovered.lowest_limit,
        "the budget recovers after throttling stops: {throttled:?} -> {recovered:?}"
    );
    assert_eq!(owned_vpcs(&aws), 0);
}

#[test]
fn a_crash_mid_apply_is_adopted_not_duplicated() {
    let aws = Aws::new();
    let engine = aws.engine("crash.json");
    let stack = network_stack(true, "10.20.2.0/24", "https");
    // The emulator makes the subnets and groups but holds its answers; the run is killed
    // once every held call took effect (the cloud made them, state only knows they began).
    // Groups send follow-ups (the default egress revoke), so they are adopted after the
    // in-flight window; subnets at once.
    crate::crash::crash_and_adopt(
        &aws,
        &engine,
        "crash.json",
        &stack,
        &["CreateSubnet", "CreateSecurityGroup"],
        &["aws_subnet", "aws_security_group"],
    );
    assert_eq!(owned_vpcs(&aws), 1, "no duplicate VPC");
    let f = aws_sdk_ec2::types::Filter::builder()
        .name("tag:cairn:stack")
        .values("acc-net")
        .build();
    let subnets = aws
        .rt
        .block_on(aws.ec2().describe_subnets().filters(f.clone()).send())
        .unwrap()
        .subnets()
        .len();
    let groups = aws
        .rt
        .block_on(aws.ec2().describe_security_groups().filters(f).send())
        .unwrap()
        .security_groups()
        .len();
    assert_eq!((subnets, groups), (2, 2), "no duplicate subnets or groups");
}

fn tagged(tags: &[(&str, &str)]) -> Stack {
    let mut s = Stack::new("acc-tags");
    let mut net = Network::new("10.80.0.0/16").nat(NatMode::None);
    let mut secret = Secret::generated();
    for (k, v) in tags {
        net = net.tag(k, v);
        secret = secret.tag(k, v);
    }
    s.add("main", net);
    s.add("token", secret);
    s
}

#[test]
fn user_tags_follow_the_stack() {
    let aws = Aws::new();
    let engine = aws.engine("tags.json");
    aws.converge(&engine, &tagged(&[("team", "core"), ("env", "prod")]));
    // Change one, drop one, add one: updated in place, ownership tags untouched.
    let next = tagged(&[("team", "platform"), ("cost", "42")]);
    let plan = aws.plan(&engine, &next);
    assert!(
        plan.changes.iter().all(|c| c.action == Action::Update),
        "{:?}",
        plan.changes
            .iter()
            .map(|c| (&c.address, c.action))
            .collect::<Vec<_>>()
    );
    aws.apply(&engine, &plan);
    aws.assert_clean(&engine, &next);
    let vpc = engine.store().read().unwrap().unwrap().resources["aws_vpc.main"]
        .id
        .clone();
    let out = aws
        .rt
        .block_on(aws.ec2().describe_vpcs().vpc_ids(vpc.as_str()).send())
        .unwrap();
    let mut keys: Vec<&str> = out.vpcs()[0]
        .tags()
        .iter()
        .filter_map(|t| t.key())
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "cairn:resource",
            "cairn:stack",
            "cairn:token",
            "cost",
            "team"
        ]
    );
    aws.destroy(&engine, &next);
}

/// Networking through the kit's lifecycle suite: every type created; VPC DNS and a rule's
/// description in place; a subnet replaced for its CIDR; a route-table association removed
/// out of band and made again; destroy, counted through the EC2 API.
#[test]
fn networking_through_the_lifecycle_suite() {
    let aws = Aws::new();
    let ec2 = aws.ec2();
    let report = aws.lifecycle(cairn_provider_kit::lifecycle::Case {
        name: "net",
        stack: network_stack(true, "10.20.2.0/24", "https"),
        creates: TYPES.to_vec(),
        write_only: vec![],
        updates: vec![
            (
                network_stack(false, "10.20.2.0/24", "https"),
                "aws_vpc.main",
            ),
            (
                network_stack(false, "10.20.2.0/24", "https from anywhere"),
                "aws_security_group_rule.web-ingress-0",
            ),
        ],
        replace: Some((
            network_stack(false, "10.20.3.0/24", "https from anywhere"),
            "aws_subnet.data-a",
            vec!["cidr_block"],
        )),
        delete_out_of_band: Some((
            vec!["aws_route_table_association.public-a"],
            Box::new(|id| {
                let ec2 = ec2.clone();
                Box::pin(async move {
                    ec2.disassociate_route_table()
                        .association_id(id)
                        .send()
                        .await
                        .unwrap();
                })
            }),
        )),
        remaining: Box::new(|stack| {
            let ec2 = ec2.clone();
            Box::pin(async move {
                let f = aws_sdk_ec2::types::Filter::builder()
                    .name("tag:cairn:stack")
                    .values(stack)
                    .build();
                let vpcs = ec2.describe_vpcs().filters(f.clone()).send().await.unwrap();
                let subnets = ec2
                    .describe_subnets()
                    .filters(f.clone())
                    .send()
                    .await
                    .unwrap();
                let groups = ec2
                    .describe_security_groups()
                    .filters(f)
                    .send()
                    .await
                    .unwrap();
                vpcs.vpcs().len() + subnets.subnets().len() + groups.security_groups().len()
            })
        }),
    });
    assert_eq!(
        (report.updated, report.replaced, report.recreated),
        (2, 1, 1)
    );
}
