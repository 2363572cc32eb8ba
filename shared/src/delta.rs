//! Delta compression of worlds against an acknowledged baseline.
//!
//! [`DeltaEncoder::encode`] first extrapolates the baseline to the current
//! tick by the game's [`Schema`] rules (constant velocity, clamping, despawn
//! on leaving the area or at the end of a lifetime), then writes only what
//! that prediction got wrong. A full snapshot is the delta against the empty
//! world. [`DeltaDecoder::apply`] makes the same prediction and applies the
//! corrections, so the client ends with exactly the server's world.
//!
//! # Bitstream
//!
//! Bits are packed least-significant first; `G(k)` is an exponential-Golomb
//! code of order `k`, `S(k)` the same after the zigzag map (see `bits`).
//! Indices refer to the predicted world (sorted by entity id).
//!
//! ```text
//! changed:  count G(0), then per entity: index gap G(2), field mask
//!           (one bit per field of its kind), per set bit: S(change_order)
//!           of current - predicted (wrapping)
//! removed:  count G(0), then per entity: index gap G(2)
//! created:  count G(0), then per entity: id (first: S(0) of
//!           id - (largest predicted id + 1), wrapping; then G(0) of
//!           id - previous id - 1), kind G(0), every field S(absolute_order)
//! padding:  zero bits to the byte boundary; nothing after it
//! ```
//!
//! An index gap is the distance from the previous entry's index + 1 (from 0
//! for the first); the changed and the removed sections each count from 0.
//! The largest predicted id is that of the last entity of the prediction,
//! after the rules dropped what they drop; with an empty prediction the
//! first created id is coded against 0. Changed and removed entries are disjoint, masks are never
//! zero, and a created id must not exist; anything else is
//! [`DeltaError::Corrupt`]. `docs/protocol.md` states it to the bit.

pub(crate) mod bits;
pub mod history;
pub mod quantize;

use bits::{BitReader, BitWriter};

use crate::ids::EntityId;
use crate::schema::Schema;
use crate::snapshot::{EntityState, MAX_FIELDS, WorldSnapshot};

/// Code order of entry counts.
const COUNT_ORDER: u32 = 0;
/// Code order of index gaps: entries are a few indices apart in small worlds.
const GAP_ORDER: u32 = 2;
/// Code order of created-entity ids and kinds: ids usually follow on.
const ID_ORDER: u32 = 0;

/// Why a delta could not be encoded or applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeltaError {
    /// The data ends before the delta does.
    #[error("delta truncated")]
    Truncated,
    /// Bytes are left after the delta.
    #[error("trailing bytes after the delta")]
    TrailingBytes,
    /// The data does not describe a valid change.
    #[error("corrupt delta: {0}")]
    Corrupt(&'static str),
    /// An entity's kind is not in the schema (encoding only: a game bug).
    #[error("entity kind {0} is not in the schema")]
    UnknownKind(u8),
    /// The baseline is newer than the world it is a baseline for.
    #[error("baseline is newer than the current world")]
    BaselineAfterCurrent,
}

/// Reusable state for encoding deltas; keeps its scratch buffers between
/// calls so steady-state encoding does not allocate.
#[derive(Debug, Default)]
pub struct DeltaEncoder {
    predicted: Vec<EntityState>,
    changed: Vec<(u32, u32, u8)>,
    removed: Vec<u32>,
    created: Vec<u32>,
}

impl DeltaEncoder {
    /// A new encoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends to `out` the delta that turns `baseline` (the empty world when
    /// `None`) into `current`.
    pub fn encode(
        &mut self,
        schema: &Schema,
        baseline: Option<&WorldSnapshot>,
        current: &WorldSnapshot,
        out: &mut Vec<u8>,
    ) -> Result<(), DeltaError> {
        predict(schema, baseline, current.tick, &mut self.predicted)?;
        self.diff(schema, current)?;

        let mut w = BitWriter::new(out);
        w.golomb(self.changed.len() as u32, COUNT_ORDER);
        let mut next = 0;
        for &(p, c, mask) in &self.changed {
            let (was, now) = (&self.predicted[p as usize], &current.entities()[c as usize]);
            let kind = schema
                .kind(now.kind)
                .ok_or(DeltaError::UnknownKind(now.kind.0))?;
            w.golomb(p - next, GAP_ORDER);
            next = p + 1;
            w.bits(u64::from(mask), kind.fields.len() as u32);
            for (i, field) in kind.fields.iter().enumerate() {
                if mask & (1 << i) != 0 {
                    let residual = now.fields[i].wrapping_sub(was.fields[i]);
                    w.signed(residual, u32::from(field.change_order));
                }
            }
        }
        w.golomb(self.removed.len() as u32, COUNT_ORDER);
        let mut next = 0;
        for &p in &self.removed {
            w.golomb(p - next, GAP_ORDER);
            next = p + 1;
        }
        w.golomb(self.created.len() as u32, COUNT_ORDER);
        let mut previous: Option<EntityId> = None;
        for &c in &self.created {
            let e = &current.entities()[c as usize];
            let kind = schema
                .kind(e.kind)
                .ok_or(DeltaError::UnknownKind(e.kind.0))?;
            match previous {
                None => {
                    let expected = next_id(&self.predicted);
                    w.signed(e.id.0.wrapping_sub(expected) as i32, ID_ORDER);
                }
                Some(prev) => w.golomb(e.id.0 - prev.0 - 1, ID_ORDER),
            }
            previous = Some(e.id);
            w.golomb(u32::from(e.kind.0), ID_ORDER);
            for (value, field) in e.fields.iter().zip(kind.fields) {
                w.signed(*value, u32::from(field.absolute_order));
            }
        }
        w.finish();
        Ok(())
    }

    /// Sorts the differences between the prediction and `current` into the
    /// changed, removed and created lists.
    fn diff(&mut self, schema: &Schema, current: &WorldSnapshot) -> Result<(), DeltaError> {
        self.changed.clear();
        self.removed.clear();
        self.created.clear();
        let (predicted, now) = (&self.predicted, current.entities());
        let (mut p, mut c) = (0, 0);
        while p < predicted.len() || c < now.len() {
            match (predicted.get(p), now.get(c)) {
                (Some(a), Some(b)) if a.id == b.id => {
                    if a.kind != b.kind {
                        // Same id, new kind: replaced, not changed.
                        self.removed.push(p as u32);
                        self.created.push(c as u32);
                    } else if a.fields != b.fields {
                        let kind = schema
                            .kind(b.kind)
                            .ok_or(DeltaError::UnknownKind(b.kind.0))?;
                        let mask = (0..kind.fields.len())
                            .filter(|&i| a.fields[i] != b.fields[i])
                            .fold(0u8, |m, i| m | (1 << i));
                        self.changed.push((p as u32, c as u32, mask));
                    }
                    p += 1;
                    c += 1;
                }
                (Some(a), Some(b)) if a.id < b.id => {
                    self.removed.push(p as u32);
                    p += 1;
                }
                (Some(_), None) => {
                    self.removed.push(p as u32);
                    p += 1;
                }
                (_, Some(_)) => {
                    self.created.push(c as u32);
                    c += 1;
                }
                (None, None) => unreachable!("loop condition"),
            }
        }
        Ok(())
    }
}

/// Reusable state for applying deltas.
#[derive(Debug, Default)]
pub struct DeltaDecoder {
    predicted: Vec<EntityState>,
    changes: Vec<(u32, EntityState)>,
    removed: Vec<u32>,
    created: Vec<EntityState>,
}

impl DeltaDecoder {
    /// A new decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds into `out` the world at `tick` from `baseline` (the empty
    /// world when `None`) and the delta `bytes`. On error `out` holds no
    /// meaningful world.
    pub fn apply(
        &mut self,
        schema: &Schema,
        baseline: Option<&WorldSnapshot>,
        tick: crate::tick::Tick,
        bytes: &[u8],
        out: &mut WorldSnapshot,
    ) -> Result<(), DeltaError> {
        predict(schema, baseline, tick, &mut self.predicted)?;
        self.read(schema, bytes)?;

        out.clear(tick);
        let entities = out.entities_mut();
        let (mut changes, mut removed) = (
            self.changes.iter().peekable(),
            self.removed.iter().peekable(),
        );
        let mut created = self.created.iter().peekable();
        for (i, predicted) in self.predicted.iter().enumerate() {
            let i = i as u32;
            let entity = if removed.next_if(|&&r| r == i).is_some() {
                continue;
            } else if let Some((_, changed)) = changes.next_if(|(c, _)| *c == i) {
                *changed
            } else {
                *predicted
            };
            while let Some(new) = created.next_if(|n| n.id < entity.id) {
                entities.push(*new);
            }
            if created.peek().is_some_and(|n| n.id == entity.id) {
                return Err(DeltaError::Corrupt("created entity already exists"));
            }
            entities.push(entity);
        }
        entities.extend(created);
        Ok(())
    }

    /// Parses the bitstream into the change lists, validating as it goes.
    fn read(&mut self, schema: &Schema, bytes: &[u8]) -> Result<(), DeltaError> {
        self.changes.clear();
        self.removed.clear();
        self.created.clear();
        let len = self.predicted.len() as u64;
        let mut r = BitReader::new(bytes);

        let count = r.golomb(COUNT_ORDER)?;
        let mut next = 0u64;
        for _ in 0..count {
            let index = next + u64::from(r.golomb(GAP_ORDER)?);
            if index >= len {
                return Err(DeltaError::Corrupt("changed index out of range"));
            }
            next = index + 1;
            let mut entity = self.predicted[index as usize];
            let kind = schema
                .kind(entity.kind)
                .ok_or(DeltaError::Corrupt("unknown kind"))?;
            let mask = r.bits(kind.fields.len() as u32)?;
            if mask == 0 {
                return Err(DeltaError::Corrupt("empty field mask"));
            }
            for (i, field) in kind.fields.iter().enumerate() {
                if mask & (1 << i) != 0 {
                    let residual = r.signed(u32::from(field.change_order))?;
                    entity.fields[i] = entity.fields[i].wrapping_add(residual);
                }
            }
            self.changes.push((index as u32, entity));
        }

        let count = r.golomb(COUNT_ORDER)?;
        let mut next = 0u64;
        let mut changes = self.changes.iter().peekable();
        for _ in 0..count {
            let index = next + u64::from(r.golomb(GAP_ORDER)?);
            if index >= len {
                return Err(DeltaError::Corrupt("removed index out of range"));
            }
            while changes.next_if(|(c, _)| u64::from(*c) < index).is_some() {}
            if changes.peek().is_some_and(|(c, _)| u64::from(*c) == index) {
                return Err(DeltaError::Corrupt("entity both changed and removed"));
            }
            next = index + 1;
            self.removed.push(index as u32);
        }

        let count = r.golomb(COUNT_ORDER)?;
        // Every created entity costs well over one bit, so a count beyond
        // the bits left is corrupt; checking it bounds the allocation.
        if u64::from(count) > (bytes.len() as u64) * 8 {
            return Err(DeltaError::Corrupt("more created entities than bits"));
        }
        let mut previous: Option<u32> = None;
        for _ in 0..count {
            let id = match previous {
                None => next_id(&self.predicted).wrapping_add(r.signed(ID_ORDER)? as u32),
                Some(prev) => prev
                    .checked_add(1)
                    .and_then(|n| n.checked_add(r.golomb(ID_ORDER).ok()?))
                    .ok_or(DeltaError::Corrupt("created id overflows"))?,
            };
            previous = Some(id);
            let kind_index = r.golomb(ID_ORDER)?;
            let kind_id =
                u8::try_from(kind_index).map_err(|_| DeltaError::Corrupt("unknown kind"))?;
            let kind_id = crate::snapshot::EntityKind(kind_id);
            let kind = schema
                .kind(kind_id)
                .ok_or(DeltaError::Corrupt("unknown kind"))?;
            let mut fields = [0i32; MAX_FIELDS];
            for (slot, field) in fields.iter_mut().zip(kind.fields) {
                *slot = r.signed(u32::from(field.absolute_order))?;
            }
            self.created.push(EntityState {
                id: EntityId(id),
                kind: kind_id,
                fields,
            });
        }
        r.finish()
    }
}

/// The baseline extrapolated to `tick` (empty when there is no baseline).
fn predict(
    schema: &Schema,
    baseline: Option<&WorldSnapshot>,
    tick: crate::tick::Tick,
    out: &mut Vec<EntityState>,
) -> Result<(), DeltaError> {
    match baseline {
        None => {
            out.clear();
            Ok(())
        }
        Some(base) => {
            let age = tick
                .since(base.tick)
                .ok_or(DeltaError::BaselineAfterCurrent)?;
            schema.extrapolate(base, age, out);
            Ok(())
        }
    }
}

/// The id a first created entity is coded against: one past the largest id.
fn next_id(predicted: &[EntityState]) -> u32 {
    predicted.last().map_or(0, |e| e.id.0.wrapping_add(1))
}

/// Encodes one delta with a fresh encoder (convenient; allocates).
pub fn encode(
    schema: &Schema,
    baseline: Option<&WorldSnapshot>,
    current: &WorldSnapshot,
) -> Result<Vec<u8>, DeltaError> {
    let mut out = Vec::new();
    DeltaEncoder::new().encode(schema, baseline, current, &mut out)?;
    Ok(out)
}

/// Applies one delta with a fresh decoder (convenient; allocates).
pub fn apply(
    schema: &Schema,
    baseline: Option<&WorldSnapshot>,
    tick: crate::tick::Tick,
    bytes: &[u8],
) -> Result<WorldSnapshot, DeltaError> {
    let mut out = WorldSnapshot::empty(tick);
    DeltaDecoder::new().apply(schema, baseline, tick, bytes, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests;
