//! The coordinator of a distributed run: splits a swarm's rooms among
//! agents (`tickwire-bot agent`), whole rooms each, starts them together
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
use crate::swarm::SwarmConfig;
use crate::wire::{
    self, MAX_CONTROL_LINE, MAX_RESULT_LINE, Share, ToAgent, ToCoordinator, WIRE_VERSION, WireError,
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
    /// Bot tokens are minted from a secret, which agents are not sent.
    #[error("bot tokens (--jwt-secret) are not supported in distributed runs")]
    Tokens,
    /// Custom root certificates do not travel to agents.
    #[error("custom TLS roots are not supported in distributed runs")]
    CustomRoots,
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

async fn connect(name: &str, share: &Share) -> Result<Connected, String> {
    let connecting = async {
        let stream = TcpStream::connect(name).await.map_err(WireError::Io)?;
        let _ = stream.set_nodelay(true);
        let (read, mut write) = stream.into_split();
        let mut read = BufReader::new(read);
        let assign = ToAgent::Assign {
            version: WIRE_VERSION,
            share: Box::new(share.clone()),
        };
        wire::send(&mut write, &assign).await?;
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
    let shares: Vec<Share> = split(config.rooms, agents.len())
        .into_iter()
        .map(|(first, rooms)| Share::of(&config, first, rooms))
        .collect();

    // Every agent gets its share and says it is ready; then all start.
    let connecting: Vec<_> = agents
        .iter()
        .zip(&shares)
        .map(|(name, share)| {
            let (name, share) = (name.clone(), share.clone());
            tokio::spawn(async move { connect(&name, &share).await })
        })
        .collect();
    let mut connected = Vec::with_capacity(agents.len());
    for task in connecting {
        connected.push(task.await.unwrap_or_else(|e| Err(e.to_string())));
    }
    // The longest a share can take: its ramp-up, the join grace, the
    // settle, the window and the stop grace, with a margin.
    let deadline = config.ramp_up + config.settle + config.duration + Duration::from_secs(60);
    let running: Vec<_> = connected
        .into_iter()
        .map(|c| c.map(|agent| tokio::spawn(finish(agent, deadline))))
        .collect();

    let mut merged: Option<RunFigures> = None;
    let mut contributions = Vec::with_capacity(agents.len());
    let mut all_figures = Vec::with_capacity(agents.len());
    let mut failures = Vec::new();
    for ((name, share), run) in agents.iter().zip(&shares).zip(running) {
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
            bots: share.bots(),
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
    let mut report = merged.unwrap_or_default().report(&config);
    report.failures.extend(failures);
    report.agents = contributions;
    Ok(Distributed {
        report,
        figures: all_figures,
    })
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
