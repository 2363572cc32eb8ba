//! The bot swarm against an in-process server: a clean run gates on zero
//! checksum mismatches and zero errors; a chaos run (malformed and oversize
//! frames, floods, abrupt disconnects, slow readers) leaves the
//! well-behaved bots in agreement with the server and the server up; bots
//! that drop and resume, and a storm that drops every bot at once, get
//! every seat back with every checksum agreeing.

mod support;

use support::{TestServer, bots};
use tickwire_bot::behaviour::BehaviourKind;
use tickwire_bot::swarm::{self, Edge, SwarmConfig};

fn config(
    server: &TestServer,
    rooms: usize,
    players: usize,
    behaviour: BehaviourKind,
) -> SwarmConfig {
    let url = swarm::ws_url(&format!("ws://{}", server.addr));
    bots::short_swarm(url, Default::default(), rooms, players, behaviour, 3)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifty_bot_swarm_agrees_with_the_server_on_every_update() {
    let server = TestServer::start().await;
    let mut edges = Vec::new();
    let report = swarm::run(config(&server, 5, 10, BehaviourKind::Arena), |edge| {
        edges.push(edge)
    })
    .await;
    assert_eq!(edges, [Edge::Opened, Edge::Closed]);

    let w = &report.well_behaved;
    bots::assert_clean(&report, 50, 24.0);
    assert!(w.latency_ms.count > 0 && w.latency_ms.p50 > 0.0);
    assert!(w.rtt_ms.count > 0, "bots ping");
    // Acks ride on inputs and arrive before the next tick: deltas are
    // against the previous tick.
    assert!(
        w.mean_baseline_age < 1.2,
        "mean baseline age {}",
        w.mean_baseline_age
    );
    assert!(w.down_payload_bytes_per_client_s > 0.0 && w.up_payload_bytes_per_client_s > 0.0);
    assert!(!report.timeline.is_empty() && !report.latency_distribution.is_empty());
    assert!(report.misbehaving.is_none());

    // Every machine-readable figure is there, and the HTML renders.
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("valid JSON");
    assert_eq!(json["bots"]["joined"], 50);
    assert!(json["well_behaved"]["latency_ms"]["p99"].as_f64().is_some());
    let html = tickwire_bot::report::html::render(&report);
    assert!(html.starts_with("<!DOCTYPE html>") && html.matches("<svg").count() == 3);
    server.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_does_not_reach_the_well_behaved_bots() {
    let server = TestServer::start().await;
    let report = swarm::run(config(&server, 4, 10, BehaviourKind::Chaos), |_| {}).await;

    let w = &report.well_behaved;
    let m = report.misbehaving.as_ref().expect("chaos bots ran");
    assert!(m.bots > 5, "a real share misbehaved: {}", m.bots);
    assert_eq!(w.checksum_mismatches, 0, "{}", report.summary());
    assert_eq!(w.decode_errors, 0);
    assert!(
        w.errors.is_empty(),
        "well-behaved bots saw errors: {:?}",
        w.errors
    );
    assert!(
        w.updates_per_bot_per_s > 24.0,
        "{} updates per bot per second",
        w.updates_per_bot_per_s
    );
    assert!(report.passed(), "failures: {:?}", report.failures);

    // The server told the misbehaving bots why it closed them.
    let closes: Vec<&String> = m
        .errors
        .keys()
        .filter(|k| k.starts_with("closed:"))
        .collect();
    assert!(
        closes.iter().any(|k| k.contains("MalformedFrame")
            || k.contains("FrameTooLarge")
            || k.contains("Flooding")),
        "misbehaving bots' endings: {:?}",
        m.errors
    );
    // And it is still up.
    let (status, _) = server.get("/healthz").await;
    assert_eq!(status, 200);
    server.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_bots_and_a_storm_get_every_seat_back_with_agreeing_checksums() {
    let server = TestServer::start().await;
    let mut config = config(&server, 4, 10, BehaviourKind::Chaos);
    // Half the bots cut their connection every few seconds; all of them
    // at once two seconds into the window.
    config.chaos = tickwire_bot::behaviour::ChaosMix {
        malformed: 0.0,
        oversize: 0.0,
        flood: 0.0,
        disconnect: 0.0,
        slow: 0.0,
        resume: 0.5,
    };
    config.duration = std::time::Duration::from_secs(6);
    config.storm_at = Some(std::time::Duration::from_secs(2));
    let report = swarm::run(config, |_| {}).await;

    assert!(report.passed(), "failures: {:?}", report.failures);
    let resume = report.resume.as_ref().expect("resumes reported");
    let storm = resume.storm.as_ref().expect("a storm");
    assert!(
        storm.dropped >= 30,
        "most of the 40 bots were playing when it struck: {storm:?}"
    );
    assert_eq!(storm.resumed, storm.dropped, "{}", report.summary());
    assert_eq!(storm.lost, 0);
    assert!(storm.time_to_resume_ms.count == storm.resumed);
    assert!(
        resume.tried > storm.dropped,
        "the resuming bots dropped on their own too: {resume:?}"
    );
    assert_eq!(resume.succeeded, resume.tried, "{resume:?}");
    assert!(resume.lost.is_empty());
    assert!(resume.updates_after_resume > 1_000, "{resume:?}");
    assert_eq!(resume.checksum_mismatches_after_resume, 0);
    assert!((resume.checksum_agreement_pct - 100.0).abs() < f64::EPSILON);
    // The well-behaved half played on: no errors, every checksum agreed.
    let w = &report.well_behaved;
    assert!(w.errors.is_empty(), "{:?}", w.errors);
    assert_eq!(w.checksum_mismatches, 0);
    // The server saw the same resumes.
    let resumed = server
        .metric("tickwire_resumes_total{reason=\"resumed\"}")
        .await;
    assert_eq!(resumed as u64, resume.succeeded);
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("valid JSON");
    assert_eq!(json["resume"]["storm"]["dropped"], storm.dropped);
    server.stop().await.expect("clean stop");
}
