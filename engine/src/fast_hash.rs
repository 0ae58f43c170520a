//! A fast hasher for the plan's maps keyed by live object ids (issue 13).
//!
//! The plan looks an id up for every live reference it resolves (every
//! member, owner and assignment target, in the diff and again in the
//! observed fingerprint) and for every live object it matches: at 100k
//! objects, over a million lookups, where the standard SipHash showed in
//! profiles beside the work itself. This is the multiply-rotate hash rustc
//! uses for its own maps (FxHash), eight bytes at a time. It does not
//! resist crafted collisions: ids come from Graph (GUIDs the service
//! generates), and the worst a collision costs is time, never a wrong
//! lookup (equality still decides).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use schema::Address;

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// FxHash: `hash = (hash.rotate_left(5) ^ word) * SEED` per word.
#[derive(Default, Clone, Copy)]
pub struct FastHasher {
    hash: u64,
}

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            // The tail's length in its last byte, so a tail and the same
            // tail with zeros after it hash apart.
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            w[7] = rest.len() as u8;
            self.add(u64::from_le_bytes(w));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        // The multiply leaves its entropy in the high bits; the table
        // indexes by the low ones, so fold them down.
        self.hash ^ (self.hash >> 32)
    }
}

pub type FastBuild = BuildHasherDefault<FastHasher>;

/// Live id -> the address it was matched to.
pub type IdMap<'a> = HashMap<&'a str, &'a Address, FastBuild>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn ids_hash_apart_and_look_up_as_a_std_map_does() {
        let ids: Vec<String> = (0..10_000).map(|i| format!("{:08x}-0000-4000-8000-{:012x}", i * 7919, i)).collect();
        let build = FastBuild::default();
        let hashes: std::collections::HashSet<u64> = ids.iter().map(|i| build.hash_one(i.as_str())).collect();
        assert_eq!(hashes.len(), ids.len(), "no two of these ids collide");
        // Lengths that are not a multiple of eight, and a prefix of another.
        assert_ne!(build.hash_one("abc"), build.hash_one("abc\0"));
        assert_ne!(build.hash_one(""), build.hash_one("a"));
        let a = Address::new(schema::Kind::User, "u");
        let mut m: IdMap = IdMap::default();
        for i in &ids {
            m.insert(i.as_str(), &a);
        }
        assert!(ids.iter().all(|i| m.contains_key(i.as_str())));
        assert!(!m.contains_key("not-an-id"));
    }
}
