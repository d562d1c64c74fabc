//! What a stack asks of a provider that its cloud cannot give, found from the provider's
//! schema before lowering, the same way for every provider: a region pin it is not
//! configured for, override keys it does not read, load balancer capabilities its product
//! lacks, and tags its cloud would refuse. Kept apart from the engine so each rule reads in
//! one place; the engine runs it first in `lower`.

use crate::invalid::Invalid;
use crate::model::Stack;
use crate::provider::ProviderSchema;

/// What a stack asks of this provider that it cannot give, found from its schema before
/// lowering: a region pin the provider is not configured for, and override keys it does
/// not read. Overrides for other providers are theirs to check.
pub fn provider_fit(stack: &Stack, provider: &str, schema: &ProviderSchema) -> Vec<Invalid> {
    let mut errors = Vec::new();
    if let (Some(pinned), Some(region)) = (stack.region(), schema.region.as_deref()) {
        if pinned != region {
            errors.push(Invalid::new(
                "stack",
                "region",
                format!(
                    "stack {} is pinned to region {pinned:?}, but {provider} is configured for \
                     {region:?}{}; set one to match the other",
                    stack.name(),
                    if schema.region_setting.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", schema.region_setting)
                    }
                ),
            ));
        }
    }
    for d in stack.resources() {
        if let Some(rules) = &schema.tag_rules {
            let tags = &d.resource.common().tags;
            if tags.len() > rules.max_tags {
                errors.push(Invalid::new(
                    d.address(),
                    "tags",
                    format!(
                        "{} tags; {provider} takes at most {} besides its ownership marks",
                        tags.len(),
                        rules.max_tags
                    ),
                ));
            }
            for (k, v) in tags {
                if let Some(why) = rules.check(k, v) {
                    errors.push(Invalid::new(
                        d.address(),
                        format!("tags.{k}"),
                        format!("{provider} refuses this tag: {why}"),
                    ));
                }
            }
        }
        if let crate::model::Resource::LoadBalancer(lb) = &d.resource {
            for (capability, field) in lb.capabilities_used() {
                if !schema.lb_capabilities.contains(&capability) {
                    errors.push(Invalid::new(
                        d.address(),
                        field,
                        format!(
                            "a load balancer on {provider} ({}) cannot {}",
                            if schema.lb_product.is_empty() {
                                "its product"
                            } else {
                                schema.lb_product.as_str()
                            },
                            capability.describe()
                        ),
                    ));
                }
            }
        }
        let Some(overrides) = d.resource.common().overrides_for(provider) else {
            continue;
        };
        let known = schema.override_keys.get(&d.kind());
        for key in overrides.keys() {
            if known.is_some_and(|k| k.contains(key.as_str())) {
                continue;
            }
            let accepted = match known {
                Some(k) if !k.is_empty() => format!(
                    "it reads: {}",
                    k.iter().map(String::as_str).collect::<Vec<_>>().join(", ")
                ),
                _ => format!("it reads none for a {}", d.kind()),
            };
            errors.push(Invalid::new(
                d.address(),
                format!("overrides.{provider}.{key}"),
                format!(
                    "{provider} has no override {key:?} for a {}; {accepted}",
                    d.kind()
                ),
            ));
        }
    }
    errors
}
