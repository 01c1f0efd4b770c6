//! A small bounded cache for the hot paths (verified access tokens, resolved
//! web sessions). Two generations: new entries go into the young map; when it
//! holds half the capacity, the old map is dropped and the young one takes its
//! place. So memory never exceeds `capacity` entries, lookups cost one hash
//! and a read lock, and an entry lives at most two generations (callers also
//! bound its age or validity themselves: see `get_if`).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;

pub struct BoundedCache<K, V> {
    capacity: usize,
    maps: RwLock<Generations<K, V>>,
}

struct Generations<K, V> {
    young: HashMap<K, V>,
    old: HashMap<K, V>,
}

impl<K: Eq + Hash, V: Clone> BoundedCache<K, V> {
    /// At most `capacity` entries (at least 2).
    pub fn new(capacity: usize) -> Self {
        BoundedCache {
            capacity: capacity.max(2),
            maps: RwLock::new(Generations {
                young: HashMap::new(),
                old: HashMap::new(),
            }),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Generations<K, V>> {
        self.maps.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Generations<K, V>> {
        self.maps.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The value for `key`, if present and `valid(value)`.
    pub fn get_if(&self, key: &K, valid: impl Fn(&V) -> bool) -> Option<V> {
        let maps = self.read();
        maps.young
            .get(key)
            .or_else(|| maps.old.get(key))
            .filter(|v| valid(v))
            .cloned()
    }

    pub fn insert(&self, key: K, value: V) {
        let mut maps = self.write();
        if maps.young.len() >= self.capacity / 2 {
            maps.old = std::mem::take(&mut maps.young);
        }
        maps.old.remove(&key);
        maps.young.insert(key, value);
    }

    pub fn remove(&self, key: &K) {
        let mut maps = self.write();
        maps.young.remove(key);
        maps.old.remove(key);
    }

    /// Keeps only the entries for which `keep` is true.
    pub fn retain(&self, keep: impl Fn(&V) -> bool) {
        let mut maps = self.write();
        maps.young.retain(|_, v| keep(v));
        maps.old.retain(|_, v| keep(v));
    }

    pub fn len(&self) -> usize {
        let maps = self.read();
        maps.young.len() + maps.old.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::BoundedCache;

    #[test]
    fn never_holds_more_than_its_capacity() {
        let cache = BoundedCache::new(10);
        for i in 0..1000 {
            cache.insert(i, i);
            assert!(cache.len() <= 10);
        }
        assert_eq!(cache.get_if(&999, |_| true), Some(999));
        assert_eq!(cache.get_if(&0, |_| true), None);
    }

    #[test]
    fn invalid_entries_are_misses_and_retain_drops_entries() {
        let cache = BoundedCache::new(10);
        cache.insert("a", 1);
        cache.insert("b", 2);
        assert_eq!(cache.get_if(&"a", |v| *v > 1), None);
        cache.retain(|v| *v != 2);
        assert_eq!(cache.get_if(&"b", |_| true), None);
        assert_eq!(cache.get_if(&"a", |_| true), Some(1));
        cache.remove(&"a");
        assert!(cache.is_empty());
    }
}
