//! [`PostgresBlobs`]: the shared store's objects as rows of one PostgreSQL table.
//!
//! One schema per store configuration (`cairn` unless the URL says `schema=`), created on
//! first use together with its table and version sequence; many stacks live in it, each
//! under its own key (`key=`, else the stack and provider). A row is one object: the lock,
//! the snapshot, a journal entry or a history copy. Conditional writes are single
//! statements (`INSERT … ON CONFLICT DO NOTHING`, `UPDATE … WHERE version = $v`), which
//! PostgreSQL makes atomic under concurrency; versions come from a sequence, so a version
//! is never reused even after a row was removed.
//!
//! TLS: `sslmode=disable` speaks plain text (a loopback test server); anything else
//! encrypts and verifies the server against the system's roots, plus `sslrootcert=PATH`
//! when given. Credentials come from the URL or `PGPASSWORD`; they never appear in
//! messages.

use super::{Blob, BlobError, Blobs, Condition};
use std::sync::Arc;
use tokio_postgres::Client;

/// A key and schema in a PostgreSQL database.
#[derive(Debug)]
pub struct PostgresBlobs {
    config: tokio_postgres::Config,
    tls: bool,
    root_cert: Option<String>,
    schema: String,
    key: String,
    shown: String,
    client: tokio::sync::Mutex<Option<Arc<Client>>>,
}

/// The parameters cairn reads from a `postgres://` URL itself; the rest go to the driver.
const OURS: [&str; 4] = ["schema", "key", "sslmode", "sslrootcert"];

impl PostgresBlobs {
    /// The store at `url` (`postgres://user:password@host:port/database?schema=S&key=K`),
    /// with `default_key` when the URL names no key. Nothing is connected until first use.
    pub fn from_url(url: &str, default_key: &str) -> Result<Self, String> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut ours = std::collections::BTreeMap::new();
        let mut rest = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if OURS.contains(&k) {
                ours.insert(k, v.to_string());
            } else {
                rest.push(pair);
            }
        }
        let driver_url = if rest.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        let mut config: tokio_postgres::Config = driver_url
            .parse()
            .map_err(|e| format!("not a PostgreSQL URL ({e})"))?;
        if config.get_password().is_none() {
            if let Ok(p) = std::env::var("PGPASSWORD") {
                config.password(p);
            }
        }
        config.connect_timeout(std::time::Duration::from_secs(10));
        config.application_name("cairn-state");
        let tls = match ours.get("sslmode").map(String::as_str) {
            None | Some("require" | "verify-full" | "verify-ca" | "prefer") => true,
            Some("disable") => false,
            Some(other) => {
                return Err(format!(
                    "sslmode={other} is not one of disable, require, verify-full"
                ))
            }
        };
        let schema = ours
            .get("schema")
            .cloned()
            .unwrap_or_else(|| "cairn".into());
        let key = ours
            .get("key")
            .cloned()
            .unwrap_or_else(|| default_key.to_string());
        let valid = |s: &str| {
            !s.is_empty()
                && s.len() <= 63
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                && !s.as_bytes()[0].is_ascii_digit()
        };
        if !valid(&schema) {
            return Err(format!(
                "schema={schema:?}: a schema name of lowercase letters, digits and _, starting \
                 with a letter, at most 63 characters"
            ));
        }
        if key.is_empty() {
            return Err("the URL names no key (key=…) and there is no default".into());
        }
        let host = match config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
            None => "localhost".into(),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let user = config.get_user().unwrap_or("");
        let db = config.get_dbname().unwrap_or(user);
        let shown = format!("postgres://{user}@{host}:{port}/{db} (schema {schema}, key {key})");
        Ok(PostgresBlobs {
            config,
            tls,
            root_cert: ours.get("sslrootcert").cloned(),
            schema,
            key,
            shown,
            client: tokio::sync::Mutex::new(None),
        })
    }

    fn table(&self) -> String {
        format!("\"{}\".state_objects", self.schema)
    }

    fn sequence(&self) -> String {
        format!("\"{}\".state_object_versions", self.schema)
    }

    /// The connection, made (with the schema) on first use and again after it broke.
    async fn client(&self) -> Result<Arc<Client>, BlobError> {
        let mut held = self.client.lock().await;
        if let Some(c) = held.as_ref().filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        let client = if self.tls {
            let tls = tokio_postgres_rustls::MakeRustlsConnect::new(self.tls_config()?);
            let (client, conn) = self.config.connect(tls).await.map_err(failed)?;
            tokio::spawn(conn);
            client
        } else {
            let (client, conn) = self
                .config
                .connect(tokio_postgres::NoTls)
                .await
                .map_err(failed)?;
            tokio::spawn(conn);
            client
        };
        // Racing first uses (other machines) are put in line by an advisory lock: `IF NOT
        // EXISTS` alone still fails when two create at once.
        let setup = format!(
            "BEGIN;
             SELECT pg_advisory_xact_lock(7526411283574931271);
             CREATE SCHEMA IF NOT EXISTS \"{schema}\";
             CREATE SEQUENCE IF NOT EXISTS {seq};
             CREATE TABLE IF NOT EXISTS {table} (
                 store   text NOT NULL,
                 name    text NOT NULL,
                 body    bytea NOT NULL,
                 version bigint NOT NULL,
                 written timestamptz NOT NULL DEFAULT now(),
                 PRIMARY KEY (store, name));
             COMMIT;",
            schema = self.schema,
            seq = self.sequence(),
            table = self.table()
        );
        client.batch_execute(&setup).await.map_err(failed)?;
        let client = Arc::new(client);
        *held = Some(client.clone());
        Ok(client)
    }

    fn tls_config(&self) -> Result<rustls::ClientConfig, BlobError> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        if let Some(path) = &self.root_cert {
            let pem = std::fs::read(path)
                .map_err(|e| BlobError::Failed(format!("reading sslrootcert {path}: {e}")))?;
            use rustls::pki_types::pem::PemObject;
            for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
                let cert =
                    cert.map_err(|e| BlobError::Failed(format!("sslrootcert {path}: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| BlobError::Failed(format!("sslrootcert {path}: {e}")))?;
            }
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        Ok(rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| BlobError::Failed(format!("TLS: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth())
    }
}

impl PostgresBlobs {
    async fn fenced(
        &self,
        name: &str,
        body: Vec<u8>,
        condition: Condition,
        holder: &str,
    ) -> Result<Option<String>, BlobError> {
        let client = self.client().await?;
        let (table, seq) = (self.table(), self.sequence());
        let held = format!(
            "WITH held AS (SELECT 1 FROM {table} WHERE store = $1 AND name = 'lock' \
             AND convert_from(body, 'UTF8')::jsonb -> 'holder' ->> 'id' = $4 FOR SHARE)"
        );
        let row = match condition {
            Condition::Absent => {
                let sql = format!(
                    "{held} INSERT INTO {table} (store, name, body, version) \
                     SELECT $1, $2, $3, nextval('{seq}') FROM held \
                     ON CONFLICT DO NOTHING RETURNING version"
                );
                client
                    .query_opt(&sql, &[&self.key, &name, &body, &holder])
                    .await
            }
            Condition::Matches(v) => {
                let Ok(v) = v.parse::<i64>() else {
                    return Ok(None);
                };
                let sql = format!(
                    "{held} UPDATE {table} SET body = $3, version = nextval('{seq}'), \
                     written = now() WHERE store = $1 AND name = $2 AND version = $5 \
                     AND EXISTS (SELECT 1 FROM held) RETURNING version"
                );
                client
                    .query_opt(&sql, &[&self.key, &name, &body, &holder, &v])
                    .await
            }
            Condition::Always => {
                let sql = format!(
                    "{held} INSERT INTO {table} (store, name, body, version) \
                     SELECT $1, $2, $3, nextval('{seq}') FROM held \
                     ON CONFLICT (store, name) DO UPDATE \
                     SET body = excluded.body, version = excluded.version, written = now() \
                     RETURNING version"
                );
                client
                    .query_opt(&sql, &[&self.key, &name, &body, &holder])
                    .await
            }
        }
        .map_err(failed)?;
        Ok(row.map(|r| r.get::<_, i64>(0).to_string()))
    }
}

fn failed(e: tokio_postgres::Error) -> BlobError {
    match e.as_db_error() {
        Some(db) => BlobError::Failed(format!(
            "PostgreSQL: {} ({})",
            db.message(),
            db.code().code()
        )),
        None => BlobError::Failed(format!("PostgreSQL: {e}")),
    }
}

#[async_trait::async_trait]
impl Blobs for PostgresBlobs {
    fn describe(&self) -> String {
        self.shown.clone()
    }

    async fn get(&self, name: &str) -> Result<Option<Blob>, BlobError> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT body, version FROM {} WHERE store = $1 AND name = $2",
            self.table()
        );
        let row = client
            .query_opt(&sql, &[&self.key, &name])
            .await
            .map_err(failed)?;
        Ok(row.map(|r| Blob {
            body: r.get(0),
            version: r.get::<_, i64>(1).to_string(),
        }))
    }

    async fn put(
        &self,
        name: &str,
        body: Vec<u8>,
        condition: Condition,
    ) -> Result<String, BlobError> {
        let client = self.client().await?;
        let (table, seq) = (self.table(), self.sequence());
        let row = match condition {
            Condition::Absent => {
                let sql = format!(
                    "INSERT INTO {table} (store, name, body, version) \
                     VALUES ($1, $2, $3, nextval('{seq}')) \
                     ON CONFLICT DO NOTHING RETURNING version"
                );
                client.query_opt(&sql, &[&self.key, &name, &body]).await
            }
            Condition::Matches(v) => {
                let v: i64 = v.parse().map_err(|_| BlobError::Conflict)?;
                let sql = format!(
                    "UPDATE {table} SET body = $3, version = nextval('{seq}'), written = now() \
                     WHERE store = $1 AND name = $2 AND version = $4 RETURNING version"
                );
                client.query_opt(&sql, &[&self.key, &name, &body, &v]).await
            }
            Condition::Always => {
                let sql = format!(
                    "INSERT INTO {table} (store, name, body, version) \
                     VALUES ($1, $2, $3, nextval('{seq}')) \
                     ON CONFLICT (store, name) DO UPDATE \
                     SET body = excluded.body, version = excluded.version, written = now() \
                     RETURNING version"
                );
                client.query_opt(&sql, &[&self.key, &name, &body]).await
            }
        }
        .map_err(failed)?;
        match row {
            Some(r) => Ok(r.get::<_, i64>(0).to_string()),
            None => Err(BlobError::Conflict),
        }
    }

    /// One statement: the lock row is read `FOR SHARE` and must name `holder`, so a
    /// takeover committed first makes the write a no-op, and one that comes after waits
    /// for the write to commit (and then sees it when it seals the snapshot).
    async fn put_fenced(
        &self,
        name: &str,
        body: Vec<u8>,
        condition: Condition,
        holder: &str,
    ) -> Option<Result<Option<String>, BlobError>> {
        Some(self.fenced(name, body, condition, holder).await)
    }

    fn fences_writes(&self) -> bool {
        true
    }

    async fn delete(&self, name: &str) -> Result<(), BlobError> {
        let client = self.client().await?;
        let sql = format!(
            "DELETE FROM {} WHERE store = $1 AND name = $2",
            self.table()
        );
        client
            .execute(&sql, &[&self.key, &name])
            .await
            .map_err(failed)?;
        Ok(())
    }

    /// One statement for all of them.
    async fn delete_many(&self, names: &[String]) -> Result<(), BlobError> {
        let client = self.client().await?;
        let sql = format!(
            "DELETE FROM {} WHERE store = $1 AND name = ANY($2)",
            self.table()
        );
        client
            .execute(&sql, &[&self.key, &names])
            .await
            .map_err(failed)?;
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT name FROM {} WHERE store = $1 AND starts_with(name, $2) ORDER BY name COLLATE \"C\"",
            self.table()
        );
        let rows = client
            .query(&sql, &[&self.key, &prefix])
            .await
            .map_err(failed)?;
        Ok(rows.into_iter().map(|r| r.get(0)).collect())
    }
}
