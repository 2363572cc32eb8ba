//! The client's copy of a room's world: turns the server's updates back
//! into worlds, checks every checksum, and says what to acknowledge.

use crate::delta::history::SnapshotHistory;
use crate::delta::{DeltaDecoder, DeltaError};
use crate::protocol::{Ack, Update};
use crate::schema::Schema;
use crate::snapshot::WorldSnapshot;
use crate::tick::Tick;

/// How many recent worlds a replica keeps as possible baselines. The server
/// only encodes against states younger than its own baseline limit, which
/// must be below this.
pub const REPLICA_HISTORY: usize = 64;

/// Why an update was not applied. The replica is unchanged by a failed
/// update; a client answers by not acknowledging it (the server keeps
/// encoding against the last acknowledged state, or sends a full snapshot).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplicaError {
    /// Not newer than the newest world held (reordered or duplicated).
    #[error("update {tick} is not newer than {latest}")]
    Stale {
        /// The update's tick.
        tick: Tick,
        /// The newest world held.
        latest: Tick,
    },
    /// The baseline is not (or no longer) held.
    #[error("baseline {0} is not held")]
    UnknownBaseline(Tick),
    /// The delta does not decode.
    #[error(transparent)]
    Delta(#[from] DeltaError),
    /// The rebuilt world differs from the server's.
    #[error("checksum mismatch at {tick}: server {expected:#010x}, rebuilt {actual:#010x}")]
    ChecksumMismatch {
        /// The update's tick.
        tick: Tick,
        /// The server's checksum.
        expected: u32,
        /// The rebuilt world's checksum.
        actual: u32,
    },
}

/// A client's copy of a room's world.
#[derive(Debug)]
pub struct Replica {
    schema: Schema,
    history: SnapshotHistory,
    decoder: DeltaDecoder,
    scratch: WorldSnapshot,
}

impl Replica {
    /// An empty replica for a game with this schema.
    pub fn new(schema: Schema) -> Self {
        Self {
            schema,
            history: SnapshotHistory::new(REPLICA_HISTORY),
            decoder: DeltaDecoder::new(),
            scratch: WorldSnapshot::default(),
        }
    }

    /// Applies an update and returns the new world. The checksum is checked
    /// before the world is kept.
    pub fn apply(&mut self, update: &Update) -> Result<&WorldSnapshot, ReplicaError> {
        if let Some(latest) = self.history.latest().map(|w| w.tick)
            && update.tick <= latest
        {
            return Err(ReplicaError::Stale {
                tick: update.tick,
                latest,
            });
        }
        let baseline = match update.baseline {
            None => None,
            Some(tick) => Some(
                self.history
                    .get(tick)
                    .ok_or(ReplicaError::UnknownBaseline(tick))?,
            ),
        };
        self.decoder.apply(
            &self.schema,
            baseline,
            update.tick,
            &update.delta,
            &mut self.scratch,
        )?;
        let actual = self.scratch.checksum();
        if actual != update.checksum {
            return Err(ReplicaError::ChecksumMismatch {
                tick: update.tick,
                expected: update.checksum,
                actual,
            });
        }
        let world = std::mem::take(&mut self.scratch);
        if let Some(reused) = self.history.insert(world) {
            self.scratch = reused;
        }
        Ok(self
            .history
            .latest()
            .expect("just inserted the newest world"))
    }

    /// The newest world, if any.
    pub fn latest(&self) -> Option<&WorldSnapshot> {
        self.history.latest()
    }

    /// The world at `tick`, if still held (the last [`REPLICA_HISTORY`]
    /// received); useful to interpolate between ticks.
    pub fn world_at(&self, tick: Tick) -> Option<&WorldSnapshot> {
        self.history.get(tick)
    }

    /// What to acknowledge: the newest world held.
    pub fn ack(&self) -> Option<Ack> {
        self.latest().map(|w| Ack { tick: w.tick })
    }

    /// Forgets every world (after leaving a room).
    pub fn reset(&mut self) {
        self.history.clear();
    }
}
