//! The desired model's resources, shared between copies of the model.
//!
//! Several passes judge desired state under a slightly different model: the
//! governance in force (`governance::trust::in_force_model`), live service
//! accounts (`governance::accounts`), and `observe_everything_with`'s own
//! copy. Each changes a few small sets and none of the resources, yet a
//! `clone` of the model copied every resource: at 100k declared objects a
//! second copy of the largest thing a run holds, at its peak (issue 13).
//! The map is therefore held behind an `Arc` and copied on first write
//! (`Arc::make_mut` through `DerefMut`), so a copy that only reads it costs
//! a pointer, and one that writes gets its own map, as before.

use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use schema::Address;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::DesiredResource;

/// Every declared resource by address: a `BTreeMap` to read and write,
/// shared (copy on write) between clones of the model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resources(Arc<BTreeMap<Address, DesiredResource>>);

impl Resources {
    /// Whether `self` and `other` are the same map (not a copy of it).
    pub fn shares(&self, other: &Resources) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Deref for Resources {
    type Target = BTreeMap<Address, DesiredResource>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Resources {
    /// The map to change: this model's own (copied first if shared).
    fn deref_mut(&mut self) -> &mut Self::Target {
        Arc::make_mut(&mut self.0)
    }
}

impl From<BTreeMap<Address, DesiredResource>> for Resources {
    fn from(map: BTreeMap<Address, DesiredResource>) -> Self {
        Resources(Arc::new(map))
    }
}

impl FromIterator<(Address, DesiredResource)> for Resources {
    fn from_iter<I: IntoIterator<Item = (Address, DesiredResource)>>(iter: I) -> Self {
        Resources(Arc::new(iter.into_iter().collect()))
    }
}

impl<'a> IntoIterator for &'a Resources {
    type Item = (&'a Address, &'a DesiredResource);
    type IntoIter = std::collections::btree_map::Iter<'a, Address, DesiredResource>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl Serialize for Resources {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.as_ref().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Resources {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        BTreeMap::deserialize(d).map(Resources::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DesiredModel, Props};

    fn resource(key: &str) -> DesiredResource {
        DesiredResource {
            address: Address::new(schema::Kind::Group, key),
            natural_key: key.into(),
            display_name: key.into(),
            props: Props::new(),
            immutable: Vec::new(),
            assignment_props: Vec::new(),
            create_only: Props::new(),
            depends_on: Vec::new(),
            expires: None,
        }
    }

    #[test]
    fn a_clone_shares_the_map_until_written() {
        let mut m = DesiredModel::default();
        m.insert(resource("a"));
        let mut copy = m.clone();
        assert!(copy.resources.shares(&m.resources), "a clone of the model must not copy its resources");
        copy.protected_groups.insert(Address::new(schema::Kind::Group, "a"));
        assert!(copy.resources.shares(&m.resources));
        copy.insert(resource("b"));
        assert!(!copy.resources.shares(&m.resources), "a write copies");
        assert_eq!(m.resources.len(), 1, "the original is unchanged by the copy's write");
        assert_eq!(copy.resources.len(), 2);
    }

    #[test]
    fn serializes_as_the_map_it_holds() {
        let mut map = BTreeMap::new();
        let r = resource("a");
        map.insert(r.address.clone(), r);
        let shared = Resources::from(map.clone());
        assert_eq!(serde_json::to_string(&shared).expect("test fixture"), serde_json::to_string(&map).expect("test fixture"));
        let back: Resources = serde_json::from_str(&serde_json::to_string(&map).expect("test fixture")).expect("test fixture");
        assert_eq!(back, shared);
    }
}
