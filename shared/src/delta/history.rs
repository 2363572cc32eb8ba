//! A bounded ring of recent world snapshots by tick: the baselines a server
//! encodes against and a client decodes against.

use crate::snapshot::WorldSnapshot;
use crate::tick::Tick;

/// The last `capacity` snapshots, addressed by tick. Pushing reuses the
/// evicted snapshot's allocation.
#[derive(Debug)]
pub struct SnapshotHistory {
    slots: Vec<Option<WorldSnapshot>>,
    latest: Option<Tick>,
}

impl SnapshotHistory {
    /// A history holding up to `capacity` snapshots (at least 1).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            slots: (0..capacity).map(|_| None).collect(),
            latest: None,
        }
    }

    /// How many snapshots it holds at most.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    fn slot(&self, tick: Tick) -> usize {
        tick.0 as usize % self.slots.len()
    }

    /// Stores a finished snapshot under its tick and returns the snapshot
    /// it displaced, if any, so that its allocation can be reused.
    pub fn insert(&mut self, snapshot: WorldSnapshot) -> Option<WorldSnapshot> {
        let tick = snapshot.tick;
        let index = self.slot(tick);
        if self.latest.is_none_or(|latest| tick > latest) {
            self.latest = Some(tick);
        }
        self.slots[index].replace(snapshot)
    }

    /// The snapshot for `tick`, if still held.
    pub fn get(&self, tick: Tick) -> Option<&WorldSnapshot> {
        self.slots[self.slot(tick)]
            .as_ref()
            .filter(|s| s.tick == tick)
    }

    /// The newest snapshot.
    pub fn latest(&self) -> Option<&WorldSnapshot> {
        self.latest.and_then(|tick| self.get(tick))
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.slots.iter_mut().for_each(|s| *s = None);
        self.latest = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_capacity_ticks() {
        let mut h = SnapshotHistory::new(4);
        for t in 0..10 {
            h.insert(WorldSnapshot::empty(Tick(t)));
        }
        assert!(h.get(Tick(5)).is_none(), "evicted");
        for t in 6..10 {
            assert_eq!(h.get(Tick(t)).map(|s| s.tick), Some(Tick(t)));
        }
        assert_eq!(h.latest().map(|s| s.tick), Some(Tick(9)));
    }

    #[test]
    fn insert_hands_back_the_displaced_snapshot() {
        let mut h = SnapshotHistory::new(2);
        assert!(h.insert(WorldSnapshot::empty(Tick(1))).is_none());
        let old = h
            .insert(WorldSnapshot::empty(Tick(3)))
            .expect("slot 1 was taken");
        assert_eq!(old.tick, Tick(1));
        assert!(h.get(Tick(1)).is_none());
    }
}
