//! Steady-state ticks allocate (almost) nothing: a 16-player arena room
//! runs 100 ticks after warm-up through the room, the members' fan-out and
//! their outboxes (the path every update takes to a socket), with a
//! counting global allocator, and the allocations stay within a budget
//! that does not grow with the number of players.
//!
//! The budget, per tick:
//! - 2 for each distinct baseline the updates are encoded against: the
//!   encoded update is copied once into a `Bytes` every member on that
//!   baseline shares, and the first clone of it allocates the shared
//!   header (`bytes` promotes a `Vec`-backed buffer on first clone). Here
//!   every member acknowledges the previous tick, so there is one baseline.
//! - 2 on a tick that pings (every 30 ticks at 30 Hz and 1 s heartbeats):
//!   the ping frame, encoded once for all members, and its shared header.
//!
//! Everything else (the game's step, the snapshot, the delta encoder, the
//! per-member queues, the metrics) reuses what warm-up allocated.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use tickwire_server::metrics::Metrics;
use tickwire_server::outbox::{Outbox, Outgoing};
use tickwire_server::room::Room;
use tickwire_server::room::members::Members;
use tickwire_server::session::{Now, RoomInput, Transmit};
use tickwire_shared::arena::{Arena, ArenaConfig, ArenaInput};
use tickwire_shared::codec;
use tickwire_shared::game::EventLimits;
use tickwire_shared::game::{Game, GameOptions, JoinRequest};
use tickwire_shared::ids::{PlayerId, RoomId};
use tickwire_shared::protocol::{Inputs, Role};

/// Counts allocations (and reallocations) while `COUNTING` is set.
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: defers to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const PLAYERS: u32 = 16;
const WARM_UP: u32 = 300;
const MEASURED: u32 = 100;

/// One member's client side: its outbox, and the inputs it will send
/// (built before measuring: they are the client's allocations, not the
/// server's).
struct Client {
    player: PlayerId,
    outbox: Arc<Outbox>,
}

/// Moves every frame out of the outboxes, as the session's shell would,
/// and drops them (the client's socket).
fn drain(clients: &[Client]) -> u64 {
    let mut frames = 0;
    for client in clients {
        while let Some(next) = client.outbox.take() {
            client.outbox.written();
            if let Outgoing::Frame(frame, _) = next {
                frames += 1;
                drop(frame);
            }
        }
    }
    frames
}

#[test]
fn a_sixteen_player_room_ticks_within_its_allocation_budget() {
    let metrics = Arc::new(Metrics::new());
    let game = Arena::new(&ArenaConfig::default(), &GameOptions::default(), 7).expect("arena");
    let period = game.tick_rate().period();
    let mut room = Room::new(game, 32, 4096, EventLimits::default());
    let mut members = Members::new(RoomId(1), 30, Arc::clone(&metrics));
    let start = Instant::now();
    let at = |tick: u32| Now {
        at: start + period * tick,
        unix_us: 1_750_000_000_000_000 + u64::from(tick) * 33_333,
    };
    let clients: Vec<Client> = (1..=PLAYERS)
        .map(|p| {
            let outbox = Arc::new(Outbox::new(None, 64));
            outbox.queue(Transmit::OpenUpdates, at(0));
            members
                .join(
                    &mut room,
                    &JoinRequest {
                        player: PlayerId(p),
                        name: "bot",
                        role: Role::Player,
                        options: &GameOptions::default(),
                        identity: None,
                    },
                    Arc::clone(&outbox),
                )
                .expect("joins");
            Client {
                player: PlayerId(p),
                outbox,
            }
        })
        .collect();
    let mut input = Vec::new();
    codec::encode_value(
        &ArenaInput {
            move_x: 1.0,
            move_y: 0.5,
            aim: 0.3,
            fire: true,
        },
        &mut input,
    )
    .expect("encodes");
    // Every input message of the run, built up front.
    let total = WARM_UP + MEASURED;
    let mut messages: Vec<Vec<Inputs>> = (0..total)
        .map(|tick| {
            (0..PLAYERS)
                .map(|_| Inputs {
                    newest_seq: tick + 1,
                    inputs: vec![input.clone()],
                    ack: (tick > 0).then_some(tickwire_shared::tick::Tick(tick)),
                })
                .collect()
        })
        .collect();
    messages.reverse();

    let mut frames = 0;
    for tick in 0..total {
        if tick == WARM_UP {
            COUNTING.store(true, Ordering::SeqCst);
        }
        let inputs = messages.pop().expect("built for every tick");
        for (client, inputs) in clients.iter().zip(inputs) {
            members.receive(&mut room, client.player, RoomInput::Inputs(inputs));
        }
        room.step();
        members.fan_out(&mut room, at(tick + 1), 0);
        let sent = drain(&clients);
        if tick >= WARM_UP {
            frames += sent;
        }
    }
    COUNTING.store(false, Ordering::SeqCst);
    let allocations = ALLOCATIONS.load(Ordering::SeqCst);

    let ping_ticks = u64::from(MEASURED.div_ceil(30));
    let budget = 2 * u64::from(MEASURED) + 2 * ping_ticks;
    println!(
        "{PLAYERS} players, {MEASURED} ticks: {allocations} allocations ({:.2} per tick, budget {budget}), {frames} frames delivered",
        allocations as f64 / f64::from(MEASURED)
    );
    assert!(
        frames >= u64::from(PLAYERS * MEASURED),
        "every member got every update ({frames} frames)"
    );
    assert!(
        allocations <= budget,
        "{allocations} allocations in {MEASURED} ticks, budget {budget}"
    );
}
