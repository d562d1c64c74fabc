//! cairn embedded in a program: a small stack declared in Rust, then planned, applied,
//! planned again (empty), checked for drift, destroyed, and the cloud's inventory checked
//! empty, through the engine, the way the README shows. The provider is configured as the
//! AWS CLI is (`AWS_REGION`, the credential chain, `AWS_ENDPOINT_URL` for a local
//! emulator); the first argument is where state goes (default `.cairn/embed.aws.state.json`).
//!
//! ```text
//! tests/emulators/aws/serve --port 5555 &
//! AWS_ENDPOINT_URL=http://127.0.0.1:5555 AWS_REGION=us-east-1 \
//!   AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test cargo run --example embed
//! ```
//!
//! `tests/integration/cli.rs` runs it against the emulator, so it keeps working.

use cairn_core::prelude::*;

/// The stack: a network with public and private subnets in two zones (the private ones
/// reach out through one shared NAT), the groups of a web tier and its servers, and a
/// generated secret.
fn stack() -> Stack {
    let mut s = Stack::new("embed");
    let net = s.add("main", Network::new("10.20.0.0/16").nat(NatMode::Shared));
    for (zone, public, private) in [
        (0, "10.20.0.0/24", "10.20.10.0/24"),
        (1, "10.20.1.0/24", "10.20.11.0/24"),
    ] {
        s.add(
            &format!("public-{zone}"),
            Subnet::new(&net, public).tier(Tier::Public).zone(zone),
        );
        s.add(
            &format!("app-{zone}"),
            Subnet::new(&net, private).tier(Tier::Private).zone(zone),
        );
    }
    let web = s.add(
        "web",
        SecurityGroup::new(&net, "the web tier")
            .ingress(Rule::tcp(443).from_cidr("0.0.0.0/0").description("https")),
    );
    s.add(
        "app",
        SecurityGroup::new(&net, "the servers").ingress(
            Rule::tcp(8080)
                .from_group(&web)
                .description("from the web tier"),
        ),
    );
    s.add("api-key", Secret::generated());
    s.output("network", net.attr("id"));
    s
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let state = std::env::args()
        .nth(1)
        .unwrap_or_else(|| ".cairn/embed.aws.state.json".into());
    let stack = stack();
    let provider = cairn_aws::AwsProvider::from_env().await?;
    let engine = Engine::builder(provider, state)
        .notices(|note| eprintln!("note: {note}"))
        .build();

    let plan = engine.plan(&stack, &PlanOptions::default()).await?;
    println!("{plan}");
    let applied = engine.apply(&plan, &ApplyOptions::default()).await?;
    println!("{applied}");
    if !applied.is_success() {
        return Err("apply did not complete".into());
    }

    let again = engine.plan(&stack, &PlanOptions::default()).await?;
    if again.has_changes() {
        return Err(format!("a second plan still wants changes:\n{again}").into());
    }
    let drift = engine.drift(&stack).await?;
    println!(
        "drift: {:?} ({} resources checked)",
        drift.status(),
        drift.checked
    );
    if drift.status() != DriftStatus::Clean {
        return Err(drift.markdown().into());
    }

    let destroy = engine.plan(&stack, &PlanOptions::destroy()).await?;
    let destroyed = engine.apply(&destroy, &ApplyOptions::default()).await?;
    println!("{destroyed}");
    if !destroyed.is_success() {
        return Err("destroy did not complete".into());
    }
    // What the cloud still holds marked as this stack's: nothing, or the destroy missed it.
    let left = engine.inventory(&stack).await?;
    print!("{}", left.text());
    if !left.is_empty() {
        return Err("the cloud still holds objects of the stack".into());
    }
    Ok(())
}
