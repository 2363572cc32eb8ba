//! The session campaign: a fuzzed client in a harness room beside a witness.
//! Each case is a script (frames, time, keep-alives, a hang-up) decoded
//! from the fuzzed bytes, run against a fresh server: Hello first or not,
//! valid, mutated and random frames. Whatever the script, nothing panics;
//! the fuzzed session ends open, or closed with a reason; the witness is
//! never closed, and its replica applies every update it receives (so the
//! checksums agree).
//!
//! ```text
//! TICKWIRE_FUZZ_CASES=100000 cargo test --release -p tickwire-server --lib fuzz -- --nocapture
//! ```
//!
//! The settings (`TICKWIRE_FUZZ_CASES`, `_SEED`, `_REPLAY`) are those of
//! `shared/tests/fuzz.rs`, read by the same support file.

#[path = "../../../shared/tests/fuzz/support.rs"]
mod support;

use std::time::Duration;

use tickwire_shared::arena::{Arena, ArenaInput, ECHO_EVENT};
use tickwire_shared::chat::Chat;
use tickwire_shared::client::replica::Replica;
use tickwire_shared::codec;
use tickwire_shared::game::{Game, GameOptions};
use tickwire_shared::ids::RoomId;
use tickwire_shared::protocol::samples::client_messages;
use tickwire_shared::protocol::{
    Ack, ClientMessage, CreateRoom, Hello, Inputs, JoinRoom, PROTOCOL_VERSION, Role, RoomEvent,
    RoomTarget, ServerMessage, Visibility,
};

use super::{ClientId, Harness};
use crate::config::ServerConfig;

/// One tick at the games' 30 Hz.
const TICK: Duration = Duration::from_nanos(33_333_334);
/// Cases per target without `TICKWIRE_FUZZ_CASES`: a fresh server each.
const CI_CASES: u64 = 2_000;
/// Longest script: a few dozen frames.
const MAX_SCRIPT: usize = 1024;

fn frame(message: &ClientMessage) -> Vec<u8> {
    let mut out = Vec::new();
    codec::encode_client(message, &mut out).expect("encodes");
    out
}

/// A script's first byte picks what happens before it, so that most
/// mutations keep a session that got somewhere: `0` nothing, `1` a Hello,
/// `2` a Hello and a join as a player of the witness's room, `3` the same
/// as a spectator, `4` a Hello resuming a token nobody issued (modulo 5).
fn preamble<G: Game>(h: &mut Harness<G>, client: ClientId, room: RoomId, choice: u8) {
    match choice % 5 {
        0 => {}
        1 => h.send_raw(client, hello()),
        4 => h.send_raw(client, resuming_hello()),
        role => {
            h.send_raw(client, hello());
            let role = if role == 2 {
                Role::Player
            } else {
                Role::Spectator
            };
            h.send_raw(client, join(room, role));
        }
    }
}

/// Script ops, after the preamble byte: `0..=4` send a frame (a length byte, 255 then a u16 for
/// longer, then the bytes), `5` advance by the next byte in milliseconds,
/// `6` a keep-alive, `7` hang up and stop.
fn script(preamble: u8, frames: &[Vec<u8>], advance_ms: u8) -> Vec<u8> {
    let mut out = vec![preamble];
    for f in frames {
        out.push(0);
        if f.len() < 255 {
            out.push(f.len() as u8);
        } else {
            out.push(255);
            out.extend_from_slice(&(f.len() as u16).to_le_bytes());
        }
        out.extend_from_slice(f);
        out.extend_from_slice(&[5, advance_ms]);
    }
    out
}

fn hello() -> Vec<u8> {
    frame(&ClientMessage::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        client_name: "fuzz".into(),
        auth_ticket: None,
        resume_token: None,
        resume_from: None,
    }))
}

/// A Hello resuming a token nobody issued, holding some world.
fn resuming_hello() -> Vec<u8> {
    frame(&ClientMessage::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        client_name: "fuzz".into(),
        auth_ticket: None,
        resume_token: Some(tickwire_shared::protocol::ResumeToken([0x5a; 16])),
        resume_from: Some(tickwire_shared::tick::Tick(3)),
    }))
}

fn join(room: RoomId, role: Role) -> Vec<u8> {
    frame(&ClientMessage::JoinRoom(JoinRoom {
        request_id: 2,
        target: RoomTarget::Id(room),
        role,
        join_options: GameOptions::default(),
    }))
}

fn event(name: &str, data: &[u8]) -> Vec<u8> {
    frame(&ClientMessage::Event(RoomEvent {
        name: name.into(),
        data: data.to_vec(),
        ack_id: Some(1),
    }))
}

/// Scripts from valid frames: every sample with each preamble; a
/// player's and a spectator's session in the witness's room with the
/// game's `events`.
fn corpus(room: RoomId, events: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let samples: Vec<Vec<u8>> = client_messages().iter().map(|(_, m)| frame(m)).collect();
    let mut corpus: Vec<Vec<u8>> = samples
        .iter()
        .flat_map(|s| {
            [
                script(0, std::slice::from_ref(s), 1),
                script(1, std::slice::from_ref(s), 40),
                script(2, &[s.clone(), s.clone()], 34),
                script(3, std::slice::from_ref(s), 34),
                script(4, std::slice::from_ref(s), 34),
            ]
        })
        .collect();
    let mut input = Vec::new();
    codec::encode_value(&ArenaInput::default(), &mut input).expect("encodes");
    let inputs = frame(&ClientMessage::Inputs(Inputs {
        newest_seq: 1,
        inputs: vec![input],
        ack: None,
    }));
    // In the room by the preamble, or by a join the mutations can reach.
    let lobby = [join(room, Role::Player), join(room, Role::Spectator)];
    for (preamble, lead) in [(2, None), (3, None), (1, Some(0)), (1, Some(1))] {
        let mut frames: Vec<Vec<u8>> = lead.map(|i| lobby[i].clone()).into_iter().collect();
        frames.push(inputs.clone());
        frames.extend(events.iter().cloned());
        frames.push(frame(&ClientMessage::Ack(Ack {
            tick: tickwire_shared::tick::Tick(3),
        })));
        frames.extend(samples.iter().skip(5).cloned());
        corpus.push(script(preamble, &frames, 34));
    }
    corpus
}

/// A harness with a witness in a room of its own making, its replica up to
/// date.
fn with_witness<G: Game>() -> (Harness<G>, ClientId, RoomId, Replica) {
    let mut h = Harness::<G>::new(ServerConfig::default(), Default::default());
    let witness = h.connect();
    h.hello(witness, "witness");
    h.send(
        witness,
        &ClientMessage::CreateRoom(CreateRoom {
            request_id: 1,
            game: None,
            name: "fuzzed".into(),
            visibility: Visibility::Public,
            max_players: 8,
            options: GameOptions::default(),
            join_as: Some(Role::Player),
            join_options: GameOptions::default(),
        }),
    );
    let mut replica = Replica::new(G::SCHEMA);
    let mut room = None;
    // The join happens at the room's first tick (the chat ticks slower
    // than the arena).
    for _ in 0..30 {
        h.advance(TICK);
        for m in h.received(witness) {
            if let ServerMessage::Joined(j) = &m {
                room = Some(j.room.id);
            }
            witnessed(&mut replica, &m);
        }
        if room.is_some() {
            break;
        }
    }
    (h, witness, room.expect("the witness joined"), replica)
}

fn witnessed(replica: &mut Replica, message: &ServerMessage) -> Option<Ack> {
    let ServerMessage::Update(update) = message else {
        return None;
    };
    if let Err(e) = replica.apply(update) {
        panic!("the witness's update {} did not apply: {e}", update.tick);
    }
    replica.ack()
}

/// Runs one script and checks the outcome; whether the fuzzed client got
/// into a room.
fn session_case<G: Game>(input: &[u8]) -> bool {
    let (mut h, witness, room, mut replica) = with_witness::<G>();
    let fuzzed = h.connect();
    let Some((&choice, mut rest)) = input.split_first() else {
        return false;
    };
    preamble(&mut h, fuzzed, room, choice);
    let mut in_room = false;
    while let Some((&op, tail)) = rest.split_first() {
        in_room |= h.session(fuzzed).room().is_some();
        rest = tail;
        match op % 8 {
            0..=4 => {
                let mut len = rest.first().map_or(0, |&b| usize::from(b));
                rest = rest.get(1..).unwrap_or_default();
                if len == 255 && rest.len() >= 2 {
                    len = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
                    rest = &rest[2..];
                }
                let (frame, tail) = rest.split_at(len.min(rest.len()));
                rest = tail;
                h.send_raw(fuzzed, frame.to_vec());
            }
            5 => {
                let ms = rest.first().copied().unwrap_or(1);
                rest = rest.get(1..).unwrap_or_default();
                h.advance(Duration::from_millis(u64::from(ms)));
                keep_up(&mut h, witness, &mut replica);
            }
            6 => h.keepalive(fuzzed),
            _ => {
                h.hang_up(fuzzed);
                break;
            }
        }
    }
    for _ in 0..3 {
        h.advance(TICK);
        keep_up(&mut h, witness, &mut replica);
    }
    let session = h.session(fuzzed);
    assert_eq!(
        session.is_closed(),
        h.closed(fuzzed).is_some(),
        "a closed session has a reason: {:?}",
        session.state()
    );
    assert!(
        h.closed(witness).is_none(),
        "the witness stays: {:?}",
        h.closed(witness)
    );
    assert!(replica.latest().is_some(), "the witness has a world");
    in_room || h.session(fuzzed).room().is_some()
}

/// The witness applies what it received and acknowledges the newest world.
fn keep_up<G: Game>(h: &mut Harness<G>, witness: ClientId, replica: &mut Replica) {
    let mut ack = None;
    for m in h.received(witness) {
        ack = witnessed(replica, &m).or(ack);
    }
    if let Some(ack) = ack {
        h.send(witness, &ClientMessage::Ack(ack));
    }
}

#[test]
fn arena_sessions() {
    let (_, _, room, _) = with_witness::<Arena>();
    let events = vec![event(ECHO_EVENT, b"ping"), event("nope", b"")];
    support::run(
        "arena_sessions",
        CI_CASES,
        MAX_SCRIPT,
        corpus(room, &events),
        session_case::<Arena>,
    );
}

#[test]
fn chat_sessions() {
    let (_, _, room, _) = with_witness::<Chat>();
    let events = [
        ("say", r#"{"text":"hello"}"#),
        ("whisper", r#"{"to":1,"text":"psst"}"#),
        ("kick", r#"{"player":1,"reason":"x"}"#),
        ("topic", r#"{"topic":"maps"}"#),
        ("poll", r#"{"question":"pizza?","timeout_ms":50}"#),
        ("lock", "null"),
        ("close", "null"),
    ]
    .iter()
    .map(|(name, data)| event(name, data.as_bytes()))
    .collect::<Vec<_>>();
    support::run(
        "chat_sessions",
        CI_CASES,
        MAX_SCRIPT,
        corpus(room, &events),
        session_case::<Chat>,
    );
}
