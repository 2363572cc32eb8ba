//! Bot swarms behind the link conditioner (issue 16), against an in-process
//! server over real sockets: over QUIC on a bad mobile network (loss,
//! duplication, reordering, 150 ms ± 60, 1 Mbit/s) every rebuilt world
//! still agrees with the server's checksum, and the report shows the loss
//! the conditioner applied and the latency it added; over WebSocket a mix
//! of profiles only delays frames, in order, and each profile group shows
//! its own latency; one client keeps its conditioner, and its counts,
//! across a reconnection.

mod support;

use std::time::Duration;
use support::TestServer;
use support::bots::{self, any_port, pinned};
use tickwire_bot::behaviour::BehaviourKind;
use tickwire_bot::network::{NetworkGroup, NetworkMix};
use tickwire_bot::report::Report;
use tickwire_bot::swarm;

use support::WAIT;
use tickwire_client::{Client, Event, NetworkProfile, PathConfig, RoomSpec};
use tickwire_shared::arena::ArenaInput;

fn group<'r>(report: &'r Report, profile: &str) -> &'r NetworkGroup {
    report
        .network
        .iter()
        .find(|g| g.profile == profile)
        .unwrap_or_else(|| panic!("a {profile} group\n{}", report.summary()))
}

/// No world rebuilt wrong, nothing undecodable, no error, updates flowing.
fn assert_agrees(report: &Report, planned: usize) {
    let w = &report.well_behaved;
    assert_eq!(
        (report.bots.planned, report.bots.joined),
        (planned, planned),
        "{}",
        report.summary()
    );
    assert_eq!(w.checksum_mismatches, 0, "{}", report.summary());
    assert_eq!(w.decode_errors, 0, "{}", report.summary());
    assert!(w.errors.is_empty(), "{:?}\n{}", w.errors, report.summary());
    assert!(report.passed(), "{:?}", report.failures);
    for g in &report.network {
        assert_eq!(g.checksum_agreement_pct, 100.0, "{}", g.profile);
        assert!(g.figures.updates > 0, "{} bots got updates", g.profile);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lossy_reordering_network_over_quic_keeps_every_checksum() {
    let server = TestServer::start_with(|c| c.quic_bind = any_port()).await;
    let mut config = bots::short_swarm(
        server.quic_url(),
        pinned(&server),
        2,
        4,
        BehaviourKind::Arena,
        3,
    );
    config.network = Some(NetworkMix::single(
        NetworkProfile::named("bad-mobile").expect("built in"),
    ));
    let report = swarm::run(config, |_| {}).await;
    println!("{}", report.summary());
    assert_agrees(&report, 8);

    let g = group(&report, "bad-mobile");
    assert_eq!(report.network.len(), 1);
    assert_eq!(g.figures.bots, 8);
    let (down, up) = (&g.applied.down, &g.applied.up);
    // 5 % of the update datagrams (and of the input datagrams) were lost,
    // some duplicated and some overtaken.
    assert!(down.lost > 0 && up.lost > 0, "{down:?} {up:?}");
    assert!(
        (0.02..0.09).contains(&(down.lost as f64 / down.frames as f64)),
        "{down:?}"
    );
    assert!(down.duplicated > 0 && down.reordered > 0, "{down:?}");
    // The losses show: ticks missed, stale (overtaken or duplicated)
    // updates dropped, deltas against older baselines.
    assert!(g.figures.updates_missed > 0, "{:?}", g.figures);
    assert!(g.figures.updates_reordered > 0, "{:?}", g.figures);
    // The 150 ms one-way latency is in the update latency (server tick
    // start to world rebuilt), and twice that in the round trip.
    assert!(
        g.figures.latency_ms.p50 >= 150.0,
        "p50 {} ms",
        g.figures.latency_ms.p50
    );
    assert!(g.figures.rtt_ms.p50 >= 240.0, "rtt {:?}", g.figures.rtt_ms);
    assert!(down.mean_delay_ms() >= 140.0, "{}", down.mean_delay_ms());

    // JSON, summary and HTML carry the group.
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("valid JSON");
    assert_eq!(json["network"][0]["profile"], "bad-mobile");
    assert!(json["network"][0]["applied"]["down"]["lost"].as_u64() > Some(0));
    assert!(report.summary().contains("network bad-mobile"));
    let html = tickwire_bot::report::html::render(&report);
    assert!(html.contains("<h2>Networks</h2>") && html.contains("bad-mobile"));
    server.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mix_over_websocket_is_only_delayed_in_order() {
    let server = TestServer::start().await;
    let mut config = bots::short_swarm(
        server.ws_url(),
        Default::default(),
        2,
        4,
        BehaviourKind::Arena,
        3,
    );
    config.network = Some(NetworkMix::parse("wifi=50,mobile-4g=50").expect("valid mix"));
    let report = swarm::run(config, |_| {}).await;
    println!("{}", report.summary());
    assert_agrees(&report, 8);
    assert_eq!(report.network_mix.as_deref(), Some("wifi=50,mobile-4g=50"));

    for (profile, base_ms) in [("wifi", 15.0), ("mobile-4g", 50.0)] {
        let g = group(&report, profile);
        assert_eq!(g.figures.bots, 4, "half the bots each");
        let (down, up) = (&g.applied.down, &g.applied.up);
        // Over WebSocket nothing is lost, duplicated or reordered: a loss
        // is a retransmission (a delay), and jitter keeps the order.
        for path in [down, up] {
            assert_eq!(
                (path.lost, path.duplicated, path.reordered, path.queue_drops),
                (0, 0, 0, 0),
                "{profile}: {path:?}"
            );
            // All delivered, but for the few in flight when the run
            // stopped.
            assert!(path.frames - path.delivered <= 5 * 4, "{profile}: {path:?}");
            assert!(path.delayed > 0, "{profile}: {path:?}");
        }
        // Stale updates come only from reordering.
        assert_eq!(g.figures.updates_reordered, 0, "{profile}");
        assert!(
            g.figures.latency_ms.p50 >= base_ms,
            "{profile}: p50 {} ms",
            g.figures.latency_ms.p50
        );
    }
    // The slower network shows it.
    assert!(
        group(&report, "mobile-4g").figures.latency_ms.p50
            > group(&report, "wifi").figures.latency_ms.p50
    );
    server.stop().await.expect("clean stop");
}

/// Applies `n` updates (answering each with an input).
async fn play(client: &mut Client, n: usize) {
    let played = tokio::time::timeout(WAIT, async {
        let mut applied = 0;
        while applied < n {
            match client.next_event().await.expect("connection up") {
                Event::Update(_) => {
                    applied += 1;
                    client
                        .send_input(&ArenaInput::default())
                        .await
                        .expect("input sent");
                }
                Event::UpdateFailed(e) => panic!("update failed: {e}"),
                _ => {}
            }
        }
    })
    .await;
    assert!(played.is_ok(), "{n} updates in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_keeps_its_network_across_a_reconnection() {
    let server = TestServer::start().await;
    let latency = Duration::from_millis(30);
    let profile = NetworkProfile::symmetric("office", PathConfig::delay(latency));
    let mut client = Client::builder(server.ws_url())
        .name("ada")
        .network(profile, 7)
        .connect()
        .await
        .expect("connects");
    assert_eq!(client.network_profile(), Some("office"));
    client
        .create_room(RoomSpec::new("netem"))
        .await
        .expect("room");
    play(&mut client, 10).await;
    // The round trip carries both directions' latency.
    client.ping().await.expect("ping sent");
    let rtt = tokio::time::timeout(WAIT, async {
        loop {
            if let Event::Rtt(rtt) = client.next_event().await.expect("up") {
                break rtt;
            }
        }
    })
    .await
    .expect("a pong");
    assert!(rtt >= latency * 2, "rtt {rtt:?}");
    let before = client.network_stats().expect("conditioned");
    assert!(
        before.down.frames >= 10 && before.up.frames >= 10,
        "{before:?}"
    );
    assert_eq!(before.down.lost + before.up.lost, 0);

    client.drop_connection();
    tokio::time::timeout(WAIT, async {
        loop {
            if let Event::Resumed { .. } = client.next_event().await.expect("up") {
                break;
            }
        }
    })
    .await
    .expect("resumed");
    play(&mut client, 10).await;
    // The new connection is conditioned too, and the counts add up.
    let after = client.network_stats().expect("conditioned");
    assert!(after.down.frames >= before.down.frames + 10, "{after:?}");
    assert!(after.down.added_delay_us >= before.down.added_delay_us + 10 * 30_000);
    client.close().await;

    // Without a profile there is nothing to report.
    let plain = Client::connect(&server.ws_url(), "bob")
        .await
        .expect("connects");
    assert!(plain.network_stats().is_none() && plain.network_profile().is_none());
    plain.close().await;
    server.stop().await.expect("clean stop");
}
