//! Where a portable service is placed, read the same way by every provider.

use cairn_core::model::{Placement, Resource, Stack};

/// The network a placement names: its own, or that of its first subnet hint.
pub fn network_of(stack: &Stack, p: &Placement) -> Option<String> {
    if let Some(n) = &p.network {
        return Some(n.name().to_string());
    }
    let first = p.subnets.first()?;
    stack.resources().iter().find_map(|x| match &x.resource {
        Resource::Subnet(s) if x.name == first.name() => Some(s.network.name().to_string()),
        _ => None,
    })
}
