//! Short strings stored inline, as keys of the decision index.
//!
//! Checks are dominated by memory accesses, not instructions: comparing a
//! `String` key means following a pointer to the heap. Ids, qualifiers and
//! most profile names fit in 22 bytes and are kept inside the key itself, so
//! a hash-map probe or a binary search over an access list touches one
//! cache line where it touched several.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

const INLINE: usize = 22;

/// A string key, inline up to 22 bytes. Hashes and compares as its bytes,
/// so maps keyed by it are probed with `&[u8]`.
#[derive(Clone)]
pub enum Key {
    /// Up to 22 bytes, in place.
    Inline {
        /// Bytes used.
        len: u8,
        /// The bytes.
        buf: [u8; INLINE],
    },
    /// Longer: on the heap.
    Heap(Box<[u8]>),
}

impl Key {
    /// A key holding `s`.
    pub fn new(s: &str) -> Key {
        let b = s.as_bytes();
        if b.len() <= INLINE {
            let mut buf = [0u8; INLINE];
            buf[..b.len()].copy_from_slice(b);
            Key::Inline {
                len: b.len() as u8,
                buf,
            }
        } else {
            Key::Heap(b.into())
        }
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Key::Inline { len, buf } => &buf[..*len as usize],
            Key::Heap(b) => b,
        }
    }

    /// The text (keys are made from `&str`).
    pub fn to_text(&self) -> String {
        String::from_utf8_lossy(self.as_bytes()).into_owned()
    }
}

impl Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Exactly as `[u8]` hashes, as `Borrow` requires.
        self.as_bytes().hash(state)
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_text())
    }
}

/// A fast non-cryptographic hasher (the Fx algorithm used in rustc) for the
/// index's maps. Keys are admin-defined names looked up, never inserted, by
/// request data, so flooding a bucket from outside is not possible.
#[derive(Debug, Clone, Copy, Default)]
pub struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Builds [`FxHasher`]s.
pub type FxBuild = std::hash::BuildHasherDefault<FxHasher>;
/// A hash map with [`FxHasher`].
pub type FxMap<K, V> = std::collections::HashMap<K, V, FxBuild>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn inline_and_heap_keys_probe_by_bytes() {
        let mut m: HashMap<Key, u32> = HashMap::new();
        m.insert(Key::new("BOB"), 1);
        let long = "A.VERY.LONG.PROFILE.NAME.INDEED";
        m.insert(Key::new(long), 2);
        assert_eq!(m.get(b"BOB".as_slice()), Some(&1));
        assert_eq!(m.get(long.as_bytes()), Some(&2));
        assert_eq!(m.get(b"BO".as_slice()), None);
        assert!(Key::new("A") < Key::new("B"));
        assert_eq!(Key::new(long).to_text(), long);
    }
}
