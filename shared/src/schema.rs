//! The replication schema a game declares: entity kinds, their fields, and
//! the motion rules a client can extrapolate without being told.
//!
//! Extrapolation is what makes deltas small: an entity that moves in a
//! straight line, or counts down to its despawn, costs nothing while it keeps
//! doing so. Rules are integer arithmetic on quantized fields, so the server
//! and every client (in any language) predict exactly the same world. A
//! game's simulation only has to follow its own declared rules for the
//! savings to show; where it does not, the delta carries the difference and
//! stays correct.

use crate::snapshot::{EntityKind, EntityState, MAX_FIELDS, WorldSnapshot};

/// A game's replicated world layout.
#[derive(Clone, Copy, Debug)]
pub struct Schema {
    /// Entity kinds, indexed by [`EntityKind`].
    pub kinds: &'static [KindSchema],
}

/// One entity kind.
#[derive(Clone, Copy, Debug)]
pub struct KindSchema {
    /// Name, for docs and debugging.
    pub name: &'static str,
    /// The fields, in order (at most [`MAX_FIELDS`]).
    pub fields: &'static [FieldSchema],
    /// How the entity moves between updates, if predictably.
    pub motion: Option<LinearMotion>,
    /// A field that counts the ticks the entity has left: it drops by one
    /// each tick and the entity despawns when it reaches zero.
    pub lifetime: Option<usize>,
}

/// One integer field and the sizes it usually takes, which pick its
/// exponential-Golomb code orders (any `i32` still encodes).
#[derive(Clone, Copy, Debug)]
pub struct FieldSchema {
    /// Name, for docs and debugging.
    pub name: &'static str,
    /// Code order for the full value (when an entity appears): about the
    /// bit length of a typical value.
    pub absolute_order: u8,
    /// Code order for a change against the predicted value.
    pub change_order: u8,
}

/// Constant-velocity motion in 2D: each tick `position += velocity`, then the
/// [`Boundary`] rule applies.
#[derive(Clone, Copy, Debug)]
pub struct LinearMotion {
    /// Field indices of x and y.
    pub position: [usize; 2],
    /// Field indices of the per-tick displacement along x and y.
    pub velocity: [usize; 2],
    /// Inclusive lower corner of the allowed area.
    pub min: [i32; 2],
    /// Inclusive upper corner of the allowed area.
    pub max: [i32; 2],
    /// What leaving the area does.
    pub boundary: Boundary,
}

/// What happens when linear motion leaves its area.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Boundary {
    /// The position is clamped to the area; the velocity is kept.
    Clamp,
    /// The entity despawns.
    Despawn,
}

/// Why a schema cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// More than 256 kinds.
    #[error("a schema has at most 256 entity kinds")]
    TooManyKinds,
    /// A kind with more than [`MAX_FIELDS`] fields.
    #[error("kind {0:?} has more than {MAX_FIELDS} fields")]
    TooManyFields(&'static str),
    /// A motion or lifetime rule names a field the kind does not have.
    #[error("kind {0:?} names a field it does not have")]
    BadFieldIndex(&'static str),
    /// A code order above 24.
    #[error("kind {0:?} has a code order above 24")]
    BadCodeOrder(&'static str),
}

impl Schema {
    /// Checks the limits the codec relies on. Games call this in a test.
    pub fn validate(&self) -> Result<(), SchemaError> {
        if self.kinds.len() > 256 {
            return Err(SchemaError::TooManyKinds);
        }
        for kind in self.kinds {
            let count = kind.fields.len();
            if count > MAX_FIELDS {
                return Err(SchemaError::TooManyFields(kind.name));
            }
            let mut indices: Vec<usize> = kind.lifetime.into_iter().collect();
            if let Some(m) = kind.motion {
                indices.extend(m.position);
                indices.extend(m.velocity);
            }
            if indices.iter().any(|&i| i >= count) {
                return Err(SchemaError::BadFieldIndex(kind.name));
            }
            if kind
                .fields
                .iter()
                .any(|f| f.absolute_order > 24 || f.change_order > 24)
            {
                return Err(SchemaError::BadCodeOrder(kind.name));
            }
        }
        Ok(())
    }

    /// The kind's schema, if the schema has it.
    pub fn kind(&self, kind: EntityKind) -> Option<&KindSchema> {
        self.kinds.get(usize::from(kind.0))
    }

    /// Predicts `baseline` `ticks` ticks ahead by the declared rules, into
    /// `out` (cleared first; its tick is left to the caller). Entities of
    /// unknown kinds are kept as they are.
    pub fn extrapolate(&self, baseline: &WorldSnapshot, ticks: u32, out: &mut Vec<EntityState>) {
        out.clear();
        out.extend(
            baseline
                .entities()
                .iter()
                .filter_map(|e| self.extrapolate_entity(e, ticks)),
        );
    }

    /// One entity `ticks` ahead, or `None` when its rules despawn it.
    pub fn extrapolate_entity(&self, entity: &EntityState, ticks: u32) -> Option<EntityState> {
        let Some(kind) = self.kind(entity.kind) else {
            return Some(*entity);
        };
        let mut next = *entity;
        let ticks = i64::from(ticks);
        if let Some(field) = kind.lifetime {
            let left = i64::from(entity.fields[field]) - ticks;
            if left <= 0 {
                return None;
            }
            next.fields[field] = left as i32;
        }
        if let Some(m) = kind.motion {
            for axis in 0..2 {
                let pos = i64::from(entity.fields[m.position[axis]]);
                let vel = i64::from(entity.fields[m.velocity[axis]]);
                let moved = pos + vel * ticks;
                let (lo, hi) = (i64::from(m.min[axis]), i64::from(m.max[axis]));
                let placed = match m.boundary {
                    Boundary::Clamp => moved.clamp(lo, hi),
                    // Straight-line motion out of a box never comes back in,
                    // so the end position decides.
                    Boundary::Despawn if moved < lo || moved > hi => return None,
                    Boundary::Despawn => moved,
                };
                next.fields[m.position[axis]] = placed as i32;
            }
        }
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::EntityId;

    const F: FieldSchema = FieldSchema {
        name: "f",
        absolute_order: 4,
        change_order: 2,
    };
    const KINDS: &[KindSchema] = &[
        KindSchema {
            name: "walker",
            fields: &[F, F, F, F],
            motion: Some(LinearMotion {
                position: [0, 1],
                velocity: [2, 3],
                min: [0, 0],
                max: [100, 100],
                boundary: Boundary::Clamp,
            }),
            lifetime: None,
        },
        KindSchema {
            name: "bullet",
            fields: &[F, F, F, F, F],
            motion: Some(LinearMotion {
                position: [0, 1],
                velocity: [2, 3],
                min: [0, 0],
                max: [100, 100],
                boundary: Boundary::Despawn,
            }),
            lifetime: Some(4),
        },
    ];
    const SCHEMA: Schema = Schema { kinds: KINDS };

    #[test]
    fn the_test_schema_is_valid() {
        assert_eq!(SCHEMA.validate(), Ok(()));
        let bad = Schema {
            kinds: &[KindSchema {
                name: "x",
                fields: &[F],
                motion: None,
                lifetime: Some(3),
            }],
        };
        assert_eq!(bad.validate(), Err(SchemaError::BadFieldIndex("x")));
    }

    #[test]
    fn clamped_motion_stops_at_the_wall_and_keeps_velocity() {
        let e = EntityState::new(EntityId(1), EntityKind(0), &[90, 50, 7, -3]);
        let one = SCHEMA.extrapolate_entity(&e, 1).unwrap();
        assert_eq!(&one.fields[..4], &[97, 47, 7, -3]);
        let many = SCHEMA.extrapolate_entity(&e, 10).unwrap();
        assert_eq!(&many.fields[..4], &[100, 20, 7, -3]);
        // Stepping one tick at a time gives the same answer: clamping a
        // constant velocity is idempotent.
        let mut stepped = e;
        for _ in 0..10 {
            stepped = SCHEMA.extrapolate_entity(&stepped, 1).unwrap();
        }
        assert_eq!(stepped, many);
    }

    #[test]
    fn bullets_despawn_by_lifetime_or_leaving() {
        let e = EntityState::new(EntityId(2), EntityKind(1), &[50, 50, 10, 0, 3]);
        assert_eq!(SCHEMA.extrapolate_entity(&e, 2).unwrap().fields[4], 1);
        assert!(
            SCHEMA.extrapolate_entity(&e, 3).is_none(),
            "lifetime ran out"
        );
        let fast = EntityState::new(EntityId(3), EntityKind(1), &[95, 50, 10, 0, 30]);
        assert!(
            SCHEMA.extrapolate_entity(&fast, 1).is_none(),
            "left the area"
        );
    }
}
