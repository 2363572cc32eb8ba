//! Draining before a stop, end to end: after the first stop signal
//! `/healthz` answers 503 `draining` (and keeps answering), new rooms,
//! joins, quick-joins and spectators are refused with `ServerDraining`,
//! while a witness player in a running room keeps playing with every
//! update applied and every checksum correct. The drain ends when the last
//! member leaves (before `drain_ms`), when `drain_ms` passes (remaining
//! clients get `ServerShutdown`), or at once on a second stop.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use support::{Client, TestServer, WAIT};
use tickwire_client::{Closed, Event, QuickJoinSpec, RoomSpec};
use tickwire_shared::arena::ArenaInput;
use tickwire_shared::protocol::*;
use tokio::task::JoinHandle;

/// What the witness saw.
#[derive(Debug)]
struct Report {
    /// Updates applied (each checksum checked by the client library).
    applied: u32,
    /// Updates that failed to apply (a wrong checksum, a missing
    /// baseline, ...): must stay 0.
    failed: u32,
    /// How the session ended, if it did.
    closed: Option<Closed>,
    /// Whether it left its room when asked.
    left: bool,
}

/// A player that creates a room and plays in it (an input per update),
/// counting applied and failed updates, until it is closed or told to
/// leave.
struct Witness {
    applied: Arc<AtomicU32>,
    leave: Arc<AtomicBool>,
    room: RoomInfo,
    task: JoinHandle<Report>,
}

impl Witness {
    async fn start(server: &TestServer) -> Self {
        let mut client = tickwire_client::Client::builder(server.ws_url())
            .name("witness")
            .connect_timeout(WAIT)
            .connect()
            .await
            .expect("witness connects");
        let joined = tokio::time::timeout(WAIT, client.create_room(RoomSpec::new("witnessed")))
            .await
            .expect("created in time")
            .expect("room created");
        let applied = Arc::new(AtomicU32::new(0));
        let leave = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(play(client, Arc::clone(&applied), Arc::clone(&leave)));
        Self {
            applied,
            leave,
            room: joined.room,
            task,
        }
    }

    fn applied(&self) -> u32 {
        self.applied.load(Ordering::Relaxed)
    }

    /// Waits until `n` more updates have been applied.
    async fn plays_on(&self, n: u32) {
        let target = self.applied() + n;
        let deadline = Instant::now() + WAIT;
        while self.applied() < target {
            assert!(
                Instant::now() < deadline,
                "the witness stopped getting updates at {}",
                self.applied()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn report(self) -> Report {
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the witness ends in time")
            .expect("no panic")
    }
}

async fn play(
    mut client: tickwire_client::Client,
    applied: Arc<AtomicU32>,
    leave: Arc<AtomicBool>,
) -> Report {
    let mut report = Report {
        applied: 0,
        failed: 0,
        closed: None,
        left: false,
    };
    let mut step = 0u32;
    loop {
        let event = match client.next_event().await {
            Ok(event) => event,
            Err(_) => return report,
        };
        match event {
            Event::Update(_) => {
                report.applied += 1;
                applied.store(report.applied, Ordering::Relaxed);
                if leave.load(Ordering::Relaxed) {
                    report.left = client.leave().await.is_ok();
                    return report;
                }
                step += 1;
                let input = ArenaInput {
                    move_x: if step % 60 < 30 { 1.0 } else { -1.0 },
                    move_y: 0.5,
                    ..Default::default()
                };
                if client.send_input(&input).await.is_err() {
                    return report;
                }
            }
            Event::UpdateFailed(_) => report.failed += 1,
            Event::Closed(closed) => {
                report.closed = Some(closed);
                return report;
            }
            _ => {}
        }
    }
}

fn draining_server(drain_ms: u64) -> impl FnOnce(&mut tickwire_server::config::ServerConfig) {
    move |config| config.timeouts.drain_ms = drain_ms
}

async fn assert_draining(server: &TestServer) {
    let (status, body) = server.get("/healthz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("\"status\":\"draining\""), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_refuses_newcomers_while_the_witness_plays_on_and_ends_when_rooms_empty() {
    let mut server = TestServer::start_with(draining_server(20_000)).await;
    let witness = Witness::start(&server).await;
    witness.plays_on(10).await;
    let mut early = Client::greeted(&server, "early").await;
    assert_eq!(server.get("/healthz").await.0, 200);

    server.begin_drain();
    let deadline = Instant::now() + WAIT;
    while server.get("/healthz").await.0 != 503 {
        assert!(Instant::now() < deadline, "/healthz never said draining");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let began = Instant::now();
    assert_draining(&server).await;
    assert_eq!(server.metric("tickwire_draining").await, 1.0);

    // A client greeted before the drain, and one arriving during it (its
    // connection is still accepted, so it learns why): every way into a
    // room is refused with a reason it can act on.
    let mut late = Client::greeted(&server, "late").await;
    let code = witness.room.code.expect("the creator gets the code");
    for client in [&mut early, &mut late] {
        let created = client
            .create_room("new", Visibility::Public, 4, Some(Role::Player))
            .await
            .expect_err("no new room while draining");
        assert_eq!(created.code, ErrorCode::ServerDraining, "{created:?}");
        assert!(created.message.contains("draining"), "{}", created.message);
        let joined = client
            .join(RoomTarget::Code(code), Role::Player)
            .await
            .expect_err("no join while draining");
        assert_eq!(joined.code, ErrorCode::ServerDraining);
        let watched = client
            .join(RoomTarget::Id(witness.room.id), Role::Spectator)
            .await
            .expect_err("no spectator while draining");
        assert_eq!(watched.code, ErrorCode::ServerDraining);
        let quick = tokio::time::timeout(WAIT, client.inner().quick_join(QuickJoinSpec::default()))
            .await
            .expect("answered in time");
        match quick {
            Err(tickwire_client::ClientError::Refused(e)) => {
                assert_eq!(e.code, ErrorCode::ServerDraining)
            }
            other => panic!("quick-join during a drain: {other:?}"),
        }
    }
    assert_eq!(
        server
            .metric("tickwire_errors_total{kind=\"server_draining\"}")
            .await,
        8.0
    );
    // Only the witness's room, still listed with its player.
    let rooms = early.list().await;
    assert_eq!(rooms.len(), 1, "{rooms:?}");
    assert_eq!(rooms[0].players, 1);

    // The room plays on, and /healthz keeps saying draining.
    witness.plays_on(30).await;
    assert_draining(&server).await;
    assert!(!server.is_finished(), "the drain waits for the room");

    // The last member leaves: the drain ends well before drain_ms, and
    // the clients still connected get ServerShutdown (read as it comes,
    // the way a client does).
    let endings: Vec<_> = [early, late]
        .into_iter()
        .map(|mut client| tokio::spawn(async move { client.ending().await }))
        .collect();
    witness.leave.store(true, Ordering::Relaxed);
    let report = witness.report().await;
    assert!(report.left, "{report:?}");
    server
        .finished(Duration::from_secs(5))
        .await
        .expect("run returns Ok");
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "the drain ended when the room emptied, not at drain_ms: {:?}",
        began.elapsed()
    );
    for ending in endings {
        let ending = ending.await.expect("no panic");
        assert_eq!(
            ending.close.as_ref().map(|c| c.0),
            Some(CloseReason::ServerShutdown),
            "{ending:?}"
        );
    }
    assert_eq!(report.failed, 0, "every update applied: {report:?}");
    assert!(report.applied >= 40, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_ms_passing_closes_the_players_still_in_rooms_with_server_shutdown() {
    let mut server = TestServer::start_with(draining_server(1_500)).await;
    let witness = Witness::start(&server).await;
    witness.plays_on(10).await;
    let began = Instant::now();
    server.begin_drain();
    witness.plays_on(15).await;
    assert_draining(&server).await;
    let report = witness.report().await;
    let waited = began.elapsed();
    assert_eq!(
        report.closed.as_ref().and_then(|c| c.reason),
        Some(CloseReason::ServerShutdown),
        "{report:?}"
    );
    assert!(
        waited >= Duration::from_millis(1_400) && waited < Duration::from_secs(6),
        "closed after {waited:?}, drain_ms is 1.5 s"
    );
    assert_eq!(report.failed, 0, "every update applied: {report:?}");
    assert!(report.applied >= 25, "{report:?}");
    server
        .finished(Duration::from_secs(5))
        .await
        .expect("run returns Ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_stop_ends_the_drain_at_once() {
    let mut server = TestServer::start_with(draining_server(30_000)).await;
    let witness = Witness::start(&server).await;
    witness.plays_on(10).await;
    server.begin_drain();
    witness.plays_on(10).await;
    assert_draining(&server).await;
    let began = Instant::now();
    server.stop_now();
    let report = witness.report().await;
    assert_eq!(
        report.closed.as_ref().and_then(|c| c.reason),
        Some(CloseReason::ServerShutdown),
        "{report:?}"
    );
    server
        .finished(Duration::from_secs(5))
        .await
        .expect("run returns Ok");
    assert!(
        began.elapsed() < Duration::from_secs(4),
        "stopped {:?} after the second stop",
        began.elapsed()
    );
    assert_eq!(report.failed, 0, "every update applied: {report:?}");
}
