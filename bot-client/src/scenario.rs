//! Scenarios: load tests that look like real players. A TOML file names
//! the server, the rooms, the mix of behaviours and phases in order (ramp
//! up, hold, a spike that comes and goes, drain), and what passes:
//! thresholds on any figure of the report and gates against a baseline
//! report. `tickwire-bot run scenario.toml` runs one; the examples under
//! `bot-client/scenarios/` are commented.
//!
//! Loading goes in two steps (ripgrep's LowArgs / HiArgs): the file is
//! parsed into [`ScenarioFile`] (serde, unknown fields refused), then
//! checked and resolved into a [`Scenario`] (durations, phases, figure
//! paths, thresholds, gates), every error naming its field. This module
//! and [`schedule`] are pure; [`driver`] runs a scenario.
//!
//! ```toml
//! name = "smoke"
//! [target]
//! url = "ws://127.0.0.1:7000"
//! [rooms]
//! count = 2
//! players = 8
//! [[phase]]
//! kind = "ramp"
//! to = 16
//! duration = "3s"
//! [pass]
//! "well_behaved.latency_ms.p99" = "< 50"
//! ```

pub mod driver;
pub mod phases;
pub mod schedule;
pub mod share;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tickwire_shared::rng::SimRng;

use crate::baseline::{BaselineError, Gate};
use crate::behaviour::{Behaviour, Misbehaviour};
use crate::figure_paths::{self as figures, FigureError, FigurePath};

pub use schedule::Schedule;

/// Why a scenario is refused.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("reading {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: std::io::Error,
    },
    /// The TOML is malformed or has an unknown or mistyped field (the
    /// message names it, with its line).
    #[error(transparent)]
    Toml(#[from] toml::de::Error),
    /// A field's value is out of range or inconsistent with another.
    #[error("`{field}`: {reason}")]
    Invalid {
        /// The field, as a path (`phase[2].duration`, `mix.idle`).
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A `[pass]` threshold is not `OP NUMBER`.
    #[error(
        "`pass.\"{figure}\"`: threshold `{threshold}` is not a comparison and a number (e.g. `< 50`, `== 0`; operators < <= > >= == !=)"
    )]
    Threshold {
        /// The figure.
        figure: String,
        /// The threshold as written.
        threshold: String,
    },
    /// A `[pass]` figure is not one a report has.
    #[error("`pass.\"{figure}\"`: {reason}")]
    Figure {
        /// The figure as written.
        figure: String,
        /// Why.
        reason: FigureError,
    },
    /// A `[gates]` entry is refused (the message names the gate).
    #[error(transparent)]
    Gate(#[from] BaselineError),
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ScenarioError {
    ScenarioError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

// ---------------------------------------------------------------------------
// The file, as written

/// A scenario file as parsed, before checking.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// The scenario's name (reports, logs).
    pub name: String,
    /// Workload seed (default 1): which bots misbehave, the arena inputs.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Bot threads (default 0: one per core), as `swarm --threads`.
    #[serde(default)]
    pub threads: usize,
    /// The server.
    pub target: TargetFile,
    /// Rooms and their seats.
    pub rooms: RoomsFile,
    /// What the bots do.
    #[serde(default)]
    pub mix: Mix,
    /// The networks the bots sit behind, as `swarm --network` takes them:
    /// a profile (`lan`, `wifi`, `mobile-4g`, `bad-mobile`, or a `.toml`
    /// file) or shares (`"wifi=50,mobile-4g=50"`). Default: none.
    #[serde(default)]
    pub network: Option<String>,
    /// One bot in this many decodes and verifies every update; the
    /// others only acknowledge (light bots, as `swarm --verify-every`).
    /// Default 1: every bot verifies.
    #[serde(default = "default_verify_every")]
    pub verify_every: usize,
    /// The phases, in order (`[[phase]]` tables).
    #[serde(rename = "phase")]
    pub phases: Vec<PhaseFile>,
    /// Thresholds: figure (dotted path or short name) = `"OP NUMBER"`.
    #[serde(default)]
    pub pass: toml::Table,
    /// Gates against a baseline report: figure = `"+N%"` and the like.
    #[serde(default)]
    pub gates: toml::Table,
}

fn default_seed() -> u64 {
    1
}

fn default_verify_every() -> usize {
    1
}

/// `[target]`: where the bots go.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetFile {
    /// Server URL: `ws://`, `wss://` (`/ws` added when there is no path)
    /// or `quic://host:port`.
    pub url: String,
    /// `ws`, `wss` or `quic` (default: the URL's scheme); switches the
    /// URL's scheme and keeps host and port.
    #[serde(default)]
    pub transport: Option<TransportName>,
    /// Accept any wss/QUIC certificate (development only).
    #[serde(default)]
    pub insecure: bool,
    /// Accept the wss/QUIC certificate with this SHA-256 fingerprint.
    #[serde(default)]
    pub cert_fingerprint: Option<String>,
    /// Give each bot an HS256 token signed with the secret in this file
    /// (relative to the scenario file).
    #[serde(default)]
    pub jwt_secret_file: Option<PathBuf>,
}

/// A transport, as a scenario names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportName {
    /// WebSocket.
    Ws,
    /// WebSocket over TLS.
    Wss,
    /// QUIC.
    Quic,
}

/// `[rooms]`: how many, and their seats.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomsFile {
    /// Rooms.
    pub count: usize,
    /// Seats per room: the most bots a room holds at once.
    pub players: usize,
    /// `create` (default: the first bot of each room creates it, the
    /// others join it by id) or `quick-join`.
    #[serde(default)]
    pub join: JoinFile,
}

/// How bots find their rooms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JoinFile {
    /// The swarm creates its rooms.
    #[default]
    Create,
    /// Every bot quick-joins.
    QuickJoin,
}

/// `[mix]`: the share of bots doing each thing (each in `0..=1`, summing
/// to at most 1; the rest play the arena), and the event load. Which bot
/// does what is drawn from the seed; room creators always play the arena.
#[derive(Clone, Copy, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mix {
    /// Join and acknowledge, no inputs.
    pub idle: f64,
    /// Send malformed frames, then reconnect.
    pub malformed: f64,
    /// Send frames over the size limit, then reconnect.
    pub oversize: f64,
    /// Flood inputs at ten times the tick rate.
    pub flood: f64,
    /// Drop the connection abruptly and resume.
    pub disconnect: f64,
    /// Stop reading after joining.
    pub slow: f64,
    /// Resume churn: play the arena and cut the connection every few
    /// seconds, the client library resuming the seat.
    pub resume: f64,
    /// `echo` events each playing bot emits with an ack per second.
    pub events_per_second: f64,
}

impl Mix {
    fn shares(&self) -> [(&'static str, f64, Behaviour); 7] {
        [
            ("idle", self.idle, Behaviour::Idle),
            (
                "malformed",
                self.malformed,
                Behaviour::Misbehave(Misbehaviour::Malformed),
            ),
            (
                "oversize",
                self.oversize,
                Behaviour::Misbehave(Misbehaviour::Oversize),
            ),
            (
                "flood",
                self.flood,
                Behaviour::Misbehave(Misbehaviour::Flood),
            ),
            (
                "disconnect",
                self.disconnect,
                Behaviour::Misbehave(Misbehaviour::Disconnect),
            ),
            (
                "slow",
                self.slow,
                Behaviour::Misbehave(Misbehaviour::SlowReader),
            ),
            ("resume", self.resume, Behaviour::Resume),
        ]
    }

    fn validate(&self) -> Result<(), ScenarioError> {
        let mut sum = 0.0;
        for (name, share, _) in self.shares() {
            if !(0.0..=1.0).contains(&share) {
                return Err(invalid(format!("mix.{name}"), "must be in 0..=1"));
            }
            sum += share;
        }
        if sum > 1.0 + 1e-9 {
            return Err(invalid("mix", format!("the shares sum to {sum}, over 1")));
        }
        let max = crate::bot::MAX_EVENTS_PER_SECOND;
        if !(0.0..=max).contains(&self.events_per_second) {
            return Err(invalid(
                "mix.events_per_second",
                format!("must be in 0..={max}"),
            ));
        }
        Ok(())
    }

    /// What bot `index` does, drawn from `seed` (the same bot does the
    /// same in every run with that seed).
    pub fn pick(&self, seed: u64, index: u64) -> Behaviour {
        let draw = f64::from(SimRng::new(seed, 1 << 43 | index).range_f32(0.0, 1.0));
        let mut edge = 0.0;
        for (_, share, behaviour) in self.shares() {
            edge += share;
            if draw < edge {
                return behaviour;
            }
        }
        Behaviour::Arena
    }

    /// Whether any bot misbehaves or churns.
    pub fn has_chaos(&self) -> bool {
        self.shares()
            .iter()
            .any(|(name, share, _)| *name != "idle" && *share > 0.0)
    }
}

/// A `[[phase]]` table as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseFile {
    /// `ramp`, `hold`, `spike` or `drain`.
    pub kind: PhaseKind,
    /// Its name in reports and figure paths (default: the kind, with a
    /// number when the kind repeats).
    #[serde(default)]
    pub name: Option<String>,
    /// `ramp`: the bot count to reach; `drain`: the count to leave
    /// (default 0).
    #[serde(default)]
    pub to: Option<usize>,
    /// `spike`: bots added at the start, which leave at the end.
    #[serde(default)]
    pub add: Option<usize>,
    /// How long, whole seconds (`"30s"`, `"2m"`).
    pub duration: String,
}

/// What a phase does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PhaseKind {
    /// Bots start evenly over the phase until `to` run.
    Ramp,
    /// Nothing changes.
    #[default]
    Hold,
    /// `add` bots start at once and leave when the phase ends.
    Spike,
    /// Bots leave evenly over the phase (newest first) until `to` run.
    Drain,
}

impl PhaseKind {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ramp => "ramp",
            Self::Hold => "hold",
            Self::Spike => "spike",
            Self::Drain => "drain",
        }
    }
}

impl fmt::Display for PhaseKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

// ---------------------------------------------------------------------------
// The scenario, checked

/// A phase, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Phase {
    /// Its name (unique in the scenario).
    pub name: String,
    /// What it does.
    pub kind: PhaseKind,
    /// How long.
    pub duration: Duration,
    /// Bots running when it starts.
    pub from: usize,
    /// Bots running when it ends (a spike's extra bots have left by then).
    pub to: usize,
    /// Bots at its peak (a spike's top).
    pub peak: usize,
}

/// The operator of a `[pass]` threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    /// `<`
    Less,
    /// `<=`
    AtMost,
    /// `>`
    Greater,
    /// `>=`
    AtLeast,
    /// `==`
    Equal,
    /// `!=`
    NotEqual,
}

impl Operator {
    fn symbol(self) -> &'static str {
        match self {
            Self::Less => "<",
            Self::AtMost => "<=",
            Self::Greater => ">",
            Self::AtLeast => ">=",
            Self::Equal => "==",
            Self::NotEqual => "!=",
        }
    }
}

/// A `[pass]` entry: a figure and the bound it must respect.
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    /// The figure.
    pub figure: FigurePath,
    /// How it compares.
    pub operator: Operator,
    /// With what.
    pub value: f64,
}

impl Threshold {
    /// Parses `OP NUMBER` (`< 50`, `== 0`) for `figure`.
    pub fn parse(figure: FigurePath, text: &str) -> Result<Self, ScenarioError> {
        let bad = || ScenarioError::Threshold {
            figure: figure.name.clone(),
            threshold: text.to_owned(),
        };
        let text_trimmed = text.trim();
        // Two-character operators first.
        let (operator, rest) = [
            ("<=", Operator::AtMost),
            (">=", Operator::AtLeast),
            ("==", Operator::Equal),
            ("!=", Operator::NotEqual),
            ("<", Operator::Less),
            (">", Operator::Greater),
        ]
        .into_iter()
        .find_map(|(op, c)| text_trimmed.strip_prefix(op).map(|rest| (c, rest)))
        .ok_or_else(bad)?;
        let value: f64 = rest.trim().parse().map_err(|_| bad())?;
        if !value.is_finite() {
            return Err(bad());
        }
        Ok(Self {
            figure,
            operator,
            value,
        })
    }

    /// Whether `actual` respects the threshold.
    pub fn holds(&self, actual: f64) -> bool {
        match self.operator {
            Operator::Less => actual < self.value,
            Operator::AtMost => actual <= self.value,
            Operator::Greater => actual > self.value,
            Operator::AtLeast => actual >= self.value,
            Operator::Equal => actual == self.value,
            Operator::NotEqual => actual != self.value,
        }
    }

    /// Checks a report's JSON: `Ok(None)` when it holds, `Ok(Some(why))`
    /// when it does not, an error when the figure is missing.
    pub fn check(&self, report: &Value) -> Result<Option<String>, FigureError> {
        let actual = self.figure.read(report)?;
        Ok((!self.holds(actual)).then(|| {
            format!(
                "pass {}: {actual} is not {} {}",
                self.figure.name,
                self.operator.symbol(),
                self.value
            )
        }))
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.figure.name,
            self.operator.symbol(),
            self.value
        )
    }
}

/// A scenario, checked and ready to run.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Its name.
    pub name: String,
    /// Workload seed.
    pub seed: u64,
    /// Bot threads (0: one per core).
    pub threads: usize,
    /// Server URL (normalised, transport applied).
    pub url: String,
    /// How a wss/QUIC certificate is accepted.
    pub tls: tickwire_client::ClientTls,
    /// The HS256 secret file for bot tokens, resolved against the
    /// scenario's folder.
    pub jwt_secret_file: Option<PathBuf>,
    /// Rooms.
    pub rooms: usize,
    /// Seats per room.
    pub players: usize,
    /// How bots find rooms.
    pub join: JoinFile,
    /// What bots do.
    pub mix: Mix,
    /// The networks the bots sit behind.
    pub network: Option<crate::network::NetworkMix>,
    /// One bot in this many verifies every update.
    pub verify_every: usize,
    /// The phases, in order, with their bot counts.
    pub phases: Vec<Phase>,
    /// What passes.
    pub pass: Vec<Threshold>,
    /// Gates against a baseline (used with `--baseline`).
    pub gates: Vec<Gate>,
    /// Where this scenario's rooms sit in a whole run it is a share of
    /// (an agent's part of a distributed run, [`Scenario::share`]); `None`
    /// for a whole run.
    pub shared: Option<share::RoomShare>,
}

impl Scenario {
    /// Reads and checks a scenario file.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|reason| ScenarioError::Read {
            path: path.to_owned(),
            reason,
        })?;
        let mut scenario = Self::parse(&text)?;
        if let Some(secret) = &mut scenario.jwt_secret_file
            && secret.is_relative()
            && let Some(folder) = path.parent()
        {
            *secret = folder.join(&*secret);
        }
        Ok(scenario)
    }

    /// Parses and checks a scenario's TOML text.
    pub fn parse(text: &str) -> Result<Self, ScenarioError> {
        let file: ScenarioFile = toml::from_str(text)?;
        Self::resolve(file)
    }

    /// Checks a parsed file.
    pub fn resolve(file: ScenarioFile) -> Result<Self, ScenarioError> {
        if file.name.trim().is_empty() {
            return Err(invalid("name", "must not be empty"));
        }
        if file.rooms.count == 0 {
            return Err(invalid("rooms.count", "must be positive"));
        }
        if file.verify_every == 0 {
            return Err(invalid("verify_every", "must be positive"));
        }
        let network = match file.network.as_deref() {
            None => None,
            Some(spec) => Some(
                crate::network::NetworkMix::parse(spec)
                    .map_err(|e| invalid("network", e.to_string()))?,
            ),
        };
        if file.rooms.players == 0 || file.rooms.players > usize::from(u16::MAX) {
            return Err(invalid("rooms.players", "must be in 1..=65535"));
        }
        file.mix.validate()?;
        let seats = file.rooms.count * file.rooms.players;
        let phases = phases(&file.phases, seats)?;

        let mut url = crate::swarm::ws_url(&file.target.url);
        if let Some(transport) = file.target.transport {
            url = crate::swarm::with_transport(
                &url,
                match transport {
                    TransportName::Ws => crate::swarm::Transport::Ws,
                    TransportName::Wss => crate::swarm::Transport::Wss,
                    TransportName::Quic => crate::swarm::Transport::Quic,
                },
            );
        }
        let tls = match (&file.target.cert_fingerprint, file.target.insecure) {
            (Some(_), true) => {
                return Err(invalid(
                    "target.insecure",
                    "conflicts with target.cert_fingerprint",
                ));
            }
            (Some(fp), false) => tickwire_client::ClientTls::Fingerprint(fp.clone()),
            (None, true) => tickwire_client::ClientTls::Insecure,
            (None, false) => tickwire_client::ClientTls::Verify,
        };

        let shape = figures::report_shape(&schedule::phase_shapes(&phases));
        let mut pass = Vec::new();
        for (figure, threshold) in flatten("pass", &file.pass)? {
            let path =
                FigurePath::resolve(&figure, &shape).map_err(|reason| ScenarioError::Figure {
                    figure: figure.clone(),
                    reason,
                })?;
            pass.push(Threshold::parse(path, &threshold)?);
        }
        let mut gates = Vec::new();
        for (figure, limit) in flatten("gates", &file.gates)? {
            gates.push(Gate::new(&figure, &limit, &shape)?);
        }
        Ok(Self {
            name: file.name,
            seed: file.seed,
            threads: file.threads,
            url,
            tls,
            jwt_secret_file: file.target.jwt_secret_file,
            rooms: file.rooms.count,
            players: file.rooms.players,
            join: file.rooms.join,
            mix: file.mix,
            network,
            verify_every: file.verify_every,
            phases,
            pass,
            gates,
            shared: None,
        })
    }

    /// The JSON shape of this scenario's reports, for checking figure
    /// paths given on the command line (`--gate`).
    pub fn report_shape(&self) -> Value {
        figures::report_shape(&schedule::phase_shapes(&self.phases))
    }

    /// The whole run, every phase end to end.
    pub fn duration(&self) -> Duration {
        self.phases.iter().map(|p| p.duration).sum()
    }

    /// The most bots running at once.
    pub fn peak(&self) -> usize {
        self.phases.iter().map(|p| p.peak).max().unwrap_or(0)
    }

    /// Checks `[pass]` against a report's JSON: one line per threshold not
    /// held or figure missing.
    pub fn judge(&self, report: &Value) -> Vec<String> {
        self.pass
            .iter()
            .filter_map(|t| match t.check(report) {
                Ok(verdict) => verdict,
                Err(e) => Some(format!("pass {}: {e}", t.figure.name)),
            })
            .collect()
    }
}

/// Flattens a `[pass]` or `[gates]` table into `dotted key = string`: a
/// quoted key (`"well_behaved.latency_ms.p99"`) and bare dotted keys
/// (which TOML nests into tables) read the same.
fn flatten(table_name: &str, table: &toml::Table) -> Result<Vec<(String, String)>, ScenarioError> {
    fn walk(
        table_name: &str,
        prefix: &str,
        table: &toml::Table,
        out: &mut Vec<(String, String)>,
    ) -> Result<(), ScenarioError> {
        for (key, value) in table {
            let path = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            match value {
                toml::Value::String(text) => out.push((path, text.clone())),
                toml::Value::Table(inner) => walk(table_name, &path, inner, out)?,
                other => {
                    return Err(invalid(
                        format!("{table_name}.\"{path}\""),
                        format!(
                            "must be a string such as \"< 50\" or \"+20%\", not {}",
                            other.type_str()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(table_name, "", table, &mut out)?;
    Ok(out)
}

/// Checks the phases and works out their bot counts; at most `seats`
/// bots may run at once.
fn phases(files: &[PhaseFile], seats: usize) -> Result<Vec<Phase>, ScenarioError> {
    if files.is_empty() {
        return Err(invalid("phase", "a scenario needs at least one [[phase]]"));
    }
    let mut phases: Vec<Phase> = Vec::with_capacity(files.len());
    let mut running = 0;
    for (i, file) in files.iter().enumerate() {
        let at = |field: &str| format!("phase[{}].{field}", i + 1);
        let duration = humantime::parse_duration(&file.duration)
            .map_err(|e| invalid(at("duration"), format!("`{}`: {e}", file.duration)))?;
        if duration < Duration::from_secs(1) || duration.subsec_nanos() != 0 {
            return Err(invalid(
                at("duration"),
                format!(
                    "`{}`: must be a whole number of seconds, at least 1 (figures are kept per second)",
                    file.duration
                ),
            ));
        }
        let refuse = |field: &str, present: bool| {
            if present {
                Err(invalid(
                    at(field),
                    format!("a {} phase takes no `{field}`", file.kind),
                ))
            } else {
                Ok(())
            }
        };
        let (to, peak) = match file.kind {
            PhaseKind::Ramp => {
                refuse("add", file.add.is_some())?;
                let to = file
                    .to
                    .ok_or_else(|| invalid(at("to"), "a ramp needs `to`, the bots to reach"))?;
                if to < running {
                    return Err(invalid(
                        at("to"),
                        format!(
                            "a ramp cannot go down ({running} bots run before it, to = {to}); use a drain"
                        ),
                    ));
                }
                (to, to)
            }
            PhaseKind::Hold => {
                refuse("to", file.to.is_some())?;
                refuse("add", file.add.is_some())?;
                (running, running)
            }
            PhaseKind::Spike => {
                refuse("to", file.to.is_some())?;
                let add = file
                    .add
                    .ok_or_else(|| invalid(at("add"), "a spike needs `add`, the bots it adds"))?;
                if add == 0 {
                    return Err(invalid(at("add"), "must be positive"));
                }
                (running, running + add)
            }
            PhaseKind::Drain => {
                refuse("add", file.add.is_some())?;
                let to = file.to.unwrap_or(0);
                if to > running {
                    return Err(invalid(
                        at("to"),
                        format!(
                            "a drain cannot go up ({running} bots run before it, to = {to}); use a ramp"
                        ),
                    ));
                }
                (to, running)
            }
        };
        if peak > seats {
            return Err(invalid(
                at(if file.kind == PhaseKind::Spike {
                    "add"
                } else {
                    "to"
                }),
                format!(
                    "{peak} bots at once is more than the rooms' {seats} seats (rooms.count x rooms.players)"
                ),
            ));
        }
        let repeats = files.iter().filter(|f| f.kind == file.kind).count() > 1;
        let name = match &file.name {
            Some(name) => name.trim().to_owned(),
            None if repeats => {
                let n = files[..=i].iter().filter(|f| f.kind == file.kind).count();
                format!("{}-{n}", file.kind)
            }
            None => file.kind.name().to_owned(),
        };
        if name.is_empty() || name.contains('.') || name.parse::<usize>().is_ok() {
            return Err(invalid(
                at("name"),
                format!("`{name}` must be non-empty, without dots, and not a number"),
            ));
        }
        if phases.iter().any(|p| p.name == name) {
            return Err(invalid(
                at("name"),
                format!("`{name}` names an earlier phase too"),
            ));
        }
        phases.push(Phase {
            name,
            kind: file.kind,
            duration,
            from: running,
            to,
            peak,
        });
        running = to;
    }
    Ok(phases)
}

/// Bots of one phase, as the report gives them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct PhaseBots {
    /// Running when the phase started.
    pub at_start: usize,
    /// Running when it ended.
    pub at_end: usize,
    /// Most running at once.
    pub peak: usize,
    /// Mean running over the phase.
    pub mean: f64,
    /// Joined their room during the phase.
    pub joined: usize,
    /// Failed to connect or join during the phase.
    pub failed: usize,
}

/// Figures of one phase of a scenario run, those of the bots that play
/// (well-behaved and resuming bots, as in the report's `timeline`;
/// misbehaving bots are not measured), per bot playing.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PhaseReport {
    /// The phase's name.
    pub name: String,
    /// What it did.
    pub kind: PhaseKind,
    /// When it started, seconds from the scenario's start.
    pub start_s: f64,
    /// When it ended.
    pub end_s: f64,
    /// Bots over the phase (the ones the scenario had started and not yet
    /// stopped; a bot counts from its start, connecting included).
    pub bots: PhaseBots,
    /// Updates applied.
    pub updates: u64,
    /// Updates per playing bot per second.
    pub updates_per_bot_per_s: f64,
    /// Median update latency, ms (per-second buckets, within about 12 %).
    pub latency_p50_ms: f64,
    /// 99th percentile update latency, ms.
    pub latency_p99_ms: f64,
    /// Downstream payload bytes per playing bot per second.
    pub down_bytes_per_client_s: f64,
    /// Upstream payload bytes per playing bot per second.
    pub up_bytes_per_client_s: f64,
    /// Ticks with no update between consecutive updates.
    pub missed: u64,
    /// Rebuilt worlds that did not match the server's checksum.
    pub checksum_mismatches: u64,
    /// Errors (closes, losses, refusals, failed updates).
    pub errors: u64,
}

/// The terminal table of a run's phases: one row each.
pub fn phase_table(phases: &[PhaseReport]) -> String {
    use std::fmt::Write as _;
    let mut out = String::from(
        "| phase | kind | s | bots start > end (peak, mean) | joined / failed | updates/bot/s | latency p50 / p99 ms | down / up B/client/s | missed | mismatches | errors |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for p in phases {
        let _ = writeln!(
            out,
            "| {} | {} | {:.0}-{:.0} | {} > {} ({}, {:.1}) | {} / {} | {:.1} | {:.2} / {:.2} | {:.0} / {:.0} | {} | {} | {} |",
            p.name,
            p.kind,
            p.start_s,
            p.end_s,
            p.bots.at_start,
            p.bots.at_end,
            p.bots.peak,
            p.bots.mean,
            p.bots.joined,
            p.bots.failed,
            p.updates_per_bot_per_s,
            p.latency_p50_ms,
            p.latency_p99_ms,
            p.down_bytes_per_client_s,
            p.up_bytes_per_client_s,
            p.missed,
            p.checksum_mismatches,
            p.errors,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_phase_table_has_a_row_per_phase() {
        let table = phase_table(&[
            PhaseReport {
                name: "ramp".into(),
                kind: PhaseKind::Ramp,
                end_s: 3.0,
                bots: PhaseBots {
                    at_end: 16,
                    peak: 16,
                    mean: 8.5,
                    joined: 16,
                    ..PhaseBots::default()
                },
                latency_p99_ms: 2.5,
                ..PhaseReport::default()
            },
            PhaseReport {
                name: "hold".into(),
                ..PhaseReport::default()
            },
        ]);
        assert_eq!(table.lines().count(), 4, "{table}");
        assert!(
            table.contains("| ramp | ramp | 0-3 | 0 > 16 (16, 8.5) | 16 / 0 | 0.0 | 0.00 / 2.50 |"),
            "{table}"
        );
    }

    const VALID: &str = r#"
name = "t"
[target]
url = "ws://127.0.0.1:7000"
[rooms]
count = 2
players = 10
[mix]
idle = 0.1
resume = 0.1
events_per_second = 2
[[phase]]
kind = "ramp"
to = 12
duration = "3s"
[[phase]]
kind = "hold"
duration = "2s"
[[phase]]
kind = "spike"
add = 8
duration = "2s"
[[phase]]
kind = "drain"
duration = "1m"
[pass]
"well_behaved.latency_ms.p99" = "< 50"
"well_behaved.checksum_mismatches" = "== 0"
phases.hold.errors = "<= 3"
[gates]
latency_p99 = "+20%"
"#;

    fn with(extra: &str, replace: (&str, &str)) -> String {
        format!("{}{extra}", VALID.replace(replace.0, replace.1))
    }

    #[test]
    fn networks_and_light_bots_are_read_and_checked() {
        let s = Scenario::parse(VALID).expect("valid");
        assert_eq!((s.network.as_ref(), s.verify_every), (None, 1), "defaults");
        let top =
            |extra: &str| VALID.replacen("name = \"t\"", &format!("name = \"t\"\n{extra}"), 1);
        let s = Scenario::parse(&top("network = \"wifi=50,mobile-4g=50\"\nverify_every = 8"))
            .expect("valid");
        let mix = s.network.expect("a mix");
        assert_eq!(mix.describe(), "wifi=50,mobile-4g=50");
        assert_eq!(s.verify_every, 8);
        for (bad, field) in [
            ("network = \"wifi=50,lan=40\"", "network"),
            ("network = \"dial-up\"", "network"),
            ("verify_every = 0", "verify_every"),
        ] {
            match Scenario::parse(&top(bad)) {
                Err(ScenarioError::Invalid { field: f, .. }) => assert_eq!(f, field, "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_valid_scenario_resolves_its_phases_and_checks() {
        let s = Scenario::parse(VALID).expect("valid");
        assert_eq!(s.url, "ws://127.0.0.1:7000/ws");
        let counts: Vec<_> = s
            .phases
            .iter()
            .map(|p| (p.name.as_str(), p.from, p.to, p.peak))
            .collect();
        assert_eq!(
            counts,
            [
                ("ramp", 0, 12, 12),
                ("hold", 12, 12, 12),
                ("spike", 12, 12, 20),
                ("drain", 12, 0, 12)
            ]
        );
        assert_eq!(s.duration(), Duration::from_secs(67));
        assert_eq!(s.peak(), 20);
        assert_eq!(s.pass.len(), 3);
        assert_eq!(s.gates.len(), 1);
        assert!(
            s.pass
                .iter()
                .any(|t| t.figure.dotted() == "phases.hold.errors")
        );
    }

    #[test]
    fn the_shipped_examples_parse() {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let mut seen = 0;
        for entry in std::fs::read_dir(&folder).expect("scenarios folder") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "toml") {
                Scenario::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                seen += 1;
            }
        }
        assert!(seen >= 4, "{seen} examples");
    }

    #[test]
    fn unknown_fields_are_refused_by_name() {
        let e = Scenario::parse(&VALID.replace("count = 2", "count = 2\nseats = 4")).unwrap_err();
        assert!(e.to_string().contains("seats"), "{e}");
        let e = Scenario::parse(&VALID.replace("idle = 0.1", "idel = 0.1")).unwrap_err();
        assert!(e.to_string().contains("idel"), "{e}");
        let e = Scenario::parse(&with("", ("kind = \"hold\"", "kind = \"hodl\""))).unwrap_err();
        assert!(e.to_string().contains("hodl"), "{e}");
        let e = Scenario::parse(&with("", ("add = 8", "add = 8\nto = 3"))).unwrap_err();
        assert!(e.to_string().contains("phase[3].to"), "{e}");
    }

    #[test]
    fn bad_thresholds_and_figures_are_refused_by_name() {
        let e = Scenario::parse(&VALID.replace("\"< 50\"", "\"under 50\"")).unwrap_err();
        assert!(
            matches!(&e, ScenarioError::Threshold { figure, .. } if figure == "well_behaved.latency_ms.p99"),
            "{e}"
        );
        let e = Scenario::parse(&VALID.replace("\"== 0\"", "\"== zero\"")).unwrap_err();
        assert!(e.to_string().contains("checksum_mismatches"), "{e}");
        let e = Scenario::parse(&VALID.replace("p99\" = ", "p999\" = ")).unwrap_err();
        assert!(
            matches!(&e, ScenarioError::Figure { figure, .. } if figure == "well_behaved.latency_ms.p999"),
            "{e}"
        );
        let e = Scenario::parse(&VALID.replace("phases.hold", "phases.hodl")).unwrap_err();
        assert!(e.to_string().contains("phases.hodl.errors"), "{e}");
        let e = Scenario::parse(&VALID.replace("\"+20%\"", "\"20%\"")).unwrap_err();
        assert!(e.to_string().contains("latency_p99"), "{e}");
        let e = Scenario::parse(&VALID.replace("\"<= 3\"", "3")).unwrap_err();
        assert!(e.to_string().contains("phases.hold.errors"), "{e}");
    }

    #[test]
    fn inconsistent_phases_are_refused_by_field() {
        let cases = [
            (("to = 12", "to = 21"), "phase[1].to"),
            (("add = 8", "add = 9"), "phase[3].add"),
            (("\"3s\"", "\"2.5s\""), "phase[1].duration"),
            (("\"3s\"", "\"soon\""), "phase[1].duration"),
            (
                ("duration = \"1m\"", "to = 13\nduration = \"1m\""),
                "phase[4].to",
            ),
            (("idle = 0.1", "idle = 0.95"), "mix"),
            (("idle = 0.1", "idle = -0.1"), "mix.idle"),
            (("count = 2", "count = 0"), "rooms.count"),
        ];
        for ((from, to), field) in cases {
            let e = Scenario::parse(&VALID.replace(from, to)).unwrap_err();
            assert!(
                matches!(&e, ScenarioError::Invalid { field: f, .. } if f == field),
                "{from} -> {to}: {e}"
            );
        }
        let e =
            Scenario::parse(&VALID.replace("kind = \"hold\"", "kind = \"hold\"\nname = \"ramp\""))
                .unwrap_err();
        assert!(e.to_string().contains("phase[2].name"), "{e}");
    }

    #[test]
    fn thresholds_compare_as_written() {
        let shape = figures::report_shape(&[]);
        let figure = FigurePath::resolve("latency_p99", &shape).unwrap();
        let t = |text: &str| Threshold::parse(figure.clone(), text).unwrap();
        assert!(t("< 50").holds(49.9) && !t("< 50").holds(50.0));
        assert!(t("<= 50").holds(50.0) && !t("<= 50").holds(50.1));
        assert!(t(">10").holds(11.0) && !t(">10").holds(10.0));
        assert!(t(">= 10").holds(10.0));
        assert!(t("== 0").holds(0.0) && !t("== 0").holds(1.0));
        assert!(t("!= 0").holds(1.0));
        for bad in ["50", "=< 5", "< ", "< x", "<< 5", "< inf"] {
            assert!(Threshold::parse(figure.clone(), bad).is_err(), "{bad}");
        }
        let report = serde_json::json!({ "well_behaved": { "latency_ms": { "p99": 60.0 } } });
        let verdict = t("< 50").check(&report).unwrap();
        assert_eq!(verdict.as_deref(), Some("pass latency_p99: 60 is not < 50"));
        assert_eq!(t("< 70").check(&report), Ok(None));
        assert!(t("< 70").check(&serde_json::json!({})).is_err());
    }

    #[test]
    fn the_mix_is_drawn_from_the_seed() {
        let mix = Mix {
            idle: 0.25,
            resume: 0.25,
            ..Mix::default()
        };
        let picks: Vec<_> = (0..2_000).map(|i| mix.pick(3, i)).collect();
        assert_eq!(
            picks,
            (0..2_000).map(|i| mix.pick(3, i)).collect::<Vec<_>>()
        );
        for kind in [Behaviour::Idle, Behaviour::Resume] {
            let n = picks.iter().filter(|p| **p == kind).count();
            assert!((400..600).contains(&n), "{kind:?}: {n}");
        }
        assert!(mix.has_chaos());
        assert!(
            !Mix {
                idle: 1.0,
                ..Mix::default()
            }
            .has_chaos()
        );
    }
}
