//! Secret values: generation, the in-memory-only [`Sensitive`] wrapper and the
//! [`SecretBook`] that hands plaintexts back at apply time. Kept apart so everything that
//! can touch a plaintext is in one short file.

use super::Value;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::Arc;

/// How a generated secret is made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneratedSpec {
    /// Length in characters; never fewer than one per character class (3, or 4 with
    /// symbols).
    pub length: u32,
    /// Punctuation allowed in the value; clouds differ in what a password may hold.
    pub symbols: String,
}

impl GeneratedSpec {
    /// A fresh value from the operating system's CSPRNG, with at least one character of
    /// every class so it passes any password policy.
    pub fn generate(&self) -> Sensitive {
        use rand::rngs::OsRng;
        use rand::seq::SliceRandom;
        use rand::Rng;
        const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
        const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
        const DIGIT: &[u8] = b"23456789";
        let symbols = self.symbols.as_bytes();
        let mut classes: Vec<&[u8]> = vec![LOWER, UPPER, DIGIT];
        if !symbols.is_empty() {
            classes.push(symbols);
        }
        let all: Vec<u8> = classes.iter().flat_map(|c| c.iter().copied()).collect();
        let mut rng = OsRng;
        let mut out: Vec<u8> = classes
            .iter()
            .map(|c| c[rng.gen_range(0..c.len())])
            .collect();
        while out.len() < self.length as usize {
            out.push(all[rng.gen_range(0..all.len())]);
        }
        out.shuffle(&mut rng);
        Sensitive::new(String::from_utf8(out).unwrap_or_default())
    }
}

/// A secret value. Holds plaintext only in memory; its digest identifies it everywhere else.
/// One pointer wide, so it does not grow `Value`.
#[derive(Clone)]
pub struct Sensitive(Arc<SensitiveInner>);

struct SensitiveInner {
    plain: Option<Box<str>>,
    digest: Box<str>,
}

impl Sensitive {
    /// Domain separation for the digest, so a digest is useless as a plain SHA-256 lookup.
    const SALT: &'static [u8] = b"cairn.sensitive.v1\0";

    /// Wrap a plaintext and compute its salted digest.
    pub fn new(plain: impl Into<String>) -> Self {
        let plain: String = plain.into();
        let mut h = Sha256::new();
        h.update(Self::SALT);
        h.update(plain.as_bytes());
        let digest = format!("sha256:{}", hex(&h.finalize()));
        Sensitive(Arc::new(SensitiveInner {
            plain: Some(plain.into()),
            digest: digest.into(),
        }))
    }

    /// A secret known only by its digest (as read back from a plan or state);
    /// [`Sensitive::expose`] gives `None`.
    pub fn from_digest(digest: &str) -> Self {
        Sensitive(Arc::new(SensitiveInner {
            plain: None,
            digest: digest.into(),
        }))
    }

    /// The plaintext, when this process knows it. Only providers call this, to send it to
    /// the cloud.
    pub fn expose(&self) -> Option<&str> {
        self.0.plain.as_deref()
    }

    /// The salted digest, `sha256:` and 64 hex digits: what plans and state record.
    pub fn digest(&self) -> &str {
        &self.0.digest
    }

    /// The same secret without its plaintext, safe to store.
    pub fn redacted(&self) -> Sensitive {
        if self.0.plain.is_none() {
            return self.clone();
        }
        Sensitive::from_digest(self.digest())
    }
}

impl PartialEq for Sensitive {
    fn eq(&self, other: &Self) -> bool {
        self.digest() == other.digest()
    }
}

impl fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(sensitive)")
    }
}

/// Plaintexts looked up by digest: how a saved plan (digests only) gets the secrets the stack
/// gives back at apply time, and how apply verifies they are exactly the reviewed ones.
#[derive(Clone, Default)]
pub struct SecretBook {
    by_digest: std::collections::HashMap<String, Sensitive>,
}

impl SecretBook {
    /// Keep `secret`'s plaintext under its digest; a digest-only secret is ignored.
    pub fn insert(&mut self, secret: Sensitive) {
        if secret.expose().is_some() {
            self.by_digest.insert(secret.digest().to_string(), secret);
        }
    }

    /// Give every digest-only secret inside `value` its plaintext, when the book has it.
    pub fn fill(&self, value: &Value) -> Value {
        match value {
            Value::Sensitive(s) if s.expose().is_none() => Value::Sensitive(
                self.by_digest
                    .get(s.digest())
                    .cloned()
                    .unwrap_or_else(|| s.clone()),
            ),
            Value::List(l) => Value::List(l.iter().map(|v| self.fill(v)).collect()),
            Value::Map(m) => Value::Map(m.iter().map(|(k, v)| (k.clone(), self.fill(v))).collect()),
            other => other.clone(),
        }
    }

    /// How many plaintexts the book holds.
    pub fn len(&self) -> usize {
        self.by_digest.len()
    }

    /// True when the book holds no plaintext.
    pub fn is_empty(&self) -> bool {
        self.by_digest.is_empty()
    }
}

impl fmt::Debug for SecretBook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBook({} secrets)", self.by_digest.len())
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
