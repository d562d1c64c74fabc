//! Acceptance checks for ALBs: balancer (through provisioning), blue/green target groups,
//! HTTP->HTTPS redirect, HTTPS listener with certificate, path rules; in-place updates, a
//! forced replacement, and destroy verified through the API.

use crate::support::Aws;
use cairn_core::plan::Action;
use cairn_core::prelude::*;
use cairn_provider_kit::lifecycle::Case;

fn lb_stack(cert: &str, health: &str, second_route: &str, target_port: u32) -> Stack {
    let mut s = Stack::new("acc-lb");
    let vpc = s.add("main", Network::new("10.60.0.0/16").nat(NatMode::None));
    let a = s.add(
        "public-a",
        Subnet::new(&vpc, "10.60.1.0/24").tier(Tier::Public).zone(0),
    );
    let b = s.add(
        "public-b",
        Subnet::new(&vpc, "10.60.2.0/24").tier(Tier::Public).zone(1),
    );
    let sg = s.add(
        "lb",
        SecurityGroup::new(&vpc, "lb")
            .ingress(Rule::tcp(443).from_cidr("0.0.0.0/0"))
            .ingress(Rule::tcp(80).from_cidr("0.0.0.0/0")),
    );
    let lb = s.add(
        "web",
        LoadBalancer::public()
            .http_redirect()
            .https(cert)
            .target_group(
                TargetGroup::new("auth", target_port, HealthCheck::http(health)).blue_green(),
            )
            .target_group(TargetGroup::new("events", 8080, HealthCheck::http(health)).blue_green())
            .route(10, "/api/auth/*", "auth")
            .route(20, second_route, "events")
            .route_from(5, "/admin/*", "auth", &["10.0.0.0/8", "192.168.0.0/16"])
            .deny(6, "/admin/*")
            .default_target("auth")
            .subnets([&a, &b])
            .security_group(&sg),
    );
    s.output("dns", lb.attr("address"));
    s
}

/// (priority, source CIDRs, "forward" or the fixed status) of a listener's rules.
fn elb_listener_rules(
    aws: &Aws,
    engine: &cairn_core::Engine,
    listener: &str,
) -> Vec<(String, Vec<String>, String)> {
    let arn = engine.store().read().unwrap().unwrap().resources[listener]
        .id
        .clone();
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&aws.sdk);
    let out = aws
        .rt
        .block_on(elb.describe_rules().listener_arn(arn.as_str()).send())
        .unwrap();
    out.rules()
        .iter()
        .filter(|r| r.is_default() != Some(true))
        .map(|r| {
            let mut sources: Vec<String> = r
                .conditions()
                .iter()
                .filter_map(|c| c.source_ip_config())
                .flat_map(|c| c.values().to_vec())
                .collect();
            sources.sort();
            let a = &r.actions()[0];
            let action = match a.fixed_response_config() {
                Some(f) => f.status_code().unwrap_or_default().to_string(),
                None => "forward".to_string(),
            };
            (
                r.priority().unwrap_or_default().to_string(),
                sources,
                action,
            )
        })
        .collect()
}

fn balancers(aws: &Aws) -> usize {
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&aws.sdk);
    aws.rt
        .block_on(elb.describe_load_balancers().send())
        .unwrap()
        .load_balancers()
        .len()
}

#[test]
fn load_balancer_lifecycle() {
    let aws = Aws::new();
    let cert = aws.certificate("shop.example.com");
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&aws.sdk);
    let report = aws.lifecycle(Case {
        name: "alb",
        stack: lb_stack(&cert, "/actuator/health", "/api/events/*", 8080),
        creates: vec![
            "aws_lb",
            "aws_lb_target_group",
            "aws_lb_listener",
            "aws_lb_listener_rule",
        ],
        write_only: vec![],
        // In place: a health check path and a route's path pattern.
        updates: vec![(
            lb_stack(&cert, "/health", "/api/v2/events/*", 8080),
            "aws_lb_listener_rule.web-20",
        )],
        // A target group's port cannot change (its name carries the port, so the new one
        // can exist beside the old: listeners keep forwarding until it does).
        replace: Some((
            lb_stack(&cert, "/health", "/api/v2/events/*", 9090),
            "aws_lb_target_group.web-auth-blue",
            vec!["name", "port"],
        )),
        delete_out_of_band: Some((
            vec!["aws_lb.web"],
            Box::new(|arn| {
                let elb = elb.clone();
                Box::pin(async move {
                    elb.delete_load_balancer()
                        .load_balancer_arn(arn)
                        .send()
                        .await
                        .unwrap();
                })
            }),
        )),
        remaining: Box::new(|_| {
            let elb = elb.clone();
            Box::pin(async move {
                let lbs = elb.describe_load_balancers().send().await.unwrap();
                let tgs = elb.describe_target_groups().send().await.unwrap();
                lbs.load_balancers().len() + tgs.target_groups().len()
            })
        }),
    });
    assert_eq!(
        (report.updated, report.replaced, report.recreated),
        (1, 1, 1)
    );
}

/// What the ALB does, through its API: the HTTP listener redirects, the admin path is
/// forwarded for private clients only and refused for everyone else.
#[test]
fn the_listeners_redirect_and_close_the_admin_path() {
    let aws = Aws::new();
    let engine = aws.engine("lb.json");
    let cert = aws.certificate("shop.example.com");
    let stack = lb_stack(&cert, "/actuator/health", "/api/events/*", 8080);
    let plan = aws.converge(&engine, &stack);
    let count = |t: &str| plan.changes.iter().filter(|c| c.type_name == t).count();
    assert_eq!(
        (
            count("aws_lb"),
            count("aws_lb_target_group"),
            count("aws_lb_listener"),
            count("aws_lb_listener_rule")
        ),
        (1, 4, 2, 4)
    );
    assert_eq!(balancers(&aws), 1);
    let state = engine.store().read().unwrap().unwrap();
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&aws.sdk);
    let http = aws
        .rt
        .block_on(
            elb.describe_listeners()
                .listener_arns(state.resources["aws_lb_listener.web-http"].id.as_str())
                .send(),
        )
        .unwrap();
    let redirect = http.listeners()[0].default_actions()[0]
        .redirect_config()
        .unwrap();
    assert_eq!(
        (redirect.protocol(), redirect.port()),
        (Some("HTTPS"), Some("443"))
    );
    let https = elb_listener_rules(&aws, &engine, "aws_lb_listener.web-https");
    assert!(
        https.iter().any(|(p, sources, action)| p == "5"
            && sources == &["10.0.0.0/8", "192.168.0.0/16"]
            && action == "forward"),
        "{https:?}"
    );
    assert!(
        https
            .iter()
            .any(|(p, sources, action)| p == "6" && sources.is_empty() && action == "403"),
        "{https:?}"
    );
    let moved = lb_stack(&cert, "/health", "/api/v2/events/*", 9090);
    let plan = aws.plan(&engine, &moved);
    let tg = plan
        .changes
        .iter()
        .find(|c| c.address == "aws_lb_target_group.web-auth-blue")
        .unwrap();
    assert!(
        tg.create_before_destroy,
        "listeners keep forwarding until the new group exists"
    );
    aws.destroy(&engine, &stack);
    assert_eq!(balancers(&aws), 0);
}

/// Blue/green: the live colour is the stack's to declare; switching it moves traffic in
/// place (the listener and its rules forward to the other group), no group is replaced.
#[test]
fn switching_the_live_colour_moves_traffic_in_place() {
    let aws = Aws::new();
    let engine = aws.engine("lb-colour.json");
    let cert = aws.certificate("colour.example.com");
    let stack = |live: Colour| {
        let mut s = Stack::new("acc-colour");
        let vpc = s.add("main", Network::new("10.61.0.0/16").nat(NatMode::None));
        for z in 0..2u8 {
            s.add(
                &format!("public-{z}"),
                Subnet::new(&vpc, &format!("10.61.{z}.0/24"))
                    .tier(Tier::Public)
                    .zone(z),
            );
        }
        s.add(
            "web",
            LoadBalancer::public()
                .https(cert.as_str())
                .target_group(TargetGroup::new("api", 8080, HealthCheck::http("/")).live(live))
                .route(10, "/api/*", "api")
                .default_target("api")
                .in_network(&vpc),
        );
        s
    };
    aws.converge(&engine, &stack(Colour::Blue));
    let forwards_to = |engine: &cairn_core::Engine| {
        let state = engine.store().read().unwrap().unwrap();
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&aws.sdk);
        let listener = aws
            .rt
            .block_on(
                elb.describe_listeners()
                    .listener_arns(state.resources["aws_lb_listener.web-https"].id.as_str())
                    .send(),
            )
            .unwrap();
        let arn = listener.listeners()[0].default_actions()[0]
            .target_group_arn()
            .unwrap_or_default()
            .to_string();
        let colour = ["blue", "green"].into_iter().find(|c| {
            state.resources[format!("aws_lb_target_group.web-api-{c}").as_str()].id == arn.as_str()
        });
        colour.unwrap_or("neither")
    };
    assert_eq!(forwards_to(&engine), "blue");

    let plan = aws.plan(&engine, &stack(Colour::Green));
    for c in plan.changes.iter().filter(|c| c.action != Action::NoOp) {
        assert_eq!(
            c.action,
            Action::Update,
            "{} must change in place",
            c.address
        );
        assert!(
            !c.type_name.starts_with("aws_lb_target_group"),
            "no group changes: {}",
            c.address
        );
    }
    assert!(plan.has_changes());
    aws.apply(&engine, &plan);
    aws.assert_clean(&engine, &stack(Colour::Green));
    assert_eq!(forwards_to(&engine), "green");
    aws.destroy(&engine, &stack(Colour::Green));
    assert_eq!(balancers(&aws), 0);
}
