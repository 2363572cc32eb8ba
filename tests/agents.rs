//! More load than one machine: a coordinator splits a swarm's rooms
//! between two agents (served in this process on 127.0.0.1 ports) and
//! merges their raw figures exactly; an agent that vanishes mid-run is
//! named and the others' figures still reported. A scenario's phases
//! split the same way (`run --agents`), each phase merged exactly. And
//! light bots: only a sample decodes and verifies, the rest acknowledge
//! by tick.

mod support;

use std::time::Duration;

use support::{TestServer, bots};
use tickwire_bot::behaviour::BehaviourKind;
use tickwire_bot::coordinator;
use tickwire_bot::measure::raw::{self, Counts};
use tickwire_bot::report::agents::AgentStatus;
use tickwire_bot::scenario::Scenario;
use tickwire_bot::swarm::{self, SwarmConfig};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The longest any run here may take, coordinator included.
const RUN_LIMIT: Duration = Duration::from_secs(60);

fn config(server: &TestServer, rooms: usize, players: usize, seconds: u64) -> SwarmConfig {
    let url = swarm::ws_url(&format!("ws://{}", server.addr));
    let mut config = bots::short_swarm(
        url,
        Default::default(),
        rooms,
        players,
        BehaviourKind::Arena,
        seconds,
    );
    config.threads = 1;
    config
}

/// An agent serving on an ephemeral 127.0.0.1 port: its address and its
/// task (aborting the task is the agent dying: its socket closes).
async fn agent(shutdown: &CancellationToken) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let shutdown = shutdown.clone();
    let task = tokio::spawn(async move {
        tickwire_bot::agent::serve(listener, shutdown)
            .await
            .expect("the agent serves");
    });
    (addr, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_agents_merge_their_histograms_exactly() {
    let server = TestServer::start().await;
    let shutdown = CancellationToken::new();
    let (a, _a) = agent(&shutdown).await;
    let (b, _b) = agent(&shutdown).await;
    let names = [a.clone(), b.clone()];
    let run = coordinator::run_detailed(config(&server, 3, 6, 2), &names);
    let done = tokio::time::timeout(RUN_LIMIT, run)
        .await
        .expect("the run ends in time")
        .expect("a valid run");
    let report = &done.report;
    bots::assert_clean(report, 18, 24.0);
    assert_eq!(report.agents.len(), 2);
    assert_eq!(
        (
            report.agents[0].name.as_str(),
            report.agents[1].name.as_str()
        ),
        (a.as_str(), b.as_str())
    );
    // Whole rooms each: two for the first agent, one for the second.
    assert_eq!(
        report
            .agents
            .iter()
            .map(|x| (x.first_room, x.rooms, x.bots))
            .collect::<Vec<_>>(),
        [(0, 2, 12), (2, 1, 6)]
    );
    assert!(
        report
            .agents
            .iter()
            .all(|x| x.status == AgentStatus::Finished)
    );
    let figures: Vec<_> = done
        .figures
        .iter()
        .map(|f| f.as_ref().expect("both finished"))
        .collect();
    // Counts and bytes are sums.
    let (fa, fb) = (&figures[0].well_behaved, &figures[1].well_behaved);
    let w = &report.well_behaved;
    assert!(!fa.latency_us.0.is_empty() && !fb.latency_us.0.is_empty());
    assert_eq!(
        w.latency_ms.count,
        fa.latency_us.0.len() + fb.latency_us.0.len()
    );
    assert_eq!(w.updates, fa.updates + fb.updates);
    assert_eq!(report.bots.joined, figures[0].joined + figures[1].joined);
    assert_eq!(report.bots.verifying, 18);
    // The merged p99 is the union's p99, built here from the raw buckets.
    let mut union = Counts::default();
    for raw in [&fa.latency_us, &fb.latency_us] {
        for v in raw.0.iter_recorded() {
            union
                .0
                .saturating_record_n(v.value_iterated_to(), v.count_at_value());
        }
    }
    let expected = union.percentiles();
    assert_eq!(w.latency_ms.p99, expected.p99);
    assert_eq!(w.latency_ms.p50, expected.p50);
    assert_eq!(w.latency_ms.max, expected.max);
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("JSON");
    assert_eq!(json["agents"][1]["status"], "finished");
    assert!(report.summary().contains(&format!("agent {b}")));
    shutdown.cancel();
    server.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_that_vanishes_mid_run_is_named_and_the_other_still_reports() {
    let server = TestServer::start().await;
    let shutdown = CancellationToken::new();
    let (steady, _steady) = agent(&shutdown).await;
    let (doomed, doomed_task) = agent(&shutdown).await;
    let (config, names) = (config(&server, 2, 5, 3), [steady, doomed.clone()]);
    let run = tokio::spawn(async move { coordinator::run_detailed(config, &names).await });
    // The window opens about half a second in and lasts three seconds.
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    doomed_task.abort();
    let done = tokio::time::timeout(RUN_LIMIT, run)
        .await
        .expect("the run ends in time")
        .expect("the coordinator task")
        .expect("a valid run");
    let report = &done.report;
    assert_vanished(report, &doomed);
    assert!(done.figures[1].is_none());
    // The other agent's figures are the report's.
    let steady = done.figures[0].as_ref().expect("the steady agent finished");
    assert_eq!(report.agents[0].status, AgentStatus::Finished);
    assert_eq!(report.bots.joined, 5);
    assert!(steady.well_behaved.updates > 0);
    assert_eq!(report.well_behaved.updates, steady.well_behaved.updates);
    assert_eq!(report.well_behaved.checksum_mismatches, 0);
    shutdown.cancel();
    server.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_light_swarm_verifies_a_sample_and_acknowledges_the_rest() {
    let server = TestServer::start().await;
    let mut config = config(&server, 4, 10, 3);
    config.threads = 2;
    config.verify_every = 4;
    let report = tokio::time::timeout(RUN_LIMIT, swarm::run(config, |_| {}))
        .await
        .expect("the run ends in time");
    bots::assert_clean(&report, 40, 24.0);
    assert_eq!(report.bots.verifying, 10, "one bot in four verifies");
    assert_eq!(report.well_behaved.checksum_mismatches, 0);
    // The light bots' acks keep deltas against the previous tick.
    assert!(
        report.well_behaved.mean_baseline_age < 1.5,
        "{}",
        report.well_behaved.mean_baseline_age
    );
    assert!(report.summary().contains("bots verifying every update"));
    server.stop().await.expect("clean stop");
}

/// Ramp to 8 bots in 2 rooms, hold, drain: 2 s each.
fn three_phases(server: &TestServer) -> String {
    format!(
        r#"
name = "split"
threads = 1
[target]
url = "{url}"
[rooms]
count = 2
players = 4
[[phase]]
kind = "ramp"
to = 8
duration = "2s"
[[phase]]
kind = "hold"
duration = "2s"
[[phase]]
kind = "drain"
to = 0
duration = "2s"
[pass]
"phases.hold.updates" = "> 0"
"phases.hold.checksum_mismatches" = "== 0"
"#,
        url = server.ws_url(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_split_between_two_agents_merges_each_phase_exactly() {
    let server = TestServer::start().await;
    let shutdown = CancellationToken::new();
    let (a, _a) = agent(&shutdown).await;
    let (b, _b) = agent(&shutdown).await;
    let text = three_phases(&server);
    let scenario = Scenario::parse(&text).expect("a valid scenario");
    let names = [a, b];
    let run = coordinator::run_scenario(&scenario, &text, &names);
    let done = tokio::time::timeout(RUN_LIMIT, run)
        .await
        .expect("the run ends in time")
        .expect("a valid run");
    let report = &done.report;
    assert!(
        report.passed(),
        "failures: {:?}\n{}",
        report.failures,
        report.summary()
    );
    assert_eq!(report.agents.len(), 2);
    assert!(
        report
            .agents
            .iter()
            .all(|x| x.status == AgentStatus::Finished),
        "{:?}",
        report.agents
    );
    assert_eq!(
        report
            .agents
            .iter()
            .map(|x| (x.first_room, x.rooms, x.bots))
            .collect::<Vec<_>>(),
        [(0, 1, 4), (1, 1, 4)]
    );
    let figures: Vec<_> = done
        .figures
        .iter()
        .map(|f| f.as_ref().expect("both finished"))
        .collect();
    let phases: Vec<_> = figures
        .iter()
        .map(|f| &f.scenario.as_ref().expect("a scenario's figures").phases)
        .collect();
    let shares: Vec<Scenario> = report
        .agents
        .iter()
        .map(|x| scenario.share(x.first_room, x.rooms).expect("a share"))
        .collect();

    assert_eq!(report.phases.len(), 3, "{:?}", report.phases);
    for (i, phase) in report.phases.iter().enumerate() {
        // Bot counts: the sum of the shares' (and so the scenario's).
        let sum = |f: fn(&tickwire_bot::scenario::Phase) -> usize| {
            shares.iter().map(|s| f(&s.phases[i])).sum::<usize>()
        };
        let b = &phase.bots;
        assert_eq!(
            (b.at_start, b.at_end, b.peak),
            (sum(|p| p.from), sum(|p| p.to), sum(|p| p.peak)),
            "{}",
            phase.name
        );
        let whole = &scenario.phases[i];
        assert_eq!((b.at_start, b.at_end), (whole.from, whole.to));
        assert_eq!(b.joined, phases[0][i].joined + phases[1][i].joined);
        // Updates add; the p99 is the union's, read off the summed buckets.
        let (pa, pb) = (&phases[0][i].span, &phases[1][i].span);
        assert_eq!(phase.updates, pa.updates + pb.updates, "{}", phase.name);
        let union: Vec<u64> = pa
            .latency
            .iter()
            .zip(&pb.latency)
            .map(|(x, y)| x + y)
            .collect();
        assert_eq!(
            phase.latency_p99_ms,
            raw::quantile_ms(&union, 0.99),
            "{}",
            phase.name
        );
        assert_eq!(
            phase.latency_p50_ms,
            raw::quantile_ms(&union, 0.5),
            "{}",
            phase.name
        );
    }
    let hold = &report.phases[1];
    assert_eq!((hold.bots.at_start, hold.bots.at_end), (8, 8));
    assert!(phases[0][1].span.updates > 0 && phases[1][1].span.updates > 0);
    assert_eq!(report.bots.joined, 8);

    // The whole run's latency: the count is the sum of the agents'.
    let (fa, fb) = (&figures[0].well_behaved, &figures[1].well_behaved);
    assert_eq!(
        report.well_behaved.latency_ms.count,
        fa.latency_us.0.len() + fb.latency_us.0.len()
    );
    assert_eq!(report.well_behaved.updates, fa.updates + fb.updates);
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("JSON");
    assert_eq!(json["phases"].as_array().map(Vec::len), Some(3));
    assert_eq!(json["agents"][0]["status"], "finished");
    shutdown.cancel();
    server.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_agent_that_vanishes_is_named_and_the_phases_keep_the_others_figures() {
    let server = TestServer::start().await;
    let shutdown = CancellationToken::new();
    let (steady, _steady) = agent(&shutdown).await;
    let (doomed, doomed_task) = agent(&shutdown).await;
    let text = three_phases(&server);
    let scenario = Scenario::parse(&text).expect("a valid scenario");
    let names = [steady, doomed.clone()];
    let run = tokio::spawn({
        let scenario = scenario.clone();
        async move { coordinator::run_scenario(&scenario, &text, &names).await }
    });
    // Mid-hold: the ramp took two seconds.
    tokio::time::sleep(Duration::from_millis(3_000)).await;
    doomed_task.abort();
    let done = tokio::time::timeout(RUN_LIMIT, run)
        .await
        .expect("the run ends in time")
        .expect("the coordinator task")
        .expect("a valid run");
    let report = &done.report;
    assert_vanished(report, &doomed);
    // Every phase is reported, with the steady agent's figures alone.
    let steady = done.figures[0].as_ref().expect("the steady agent finished");
    let own = &steady.scenario.as_ref().expect("phases").phases;
    assert_eq!(report.phases.len(), 3);
    for (phase, counts) in report.phases.iter().zip(own) {
        assert_eq!(phase.updates, counts.span.updates, "{}", phase.name);
        assert_eq!(phase.bots.at_end, counts.at_end, "{}", phase.name);
    }
    assert_eq!(report.phases[1].bots.at_start, 4, "one room of the two");
    assert!(report.phases[1].updates > 0);
    shutdown.cancel();
    server.stop().await.expect("clean stop");
}

/// The run failed and names the second agent, `doomed`, as vanished.
fn assert_vanished(report: &tickwire_bot::report::Report, doomed: &str) {
    assert!(!report.passed(), "a vanished agent fails the run");
    assert!(
        matches!(&report.agents[1].status, AgentStatus::Vanished { .. }),
        "{:?}",
        report.agents
    );
    assert!(
        report
            .failures
            .iter()
            .any(|f| f.contains(doomed) && f.contains("vanished")),
        "{:?}",
        report.failures
    );
}
