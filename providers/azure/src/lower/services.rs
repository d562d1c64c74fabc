//! Services: Key Vault secrets and PostgreSQL flexible servers.
//!
//! Secrets live in one key vault per stack (`azure_key_vault.stack`, made with the first
//! secret). A database is a flexible server with private access only: it sits in one
//! subnet of its network delegated to flexible servers (the placement's first subnet hint,
//! else the network's first subnet of the tier, isolated unless told), and its name
//! resolves through a private DNS zone linked to that network (one zone per network).

use super::*;
use cairn_core::model::{Database, Secret, SecretSource, Size, StorageType};

/// The address of the stack's key vault.
pub(crate) const VAULT: &str = "azure_key_vault.stack";
/// The service a database's subnet is delegated to.
pub(crate) const POSTGRES_DELEGATION: &str = "Microsoft.DBforPostgreSQL/flexibleServers";
/// The flexible server's storage sizes (GiB), per Azure's documentation.
const STORAGE_GB: [u32; 11] = [32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768];
/// Logins the service keeps for itself (Azure's documentation).
const RESERVED_LOGINS: [&str; 7] = [
    "azure_superuser",
    "azure_pg_admin",
    "admin",
    "administrator",
    "root",
    "guest",
    "public",
];

/// A name of lower-case letters, digits and hyphens (what flexible servers, DNS labels and
/// vaults take), starting with a letter, at most `max` characters (fitted with a digest).
pub fn dns_label(parts: &[&str], max: usize) -> String {
    let mut raw = String::new();
    for c in parts.join("-").chars() {
        let c = if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            '-'
        };
        // No doubled hyphens (Key Vault refuses them).
        if !(c == '-' && raw.ends_with('-')) {
            raw.push(c);
        }
    }
    let raw = raw.trim_matches('-');
    let raw = if raw.starts_with(|c: char| c.is_ascii_alphabetic()) {
        raw.to_string()
    } else {
        format!("c{raw}")
    };
    cairn_provider_kit::names::fit(&raw, max)
        .trim_end_matches('-')
        .to_string()
}

/// The flexible server SKU for `size`: Burstable up to 4 GB without high availability
/// (B1ms 2 GiB, B2s 4 GiB), else General Purpose Ddsv5 (4 GiB per vCore: D2ds_v5 8 GiB …
/// D8ds_v5 32 GiB), which zone-redundant HA needs.
pub fn flexible_sku(size: Size, high_availability: bool) -> (&'static str, &'static str) {
    match (size.memory_gb(), high_availability) {
        (0..=2, false) => ("Standard_B1ms", "Burstable"),
        (3..=4, false) => ("Standard_B2s", "Burstable"),
        (0..=8, _) => ("Standard_D2ds_v5", "GeneralPurpose"),
        (9..=16, _) => ("Standard_D4ds_v5", "GeneralPurpose"),
        _ => ("Standard_D8ds_v5", "GeneralPurpose"),
    }
}

impl Lowering<'_> {
    /// The stack's key vault, made with its first secret: Azure RBAC, soft delete kept 7
    /// days (the least), a deleted namesake of this stack recovered, purged on destroy.
    fn vault(&mut self, first: &Declared) -> String {
        if !self
            .out
            .resources
            .iter()
            .any(|c| c.address.as_str() == VAULT)
        {
            let attrs = self.placed(Attrs::from([
                (
                    "name".into(),
                    Value::str(dns_label(&["kv", self.stack.name()], 24)),
                ),
                ("sku".into(), Value::str("standard")),
                ("soft_delete_retention_days".into(), Value::Int(7)),
                ("purge_protection".into(), Value::Bool(false)),
                ("on_soft_deleted".into(), Value::str("recover")),
                ("purge_on_destroy".into(), Value::Bool(true)),
                ("tags".into(), Value::Map(Default::default())),
            ]));
            let mut vault = Concrete {
                address: VAULT.into(),
                type_name: "azure_key_vault".into(),
                origin: first.name.as_str().into(),
                attrs,
                depends_on: Vec::new(),
            };
            if let Some(o) = first.resource.common().overrides_for("azure") {
                for (k, v) in o {
                    if vault.attrs.contains_key(k.as_str())
                        && !crate::schema::NOT_OVERRIDABLE.contains(&k.as_str())
                    {
                        vault.attrs.insert(k.clone(), v.clone());
                    }
                }
            }
            self.out.resources.push(vault);
        }
        VAULT.to_string()
    }

    /// A secret in the stack's key vault; its description as the content type (the one
    /// free-text field a secret has).
    pub(super) fn secret(&mut self, d: &Declared, x: &Secret) {
        let value = match &x.source {
            SecretSource::Generated(g) => Value::Generated(Box::new(g.clone())),
            SecretSource::Given(v) => Value::Sensitive(v.clone()),
            // Azure makes it (a cache's access key, a broker's connection string); cairn
            // keeps it in the vault.
            SecretSource::Produced => match self.producer_of(&d.name) {
                Some((producer, attr)) => Value::reference(producer, attr),
                None => {
                    return self.err(
                        d,
                        "source",
                        "on azure a produced secret is a cache's access key or a broker's connection string (Azure makes them): no cache or broker uses this one",
                    )
                }
            },
        };
        let vault = self.vault(d);
        let secret = self.push(
            d,
            "azure_key_vault_secret",
            Attrs::from([
                ("name".into(), Value::str(dns_label(&[&d.name], 127))),
                ("key_vault_id".into(), Value::reference(&vault, "id")),
                ("value".into(), value),
                ("content_type".into(), Value::str(&x.description)),
                ("tags".into(), Value::Map(Default::default())),
            ]),
        );
        self.export(d, "id", Value::reference(&secret, "id"));
        self.export(d, "value", Value::reference(&secret, "value"));
    }

    /// The private DNS zone of a network's servers and its link to the network (made with
    /// the network's first database).
    fn postgres_zone(&mut self, d: &Declared, net: &str) -> String {
        let name = format!(
            "{}.postgres.database.azure.com",
            dns_label(&[self.stack.name(), net], 63)
        );
        let key = format!("{net}-postgres");
        self.dns_zone(d, &key, &name, net, &key)
    }

    /// Private DNS zone `zone_name` (address name `zone_key`, made once) and its link to
    /// network `net` (address name `link_key`, made once), made with `d`: the zone's
    /// address.
    pub(super) fn dns_zone(
        &mut self,
        d: &Declared,
        zone_key: &str,
        zone_name: &str,
        net: &str,
        link_key: &str,
    ) -> String {
        let made = |l: &Self, address: &str| {
            l.out
                .resources
                .iter()
                .any(|c| c.address.as_str() == address)
        };
        let zone = addr("azure_private_dns_zone", zone_key);
        if !made(self, &zone) {
            let attrs = Attrs::from([
                ("name".into(), Value::str(zone_name)),
                ("resource_group".into(), Value::reference(GROUP, "name")),
                ("tags".into(), Value::Map(Default::default())),
            ]);
            self.push_as(d, "azure_private_dns_zone", zone_key, attrs);
        }
        if !made(self, &addr("azure_private_dns_zone_link", link_key)) {
            self.push_as(
                d,
                "azure_private_dns_zone_link",
                link_key,
                Attrs::from([
                    ("name".into(), Value::str(azure_name(&[net], 80))),
                    ("private_dns_zone_id".into(), Value::reference(&zone, "id")),
                    (
                        "virtual_network_id".into(),
                        Value::reference(addr("azure_virtual_network", net), "id"),
                    ),
                    ("registration_enabled".into(), Value::Bool(false)),
                    ("tags".into(), Value::Map(Default::default())),
                ]),
            );
        }
        zone
    }

    /// A PostgreSQL flexible server with private access, its databases and its parameters.
    pub(super) fn database(&mut self, d: &Declared, db: &Database) {
        let Some(net) = self.stack.network_of(&db.placement) else {
            return self.err(d, "placement", "a database needs a network on azure");
        };
        let Some(subnet) = self.service_subnet(&db.placement) else {
            return self.err(
                d,
                "placement",
                "a database needs a subnet of its tier in its network on azure (delegated to flexible servers)",
            );
        };
        let before = self.errors.len();
        let version_ok = db.version.chars().all(|c| c.is_ascii_digit())
            && (11..=16).contains(&db.version.parse::<u32>().unwrap_or(0));
        if !version_ok {
            self.err(d, "version", format!("flexible servers run PostgreSQL 11 to 16 on azure, by major version (the service picks the minor), not {:?}", db.version));
        }
        if !db.encrypted {
            self.err(d, "encrypted", "flexible servers always encrypt storage on azure: encrypted(false) cannot be honoured");
        }
        if db.cloud_managed_password {
            self.err(d, "cloud_managed_password", "Azure has no cloud-managed administrator password for flexible servers: give admin_password a secret");
        }
        let login = db.admin_user.to_ascii_lowercase();
        if RESERVED_LOGINS.contains(&login.as_str()) || login.starts_with("pg_") {
            self.err(
                d,
                "admin_user",
                format!("{:?} is reserved by flexible servers on azure (as are azure_superuser, azure_pg_admin, admin, administrator, root, guest, public and pg_*)", db.admin_user),
            );
        }
        let storage = STORAGE_GB.iter().copied().find(|&g| g >= db.storage_gb);
        if storage.is_none() {
            self.err(
                d,
                "storage_gb",
                "flexible servers hold at most 32768 GB on azure",
            );
        }
        match db.storage_type {
            StorageType::Ssd => {}
            StorageType::Standard => self.err(d, "storage_type", "flexible servers have only SSD storage on azure (Premium SSD): standard cannot be honoured"),
            StorageType::ProvisionedIops => self.err(d, "storage_type", "provisioned IOPS (Premium SSD v2) is not lowered on azure yet"),
        }
        if !(7..=35).contains(&db.backup_retention_days) {
            self.err(
                d,
                "backup_retention_days",
                format!(
                    "flexible servers keep backups 7 to 35 days on azure, not {}",
                    db.backup_retention_days
                ),
            );
        }
        if let Some(w) = &db.backup_window {
            // The intent (a backup every day) is met; its hour is Azure's to choose, and
            // nothing a stack could declare would change that: noted, not refused.
            self.note(
                d,
                "backup_window",
                format!("Azure takes a flexible server's daily backup at a time of its choosing: the {:02}:00 UTC window is not kept", w.start_hour),
            );
        }
        if db
            .maintenance_window
            .as_ref()
            .is_some_and(|w| w.day.is_none())
        {
            self.err(
                d,
                "maintenance_window",
                "flexible server maintenance is weekly on azure: use Window::weekly",
            );
        }
        if db.deletion_protection {
            self.err(d, "deletion_protection", "flexible servers have no deletion protection on azure: use protect(), which cairn enforces");
        }
        let Some(secret) = &db.admin_password else {
            if !db.cloud_managed_password {
                self.err(
                    d,
                    "admin_password",
                    "on azure the administrator's password comes from a secret: set admin_password",
                );
            }
            return;
        };
        if self.errors.len() > before {
            return;
        }
        let zone = self.postgres_zone(d, &net);
        let (sku_name, sku_tier) = flexible_sku(db.size, db.high_availability);
        let mut attrs = self.placed(Attrs::from([
            (
                "name".into(),
                Value::str(dns_label(&[self.stack.name(), &d.name], 63)),
            ),
            ("version".into(), Value::str(&db.version)),
            ("sku_name".into(), Value::str(sku_name)),
            ("sku_tier".into(), Value::str(sku_tier)),
            (
                "storage_gb".into(),
                Value::Int(i64::from(storage.unwrap_or_default())),
            ),
            ("storage_type".into(), Value::str("Premium_LRS")),
            (
                "high_availability".into(),
                Value::str(if db.high_availability {
                    "ZoneRedundant"
                } else {
                    "Disabled"
                }),
            ),
            (
                "backup_retention_days".into(),
                Value::Int(i64::from(db.backup_retention_days)),
            ),
            ("geo_redundant_backup".into(), Value::Bool(false)),
            ("administrator_login".into(), Value::str(&db.admin_user)),
            (
                "administrator_password".into(),
                Value::reference(addr("azure_key_vault_secret", secret.name()), "value"),
            ),
            (
                "delegated_subnet_id".into(),
                Value::reference(addr("azure_subnet", &subnet), "id"),
            ),
            ("private_dns_zone_id".into(), Value::reference(&zone, "id")),
            ("maintenance_day".into(), Value::Null),
            ("maintenance_hour".into(), Value::Null),
            ("tags".into(), Value::Map(Default::default())),
        ]));
        if let Some((day, hour)) = db
            .maintenance_window
            .as_ref()
            .and_then(|w| w.day.map(|day| (day, w.start_hour)))
        {
            // Azure counts days from Sunday (0); the model from Monday.
            attrs.insert(
                "maintenance_day".into(),
                Value::Int(i64::from((day.index() + 1) % 7)),
            );
            attrs.insert("maintenance_hour".into(), Value::Int(i64::from(hour)));
        }
        let server = self.push(d, "azure_postgresql_flexible_server", attrs);
        // The server resolves through the zone's link to its network: made after it,
        // deleted before it.
        if let Some(last) = self.out.resources.last_mut() {
            last.depends_on.push(Text::from(
                addr("azure_private_dns_zone_link", &format!("{net}-postgres")).as_str(),
            ));
        }
        for name in &db.databases {
            self.push_as(
                d,
                "azure_postgresql_database",
                &format!("{}-{name}", d.name),
                Attrs::from([
                    ("name".into(), Value::str(name)),
                    ("server_id".into(), Value::reference(&server, "id")),
                    ("charset".into(), Value::str("UTF8")),
                    ("collation".into(), Value::str("en_US.utf8")),
                ]),
            );
        }
        for (k, v) in &db.parameters {
            self.push_as(
                d,
                "azure_postgresql_configuration",
                &format!("{}-{k}", d.name),
                Attrs::from([
                    ("name".into(), Value::str(k)),
                    ("server_id".into(), Value::reference(&server, "id")),
                    ("value".into(), Value::str(v)),
                ]),
            );
        }
        self.export(d, "id", Value::reference(&server, "id"));
        self.export(d, "endpoint", Value::reference(&server, "fqdn"));
        self.export(d, "port", Value::Int(5432));
    }
}
