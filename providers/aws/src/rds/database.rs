//! Logical PostgreSQL databases on an RDS instance beyond the first (which RDS creates from
//! `DBName`). RDS has no API for them, so cairn speaks PostgreSQL to the instance: one
//! connection per instance and refresh (`SELECT datname FROM pg_database`), `CREATE
//! DATABASE`/`DROP DATABASE` for the rest. cairn must reach the endpoint (run it where the
//! instance's security group admits it), as with Terraform's postgresql provider.
//!
//! The admin password is never in state: the provider reads it from Secrets Manager
//! (`password_secret_arn`: the stack's secret, or the secret RDS manages). TLS follows
//! libpq's `sslmode=require`: encrypted when the server offers it (RDS does, and forces it
//! from PostgreSQL 15), the server's certificate not checked, since RDS's CA is not in any
//! public root store. An id is `INSTANCE/DATABASE`.

use crate::error::convert;
use crate::util::s;
use crate::Ctx;
use cairn_core::provider::*;
use cairn_core::value::{Attrs, Text, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Where to connect and as whom.
struct Target {
    host: String,
    port: u16,
    user: String,
    password: String,
}

/// The admin password from its secret: a plain string, or RDS's JSON
/// `{"username": ..., "password": ...}`.
async fn password(ctx: &Ctx, address: &str, secret_arn: &str) -> Result<String, ProviderError> {
    let out = ctx
        .c
        .secrets
        .get_secret_value()
        .secret_id(secret_arn)
        .send()
        .await
        .map_err(|e| convert(address, e))?;
    let value = out.secret_string().unwrap_or_default();
    Ok(value
        .trim_start()
        .starts_with('{')
        .then(|| {
            let v: serde_json::Value = serde_json::from_str(value).ok()?;
            v["password"].as_str().map(str::to_string)
        })
        .flatten()
        .unwrap_or_else(|| value.to_string()))
}

async fn target(ctx: &Ctx, address: &str, a: &Attrs) -> Result<Target, ProviderError> {
    Ok(Target {
        host: s(a, "endpoint").to_string(),
        port: a
            .get("port")
            .and_then(Value::as_int)
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(5432),
        user: s(a, "username").to_string(),
        password: password(ctx, address, s(a, "password_secret_arn")).await?,
    })
}

/// The server's own words (`password authentication failed for user …`, SQLSTATE), not
/// tokio-postgres's bare "db error".
fn failed(address: &str, what: &str, e: tokio_postgres::Error) -> ProviderError {
    let (code, detail) = match e.as_db_error() {
        Some(db) => (
            format!("PostgreSQL {}", db.code().code()),
            db.message().to_string(),
        ),
        None => ("PostgreSQL".to_string(), e.to_string()),
    };
    ProviderError::Api {
        address: address.to_string(),
        code,
        message: format!("{what}: {detail}"),
    }
}

async fn connect(
    ctx: &Ctx,
    address: &str,
    t: &Target,
) -> Result<tokio_postgres::Client, ProviderError> {
    let mut config = tokio_postgres::Config::new();
    config
        .host(&t.host)
        .port(t.port)
        .user(&t.user)
        .password(&t.password)
        .dbname("postgres")
        .ssl_mode(tokio_postgres::config::SslMode::Prefer)
        .connect_timeout(ctx.options.timeouts.attempt);
    let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config());
    let what = format!("cannot connect to {}:{} as {}", t.host, t.port, t.user);
    // connect_timeout bounds the TCP connection; this bounds the handshake after it too.
    let (client, connection) = tokio::time::timeout(ctx.options.timeouts.call, config.connect(tls))
        .await
        .map_err(|_| ProviderError::Api {
            address: address.to_string(),
            code: "PostgreSQL".into(),
            message: format!("{what}: no answer in time"),
        })?
        .map_err(|e| failed(address, &what, e))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// A statement with the provider's call timeout: a server that stops answering fails the
/// call instead of hanging the run; whether the statement ran is then unknown.
async fn bounded<T>(
    ctx: &Ctx,
    address: &str,
    what: &str,
    fut: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, ProviderError> {
    match tokio::time::timeout(ctx.options.timeouts.call, fut).await {
        Ok(r) => r.map_err(|e| failed(address, what, e)),
        Err(_) => Err(ProviderError::Indeterminate {
            address: address.to_string(),
            message: format!(
                "{what}: no answer from PostgreSQL within {:?}",
                ctx.options.timeouts.call
            ),
        }),
    }
}

/// `"name"` with embedded quotes doubled: an identifier, never SQL.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn attrs_of(a: &Attrs, instance: &str, name: &str) -> Attrs {
    let mut out = a.clone();
    out.insert("id".into(), Value::str(format!("{instance}/{name}")));
    out
}

pub(crate) async fn create(
    ctx: &Ctx,
    req: &CreateRequest,
) -> Result<CreateResponse, ProviderError> {
    let a = &req.attrs;
    let client = connect(ctx, &req.address, &target(ctx, &req.address, a).await?).await?;
    let name = s(a, "name");
    let create = format!("CREATE DATABASE {}", quoted(name));
    let sent = tokio::time::timeout(ctx.options.timeouts.call, client.batch_execute(&create))
        .await
        .map_err(|_| ProviderError::Indeterminate {
            address: req.address.to_string(),
            message: "CREATE DATABASE: no answer from PostgreSQL in time".into(),
        })?;
    match sent {
        Ok(()) => {}
        // Made by an interrupted earlier run: it is this stack's instance, so it is ours.
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE) => {
            cairn_provider_kit::adopt::decide(
                &req.address,
                "database",
                name,
                cairn_provider_kit::adopt::Existing::Identical,
                &req.progress,
            )?;
        }
        Err(e) => return Err(failed(&req.address, "CREATE DATABASE", e)),
    }
    let attrs = attrs_of(a, s(a, "instance_identifier"), name);
    Ok(CreateResponse {
        id: s(&attrs, "id").into(),
        attrs,
    })
}

/// One connection and one query per instance, however many databases are asked about.
pub(crate) async fn read(
    ctx: &Ctx,
    req: &ReadRequest,
) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
    let mut by_instance: BTreeMap<String, Vec<&ReadItem>> = BTreeMap::new();
    let mut results = BTreeMap::new();
    for item in &req.items {
        // Import knows the id alone; the instance and name follow from it, the rest from the
        // instance itself (first item of the group carries it).
        let instance = match (&item.id, s(&item.prior, "instance_identifier")) {
            (_, known) if !known.is_empty() => known.to_string(),
            (Some(id), _) => id.split('/').next().unwrap_or_default().to_string(),
            (None, _) => {
                results.insert(item.address.clone(), ReadOutcome::Gone);
                continue;
            }
        };
        by_instance.entry(instance).or_default().push(item);
    }
    for (instance, items) in by_instance {
        let Some(prior) = items
            .iter()
            .map(|i| &i.prior)
            .find(|p| !s(p, "endpoint").is_empty() && !s(p, "password_secret_arn").is_empty())
        else {
            for i in items {
                results.insert(
                    i.address.clone(),
                    ReadOutcome::Failed(ProviderError::Unsupported {
                        type_name: req.type_name.to_string(),
                        message: "import the database's instance and admin password secret first: cairn connects to the instance to find the database".into(),
                    }),
                );
            }
            continue;
        };
        let outcome = async {
            let client = connect(
                ctx,
                &req.type_name,
                &target(ctx, &req.type_name, prior).await?,
            )
            .await?;
            let rows = bounded(
                ctx,
                &req.type_name,
                "listing databases",
                client.query(
                    "SELECT datname FROM pg_database WHERE NOT datistemplate",
                    &[],
                ),
            )
            .await?;
            Ok::<Vec<String>, ProviderError>(rows.iter().map(|r| r.get::<_, String>(0)).collect())
        }
        .await;
        // Unreachable because the instance itself is gone (or going): so are its databases.
        // Checked only on failure, so a healthy refresh stays one query per instance.
        let outcome = match outcome {
            Err(e) => {
                match super::instance::instance_status(ctx, &req.type_name, &instance).await {
                    Ok(None) => Ok(vec![]),
                    Ok(Some((status, _))) if status == "deleting" => Ok(vec![]),
                    _ => Err(e),
                }
            }
            ok => ok,
        };
        for i in items {
            let name = match &i.id {
                Some(id) => id
                    .split_once('/')
                    .map(|(_, n)| n.to_string())
                    .unwrap_or_default(),
                None => s(&i.prior, "name").to_string(),
            };
            let o = match &outcome {
                Ok(names) if names.contains(&name) => {
                    let mut attrs = attrs_of(prior, &instance, &name);
                    attrs.insert("name".into(), Value::str(&name));
                    attrs.insert("instance_identifier".into(), Value::str(&instance));
                    ReadOutcome::Found {
                        id: s(&attrs, "id").into(),
                        attrs,
                    }
                }
                Ok(_) => ReadOutcome::Gone,
                Err(e) => ReadOutcome::Failed(e.clone()),
            };
            results.insert(i.address.clone(), o);
        }
    }
    Ok(results)
}

/// Only how cairn connects can change in place (the admin user or its secret); checking
/// that the new credentials work is the update.
pub(crate) async fn update(
    ctx: &Ctx,
    req: &UpdateRequest,
) -> Result<UpdateResponse, ProviderError> {
    let a = &req.attrs;
    connect(ctx, &req.address, &target(ctx, &req.address, a).await?).await?;
    Ok(UpdateResponse {
        attrs: attrs_of(a, s(a, "instance_identifier"), s(a, "name")),
    })
}

pub(crate) async fn delete(ctx: &Ctx, req: &DeleteRequest) -> Result<(), ProviderError> {
    let a = &req.prior;
    let client = connect(ctx, &req.address, &target(ctx, &req.address, a).await?).await?;
    // FORCE (PostgreSQL 13+) ends sessions still attached, as deleting an RDS instance would.
    let drop = format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        quoted(s(a, "name"))
    );
    bounded(
        ctx,
        &req.address,
        "DROP DATABASE",
        client.batch_execute(&drop),
    )
    .await
}

/// Encrypt, do not verify (libpq's `sslmode=require`): see the module docs.
fn tls_config() -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("the default provider supports the default versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
        .with_no_client_auth()
}

#[derive(Debug)]
struct EncryptOnly(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    // The handshake itself is still checked: the peer must own the key it presents.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_quoted_as_identifiers() {
        assert_eq!(super::quoted("FlightBookingDb"), "\"FlightBookingDb\"");
        assert_eq!(super::quoted("a\"b"), "\"a\"\"b\"");
    }
}
