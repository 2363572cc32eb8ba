//! Scenarios against an in-process server: a ramp, a hold and a drain
//! each report their own figures and bot counts, and the scenario's
//! `[pass]` thresholds judge the run; a spike's bots come and go; a run
//! compared with an earlier one's JSON report fails on a deliberately
//! tight gate and passes on a loose one.

mod support;

use support::TestServer;
use tickwire_bot::baseline::{self, Gate};
use tickwire_bot::report::Report;
use tickwire_bot::scenario::driver::{self, RunOptions};
use tickwire_bot::scenario::{PhaseKind, Scenario};

/// A scenario of `bots` bots in `rooms` rooms against `server`: ramp over
/// `ramp_s`, hold `hold_s`, drain over `drain_s`.
fn scenario(
    server: &TestServer,
    rooms: usize,
    bots: usize,
    (ramp_s, hold_s, drain_s): (u64, u64, u64),
) -> Scenario {
    let players = bots.div_ceil(rooms);
    Scenario::parse(&format!(
        r#"
name = "e2e"
threads = 2
[target]
url = "{url}"
[rooms]
count = {rooms}
players = {players}
[[phase]]
kind = "ramp"
to = {bots}
duration = "{ramp_s}s"
[[phase]]
kind = "hold"
duration = "{hold_s}s"
[[phase]]
kind = "drain"
duration = "{drain_s}s"
[pass]
"phases.hold.checksum_mismatches" = "== 0"
"phases.hold.updates" = "> 0"
"well_behaved.errors" = "== 0"
"#,
        url = server.ws_url(),
    ))
    .expect("a valid scenario")
}

async fn run(scenario: &Scenario) -> Report {
    driver::run(
        scenario,
        RunOptions {
            quiet: true,
            ..RunOptions::default()
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_phase_reports_its_own_figures_and_bot_counts() {
    let server = TestServer::start().await;
    let report = run(&scenario(&server, 3, 24, (3, 3, 2))).await;
    assert!(
        report.passed(),
        "failures: {:?}\n{}",
        report.failures,
        report.summary()
    );
    assert_eq!((report.bots.planned, report.bots.joined), (24, 24));

    let [ramp, hold, drain] = report.phases.as_slice() else {
        panic!("three phases: {:?}", report.phases);
    };
    let kinds: Vec<_> = report
        .phases
        .iter()
        .map(|p| (p.name.as_str(), p.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("ramp", PhaseKind::Ramp),
            ("hold", PhaseKind::Hold),
            ("drain", PhaseKind::Drain)
        ]
    );
    let times: Vec<_> = report.phases.iter().map(|p| (p.start_s, p.end_s)).collect();
    assert_eq!(times, [(0.0, 3.0), (3.0, 6.0), (6.0, 8.0)]);

    // Bot counts: up in the ramp, flat in the hold, down in the drain.
    assert_eq!(
        (ramp.bots.at_start, ramp.bots.at_end, ramp.bots.peak),
        (0, 24, 24)
    );
    assert!(
        ramp.bots.mean > 8.0 && ramp.bots.mean < 16.0,
        "{:?}",
        ramp.bots
    );
    assert_eq!(
        (hold.bots.at_start, hold.bots.at_end, hold.bots.mean),
        (24, 24, 24.0)
    );
    assert_eq!((drain.bots.at_start, drain.bots.at_end), (24, 0));
    assert!(drain.bots.mean < 24.0, "{:?}", drain.bots);
    // Every bot joined during the ramp (the last ones perhaps just after).
    assert_eq!(ramp.bots.joined + hold.bots.joined, 24, "{ramp:?} {hold:?}");
    assert!(ramp.bots.joined >= 20, "{ramp:?}");
    assert_eq!(drain.bots.joined, 0);
    assert!(report.phases.iter().all(|p| p.bots.failed == 0));

    // Figures: every phase measured updates, the hold at the full rate.
    for phase in &report.phases {
        assert!(phase.updates > 0, "{phase:?}");
        assert!(
            phase.latency_p99_ms > 0.0 && phase.latency_p50_ms <= phase.latency_p99_ms,
            "{phase:?}"
        );
        assert!(phase.down_bytes_per_client_s > 0.0, "{phase:?}");
        assert_eq!(
            (phase.checksum_mismatches, phase.errors),
            (0, 0),
            "{phase:?}"
        );
    }
    assert!(hold.updates_per_bot_per_s > 20.0, "{hold:?}");
    assert!(
        hold.updates > ramp.updates,
        "all 24 bots play through the hold, half of them through the ramp: {hold:?} {ramp:?}"
    );
    assert!(drain.updates < hold.updates, "{drain:?} {hold:?}");
    // Whole-run rates count only the seconds each bot ran.
    assert!(
        report.well_behaved.updates_per_bot_per_s > 20.0,
        "{:?}",
        report.well_behaved
    );

    // JSON and HTML carry the phases; a phase is addressable by name.
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("valid JSON");
    assert_eq!(json["phases"][1]["name"], "hold");
    assert_eq!(json["phases"][1]["bots"]["peak"], 24);
    assert!(json["phases"][2]["latency_p99_ms"].as_f64().is_some());
    let html = tickwire_bot::report::html::render(&report);
    assert!(html.contains("<h2>Phases</h2>") && html.contains(">drain</td>"));
    server.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spike_comes_and_goes() {
    let server = TestServer::start().await;
    let scenario = Scenario::parse(&format!(
        r#"
name = "spike"
threads = 2
[target]
url = "{url}"
[rooms]
count = 2
players = 8
[[phase]]
kind = "ramp"
to = 8
duration = "1s"
[[phase]]
name = "rush"
kind = "spike"
add = 8
duration = "2s"
[[phase]]
name = "after"
kind = "hold"
duration = "2s"
"#,
        url = server.ws_url(),
    ))
    .expect("a valid scenario");
    let report = run(&scenario).await;
    assert!(report.passed(), "failures: {:?}", report.failures);
    assert_eq!((report.bots.planned, report.bots.joined), (16, 16));
    let [_, rush, after] = report.phases.as_slice() else {
        panic!("three phases: {:?}", report.phases);
    };
    assert_eq!(
        (rush.bots.at_start, rush.bots.peak, rush.bots.at_end),
        (8, 16, 8)
    );
    assert_eq!(
        rush.bots.joined, 8,
        "the spike's bots joined in the spike: {rush:?}"
    );
    assert_eq!((after.bots.mean, after.bots.joined), (8.0, 0));
    // The spike's bots left when it ended: the 8 that stay get the
    // updates after it (16 still playing would read as about 60 a bot).
    assert!(
        (20.0..40.0).contains(&after.updates_per_bot_per_s),
        "{after:?}"
    );
    assert!(after.updates < rush.updates, "{after:?} {rush:?}");
    server.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_fails_a_tight_gate_against_its_baseline_and_passes_a_loose_one() {
    let server = TestServer::start().await;
    let before = run(&scenario(&server, 2, 8, (1, 2, 1))).await;
    assert!(before.passed(), "failures: {:?}", before.failures);
    let path = std::env::temp_dir().join(format!(
        "tickwire-scenario-baseline-{}.json",
        std::process::id()
    ));
    before.write_json(&path).expect("write the baseline");

    // Twice the bots: twice the updates in the hold.
    let bigger = scenario(&server, 2, 16, (1, 2, 1));
    let now = run(&bigger).await;
    assert!(now.passed(), "failures: {:?}", now.failures);
    let shape = bigger.report_shape();
    let gates = |specs: &[&str]| -> Vec<Gate> {
        specs
            .iter()
            .map(|s| Gate::parse(s, &shape).expect("a valid gate"))
            .collect()
    };

    let mut tight = now.clone();
    let table = baseline::check::apply(
        &mut tight,
        &path,
        &gates(&["phases.hold.updates=+10%", "checksum_mismatches=+0"]),
    )
    .expect("a comparison");
    assert!(!tight.passed(), "{table}");
    assert_eq!(tight.failures.len(), 1, "{:?}", tight.failures);
    assert!(
        tight.failures[0].starts_with("gate phases.hold.updates"),
        "{:?}",
        tight.failures
    );
    assert!(
        table.contains("| phases.hold.updates |") && table.contains("| FAIL |"),
        "{table}"
    );
    assert!(
        table.contains("| checksum_mismatches | 0 | 0 | +0 | +0 | ok |"),
        "{table}"
    );

    let mut loose = now.clone();
    let table = baseline::check::apply(
        &mut loose,
        &path,
        &gates(&[
            "phases.hold.updates=+400%",
            "checksum_mismatches=+0",
            "errors=+0",
        ]),
    )
    .expect("a comparison");
    assert!(loose.passed(), "{:?}\n{table}", loose.failures);
    assert!(!table.contains("FAIL"), "{table}");

    // A figure neither run has (no server figures outside the benchmark)
    // fails the run instead of passing it.
    let mut missing = now.clone();
    assert!(
        baseline::check::apply(&mut missing, &path, &gates(&["cpu_per_room_tick=+15%"])).is_none()
    );
    assert!(!missing.passed());
    assert!(
        missing.failures[0].contains("missing from the baseline"),
        "{:?}",
        missing.failures
    );
    let _ = std::fs::remove_file(&path);
    server.stop().await.expect("clean stop");
}
