//! Per-kind rules: networks and subnets, security groups, and the managed services.
//! One method per kind; the framework (`Validator`, helpers) is in the parent module.

use super::{check_name, major_version, parse_cidr, valid_identifier, windows_conflict, Validator};
use crate::model::*;
use ipnet::Ipv4Net;
use rustc_hash::FxHashSet as HashSet;
use std::collections::BTreeMap;

impl<'a> Validator<'a> {
    pub(super) fn check_subnet(&mut self, a: &str, s: &Subnet) {
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

    pub(super) fn check_subnet_overlaps(&mut self) {
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

    pub(super) fn check_group(&mut self, a: &str, g: &'a SecurityGroup) {
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
                    Some(RuleSource::Cidr(c)) if self.last_rule_cidr == Some(c.as_str()) => {}
                    Some(RuleSource::Cidr(c)) => match parse_cidr(c) {
                        Ok(_) => self.last_rule_cidr = Some(c.as_str()),
                        Err(m) => self.err(a, &field("source"), m),
                    },
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

    /// A placement names one network (itself, or through its subnets), and subnet hints
    /// agree with it and with the tier. How many zones a service needs is each cloud's
    /// rule, checked when the provider lowers it.
    pub(super) fn check_placement(&mut self, a: &str, p: &Placement, what: &str) {
        let subnets: Vec<&Subnet> = p
            .subnets
            .iter()
            .filter_map(|s| match &self.by_name.get(s.name())?.resource {
                Resource::Subnet(s) => Some(&**s),
                _ => None,
            })
            .collect();
        let networks: HashSet<&str> = subnets.iter().map(|s| s.network.name()).collect();
        if networks.len() > 1 {
            self.err(a, "subnets", "subnets belong to different networks");
        }
        match (&p.network, networks.iter().next()) {
            (None, None) if p.subnets.is_empty() => self.err(
                a,
                "network",
                format!("{what} needs a place: in_network(&network), optionally in_tier(..)"),
            ),
            (Some(n), Some(other)) if n.name() != *other => self.err(
                a,
                "subnets",
                format!(
                    "the subnets are in network.{other}, but the placement names network.{}",
                    n.name()
                ),
            ),
            _ => {}
        }
        if let Some(tier) = p.tier {
            if subnets.iter().any(|s| s.tier != tier) {
                self.err(
                    a,
                    "subnets",
                    format!(
                        "not every subnet given is of the {} tier asked for",
                        tier.as_str()
                    ),
                );
            }
        }
        let groups: HashSet<&str> = p
            .security_groups
            .iter()
            .filter_map(|g| match &self.by_name.get(g.name())?.resource {
                Resource::SecurityGroup(g) => Some(g.network.name()),
                _ => None,
            })
            .collect();
        let network = p
            .network
            .as_ref()
            .map(|n| n.name())
            .or_else(|| networks.iter().next().copied());
        if let Some(n) = network {
            if groups.iter().any(|g| *g != n) {
                self.err(
                    a,
                    "security_groups",
                    format!("a group attached is not in network.{n}"),
                );
            }
        }
    }

    /// A window starts on an hour of the day and lasts 1–24 hours; a backup window is
    /// daily, a maintenance window weekly.
    fn check_window(&mut self, a: &str, field: &str, w: &Window, weekly: bool) {
        if w.start_hour > 23 {
            self.err(
                a,
                field,
                format!("starts at hour {}; hours are 0-23", w.start_hour),
            );
        }
        if !(1..=24).contains(&w.hours) {
            self.err(a, field, format!("lasts {} hours; give 1-24", w.hours));
        }
        match (weekly, w.day) {
            (true, None) => self.err(a, field, "needs a day: use Window::weekly(day, hour)"),
            (false, Some(_)) => self.err(a, field, "runs every day: use Window::daily(hour)"),
            _ => {}
        }
    }

    pub(super) fn check_database(&mut self, a: &str, db: &Database) {
        match major_version(&db.version, "engine_version") {
            Err(m) => self.err(a, "version", format!("PostgreSQL {m}")),
            Ok(m) if m < 11 => self.err(
                a,
                "version",
                format!("PostgreSQL {m} is out of support on every cloud; use 11 or newer"),
            ),
            Ok(_) => {}
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
            self.check_window(a, "backup_window", w, false);
        }
        if let Some(w) = &db.maintenance_window {
            self.check_window(a, "maintenance_window", w, true);
        }
        if let (Some(b), Some(m)) = (&db.backup_window, &db.maintenance_window) {
            if windows_conflict(b, m) {
                self.err(
                    a,
                    "maintenance_window",
                    format!("{m} meets the daily backup window ({b}); leave a gap between them"),
                );
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
        match (&db.admin_password, db.cloud_managed_password) {
            (None, false) => self.err(
                a,
                "admin_password",
                "is not set; give it a Secret (generated or given), or use cloud_managed_password()",
            ),
            (Some(_), true) => self.err(
                a,
                "admin_password",
                "is set together with cloud_managed_password(); choose one",
            ),
            _ => {}
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
        self.check_placement(a, &db.placement, "a database");
    }

    pub(super) fn check_broker(&mut self, a: &str, b: &Broker) {
        match major_version(&b.version, "kafka_version") {
            Err(m) => self.err(a, "version", format!("Kafka {m}")),
            Ok(m) if m < 2 => self.err(
                a,
                "version",
                format!("Kafka {m} is out of support on every cloud; use 3"),
            ),
            Ok(_) => {}
        }
        if !(1..=10_000).contains(&b.throughput_mb_s) {
            self.err(
                a,
                "throughput_mb_s",
                format!("{} is outside 1..=10000 MB/s", b.throughput_mb_s),
            );
        }
        if !(1..=1_000_000).contains(&b.storage_gb) {
            self.err(
                a,
                "storage_gb",
                format!("{} is outside 1..=1000000", b.storage_gb),
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
            if !(1..=5).contains(&t.replication) {
                self.err(
                    a,
                    &f("replication"),
                    format!("{} is outside 1..=5 copies", t.replication),
                );
            }
            // Ten years: longer is a mistake in units (hours, not minutes), not a policy.
            if !(1..=87_600).contains(&t.retention_hours) {
                self.err(
                    a,
                    &f("retention_hours"),
                    format!("{} is outside 1..=87600 hours", t.retention_hours),
                );
            }
        }
        self.check_placement(a, &b.placement, "a broker");
    }

    pub(super) fn check_load_balancer(&mut self, a: &str, lb: &LoadBalancer) {
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
        for (i, l) in lb.tcp_listeners.iter().enumerate() {
            if l.port == 0 || l.port > 65535 {
                self.err(
                    a,
                    &format!("tcp_listeners[{i}].port"),
                    format!("port {} is out of range 1..=65535", l.port),
                );
            }
            if !names.contains(l.target.as_str()) {
                self.err(
                    a,
                    &format!("tcp_listeners[{i}].target"),
                    format!("no target group named {:?}", l.target),
                );
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
            if let RouteTarget::Forward(tg) = &r.target {
                if !names.contains(tg.as_str()) {
                    self.err(
                        a,
                        &f("target"),
                        format!("{tg:?} is not a target group of this load balancer"),
                    );
                }
            }
            for c in &r.source_cidrs {
                if c.parse::<ipnet::IpNet>().is_err() {
                    self.err(a, &f("source_cidrs"), format!("{c:?} is not a CIDR block"));
                }
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
            match &h.certificate {
                Certificate::Existing(c) if c.trim().is_empty() => self.err(
                    a,
                    "https.certificate",
                    "an HTTPS listener needs a certificate",
                ),
                Certificate::Managed(domains) if domains.is_empty() => self.err(
                    a,
                    "https.certificate",
                    "a managed certificate needs at least one domain",
                ),
                Certificate::Managed(domains) => {
                    for d in domains {
                        let ok = d.len() <= 253
                            && d.split('.').count() >= 2
                            && d.split('.').enumerate().all(|(i, l)| {
                                (i == 0 && l == "*")
                                    || (!l.is_empty()
                                        && l.len() <= 63
                                        && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                                        && !l.starts_with('-')
                                        && !l.ends_with('-'))
                            });
                        if !ok {
                            self.err(
                                a,
                                "https.certificate",
                                format!("{d:?} is not a domain name"),
                            );
                        }
                    }
                }
                Certificate::Existing(_) => {}
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
        self.check_placement(a, &lb.placement, "a load balancer");
    }

    pub(super) fn check_cache(&mut self, a: &str, c: &Cache) {
        if let Err(m) = major_version(&c.version, "engine_version") {
            self.err(a, "version", format!("Redis {m}"));
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
        if let Some(port) = c.port.filter(|p| *p == 0 || *p > 65535) {
            self.err(a, "port", format!("port {port} is out of range 1..=65535"));
        }
        self.check_placement(a, &c.placement, "a cache");
    }
}
