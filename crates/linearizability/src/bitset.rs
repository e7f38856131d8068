//! A fixed-size bitset with an incrementally maintained hash, the
//! "linearized" set of the search.

/// A set of operation positions `0..len`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Bitset {
    words: Vec<u64>,
    /// XOR of [`element_hash`] over the members: updated in O(1).
    hash: u64,
}

// === impl Bitset ===

impl Bitset {
    /// An empty set with room for `len` elements.
    pub(crate) fn new(len: usize) -> Self {
        Self {
            words: vec![0; len.div_ceil(64)],
            hash: 0,
        }
    }

    /// Adds `i`, which must not be a member.
    pub(crate) fn insert(&mut self, i: usize) {
        self.toggle(i);
    }

    /// Removes `i`, which must be a member.
    pub(crate) fn remove(&mut self, i: usize) {
        self.toggle(i);
    }

    fn toggle(&mut self, i: usize) {
        if let Some(word) = self.words.get_mut(i / 64) {
            *word ^= 1 << (i % 64);
            self.hash ^= element_hash(i);
        }
    }

    /// Whether `i` is a member.
    pub(crate) fn contains(&self, i: usize) -> bool {
        self.words
            .get(i / 64)
            .is_some_and(|word| word & (1 << (i % 64)) != 0)
    }

    /// A hash of the members, consistent with equality.
    pub(crate) fn hash(&self) -> u64 {
        self.hash
    }

    /// The set as words, for storing in the memo.
    pub(crate) fn words(&self) -> &[u64] {
        &self.words
    }
}

/// A well-mixed 64-bit hash of one element (SplitMix64's finalizer).
pub(crate) fn element_hash(i: usize) -> u64 {
    mix(i as u64)
}

/// SplitMix64's finalizer: a bijective, well-mixing function on `u64`.
pub(crate) fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_remove_and_hash() {
        let mut a = Bitset::new(130);
        let mut b = Bitset::new(130);
        a.insert(0);
        a.insert(129);
        a.insert(64);
        b.insert(64);
        b.insert(129);
        assert_ne!(a, b);
        b.insert(0);
        assert_eq!(a, b);
        assert_eq!(a.hash(), b.hash());
        assert!(a.contains(129) && a.contains(64) && !a.contains(1));
        a.remove(129);
        assert!(!a.contains(129));
        assert_ne!(a.hash(), b.hash());
        a.remove(0);
        a.remove(64);
        assert_eq!(a, Bitset::new(130));
    }
}
