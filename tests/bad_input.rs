//! Bad input of every kind, over real sockets, while a well-behaved
//! "witness" player keeps reading its room's updates: malformed, text and
//! oversize frames; handshakes that never finish and the bound on pending
//! ones; connection caps (in all and per address); requests in the wrong
//! state; unknown and full rooms; NaN, infinite, undecodable and stale
//! inputs; message floods; bad `Hello`s; and abrupt disconnects. Each abuse
//! must get its documented answer (an `Error`, or a `Close`/`Rejected` plus
//! the matching WebSocket close code, or an HTTP 503 or 426), show up in the
//! metrics, and leave the witness's room ticking with every checksum good.

mod support;

use std::time::Duration;

use support::{Client, TestServer, WAIT, code_of, hello};
use tickwire_shared::arena::{ArenaConfig, ArenaInput, PlayerView};
use tickwire_shared::codec;
use tickwire_shared::ids::{PlayerId, RoomId};
use tickwire_shared::protocol::*;
use tickwire_shared::snapshot::WorldSnapshot;
use tickwire_shared::tick::{Tick, TickRate};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

/// A seated player in its own task, reading (and checking, and acking)
/// every update it gets, so the tests can ask whether the room still ticks.
struct Witness {
    room: RoomId,
    tick: watch::Receiver<u32>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Client>,
}

impl Witness {
    /// Greets, creates a public room of `seats` seats as its first player,
    /// and starts reading.
    async fn start(server: &TestServer, seats: u16) -> Self {
        let mut client = Client::greeted(server, "witness").await;
        let room = match client
            .create_room("witnessed", Visibility::Public, seats, Some(Role::Player))
            .await
        {
            Ok(ServerMessage::Joined(joined)) => joined.room.id,
            other => panic!("witness could not create its room: {other:?}"),
        };
        let first = client.until_tick(Tick(0)).await.tick;
        let (tick_tx, tick) = watch::channel(first.0);
        let (stop, mut stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    message = client.recv() => {
                        if message.is_none() {
                            break; // dropping the sender fails `sees_progress`
                        }
                        if let Some(world) = client.replica().latest() {
                            tick_tx.send_replace(world.tick.0);
                        }
                    }
                }
            }
            client
        });
        Self {
            room,
            tick,
            stop: Some(stop),
            task,
        }
    }

    /// Waits (bounded) until the witness holds a world `ticks` newer than
    /// the newest it held when called.
    async fn sees_progress(&mut self, ticks: u32) {
        let target = *self.tick.borrow() + ticks;
        tokio::time::timeout(WAIT, self.tick.wait_for(|&t| t >= target))
            .await
            .unwrap_or_else(|_| panic!("the witness's room stalled before tick {target}"))
            .expect("the witness is still connected");
    }

    /// Stops reading and checks the witness saw nothing wrong.
    async fn finish(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let client = tokio::time::timeout(WAIT, self.task)
            .await
            .expect("witness stops in time")
            .expect("witness task did not panic");
        assert!(
            client.replica_errors.is_empty(),
            "the witness's replica failed: {:?}",
            client.replica_errors
        );
        assert!(
            client.errors.is_empty(),
            "the witness got errors: {:?}",
            client.errors
        );
        assert!(client.updates > 0, "the witness got no updates");
    }
}

/// Opens a raw TCP connection to the server (bounded).
async fn raw(server: &TestServer) -> TcpStream {
    tokio::time::timeout(WAIT, TcpStream::connect(server.addr))
        .await
        .expect("tcp connect in time")
        .expect("tcp connects")
}

/// Reads until the server closes (bounded); what came, even if the end was
/// a reset.
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut bytes = Vec::new();
    let _ = tokio::time::timeout(WAIT, stream.read_to_end(&mut bytes))
        .await
        .expect("the server closes the connection in time");
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Connects and expects an immediate HTTP 503 whose body is `reason`.
async fn expect_refused(server: &TestServer, reason: &str) {
    let mut stream = raw(server).await;
    let response = read_until_closed(&mut stream).await;
    assert!(
        response.starts_with("HTTP/1.1 503"),
        "expected a 503 ({reason}), got {response:?}"
    );
    assert!(
        response.ends_with(&format!("\r\n\r\n{reason}\n")),
        "expected the reason {reason}: {response:?}"
    );
}

/// Whether `GET /healthz` is answered 200 right now. Unlike
/// `TestServer::get` it tolerates a refusal (a 503 followed by a reset).
async fn healthy(server: &TestServer) -> bool {
    let mut stream = raw(server).await;
    let request = "GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    read_until_closed(&mut stream)
        .await
        .starts_with("HTTP/1.1 200")
}

/// `tickwire_connections_rejected_total{reason=...}`.
async fn rejected(server: &TestServer, reason: &str) -> f64 {
    server
        .metric(&format!(
            "tickwire_connections_rejected_total{{reason=\"{reason}\"}}"
        ))
        .await
}

/// `tickwire_sessions_closed_total{reason=...}`.
async fn closed(server: &TestServer, reason: &str) -> f64 {
    server
        .metric(&format!(
            "tickwire_sessions_closed_total{{reason=\"{reason}\"}}"
        ))
        .await
}

/// `tickwire_inputs_dropped_total{reason=...}`.
async fn dropped(server: &TestServer, reason: &str) -> f64 {
    server
        .metric(&format!(
            "tickwire_inputs_dropped_total{{reason=\"{reason}\"}}"
        ))
        .await
}

/// Polls `probe` every 50 ms until it holds (bounded by [`WAIT`]).
async fn eventually(what: &str, mut probe: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !probe().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Asserts the connection ends with `reason`, both in a `Close` (or
/// `Rejected`) message and in the WebSocket close code.
async fn expect_closed_with(client: &mut Client, reason: CloseReason) {
    let ending = client.ending().await;
    assert!(
        matches!(&ending.close, Some((r, _)) if *r == reason),
        "expected a {reason:?} close message: {ending:?}"
    );
    assert_eq!(
        ending.code,
        Some(code_of(reason)),
        "expected the {reason:?} close code: {ending:?}"
    );
}

/// Reads until the next `Error` and returns it.
async fn next_error(client: &mut Client) -> ErrorMessage {
    let before = client.errors.len();
    client
        .expect(|m| match m {
            ServerMessage::Error(e) => Some(e),
            _ => None,
        })
        .await;
    client.errors.remove(before)
}

fn frame_of(message: &ClientMessage) -> Vec<u8> {
    let mut frame = Vec::new();
    codec::encode_client(message, &mut frame).expect("encodes");
    frame
}

fn binary(bytes: Vec<u8>) -> Message {
    Message::Binary(bytes.into())
}

fn joined_room(answer: Result<Joined, ErrorMessage>) -> RoomInfo {
    answer.expect("joined").room
}

/// The avatar of `player` in a replicated world.
fn avatar(world: &WorldSnapshot, player: PlayerId) -> PlayerView {
    world
        .entities()
        .iter()
        .filter_map(|e| PlayerView::from_entity(e, TickRate::ARENA))
        .find(|view| view.player == player)
        .unwrap_or_else(|| panic!("no avatar for {player:?} at {:?}", world.tick))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_text_and_oversize_frames_close_the_session() {
    let server = TestServer::start().await;
    let mut witness = Witness::start(&server, 4).await;

    // Bytes that are no message at all.
    let mut garbage = Client::greeted(&server, "garbage").await;
    garbage.send_raw(binary(vec![0xff, 1, 2])).await;
    expect_closed_with(&mut garbage, CloseReason::MalformedFrame).await;
    witness.sees_progress(15).await;

    // A valid message cut short, from a seated player: the session closes
    // and the seat comes free.
    let mut cut = Client::greeted(&server, "cut").await;
    joined_room(cut.join(RoomTarget::Id(witness.room), Role::Player).await);
    let whole = frame_of(&ClientMessage::JoinRoom(JoinRoom {
        request_id: 7,
        target: RoomTarget::Id(witness.room),
        role: Role::Player,
        join_options: Default::default(),
    }));
    cut.send_raw(binary(whole[..whole.len() / 2].to_vec()))
        .await;
    expect_closed_with(&mut cut, CloseReason::MalformedFrame).await;
    assert_eq!(closed(&server, "malformed_frame").await, 2.0);
    let mut lister = Client::greeted(&server, "lister").await;
    eventually("the cut player's seat is freed", async || {
        lister.list().await[0].players == 1
    })
    .await;
    witness.sees_progress(15).await;

    // A text frame.
    let mut texter = Client::greeted(&server, "texter").await;
    texter.send_raw(Message::Text("{\"hello\":1}".into())).await;
    expect_closed_with(&mut texter, CloseReason::UnsupportedFrame).await;
    assert_eq!(closed(&server, "text_frame").await, 1.0);
    witness.sees_progress(15).await;

    // A frame twice the limit (4 KiB by default).
    let mut big = Client::greeted(&server, "big").await;
    big.send_raw(binary(vec![6; 8 * 1024])).await;
    expect_closed_with(&mut big, CloseReason::FrameTooLarge).await;
    assert_eq!(closed(&server, "frame_too_large").await, 1.0);
    witness.sees_progress(15).await;

    // The lobby still answers.
    assert_eq!(lister.list().await.len(), 1);
    witness.finish().await;
    server.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshakes_that_never_finish_time_out() {
    let server = TestServer::start_with(|c| c.timeouts.handshake_ms = 300).await;
    let mut witness = Witness::start(&server, 4).await;

    // (a) A TCP connection that never sends a request line.
    let started = tokio::time::Instant::now();
    let mut silent = raw(&server).await;
    let said = read_until_closed(&mut silent).await;
    let waited = started.elapsed();
    assert_eq!(said, "", "a silent connection is closed without an answer");
    assert!(
        waited >= Duration::from_millis(250),
        "closed before the handshake timeout: {waited:?}"
    );
    assert!(rejected(&server, "handshake_timeout").await >= 1.0);
    witness.sees_progress(15).await;

    // (b) A WebSocket that is upgraded but never says Hello.
    let mut mute = Client::connect(&server).await;
    expect_closed_with(&mut mute, CloseReason::HandshakeTimeout).await;
    assert!(rejected(&server, "handshake_timeout").await >= 2.0);
    assert_eq!(closed(&server, "handshake_timeout").await, 1.0);
    witness.sees_progress(15).await;

    witness.finish().await;
    server.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_handshakes_are_bounded() {
    let server = TestServer::start_with(|c| {
        c.limits.max_pending_handshakes = 4;
        c.timeouts.handshake_ms = 4_000;
    })
    .await;
    let mut witness = Witness::start(&server, 4).await;

    let mut silent = Vec::new();
    for _ in 0..4 {
        silent.push(raw(&server).await);
    }
    // The accept loop takes connections in order: these four hold every
    // handshake slot, so the fifth is refused at once.
    let asked = tokio::time::Instant::now();
    expect_refused(&server, "handshake_limit").await;
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "the refusal did not wait for the handshake timeout"
    );
    witness.sees_progress(15).await;

    // Closing them frees the slots (a metrics request needs one too).
    drop(silent);
    eventually("handshake slots are released", async || {
        healthy(&server).await
    })
    .await;
    assert!(rejected(&server, "handshake_limit").await >= 1.0);
    let mut late = Client::greeted(&server, "late").await;
    assert_eq!(late.list().await.len(), 1);
    witness.sees_progress(15).await;
    witness.finish().await;
    server.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_caps_refuse_with_503_and_release_slots() {
    // In all: the witness and five more fill six connections.
    let server = TestServer::start_with(|c| c.limits.max_connections = 6).await;
    let mut witness = Witness::start(&server, 4).await;
    let mut others = Vec::new();
    for i in 0..5 {
        others.push(Client::greeted(&server, &format!("c{i}")).await);
    }
    expect_refused(&server, "server_full").await;
    // A WebSocket client sees the same refusal as an HTTP error.
    let refused = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(server.ws_url()))
        .await
        .expect("answer in time");
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 503)
        }
        other => panic!("expected an HTTP 503, got {:?}", other.map(|_| ())),
    }
    witness.sees_progress(15).await;
    // Closing two frees two slots: one for the metrics, one for a player.
    others.truncate(3);
    eventually("connection slots are released", async || {
        healthy(&server).await
    })
    .await;
    assert!(rejected(&server, "server_full").await >= 2.0);
    let mut again = Client::greeted(&server, "again").await;
    assert_eq!(again.list().await.len(), 1);
    witness.sees_progress(15).await;
    witness.finish().await;
    drop(others);
    server.stop().await.expect("clean stop");

    // Per address: everything here comes from 127.0.0.1.
    let server = TestServer::start_with(|c| c.limits.max_connections_per_ip = 4).await;
    let mut witness = Witness::start(&server, 4).await;
    let mut others = Vec::new();
    for i in 0..3 {
        others.push(Client::greeted(&server, &format!("p{i}")).await);
    }
    expect_refused(&server, "ip_limit").await;
    expect_refused(&server, "ip_limit").await;
    witness.sees_progress(15).await;
    others.truncate(1);
    eventually("per-address slots are released", async || {
        healthy(&server).await
    })
    .await;
    assert!(rejected(&server, "ip_limit").await >= 2.0);
    assert_eq!(rejected(&server, "server_full").await, 0.0);
    let mut again = Client::greeted(&server, "again").await;
    assert_eq!(again.list().await.len(), 1);
    witness.sees_progress(15).await;
    witness.finish().await;
    drop(others);
    server.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_state_unknown_and_full_rooms_get_errors() {
    let server = TestServer::start().await;
    let mut witness = Witness::start(&server, 2).await;

    // Inputs and acks before joining a room: an error, and the session
    // goes on.
    let mut early = Client::greeted(&server, "early").await;
    early.input(ArenaInput::default()).await;
    let error = next_error(&mut early).await;
    assert_eq!(error.code, ErrorCode::NotInRoom, "{error:?}");
    assert_eq!(error.request_id, None);
    early.send(&ClientMessage::Ack(Ack { tick: Tick(3) })).await;
    assert_eq!(next_error(&mut early).await.code, ErrorCode::NotInRoom);
    assert_eq!(early.list().await.len(), 1, "the session is still open");

    // A second Hello.
    early.send(&ClientMessage::Hello(hello("again"))).await;
    let error = next_error(&mut early).await;
    assert_eq!(error.code, ErrorCode::InvalidRequest, "{error:?}");
    assert_eq!(early.list().await.len(), 1, "the session is still open");

    // A spectator's inputs.
    let mut watcher = Client::greeted(&server, "watcher").await;
    joined_room(
        watcher
            .join(RoomTarget::Id(witness.room), Role::Spectator)
            .await,
    );
    watcher
        .input(ArenaInput {
            move_x: 1.0,
            ..ArenaInput::default()
        })
        .await;
    let error = next_error(&mut watcher).await;
    assert_eq!(error.code, ErrorCode::NotAPlayer, "{error:?}");
    assert!(
        watcher.replica_errors.is_empty(),
        "{:?}",
        watcher.replica_errors
    );
    assert!(dropped(&server, "not_a_player").await >= 3.0);
    witness.sees_progress(15).await;

    // Unknown rooms, then a full one (the witness's room has two seats).
    let unknown = early
        .join(RoomTarget::Id(RoomId(4242)), Role::Player)
        .await
        .unwrap_err();
    assert_eq!(unknown.code, ErrorCode::RoomNotFound);
    let mut second = Client::greeted(&server, "second").await;
    joined_room(
        second
            .join(RoomTarget::Id(witness.room), Role::Player)
            .await,
    );
    let full = early
        .join(RoomTarget::Id(witness.room), Role::Player)
        .await
        .unwrap_err();
    assert_eq!(full.code, ErrorCode::RoomFull);
    assert_eq!(early.list().await[0].players, 2);
    witness.sees_progress(15).await;
    witness.finish().await;
    server.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nan_infinite_undecodable_and_stale_inputs_are_dropped() {
    let server = TestServer::start().await;
    let mut witness = Witness::start(&server, 4).await;
    let mut player = Client::greeted(&server, "nan").await;
    joined_room(
        player
            .join(RoomTarget::Id(witness.room), Role::Player)
            .await,
    );
    let me = player.player.expect("greeted");
    player.until_tick(Tick(0)).await;

    // Not-a-number and infinite inputs are refused, one error each.
    player
        .input(ArenaInput {
            move_x: f32::NAN,
            move_y: 0.5,
            aim: 0.0,
            fire: false,
        })
        .await;
    assert_eq!(next_error(&mut player).await.code, ErrorCode::InvalidInput);
    player
        .input(ArenaInput {
            move_x: 0.0,
            move_y: 0.0,
            aim: f32::INFINITY,
            fire: true,
        })
        .await;
    assert_eq!(next_error(&mut player).await.code, ErrorCode::InvalidInput);
    assert!(dropped(&server, "invalid").await >= 2.0);
    let now = player.replica().latest().expect("a world").tick;
    let world = player.until_tick(Tick(now.0 + 15)).await;
    let view = avatar(&world, me);
    assert!(
        view.position.is_finite() && view.velocity.is_finite() && view.aim.is_finite(),
        "the avatar was poisoned: {view:?}"
    );
    witness.sees_progress(15).await;

    // A valid input afterwards still steers the avatar: towards the centre,
    // so no wall is in the way.
    let arena = ArenaConfig::default();
    let centre = centre(&arena);
    let from = view.position;
    let (dx, dy) = (centre.0 - from.x, centre.1 - from.y);
    let length = (dx * dx + dy * dy).sqrt().max(1e-3);
    let (ux, uy) = if length < 1.0 {
        (1.0, 0.0)
    } else {
        (dx / length, dy / length)
    };
    player
        .input(ArenaInput {
            move_x: ux,
            move_y: uy,
            aim: 0.0,
            fire: false,
        })
        .await;
    let now = player.replica().latest().expect("a world").tick;
    let world = player.until_tick(Tick(now.0 + 20)).await;
    let to = avatar(&world, me).position;
    let along = (to.x - from.x) * ux + (to.y - from.y) * uy;
    assert!(
        along > 30.0,
        "a valid input after the bad ones moved the avatar only {along} units"
    );

    // An input payload that is no ArenaInput, and an empty input list.
    let undecodable = |newest_seq, inputs| {
        ClientMessage::Inputs(Inputs {
            newest_seq,
            inputs,
            ack: None,
        })
    };
    player.send(&undecodable(1_000, vec![vec![1, 2, 3]])).await;
    let error = next_error(&mut player).await;
    assert_eq!(error.code, ErrorCode::InvalidInput, "{error:?}");
    player.send(&undecodable(1_001, Vec::new())).await;
    assert_eq!(next_error(&mut player).await.code, ErrorCode::InvalidInput);
    assert!(dropped(&server, "undecodable").await >= 2.0);

    // An empty list used up no sequence number, but the undecodable one
    // did: resending it, or anything older, is stale: counted, not
    // answered.
    let valid = {
        let mut bytes = Vec::new();
        codec::encode_value(&ArenaInput::default(), &mut bytes).expect("encodes");
        bytes
    };
    player.send(&undecodable(1_000, vec![valid.clone()])).await;
    player.send(&undecodable(999, vec![valid])).await;
    eventually("stale inputs are counted", async || {
        dropped(&server, "stale").await >= 2.0
    })
    .await;
    let errors_before = player.errors.len();
    let now = player.replica().latest().expect("a world").tick;
    let world = player.until_tick(Tick(now.0 + 10)).await;
    assert_eq!(
        player.errors.len(),
        errors_before,
        "stale inputs got an answer: {:?}",
        &player.errors[errors_before..]
    );
    assert!(avatar(&world, me).position.is_finite());
    assert!(
        player.replica_errors.is_empty(),
        "{:?}",
        player.replica_errors
    );
    assert!(
        player.errors.is_empty(),
        "one error per bad input, no more: {:?}",
        player.errors
    );

    witness.sees_progress(15).await;
    witness.finish().await;
    server.stop().await.expect("clean stop");
}

/// The arena's centre, in units.
fn centre(arena: &ArenaConfig) -> (f32, f32) {
    (arena.width / 2.0, arena.height / 2.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_floods_close_the_flooder() {
    let server = TestServer::start().await;
    let mut witness = Witness::start(&server, 4).await;

    // Default limits: 120 messages a second, bursts of 240.
    let mut flooder = Client::greeted(&server, "flooder").await;
    let ping = frame_of(&ClientMessage::Ping(Ping { sent_at_us: 1 }));
    let mut sent = 0;
    for _ in 0..2_000 {
        if !flooder.try_send_raw(binary(ping.clone())).await {
            break;
        }
        sent += 1;
    }
    assert!(sent > 240, "the flood was cut before the burst: {sent}");
    let ending = flooder.ending().await;
    assert_eq!(closed(&server, "flooding").await, 1.0);
    witness.sees_progress(15).await;

    // A client within the rate is left alone.
    let mut calm = Client::greeted(&server, "calm").await;
    for _ in 0..20 {
        calm.send(&ClientMessage::Ping(Ping { sent_at_us: 2 }))
            .await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(calm.list().await.len(), 1, "the calm client is still open");
    assert_eq!(closed(&server, "flooding").await, 1.0);
    witness.sees_progress(15).await;

    // The flooder was told why. (Its unread messages are still in the
    // server's receive buffer when the server lets go of the socket; the
    // answer must not be lost to the reset that follows.)
    assert!(
        matches!(&ending.close, Some((CloseReason::Flooding, _))),
        "the flooder never got its Flooding close message: {ending:?}"
    );
    assert_eq!(
        ending.code,
        Some(code_of(CloseReason::Flooding)),
        "the flooder never got its Flooding close code: {ending:?}"
    );
    witness.finish().await;
    server.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_hellos_are_rejected() {
    let server = TestServer::start().await;
    let mut witness = Witness::start(&server, 4).await;

    let mut other_version = Client::connect(&server).await;
    other_version
        .send(&ClientMessage::Hello(Hello {
            protocol_version: PROTOCOL_VERSION + 1,
            ..hello("future")
        }))
        .await;
    expect_closed_with(&mut other_version, CloseReason::VersionMismatch).await;
    assert_eq!(closed(&server, "version_mismatch").await, 1.0);

    let mut impatient = Client::connect(&server).await;
    impatient
        .send(&ClientMessage::ListRooms(ListRooms {
            request_id: 1,
            filter: Default::default(),
        }))
        .await;
    expect_closed_with(&mut impatient, CloseReason::ProtocolViolation).await;

    let mut nameless = Client::connect(&server).await;
    nameless.send(&ClientMessage::Hello(hello("   "))).await;
    expect_closed_with(&mut nameless, CloseReason::ProtocolViolation).await;
    assert_eq!(closed(&server, "protocol_violation").await, 2.0);

    let mut garbled = Client::connect(&server).await;
    garbled.send_raw(binary(vec![0, 0xff, 0xff])).await;
    expect_closed_with(&mut garbled, CloseReason::MalformedFrame).await;
    assert_eq!(closed(&server, "malformed_frame").await, 1.0);

    witness.sees_progress(15).await;
    witness.finish().await;
    server.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abrupt_disconnects_free_the_seat_once_the_grace_runs_out() {
    // The seat of a dropped player waits for it (resume); here briefly.
    let server = TestServer::start_with(|c| c.timeouts.reconnect_grace_ms = 300).await;
    let mut witness = Witness::start(&server, 4).await;
    let mut lister = Client::greeted(&server, "lister").await;

    for round in 0..2 {
        let mut quitter = Client::greeted(&server, &format!("quitter{round}")).await;
        joined_room(
            quitter
                .join(RoomTarget::Id(witness.room), Role::Player)
                .await,
        );
        quitter.until_tick(Tick(0)).await;
        assert_eq!(lister.list().await[0].players, 2);
        assert_eq!(server.metric("tickwire_players").await, 2.0);

        // Gone without a close frame: the seat is freed when the grace
        // runs out.
        drop(quitter);
        eventually("the dropped player's seat is freed", async || {
            lister.list().await[0].players == 1
        })
        .await;
        assert_eq!(server.metric("tickwire_players").await, 1.0);
        witness.sees_progress(15).await;
    }
    witness.finish().await;
    server.stop().await.expect("clean stop");
}

/// `GET /ws` without asking to upgrade (a browser opening the address, a
/// health probe pointed at the wrong path) gets an HTTP answer saying what
/// the endpoint is, not a silently closed connection; a real upgrade on
/// the same port still works.
#[tokio::test]
async fn the_websocket_path_without_an_upgrade_is_answered_426() {
    let server = TestServer::start().await;
    let mut stream = raw(&server).await;
    let request = "GET /ws HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
    stream
        .write_all(request.as_bytes())
        .await
        .expect("request sent");
    let response = read_until_closed(&mut stream).await;
    assert!(
        response.starts_with("HTTP/1.1 426"),
        "expected 426 Upgrade Required: {response:?}"
    );
    let lower = response.to_ascii_lowercase();
    assert!(
        lower.contains("\r\nupgrade: websocket\r\n"),
        "a 426 names the protocol to upgrade to: {response:?}"
    );
    assert!(
        lower.contains("websocket endpoint"),
        "says what to do: {response:?}"
    );
    let mut client = Client::greeted(&server, "still-upgrades").await;
    assert!(
        client.list().await.is_empty(),
        "a WebSocket session on the same port works"
    );
    server.stop().await.expect("clean shutdown");
}
