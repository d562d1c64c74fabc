//! Network security groups, their rules inside them, and application security groups.
//!
//! A group carries tags (ownership is in them) and is sent whole: its rules are part of
//! its body, so a change of rules is one PUT and a refresh of every group of a resource
//! group is one list. Rules are kept sorted by direction and priority (ARM answers them in
//! the order they were sent; cairn compares them as a set). The six default rules every
//! group has (`defaultSecurityRules`) are ARM's, never cairn's.

use crate::arm::{self, s, str_list};
use crate::client::network::{
    security_rule_properties_format::Protocol, ApplicationSecurityGroup, NetworkSecurityGroup,
    NetworkSecurityGroupPropertiesFormat, SecurityRule, SecurityRuleAccess, SecurityRuleDirection,
    SecurityRulePropertiesFormat,
};
use crate::tagged::{At, Tagged};
use crate::Ctx;
use cairn_core::provider::*;
use cairn_core::value::{Attrs, Text, Value};

fn enum_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn from_name<T: serde::de::DeserializeOwned>(
    address: &str,
    field: &str,
    v: &str,
) -> Result<T, ProviderError> {
    serde_json::from_value(serde_json::Value::String(v.to_string())).map_err(|_| {
        ProviderError::Api {
            address: address.to_string(),
            code: "InvalidRule".into(),
            message: format!("security rule {field} {v:?} is not one ARM takes"),
        }
    })
}

/// A rule's prefixes: ARM answers one in the singular field and several in the plural.
fn prefixes(one: &Option<String>, many: &[String]) -> Vec<String> {
    let mut out: Vec<String> = one.iter().cloned().chain(many.iter().cloned()).collect();
    out.sort();
    out
}

fn group_ids(groups: &[ApplicationSecurityGroup]) -> Vec<String> {
    let mut ids: Vec<String> = groups
        .iter()
        .filter_map(|g| g.resource.id.clone())
        .collect();
    ids.sort();
    ids
}

fn groups_of(ids: Vec<String>) -> Vec<ApplicationSecurityGroup> {
    ids.into_iter()
        .map(|id| {
            let mut g = ApplicationSecurityGroup::default();
            g.resource.id = Some(id);
            g
        })
        .collect()
}

fn rule_value(r: &SecurityRule) -> Option<Value> {
    let p = r.properties.as_ref()?;
    let mut ports = prefixes(&p.destination_port_range, &p.destination_port_ranges);
    ports.sort();
    Some(Value::Map(Attrs::from([
        (
            Text::from("name"),
            Value::str(r.name.clone().unwrap_or_default()),
        ),
        (Text::from("priority"), Value::Int(i64::from(p.priority))),
        (Text::from("direction"), Value::str(enum_name(&p.direction))),
        (Text::from("access"), Value::str(enum_name(&p.access))),
        (Text::from("protocol"), Value::str(enum_name(&p.protocol))),
        (
            Text::from("source_address_prefixes"),
            str_list(prefixes(
                &p.source_address_prefix,
                &p.source_address_prefixes,
            )),
        ),
        (
            Text::from("destination_address_prefixes"),
            str_list(prefixes(
                &p.destination_address_prefix,
                &p.destination_address_prefixes,
            )),
        ),
        (Text::from("destination_port_ranges"), str_list(ports)),
        (
            Text::from("source_application_security_groups"),
            str_list(group_ids(&p.source_application_security_groups)),
        ),
        (
            Text::from("destination_application_security_groups"),
            str_list(group_ids(&p.destination_application_security_groups)),
        ),
        (
            Text::from("description"),
            Value::str(p.description.clone().unwrap_or_default()),
        ),
    ])))
}

fn rule_body(address: &str, v: &Value) -> Result<SecurityRule, ProviderError> {
    let m = v.as_map().ok_or_else(|| ProviderError::Api {
        address: address.to_string(),
        code: "InvalidRule".into(),
        message: "a security rule is not a map".into(),
    })?;
    let get = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or_default();
    let list = |k: &str| -> Vec<String> {
        m.get(k)
            .and_then(Value::as_list)
            .map(|l| {
                l.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    // One prefix goes in the singular field (ARM refuses `*` or a service tag among
    // several), several in the plural.
    let split = |mut all: Vec<String>| -> (Option<String>, Vec<String>) {
        if all.len() == 1 {
            (all.pop(), Vec::new())
        } else {
            (None, all)
        }
    };
    let (source, sources) = split(list("source_address_prefixes"));
    let (destination, destinations) = split(list("destination_address_prefixes"));
    let (port, ports) = split(list("destination_port_ranges"));
    let description = get("description");
    let mut props = SecurityRulePropertiesFormat::new(
        from_name::<Protocol>(address, "protocol", get("protocol"))?,
        from_name::<SecurityRuleAccess>(address, "access", get("access"))?,
        m.get("priority")
            .and_then(Value::as_int)
            .and_then(|p| i32::try_from(p).ok())
            .unwrap_or_default(),
        from_name::<SecurityRuleDirection>(address, "direction", get("direction"))?,
    );
    props.description = (!description.is_empty()).then(|| description.to_string());
    props.source_port_range = Some("*".into());
    props.destination_port_range = port;
    props.destination_port_ranges = ports;
    props.source_address_prefix = source;
    props.source_address_prefixes = sources;
    props.destination_address_prefix = destination;
    props.destination_address_prefixes = destinations;
    props.source_application_security_groups =
        groups_of(list("source_application_security_groups"));
    props.destination_application_security_groups =
        groups_of(list("destination_application_security_groups"));
    Ok(SecurityRule {
        name: Some(get("name").to_string()),
        properties: Some(props),
        ..Default::default()
    })
}

fn sorted_rules(rules: &[SecurityRule]) -> Value {
    let mut values: Vec<Value> = rules.iter().filter_map(rule_value).collect();
    values.sort_by_key(|v| {
        let m = v.as_map().cloned().unwrap_or_default();
        (
            m.get("direction")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            m.get("priority")
                .and_then(Value::as_int)
                .unwrap_or_default(),
        )
    });
    Value::List(values)
}

impl Tagged for NetworkSecurityGroup {
    const WHAT: &'static str = "network security group";

    microsoft_network!(network_security_groups_client);

    fn attrs(&self, at: &At) -> Attrs {
        let group = at.group.as_str();
        Attrs::from([
            ("id".into(), Value::str(self.id().unwrap_or_default())),
            ("name".into(), Value::str(self.name().unwrap_or_default())),
            ("resource_group".into(), Value::str(group)),
            (
                "location".into(),
                Value::str(self.resource.location.clone().unwrap_or_default()),
            ),
            (
                "security_rules".into(),
                sorted_rules(
                    self.properties
                        .as_ref()
                        .map(|p| p.security_rules.as_slice())
                        .unwrap_or_default(),
                ),
            ),
            ("tags".into(), arm::user_tags(self.tags())),
        ])
    }

    fn body(address: &str, a: &Attrs, tags: serde_json::Value) -> Result<Self, ProviderError> {
        let mut g = NetworkSecurityGroup::default();
        g.resource.location = Some(s(a, "location").to_string());
        g.resource.tags = Some(tags);
        let rules = a
            .get("security_rules")
            .and_then(Value::as_list)
            .unwrap_or_default()
            .iter()
            .map(|r| rule_body(address, r))
            .collect::<Result<_, _>>()?;
        g.properties = Some(NetworkSecurityGroupPropertiesFormat {
            security_rules: rules,
            ..Default::default()
        });
        Ok(g)
    }
}

// ---------------------------------------------------------------------------------------
// azure_application_security_group: what a security group's members (network interfaces)
// carry; the rules of the network's security group name it.

impl Tagged for ApplicationSecurityGroup {
    const WHAT: &'static str = "application security group";

    microsoft_network!(application_security_groups_client);

    fn attrs(&self, at: &At) -> Attrs {
        let group = at.group.as_str();
        Attrs::from([
            ("id".into(), Value::str(self.id().unwrap_or_default())),
            ("name".into(), Value::str(self.name().unwrap_or_default())),
            ("resource_group".into(), Value::str(group)),
            (
                "location".into(),
                Value::str(self.resource.location.clone().unwrap_or_default()),
            ),
            ("tags".into(), arm::user_tags(self.tags())),
        ])
    }

    fn body(_address: &str, a: &Attrs, tags: serde_json::Value) -> Result<Self, ProviderError> {
        let mut g = ApplicationSecurityGroup::default();
        g.resource.location = Some(s(a, "location").to_string());
        g.resource.tags = Some(tags);
        Ok(g)
    }
}
