//! The replicated world: an ordered table of entities with quantized integer
//! fields, and its checksum. Deltas are taken between two snapshots.

use crate::ids::EntityId;
use crate::tick::Tick;

/// Most fields an entity kind may have.
pub const MAX_FIELDS: usize = 8;

/// An entity kind: an index into the game's [`Schema`](crate::schema::Schema).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntityKind(pub u8);

/// One entity as replicated: quantized integer fields whose meaning the kind's
/// schema gives. Fields past the kind's field count are always zero, so two
/// equal entities compare equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EntityState {
    /// Identity, stable for the entity's life.
    pub id: EntityId,
    /// What the fields mean.
    pub kind: EntityKind,
    /// Field values in the game's fixed-point units.
    pub fields: [i32; MAX_FIELDS],
}

impl EntityState {
    /// An entity with the given fields (at most [`MAX_FIELDS`]; extra values
    /// are a programming error and are cut off in release builds).
    pub fn new(id: EntityId, kind: EntityKind, values: &[i32]) -> Self {
        debug_assert!(values.len() <= MAX_FIELDS, "too many fields");
        let mut fields = [0; MAX_FIELDS];
        for (slot, value) in fields.iter_mut().zip(values) {
            *slot = *value;
        }
        Self { id, kind, fields }
    }
}

/// The world at one tick as clients see it: entities sorted by id, each id
/// once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorldSnapshot {
    /// The tick this world is the result of.
    pub tick: Tick,
    entities: Vec<EntityState>,
}

impl WorldSnapshot {
    /// An empty world (the baseline of a full snapshot).
    pub fn empty(tick: Tick) -> Self {
        Self {
            tick,
            entities: Vec::new(),
        }
    }

    /// Empties the world for reuse, keeping its allocation.
    pub fn clear(&mut self, tick: Tick) {
        self.tick = tick;
        self.entities.clear();
    }

    /// Adds an entity; games push in any order and call
    /// [`WorldSnapshot::finish`] once.
    pub fn push(&mut self, entity: EntityState) {
        self.entities.push(entity);
    }

    /// Sorts by id. Returns the first duplicated id, if any (a game bug).
    pub fn finish(&mut self) -> Result<(), EntityId> {
        self.entities.sort_unstable_by_key(|e| e.id);
        match self
            .entities
            .windows(2)
            .find(|pair| pair[0].id == pair[1].id)
        {
            Some(pair) => Err(pair[0].id),
            None => Ok(()),
        }
    }

    /// The entities, sorted by id.
    pub fn entities(&self) -> &[EntityState] {
        &self.entities
    }

    /// The entity with `id`, if present.
    pub fn get(&self, id: EntityId) -> Option<&EntityState> {
        self.entities
            .binary_search_by_key(&id, |e| e.id)
            .ok()
            .map(|i| &self.entities[i])
    }

    /// Number of entities.
    pub fn len(&self) -> usize {
        self.entities.len()
    }

    /// Whether the world has no entities.
    pub fn is_empty(&self) -> bool {
        self.entities.is_empty()
    }

    /// Replaces the entity list with one already sorted by unique id (the
    /// delta decoder builds it that way).
    pub(crate) fn entities_mut(&mut self) -> &mut Vec<EntityState> {
        &mut self.entities
    }

    /// The world checksum every update carries: FNV-1a over 32-bit words
    /// (offset basis 0x811c9dc5, prime 0x01000193; each step is
    /// `hash = (hash ^ word) * prime`, wrapping), feeding for each entity in
    /// id order its id, its kind, then all [`MAX_FIELDS`] fields (as `u32`
    /// bit patterns). The tick is not included. Word-wise rather than
    /// byte-wise keeps it a quarter of the cost, which every client pays on
    /// every update.
    pub fn checksum(&self) -> u32 {
        const OFFSET: u32 = 0x811c_9dc5;
        const PRIME: u32 = 0x0100_0193;
        let feed = |hash: u32, word: u32| (hash ^ word).wrapping_mul(PRIME);
        self.entities.iter().fold(OFFSET, |mut hash, e| {
            hash = feed(hash, e.id.0);
            hash = feed(hash, u32::from(e.kind.0));
            e.fields
                .iter()
                .fold(hash, |h, f| feed(h, f.cast_unsigned()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_sorts_and_finds_duplicates() {
        let mut w = WorldSnapshot::empty(Tick(1));
        w.push(EntityState::new(EntityId(3), EntityKind(0), &[1]));
        w.push(EntityState::new(EntityId(1), EntityKind(0), &[2]));
        assert_eq!(w.finish(), Ok(()));
        assert_eq!(w.entities()[0].id, EntityId(1));
        assert_eq!(w.get(EntityId(3)).map(|e| e.fields[0]), Some(1));
        w.push(EntityState::new(EntityId(1), EntityKind(0), &[2]));
        assert_eq!(w.finish(), Err(EntityId(1)));
    }

    #[test]
    fn checksum_sees_every_field_and_the_order() {
        let mut a = WorldSnapshot::empty(Tick(1));
        a.push(EntityState::new(EntityId(1), EntityKind(0), &[1, 2, 3]));
        let mut b = a.clone();
        b.entities_mut()[0].fields[7] = 1;
        assert_ne!(a.checksum(), b.checksum());
        let mut c = a.clone();
        c.tick = Tick(99);
        assert_eq!(
            a.checksum(),
            c.checksum(),
            "the tick is not part of the checksum"
        );
        assert_eq!(WorldSnapshot::empty(Tick(0)).checksum(), 0x811c_9dc5);
    }
}
