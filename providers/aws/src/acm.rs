//! ACM certificates a stack names by ARN (an HTTPS listener's): read when a plan reads the
//! cloud, never created, changed or deleted. ELBv2 refuses a listener whose certificate
//! ACM does not hold, after everything the listener needs was made; read first, a wrong
//! ARN is an error naming the field before any create.

use crate::error::convert;
use crate::Ctx;
use cairn_core::provider::{ProviderError, ReadOutcome, ReadRequest};
use cairn_core::value::{Attrs, Text, Value};
use std::collections::BTreeMap;

/// The type a certificate is read as (an [`ExistingRef`](cairn_core::provider::ExistingRef)).
pub(crate) const CERTIFICATE: &str = "aws_acm_certificate";

/// One `DescribeCertificate` per certificate: a stack names one or two, and ACM has no
/// batch read by ARN.
pub(crate) async fn read(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    let mut out = BTreeMap::new();
    for item in &req.items {
        let arn = item.id.clone().unwrap_or_default();
        let answer = ctx
            .c
            .acm
            .describe_certificate()
            .certificate_arn(arn.as_str())
            .send()
            .await;
        let outcome = match answer {
            Ok(d) => {
                let mut attrs = Attrs::new();
                if let Some(c) = d.certificate() {
                    if let Some(status) = c.status() {
                        attrs.insert("status".into(), Value::str(status.as_str()));
                    }
                    if let Some(domain) = c.domain_name() {
                        attrs.insert("domain_name".into(), Value::str(domain));
                    }
                }
                ReadOutcome::Found { id: arn, attrs }
            }
            Err(e) => match convert(&item.address, e) {
                ProviderError::NotFound { .. } => ReadOutcome::Gone,
                other => ReadOutcome::Failed(other),
            },
        };
        out.insert(item.address.clone(), outcome);
    }
    Ok(out)
}
