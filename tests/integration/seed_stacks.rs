//! Every seed stack on AWS (the emulator), through the `cairn` binary as a user runs it:
//! validate; plan from empty (golden text and JSON); apply; plan empty after apply
//! (`--detailed-exitcode` 0); an out-of-band change made with the raw AWS SDK reported by
//! `drift` (exit 2, naming the field); `apply` repairs it (`drift` exit 0); `destroy` leaves
//! nothing tagged `cairn:stack=<stack>`, checked through the AWS API.
//!
//! Golden files live in `tests/integration/golden/`; `CAIRN_BLESS=1` rewrites them.

use cairn_tests::{cairn_with_env, AwsEmulator};
use std::path::{Path, PathBuf};
use std::process::Output;

/// The certificate ARN of plans from empty, fixed so the golden files are stable (the
/// emulator holds one under it).
const GOLDEN_CERT: &str = "arn:aws:acm:us-east-1:123456789012:certificate/golden";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn golden_dir() -> PathBuf {
    // Cargo sets the variable at run time too: the checkout under test, even when the
    // binary came from a shared target directory built in another clone.
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .join("integration/golden")
}

pub(crate) fn check_golden(name: &str, actual: &str) {
    let path = golden_dir().join(name);
    if std::env::var_os("CAIRN_BLESS").is_some() {
        std::fs::create_dir_all(golden_dir()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (CAIRN_BLESS=1 writes it)", path.display()));
    assert!(
        expected == actual,
        "{} differs from the plan printed now (CAIRN_BLESS=1 rewrites it):\n{actual}",
        path.display()
    );
}

/// `cairn` on one seed stack in a working directory, as a user runs it.
pub(crate) struct Run<'a> {
    pub dir: &'a Path,
    pub env: Vec<(&'static str, String)>,
    pub stack: &'a str,
    /// Arguments every command takes besides the stack (`--cloud gcp`).
    pub with: &'a [&'a str],
}

impl Run<'_> {
    pub fn cairn(&self, args: &[&str]) -> Output {
        let mut all = args.to_vec();
        all.extend(["--stack", self.stack, "--env", "demo"]);
        all.extend(self.with);
        let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        cairn_with_env(self.dir, &all, &env)
    }

    pub fn expect(&self, args: &[&str], code: i32) -> String {
        let out = self.cairn(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "cairn {args:?} --stack {}: stdout:\n{}\nstderr:\n{}",
            self.stack,
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }
}

pub(crate) fn sdk(endpoint: &str, rt: &tokio::runtime::Runtime) -> aws_config::SdkConfig {
    rt.block_on(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_ec2::config::Credentials::new(
                "test",
                "test",
                None,
                None,
                "cairn-tests",
            ))
            .load(),
    )
}

/// Objects the stack still owns, by service, through each service's API.
fn leftovers(
    sdk: &aws_config::SdkConfig,
    rt: &tokio::runtime::Runtime,
    stack: &str,
) -> Vec<String> {
    rt.block_on(async {
        let mut left = Vec::new();
        let ec2 = aws_sdk_ec2::Client::new(sdk);
        let tags = ec2
            .describe_tags()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("key")
                    .values("cairn:stack")
                    .build(),
            )
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("value")
                    .values(stack)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        // NAT gateways stay listed as "deleted" for a while, as on AWS.
        let nats: Vec<String> = ec2
            .describe_nat_gateways()
            .send()
            .await
            .unwrap()
            .nat_gateways()
            .iter()
            .filter(|n| n.state().map(|s| s.as_str()) == Some("deleted"))
            .filter_map(|n| n.nat_gateway_id().map(str::to_string))
            .collect();
        for t in tags.tags() {
            let id = t.resource_id().unwrap_or_default();
            if !nats.iter().any(|n| n == id) {
                left.push(format!("ec2 {id}"));
            }
        }
        let rds = aws_sdk_rds::Client::new(sdk);
        for d in rds
            .describe_db_instances()
            .send()
            .await
            .unwrap()
            .db_instances()
        {
            if d.db_instance_status() != Some("deleting") {
                left.push(format!(
                    "rds {}",
                    d.db_instance_identifier().unwrap_or_default()
                ));
            }
        }
        for g in rds
            .describe_db_subnet_groups()
            .send()
            .await
            .unwrap()
            .db_subnet_groups()
        {
            left.push(format!(
                "rds subnet group {}",
                g.db_subnet_group_name().unwrap_or_default()
            ));
        }
        let ec = aws_sdk_elasticache::Client::new(sdk);
        for g in ec
            .describe_replication_groups()
            .send()
            .await
            .unwrap()
            .replication_groups()
        {
            left.push(format!(
                "redis {}",
                g.replication_group_id().unwrap_or_default()
            ));
        }
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(sdk);
        for lb in elb
            .describe_load_balancers()
            .send()
            .await
            .unwrap()
            .load_balancers()
        {
            left.push(format!(
                "alb {}",
                lb.load_balancer_name().unwrap_or_default()
            ));
        }
        for tg in elb
            .describe_target_groups()
            .send()
            .await
            .unwrap()
            .target_groups()
        {
            left.push(format!(
                "target group {}",
                tg.target_group_name().unwrap_or_default()
            ));
        }
        let kafka = aws_sdk_kafka::Client::new(sdk);
        for c in kafka
            .list_clusters()
            .send()
            .await
            .unwrap()
            .cluster_info_list()
        {
            left.push(format!("msk {}", c.cluster_name().unwrap_or_default()));
        }
        let sm = aws_sdk_secretsmanager::Client::new(sdk);
        for s in sm.list_secrets().send().await.unwrap().secret_list() {
            if s.tags().iter().any(|t| t.value() == Some(stack)) {
                left.push(format!("secret {}", s.name().unwrap_or_default()));
            }
        }
        left
    })
}

fn seed_stack_story(name: &str) {
    let emulator = AwsEmulator::shared();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let sdk = sdk(&emulator.endpoint(), &rt);
    let dir = tempfile::tempdir().unwrap();
    let mut run = Run {
        dir: dir.path(),
        env: vec![
            ("AWS_ENDPOINT_URL", emulator.endpoint()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("CAIRN_CERTIFICATE", GOLDEN_CERT.into()),
        ],
        stack: name,
        with: &[],
    };
    run.expect(&["validate", "--cloud", "aws"], 0);

    // A certificate ACM does not hold: the plan reads it and refuses, naming the field,
    // before anything is made.
    let missing = format!("arn:aws:acm:us-east-1:123456789012:certificate/missing-{name}");
    run.env.retain(|(k, _)| *k != "CAIRN_CERTIFICATE");
    run.env.push(("CAIRN_CERTIFICATE", missing.clone()));
    let out = run.cairn(&["plan"]);
    let said = text(&out.stderr);
    if name == "ticketing" {
        // No load balancer, so no certificate to read.
        assert_eq!(out.status.code(), Some(0), "{said}");
    } else {
        assert_eq!(out.status.code(), Some(1), "{said}");
        assert!(
            said.contains("https.certificate")
                && said.contains(&missing)
                && said.contains("does not exist"),
            "{said}"
        );
    }
    run.env.retain(|(k, _)| *k != "CAIRN_CERTIFICATE");
    run.env.push(("CAIRN_CERTIFICATE", GOLDEN_CERT.into()));

    // Plan from empty: golden text and JSON (no state, so no file written; the one cloud
    // call reads the certificate, which ACM holds under the golden ARN).
    emulator.certificate_at(&format!("{name}.example.com"), GOLDEN_CERT);
    let plan = run.expect(&["plan", "--detailed-exitcode"], 2);
    check_golden(&format!("{name}.plan.txt"), &plan);
    let json = run.expect(&["plan", "--json"], 0);
    check_golden(&format!("{name}.plan.json"), &json);
    assert!(!dir.path().join(".cairn").exists(), "plan writes nothing");

    // Apply for real, with a certificate the emulator knows.
    let cert = emulator.certificate(&format!("{name}.example.com"));
    run.env.retain(|(k, _)| *k != "CAIRN_CERTIFICATE");
    run.env.push(("CAIRN_CERTIFICATE", cert));
    let applied = run.expect(&["apply", "--auto-approve"], 0);
    assert!(applied.contains("Apply complete"), "{applied}");
    run.expect(&["plan", "--detailed-exitcode"], 0);
    // The cloud holds what state records, and nothing else of the stack's.
    let listed = run.expect(&["inventory"], 0);
    assert!(listed.contains("Inventory clean"), "{listed}");
    assert_eq!(run.expect(&["drift"], 0).lines().count(), 1);

    // Out of band: a database's backups shortened by hand.
    let rds = aws_sdk_rds::Client::new(&sdk);
    let db = format!("{name}-demo-postgres");
    rt.block_on(
        rds.modify_db_instance()
            .db_instance_identifier(&db)
            .backup_retention_period(1)
            .apply_immediately(true)
            .send(),
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(400)); // past "modifying"
    let drift = run.expect(&["drift"], 2);
    assert!(
        drift.contains("aws_db_instance.postgres changed outside cairn")
            && drift.contains("backup_retention_period: expected"),
        "{drift}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&run.expect(&["drift", "--json"], 2)).unwrap();
    assert_eq!(
        report["drifted"][0]["changes"][0]["field"],
        "backup_retention_period"
    );
    assert_eq!(report["drifted"][0]["changes"][0]["actual"], 1);
    let declared = report["drifted"][0]["changes"][0]["expected"].clone();
    assert!(run
        .expect(&["drift", "--markdown"], 2)
        .contains("| `aws_db_instance.postgres` | changed |"));

    // `apply --refresh-only` accepts the drift into state: nothing changed outside cairn
    // any more, but the cloud still differs from the stack, so the check stays red (as
    // unapplied, not as drift) and the plan wants to restore what the stack declares.
    run.expect(&["apply", "--refresh-only", "--auto-approve"], 0);
    let accepted = run.expect(&["drift"], 2);
    assert!(
        !accepted.contains("changed outside cairn")
            && accepted.contains("~ aws_db_instance.postgres differs from the stack"),
        "{accepted}"
    );
    let restore = run.expect(&["plan", "--detailed-exitcode"], 2);
    assert!(
        restore.contains("~ aws_db_instance.postgres")
            && restore.contains(&format!("1 -> {declared}")),
        "{restore}"
    );

    // A plain apply repairs the cloud.
    run.expect(&["apply", "--auto-approve"], 0);
    run.expect(&["drift"], 0);
    run.expect(&["plan", "--detailed-exitcode"], 0);

    // Without a terminal, destroy refuses unless told --auto-approve, and changes nothing.
    let refused = run.cairn(&["destroy"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("refusing to destroy without confirmation"),
        "{}",
        text(&refused.stderr)
    );
    run.expect(&["drift"], 0);

    // Import by id into another state file: the secret is adopted, its value never shown.
    let listed = run.expect(&["state", "list"], 0);
    let (secret, arn) = listed
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .find(|(a, _)| a.starts_with("aws_secretsmanager_secret."))
        .expect("every seed stack has a secret");
    run.expect(&["import", secret, arn, "--state", "imported.json"], 0);
    let shown_imported = run.expect(&["state", "show", secret, "--state", "imported.json"], 0);
    assert!(shown_imported.contains(arn), "{shown_imported}");

    // Secrets never printed, never in state.
    let mut printed = applied.clone() + &shown_imported;
    for line in listed.lines() {
        let address = line.split('\t').next().unwrap_or_default();
        printed += &run.expect(&["state", "show", address], 0);
    }
    printed += &run.expect(&["output", "--json"], 0);
    assert!(printed.contains("(sensitive)"), "secrets are shown masked");
    let state = std::fs::read_to_string(
        dir.path()
            .join(".cairn")
            .join(format!("{name}-demo.aws.json")),
    )
    .unwrap_or_default();
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    let secrets = rt.block_on(sm.list_secrets().send()).unwrap();
    for s in secrets.secret_list() {
        let value = rt
            .block_on(sm.get_secret_value().secret_id(s.arn().unwrap()).send())
            .unwrap();
        let v = value.secret_string().unwrap();
        assert!(
            !state.contains(v) && !printed.contains(v),
            "a secret leaked"
        );
    }

    run.expect(&["destroy", "--auto-approve"], 0);
    let listed = run.expect(&["inventory", "--json"], 0);
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed["objects"], serde_json::json!([]), "{listed}");
    let left = leftovers(&sdk, &rt, &format!("{name}-demo"));
    assert!(left.is_empty(), "destroy left {left:?}");
}

#[test]
fn ticketing_on_aws() {
    seed_stack_story("ticketing");
}

#[test]
fn event_booking_on_aws() {
    seed_stack_story("event-booking");
}

#[test]
fn event_broker_on_aws() {
    seed_stack_story("event-broker");
}

#[test]
fn flight_booking_on_aws() {
    seed_stack_story("flight-booking");
}

#[test]
fn zerostate_on_aws() {
    seed_stack_story("zerostate");
}
