//! Room shards (shell): threads that each run a single-threaded tokio
//! runtime. A room runs on one shard, and the session of every member moves
//! there when it joins (its socket re-registered with that thread's IO
//! driver), so a tick's fan-out to the members, their writes, and the
//! reading of their inputs never wake another thread. Rooms are spread over
//! the shards, so a server with many rooms still uses every core.
//!
//! Why not one work-stealing runtime for everything: a room's tick wakes
//! all its members' sessions at once, and a work-stealing scheduler answers
//! each burst by waking idle workers to share it: on a 16-player room that
//! was ~17 thread wake-ups per tick, and the context switches cost more
//! CPU than the tick itself (see the README's benchmark section).

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;

/// Tells `Shards` instances apart (tests run several servers in one
/// process).
static NEXT_INSTANCE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// On a shard thread: its instance and index.
    static ON_SHARD: Cell<Option<(usize, usize)>> = const { Cell::new(None) };
}

/// Which shard something runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ShardId(usize);

/// The shard threads of one server; dropping this stops them (after the
/// server has finished its tasks, nothing is left on them).
#[derive(Debug)]
pub(crate) struct Shards {
    instance: usize,
    shards: Vec<Shard>,
}

#[derive(Debug)]
struct Shard {
    handle: Handle,
    /// Rooms placed here and not yet stopped.
    rooms: Arc<AtomicUsize>,
    /// Ends the thread's runtime when sent or dropped.
    _stop: oneshot::Sender<()>,
}

/// A room's place on a shard; dropping it (the room stopped) frees the
/// place.
#[derive(Debug)]
pub(crate) struct Placement {
    shard: ShardId,
    rooms: Arc<AtomicUsize>,
}

impl Placement {
    /// The shard the room runs on.
    pub(crate) fn shard(&self) -> ShardId {
        self.shard
    }
}

impl Drop for Placement {
    fn drop(&mut self) {
        self.rooms.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Shards {
    /// Starts `count` shard threads (0: one per available core), named
    /// `tickwire-shard-N`.
    pub(crate) fn start(count: usize) -> io::Result<Self> {
        let count = match count {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let instance = NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed);
        let mut shards = Vec::with_capacity(count);
        for index in 0..count {
            let runtime = Builder::new_current_thread().enable_all().build()?;
            let handle = runtime.handle().clone();
            let (stop, stopped) = oneshot::channel::<()>();
            std::thread::Builder::new()
                .name(format!("tickwire-shard-{index}"))
                .spawn(move || {
                    ON_SHARD.with(|on| on.set(Some((instance, index))));
                    // Runs the spawned tasks until told to stop (or the
                    // `Shards` is dropped); dropping the runtime then drops
                    // whatever is left.
                    runtime.block_on(async {
                        let _ = stopped.await;
                    });
                })?;
            shards.push(Shard {
                handle,
                rooms: Arc::new(AtomicUsize::new(0)),
                _stop: stop,
            });
        }
        Ok(Self { instance, shards })
    }

    /// How many shards there are.
    pub(crate) fn len(&self) -> usize {
        self.shards.len()
    }

    /// Places a new room on the shard with the fewest rooms.
    pub(crate) fn place_room(&self) -> Placement {
        let (index, shard) = self
            .shards
            .iter()
            .enumerate()
            .min_by_key(|(_, s)| s.rooms.load(Ordering::Relaxed))
            .expect("at least one shard");
        shard.rooms.fetch_add(1, Ordering::Relaxed);
        Placement {
            shard: ShardId(index),
            rooms: Arc::clone(&shard.rooms),
        }
    }

    /// The runtime of the shard that hosts the QUIC endpoint: the first,
    /// which rooms also fill first (see [`Shards::place_room`]), so that
    /// on a server with one room the endpoint, the room and its members'
    /// connections share a thread.
    pub(crate) fn endpoint_runtime(&self) -> &Handle {
        &self.shards[0].handle
    }

    /// Runs `future` on `shard`.
    pub(crate) fn spawn<F>(&self, shard: ShardId, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.shards[shard.0].handle.spawn(future);
    }

    /// Which shard the calling task runs on, if it runs on one of these.
    pub(crate) fn current(&self) -> Option<ShardId> {
        match ON_SHARD.with(Cell::get) {
            Some((instance, index)) if instance == self.instance => Some(ShardId(index)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_go_to_the_least_loaded_shard_and_free_their_place() {
        let shards = Shards::start(2).expect("shards");
        assert_eq!(shards.len(), 2);
        let a = shards.place_room();
        let b = shards.place_room();
        assert_ne!(a.shard(), b.shard());
        let a_shard = a.shard();
        drop(a);
        assert_eq!(shards.place_room().shard(), a_shard);
    }

    #[test]
    fn tasks_run_on_their_shard_and_know_it() {
        let shards = Arc::new(Shards::start(2).expect("shards"));
        let (tx, rx) = std::sync::mpsc::channel();
        for index in 0..2 {
            let (shards2, tx) = (Arc::clone(&shards), tx.clone());
            shards.spawn(ShardId(index), async move {
                let name = std::thread::current().name().map(str::to_owned);
                tx.send((index, shards2.current(), name)).expect("send");
            });
        }
        let mut seen: Vec<_> = (0..2)
            .map(|_| {
                rx.recv_timeout(std::time::Duration::from_secs(5))
                    .expect("task ran")
            })
            .collect();
        seen.sort_by_key(|s| s.0);
        for (index, current, name) in seen {
            assert_eq!(current, Some(ShardId(index)));
            assert_eq!(name, Some(format!("tickwire-shard-{index}")));
        }
        assert_eq!(shards.current(), None);
    }
}
