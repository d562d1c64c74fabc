//! A provider's concrete resource types, each declared once: its schema and the functions
//! that read, create, update and delete it.
//!
//! Why: with one string match per operation (and more string lists for schema flags), a
//! type could be listed for `create` and forgotten for `delete`, or renamed in one table
//! only; the compiler saw none of it. Here a type is one entry that cannot lack an
//! operation, the provider's [`ProviderSchema`] is derived from the same entries, and an
//! unknown type is refused in one place with one error.
//!
//! `C` is the provider's context (its clients and options). Operations are plain `async fn`s
//! taking `(&C, &Request)`; [`ops!`](crate::ops) turns four of them into an [`Ops`].

use cairn_core::provider::{
    CreateRequest, CreateResponse, DeleteRequest, ImportRequest, ImportResponse, ProviderError,
    ProviderSchema, ReadItem, ReadOutcome, ReadRequest, ResourceSchema, UpdateRequest,
    UpdateResponse,
};
use cairn_core::value::{Attrs, Text};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

/// A boxed, sendable future borrowing for `'a`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Read a batch of one type: every requested address gets an outcome.
pub type ReadFn<C> =
    for<'a> fn(
        &'a C,
        &'a ReadRequest,
    ) -> BoxFuture<'a, Result<BTreeMap<Text, ReadOutcome>, ProviderError>>;
/// Create one object from its request's attributes.
pub type CreateFn<C> =
    for<'a> fn(&'a C, &'a CreateRequest) -> BoxFuture<'a, Result<CreateResponse, ProviderError>>;
/// Update one object in place.
pub type UpdateFn<C> =
    for<'a> fn(&'a C, &'a UpdateRequest) -> BoxFuture<'a, Result<UpdateResponse, ProviderError>>;
/// Delete one object.
pub type DeleteFn<C> =
    for<'a> fn(&'a C, &'a DeleteRequest) -> BoxFuture<'a, Result<(), ProviderError>>;

/// The four operations of one type.
pub struct Ops<C> {
    /// Reads a batch of objects of the type.
    pub read: ReadFn<C>,
    /// Creates one object.
    pub create: CreateFn<C>,
    /// Updates one object in place.
    pub update: UpdateFn<C>,
    /// Deletes one object.
    pub delete: DeleteFn<C>,
}

/// `ops!(read, create, update, delete)`: four `async fn(&C, &Request) -> Result<…>` as an
/// [`Ops`].
#[macro_export]
macro_rules! ops {
    ($read:path, $create:path, $update:path, $delete:path $(,)?) => {
        $crate::registry::Ops {
            read: |c, r| ::std::boxed::Box::pin($read(c, r)),
            create: |c, r| ::std::boxed::Box::pin($create(c, r)),
            update: |c, r| ::std::boxed::Box::pin($update(c, r)),
            delete: |c, r| ::std::boxed::Box::pin($delete(c, r)),
        }
    };
}

/// One concrete type: what core needs to know of it, and how the provider manages it.
pub struct TypeDef<C> {
    /// The type's schema, as core sees it.
    pub schema: ResourceSchema,
    /// How the provider reads, creates, updates and deletes objects of the type.
    pub ops: Ops<C>,
}

/// Every type a provider manages, by name.
pub struct Registry<C> {
    provider: &'static str,
    types: BTreeMap<String, TypeDef<C>>,
}

impl<C> Registry<C> {
    /// An empty registry for the provider named `provider` (used in errors).
    pub fn new(provider: &'static str) -> Self {
        Registry {
            provider,
            types: BTreeMap::new(),
        }
    }

    /// Declare a type.
    ///
    /// # Panics
    /// When the type is declared twice: two entries for one name are a programming error.
    pub fn add(&mut self, schema: ResourceSchema, ops: Ops<C>) -> &mut Self {
        let name = schema.type_name.clone();
        let previous = self.types.insert(name.clone(), TypeDef { schema, ops });
        assert!(previous.is_none(), "{name} is declared twice");
        self
    }

    /// The provider schema: every declared type's [`ResourceSchema`].
    pub fn schema(&self) -> ProviderSchema {
        let mut out = ProviderSchema::default();
        for t in self.types.values() {
            out.add(t.schema.clone());
        }
        out
    }

    /// A declared type, or the error every operation on an unknown type gets.
    pub fn get(&self, type_name: &str) -> Result<&TypeDef<C>, ProviderError> {
        self.types
            .get(type_name)
            .ok_or_else(|| ProviderError::Unsupported {
                type_name: type_name.to_string(),
                message: format!(
                    "the {} provider has no resource type of that name",
                    self.provider
                ),
            })
    }

    /// The schema of a declared type.
    pub fn schema_of(&self, type_name: &str) -> Option<&ResourceSchema> {
        self.types.get(type_name).map(|t| &t.schema)
    }

    /// Whether `type_name` is declared with attribute `attr`.
    pub fn has_attr(&self, type_name: &str, attr: &str) -> bool {
        self.types
            .get(type_name)
            .is_some_and(|t| t.schema.attributes.contains_key(attr))
    }

    /// The names of every declared type, sorted.
    pub fn type_names(&self) -> impl Iterator<Item = &str> {
        self.types.keys().map(String::as_str)
    }

    /// Read a batch of `req.type_name` objects; an unknown type is refused.
    pub async fn read(
        &self,
        ctx: &C,
        req: &ReadRequest,
    ) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
        (self.get(&req.type_name)?.ops.read)(ctx, req).await
    }

    /// Import as every provider does it: a read of one object by its id. `prior` is what
    /// the read may need besides the id (context a nested object is found through);
    /// nothing declared may stand in for what the cloud reports.
    pub async fn import(
        &self,
        ctx: &C,
        req: &ImportRequest,
        prior: Attrs,
    ) -> Result<ImportResponse, ProviderError> {
        let read = ReadRequest {
            stack: req.stack.clone(),
            type_name: req.type_name.clone(),
            items: vec![ReadItem {
                address: req.address.clone(),
                id: Some(req.id.clone()),
                token: None,
                prior,
            }],
        };
        match self.read(ctx, &read).await?.remove(&req.address) {
            Some(ReadOutcome::Found { attrs, .. }) => Ok(ImportResponse { attrs }),
            Some(ReadOutcome::Failed(e)) => Err(e),
            _ => Err(ProviderError::NotFound {
                address: req.address.to_string(),
            }),
        }
    }

    /// Create an object of `req.type_name`; an unknown type is refused.
    pub async fn create(
        &self,
        ctx: &C,
        req: &CreateRequest,
    ) -> Result<CreateResponse, ProviderError> {
        (self.get(&req.type_name)?.ops.create)(ctx, req).await
    }

    /// Update an object of `req.type_name` in place; an unknown type is refused.
    pub async fn update(
        &self,
        ctx: &C,
        req: &UpdateRequest,
    ) -> Result<UpdateResponse, ProviderError> {
        (self.get(&req.type_name)?.ops.update)(ctx, req).await
    }

    /// Delete an object of `req.type_name`; an unknown type is refused.
    pub async fn delete(&self, ctx: &C, req: &DeleteRequest) -> Result<(), ProviderError> {
        (self.get(&req.type_name)?.ops.delete)(ctx, req).await
    }
}

impl<C> std::fmt::Debug for Ops<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ops { read, create, update, delete }")
    }
}

impl<C> std::fmt::Debug for TypeDef<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TypeDef")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl<C> std::fmt::Debug for Registry<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("provider", &self.provider)
            .field("types", &self.types.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_core::provider::AttrSchema;

    struct Ctx {
        prefix: &'static str,
    }

    async fn read(
        _: &Ctx,
        req: &ReadRequest,
    ) -> Result<BTreeMap<Text, ReadOutcome>, ProviderError> {
        Ok(req
            .items
            .iter()
            .map(|i| (i.address.clone(), ReadOutcome::Gone))
            .collect())
    }
    async fn create(c: &Ctx, req: &CreateRequest) -> Result<CreateResponse, ProviderError> {
        Ok(CreateResponse {
            id: format!("{}-{}", c.prefix, req.address).as_str().into(),
            attrs: req.attrs.clone(),
        })
    }
    async fn update(_: &Ctx, req: &UpdateRequest) -> Result<UpdateResponse, ProviderError> {
        Ok(UpdateResponse {
            attrs: req.attrs.clone(),
        })
    }
    async fn delete(_: &Ctx, _: &DeleteRequest) -> Result<(), ProviderError> {
        Ok(())
    }

    fn registry() -> Registry<Ctx> {
        let mut r = Registry::new("test");
        r.add(
            ResourceSchema::new("t_thing")
                .attr("name", AttrSchema::FORCE_NEW)
                .adopts_existing(),
            crate::ops!(read, create, update, delete),
        );
        r
    }

    #[test]
    fn one_entry_gives_the_schema_and_the_operations() {
        let r = registry();
        let schema = r.schema();
        assert!(schema.resources["t_thing"].adopts_existing);
        assert!(r.has_attr("t_thing", "name") && !r.has_attr("t_thing", "size"));
        let ctx = Ctx { prefix: "made" };
        let req = CreateRequest {
            stack: "s".into(),
            address: "t_thing.a".into(),
            type_name: "t_thing".into(),
            attrs: Default::default(),
            token: "tok".into(),
            progress: Default::default(),
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let made = rt.block_on(r.create(&ctx, &req)).unwrap();
        assert_eq!(made.id.as_str(), "made-t_thing.a");
        let unknown = CreateRequest {
            type_name: "t_other".into(),
            ..req
        };
        let err = rt.block_on(r.create(&ctx, &unknown)).unwrap_err();
        assert!(
            matches!(&err, ProviderError::Unsupported { type_name, .. } if type_name == "t_other"),
            "{err}"
        );
    }

    #[test]
    #[should_panic(expected = "t_thing is declared twice")]
    fn a_type_declared_twice_is_a_programming_error() {
        let mut r = registry();
        r.add(
            ResourceSchema::new("t_thing"),
            crate::ops!(read, create, update, delete),
        );
    }
}
