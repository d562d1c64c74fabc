//! Validation of a portable stack, before any provider call.
//!
//! Every finding names the resource (its portable address) and the field, and all findings
//! are reported together: a user fixing a stack should not have to run validation once per
//! mistake. Provider-specific limits (name lengths a cloud imposes, allowed instance classes)
//! are checked by the provider's `lower`, which reports errors in the same shape.

mod kinds;

pub use crate::invalid::{Invalid, ValidationErrors};

use crate::model::*;
use crate::value::Sensitive;
use ipnet::Ipv4Net;
use petgraph::graph::{DiGraph, NodeIndex};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

/// Check a stack. `Ok(())` means providers may be asked to lower it.
pub fn validate(stack: &Stack) -> Result<(), ValidationErrors> {
    let mut v = Validator {
        stack,
        errors: Vec::new(),
        by_name: HashMap::default(),
        last_rule_cidr: None,
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
    /// The last rule CIDR that parsed: a stack repeats its blocks rule after rule.
    last_rule_cidr: Option<&'a str>,
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

/// Longest portable resource name accepted, in characters; a cloud's own limits on the
/// names made from it are checked by its provider's `lower`.
pub const MAX_RESOURCE_NAME: usize = 48;
/// Longest stack name accepted, in characters.
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

/// A version given as a major only (`15`, `7`): each cloud picks and patches the minor.
/// The error says how to pin a minor where a cloud allows it.
/// The major version `v` names; a full version is refused with the way to pin one on AWS
/// (`pin_key`: the override that takes it there).
fn major_version(v: &str, pin_key: &str) -> Result<u32, String> {
    if let Ok(m) = v.parse::<u32>() {
        return Ok(m);
    }
    if valid_version(v) {
        let major = v.split('.').next().unwrap_or_default();
        Err(format!(
            "{v:?}: give the major version ({major:?}); each cloud picks and patches the minor \
             (pin one where a cloud allows it: override_for(\"aws\", \"{pin_key}\", {v:?}))"
        ))
    } else {
        Err(format!("{v:?} is not a major version like \"15\""))
    }
}

/// Does a daily backup window meet a weekly maintenance window? Touching counts: clouds
/// differ on whether adjacent windows conflict, so cairn refuses before any of them does.
fn windows_conflict(backup: &Window, maintenance: &Window) -> bool {
    const WEEK: u32 = 7 * 1440;
    let (bs, be) = backup.minutes();
    let (ms, me) = maintenance.minutes();
    (0..8).any(|day| {
        let (s, e) = (day * 1440 + bs, day * 1440 + be);
        [0, WEEK]
            .iter()
            .any(|shift| s <= me + shift && ms + shift <= e)
    })
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
        self.by_name.reserve(self.stack.resources().len());
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
        self.check_access();
        self.check_outputs();
    }

    /// Access edges: from a group to a data service or a group (with a port), in one
    /// network. Reported as `access[i]`.
    fn check_access(&mut self) {
        for (i, edge) in self.stack.access().iter().enumerate() {
            let at = format!("access[{i}]");
            let network = |end: &str, r: &AnyRef, errors: &mut Vec<Invalid>| {
                let Some(d) = self.by_name.get(r.name.as_str()) else {
                    errors.push(Invalid::new(
                        &at,
                        end,
                        format!("{r} is not declared in this stack"),
                    ));
                    return None;
                };
                if d.kind() != r.kind {
                    errors.push(Invalid::new(
                        &at,
                        end,
                        format!("{} is a {}, not a {}", d.name, d.kind(), r.kind),
                    ));
                    return None;
                }
                match &d.resource {
                    Resource::SecurityGroup(g) => Some(g.network.name().to_string()),
                    Resource::LoadBalancer(x) => self.stack.network_of(&x.placement),
                    Resource::Database(x) => self.stack.network_of(&x.placement),
                    Resource::Cache(x) => self.stack.network_of(&x.placement),
                    Resource::Broker(x) => self.stack.network_of(&x.placement),
                    _ => None,
                }
            };
            let mut errors = Vec::new();
            let from = network("from", &edge.from, &mut errors);
            let to = network("to", &edge.to, &mut errors);
            self.errors.extend(errors);
            if !matches!(
                edge.from.kind,
                KindName::SecurityGroup | KindName::LoadBalancer
            ) {
                self.err(
                    &at,
                    "from",
                    "access starts at a security group (the members of a service) or a load \
                     balancer",
                );
            }
            match (edge.to.kind, edge.port) {
                (KindName::SecurityGroup, None) => self.err(
                    &at,
                    "port",
                    format!(
                        "reaching a group needs a port: {}.can_reach(..).port(p)",
                        edge.from.name
                    ),
                ),
                (_, Some(p)) if p == 0 || p > 65535 => {
                    self.err(&at, "port", format!("port {p} is out of range 1..=65535"))
                }
                _ => {}
            }
            if let (Some(f), Some(t)) = (from, to) {
                if f != t {
                    self.err(
                        &at,
                        "to",
                        format!(
                            "{} is in network.{f} and {} in network.{t}; access stays within a network",
                            edge.from, edge.to
                        ),
                    );
                }
            }
        }
    }

    fn check_references(&mut self) {
        let mut errors = Vec::new();
        for d in self.stack.resources() {
            d.resource.each_reference(&mut |field, kind, name| {
                let problem = match self.by_name.get(name) {
                    None => format!(
                        "refers to {}, which the stack does not declare",
                        AnyRef {
                            kind,
                            name: name.into()
                        }
                    ),
                    Some(target) if target.kind() != kind => format!(
                        "refers to {}, but {name:?} is a {}",
                        AnyRef {
                            kind,
                            name: name.into()
                        },
                        target.kind()
                    ),
                    Some(target) if target.name == d.name => "refers to the resource itself".into(),
                    Some(_) => return,
                };
                errors.push(Invalid::new(d.address(), field.to_string(), problem));
            });
        }
        self.errors.extend(errors);
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
            d.resource.each_reference(&mut |field, _, name| {
                if matches!(field.base(), "ingress" | "egress") || name == d.name {
                    return;
                }
                if let Some(&t) = index.get(name) {
                    g.add_edge(NodeIndex::new(t), NodeIndex::new(i), ());
                    any_edge = true;
                }
            });
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
            let cycle: Vec<&str> = crate::cycles::cycle_path(&g, &scc)
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
        // Inline when short (most are): no allocation for every resource of a big stack.
        let a = crate::value::join_text(&[d.kind().as_str(), ".", &d.name]);
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
        for provider in d.resource.common().overrides.keys() {
            if !crate::provider::PROVIDER_NAMES.contains(&provider.as_str()) {
                self.err(
                    &a,
                    &format!("overrides.{provider}"),
                    format!(
                        "no provider is named {provider:?}, so no cloud would read these; \
                         cairn's are aws, gcp and azure"
                    ),
                );
            }
        }
        for k in d.resource.common().tags.keys() {
            if k.is_empty() || crate::ownership::is_reserved_key(k) {
                self.err(
                    &a,
                    &format!("tags.{k}"),
                    "tag keys must not be empty nor start with `cairn` and ':', '-' or '_' \
                     (reserved for ownership marks)",
                );
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
                    SecretSource::Produced => {
                        let users = self.secret_users(&d.name);
                        if users.len() != 1 {
                            self.err(
                                &a,
                                "source",
                                format!(
                                    "a produced secret belongs to the one service that uses it \
                                     (admin_password, auth_token or credentials); {}",
                                    if users.is_empty() {
                                        "none does".to_string()
                                    } else {
                                        format!("{} do", users.join(" and "))
                                    }
                                ),
                            );
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

    /// Which services' fields use the secret `name`.
    fn secret_users(&self, name: &str) -> Vec<String> {
        let mut out = Vec::new();
        for d in self.stack.resources() {
            let used = match &d.resource {
                Resource::Database(x) => x.admin_password.as_ref(),
                Resource::Cache(x) => x.auth_token.as_ref(),
                Resource::Broker(x) => x.credentials.as_ref(),
                _ => None,
            };
            if used.is_some_and(|r| r.name() == name) {
                out.push(d.address());
            }
        }
        out
    }

    fn network_cidr(&self, network: &Ref<Network>) -> Option<Ipv4Net> {
        match &self.by_name.get(network.name())?.resource {
            Resource::Network(n) => parse_cidr(&n.cidr).ok(),
            _ => None,
        }
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
