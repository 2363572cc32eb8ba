//! The coordinator of a distributed run: splits a swarm's rooms (or a
//! scenario's, [`run_scenario`]) among agents (`tickwire-bot agent`),
//! whole rooms each, starts them together
//! once every agent is ready, and merges their raw figures exactly
//! (histogram counts added, counters summed; see [`crate::figures`]).
//! An agent that vanishes (connection lost, silent past
//! [`SILENCE_TIMEOUT`]) is named in the report, which still gives what
//! the others measured and fails its verdict.

use std::time::Duration;

use tokio::io::BufReader;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::figures::RunFigures;
use crate::report::Report;
use crate::report::agents::{AgentReport, AgentStatus};
use crate::scenario::Scenario;
use crate::scenario::phases::{PhaseCounts, ScenarioFigures};
use crate::swarm::SwarmConfig;
use crate::wire::{
    self, MAX_CONTROL_LINE, MAX_RESULT_LINE, ScenarioShare, Share, ToAgent, ToCoordinator,
    WIRE_VERSION, WireError,
};

/// How long connecting to an agent and getting its `Ready` may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A running agent says it is alive every second; silence this long means
/// it is gone (a host that died keeps no connection to close).
pub const SILENCE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a distributed run could not be set up at all (each agent's own
/// troubles are reported per agent instead).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CoordinatorError {
    /// No agent was named.
    #[error("no agents")]
    NoAgents,
    /// Each agent gets whole rooms: no more agents than rooms.
    #[error("{agents} agents for {rooms} rooms: each agent needs a whole room")]
    TooManyAgents {
        /// Agents named.
        agents: usize,
        /// Rooms in the run.
        rooms: usize,
    },
    /// Bot tokens are minted from a secret (`--jwt-secret`, a scenario's
    /// `target.jwt_secret_file`), which agents are not sent.
    #[error(
        "bot tokens (--jwt-secret, target.jwt_secret_file) are not supported in distributed runs"
    )]
    Tokens,
    /// Custom root certificates do not travel to agents.
    #[error("custom TLS roots are not supported in distributed runs")]
    CustomRoots,
    /// A custom network profile is a `.toml` file on this machine, which
    /// agents are not sent (built-in profiles travel by name).
    #[error("custom network profiles (.toml) are not supported in distributed runs")]
    CustomNetworkProfile,
    /// The scenario text sent to agents does not give the scenario run
    /// (it does not parse, or cannot be shared).
    #[error("the scenario cannot be shared among agents: {0}")]
    Scenario(String),
}

/// What a distributed run produced: the merged report and, per agent (in
/// the order named), the raw figures it sent, if it finished.
#[derive(Debug)]
pub struct Distributed {
    /// The merged report.
    pub report: Report,
    /// Each agent's figures (`None` for one that vanished or failed).
    pub figures: Vec<Option<RunFigures>>,
}

/// Runs `config` on `agents` (`host:port` each) and returns the merged
/// report.
pub async fn run(config: SwarmConfig, agents: &[String]) -> Result<Report, CoordinatorError> {
    run_detailed(config, agents).await.map(|d| d.report)
}

/// Splits `rooms` among `agents`: `(first_room, rooms)` each, the first
/// agents taking one more when it does not divide.
pub fn split(rooms: usize, agents: usize) -> Vec<(usize, usize)> {
    let (base, extra) = (rooms / agents.max(1), rooms % agents.max(1));
    let mut first = 0;
    (0..agents)
        .map(|i| {
            let n = base + usize::from(i < extra);
            let share = (first, n);
            first += n;
            share
        })
        .collect()
}

struct Connected {
    read: BufReader<OwnedReadHalf>,
    write: OwnedWriteHalf,
}

/// Whether `mix` names a profile that is not built in (a `.toml` file
/// here): agents get the mix by name, and could not rebuild it.
fn custom_network(mix: &crate::network::NetworkMix) -> bool {
    crate::network::NetworkMix::parse(&mix.describe()).is_err()
}

/// One agent's part of a run: what it is sent, and the rooms and bots it
/// covers (for the report).
struct Assignment {
    assign: ToAgent,
    first_room: usize,
    rooms: usize,
    bots: usize,
}

async fn connect(name: &str, assign: &ToAgent) -> Result<Connected, String> {
    let connecting = async {
        let stream = TcpStream::connect(name).await.map_err(WireError::Io)?;
        let _ = stream.set_nodelay(true);
        let (read, mut write) = stream.into_split();
        let mut read = BufReader::new(read);
        wire::send(&mut write, assign).await?;
        let answer = wire::recv(&mut read, MAX_CONTROL_LINE, CONNECT_TIMEOUT).await?;
        Ok::<_, WireError>((Connected { read, write }, answer))
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Err(_) => Err(WireError::Timeout(CONNECT_TIMEOUT).to_string()),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok((_, ToCoordinator::Refused { reason, .. }))) => Err(format!("refused: {reason}")),
        Ok(Ok((connected, ToCoordinator::Ready { version, .. }))) if version == WIRE_VERSION => {
            Ok(connected)
        }
        Ok(Ok((_, ToCoordinator::Ready { version, .. }))) => {
            Err(WireError::Version { theirs: version }.to_string())
        }
        Ok(Ok(_)) => Err(WireError::Unexpected { expected: "ready" }.to_string()),
    }
}

/// Waits for a started agent's figures, hearing its heartbeats.
async fn finish(mut agent: Connected, deadline: Duration) -> Result<RunFigures, WireError> {
    wire::send(&mut agent.write, &ToAgent::Start).await?;
    let until = tokio::time::Instant::now() + deadline;
    loop {
        let left = until.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return Err(WireError::Timeout(deadline));
        }
        match wire::recv(&mut agent.read, MAX_RESULT_LINE, SILENCE_TIMEOUT.min(left)).await? {
            ToCoordinator::Alive { .. } => {}
            ToCoordinator::Finished { figures } => return Ok(*figures),
            ToCoordinator::Ready { .. } | ToCoordinator::Refused { .. } => {
                return Err(WireError::Unexpected {
                    expected: "alive or finished",
                });
            }
        }
    }
}

/// Runs `config` on `agents` like [`run`], and returns each agent's raw
/// figures beside the merged report.
pub async fn run_detailed(
    config: SwarmConfig,
    agents: &[String],
) -> Result<Distributed, CoordinatorError> {
    if agents.is_empty() {
        return Err(CoordinatorError::NoAgents);
    }
    if agents.len() > config.rooms {
        return Err(CoordinatorError::TooManyAgents {
            agents: agents.len(),
            rooms: config.rooms,
        });
    }
    if config.tokens.is_some() {
        return Err(CoordinatorError::Tokens);
    }
    if matches!(config.tls, tickwire_client::ClientTls::Roots(_)) {
        return Err(CoordinatorError::CustomRoots);
    }
    if config.network.as_ref().is_some_and(custom_network) {
        return Err(CoordinatorError::CustomNetworkProfile);
    }
    let assignments = split(config.rooms, agents.len())
        .into_iter()
        .map(|(first, rooms)| {
            let share = Share::of(&config, first, rooms);
            Assignment {
                first_room: first,
                rooms,
                bots: share.bots(),
                assign: ToAgent::Assign {
                    version: WIRE_VERSION,
                    share: Box::new(share),
                },
            }
        })
        .collect();
    // The longest a share can take: its ramp-up, the join grace, the
    // settle, the window and the stop grace, with a margin.
    let deadline = config.ramp_up + config.settle + config.duration + Duration::from_secs(60);
    let gathered = gather(agents, assignments, deadline).await;
    let mut report = gathered.merged.unwrap_or_default().report(&config);
    report.failures.extend(gathered.failures);
    report.agents = gathered.contributions;
    Ok(Distributed {
        report,
        figures: gathered.figures,
    })
}

/// Runs `scenario` on `agents` (`host:port` each): each agent gets the
/// scenario's text (`text`, the file `scenario` was loaded from; the URL
/// goes beside it, so a command line's `--url` holds) and whole rooms, and
/// runs its share with the scenario driver, each phase's bots scaled to
/// its rooms ([`crate::scenario::share`]); all start together. The merged
/// report is the one a local run builds ([`crate::scenario::driver::report`])
/// from the sum of the agents' raw figures, phases included, `[pass]`
/// judged on it, with the agents' section; an agent that vanishes is named
/// among the failures.
///
/// Refused up front: no agents, more agents than rooms, bot tokens (a
/// secret file), custom TLS roots, a custom network profile, a text that
/// does not give a shareable scenario.
pub async fn run_scenario(
    scenario: &Scenario,
    text: &str,
    agents: &[String],
) -> Result<Distributed, CoordinatorError> {
    if agents.is_empty() {
        return Err(CoordinatorError::NoAgents);
    }
    if agents.len() > scenario.rooms {
        return Err(CoordinatorError::TooManyAgents {
            agents: agents.len(),
            rooms: scenario.rooms,
        });
    }
    if scenario.jwt_secret_file.is_some() {
        return Err(CoordinatorError::Tokens);
    }
    if matches!(scenario.tls, tickwire_client::ClientTls::Roots(_)) {
        return Err(CoordinatorError::CustomRoots);
    }
    if scenario.network.as_ref().is_some_and(custom_network) {
        return Err(CoordinatorError::CustomNetworkProfile);
    }
    // The text travels in one control line, with room to spare for the
    // rest of the message.
    if text.len() + 1024 > MAX_CONTROL_LINE {
        return Err(CoordinatorError::Scenario(format!(
            "the scenario file is {} bytes; agents take at most {}",
            text.len(),
            MAX_CONTROL_LINE - 1024
        )));
    }
    let mut assignments = Vec::with_capacity(agents.len());
    for (first, rooms) in split(scenario.rooms, agents.len()) {
        let share = ScenarioShare {
            scenario: text.to_owned(),
            url: scenario.url.clone(),
            first_room: first,
            rooms,
        };
        // What the agent will run, checked here first.
        let part = share.resolve().map_err(CoordinatorError::Scenario)?;
        if part.phases.len() != scenario.phases.len() {
            return Err(CoordinatorError::Scenario(
                "the text's phases are not the scenario's".into(),
            ));
        }
        assignments.push(Assignment {
            first_room: first,
            rooms,
            bots: part.peak(),
            assign: ToAgent::AssignScenario {
                version: WIRE_VERSION,
                share: Box::new(share),
            },
        });
    }
    let deadline =
        scenario.duration() + crate::scenario::driver::STOP_GRACE + Duration::from_secs(60);
    let gathered = gather(agents, assignments, deadline).await;
    let mut figures = gathered.merged.unwrap_or_default();
    // With no agent finished, the phases are still listed (empty).
    figures.scenario.get_or_insert_with(|| ScenarioFigures {
        phases: vec![PhaseCounts::default(); scenario.phases.len()],
        ..ScenarioFigures::default()
    });
    let mut report = crate::scenario::driver::report(scenario, &figures, None);
    report.failures.extend(gathered.failures);
    report.agents = gathered.contributions;
    Ok(Distributed {
        report,
        figures: gathered.figures,
    })
}

/// What the agents of a run sent back.
struct Gathered {
    /// The sum of the finished agents' figures.
    merged: Option<RunFigures>,
    /// What each agent contributed.
    contributions: Vec<AgentReport>,
    /// Each agent's figures, if it finished.
    figures: Vec<Option<RunFigures>>,
    /// One line per agent that did not finish.
    failures: Vec<String>,
}

/// Sends each agent its assignment, starts them all once every one that
/// answered is ready, and gathers their figures (within `deadline` of the
/// start, each heard at least every [`SILENCE_TIMEOUT`]).
async fn gather(agents: &[String], assignments: Vec<Assignment>, deadline: Duration) -> Gathered {
    // Every agent gets its share and says it is ready; then all start.
    let connecting: Vec<_> = agents
        .iter()
        .zip(&assignments)
        .map(|(name, part)| {
            let (name, assign) = (name.clone(), part.assign.clone());
            tokio::spawn(async move { connect(&name, &assign).await })
        })
        .collect();
    let mut connected = Vec::with_capacity(agents.len());
    for task in connecting {
        connected.push(task.await.unwrap_or_else(|e| Err(e.to_string())));
    }
    let running: Vec<_> = connected
        .into_iter()
        .map(|c| c.map(|agent| tokio::spawn(finish(agent, deadline))))
        .collect();

    let mut merged: Option<RunFigures> = None;
    let mut contributions = Vec::with_capacity(agents.len());
    let mut all_figures = Vec::with_capacity(agents.len());
    let mut failures = Vec::new();
    for ((name, share), run) in agents.iter().zip(&assignments).zip(running) {
        let (status, figures) = match run {
            Err(reason) => (AgentStatus::Failed { reason }, None),
            Ok(task) => match task.await {
                Ok(Ok(figures)) => (AgentStatus::Finished, Some(figures)),
                Ok(Err(e)) => (
                    AgentStatus::Vanished {
                        reason: e.to_string(),
                    },
                    None,
                ),
                Err(e) => (
                    AgentStatus::Vanished {
                        reason: e.to_string(),
                    },
                    None,
                ),
            },
        };
        match &status {
            AgentStatus::Finished => {}
            AgentStatus::Vanished { reason } => failures.push(format!(
                "agent {name} vanished mid-run ({reason}): rooms {}..{} are missing",
                share.first_room,
                share.first_room + share.rooms
            )),
            AgentStatus::Failed { reason } => failures.push(format!(
                "agent {name} did not run its share ({reason}): rooms {}..{} are missing",
                share.first_room,
                share.first_room + share.rooms
            )),
        }
        let f = figures.as_ref();
        contributions.push(AgentReport {
            name: name.clone(),
            first_room: share.first_room,
            rooms: share.rooms,
            bots: share.bots,
            joined: f.map_or(0, |f| f.joined),
            verifying: f.map_or(0, |f| f.verifying),
            updates: f.map_or(0, |f| f.well_behaved.updates),
            latency_p99_ms: f.map_or(0.0, |f| f.well_behaved.latency_us.percentiles().p99),
            bot_cpu_s: f.map_or(0.0, |f| f.bot_cpu_s),
            status,
        });
        if let Some(f) = &figures {
            match &mut merged {
                Some(m) => m.add(f),
                None => merged = Some(f.clone()),
            }
        }
        all_figures.push(figures);
    }
    Gathered {
        merged,
        contributions,
        figures: all_figures,
        failures,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_split_whole_and_in_order() {
        assert_eq!(split(5, 2), [(0, 3), (3, 2)]);
        assert_eq!(split(4, 4), [(0, 1), (1, 1), (2, 1), (3, 1)]);
        assert_eq!(split(7, 3), [(0, 3), (3, 2), (5, 2)]);
    }

    #[tokio::test]
    async fn impossible_runs_are_refused_up_front() {
        let config = crate::swarm::tests::config();
        assert_eq!(
            run(config.clone(), &[]).await.err(),
            Some(CoordinatorError::NoAgents)
        );
        let three = ["a:1".to_owned(), "b:1".into(), "c:1".into()];
        assert_eq!(
            run(config.clone(), &three).await.err(),
            Some(CoordinatorError::TooManyAgents {
                agents: 3,
                rooms: 2
            })
        );
    }

    fn scenario_text(target: &str, network: &str) -> String {
        format!(
            "name = \"s\"\n{network}[target]\nurl = \"ws://h:1\"\n{target}[rooms]\ncount = 2\nplayers = 2\n\
             [[phase]]\nkind = \"ramp\"\nto = 4\nduration = \"1s\"\n"
        )
    }

    #[tokio::test]
    async fn scenarios_that_cannot_be_distributed_are_refused_up_front() {
        let refused = |text: String, agents: usize| async move {
            let scenario = Scenario::parse(&text).expect("valid");
            let names: Vec<String> = (0..agents).map(|i| format!("a{i}:1")).collect();
            run_scenario(&scenario, &text, &names).await.err()
        };
        let plain = scenario_text("", "");
        assert_eq!(
            refused(plain.clone(), 0).await,
            Some(CoordinatorError::NoAgents)
        );
        assert_eq!(
            refused(plain.clone(), 3).await,
            Some(CoordinatorError::TooManyAgents {
                agents: 3,
                rooms: 2
            })
        );
        let tokens = scenario_text("jwt_secret_file = \"secret\"\n", "");
        assert_eq!(refused(tokens, 2).await, Some(CoordinatorError::Tokens));

        let dir = std::env::temp_dir().join(format!("tickwire-dist-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("office.toml");
        std::fs::write(&file, "[both]\nlatency_ms = 5\n").expect("written");
        let custom = scenario_text("", &format!("network = \"{}\"\n", file.display()));
        let verdict = refused(custom, 2).await;
        let _ = std::fs::remove_dir_all(dir);
        assert_eq!(verdict, Some(CoordinatorError::CustomNetworkProfile));

        // A text that is not the scenario's, or too long for one line.
        let scenario = Scenario::parse(&plain).expect("valid");
        let names = ["a:1".to_owned(), "b:1".into()];
        assert!(matches!(
            run_scenario(&scenario, "name = \"x\"", &names).await.err(),
            Some(CoordinatorError::Scenario(_))
        ));
        let padded = format!("{plain}\n#{}\n", "x".repeat(MAX_CONTROL_LINE));
        assert!(matches!(
            run_scenario(&scenario, &padded, &names).await.err(),
            Some(CoordinatorError::Scenario(reason)) if reason.contains("bytes")
        ));
    }

    #[tokio::test]
    async fn an_agent_that_cannot_be_reached_is_reported_and_fails_the_run() {
        // A port nothing listens on: bind one, then free it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a port")
            .port();
        let report = run(
            crate::swarm::tests::config(),
            &[format!("127.0.0.1:{port}")],
        )
        .await
        .expect("a report");
        assert!(!report.passed());
        assert_eq!(report.agents.len(), 1);
        assert!(
            matches!(report.agents[0].status, AgentStatus::Failed { .. }),
            "{:?}",
            report.agents
        );
        assert!(
            report
                .failures
                .iter()
                .any(|f| f.contains("did not run its share"))
        );
    }
}
