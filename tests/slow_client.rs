//! A client that stops reading: it must not slow the room's tick for the
//! others, and must not make the server queue updates for it. Eight
//! well-behaved players play for a few seconds next to one client with a
//! tiny receive buffer that never reads (so, never acknowledging, it is
//! owed a full snapshot every tick). The players must get nearly every
//! tick with every checksum good, the room must stay on schedule, the slow
//! client must only ever have the newest update pending and be closed as a
//! slow consumer, and the process's memory must not grow.

mod support;

use std::time::Duration;

use futures_util::SinkExt;
use support::{Client, TestServer, WAIT, hello};
use tickwire_shared::arena::ArenaInput;
use tickwire_shared::client::ReplicaError;
use tickwire_shared::codec;
use tickwire_shared::ids::RoomId;
use tickwire_shared::protocol::*;
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

/// Well-behaved players.
const PLAYERS: usize = 8;
/// How long they play.
const RUN: Duration = Duration::from_secs(4);
/// Reading before counting, to drain what queued since the join.
const WARM_UP: Duration = Duration::from_millis(300);
/// The arena's tick rate.
const HZ: f64 = 30.0;

/// What one player saw while playing.
#[derive(Debug)]
struct Played {
    updates: u32,
    elapsed: Duration,
    replica_errors: Vec<ReplicaError>,
    errors: Vec<ErrorMessage>,
}

/// A finished player, still connected (so still seated).
type Finished = (Played, Client);

/// Plays for `run`: reads every update (the client applies, checks and
/// acknowledges it) and answers each with an input. Updates are counted
/// after a short warm-up that drains what queued in the socket since the
/// join.
async fn play(mut client: Client, run: Duration, seed: f32) -> Finished {
    let mut turn = seed;
    let mut respond = async |client: &mut Client| match client.recv().await {
        Some(ServerMessage::Update(_)) => {
            turn += 0.1;
            client
                .input(ArenaInput {
                    move_x: turn.cos(),
                    move_y: turn.sin(),
                    aim: turn * 2.0,
                    fire: true,
                })
                .await;
        }
        Some(_) => {}
        None => panic!("a well-behaved player was disconnected"),
    };
    let warm_up = Instant::now();
    while warm_up.elapsed() < WARM_UP {
        respond(&mut client).await;
    }
    let started = Instant::now();
    let before = client.updates;
    while started.elapsed() < run {
        respond(&mut client).await;
    }
    let played = Played {
        updates: client.updates - before,
        elapsed: started.elapsed(),
        replica_errors: std::mem::take(&mut client.replica_errors),
        errors: std::mem::take(&mut client.errors),
    };
    (played, client)
}

/// A client with a 2 KiB receive buffer that says Hello, joins `room` as
/// a player, and never reads anything.
async fn slow_client(server: &TestServer, room: RoomId) -> WebSocketStream<TcpStream> {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .set_recv_buffer_size(2048)
        .expect("small receive buffer");
    let stream = tokio::time::timeout(WAIT, socket.connect(server.addr))
        .await
        .expect("connect in time")
        .expect("connects");
    let (mut ws, _) = tokio::time::timeout(
        WAIT,
        tokio_tungstenite::client_async(server.ws_url(), stream),
    )
    .await
    .expect("upgrade in time")
    .expect("upgrades");
    let join = ClientMessage::JoinRoom(JoinRoom {
        request_id: 1,
        target: RoomTarget::Id(room),
        role: Role::Player,
        join_options: Default::default(),
    });
    for message in [ClientMessage::Hello(hello("sloth")), join] {
        let mut frame = Vec::new();
        codec::encode_client(&message, &mut frame).expect("encodes");
        tokio::time::timeout(WAIT, ws.send(Message::Binary(frame.into())))
            .await
            .expect("send in time")
            .expect("sent");
    }
    ws
}

/// The resident set of this process (server and clients), KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .expect("VmRSS in /proc/self/status")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_slows_no_one_and_is_cut_off() {
    let server = TestServer::start_with(|c| {
        // No resume grace: the cut-off client's seat is freed at once (with
        // one, it would wait for the client to come back).
        c.timeouts.reconnect_grace_ms = 0;
        c.limits.send_buffer_bytes = 8 * 1024;
        c.timeouts.write_ms = 1_000;
    })
    .await;
    let mut host = Client::greeted(&server, "host").await;
    let room = match host
        .create_room("crowd", Visibility::Public, 16, None)
        .await
    {
        Ok(ServerMessage::RoomCreated(created)) => created.room.id,
        other => panic!("room not created: {other:?}"),
    };
    let mut players = Vec::new();
    for i in 0..PLAYERS {
        let mut player = Client::greeted(&server, &format!("p{i}")).await;
        player
            .join(RoomTarget::Id(room), Role::Player)
            .await
            .expect("joined");
        players.push(player);
    }

    let rss_before = rss_kib();
    let ticks_before = server.metric("tickwire_ticks_total").await;
    let late_before = server.metric("tickwire_late_ticks_total").await;
    let started = Instant::now();
    let games: Vec<_> = players
        .into_iter()
        .enumerate()
        .map(|(i, player)| tokio::spawn(play(player, RUN, i as f32)))
        .collect();
    let slow = slow_client(&server, room).await;

    // While they play, the slow client is seated, then cut off: its
    // buffers fill in a few seconds, then a write waits `write_ms`.
    let played_for = WARM_UP + RUN;
    let patience = played_for + Duration::from_secs(3);
    let mut seated = false;
    let mut cut_off_after = None;
    while started.elapsed() < played_for
        || (cut_off_after.is_none() && started.elapsed() < patience)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let players = host.list().await[0].players;
        seated |= usize::from(players) == PLAYERS + 1;
        let closed = server
            .metric("tickwire_sessions_closed_total{reason=\"slow_consumer\"}")
            .await;
        if closed >= 1.0 && cut_off_after.is_none() {
            cut_off_after = Some(started.elapsed());
        }
    }
    let mut played = Vec::new();
    let mut connected = Vec::new();
    for game in games {
        let (p, client) = tokio::time::timeout(WAIT, game)
            .await
            .expect("players stop in time")
            .expect("no player panicked");
        played.push(p);
        connected.push(client);
    }
    let ticks = server.metric("tickwire_ticks_total").await - ticks_before;
    let window = started.elapsed();
    let late = server.metric("tickwire_late_ticks_total").await - late_before;
    let superseded = server.metric("tickwire_updates_superseded_total").await;
    let rss_after = rss_kib();

    // Every well-behaved player got nearly every tick, all consistent.
    for (i, p) in played.iter().enumerate() {
        let expected = p.elapsed.as_secs_f64() * HZ;
        assert!(
            f64::from(p.updates) >= 0.85 * expected,
            "player {i} got {} updates of ~{expected:.0} ticks: {played:?}",
            p.updates
        );
        assert!(p.replica_errors.is_empty(), "player {i}: {p:?}");
        assert!(p.errors.is_empty(), "player {i}: {p:?}");
    }

    // The room kept its schedule: it never waited on the slow client. (A
    // room that waited out one `write_ms` for it would start ~30 ticks
    // late; a loaded machine makes a few late on its own.)
    assert!(
        ticks >= 0.85 * HZ * window.as_secs_f64(),
        "the room stepped only {ticks} ticks in {window:?}"
    );
    assert!(late <= 0.1 * ticks, "{late} of {ticks} ticks started late");

    // The slow client had at most one update pending (newer ones replaced
    // unsent ones) and was closed as a slow consumer within the run.
    assert!(seated, "the slow client never got its seat");
    assert!(
        superseded > 0.0,
        "no update was ever superseded: the slow client's updates queued up"
    );
    let cut_off_after = cut_off_after.unwrap_or_else(|| {
        panic!("the slow client was not closed as a slow consumer within {patience:?}")
    });
    assert_eq!(
        host.list().await[0].players as usize,
        PLAYERS,
        "the slow client's seat is freed"
    );
    assert_eq!(server.metric("tickwire_players").await, PLAYERS as f64);

    // Memory: server and clients share this process; be generous.
    let grown_kib = rss_after.saturating_sub(rss_before);
    assert!(
        grown_kib < 50 * 1024,
        "resident memory grew by {grown_kib} KiB"
    );
    eprintln!(
        "slow client cut off after {cut_off_after:?}; updates {:?}; ticks {ticks} in {window:?}, \
         late {late}; superseded {superseded}; rss +{grown_kib} KiB",
        played.iter().map(|p| p.updates).collect::<Vec<_>>()
    );
    drop((slow, connected));
    server.stop().await.expect("clean stop");
}
