//! Objects a stack names without managing them (an existing certificate), read at plan
//! so a missing one is refused before any create.

use super::*;

impl Engine {
    /// Read the objects the stack names and does not manage, one request per type: one
    /// that does not exist is an error naming the resource and the field.
    pub(super) async fn check_existing(
        &self,
        stack: &str,
        existing: &[ExistingRef],
    ) -> Result<(), EngineError> {
        let mut by_type: BTreeMap<&str, Vec<&ExistingRef>> = BTreeMap::new();
        for e in existing {
            by_type.entry(&e.type_name).or_default().push(e);
        }
        let key = |e: &ExistingRef| Text::from(format!("{}.{}", e.resource, e.field));
        let (mut missing, mut failures) = (Vec::new(), Vec::new());
        for (type_name, refs) in by_type {
            let request = ReadRequest {
                stack: stack.to_string(),
                type_name: type_name.into(),
                items: refs
                    .iter()
                    .map(|e| ReadItem {
                        address: key(e),
                        id: Some(e.id.clone()),
                        token: None,
                        prior: Default::default(),
                    })
                    .collect(),
            };
            let answer = self.provider.read(request).await;
            for e in refs {
                let outcome = match &answer {
                    Ok(r) => r.results.get(&key(e)).cloned(),
                    Err(err) => Some(ReadOutcome::Failed(err.clone())),
                };
                match outcome {
                    Some(ReadOutcome::Found { .. }) => {}
                    Some(ReadOutcome::Gone) | None => missing.push(Invalid::new(
                        e.resource.clone(),
                        e.field.clone(),
                        format!(
                            "{} {} does not exist, or this {} account cannot see it",
                            e.what,
                            e.id,
                            self.provider.name()
                        ),
                    )),
                    Some(ReadOutcome::Failed(err)) => failures.push((key(e).to_string(), err)),
                }
            }
        }
        if !failures.is_empty() {
            return Err(EngineError::Refresh { failures });
        }
        if !missing.is_empty() {
            return Err(EngineError::Invalid(ValidationErrors(missing)));
        }
        Ok(())
    }
}
