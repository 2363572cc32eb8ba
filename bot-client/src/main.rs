//! `tickwire-bot`: bot swarms against any tickwire server, and the
//! benchmark that produces the README's figures.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use tickwire_bot::baseline::{self, Gate};
use tickwire_bot::behaviour::{BehaviourKind, ChaosMix};
use tickwire_bot::bench::{self, BenchConfig, Size};
use tickwire_bot::network::NetworkMix;
use tickwire_bot::report::Report;
use tickwire_bot::scenario::{self, Scenario};
use tickwire_bot::swarm::{self, JoinMode, SwarmConfig, Transport};
use tickwire_bot::tokens::BotTokens;
use tickwire_client::ClientTls;
use tickwire_shared::ids::RoomId;

/// Bot swarms and benchmarks for tickwire servers.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run rooms x players bots against a server and report what they saw.
    Swarm(Box<SwarmArgs>),
    /// Run a scenario file: phases of bots (ramp, hold, spike, drain),
    /// figures per phase, `[pass]` thresholds and `[gates]`.
    Run(Box<RunArgs>),
    /// Start the release server, run a standard workload size, report
    /// server and client figures in one table.
    Bench(Box<BenchArgs>),
    /// Run shares of swarms and scenario runs for a coordinator (`swarm
    /// --agents`, `run --agents`): listen,
    /// run each share as it comes, send its figures back.
    Agent(AgentArgs),
}

#[derive(Debug, Args)]
struct AgentArgs {
    /// Address to listen on for coordinators (HOST:PORT).
    #[arg(long, default_value = "127.0.0.1:7100")]
    listen: String,
}

#[derive(Debug, Args)]
struct Output {
    /// Write every figure as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write a self-contained HTML report with plots.
    #[arg(long)]
    html: Option<PathBuf>,
    /// No live progress.
    #[arg(long)]
    quiet: bool,
}

/// How a run goes (when it measures, its seed, its bot threads), shared
/// by `swarm` and `bench`.
#[derive(Debug, Args)]
struct Timing {
    /// Measurement window, after every bot has joined (e.g. 30s, 2m).
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Bots start spread over this.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    ramp_up: Duration,
    /// Pause between the last join and the measurement window.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    settle: Duration,
    /// Workload seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Threads the bots run on, 16 consecutive bots on each (0: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

/// How a `wss://` or `quic://` server's certificate is accepted. Without
/// either flag it is verified against the public web PKI roots.
#[derive(Debug, Args)]
struct TlsArgs {
    /// Accept the wss/QUIC certificate with this SHA-256 fingerprint
    /// (`AB:CD:...`, as the server logs it for its development certificate).
    #[arg(long, value_name = "FP", conflicts_with = "insecure")]
    cert_fingerprint: Option<String>,
    /// Accept any wss/QUIC certificate: encrypted but not authenticated. For
    /// development only.
    #[arg(long)]
    insecure: bool,
}

impl TlsArgs {
    fn client_tls(&self) -> ClientTls {
        match (&self.cert_fingerprint, self.insecure) {
            (Some(fp), _) => ClientTls::Fingerprint(fp.clone()),
            (None, true) => ClientTls::Insecure,
            (None, false) => ClientTls::Verify,
        }
    }
}

#[derive(Debug, Args)]
struct SwarmArgs {
    /// Server URL: ws:// or wss:// (`/ws` is added when there is no path),
    /// or quic://host:port.
    #[arg(long, default_value = "ws://127.0.0.1:7000")]
    url: String,
    /// ws, wss or quic [default: the URL's scheme]; it switches the URL's
    /// scheme and keeps host and port: point --url at the server's TLS port
    /// for wss, at its --quic-bind UDP port for quic.
    #[arg(long, value_enum)]
    transport: Option<Transport>,
    #[command(flatten)]
    tls: TlsArgs,
    /// Rooms.
    #[arg(long, default_value_t = 1)]
    rooms: usize,
    /// Bots per room.
    #[arg(long, default_value_t = 16)]
    players: usize,
    #[command(flatten)]
    timing: Timing,
    /// What bots do.
    #[arg(long, value_enum, default_value_t = BehaviourKind::Arena)]
    behaviour: BehaviourKind,
    /// Every bot quick-joins instead of the swarm creating its rooms.
    #[arg(long, conflicts_with = "room")]
    quick_join: bool,
    /// Every bot joins this room id.
    #[arg(long)]
    room: Option<u64>,
    /// `echo` events each playing bot emits with an ack per second (0:
    /// none, at most 1000); the report gives answer latency p50/p99,
    /// answers, refusals by code and timeouts.
    #[arg(long, default_value_t = 0.0)]
    events_per_second: f64,
    #[command(flatten)]
    chaos: ChaosMix,
    /// A storm this far into the window (e.g. `10s`): every playing bot
    /// cuts its connection at once, and the client library reconnects and
    /// resumes each seat; the report says how many came back and how fast
    /// (all must, within the server's grace).
    #[arg(long, value_parser = humantime::parse_duration)]
    storm_at: Option<Duration>,
    /// Give each bot an HS256 token (`sub` bot-N) signed with the secret
    /// in this file, for a server run with the same --jwt-secret-file.
    #[arg(long, conflicts_with = "jwt_secret")]
    jwt_secret_file: Option<PathBuf>,
    /// The same, with the secret itself (visible in `ps`: prefer the file).
    #[arg(long)]
    jwt_secret: Option<String>,
    /// The `iss` the server checks (--jwt-issuer there).
    #[arg(long)]
    jwt_issuer: Option<String>,
    /// The `aud` the server checks (--jwt-audience there).
    #[arg(long)]
    jwt_audience: Option<String>,
    /// One bot in this many decodes and verifies every update; the others
    /// only acknowledge each update's tick and count its bytes (a light
    /// run: far more bots per core). 1: every bot verifies.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    verify_every: u64,
    /// Split the rooms among these agents (`tickwire-bot agent`,
    /// host:port,host:port) instead of running the bots here; the report
    /// merges their figures.
    #[arg(long, value_delimiter = ',')]
    agents: Vec<String>,
    /// Put the bots behind a simulated network: a profile (lan, wifi,
    /// mobile-4g, bad-mobile, or a .toml file) or shares of the bots
    /// (`wifi=50,mobile-4g=30,bad-mobile=20`, adding up to 100, drawn from
    /// --seed); the report gives figures per profile.
    #[arg(long, value_name = "PROFILE[=PCT,...]")]
    network: Option<String>,
    #[command(flatten)]
    gates: GateArgs,
    #[command(flatten)]
    output: Output,
}

/// Regression gates against an earlier run's JSON report.
#[derive(Debug, Args)]
struct GateArgs {
    /// An earlier run's JSON report (--json): the run fails when a gated
    /// figure moved past its limit; a side-by-side table is printed.
    #[arg(long, value_name = "REPORT_JSON")]
    baseline: Option<PathBuf>,
    /// FIGURE=LIMIT, repeatable: a short name (latency_p99,
    /// bytes_per_client, cpu_per_room_tick, ... see the README) or a dotted
    /// path into the report, and +N% / -N% / +N / -N (how far it may rise
    /// or fall from the baseline).
    #[arg(long = "gate", value_name = "FIGURE=LIMIT", requires = "baseline")]
    gates: Vec<String>,
}

impl GateArgs {
    /// The gates: `base` (a scenario's) with the command line's on top,
    /// checked against `shape`; none without --baseline.
    fn resolve(&self, shape: &serde_json::Value, base: &[Gate]) -> anyhow::Result<Vec<Gate>> {
        if self.baseline.is_none() {
            return Ok(Vec::new());
        }
        let given = self
            .gates
            .iter()
            .map(|g| Gate::parse(g, shape))
            .collect::<Result<Vec<_>, _>>()?;
        let gates = baseline::check::merge(base, given);
        anyhow::ensure!(
            !gates.is_empty(),
            "--baseline needs at least one --gate (or a scenario's [gates])"
        );
        Ok(gates)
    }

    /// Compares the run with the baseline; out-of-limit figures become
    /// failures of the report.
    fn apply(&self, report: &mut Report, gates: &[Gate]) {
        if let Some(path) = &self.baseline
            && let Some(table) = baseline::check::apply(report, path, gates)
        {
            println!("baseline {}:\n{table}", path.display());
        }
    }
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The scenario (TOML; examples in bot-client/scenarios/).
    scenario: PathBuf,
    /// Server URL instead of the scenario's `target.url`.
    #[arg(long)]
    url: Option<String>,
    /// Split the rooms among these agents (`tickwire-bot agent`,
    /// host:port,host:port), each phase's bots scaled to each agent's
    /// rooms, instead of running the bots here; the report merges their
    /// figures, phases included. Not with bot tokens, custom TLS roots or
    /// a custom network profile.
    #[arg(long, value_delimiter = ',')]
    agents: Vec<String>,
    #[command(flatten)]
    gates: GateArgs,
    #[command(flatten)]
    output: Output,
}

#[derive(Debug, Args)]
struct BenchArgs {
    /// Workload size: small (1x16), crowd (1x256), lobbies (64x16).
    #[arg(long, value_enum, default_value_t = Size::Small)]
    size: Size,
    /// Rooms instead of the size's (16 players each for lobbies).
    #[arg(long)]
    rooms: Option<usize>,
    #[command(flatten)]
    timing: Timing,
    /// The server binary [default: tickwire-server next to this binary].
    #[arg(long)]
    server: Option<PathBuf>,
    /// ws, wss through the server's TLS port, or quic through its QUIC
    /// port (for wss and quic the benchmark generates the certificate and
    /// pins its fingerprint).
    #[arg(long, value_enum, default_value_t = Transport::Ws)]
    transport: Transport,
    /// Run the server with --jwt-secret-file and give each bot a token
    /// signed with that secret.
    #[arg(long)]
    jwt_secret_file: Option<PathBuf>,
    #[command(flatten)]
    gates: GateArgs,
    #[command(flatten)]
    output: Output,
}

/// Raises the open-file limit to its hard maximum: a swarm holds a socket
/// per bot.
fn raise_fd_limit() {
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::warn!(error = %e, "could not raise the open-file limit");
    }
}

fn finish(report: &Report, output: &Output) -> anyhow::Result<ExitCode> {
    println!("{}", report.summary());
    println!("{}", report.to_json());
    if let Some(path) = &output.json {
        report
            .write_json(path)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &output.html {
        report
            .write_html(path)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    raise_fd_limit();
    match cli.command {
        Command::Swarm(args) => {
            let args = *args;
            args.chaos.validate().map_err(anyhow::Error::msg)?;
            anyhow::ensure!(
                args.rooms > 0 && args.players > 0,
                "--rooms and --players must be positive"
            );
            anyhow::ensure!(
                (0.0..=tickwire_bot::bot::MAX_EVENTS_PER_SECOND).contains(&args.events_per_second),
                "--events-per-second must be in 0..={}",
                tickwire_bot::bot::MAX_EVENTS_PER_SECOND
            );
            let join = match (args.quick_join, args.room) {
                (true, _) => JoinMode::QuickJoin,
                (false, Some(id)) => JoinMode::Room(RoomId(id)),
                (false, None) => JoinMode::CreateRooms,
            };
            let mut url = swarm::ws_url(&args.url);
            if let Some(transport) = args.transport {
                url = swarm::with_transport(&url, transport);
            }
            let mut tokens = match (&args.jwt_secret_file, &args.jwt_secret) {
                (Some(path), _) => Some(
                    BotTokens::hs256_file(path)
                        .with_context(|| format!("reading {}", path.display()))?,
                ),
                (None, Some(secret)) => Some(BotTokens::hs256(secret.as_bytes())),
                (None, None) => None,
            };
            if let Some(tokens) = &mut tokens {
                tokens.issuer = args.jwt_issuer.clone();
                tokens.audience = args.jwt_audience.clone();
            }
            let config = SwarmConfig {
                tokens,
                url,
                tls: args.tls.client_tls(),
                rooms: args.rooms,
                players: args.players,
                duration: args.timing.duration,
                ramp_up: args.timing.ramp_up,
                settle: args.timing.settle,
                seed: args.timing.seed,
                threads: args.timing.threads,
                behaviour: args.behaviour,
                chaos: args.chaos,
                join,
                events_per_second: args.events_per_second,
                quiet: args.output.quiet,
                storm_at: args.storm_at,
                verify_every: usize::try_from(args.verify_every).unwrap_or(usize::MAX),
                first_bot: 0,
                network: args
                    .network
                    .as_deref()
                    .map(NetworkMix::parse)
                    .transpose()
                    .context("--network")?,
            };
            if let Some(at) = args.storm_at {
                anyhow::ensure!(
                    at < args.timing.duration,
                    "--storm-at must fall inside the window (--duration)"
                );
            }
            let gates = args
                .gates
                .resolve(&tickwire_bot::figure_paths::report_shape(&[]), &[])?;
            let mut report = if args.agents.is_empty() {
                swarm::run(config, |_| {}).await
            } else {
                tickwire_bot::coordinator::run(config, &args.agents).await?
            };
            args.gates.apply(&mut report, &gates);
            finish(&report, &args.output)
        }
        Command::Run(args) => {
            let args = *args;
            let mut scenario = Scenario::load(&args.scenario)
                .with_context(|| format!("loading {}", args.scenario.display()))?;
            if let Some(url) = &args.url {
                scenario.url = swarm::ws_url(url);
            }
            let gates = args
                .gates
                .resolve(&scenario.report_shape(), &scenario.gates)?;
            let mut report = if args.agents.is_empty() {
                let tokens = match &scenario.jwt_secret_file {
                    Some(path) => Some(
                        BotTokens::hs256_file(path)
                            .with_context(|| format!("reading {}", path.display()))?,
                    ),
                    None => None,
                };
                let options = scenario::driver::RunOptions {
                    tokens,
                    quiet: args.output.quiet,
                };
                scenario::driver::run(&scenario, options).await
            } else {
                let text = std::fs::read_to_string(&args.scenario)
                    .with_context(|| format!("reading {}", args.scenario.display()))?;
                tickwire_bot::coordinator::run_scenario(&scenario, &text, &args.agents)
                    .await?
                    .report
            };
            println!(
                "scenario {}:\n{}",
                scenario.name,
                scenario::phase_table(&report.phases)
            );
            args.gates.apply(&mut report, &gates);
            finish(&report, &args.output)
        }
        Command::Bench(args) => {
            let args = *args;
            let config = BenchConfig {
                size: args.size,
                rooms: args.rooms,
                duration: args.timing.duration,
                ramp_up: args.timing.ramp_up,
                settle: args.timing.settle,
                seed: args.timing.seed,
                threads: args.timing.threads,
                server: args.server.unwrap_or_else(bench::default_server_binary),
                transport: args.transport,
                quiet: args.output.quiet,
                jwt_secret_file: args.jwt_secret_file,
            };
            let gates = args
                .gates
                .resolve(&tickwire_bot::figure_paths::report_shape(&[]), &[])?;
            let mut report = bench::run(config).await?;
            args.gates.apply(&mut report, &gates);
            finish(&report, &args.output)
        }
        Command::Agent(args) => {
            let listener = tokio::net::TcpListener::bind(&args.listen)
                .await
                .with_context(|| format!("listening on {}", args.listen))?;
            eprintln!("agent listening on {}", listener.local_addr()?);
            let shutdown = tokio_util::sync::CancellationToken::new();
            let on_signal = shutdown.clone();
            tokio::spawn(async move {
                let _ = tokio::signal::ctrl_c().await;
                on_signal.cancel();
            });
            tickwire_bot::agent::serve(listener, shutdown).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
