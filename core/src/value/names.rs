//! Lists of attribute names, shared: maps with the same names (every security group's,
//! copy after copy) hold one list between them instead of a name beside each value.
//!
//! Parsing, collecting and [`super::Attrs::shrink_to_fit`] look a map's names up here: first
//! among the few lists this thread used last (a run makes map after map with the names of a
//! few resource types, and comparing a handful of short names is cheaper than hashing them
//! and taking a lock), then in one process-wide set. Lists no map uses any more are let go
//! when that set has doubled since it was last swept.

use super::Text;
use rustc_hash::FxHashSet;
use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

/// The names of a map, sorted and unique.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Names(pub(super) Vec<Text>);

/// Every list of names in use, so that maps with the same names share one. Lists no map
/// uses any more are let go when the set has doubled since it was last swept.
static NAMES_IN_USE: Mutex<InUse> = Mutex::new(InUse {
    set: None,
    sweep_at: 0,
});

struct InUse {
    set: Option<FxHashSet<Shared>>,
    sweep_at: usize,
}

/// A list of names in [`NAMES_IN_USE`], found by its names.
struct Shared(Arc<Names>);

impl Borrow<[Text]> for Shared {
    fn borrow(&self) -> &[Text] {
        &self.0 .0
    }
}

impl PartialEq for Shared {
    fn eq(&self, other: &Shared) -> bool {
        self.0 .0 == other.0 .0
    }
}

impl Eq for Shared {}

impl Hash for Shared {
    fn hash<H: Hasher>(&self, h: &mut H) {
        // As `[Text]` hashes, which `Borrow` requires.
        self.0 .0[..].hash(h)
    }
}

// The lists of names this thread used last, looked at before the process-wide set: a run
// makes map after map with the names of a few resource types, and comparing a handful of
// short names is cheaper than hashing them and taking a lock.
thread_local! {
    static RECENT_NAMES: std::cell::RefCell<Vec<Arc<Names>>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Lists of names each thread keeps at hand.
const RECENT: usize = 8;

fn recent(names: &[Text]) -> Option<Arc<Names>> {
    recent_by(names.len(), names.iter().map(Text::as_str))
}

/// [`recent`] for names given one by one (`len` of them), with no list made for the search.
fn recent_by<'a>(len: usize, names: impl Iterator<Item = &'a str> + Clone) -> Option<Arc<Names>> {
    RECENT_NAMES.with(|r| {
        let mut r = r.borrow_mut();
        let i = r
            .iter()
            .position(|n| n.0.len() == len && n.0.iter().map(Text::as_str).eq(names.clone()))?;
        // Most recently used first: a lookup mostly ends at the first comparison.
        r[..=i].rotate_right(1);
        Some(r[0].clone())
    })
}

fn remember(names: &Arc<Names>) {
    RECENT_NAMES.with(|r| {
        let mut r = r.borrow_mut();
        if r.len() == RECENT {
            r.pop();
        }
        r.insert(0, names.clone());
    })
}

/// The shared list of these names (sorted and unique).
pub(super) fn intern_slice(names: &[Text]) -> Arc<Names> {
    if let Some(found) = recent(names) {
        return found;
    }
    let mut in_use = names_in_use();
    let shared = match in_use.find(names) {
        Some(found) => found,
        None => in_use.add(names.to_vec()),
    };
    drop(in_use);
    remember(&shared);
    shared
}

/// [`intern_slice`] for names of any string type (a reader's borrowed ones): no name is
/// made when this thread used the same names lately.
pub(super) fn intern_strs<K: AsRef<str>>(names: &[K]) -> Arc<Names> {
    match recent_by(names.len(), names.iter().map(AsRef::as_ref)) {
        Some(found) => found,
        None => intern(names.iter().map(|n| Text::new(n.as_ref())).collect()),
    }
}

/// The shared list of the names of these entries (sorted and unique): no list is made when
/// this thread used the same names lately.
pub(super) fn intern_keys<V>(entries: &[(Text, V)]) -> Arc<Names> {
    recent_keys(entries).unwrap_or_else(|| intern(entries.iter().map(|(k, _)| k.clone()).collect()))
}

/// The shared list of the names of these entries if this thread used it lately (then they
/// are sorted and unique); `None` otherwise, and for no entries.
pub(super) fn recent_keys<V>(entries: &[(Text, V)]) -> Option<Arc<Names>> {
    if entries.is_empty() {
        return None;
    }
    recent_by(entries.len(), entries.iter().map(|(k, _)| k.as_str()))
}

/// The shared list of these names (sorted and unique), `names` itself when it is the first.
pub(super) fn intern(names: Vec<Text>) -> Arc<Names> {
    if let Some(found) = recent(&names) {
        return found;
    }
    let mut in_use = names_in_use();
    let shared = match in_use.find(&names) {
        Some(found) => found,
        None => in_use.add(names),
    };
    drop(in_use);
    remember(&shared);
    shared
}

fn names_in_use() -> std::sync::MutexGuard<'static, InUse> {
    NAMES_IN_USE.lock().unwrap_or_else(|e| e.into_inner())
}

impl InUse {
    fn find(&mut self, names: &[Text]) -> Option<Arc<Names>> {
        let set = self.set.as_ref()?;
        set.get(names).map(|found| found.0.clone())
    }

    fn add(&mut self, mut names: Vec<Text>) -> Arc<Names> {
        let set = self.set.get_or_insert_with(FxHashSet::default);
        if set.len() >= self.sweep_at {
            set.retain(|s| Arc::strong_count(&s.0) > 1);
            self.sweep_at = (set.len() * 2).max(1024);
        }
        names.shrink_to_fit();
        let shared = Arc::new(Names(names));
        set.insert(Shared(shared.clone()));
        shared
    }
}
