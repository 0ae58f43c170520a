//! The plan's id index, built once per plan and shared by the governance
//! passes that judge the live tenant (issue 13): each of them used to build
//! its own map from live id to address out of the same `ids`, nine maps
//! of every matched object per plan.

use std::collections::{BTreeMap, HashMap};

use schema::Address;

/// The matched objects' ids by address (what the plan records), and the
/// same the other way round.
#[derive(Debug)]
pub struct IdIndex<'a> {
    ids: &'a BTreeMap<Address, String>,
    by_id: HashMap<&'a str, &'a Address>,
}

impl<'a> IdIndex<'a> {
    pub fn new(ids: &'a BTreeMap<Address, String>) -> IdIndex<'a> {
        // As each pass built it: a later address wins an id two share.
        IdIndex { ids, by_id: ids.iter().map(|(a, i)| (i.as_str(), a)).collect() }
    }

    /// The address a live id was matched to.
    pub fn by_id(&self) -> &HashMap<&'a str, &'a Address> {
        &self.by_id
    }
}

/// The ids by address: passes that only look an address up use the map as
/// they did before.
impl std::ops::Deref for IdIndex<'_> {
    type Target = BTreeMap<Address, String>;

    fn deref(&self) -> &Self::Target {
        self.ids
    }
}
