//! Networks, subnetworks, the shared Cloud NAT, and private services access (the
//! reserved range and Service Networking connection Cloud SQL and Memorystore use).

use super::*;

impl Lowering<'_> {
    pub(super) fn network(&mut self, d: &Declared, n: &Network) {
        if !n.dns {
            self.err(
                d,
                "dns",
                "VPC networks always resolve names on gcp: dns(false) cannot be honoured",
            );
        }
        let private = self.stack.resources().iter().any(|x| {
            matches!(&x.resource, Resource::Subnet(s) if s.network.name() == d.name && s.tier == Tier::Private)
        });
        let name = gcp_name(self.stack.name(), &d.name);
        let net = self.push(
            d,
            "gcp_compute_network",
            Attrs::from([
                ("name".into(), Value::str(name)),
                ("auto_create_subnetworks".into(), Value::Bool(false)),
                ("routing_mode".into(), Value::str("REGIONAL")),
            ]),
        );
        // Cloud NAT is regional and zone-redundant (a distributed service, no gateway in
        // one zone): it keeps the per-zone promise (a zone's outage cuts no other zone's
        // egress) as well as the shared one, so both are the one regional NAT.
        if private && n.nat != NatMode::None {
            self.cloud_nat(d, &net);
        }
        if self.uses_private_services(&d.name) {
            self.private_services_access(d, &net);
        }
        self.export(d, "id", Value::reference(&net, "self_link"));
        // Subnet-mode networks have no range of their own: the declared one stays the
        // stack's (subnets were checked against it).
        self.export(d, "cidr", Value::str(&n.cidr));
    }

    /// One Cloud Router with one Cloud NAT over the network's private subnetworks (Cloud
    /// NAT is regional: the shared mode is the only one GCP has).
    pub(super) fn cloud_nat(&mut self, d: &Declared, network: &str) {
        let private: Vec<Value> = self
            .stack
            .resources()
            .iter()
            .filter(|x| {
                matches!(&x.resource, Resource::Subnet(s) if s.network.name() == d.name && s.tier == Tier::Private)
            })
            .map(|x| Value::reference(addr("gcp_compute_subnetwork", &x.name), "self_link"))
            .collect();
        let suffix = format!("{}-nat", d.name);
        let name = gcp_name(self.stack.name(), &suffix);
        self.push_as(
            d,
            "gcp_compute_router",
            &suffix,
            Attrs::from([
                ("name".into(), Value::str(&name)),
                ("region".into(), Value::str(self.region)),
                ("network".into(), Value::reference(network, "self_link")),
                ("nat_name".into(), Value::str(&name)),
                ("nat_subnetworks".into(), Value::List(private)),
            ]),
        );
    }

    pub(super) fn subnet(&mut self, d: &Declared, s: &Subnet) {
        let name = gcp_name(self.stack.name(), &d.name);
        let sub = self.push(
            d,
            "gcp_compute_subnetwork",
            Attrs::from([
                ("name".into(), Value::str(name)),
                ("region".into(), Value::str(self.region)),
                (
                    "network".into(),
                    Value::reference(addr("gcp_compute_network", s.network.name()), "self_link"),
                ),
                ("ip_cidr_range".into(), Value::str(&s.cidr)),
                // Private tiers reach Google's APIs without external addresses.
                (
                    "private_ip_google_access".into(),
                    Value::Bool(s.tier != Tier::Public),
                ),
            ]),
        );
        self.export(d, "id", Value::reference(&sub, "self_link"));
        self.export(d, "cidr", Value::str(&s.cidr));
        // `zone`: GCP subnetworks are regional, and zone names differ by region
        // (us-east1 has no -a): nothing to export that would be true.
    }

    /// Whether a database (or, later, a cache) sits in network `name`: it then needs
    /// private services access.
    pub(super) fn uses_private_services(&self, name: &str) -> bool {
        self.stack.resources().iter().any(|x| match &x.resource {
            Resource::Database(db) => {
                network_of(self.stack, &db.placement).as_deref() == Some(name)
            }
            Resource::Cache(c) => network_of(self.stack, &c.placement).as_deref() == Some(name),
            _ => false,
        })
    }

    /// A reserved range for Google's producer services (GCP picks a free /20 in it) and
    /// the Service Networking connection that peers it into the network.
    pub(super) fn private_services_access(&mut self, d: &Declared, network: &str) {
        let suffix = format!("{}-psa", d.name);
        let range = self.push_as(
            d,
            "gcp_compute_global_address",
            &suffix,
            Attrs::from([
                (
                    "name".into(),
                    Value::str(gcp_name(self.stack.name(), &suffix)),
                ),
                ("network".into(), Value::reference(network, "self_link")),
                ("purpose".into(), Value::str("VPC_PEERING")),
                ("address_type".into(), Value::str("INTERNAL")),
                ("prefix_length".into(), Value::Int(20)),
            ]),
        );
        // GCP picks the range clear of the subnetworks that exist when it is reserved, and
        // refuses a subnetwork overlapping it later: reserved after the network's subnets.
        let subnets: Vec<Text> = self
            .stack
            .resources()
            .iter()
            .filter(|x| matches!(&x.resource, Resource::Subnet(s) if s.network.name() == d.name))
            .map(|x| Text::from(addr("gcp_compute_subnetwork", &x.name).as_str()))
            .collect();
        if let Some(last) = self.out.resources.last_mut() {
            last.depends_on.extend(subnets);
        }
        self.push_as(
            d,
            "gcp_service_networking_connection",
            &suffix,
            Attrs::from([
                ("network".into(), Value::reference(network, "self_link")),
                (
                    "service".into(),
                    Value::str("servicenetworking.googleapis.com"),
                ),
                (
                    "reserved_peering_ranges".into(),
                    Value::List(vec![Value::reference(&range, "name")]),
                ),
            ]),
        );
    }
}

/// The network a service is placed in: the one named, or its subnets'.
pub(super) fn network_of(stack: &Stack, p: &cairn_core::model::Placement) -> Option<String> {
    stack.network_of(p)
}
