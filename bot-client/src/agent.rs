//! An agent: a process that runs one coordinator's share of a swarm or of
//! a scenario run (`tickwire-bot agent --listen HOST:PORT`). It serves one
//! coordinator at a time: takes its [`Share`] (or [`ScenarioShare`]),
//! says it is ready, starts on `Start`,
//! says it is alive every [`HEARTBEAT`] while its bots run, and sends its
//! raw figures back (see [`crate::wire`] for the protocol).
//!
//! A coordinator that goes away mid-run ends the share: the bots stop
//! with the connection, and the agent waits for the next coordinator.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use tokio::io::BufReader;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::figures::RunFigures;
use crate::report::Report;
use crate::scenario::{Scenario, driver};
use crate::swarm;
use crate::wire::{
    self, HEARTBEAT, MAX_CONTROL_LINE, ScenarioShare, Share, ToAgent, ToCoordinator, WIRE_VERSION,
    WireError,
};

/// How long a connected coordinator may take to send its share.
pub const ASSIGN_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a ready agent waits for `Start`: the coordinator starts every
/// agent once all are ready, and connecting to the slowest takes at most
/// its connect timeout.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The most bots one share may ask an agent for (a bound on what a
/// stranger's message can make this process allocate).
pub const MAX_SHARE_BOTS: usize = 100_000;

/// Why an agent's session with a coordinator ended early.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The protocol failed (connection lost, timeout, bad message).
    #[error(transparent)]
    Wire(#[from] WireError),
    /// The share was refused.
    #[error("share refused: {0}")]
    Refused(String),
    /// Accepting a connection failed.
    #[error("accepting a coordinator: {0}")]
    Accept(std::io::Error),
}

/// Serves coordinators on `listener`, one at a time, until `shutdown`.
pub async fn serve(listener: TcpListener, shutdown: CancellationToken) -> Result<(), AgentError> {
    loop {
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            accepted = listener.accept() => accepted.map_err(AgentError::Accept)?,
        };
        tracing::info!(%peer, "coordinator connected");
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            served = serve_coordinator(stream) => match served {
                Ok(()) => tracing::info!(%peer, "share finished"),
                Err(e) => tracing::warn!(%peer, error = %e, "share ended early"),
            },
        }
    }
}

fn refusal(share: &Share) -> Option<String> {
    if share.rooms == 0 || share.players == 0 {
        return Some("a share needs rooms and players".into());
    }
    if share.bots() > MAX_SHARE_BOTS {
        return Some(format!(
            "{} bots is more than one agent runs ({MAX_SHARE_BOTS})",
            share.bots()
        ));
    }
    if !(0.0..=crate::bot::MAX_EVENTS_PER_SECOND).contains(&share.events_per_second) {
        return Some("events_per_second out of range".into());
    }
    if let Some(Err(e)) = share
        .network
        .as_deref()
        .map(crate::network::NetworkMix::parse)
    {
        return Some(format!("network: {e}"));
    }
    share.chaos.validate().err().map(|e| e.to_string())
}

/// What a coordinator asked this agent to run.
enum Job {
    /// A swarm's rooms.
    Swarm(Box<Share>),
    /// A scenario's rooms, resolved.
    Scenario(Box<Scenario>),
}

impl Job {
    fn of_scenario(share: &ScenarioShare) -> Result<Self, String> {
        let scenario = share.resolve()?;
        if scenario.peak() > MAX_SHARE_BOTS {
            return Err(format!(
                "{} bots is more than one agent runs ({MAX_SHARE_BOTS})",
                scenario.peak()
            ));
        }
        Ok(Self::Scenario(Box::new(scenario)))
    }

    fn bots(&self) -> usize {
        match self {
            Self::Swarm(share) => share.bots(),
            Self::Scenario(scenario) => scenario.peak(),
        }
    }

    /// Runs the job quietly, to its raw figures.
    fn run(self) -> Pin<Box<dyn Future<Output = (Report, RunFigures)> + Send>> {
        match self {
            Self::Swarm(share) => Box::pin(swarm::run_with_figures(share.config(), |_| {})),
            Self::Scenario(scenario) => Box::pin(async move {
                let options = driver::RunOptions {
                    tokens: None,
                    quiet: true,
                };
                driver::run_with_figures(&scenario, options).await
            }),
        }
    }
}

/// Serves one coordinator: its share, from `Assign` to `Finished`.
pub async fn serve_coordinator(stream: TcpStream) -> Result<(), AgentError> {
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let job = match wire::recv(&mut read, MAX_CONTROL_LINE, ASSIGN_TIMEOUT).await? {
        ToAgent::Assign { version, share } if version == WIRE_VERSION => {
            refusal(&share).map_or(Ok(Job::Swarm(share)), Err)
        }
        ToAgent::AssignScenario { version, share } if version == WIRE_VERSION => {
            Job::of_scenario(&share)
        }
        ToAgent::Assign { version, .. } | ToAgent::AssignScenario { version, .. } => {
            let reason = format!("protocol version {version}, this agent speaks {WIRE_VERSION}");
            let refused = ToCoordinator::Refused {
                version: WIRE_VERSION,
                reason: reason.clone(),
            };
            wire::send(&mut write, &refused).await?;
            return Err(WireError::Version { theirs: version }.into());
        }
        ToAgent::Start => return Err(WireError::Unexpected { expected: "assign" }.into()),
    };
    let job = match job {
        Ok(job) => job,
        Err(reason) => {
            let refused = ToCoordinator::Refused {
                version: WIRE_VERSION,
                reason: reason.clone(),
            };
            wire::send(&mut write, &refused).await?;
            return Err(AgentError::Refused(reason));
        }
    };
    let ready = ToCoordinator::Ready {
        version: WIRE_VERSION,
        bots: job.bots(),
    };
    wire::send(&mut write, &ready).await?;
    match wire::recv(&mut read, MAX_CONTROL_LINE, START_TIMEOUT).await? {
        ToAgent::Start => {}
        ToAgent::Assign { .. } | ToAgent::AssignScenario { .. } => {
            return Err(WireError::Unexpected { expected: "start" }.into());
        }
    }
    let started = Instant::now();
    let mut run = job.run();
    let mut beats = tokio::time::interval(HEARTBEAT);
    // Nothing more comes from the coordinator: a read that returns means
    // it went away (or broke the protocol), which ends the share.
    let gone = wire::recv::<_, ToAgent>(&mut read, MAX_CONTROL_LINE, Duration::MAX);
    tokio::pin!(gone);
    let (_report, figures) = loop {
        tokio::select! {
            done = &mut run => break done,
            _ = beats.tick() => {
                let alive = ToCoordinator::Alive {
                    elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                };
                wire::send(&mut write, &alive).await?;
            }
            heard = &mut gone => {
                return Err(match heard {
                    Err(e) => e.into(),
                    Ok(_) => WireError::Unexpected { expected: "nothing while running" }.into(),
                });
            }
        }
    };
    let finished = ToCoordinator::Finished {
        figures: Box::new(figures),
    };
    wire::send(&mut write, &finished).await?;
    Ok(())
}
