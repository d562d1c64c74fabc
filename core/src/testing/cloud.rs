//! The memory cloud's objects: what it holds, and how a create makes one.

use super::lowering::computed;
use super::Inner;
use crate::provider::CreateRequest;
use crate::value::{Attrs, Text, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;

/// One object in the memory cloud.
#[derive(Clone, Debug, PartialEq)]
pub struct MemObject {
    /// The stack whose create made it (its ownership mark; empty for seeded objects).
    pub stack: Text,
    /// Concrete type, e.g. `mem_database`.
    pub type_name: Text,
    /// Concrete address of the resource it was created for.
    pub address: Text,
    /// Idempotency token of the create that made it (empty for seeded objects).
    pub token: Text,
    /// Attributes, computed ones (`id`, `arn`, endpoints) included.
    pub attrs: Attrs,
}

/// The objects of the memory cloud, with an index by idempotency token (a create checks
/// it every time; a scan would make large applies quadratic).
#[derive(Debug, Default)]
pub(super) struct Cloud {
    pub(super) by_id: BTreeMap<Text, MemObject>,
    pub(super) by_token: HashMap<Text, Text>,
}

impl Cloud {
    pub(super) fn insert(&mut self, id: Text, o: MemObject) {
        if !o.token.is_empty() {
            self.by_token.insert(o.token.clone(), id.clone());
        }
        self.by_id.insert(id, o);
    }
    pub(super) fn remove(&mut self, id: &str) -> Option<MemObject> {
        let o = self.by_id.remove(id)?;
        self.by_token.remove(&o.token);
        Some(o)
    }
    pub(super) fn by_token(&self, token: &str) -> Option<(&Text, &MemObject)> {
        let id = self.by_token.get(token)?;
        self.by_id.get_key_value(id)
    }
}

/// Make the object a create asks for (or find the one its token made already).
pub(super) fn materialize(inner: &Inner, req: &CreateRequest) -> Text {
    let mut objects = inner.objects.lock().unwrap();
    // Idempotency: the same token returns the object made the first time.
    if let Some((id, _)) = objects.by_token(&req.token) {
        return id.clone();
    }
    let prefix = req.type_name.trim_start_matches("mem_").replace('_', "");
    let id = Text::from(format!(
        "{prefix}-{:08x}",
        inner.next_id.fetch_add(1, Ordering::SeqCst)
    ));
    let attrs = if inner.ids_only.load(Ordering::Relaxed) {
        Attrs::new()
    } else {
        // The memory cloud holds every object of a run: at its size, as a cloud would.
        let mut attrs = with_computed(&req.attrs, &req.type_name, &id);
        attrs.shrink_to_fit();
        attrs
    };
    objects.insert(
        id.clone(),
        MemObject {
            stack: req.stack.as_str().into(),
            type_name: req.type_name.clone(),
            address: req.address.clone(),
            token: req.token.as_str().into(),
            attrs,
        },
    );
    id
}

/// The attributes sent, with the ones the memory cloud computes (`id`, `arn`, endpoints).
pub(super) fn with_computed(sent: &Attrs, type_name: &str, id: &str) -> Attrs {
    let name = sent.get("name").and_then(Value::as_str).unwrap_or("x");
    let mut attrs = sent.clone();
    attrs.extend(computed(type_name, name, id));
    attrs
}
