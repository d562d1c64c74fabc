//! Validation of a portable stack, before any provider call.
//!
//! Every finding names the resource (its portable address) and the field, and all findings
//! are reported together: a user fixing a stack should not have to run validation once per
//! mistake. Provider-specific limits (name lengths a cloud imposes, allowed instance classes)
//! are checked by the provider's `lower`, which reports errors in the same shape.

use crate::model::*;
use crate::value::Sensitive;
use ipnet::Ipv4Net;
use petgraph::graph::{DiGraph, NodeIndex};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::collections::BTreeMap;
use std::fmt;

/// One problem in a declaration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{resource}: field `{field}`: {message}")]
pub struct Invalid {
    /// Portable address (`subnet.public-a`), `stack` or `output.NAME`.
    pub resource: String,
    /// Field path inside the resource, e.g. `ingress[0].to_port`.
    pub field: String,
    pub message: String,
}

impl Invalid {
    pub fn new(
        resource: impl AsRef<str>,
        field: impl AsRef<str>,
        message: impl Into<String>,
    ) -> Self {
        Invalid {
            resource: resource.as_ref().to_string(),
            field: field.as_ref().to_string(),
            message: message.into(),
        }
    }
}

/// Every problem found in a stack.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ValidationErrors(pub Vec<Invalid>);

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "the stack is invalid ({} problem{}):",
            self.0.len(),
            if self.0.len() == 1 { "" } else { "s" }
        )?;
        for e in &self.0 {
            writeln!(f, "  - {e}")?;
        }
        Ok(())
    }
}

/// Check a stack. `Ok(())` means providers may be asked to lower it.
pub fn validate(stack: &Stack) -> Result<(), ValidationErrors> {
    let mut v = Validator {
        stack,
        errors: Vec::new(),
        by_name: HashMap::default(),
    };
    v.run();
    if v.errors.is_empty() {
        Ok(())
    } else {
        Err(ValidationErrors(v.errors))
    }
}

struct Validator<'a> {
    stack: &'a Stack,
    errors: Vec<Invalid>,
    by_name: HashMap<&'a str, &'a Declared>,
}

/// Names every cloud accepts: lowercase letters, digits and single hyphens, starting with a
/// letter (RDS, GCP and Azure all reject leading digits, trailing or doubled hyphens).
pub fn check_name(name: &str, max: usize) -> Result<(), String> {
    if name.is_empty() {
        return Err("is empty".into());
    }
    if name.len() > max {
        return Err(format!(
            "{name:?} is {} characters long; at most {max} are allowed",
            name.len()
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(format!("{name:?} must start with a lowercase letter"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!(
            "{name:?} contains {c:?}; only lowercase letters, digits and '-' are allowed"
        ));
    }
    if name.ends_with('-') || name.contains("--") {
        return Err(format!("{name:?} must not end with '-' or contain '--'"));
    }
    Ok(())
}

pub const MAX_RESOURCE_NAME: usize = 48;
pub const MAX_STACK_NAME: usize = 32;

fn parse_cidr(text: &str) -> Result<Ipv4Net, String> {
    let net: Ipv4Net = text
        .parse()
        .map_err(|_| format!("{text:?} is not an IPv4 CIDR block (like 10.0.0.0/16)"))?;
    if net.network() != net.addr() {
        return Err(format!(
            "{text:?} has host bits set; did you mean {}?",
            net.trunc()
        ));
    }
    Ok(net)
}

fn check_window(text: &str, with_day: bool) -> Result<(), String> {
    let expect = if with_day {
        "ddd:hh:mm-ddd:hh:mm (e.g. sun:04:00-sun:05:00)"
    } else {
        "hh:mm-hh:mm (e.g. 03:00-04:00)"
    };
    let bad = || format!("{text:?} is not a window of the form {expect}");
    let (a, b) = text.split_once('-').ok_or_else(bad)?;
    let minutes = |part: &str| -> Result<u32, String> {
        let (day, hm) = if with_day {
            let (d, rest) = part.split_once(':').ok_or_else(bad)?;
            let day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
                .iter()
                .position(|x| *x == d.to_ascii_lowercase())
                .ok_or_else(bad)?;
            (day as u32, rest)
        } else {
            (0, part)
        };
        let (h, m) = hm.split_once(':').ok_or_else(bad)?;
        let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if h > 23 || m > 59 || hm.len() != 5 {
            return Err(bad());
        }
        Ok(day * 1440 + h * 60 + m)
    };
    let (start, end) = (minutes(a)?, minutes(b)?);
    let span = if end >= start {
        end - start
    } else {
        end + if with_day { 7 * 1440 } else { 1440 } - start
    };
    if span < 30 {
        return Err(format!("{text:?} is shorter than 30 minutes"));
    }
    Ok(())
}

/// Password policy for secrets a user gives: long, mixed, not a well-known word.
pub fn check_password(secret: &Sensitive) -> Result<(), String> {
    let Some(p) = secret.expose() else {
        return Ok(());
    };
    if p.chars().count() < 12 {
        return Err(format!(
            "is {} characters long; at least 12 are required",
            p.chars().count()
        ));
    }
    if p.len() > 128 {
        return Err("is longer than 128 characters".into());
    }
    if p.chars().any(char::is_whitespace) {
        return Err("contains whitespace".into());
    }
    let classes = [
        p.chars().any(|c| c.is_ascii_lowercase()),
        p.chars().any(|c| c.is_ascii_uppercase()),
        p.chars().any(|c| c.is_ascii_digit()),
        p.chars().any(|c| !c.is_ascii_alphanumeric()),
    ];
    if classes.iter().filter(|x| **x).count() < 3 {
        return Err("needs at least three of: lowercase, uppercase, digits, symbols".into());
    }
    let letters: String = p
        .chars()
        .filter(char::is_ascii_alphabetic)
        .collect::<String>()
        .to_ascii_lowercase();
    const COMMON: &[&str] = &[
        "password", "passw0rd", "changeme", "admin", "welcome", "letmein", "qwerty", "secret",
        "postgres", "default",
    ];
    if COMMON
        .iter()
        .any(|w| letters == *w || letters.starts_with(w) && letters.len() <= w.len() + 2)
    {
        return Err("is a well-known password".into());
    }
    Ok(())
}

impl<'a> Validator<'a> {
    fn err(&mut self, resource: &str, field: &str, message: impl Into<String>) {
        self.errors.push(Invalid::new(resource, field, message));
    }

    fn run(&mut self) {
        if let Err(m) = check_name(self.stack.name(), MAX_STACK_NAME) {
            self.err("stack", "name", m);
        }
        for d in self.stack.resources() {
            if let Err(m) = check_name(&d.name, MAX_RESOURCE_NAME) {
                self.err(&d.address(), "name", m);
            }
            if let Some(prev) = self.by_name.insert(&d.name, d) {
                let (a, b) = (prev.address(), d.address());
                self.err(
                    &b,
                    "name",
                    format!(
                        "the name {:?} is already used by {a}; names are unique within a stack",
                        d.name
                    ),
                );
                self.by_name.insert(&prev.name, prev);
            }
        }
        self.check_references();
        self.check_cycles();
        for d in self.stack.resources() {
            self.check_resource(d);
        }
        self.check_subnet_overlaps();
        self.check_outputs();
    }

    fn check_references(&mut self) {
        for d in self.stack.resources() {
            for (field, r) in d.resource.references() {
                match self.by_name.get(r.name.as_str()) {
                    None => self.err(
                        &d.address(),
                        &field,
                        format!("refers to {r}, which the stack does not declare"),
                    ),
                    Some(target) if target.kind() != r.kind => self.err(
                        &d.address(),
                        &field,
                        format!("refers to {r}, but {:?} is a {}", r.name, target.kind()),
                    ),
                    Some(target) if target.name == d.name => {
                        self.err(&d.address(), &field, "refers to the resource itself")
                    }
                    Some(_) => {}
                }
            }
        }
    }

    /// Cycles through references and `depends_on`. Security-group rule sources are left out:
    /// providers lower rules to resources of their own, so two groups admitting each other
    /// is legitimate.
    fn check_cycles(&mut self) {
        // Node i is the first declaration of a name (duplicates are reported elsewhere).
        let resources = self.stack.resources();
        let index: HashMap<&str, usize> = resources
            .iter()
            .enumerate()
            .rev()
            .map(|(i, d)| (d.name.as_str(), i))
            .collect();
        let mut g: DiGraph<(), ()> = DiGraph::with_capacity(resources.len(), resources.len());
        for _ in resources {
            g.add_node(());
        }
        let mut any_edge = false;
        for (i, d) in resources.iter().enumerate() {
            for (field, r) in d.resource.references() {
                if field.starts_with("ingress") || field.starts_with("egress") || r.name == d.name {
                    continue;
                }
                if let Some(&t) = index.get(r.name.as_str()) {
                    g.add_edge(NodeIndex::new(t), NodeIndex::new(i), ());
                    any_edge = true;
                }
            }
        }
        if !any_edge || petgraph::algo::toposort(&g, None).is_ok() {
            return;
        }
        for mut scc in petgraph::algo::tarjan_scc(&g) {
            if scc.len() < 2 {
                continue;
            }
            // Start the printed cycle at the first-declared member: stable messages.
            scc.sort();
            let cycle: Vec<&str> = crate::graph::cycle_path(&g, &scc)
                .iter()
                .map(|n| resources[n.index()].name.as_str())
                .collect();
            let addrs: Vec<String> = cycle.iter().map(|n| self.by_name[n].address()).collect();
            let first = self.by_name[cycle[0]];
            let field = first
                .resource
                .references()
                .into_iter()
                .find(|(_, r)| cycle.contains(&r.name.as_str()))
                .map_or_else(|| "depends_on".to_string(), |(f, _)| f);
            self.err(
                &first.address(),
                &field,
                format!("dependency cycle: {} -> {}", addrs.join(" -> "), addrs[0]),
            );
        }
    }

    fn check_resource(&mut self, d: &'a Declared) {
        let a = d.address();
        for (i, f) in d
            .resource
            .common()
            .lifecycle
            .ignore_changes
            .iter()
            .enumerate()
        {
            if f.is_empty() {
                self.err(
                    &a,
                    &format!("ignore_changes[{i}]"),
                    "is an empty attribute name",
                );
            }
        }
        for (k, _) in &d.resource.common().tags {
            if k.starts_with("cairn:") || k.is_empty() || k.len() > 127 {
                self.err(&a, &format!("tags.{k}"), "tag keys must be 1-127 characters and not start with `cairn:` (reserved for ownership tags)");
            }
        }
        match &d.resource {
            Resource::Network(n) => match parse_cidr(&n.cidr) {
                Err(m) => self.err(&a, "cidr", m),
                Ok(net) if !(16..=28).contains(&net.prefix_len()) => self.err(
                    &a,
                    "cidr",
                    format!(
                        "{} has a /{} prefix; networks must be between /16 and /28",
                        n.cidr,
                        net.prefix_len()
                    ),
                ),
                Ok(net) if !is_private(&net) => self.err(
                    &a,
                    "cidr",
                    format!(
                        "{} is not a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)",
                        n.cidr
                    ),
                ),
                Ok(_) => {}
            },
            Resource::Subnet(s) => self.check_subnet(&a, s),
            Resource::SecurityGroup(g) => self.check_group(&a, g),
            Resource::Secret(s) => {
                match &s.source {
                    SecretSource::Given(v) => {
                        if let Err(m) = check_password(v) {
                            self.err(&a, "value", format!("the given secret {m}"));
                        }
                    }
                    SecretSource::Generated(spec) => {
                        if !(16..=128).contains(&spec.length) {
                            self.err(&a, "length", format!("{} is outside 16..=128", spec.length));
                        }
                        if spec.symbols.chars().any(|c| {
                            c.is_whitespace() || c == '"' || c == '\'' || !c.is_ascii_graphic()
                        }) {
                            self.err(&a, "symbols", "may hold only printable ASCII punctuation without quotes or spaces");
                        }
                    }
                }
            }
            Resource::Database(db) => self.check_database(&a, db),
            Resource::Broker(b) => self.check_broker(&a, b),
            Resource::LoadBalancer(lb) => self.check_load_balancer(&a, lb),
            Resource::Cache(c) => self.check_cache(&a, c),
        }
    }

    fn network_cidr(&self, network: &Ref<Network>) -> Option<Ipv4Net> {
        match &self.by_name.get(network.name())?.resource {
            Resource::Network(n) => parse_cidr(&n.cidr).ok(),
            _ => None,
        }
    }

    fn check_subnet(&mut self, a: &str, s: &Subnet) {
        match parse_cidr(&s.cidr) {
            Err(m) => self.err(a, "cidr", m),
            Ok(net) => {
                if !(16..=28).contains(&net.prefix_len()) {
                    self.err(
                        a,
                        "cidr",
                        format!(
                            "{} has a /{} prefix; subnets must be between /16 and /28",
                            s.cidr,
                            net.prefix_len()
                        ),
                    );
                }
                if let Some(parent) = self.network_cidr(&s.network) {
                    if !parent.contains(&net) {
                        self.err(
                            a,
                            "cidr",
                            format!(
                                "{} is outside network {} ({parent})",
                                s.cidr,
                                s.network.address()
                            ),
                        );
                    }
                }
            }
        }
        if s.zone > 5 {
            self.err(
                a,
                "zone",
                format!("zone index {} is out of range 0..=5", s.zone),
            );
        }
    }

    fn check_subnet_overlaps(&mut self) {
        // Sort by start address per network: overlap checks stay O(n log n) on huge stacks.
        let mut per_network: BTreeMap<&str, Vec<(Ipv4Net, String)>> = BTreeMap::new();
        for d in self.stack.resources() {
            if let Resource::Subnet(s) = &d.resource {
                if let Ok(net) = parse_cidr(&s.cidr) {
                    per_network
                        .entry(s.network.name())
                        .or_default()
                        .push((net, d.address()));
                }
            }
        }
        for (_, mut subnets) in per_network {
            subnets.sort_by_key(|(n, _)| (n.network(), n.prefix_len()));
            let mut widest: Option<(Ipv4Net, String)> = None;
            for (net, addr) in subnets {
                if let Some((prev, prev_addr)) = &widest {
                    if prev.contains(&net.network()) {
                        let msg = format!("{net} overlaps {prev} of {prev_addr}");
                        self.err(&addr, "cidr", msg);
                        if net.broadcast() <= prev.broadcast() {
                            continue;
                        }
                    }
                }
                widest = Some((net, addr));
            }
        }
    }

    fn check_group(&mut self, a: &str, g: &SecurityGroup) {
        if g.description.trim().is_empty() {
            self.err(
                a,
                "description",
                "is empty; clouds require a description for firewall groups",
            );
        } else if g.description.len() > 255 {
            self.err(a, "description", "is longer than 255 characters");
        }
        for (dir, rules) in [("ingress", &g.ingress), ("egress", &g.egress)] {
            for (i, r) in rules.iter().enumerate() {
                let field = |f: &str| format!("{dir}[{i}].{f}");
                match &r.source {
                    None => self.err(
                        a,
                        &field("source"),
                        "the rule has no source; add from_cidr(..) or from_group(..)",
                    ),
                    Some(RuleSource::Cidr(c)) => {
                        if let Err(m) = parse_cidr(c) {
                            self.err(a, &field("source"), m);
                        }
                    }
                    Some(RuleSource::Group(_)) => {}
                }
                if r.protocol != Protocol::All && r.protocol != Protocol::Icmp {
                    for (name, port) in [("from_port", r.from_port), ("to_port", r.to_port)] {
                        if port == 0 || port > 65535 {
                            self.err(
                                a,
                                &field(name),
                                format!("port {port} is out of range 1..=65535"),
                            );
                        }
                    }
                    if r.from_port > r.to_port {
                        self.err(
                            a,
                            &field("to_port"),
                            format!(
                                "port range {}-{} ends before it starts",
                                r.from_port, r.to_port
                            ),
                        );
                    }
                }
                if r.description.len() > 255 {
                    self.err(a, &field("description"), "is longer than 255 characters");
                }
            }
        }
    }

    fn check_placement(&mut self, a: &str, p: &Placement, min_zones: usize, what: &str) {
        if p.subnets.is_empty() {
            self.err(a, "subnets", format!("{what} needs at least one subnet"));
            return;
        }
        let zones: HashSet<u8> = p
            .subnets
            .iter()
            .filter_map(|s| match &self.by_name.get(s.name())?.resource {
                Resource::Subnet(s) => Some(s.zone),
                _ => None,
            })
            .collect();
        if zones.len() < min_zones {
            self.err(
                a,
                "subnets",
                format!(
                    "{what} needs subnets in at least {min_zones} zones; these cover {}",
                    zones.len()
                ),
            );
        }
        let networks: HashSet<&str> = p
            .subnets
            .iter()
            .filter_map(|s| match &self.by_name.get(s.name())?.resource {
                Resource::Subnet(s) => Some(s.network.name()),
                _ => None,
            })
            .collect();
        if networks.len() > 1 {
            self.err(a, "subnets", "subnets belong to different networks");
        }
    }

    fn check_database(&mut self, a: &str, db: &Database) {
        if !valid_version(&db.version) {
            self.err(
                a,
                "version",
                format!(
                    "{:?} is not a PostgreSQL version like 15 or 15.4",
                    db.version
                ),
            );
        } else if db
            .version
            .split('.')
            .next()
            .and_then(|m| m.parse::<u32>().ok())
            .is_some_and(|m| m < 11)
        {
            self.err(
                a,
                "version",
                format!(
                    "PostgreSQL {} is out of support on every cloud; use 11 or newer",
                    db.version
                ),
            );
        }
        if !(20..=65536).contains(&db.storage_gb) {
            self.err(
                a,
                "storage_gb",
                format!("{} is outside 20..=65536", db.storage_gb),
            );
        }
        if db.backup_retention_days > 35 {
            self.err(
                a,
                "backup_retention_days",
                format!("{} is more than 35 days", db.backup_retention_days),
            );
        }
        if db.high_availability && db.backup_retention_days == 0 {
            self.err(
                a,
                "backup_retention_days",
                "high availability needs automated backups (retention of at least 1 day)",
            );
        }
        if let Some(w) = &db.backup_window {
            if let Err(m) = check_window(w, false) {
                self.err(a, "backup_window", m);
            }
        }
        if let Some(w) = &db.maintenance_window {
            if let Err(m) = check_window(w, true) {
                self.err(a, "maintenance_window", m);
            }
        }
        if !valid_identifier(&db.admin_user, 16) {
            self.err(
                a,
                "admin_user",
                format!(
                    "{:?} must be 1-16 letters, digits or '_', starting with a letter",
                    db.admin_user
                ),
            );
        } else if [
            "rdsadmin",
            "admin",
            "administrator",
            "root",
            "guest",
            "public",
            "azure_superuser",
            "azure_pg_admin",
            "cloudsqladmin",
        ]
        .contains(&db.admin_user.as_str())
        {
            self.err(
                a,
                "admin_user",
                format!("{:?} is reserved by at least one cloud", db.admin_user),
            );
        }
        if db.admin_password.is_none() {
            self.err(
                a,
                "admin_password",
                "is not set; give it a Secret (generated or given)",
            );
        }
        let mut seen = HashSet::default();
        for (i, name) in db.databases.iter().enumerate() {
            if !valid_identifier(name, 63) {
                self.err(
                    a,
                    &format!("databases[{i}]"),
                    format!("{name:?} must be 1-63 letters, digits or '_', starting with a letter"),
                );
            }
            if !seen.insert(name.to_ascii_lowercase()) {
                self.err(
                    a,
                    &format!("databases[{i}]"),
                    format!("{name:?} is listed twice"),
                );
            }
        }
        for k in db.parameters.keys() {
            if !valid_identifier(&k.replace('.', "_"), 63) {
                self.err(
                    a,
                    &format!("parameters.{k}"),
                    "is not a PostgreSQL parameter name",
                );
            }
        }
        self.check_placement(a, &db.placement, 2, "a database");
    }

    fn check_broker(&mut self, a: &str, b: &Broker) {
        if !valid_version(&b.version) {
            self.err(
                a,
                "version",
                format!("{:?} is not a Kafka version like 3.6.0", b.version),
            );
        }
        if !(1..=30).contains(&b.brokers) {
            self.err(a, "brokers", format!("{} is outside 1..=30", b.brokers));
        }
        if !(1..=16384).contains(&b.storage_gb) {
            self.err(
                a,
                "storage_gb",
                format!("{} is outside 1..=16384", b.storage_gb),
            );
        }
        let mut seen = HashSet::default();
        for (i, t) in b.topics.iter().enumerate() {
            let f = |x: &str| format!("topics[{i}].{x}");
            if t.name.is_empty()
                || t.name.len() > 249
                || !t
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            {
                self.err(
                    a,
                    &f("name"),
                    format!(
                        "{:?} must be 1-249 characters of letters, digits, '.', '_' or '-'",
                        t.name
                    ),
                );
            }
            if !seen.insert(&t.name) {
                self.err(
                    a,
                    &f("name"),
                    format!("topic {:?} is declared twice", t.name),
                );
            }
            if !(1..=10000).contains(&t.partitions) {
                self.err(
                    a,
                    &f("partitions"),
                    format!("{} is outside 1..=10000", t.partitions),
                );
            }
            if t.replication == 0 || t.replication > b.brokers {
                self.err(
                    a,
                    &f("replication"),
                    format!(
                        "{} must be between 1 and the broker count ({})",
                        t.replication, b.brokers
                    ),
                );
            }
        }
        self.check_placement(a, &b.placement, 2, "a broker");
        if !b.placement.subnets.is_empty() && b.brokers as usize % b.placement.subnets.len() != 0 {
            self.err(
                a,
                "brokers",
                format!(
                    "{} brokers cannot be spread evenly over {} subnets",
                    b.brokers,
                    b.placement.subnets.len()
                ),
            );
        }
    }

    fn check_load_balancer(&mut self, a: &str, lb: &LoadBalancer) {
        let mut names = HashSet::default();
        for (i, tg) in lb.target_groups.iter().enumerate() {
            let f = |x: &str| format!("target_groups[{i}].{x}");
            if let Err(m) = check_name(&tg.name, 24) {
                self.err(a, &f("name"), m);
            }
            if !names.insert(tg.name.as_str()) {
                self.err(
                    a,
                    &f("name"),
                    format!("target group {:?} is declared twice", tg.name),
                );
            }
            if tg.port == 0 || tg.port > 65535 {
                self.err(
                    a,
                    &f("port"),
                    format!("port {} is out of range 1..=65535", tg.port),
                );
            }
            let hc = &tg.health_check;
            if !hc.path.starts_with('/') {
                self.err(
                    a,
                    &f("health_check.path"),
                    format!("{:?} must start with '/'", hc.path),
                );
            }
            if !(5..=300).contains(&hc.interval_s) {
                self.err(
                    a,
                    &f("health_check.interval_s"),
                    format!("{} is outside 5..=300", hc.interval_s),
                );
            }
            if hc.timeout_s == 0 || hc.timeout_s >= hc.interval_s {
                self.err(
                    a,
                    &f("health_check.timeout_s"),
                    "must be at least 1 and shorter than the interval",
                );
            }
            for (n, v) in [
                ("healthy_threshold", hc.healthy_threshold),
                ("unhealthy_threshold", hc.unhealthy_threshold),
            ] {
                if !(2..=10).contains(&v) {
                    self.err(
                        a,
                        &f(&format!("health_check.{n}")),
                        format!("{v} is outside 2..=10"),
                    );
                }
            }
        }
        let mut priorities = HashSet::default();
        for (i, r) in lb.routes.iter().enumerate() {
            let f = |x: &str| format!("routes[{i}].{x}");
            if !(1..=50000).contains(&r.priority) {
                self.err(
                    a,
                    &f("priority"),
                    format!("{} is outside 1..=50000", r.priority),
                );
            }
            if !priorities.insert(r.priority) {
                self.err(
                    a,
                    &f("priority"),
                    format!("priority {} is used by two routes", r.priority),
                );
            }
            if r.path_patterns.is_empty() {
                self.err(
                    a,
                    &f("path_patterns"),
                    "a route needs at least one path pattern",
                );
            }
            for p in &r.path_patterns {
                if !p.starts_with('/') || p.len() > 128 {
                    self.err(
                        a,
                        &f("path_patterns"),
                        format!("{p:?} must start with '/' and be at most 128 characters"),
                    );
                }
            }
            if !names.contains(r.target_group.as_str()) {
                self.err(
                    a,
                    &f("target_group"),
                    format!(
                        "{:?} is not a target group of this load balancer",
                        r.target_group
                    ),
                );
            }
        }
        if let Some(t) = &lb.default_target {
            if !names.contains(t.as_str()) {
                self.err(
                    a,
                    "default_target",
                    format!("{t:?} is not a target group of this load balancer"),
                );
            }
        }
        if let Some(h) = &lb.https {
            if h.certificate.trim().is_empty() {
                self.err(
                    a,
                    "https.certificate",
                    "an HTTPS listener needs a certificate",
                );
            }
        } else {
            if lb.http_redirect {
                self.err(
                    a,
                    "http_redirect",
                    "redirecting HTTP to HTTPS needs an HTTPS listener (set https(certificate))",
                );
            }
            if !lb.routes.is_empty() {
                self.err(
                    a,
                    "routes",
                    "routes live on the HTTPS listener; set https(certificate)",
                );
            }
        }
        if lb.target_groups.is_empty() {
            self.err(
                a,
                "target_groups",
                "a load balancer needs at least one target group",
            );
        }
        self.check_placement(a, &lb.placement, 2, "a load balancer");
    }

    fn check_cache(&mut self, a: &str, c: &Cache) {
        if !valid_version(&c.version) {
            self.err(
                a,
                "version",
                format!("{:?} is not a Redis version like 7.1", c.version),
            );
        }
        if c.replicas > 5 {
            self.err(a, "replicas", format!("{} is more than 5", c.replicas));
        }
        if c.automatic_failover && c.replicas == 0 {
            self.err(
                a,
                "automatic_failover",
                "automatic failover needs at least one replica",
            );
        }
        if c.multi_zone && !c.automatic_failover {
            self.err(
                a,
                "multi_zone",
                "multi-zone placement needs automatic failover",
            );
        }
        if c.auth_token.is_some() && !c.transit_encryption {
            self.err(a, "auth_token", "an auth token needs encryption in transit");
        }
        if c.port == 0 || c.port > 65535 {
            self.err(
                a,
                "port",
                format!("port {} is out of range 1..=65535", c.port),
            );
        }
        self.check_placement(a, &c.placement, if c.multi_zone { 2 } else { 1 }, "a cache");
    }

    fn check_outputs(&mut self) {
        let mut seen = HashSet::default();
        for o in self.stack.outputs() {
            let a = format!("output.{}", o.name);
            if !valid_identifier(&o.name, 64) {
                self.err(
                    &a,
                    "name",
                    "must be letters, digits or '_', starting with a letter",
                );
            }
            if !seen.insert(&o.name) {
                self.err(&a, "name", "is declared twice");
            }
            match self.by_name.get(o.value.resource.as_str()) {
                None => self.err(
                    &a,
                    "value",
                    format!(
                        "refers to {}.{}, which the stack does not declare",
                        o.value.kind, o.value.resource
                    ),
                ),
                Some(d) if d.kind() != o.value.kind => self.err(
                    &a,
                    "value",
                    format!(
                        "{:?} is a {}, not a {}",
                        o.value.resource,
                        d.kind(),
                        o.value.kind
                    ),
                ),
                Some(d) if !d.resource.exports().contains(&o.value.attr.as_str()) => self.err(
                    &a,
                    "value",
                    format!(
                        "{} exports no attribute {:?} (it has: {})",
                        d.address(),
                        o.value.attr,
                        d.resource.exports().join(", ")
                    ),
                ),
                Some(_) => {}
            }
        }
    }
}

fn is_private(net: &Ipv4Net) -> bool {
    ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
        .iter()
        .any(|r| r.parse::<Ipv4Net>().is_ok_and(|r| r.contains(net)))
}

fn valid_version(v: &str) -> bool {
    !v.is_empty()
        && v.split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        && v.split('.').count() <= 3
}

fn valid_identifier(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}
