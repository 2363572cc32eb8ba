//! QUIC end to end with the client library, over real UDP on loopback:
//! bots play over QUIC; WebSocket and QUIC players share a room and see the
//! same world; clients behind a lossy relay (drop, duplicate, reorder) never
//! rebuild a wrong world and catch up once the loss stops; certificate
//! errors are clear.

#[path = "support/relay.rs"]
mod relay;
mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use relay::Relay;
use support::bots::{any_port, connect, pinned};
use support::{TestServer, WAIT, bots};
use tickwire_bot::behaviour::BehaviourKind;
use tickwire_bot::swarm;
use tickwire_client::{AckMode, Client, ClientError, ClientTls, Event, unix_us};
use tickwire_shared::arena::ArenaInput;
use tickwire_shared::client::ReplicaError;
use tickwire_shared::protocol::{CloseReason, Joined, Role, RoomTarget};
use tickwire_shared::tick::Tick;
use tokio::time::Instant;

async fn quic_server() -> TestServer {
    TestServer::start_with(|c| c.quic_bind = any_port()).await
}

fn input() -> ArenaInput {
    ArenaInput {
        move_x: 1.0,
        ..Default::default()
    }
}

/// Plays for `ticks` applied updates; returns each rebuilt world's checksum
/// by tick. Stale (reordered) updates are skipped; any other failure fails.
async fn play(client: &mut Client, ticks: usize) -> BTreeMap<Tick, u32> {
    let mut seen = BTreeMap::new();
    let play = async {
        while seen.len() < ticks {
            match client.next_event().await.expect("connection stays up") {
                Event::Update(update) => {
                    let world = client.world().expect("just rebuilt");
                    seen.insert(update.tick, world.checksum());
                    client.send_input(&input()).await.expect("input sent");
                }
                Event::UpdateFailed(ReplicaError::Stale { .. }) => {}
                Event::UpdateFailed(e) => panic!("update failed: {e}"),
                Event::Closed(closed) => panic!("closed: {closed:?}"),
                _ => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), play)
        .await
        .expect("updates arrive in time");
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_play_over_quic() {
    let server = quic_server().await;
    let config = bots::short_swarm(
        server.quic_url(),
        pinned(&server),
        2,
        4,
        BehaviourKind::Arena,
        2,
    );
    let report = swarm::run(config, |_| {}).await;
    let w = &report.well_behaved;
    bots::assert_clean(&report, 8, 20.0);
    assert_eq!(report.transport, "quic");
    // Deltas against the previous tick: acks arrive in time over datagrams.
    assert!(w.mean_baseline_age < 1.5, "{}", w.mean_baseline_age);
    // The rooms sent the update datagrams themselves.
    let sent = server.metric("tickwire_updates_sent_total").await;
    let direct = server.metric("tickwire_updates_direct_total").await;
    assert!(
        direct > 0.5 * sent && direct <= sent,
        "rooms sent {direct} of {sent} updates themselves"
    );
    server.stop().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_and_quic_players_share_a_room_and_see_the_same_world() {
    let server = quic_server().await;
    let mut quic = connect(&server.quic_url(), "quic", &pinned(&server))
        .await
        .expect("quic connects");
    assert_eq!(quic.transport(), "quic");
    let joined = quic
        .create_room(tickwire_client::RoomSpec::new("mixed").max_players(4))
        .await
        .expect("creates");
    let mut plain = connect(&server.ws_url(), "plain", &ClientTls::Verify)
        .await
        .expect("ws connects");
    plain
        .join(RoomTarget::Id(joined.room.id), Role::Player)
        .await
        .expect("joins the same room");
    // Lobby requests over the control stream work too.
    let rooms = quic
        .list_rooms(Default::default())
        .await
        .expect("room list");
    assert!(rooms.iter().any(|r| r.id == joined.room.id));

    let (a, b) = tokio::join!(play(&mut quic, 30), play(&mut plain, 30));
    let common: Vec<_> = a.keys().filter(|t| b.contains_key(t)).collect();
    assert!(common.len() >= 10, "only {} common ticks", common.len());
    for tick in common {
        assert_eq!(a[tick], b[tick], "worlds differ at {tick:?}");
    }
    let traffic = quic.traffic();
    assert!(traffic.messages_in > 30 && traffic.messages_out > 30);
    assert!(traffic.framed_in >= traffic.payload_in);

    // A shutdown reaches the QUIC client with its reason.
    plain.close().await;
    let stopping = tokio::spawn(server.stop());
    let closed = async {
        loop {
            match quic.next_event().await {
                Ok(Event::Closed(closed)) => return closed.reason.map(|r| (r, closed.message)),
                Ok(_) => {}
                Err(e) => panic!("error instead of a close: {e}"),
            }
        }
    };
    let reason = tokio::time::timeout(WAIT, closed)
        .await
        .expect("closed in time");
    assert!(
        matches!(reason, Some((CloseReason::ServerShutdown, _))),
        "{reason:?}"
    );
    stopping.await.expect("no panic").expect("clean shutdown");
}

#[tokio::test]
async fn certificate_errors_over_quic_are_clear() {
    let server = quic_server().await;
    let url = server.quic_url();

    let err = connect(&url, "verify", &ClientTls::Verify)
        .await
        .expect_err("a self-signed certificate is not trusted by default");
    let ClientError::Tls(reason) = &err else {
        panic!("expected a TLS error, got {err:?}");
    };
    assert!(
        reason.contains("UnknownIssuer") || reason.to_lowercase().contains("unknown"),
        "{reason}"
    );

    let wrong = ClientTls::Fingerprint(["AB"; 32].join(":"));
    let err = connect(&url, "wrong", &wrong)
        .await
        .expect_err("a wrong pin is refused");
    let ClientError::Tls(reason) = &err else {
        panic!("expected a TLS error, got {err:?}");
    };
    assert!(reason.contains("fingerprint mismatch"), "{reason}");

    connect(&url, "insecure", &ClientTls::Insecure)
        .await
        .expect("insecure connects")
        .close()
        .await;
    // Nothing listens for QUIC on the WebSocket port's number: a clear
    // error, not a hang past the request timeout.
    let nothing = format!("quic://127.0.0.1:{}", server.addr.port());
    let err = connect(&nothing, "nobody", &pinned(&server))
        .await
        .expect_err("no QUIC server there");
    assert!(!matches!(err, ClientError::Tls(_)), "{err:?}");
    server.stop().await.expect("clean shutdown");
}

/// What one client behind the relay saw.
#[derive(Debug, Default)]
struct LossyRun {
    applied: u64,
    stale: u64,
    /// Ticks missed during the lossy phase.
    lost: u64,
    /// Deltas and the sum of their baseline ages during the lossy phase.
    lossy_deltas: u64,
    lossy_age_sum: u64,
    /// For each missed tick, ticks until the next applied update.
    reconverge: Vec<u32>,
    /// Ticks after the loss stopped until the newest tick reached the
    /// server's and deltas were against the previous tick again.
    caught_up_after: Option<u32>,
}

/// The server's current tick by the room's clock.
fn server_tick(joined: &Joined) -> u32 {
    let period = joined.tick_rate.period().as_micros() as u64;
    (unix_us().saturating_sub(joined.tick_zero_unix_us) / period) as u32
}

/// Plays until `until`; the relay loses datagrams until `clean_at`.
async fn play_lossy(client: &mut Client, clean_at: Instant, until: Instant) -> LossyRun {
    let joined = client.room().expect("in a room").clone();
    let mut run = LossyRun::default();
    let mut last: Option<Tick> = None;
    let mut clean_tick: Option<u32> = None;
    let mut age_one_streak = 0;
    loop {
        let event = match tokio::time::timeout_at(until, client.next_event()).await {
            Err(_) => break,
            Ok(event) => event.expect("connection stays up through the loss"),
        };
        let now = Instant::now();
        match event {
            Event::Update(update) => {
                run.applied += 1;
                if now < clean_at {
                    if !update.full {
                        run.lossy_deltas += 1;
                        run.lossy_age_sum += u64::from(update.baseline_age);
                    }
                    if let Some(prev) = last {
                        for missed in prev.0 + 1..update.tick.0 {
                            run.lost += 1;
                            run.reconverge.push(update.tick.0 - missed);
                        }
                    }
                } else {
                    let clean = *clean_tick.get_or_insert_with(|| server_tick(&joined));
                    age_one_streak = if update.baseline_age == 1 {
                        age_one_streak + 1
                    } else {
                        0
                    };
                    let current = update.tick.0 + 1 >= server_tick(&joined);
                    if run.caught_up_after.is_none() && current && age_one_streak >= 10 {
                        // Ticks from the switch to the start of the streak.
                        run.caught_up_after = Some((update.tick.0 - 9).saturating_sub(clean));
                    }
                }
                last = Some(update.tick);
                client.send_input(&input()).await.expect("input sent");
            }
            Event::UpdateFailed(ReplicaError::Stale { .. }) => run.stale += 1,
            Event::UpdateFailed(e) => panic!("update failed: {e}"),
            Event::Closed(closed) => panic!("closed: {closed:?}"),
            _ => {}
        }
    }
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clients_behind_a_lossy_relay_stay_correct_and_catch_up() {
    let server = quic_server().await;
    let relay = Relay::start(server.quic_addr.expect("quic"), 7).await;
    let url = format!("quic://{}", relay.addr);
    let tls = pinned(&server);

    // Join without loss, then turn it on.
    let mut clients = Vec::new();
    let mut room = None;
    for i in 0..3 {
        let mut client = connect(&url, &format!("lossy-{i}"), &tls)
            .await
            .expect("connects through the relay");
        client.set_ack_mode(AckMode::WithInput);
        match room {
            None => {
                let joined = client
                    .create_room(tickwire_client::RoomSpec::new("lossy").max_players(4))
                    .await
                    .expect("creates");
                room = Some(joined.room.id);
            }
            Some(id) => {
                client
                    .join(RoomTarget::Id(id), Role::Player)
                    .await
                    .expect("joins");
            }
        }
        clients.push(client);
    }
    // 5 % loss, 1 % duplication, 2 % reordering, both ways.
    relay.faults.set(50, 10, 20);
    let start = Instant::now();
    let clean_at = start + Duration::from_secs(8);
    let until = clean_at + Duration::from_secs(3);
    let faults = std::sync::Arc::clone(&relay.faults);
    let (runs, ()) = tokio::join!(
        futures_util::future::join_all(clients.iter_mut().map(|c| play_lossy(c, clean_at, until))),
        async move {
            tokio::time::sleep_until(clean_at).await;
            faults.set(0, 0, 0);
        }
    );
    println!("relay: {}", relay.stats.line());
    let mut all: Vec<u32> = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        println!(
            "client {i}: applied {} stale {} lost {}, mean baseline age under loss {:.2}, caught up {:?} ticks after the loss stopped",
            run.applied,
            run.stale,
            run.lost,
            run.lossy_age_sum as f64 / run.lossy_deltas.max(1) as f64,
            run.caught_up_after
        );
        // Updates kept arriving through the loss: 8 s at 30 Hz is 240.
        assert!(run.applied > 200, "{run:?}");
        assert!(
            run.caught_up_after.is_some_and(|t| t <= 30),
            "client {i} did not catch up within 30 ticks: {run:?}"
        );
        all.extend(&run.reconverge);
    }
    assert!(!all.is_empty(), "the relay lost no update");
    let mean = all.iter().map(|&t| f64::from(t)).sum::<f64>() / all.len() as f64;
    let max = all.iter().copied().max().unwrap_or(0);
    println!(
        "reconvergence under 5% loss: {} missed updates, mean {mean:.2} ticks, max {max} ticks to the next applied update",
        all.len()
    );
    assert!(max <= 15, "a loss took {max} ticks to recover from");
    for client in clients {
        client.close().await;
    }
    server.stop().await.expect("clean shutdown");
}
