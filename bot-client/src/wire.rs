//! The coordinator–agent protocol: newline-delimited JSON over TCP, one
//! message a line, every line bounded.
//!
//! ```text
//! coordinator                          agent
//!   Assign { version, share }  ──────▶  (a swarm's share; or
//!   AssignScenario { .. }               a scenario's: `run --agents`)
//!                              ◀──────  Ready { version, bots } | Refused { version, reason }
//!   Start                      ──────▶  (every agent is ready: all start together)
//!                              ◀──────  Alive { elapsed_ms }   every HEARTBEAT while running
//!                              ◀──────  Finished { figures }   the share's raw figures
//! ```
//!
//! A connection that ends, a line that does not parse or exceeds its
//! bound, or a silence longer than the reader's timeout is a typed
//! [`WireError`]; the coordinator reports that agent as vanished and keeps
//! what the others measured.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tickwire_client::ClientTls;
use tickwire_shared::ids::RoomId;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::behaviour::{BehaviourKind, ChaosMix};
use crate::figures::RunFigures;
use crate::scenario::Scenario;
use crate::swarm::{JoinMode, SwarmConfig};

/// The protocol's version; both sides refuse any other (2: scenario
/// shares and their per-phase figures).
pub const WIRE_VERSION: u32 = 2;

/// The longest control line (assign, ready, start, heartbeats), bytes: a
/// share is a few hundred bytes, so this only stops a peer that is not an
/// agent (or not a coordinator) from growing our buffer.
pub const MAX_CONTROL_LINE: usize = 64 * 1024;

/// The longest `Finished` line, bytes. A share's figures are a handful of
/// histograms of at most a few thousand buckets each plus one timeline
/// entry per second: about 100 KiB for an hour's run; 16 MiB leaves room
/// for days without letting a broken peer exhaust memory.
pub const MAX_RESULT_LINE: usize = 16 * 1024 * 1024;

/// How often a running agent says it is alive. The coordinator's silence
/// timeout is several of these.
pub const HEARTBEAT: Duration = Duration::from_secs(1);

/// Why a message could not be sent or received.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The socket failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The peer closed the connection.
    #[error("connection closed by the peer")]
    Closed,
    /// A line longer than its bound.
    #[error("a message longer than {limit} bytes")]
    TooLarge {
        /// The bound, bytes.
        limit: usize,
    },
    /// A line that is not a message of this protocol.
    #[error("malformed message: {0}")]
    Malformed(#[from] serde_json::Error),
    /// The peer speaks another version of the protocol.
    #[error("protocol version {theirs}, this side speaks {WIRE_VERSION}")]
    Version {
        /// The peer's version.
        theirs: u32,
    },
    /// Nothing arrived in time.
    #[error("no message within {0:?}")]
    Timeout(Duration),
    /// A message that does not belong at this point.
    #[error("unexpected message: expected {expected}")]
    Unexpected {
        /// What was expected.
        expected: &'static str,
    },
}

/// How bots accept a `wss://` or `quic://` certificate (the wire form of
/// [`ClientTls`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsChoice {
    /// Verified against the web PKI roots.
    Verify,
    /// Pinned by SHA-256 fingerprint.
    Fingerprint(String),
    /// Accepted whatever it is.
    Insecure,
}

impl From<&ClientTls> for TlsChoice {
    fn from(tls: &ClientTls) -> Self {
        match tls {
            ClientTls::Fingerprint(fp) => Self::Fingerprint(fp.clone()),
            ClientTls::Insecure => Self::Insecure,
            _ => Self::Verify,
        }
    }
}

impl From<&TlsChoice> for ClientTls {
    fn from(tls: &TlsChoice) -> Self {
        match tls {
            TlsChoice::Verify => Self::Verify,
            TlsChoice::Fingerprint(fp) => Self::Fingerprint(fp.clone()),
            TlsChoice::Insecure => Self::Insecure,
        }
    }
}

/// How an agent's bots find their rooms (the wire form of [`JoinMode`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinChoice {
    /// The first bot of each room creates it.
    CreateRooms,
    /// Every bot quick-joins.
    QuickJoin,
    /// Every bot joins this room id.
    Room(u64),
}

/// One agent's share of a run: whole rooms of it, with everything the
/// agent needs to run them as the whole run would.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Share {
    /// Server URL.
    pub url: String,
    /// Certificate acceptance.
    pub tls: TlsChoice,
    /// Index of the share's first room in the whole run.
    pub first_room: usize,
    /// Rooms in the share.
    pub rooms: usize,
    /// Bots per room.
    pub players: usize,
    /// Measurement window, milliseconds.
    pub duration_ms: u64,
    /// Ramp-up, milliseconds.
    pub ramp_up_ms: u64,
    /// Settle, milliseconds.
    pub settle_ms: u64,
    /// Workload seed (the whole run's).
    pub seed: u64,
    /// Bot threads on the agent (0: one per core).
    pub threads: usize,
    /// What bots do.
    pub behaviour: BehaviourKind,
    /// Misbehaviour shares.
    pub chaos: ChaosMix,
    /// How bots find rooms.
    pub join: JoinChoice,
    /// `echo` events per bot per second.
    pub events_per_second: f64,
    /// Storm this far into the window, milliseconds.
    pub storm_at_ms: Option<u64>,
    /// One bot in this many verifies every update.
    pub verify_every: usize,
    /// The network mix (`--network`), built-in profiles only (a custom
    /// `.toml` profile is a file on the coordinator's machine).
    #[serde(default)]
    pub network: Option<String>,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Share {
    /// The share of `config` made of `rooms` rooms from `first_room`.
    pub fn of(config: &SwarmConfig, first_room: usize, rooms: usize) -> Self {
        Self {
            url: config.url.clone(),
            tls: TlsChoice::from(&config.tls),
            first_room,
            rooms,
            players: config.players,
            duration_ms: ms(config.duration),
            ramp_up_ms: ms(config.ramp_up),
            settle_ms: ms(config.settle),
            seed: config.seed,
            threads: config.threads,
            behaviour: config.behaviour,
            chaos: config.chaos,
            join: match config.join {
                JoinMode::CreateRooms => JoinChoice::CreateRooms,
                JoinMode::QuickJoin => JoinChoice::QuickJoin,
                JoinMode::Room(id) => JoinChoice::Room(id.0),
            },
            events_per_second: config.events_per_second,
            storm_at_ms: config.storm_at.map(ms),
            verify_every: config.verify_every,
            network: config.network.as_ref().map(|mix| mix.describe()),
        }
    }

    /// Bots in the share.
    pub fn bots(&self) -> usize {
        self.rooms * self.players
    }

    /// The swarm an agent runs for this share (quietly: agents have no
    /// terminal to draw on).
    pub fn config(&self) -> SwarmConfig {
        SwarmConfig {
            url: self.url.clone(),
            tls: ClientTls::from(&self.tls),
            rooms: self.rooms,
            players: self.players,
            duration: Duration::from_millis(self.duration_ms),
            ramp_up: Duration::from_millis(self.ramp_up_ms),
            settle: Duration::from_millis(self.settle_ms),
            seed: self.seed,
            threads: self.threads,
            behaviour: self.behaviour,
            chaos: self.chaos,
            join: match self.join {
                JoinChoice::CreateRooms => JoinMode::CreateRooms,
                JoinChoice::QuickJoin => JoinMode::QuickJoin,
                JoinChoice::Room(id) => JoinMode::Room(RoomId(id)),
            },
            events_per_second: self.events_per_second,
            quiet: true,
            tokens: None,
            storm_at: self.storm_at_ms.map(Duration::from_millis),
            verify_every: self.verify_every,
            first_bot: (self.first_room * self.players) as u64,
            // Checked when the share is accepted (`agent::refusal`).
            network: self
                .network
                .as_deref()
                .and_then(|spec| crate::network::NetworkMix::parse(spec).ok()),
        }
    }
}

/// One agent's share of a scenario run (`tickwire-bot run --agents`):
/// the scenario's TOML text, the server URL the run targets (the command
/// line may override the file's), and the rooms the agent runs; the
/// agent scales each phase's bots to those rooms ([`Scenario::share`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioShare {
    /// The scenario file's text.
    pub scenario: String,
    /// Server URL (normalised).
    pub url: String,
    /// Index of the share's first room in the whole run.
    pub first_room: usize,
    /// Rooms in the share.
    pub rooms: usize,
}

impl ScenarioShare {
    /// The scenario this share runs: the text parsed, the URL applied,
    /// cut down to the share's rooms. Bot tokens (a secret file) and
    /// custom network profiles (a file) stay on the coordinator's machine,
    /// so a scenario naming them is refused.
    pub fn resolve(&self) -> Result<Scenario, String> {
        let mut whole = Scenario::parse(&self.scenario).map_err(|e| e.to_string())?;
        if whole.jwt_secret_file.is_some() {
            return Err("bot tokens (target.jwt_secret_file) are not sent to agents".into());
        }
        if let Some(mix) = &whole.network
            && crate::network::NetworkMix::parse(&mix.describe()).is_err()
        {
            return Err("custom network profiles (.toml) are not sent to agents".into());
        }
        whole.url = self.url.clone();
        whole
            .share(self.first_room, self.rooms)
            .map_err(|e| e.to_string())
    }
}

/// What the coordinator sends an agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToAgent {
    /// Here is your share; get ready.
    Assign {
        /// [`WIRE_VERSION`].
        version: u32,
        /// The share (boxed: it dwarfs `Start`).
        share: Box<Share>,
    },
    /// Here is your share of a scenario run; get ready.
    AssignScenario {
        /// [`WIRE_VERSION`].
        version: u32,
        /// The share.
        share: Box<ScenarioShare>,
    },
    /// Every agent is ready: start now.
    Start,
}

/// What an agent sends the coordinator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToCoordinator {
    /// The share is accepted; the agent waits for `Start`.
    Ready {
        /// [`WIRE_VERSION`].
        version: u32,
        /// Bots it will run.
        bots: usize,
    },
    /// The share is refused.
    Refused {
        /// [`WIRE_VERSION`].
        version: u32,
        /// Why.
        reason: String,
    },
    /// Still running (every [`HEARTBEAT`]).
    Alive {
        /// Since `Start`, milliseconds.
        elapsed_ms: u64,
    },
    /// The share ran: its raw figures.
    Finished {
        /// What its bots measured.
        figures: Box<RunFigures>,
    },
}

/// Writes one message as a line.
pub async fn send<W, M>(writer: &mut W, message: &M) -> Result<(), WireError>
where
    W: AsyncWrite + Unpin,
    M: Serialize,
{
    let mut line = serde_json::to_vec(message)?;
    line.push(b'\n');
    writer.write_all(&line).await?;
    writer.flush().await?;
    Ok(())
}

/// Reads one message of at most `limit` bytes, waiting at most `timeout`.
pub async fn recv<R, M>(reader: &mut R, limit: usize, timeout: Duration) -> Result<M, WireError>
where
    R: AsyncBufRead + Unpin,
    M: DeserializeOwned,
{
    let mut line = Vec::new();
    let mut bounded = (&mut *reader).take(limit as u64 + 1);
    let read = bounded.read_until(b'\n', &mut line);
    let n = tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| WireError::Timeout(timeout))??;
    if n == 0 {
        return Err(WireError::Closed);
    }
    if line.last() != Some(&b'\n') {
        return Err(if line.len() > limit {
            WireError::TooLarge { limit }
        } else {
            WireError::Closed
        });
    }
    Ok(serde_json::from_slice(&line)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::BufReader;

    fn share() -> Share {
        let config = SwarmConfig {
            tls: ClientTls::Fingerprint("AB:CD".into()),
            storm_at: Some(Duration::from_millis(1_500)),
            verify_every: 4,
            ..crate::swarm::tests::config()
        };
        Share::of(&config, 1, 1)
    }

    #[tokio::test]
    async fn messages_round_trip_one_a_line() {
        let mut figures = RunFigures {
            planned: 3,
            joined: 3,
            ..RunFigures::default()
        };
        figures.well_behaved.latency_us.0.saturating_record(1_234);
        let sent = vec![
            ToCoordinator::Ready {
                version: WIRE_VERSION,
                bots: 3,
            },
            ToCoordinator::Alive { elapsed_ms: 1_000 },
            ToCoordinator::Finished {
                figures: Box::new(figures),
            },
        ];
        let mut buf = Vec::new();
        send(
            &mut buf,
            &ToAgent::Assign {
                version: WIRE_VERSION,
                share: Box::new(share()),
            },
        )
        .await
        .expect("send");
        for m in &sent {
            send(&mut buf, m).await.expect("send");
        }
        assert_eq!(buf.iter().filter(|&&b| b == b'\n').count(), 4);
        let mut reader = BufReader::new(&buf[..]);
        let t = Duration::from_secs(1);
        let assign: ToAgent = recv(&mut reader, MAX_CONTROL_LINE, t)
            .await
            .expect("assign");
        let ToAgent::Assign { version, share: s } = assign else {
            panic!("{assign:?}")
        };
        assert_eq!((version, &*s), (WIRE_VERSION, &share()));
        for m in &sent {
            let got: ToCoordinator = recv(&mut reader, MAX_RESULT_LINE, t).await.expect("recv");
            assert_eq!(&got, m);
        }
        let end: Result<ToCoordinator, _> = recv(&mut reader, MAX_CONTROL_LINE, t).await;
        assert!(matches!(end, Err(WireError::Closed)), "{end:?}");
    }

    #[test]
    fn a_share_is_the_runs_rooms_from_its_first() {
        let config = share().config();
        assert_eq!((config.rooms, config.players, config.first_bot), (1, 3, 3));
        assert_eq!(config.tls, ClientTls::Fingerprint("AB:CD".into()));
        assert_eq!(config.storm_at, Some(Duration::from_millis(1_500)));
        assert_eq!(config.verify_every, 4);
        assert!(config.quiet && config.tokens.is_none());
    }

    #[test]
    fn a_scenario_share_is_the_text_cut_to_its_rooms_at_the_runs_url() {
        let text = "name = \"s\"\n[target]\nurl = \"ws://file:1\"\n[rooms]\ncount = 3\nplayers = 2\n\
                    [[phase]]\nkind = \"ramp\"\nto = 6\nduration = \"1s\"\n";
        let share = ScenarioShare {
            scenario: text.into(),
            url: "ws://given:2/ws".into(),
            first_room: 1,
            rooms: 2,
        };
        let scenario = share.resolve().expect("a share");
        assert_eq!(scenario.url, "ws://given:2/ws");
        assert_eq!((scenario.rooms, scenario.phases[0].to), (2, 4));
        assert_eq!(scenario.global_slot(2), 4);
        let secret = ScenarioShare {
            scenario: text.replace("[rooms]", "jwt_secret_file = \"k\"\n[rooms]"),
            ..share.clone()
        };
        assert!(secret.resolve().is_err_and(|e| e.contains("tokens")));
        let outside = ScenarioShare {
            first_room: 2,
            ..share
        };
        assert!(outside.resolve().is_err());
    }

    #[tokio::test]
    async fn oversize_garbage_cut_and_silent_lines_are_typed_errors() {
        let t = Duration::from_millis(200);
        let long = format!("{}\n", "x".repeat(100));
        let r: Result<ToAgent, _> = recv(&mut BufReader::new(long.as_bytes()), 64, t).await;
        assert!(matches!(r, Err(WireError::TooLarge { limit: 64 })), "{r:?}");
        let r: Result<ToAgent, _> =
            recv(&mut BufReader::new(&b"{\"type\":\"nope\"}\n"[..]), 64, t).await;
        assert!(matches!(r, Err(WireError::Malformed(_))), "{r:?}");
        let r: Result<ToAgent, _> = recv(&mut BufReader::new(&b"{\"type\":\"st"[..]), 64, t).await;
        assert!(matches!(r, Err(WireError::Closed)), "{r:?}");
        let (_keep, silent) = tokio::io::duplex(64);
        let r: Result<ToAgent, _> = recv(&mut BufReader::new(silent), 64, t).await;
        assert!(matches!(r, Err(WireError::Timeout(_))), "{r:?}");
    }
}
