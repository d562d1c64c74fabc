//! Attribute values: the one dynamic type that flows between the model, providers, plans and state.
//!
//! Why dynamic: providers own their resource schemas, core must diff and store any of them
//! without knowing a cloud. Typing lives at the edges (the portable model users write and the
//! provider crates); the middle of the engine moves `Attrs` around.
//!
//! Secrets: a [`Sensitive`] value holds its plaintext only in memory. `Debug`, `Display`,
//! serde and plan rendering all see a salted digest or the word `(sensitive)`, so a secret
//! cannot reach plan text, plan JSON, state, logs or error messages by accident.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

mod secret;
pub(crate) use secret::hex;
pub use secret::{GeneratedSpec, SecretBook, Sensitive};

/// A short string stored inline when it fits (24 bytes): attribute names and most values
/// (ids, CIDRs, versions) never touch the heap, which matters at 100,000 resources.
pub type Text = compact_str::CompactString;

/// The parts joined: short ones (most addresses) on the stack and then inline, with no
/// allocation; longer ones in a `String` whose buffer the `Text` takes over.
pub(crate) fn join_text(parts: &[&str]) -> Text {
    const INLINE: usize = std::mem::size_of::<Text>();
    let len: usize = parts.iter().map(|p| p.len()).sum();
    if len <= INLINE {
        let mut buf = [0u8; INLINE];
        let mut at = 0;
        for p in parts {
            buf[at..at + p.len()].copy_from_slice(p.as_bytes());
            at += p.len();
        }
        // Whole `str`s one after another: UTF-8 by construction.
        return std::str::from_utf8(&buf[..len]).map_or_else(|_| Text::default(), Text::new);
    }
    let mut s = String::with_capacity(len);
    for p in parts {
        s.push_str(p);
    }
    Text::from(s)
}

mod attrs;
mod names;
mod read;
pub(crate) mod scan;
pub use attrs::{Attrs, Entry as AttrsEntry};

/// A reference to an attribute of another concrete resource, resolved during plan (when known)
/// or apply (when the referenced resource has just been created).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AttrRef {
    /// Concrete resource address, e.g. `mem_network.main`.
    pub address: Text,
    /// Attribute of that resource, e.g. `id`.
    pub attr: Text,
}

impl AttrRef {
    /// A reference to attribute `attr` of the concrete resource at `address`.
    pub fn new(address: impl AsRef<str>, attr: impl AsRef<str>) -> Self {
        AttrRef {
            address: Text::new(address.as_ref()),
            attr: Text::new(attr.as_ref()),
        }
    }
}

impl fmt::Display for AttrRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.address, self.attr)
    }
}

/// A dynamic attribute value.
#[derive(Clone, PartialEq, Default)]
pub enum Value {
    /// No value (JSON `null`); the default.
    #[default]
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer; the only number type (a fractional number is refused when deserialising).
    Int(i64),
    /// A string.
    Str(Text),
    /// A list; see [`Value::same_set_as`] for lists whose order means nothing.
    List(Vec<Value>),
    /// A map, ordered by key.
    Map(Attrs),
    /// A secret: plaintext in memory, digest everywhere else.
    Sensitive(Sensitive),
    /// A value that will be generated at apply time (a generated password). Never diffed
    /// against what exists: once generated, it is kept until the resource is replaced.
    /// (Boxed, like `Ref`: keeps `Value` at 32 bytes, and attribute maps small.)
    Generated(Box<GeneratedSpec>),
    /// Another resource's attribute; replaced by its value before any provider call.
    Ref(Box<AttrRef>),
    /// Known only after apply.
    Unknown,
}

impl Value {
    /// A reference to `address`'s attribute `attr`.
    pub fn reference(address: impl AsRef<str>, attr: impl AsRef<str>) -> Value {
        Value::Ref(Box::new(AttrRef::new(address, attr)))
    }

    /// A string value.
    pub fn str(s: impl AsRef<str>) -> Value {
        Value::Str(Text::new(s.as_ref()))
    }

    /// The string, if this is a [`Value::Str`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is a [`Value::Int`].
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The boolean, if this is a [`Value::Bool`].
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The members, if this is a [`Value::List`].
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The entries, if this is a [`Value::Map`].
    pub fn as_map(&self) -> Option<&Attrs> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// True for [`Value::Unknown`] itself; see [`Value::has_unresolved`] for values
    /// that hold one.
    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown)
    }

    /// True when this value (or anything inside it) is not yet a plain known value.
    pub fn has_unresolved(&self) -> bool {
        match self {
            Value::Unknown | Value::Ref(_) | Value::Generated(_) => true,
            Value::List(l) => l.iter().any(Value::has_unresolved),
            Value::Map(m) => m.values().any(Value::has_unresolved),
            _ => false,
        }
    }

    /// True when a reference sits anywhere inside.
    pub fn has_refs(&self) -> bool {
        match self {
            Value::Ref(_) => true,
            Value::List(l) => l.iter().any(Value::has_refs),
            Value::Map(m) => m.values().any(Value::has_refs),
            _ => false,
        }
    }

    /// Every reference inside this value.
    pub fn refs(&self, out: &mut Vec<AttrRef>) {
        match self {
            Value::Ref(r) => out.push((**r).clone()),
            Value::List(l) => l.iter().for_each(|v| v.refs(out)),
            Value::Map(m) => m.values().for_each(|v| v.refs(out)),
            _ => {}
        }
    }

    /// Replace references using `lookup`; a reference it cannot answer becomes `Unknown`.
    pub fn resolve(&self, lookup: &dyn Fn(&AttrRef) -> Option<Value>) -> Value {
        match self {
            Value::Ref(r) => lookup(r).unwrap_or(Value::Unknown),
            Value::List(l) => Value::List(l.iter().map(|v| v.resolve(lookup)).collect()),
            Value::Map(m) => Value::Map(
                m.iter()
                    .map(|(k, v)| (k.clone(), v.resolve(lookup)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// Replace the references `lookup` can answer; keep the others as references, to be
    /// filled in at apply time.
    pub fn resolve_known(&self, lookup: &dyn Fn(&AttrRef) -> Option<Value>) -> Value {
        match self {
            Value::List(l) if !self.has_refs() => Value::List(l.clone()),
            Value::Map(m) if !self.has_refs() => Value::Map(m.clone()),
            Value::Ref(r) => lookup(r).unwrap_or_else(|| self.clone()),
            Value::List(l) => Value::List(l.iter().map(|v| v.resolve_known(lookup)).collect()),
            Value::Map(m) => Value::Map(
                m.iter()
                    .map(|(k, v)| (k.clone(), v.resolve_known(lookup)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// Semantic equality used by the planner: sensitive values compare by digest, so a
    /// secret known in plaintext equals the digest recorded in state.
    pub fn same_as(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Sensitive(a), Value::Sensitive(b)) => a.digest() == b.digest(),
            (Value::List(a), Value::List(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_as(y))
            }
            (Value::Map(a), Value::Map(b)) => {
                a.is_copy_of(b)
                    || if a.has_names_of(b) {
                        a.values().zip(b.values()).all(|(x, y)| x.same_as(y))
                    } else {
                        a.len() == b.len()
                            && a.iter()
                                .zip(b)
                                .all(|((ka, va), (kb, vb))| ka == kb && va.same_as(vb))
                    }
            }
            (a, b) => a == b,
        }
    }

    /// [`Value::same_as`] for lists whose order means nothing: the same members, each as
    /// often. Non-lists compare as `same_as` does.
    pub fn same_set_as(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::List(a), Value::List(b)) => same_members(a, b, |x, y| x.same_as(y)),
            (a, b) => a.same_as(b),
        }
    }

    /// True for values that must be masked when shown.
    pub fn is_sensitive(&self) -> bool {
        match self {
            Value::Sensitive(_) | Value::Generated(_) => true,
            Value::List(l) => l.iter().any(Value::is_sensitive),
            Value::Map(m) => m.values().any(Value::is_sensitive),
            _ => false,
        }
    }

    /// The value as it may be stored or shown: every secret reduced to its digest.
    pub fn redacted(&self) -> Value {
        match self {
            Value::Sensitive(s) => Value::Sensitive(s.redacted()),
            Value::List(l) => Value::List(l.iter().map(Value::redacted).collect()),
            Value::Map(m) => Value::Map(m.redacted()),
            other => other.clone(),
        }
    }
}

/// `a` and `b` hold matching members, each matched once (lists here are short: groups,
/// subnets; quadratic is fine and keeps `Value` free of an ordering).
pub fn same_members<A, B>(a: &[A], b: &[B], matches: impl Fn(&A, &B) -> bool) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut used = vec![false; b.len()];
    a.iter().all(|x| {
        let hit = (0..b.len()).find(|&i| !used[i] && matches(x, &b[i]));
        hit.map(|i| used[i] = true).is_some()
    })
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(Text::new(s))
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(Text::from(s))
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<u32> for Value {
    fn from(i: u32) -> Self {
        Value::Int(i64::from(i))
    }
}
impl From<u16> for Value {
    fn from(i: u16) -> Self {
        Value::Int(i64::from(i))
    }
}
impl From<AttrRef> for Value {
    fn from(r: AttrRef) -> Self {
        Value::Ref(Box::new(r))
    }
}
impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Self {
        Value::List(v.into_iter().map(Into::into).collect())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The human form used in plan text: strings quoted, secrets masked.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::List(l) => {
                f.write_str("[")?;
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Map(m) => {
                f.write_str("{")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k} = {v}")?;
                }
                f.write_str("}")
            }
            Value::Sensitive(_) => f.write_str("(sensitive)"),
            Value::Generated(_) => f.write_str("(sensitive, generated at apply)"),
            Value::Ref(r) => write!(f, "${{{r}}}"),
            Value::Unknown => f.write_str("(known after apply)"),
        }
    }
}

// Serde form: plain JSON for plain values, tagged objects for the rest. Secrets serialise
// only as their digest; deserialising yields a digest-only `Sensitive`.
impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Value::Null => s.serialize_none(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Str(v) => s.serialize_str(v),
            Value::List(l) => l.serialize(s),
            Value::Map(m) => {
                // A user map whose single key starts with '$' would be ambiguous with our
                // tagged forms; escape it.
                if m.len() == 1 && m.keys().next().is_some_and(|k| k.starts_with('$')) {
                    let mut map = s.serialize_map(Some(1))?;
                    map.serialize_entry("$map", m)?;
                    map.end()
                } else {
                    m.serialize(s)
                }
            }
            Value::Sensitive(x) => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("$sensitive", &x.digest())?;
                map.end()
            }
            Value::Generated(g) => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("$generated", g)?;
                map.end()
            }
            Value::Ref(r) => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("$ref", &r.to_string())?;
                map.end()
            }
            Value::Unknown => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("$unknown", &true)?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

/// Reads the JSON form directly (no `serde_json::Value` in between: state files of 100,000
/// resources are parsed on every plan).
struct ValueVisitor;

impl<'de> serde::de::Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an attribute value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }
    fn visit_u64<E: serde::de::Error>(self, u: u64) -> Result<Value, E> {
        i64::try_from(u)
            .map(Value::Int)
            .map_err(|_| E::custom(format!("number {u} is too large")))
    }
    fn visit_f64<E: serde::de::Error>(self, f: f64) -> Result<Value, E> {
        Err(E::custom(format!("number {f} is not an integer")))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::Str(Text::new(s)))
    }
    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::Str(Text::from(s)))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Value, A::Error> {
        read::read_list(seq).map(Value::List)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        use serde::de::Error;
        let Some(first) = map.next_key::<Text>()? else {
            return Ok(Value::Map(Attrs::new()));
        };
        let tagged = match first.as_str() {
            "$sensitive" => Some(Value::Sensitive(Sensitive::from_digest(
                &map.next_value::<String>()?,
            ))),
            "$generated" => Some(Value::Generated(Box::new(map.next_value()?))),
            "$ref" => {
                let text: String = map.next_value()?;
                let (address, attr) = text
                    .rsplit_once('.')
                    .ok_or_else(|| A::Error::custom(format!("bad reference {text:?}")))?;
                Some(Value::reference(address, attr))
            }
            "$unknown" => {
                map.next_value::<serde::de::IgnoredAny>()?;
                Some(Value::Unknown)
            }
            "$map" => Some(Value::Map(map.next_value()?)),
            _ => None,
        };
        if let Some(v) = tagged {
            if map.next_key::<Text>()?.is_some() {
                return Err(A::Error::custom(format!(
                    "a tagged value ({first}) has extra keys"
                )));
            }
            return Ok(v);
        }
        let value = map.next_value()?;
        read::read_map(Some((first, value)), map).map(Value::Map)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sets_compare_members_not_order() {
        let a = Value::from(vec!["x", "y", "x"]);
        assert!(a.same_set_as(&Value::from(vec!["x", "x", "y"])));
        assert!(!a.same_as(&Value::from(vec!["x", "x", "y"])));
        assert!(!a.same_set_as(&Value::from(vec!["x", "y", "y"])));
        assert!(!a.same_set_as(&Value::from(vec!["x", "y"])));
    }

    use super::*;

    #[test]
    fn secrets_never_serialise_or_print_plaintext() {
        let v = Value::Sensitive(Sensitive::new("hunter2-very-secret"));
        let json = serde_json::to_string(&v).unwrap();
        assert!(!json.contains("hunter2"), "{json}");
        assert!(!format!("{v:?} {v}").contains("hunter2"));
        let back: Value = serde_json::from_str(&json).unwrap();
        assert!(back.same_as(&v));
    }

    #[test]
    fn tagged_forms_round_trip() {
        let mut m = Attrs::new();
        m.insert("$x".into(), Value::Int(1));
        for v in [
            Value::reference("a_b.c", "id"),
            Value::Unknown,
            Value::Map(m),
            Value::Generated(Box::new(GeneratedSpec {
                length: 20,
                symbols: "!".into(),
            })),
        ] {
            let back: Value = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
            assert_eq!(back, v);
        }
    }

    #[test]
    fn generated_values_have_every_class() {
        let spec = GeneratedSpec {
            length: 24,
            symbols: "!#".into(),
        };
        let s = spec.generate();
        let p = s.expose().unwrap();
        assert_eq!(p.len(), 24);
        assert!(p.bytes().any(|b| b.is_ascii_lowercase()));
        assert!(p.bytes().any(|b| b.is_ascii_uppercase()));
        assert!(p.bytes().any(|b| b.is_ascii_digit()));
        assert!(p.bytes().any(|b| b == b'!' || b == b'#'));
        assert_ne!(spec.generate().digest(), s.digest());
    }
}

#[cfg(test)]
mod size {
    #[test]
    fn value_stays_small() {
        // Attribute maps hold thousands of these: keep the enum at four words.
        assert_eq!(std::mem::size_of::<super::Value>(), 32);
    }
}
