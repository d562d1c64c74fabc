//! Virtual networks and their subnets.
//!
//! A virtual network carries tags (ownership is in them); a subnet carries none, so it is
//! kept in state and found by its name under the stack's network (an existing subnet is
//! adopted only when it is exactly what was asked). ARM answers a network with its subnets
//! inside, so one list of a resource group's networks refreshes both types.
//!
//! A network's PUT sets its whole subnet list: a subnet it leaves out is deleted. So an
//! update of a network reads it first and sends its subnets back as they are; subnets are
//! created and changed on their own (`subnets/{name}`), never through the network.

use crate::arm::{self, s, str_list, strings};
use crate::client::network::{
    subnet_properties_format, AddressSpace, Delegation, ServiceDelegationPropertiesFormat,
    ServiceEndpointPropertiesFormat, SubResource, Subnet, SubnetPropertiesFormat, VirtualNetwork,
    VirtualNetworkPropertiesFormat,
};
use crate::error::convert;
use crate::tagged::{delete_with, list_groups, At, Tagged};
use crate::Ctx;
use cairn_core::provider::*;
use cairn_core::value::{Attrs, Text, Value};
use cairn_provider_kit::adopt::{self, Existing};
use std::collections::BTreeMap;

/// A provisioning state as ARM spells it.
pub(crate) fn state_name<T: serde::Serialize>(state: &Option<T>) -> Option<String> {
    state
        .as_ref()
        .and_then(|s| serde_json::to_value(s).ok())
        .and_then(|v| v.as_str().map(str::to_string))
}

// ---------------------------------------------------------------------------------------
// azure_virtual_network

impl Tagged for VirtualNetwork {
    const WHAT: &'static str = "virtual network";

    microsoft_network!(virtual_networks_client);

    fn attrs(&self, at: &At) -> Attrs {
        let group = at.group.as_str();
        let props = self.properties.as_ref();
        Attrs::from([
            ("id".into(), Value::str(self.id().unwrap_or_default())),
            ("name".into(), Value::str(self.name().unwrap_or_default())),
            ("resource_group".into(), Value::str(group)),
            (
                "location".into(),
                Value::str(self.resource.location.clone().unwrap_or_default()),
            ),
            (
                "address_space".into(),
                str_list(
                    props
                        .and_then(|p| p.address_space.as_ref())
                        .map(|a| a.address_prefixes.clone())
                        .unwrap_or_default(),
                ),
            ),
            ("tags".into(), arm::user_tags(self.tags())),
        ])
    }

    fn body(_address: &str, a: &Attrs, tags: serde_json::Value) -> Result<Self, ProviderError> {
        let mut n = VirtualNetwork::default();
        n.resource.location = Some(s(a, "location").to_string());
        n.resource.tags = Some(tags);
        n.properties = Some(VirtualNetworkPropertiesFormat {
            address_space: Some(AddressSpace {
                address_prefixes: strings(a, "address_space"),
            }),
            ..Default::default()
        });
        Ok(n)
    }

    /// A network's PUT sets its whole subnet list: the subnets go back as they are.
    fn keep(mut body: Self, current: Self) -> Self {
        if let (Some(props), Some(now)) = (body.properties.as_mut(), current.properties) {
            props.subnets = now.subnets;
        }
        body
    }
}

// ---------------------------------------------------------------------------------------
// azure_subnet

fn subnet_attrs(network_id: &str, x: &Subnet) -> Attrs {
    let props = x.properties.as_ref();
    let sub_id =
        |r: Option<&SubResource>| Value::str(r.and_then(|r| r.id.clone()).unwrap_or_default());
    Attrs::from([
        (
            "id".into(),
            Value::str(x.sub_resource.id.clone().unwrap_or_default()),
        ),
        (
            "name".into(),
            Value::str(x.name.clone().unwrap_or_default()),
        ),
        ("virtual_network_id".into(), Value::str(network_id)),
        (
            "address_prefix".into(),
            Value::str(
                props
                    .and_then(|p| p.address_prefix.clone())
                    .unwrap_or_default(),
            ),
        ),
        (
            "delegations".into(),
            str_list(
                props
                    .map(|p| {
                        p.delegations
                            .iter()
                            .filter_map(|d| d.properties.as_ref()?.service_name.clone())
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default(),
            ),
        ),
        (
            "service_endpoints".into(),
            str_list(
                props
                    .map(|p| {
                        p.service_endpoints
                            .iter()
                            .filter_map(|e| e.service.clone())
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default(),
            ),
        ),
        (
            "network_security_group_id".into(),
            Value::str(
                props
                    .and_then(|p| p.network_security_group.as_ref())
                    .and_then(|g| g.resource.id.clone())
                    .unwrap_or_default(),
            ),
        ),
        (
            "nat_gateway_id".into(),
            sub_id(props.and_then(|p| p.nat_gateway.as_ref())),
        ),
        (
            "default_outbound_access".into(),
            Value::Bool(
                props
                    .and_then(|p| p.default_outbound_access)
                    .unwrap_or(true),
            ),
        ),
    ])
}

fn subnet_body(a: &Attrs) -> Subnet {
    let delegations = strings(a, "delegations")
        .into_iter()
        .map(|service| Delegation {
            // A delegation is named by the subnet; the service is what matters.
            name: Some(service.replace('/', ".")),
            properties: Some(ServiceDelegationPropertiesFormat {
                service_name: Some(service),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();
    let service_endpoints = strings(a, "service_endpoints")
        .into_iter()
        .map(|service| ServiceEndpointPropertiesFormat {
            service: Some(service),
            ..Default::default()
        })
        .collect();
    let nsg = s(a, "network_security_group_id");
    let network_security_group = (!nsg.is_empty()).then(|| {
        let mut g = crate::client::network::NetworkSecurityGroup::default();
        g.resource.id = Some(nsg.to_string());
        g
    });
    let nat = s(a, "nat_gateway_id");
    let nat_gateway = (!nat.is_empty()).then(|| SubResource {
        id: Some(nat.to_string()),
    });
    // ARM's default is on: sent only to turn it off.
    let default_outbound_access = a
        .get("default_outbound_access")
        .and_then(Value::as_bool)
        .filter(|on| !on);
    let props = SubnetPropertiesFormat {
        address_prefix: Some(s(a, "address_prefix").to_string()),
        delegations,
        service_endpoints,
        network_security_group,
        nat_gateway,
        default_outbound_access,
        private_endpoint_network_policies: Some(
            subnet_properties_format::PrivateEndpointNetworkPolicies::Disabled,
        ),
        ..Default::default()
    };
    Subnet {
        properties: Some(props),
        ..Default::default()
    }
}

/// `(group, network, subnet)` of an item: from its id, or the network it was to be made in.
fn subnet_wanted(item: &ReadItem) -> (String, String, String) {
    let id = item.id.as_deref().map(str::to_string).unwrap_or_else(|| {
        format!(
            "{}/subnets/{}",
            s(&item.prior, "virtual_network_id"),
            s(&item.prior, "name")
        )
    });
    let network = id
        .rsplit_once("/subnets/")
        .map(|(n, _)| n)
        .unwrap_or_default();
    (
        arm::group_of(&id).unwrap_or_default().to_string(),
        arm::last(network).to_string(),
        arm::last(&id).to_string(),
    )
}

/// Batched: the subnets come inside their networks, one list per resource group.
pub(crate) async fn read_subnets(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    let wanted: Vec<_> = req.items.iter().map(|i| (i, subnet_wanted(i))).collect();
    let places = wanted
        .iter()
        .map(|(_, (g, _, _))| At {
            group: g.clone(),
            parent: String::new(),
        })
        .collect();
    let listed = list_groups::<VirtualNetwork>(ctx, &req.type_name, places).await?;
    Ok(wanted
        .into_iter()
        .map(|(item, (group, network, name))| {
            let found = listed
                .iter()
                .filter(|(g, n)| {
                    g.group.eq_ignore_ascii_case(&group)
                        && n.name().is_some_and(|x| x.eq_ignore_ascii_case(&network))
                })
                .find_map(|(_, n)| {
                    let subnet = n.properties.as_ref()?.subnets.iter().find(|x| {
                        x.name
                            .as_deref()
                            .is_some_and(|x| x.eq_ignore_ascii_case(&name))
                    })?;
                    Some((n.resource.id.clone().unwrap_or_default(), subnet))
                });
            let outcome = match found {
                Some((network_id, x)) => ReadOutcome::Found {
                    id: x.sub_resource.id.clone().unwrap_or_default().into(),
                    attrs: subnet_attrs(&network_id, x),
                },
                None => ReadOutcome::Gone,
            };
            (item.address.clone(), outcome)
        })
        .collect())
}

async fn get_subnet(
    ctx: &Ctx,
    address: &str,
    network_id: &str,
    name: &str,
) -> Result<Option<Subnet>, ProviderError> {
    let group = arm::group_of(network_id).unwrap_or_default();
    arm::found(
        address,
        ctx.c
            .network
            .subnets_client()
            .get(group, arm::last(network_id), name, &ctx.subscription)
            .await,
    )
}

async fn put_subnet(
    ctx: &Ctx,
    address: &str,
    progress: &Progress,
    a: &Attrs,
) -> Result<Attrs, ProviderError> {
    let (network_id, name) = (s(a, "virtual_network_id"), s(a, "name"));
    let group = arm::group_of(network_id).unwrap_or_default();
    let rsp = ctx
        .c
        .network
        .subnets_client()
        .create_or_update(
            group,
            arm::last(network_id),
            name,
            subnet_body(a),
            &ctx.subscription,
        )
        .send()
        .await
        .map_err(|e| convert(address, e))?;
    let headers = rsp.as_raw_response().headers().clone();
    arm::finish(
        ctx,
        address,
        "subnet",
        progress,
        &headers,
        ctx.options.create_timeout,
    )
    .await?;
    let made = get_subnet(ctx, address, network_id, name)
        .await?
        .ok_or_else(|| ProviderError::NotFound {
            address: address.to_string(),
        })?;
    Ok(subnet_attrs(network_id, &made))
}

/// The attributes a subnet is compared on when a create finds one already there.
const SUBNET_SETTINGS: &[&str] = &[
    "address_prefix",
    "delegations",
    "service_endpoints",
    "network_security_group_id",
    "nat_gateway_id",
];

pub(crate) async fn create_subnet(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let (network_id, name) = (s(a, "virtual_network_id"), s(a, "name"));
    if let Some(existing) = get_subnet(ctx, &req.address, network_id, name).await? {
        let found = subnet_attrs(network_id, &existing);
        // ARM ids compare case-insensitively; lists as the cloud answers them.
        let text = |v: Option<&Value>| v.map(|v| v.to_string().to_ascii_lowercase());
        let same = SUBNET_SETTINGS
            .iter()
            .all(|k| text(found.get(*k)) == text(a.get(*k)));
        let verdict = if same {
            Existing::Identical
        } else {
            Existing::Foreign("a subnet of that name differs from the declaration".into())
        };
        let id = existing.sub_resource.id.clone().unwrap_or_default();
        adopt::decide(&req.address, "subnet", &id, verdict, &req.progress)?;
        return Ok(CreateResponse {
            id: id.into(),
            attrs: found,
        });
    }
    let attrs = put_subnet(ctx, &req.address, &req.progress, a).await?;
    Ok(CreateResponse {
        id: s(&attrs, "id").into(),
        attrs,
    })
}

pub(crate) async fn update_subnet(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    let attrs = put_subnet(ctx, &req.address, &req.progress, &req.attrs).await?;
    Ok(UpdateResponse { attrs })
}

pub(crate) async fn delete_subnet(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    let network = req
        .id
        .rsplit_once("/subnets/")
        .map(|(n, _)| n)
        .unwrap_or_default();
    let group = arm::group_of(&req.id).unwrap_or_default();
    delete_with(ctx, req, "subnet", || async {
        let rsp = ctx
            .c
            .network
            .subnets_client()
            .delete(
                group,
                arm::last(network),
                arm::last(&req.id),
                &ctx.subscription,
            )
            .send()
            .await?;
        Ok(rsp.as_raw_response().headers().clone())
    })
    .await
}
