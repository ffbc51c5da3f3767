//! A slab of values under generational keys: a key outlives its value without ever naming
//! another one, so a timer or a message may hold a key to a call or a job that has ended and
//! find nothing. Free slots are reused last-freed first, which is deterministic.

/// A key into a [`Slab`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    index: u32,
    gen: u32,
}

impl Key {
    /// The least key, for ranges over sets ordered by `(score, Key)`.
    pub const MIN: Key = Key { index: 0, gen: 0 };
}

/// Values under [`Key`]s.
#[derive(Clone, Debug)]
pub(crate) struct Slab<T> {
    slots: Vec<(u32, Option<T>)>,
    free: Vec<u32>,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Slab<T> {
    /// Stores `v`.
    pub fn insert(&mut self, v: T) -> Key {
        self.len += 1;
        match self.free.pop() {
            Some(index) => {
                let slot = &mut self.slots[index as usize];
                slot.0 = slot.0.wrapping_add(1);
                slot.1 = Some(v);
                Key { index, gen: slot.0 }
            }
            None => {
                let index = self.slots.len() as u32;
                self.slots.push((0, Some(v)));
                Key { index, gen: 0 }
            }
        }
    }

    /// The value under `k`, if it is still there.
    pub fn get(&self, k: Key) -> Option<&T> {
        match self.slots.get(k.index as usize) {
            Some((gen, Some(v))) if *gen == k.gen => Some(v),
            _ => None,
        }
    }

    /// The value under `k`, if it is still there.
    pub fn get_mut(&mut self, k: Key) -> Option<&mut T> {
        match self.slots.get_mut(k.index as usize) {
            Some((gen, Some(v))) if *gen == k.gen => Some(v),
            _ => None,
        }
    }

    /// Takes the value under `k` out.
    pub fn remove(&mut self, k: Key) -> Option<T> {
        match self.slots.get_mut(k.index as usize) {
            Some((gen, v @ Some(_))) if *gen == k.gen => {
                self.len -= 1;
                self.free.push(k.index);
                v.take()
            }
            _ => None,
        }
    }

    /// Every value with its key, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (Key, &T)> {
        self.slots.iter().enumerate().filter_map(|(i, (gen, v))| {
            v.as_ref().map(|v| {
                (
                    Key {
                        index: i as u32,
                        gen: *gen,
                    },
                    v,
                )
            })
        })
    }

    /// The keys whose values `f` picks, in slot order.
    pub fn keys_where(&self, mut f: impl FnMut(&T) -> bool) -> Vec<Key> {
        self.iter().filter(|(_, v)| f(v)).map(|(k, _)| k).collect()
    }

    /// How many values it holds.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_key_finds_nothing_even_when_its_slot_is_reused() {
        let mut s = Slab::default();
        let a = s.insert("a");
        assert_eq!(s.remove(a), Some("a"));
        let b = s.insert("b");
        assert_eq!(
            s.get(a),
            None,
            "a's slot now holds b under a new generation"
        );
        assert_eq!(s.get(b), Some(&"b"));
        assert_eq!(s.remove(a), None);
        assert_eq!(s.len(), 1);
    }
}
