//! NAT gateways and their public IP addresses: a private tier's way out.
//!
//! Both carry tags and live in the stack's resource group, so they follow the life in
//! `tagged.rs`. A NAT gateway and its address are zonal when the stack asks for NAT per
//! zone (`zones: ["1"]`: a zone's outage then cuts no other zone's egress), and regional
//! when shared. Both are Standard SKU (the only one a NAT gateway takes), the address
//! static.

use crate::arm::{self, s, str_list, strings};
use crate::client::network::{
    nat_gateway_sku, public_ip_address_sku, IpAllocationMethod, IpVersion, NatGateway,
    NatGatewayPropertiesFormat, NatGatewaySku, PublicIpAddress, PublicIpAddressPropertiesFormat,
    PublicIpAddressSku, SubResource,
};
use crate::tagged::{At, Tagged};
use crate::Ctx;
use cairn_core::provider::ProviderError;
use cairn_core::value::{Attrs, Value};

/// The attributes every tagged type here records.
fn common(
    id: Option<&str>,
    name: Option<&str>,
    group: &str,
    location: Option<&str>,
    tags: Option<&serde_json::Value>,
) -> Attrs {
    Attrs::from([
        ("id".into(), Value::str(id.unwrap_or_default())),
        ("name".into(), Value::str(name.unwrap_or_default())),
        ("resource_group".into(), Value::str(group)),
        ("location".into(), Value::str(location.unwrap_or_default())),
        ("tags".into(), arm::user_tags(tags)),
    ])
}

impl Tagged for PublicIpAddress {
    const WHAT: &'static str = "public IP address";

    microsoft_network!(public_ip_addresses_client);

    fn attrs(&self, at: &At) -> Attrs {
        let group = at.group.as_str();
        let mut a = common(
            self.id(),
            self.name(),
            group,
            self.resource.location.as_deref(),
            self.tags(),
        );
        let mut zones = self.zones.clone();
        zones.sort();
        a.insert("zones".into(), str_list(zones));
        a.insert(
            "ip_address".into(),
            Value::str(
                self.properties
                    .as_ref()
                    .and_then(|p| p.ip_address.clone())
                    .unwrap_or_default(),
            ),
        );
        a
    }

    fn body(_address: &str, a: &Attrs, tags: serde_json::Value) -> Result<Self, ProviderError> {
        let mut ip = PublicIpAddress::default();
        ip.resource.location = Some(s(a, "location").to_string());
        ip.resource.tags = Some(tags);
        ip.zones = strings(a, "zones");
        ip.sku = Some(PublicIpAddressSku {
            name: Some(public_ip_address_sku::Name::Standard),
            tier: None,
        });
        ip.properties = Some(Box::new(PublicIpAddressPropertiesFormat {
            public_ip_allocation_method: Some(IpAllocationMethod::Static),
            public_ip_address_version: Some(IpVersion::IPv4),
            ..Default::default()
        }));
        Ok(ip)
    }
}

impl Tagged for NatGateway {
    const WHAT: &'static str = "NAT gateway";

    microsoft_network!(nat_gateways_client);

    fn attrs(&self, at: &At) -> Attrs {
        let group = at.group.as_str();
        let mut a = common(
            self.id(),
            self.name(),
            group,
            self.resource.location.as_deref(),
            self.tags(),
        );
        let mut zones = self.zones.clone();
        zones.sort();
        a.insert("zones".into(), str_list(zones));
        let props = self.properties.as_ref();
        let mut ips: Vec<String> = props
            .map(|p| {
                p.public_ip_addresses
                    .iter()
                    .filter_map(|r| r.id.clone())
                    .collect()
            })
            .unwrap_or_default();
        ips.sort();
        a.insert("public_ip_address_ids".into(), str_list(ips));
        a.insert(
            "idle_timeout_minutes".into(),
            Value::Int(i64::from(
                props.and_then(|p| p.idle_timeout_in_minutes).unwrap_or(4),
            )),
        );
        a
    }

    fn body(_address: &str, a: &Attrs, tags: serde_json::Value) -> Result<Self, ProviderError> {
        let mut g = NatGateway::default();
        g.resource.location = Some(s(a, "location").to_string());
        g.resource.tags = Some(tags);
        g.zones = strings(a, "zones");
        g.sku = Some(NatGatewaySku {
            name: Some(nat_gateway_sku::Name::Standard),
        });
        g.properties = Some(NatGatewayPropertiesFormat {
            idle_timeout_in_minutes: a
                .get("idle_timeout_minutes")
                .and_then(Value::as_int)
                .and_then(|m| i32::try_from(m).ok()),
            public_ip_addresses: strings(a, "public_ip_address_ids")
                .into_iter()
                .map(|id| SubResource { id: Some(id) })
                .collect(),
            ..Default::default()
        });
        Ok(g)
    }
}
