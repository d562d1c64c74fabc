//! The provider conformance suite (cairn-provider-kit) on the AWS provider, against the
//! emulator: lost create answers adopted without a second create, adopt-reads of creates
//! that never happened answering "gone", natural-key types adopting their own objects on
//! "already exists", the inventory listing every tagged object as state records it, and
//! everything reading as gone (the inventory empty) after destroy. Two seed stacks cover
//! every AWS type cairn lowers to.

use crate::support::Aws;
use cairn_provider_kit::conformance;

fn check(stack_name: &str) {
    let aws = Aws::new();
    let params = cairn_stacks::Params::new("staging")
        .certificate(&aws.certificate(&format!("{stack_name}.example.com")));
    let stack = cairn_stacks::by_name(stack_name, &params).expect("a seed stack");
    let provider = aws.provider();
    let dir = tempfile::tempdir().unwrap();
    let report = aws
        .rt
        .block_on(conformance::run(provider, &stack, dir.path()));
    eprintln!("{stack_name}: {report:?}");
    assert!(report.adopted_after_lost_answer > 0 && report.rounds > 1);
    assert!(report.adopted_by_key > 0 && report.types_checked > 5);
    // Every type but those AWS gives no tags lists in the inventory.
    let untagged = [
        "aws_msk_topic",
        "aws_postgres_database",
        "aws_route",
        "aws_route_table_association",
    ];
    let unlisted: Vec<&str> = report.unlisted_types.iter().map(String::as_str).collect();
    assert!(
        unlisted.iter().all(|t| untagged.contains(t)),
        "{stack_name}: tagged types the inventory misses: {unlisted:?}"
    );
    assert!(report.inventoried > 30, "{report:?}");
}

#[test]
fn the_aws_provider_passes_the_provider_conformance_suite_on_event_booking() {
    check("event-booking");
}

#[test]
fn the_aws_provider_passes_the_provider_conformance_suite_on_event_broker() {
    check("event-broker");
}
