//! The stable fuzz campaign over every decoder a peer reaches in this
//! crate: client frames, server frames and the replica, game inputs, chat
//! event payloads. The server's session campaign is in
//! `server/src/testing/fuzz.rs`.
//!
//! ```text
//! TICKWIRE_FUZZ_CASES=1000000 cargo test --release -p tickwire-shared --test fuzz -- --nocapture
//! ```
//!
//! `TICKWIRE_FUZZ_SEED` varies the seed (printed); `TICKWIRE_FUZZ_REPLAY`
//! (hex) runs one reported input through every target. Without them each
//! target runs a short, fixed campaign (CI).
//!
//! Properties, for every input: no panic; whatever decodes re-encodes to a
//! frame that decodes to the same message; one decode allocates at most
//! [`alloc_bound`]; an update either applies to a replica with the
//! server's checksum or is an error; a game input that validates is finite
//! and in range.
//!
//! A new decoder (auth tokens, resume) is one more `#[test]` calling
//! `support::run(name, cases, max_len, corpus, target)`.

#[path = "fuzz/support.rs"]
mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use tickwire_shared::arena::{Arena, ArenaBot, ArenaConfig, ArenaInput, BotConfig, SCHEMA};
use tickwire_shared::chat;
use tickwire_shared::client::replica::Replica;
use tickwire_shared::codec::{
    self, MAX_CLIENT_FRAME, MAX_SERVER_FRAME, decode_client, decode_server, decode_value,
};
use tickwire_shared::delta::DeltaEncoder;
use tickwire_shared::game::{Game, GameOptions, PlayerInput};
use tickwire_shared::ids::PlayerId;
use tickwire_shared::protocol::samples::{client_messages, server_messages};
use tickwire_shared::protocol::{ServerMessage, Update};
use tickwire_shared::snapshot::WorldSnapshot;
use tickwire_shared::tick::Tick;

/// Cases per target without `TICKWIRE_FUZZ_CASES`.
const CI_CASES: u64 = 20_000;

#[global_allocator]
static ALLOC: Counting = Counting;

/// What one decode may allocate, whatever its length fields claim: a
/// fixed part (bincode's buffers, a capped preallocation) and a part in
/// proportion to the frame (a decoded message takes more room than its
/// bytes: an empty byte string is one byte on the wire, 24 in a `Vec`,
/// doubled while the vector grows).
fn alloc_bound(len: usize) -> usize {
    8 * 1024 + 64 * len
}

fn client_corpus() -> Vec<Vec<u8>> {
    client_messages()
        .iter()
        .map(|(_, m)| {
            let mut out = Vec::new();
            codec::encode_client(m, &mut out).expect("encodes");
            out
        })
        .collect()
}

fn server_corpus() -> Vec<Vec<u8>> {
    server_messages()
        .iter()
        .map(|(_, m)| {
            let mut out = Vec::new();
            codec::encode_server(m, &mut out).expect("encodes");
            out
        })
        .collect()
}

/// Decodes `input` with `decode` under the allocation bound.
fn bounded<T>(input: &[u8], decode: impl FnOnce(&[u8]) -> T) -> T {
    let base = reset_peak();
    let value = decode(input);
    let peak = peak_since(base);
    assert!(
        peak <= alloc_bound(input.len()),
        "decoding {} bytes allocated {peak} bytes",
        input.len()
    );
    value
}

#[test]
fn client_frames() {
    support::run("client_frames", CI_CASES, 512, client_corpus(), |input| {
        let Ok(msg) = bounded(input, |b| decode_client(b, MAX_CLIENT_FRAME)) else {
            return false;
        };
        let mut again = Vec::new();
        codec::encode_client(&msg, &mut again).expect("a decoded message encodes");
        assert_eq!(
            decode_client(&again, usize::MAX).as_ref(),
            Ok(&msg),
            "re-encoded"
        );
        true
    });
}

#[test]
fn server_frames() {
    support::run("server_frames", CI_CASES, 1024, server_corpus(), |input| {
        let Ok(msg) = bounded(input, |b| decode_server(b, MAX_SERVER_FRAME)) else {
            return false;
        };
        let mut again = Vec::new();
        codec::encode_server(&msg, &mut again).expect("a decoded message encodes");
        assert_eq!(
            decode_server(&again, usize::MAX).as_ref(),
            Ok(&msg),
            "re-encoded"
        );
        true
    });
}

/// Inputs the campaign once found, each a fix: they decode to errors
/// within the allocation bound.
#[test]
fn regressions() {
    let found = [
        // A client Event whose string claims 65535 bytes: bincode
        // allocated the claim (64 KiB) before reading.
        "010101056101036d6170fbffff",
        // A server Event whose data claims u64::MAX bytes: serde's Vec
        // preallocated 1 MiB.
        "060a726f756e645f6f766572fdffffffffffffffff",
    ];
    for hex in found {
        let frame = tickwire_shared::fuzz::unhex(hex).expect("hex");
        assert!(bounded(&frame, |b| decode_client(b, MAX_CLIENT_FRAME)).is_err());
        assert!(bounded(&frame, |b| decode_server(b, MAX_SERVER_FRAME)).is_err());
    }
}

/// Worlds of a seeded arena with bots, one per tick from tick 1.
fn arena_worlds(players: u32, ticks: u32) -> Vec<WorldSnapshot> {
    let mut game = Arena::new(&ArenaConfig::default(), &GameOptions::default(), 7).expect("arena");
    let mut bots: Vec<ArenaBot> = (0..players)
        .map(|p| {
            game.seat(PlayerId(p)).expect("seat");
            ArenaBot::new(BotConfig::default(), 7, u64::from(p))
        })
        .collect();
    (1..=ticks)
        .map(|t| {
            let inputs: Vec<_> = bots
                .iter_mut()
                .enumerate()
                .map(|(p, bot)| PlayerInput {
                    player: PlayerId(p as u32),
                    input: bot.next_input(),
                })
                .collect();
            game.advance(&inputs);
            let mut world = WorldSnapshot::empty(Tick(t));
            game.snapshot(&mut world);
            world.finish().expect("unique ids");
            world
        })
        .collect()
}

fn update_frame(baseline: Option<&WorldSnapshot>, current: &WorldSnapshot) -> Vec<u8> {
    let mut frame = Vec::new();
    codec::encode_update_header(
        current.tick,
        baseline.map(|b| b.tick),
        0,
        current.checksum(),
        &mut frame,
    )
    .expect("header");
    DeltaEncoder::new()
        .encode(&SCHEMA, baseline, current, &mut frame)
        .expect("encodes");
    frame
}

fn decode_update(frame: &[u8]) -> Result<Update, codec::DecodeError> {
    match decode_server(frame, MAX_SERVER_FRAME)? {
        ServerMessage::Update(update) => Ok(update),
        _ => Err(codec::DecodeError::Malformed("not an update")),
    }
}

#[test]
fn updates_into_a_replica() {
    // The replica holds tick 10; the corpus is deltas from it to later
    // ticks, and full snapshots.
    let worlds = arena_worlds(12, 20);
    let base = &worlds[9];
    let full = decode_update(&update_frame(None, base)).expect("full snapshot");
    let mut corpus = vec![update_frame(None, &worlds[10])];
    corpus.extend(worlds[10..].iter().map(|w| update_frame(Some(base), w)));
    support::run("updates_into_a_replica", CI_CASES, 2048, corpus, |input| {
        let Ok(update) = bounded(input, decode_update) else {
            return false;
        };
        let mut replica = Replica::new(SCHEMA);
        replica.apply(&full).expect("the baseline applies");
        let base = reset_peak();
        let applied = replica.apply(&update).map(WorldSnapshot::checksum);
        let peak = peak_since(base);
        // The delta may create entities: bound by what the world can hold,
        // not by the frame.
        assert!(
            peak <= 1 << 20,
            "applying {} bytes allocated {peak}",
            input.len()
        );
        if let Ok(checksum) = applied {
            assert_eq!(checksum, update.checksum, "applied, so the checksum agrees");
        }
        applied.is_ok()
    });
}

#[test]
fn arena_inputs() {
    let game = Arena::new(&ArenaConfig::default(), &GameOptions::default(), 1).expect("arena");
    let seeds = [
        ArenaInput::default(),
        ArenaInput {
            move_x: 1.0,
            move_y: -1.0,
            aim: 3.0,
            fire: true,
        },
        ArenaInput {
            move_x: f32::NAN,
            move_y: f32::INFINITY,
            aim: f32::NEG_INFINITY,
            fire: false,
        },
        ArenaInput {
            move_x: f32::MAX,
            move_y: f32::MIN_POSITIVE,
            aim: 1e30,
            fire: true,
        },
    ];
    let corpus = seeds
        .iter()
        .map(|i| {
            let mut out = Vec::new();
            codec::encode_value(i, &mut out).expect("encodes");
            out
        })
        .collect();
    support::run("arena_inputs", CI_CASES, 64, corpus, |input| {
        let Ok(decoded) = bounded(input, |b| decode_value::<ArenaInput>(b, MAX_CLIENT_FRAME))
        else {
            return false;
        };
        let Ok(valid) = game.validate_input(decoded) else {
            return false;
        };
        let ArenaInput {
            move_x,
            move_y,
            aim,
            ..
        } = valid;
        assert!(
            move_x.is_finite() && move_y.is_finite() && aim.is_finite(),
            "{valid:?}"
        );
        assert!(
            move_x.hypot(move_y) <= 1.0 + 1e-5,
            "a validated move is at most unit length: {valid:?}"
        );
        true
    });
}

#[test]
fn chat_payloads() {
    let corpus: Vec<Vec<u8>> = [
        r#"{"text":"hello"}"#,
        r#"{"to":2,"text":"psst"}"#,
        r#"{"player":1,"reason":"spam"}"#,
        r#"{"topic":"maps"}"#,
        r#"{"question":"pizza?","timeout_ms":1000}"#,
        r#"{"poll":1,"question":"pizza?"}"#,
        r#"{"text":"\u00e9\ud83d\ude00","nested":[[[[{"a":1e400}]]]]}"#,
        "true",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    support::run("chat_payloads", CI_CASES, 256, corpus, |input| {
        bounded(input, |b| {
            [
                serde_json::from_slice::<chat::Say>(b).is_ok(),
                serde_json::from_slice::<chat::Whisper>(b).is_ok(),
                serde_json::from_slice::<chat::KickRequest>(b).is_ok(),
                serde_json::from_slice::<chat::Topic>(b).is_ok(),
                serde_json::from_slice::<chat::PollRequest>(b).is_ok(),
                serde_json::from_slice::<chat::Vote>(b).is_ok(),
            ]
            .contains(&true)
                | serde_json::from_slice::<serde_json::Value>(b).is_ok()
        })
    });
}

/// Counts the bytes the current thread has live, and the peak since
/// [`reset_peak`], so that a target can bound what one input allocates.
#[derive(Debug)]
struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn grew(by: usize) {
    let live = LIVE.with(|l| {
        let v = l.get().wrapping_add(by);
        l.set(v);
        v
    });
    PEAK.with(|p| p.set(p.get().max(live)));
}

fn shrank(by: usize) {
    LIVE.with(|l| l.set(l.get().wrapping_sub(by)));
}

// SAFETY: forwards to the system allocator unchanged; the counters are
// const-initialised thread-locals without destructors, so touching them
// never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        shrank(layout.size());
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        grew(new_size);
        shrank(layout.size());
        // SAFETY: the caller's contract is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Starts a new peak measurement; returns the bytes live now.
fn reset_peak() -> usize {
    let live = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(live));
    live
}

/// Bytes allocated at the peak since [`reset_peak`] returned `base`, beyond
/// `base`.
fn peak_since(base: usize) -> usize {
    PEAK.with(Cell::get).saturating_sub(base)
}
