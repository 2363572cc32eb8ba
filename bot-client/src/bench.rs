//! The benchmark: starts the release server as a child process on a free
//! loopback port, runs a swarm of the workload's standard size, reads the
//! server's CPU time from the operating system and its tick figures from
//! `/metrics` at the edges of the measurement window, stops the server, and
//! returns the swarm's report with the server's figures added.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::report::{Report, ServerFigures};
use crate::swarm::{self, Edge, SwarmConfig, Transport};
use tickwire_client::ClientTls;

/// A standard size from the workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Size {
    /// 1 room x 16 players.
    Small,
    /// 1 room x 256 players.
    Crowd,
    /// 64 rooms x 16 players.
    Lobbies,
}

impl Size {
    /// (rooms, players per room).
    pub fn shape(self) -> (usize, usize) {
        match self {
            Self::Small => (1, 16),
            Self::Crowd => (1, 256),
            Self::Lobbies => (64, 16),
        }
    }
}

/// Why a benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// No server binary.
    #[error(
        "server binary not found at {0} (build it: cargo build --release -p tickwire-server-cli)"
    )]
    NoServer(PathBuf),
    /// The OS refused something.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The benchmark's TLS certificate could not be generated.
    #[error("generating the TLS certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    /// The server never became healthy.
    #[error("the server did not become healthy within 15 s")]
    NotHealthy,
}

/// The server binary next to this one (both built by cargo into the same
/// target directory).
pub fn default_server_binary() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("tickwire-server")))
        .unwrap_or_else(|| PathBuf::from("tickwire-server"))
}

fn free_port() -> Result<SocketAddr, BenchError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|source| BenchError::Io {
        what: "finding a free port",
        source,
    })?;
    listener.local_addr().map_err(|source| BenchError::Io {
        what: "finding a free port",
        source,
    })
}

fn free_udp_port() -> Result<SocketAddr, BenchError> {
    let io = |source| BenchError::Io {
        what: "finding a free UDP port",
        source,
    };
    UdpSocket::bind("127.0.0.1:0")
        .map_err(io)?
        .local_addr()
        .map_err(io)
}

/// `GET path` with a blocking socket (used between async phases; a few ms).
fn http_get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_owned())
}

/// The server's metrics at one instant.
#[derive(Clone, Debug, Default)]
pub struct ServerSample {
    cpu: Duration,
    ticks: f64,
    late_ticks: f64,
    /// Cumulative tick-duration bucket counts by upper bound (seconds).
    buckets: BTreeMap<u64, (f64, f64)>,
    rss_mib: f64,
}

/// Parses the counters and the tick histogram out of the metrics text.
fn parse_metrics(text: &str, sample: &mut ServerSample) {
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((name, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        if name == "tickwire_ticks_total" {
            sample.ticks = value;
        } else if name == "tickwire_late_ticks_total" {
            sample.late_ticks = value;
        } else if let Some(rest) = name.strip_prefix("tickwire_tick_duration_seconds_bucket{le=\"")
        {
            let le = rest.trim_end_matches("\"}");
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap_or(f64::INFINITY)
            };
            // Keyed by the bound's bits so the map sorts by bound.
            sample.buckets.insert(bound.to_bits(), (bound, value));
        }
    }
}

/// User + system CPU time of a process, from /proc.
fn process_cpu(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at "state".
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf only reads a system constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some(Duration::from_secs_f64((utime + stime) as f64 / hz as f64))
}

fn process_rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmRSS:")
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn sample(addr: SocketAddr, pid: u32) -> ServerSample {
    let mut s = ServerSample {
        cpu: process_cpu(pid).unwrap_or_default(),
        rss_mib: process_rss_mib(pid),
        ..Default::default()
    };
    if let Some(text) = http_get(addr, "/metrics") {
        parse_metrics(&text, &mut s);
    }
    s
}

/// The `q` quantile of tick durations between two samples, in ms,
/// interpolated inside the bucket; and the upper bound of the highest
/// non-empty bucket.
fn tick_quantiles(open: &ServerSample, close: &ServerSample) -> (f64, f64, f64) {
    let deltas: Vec<(f64, f64)> = close
        .buckets
        .values()
        .map(|&(bound, count)| {
            let before = open.buckets.get(&bound.to_bits()).map_or(0.0, |b| b.1);
            (bound, count - before)
        })
        .collect();
    let total = deltas.last().map_or(0.0, |d| d.1);
    if total <= 0.0 {
        return (0.0, 0.0, 0.0);
    }
    let quantile = |q: f64| {
        let target = q * total;
        let mut lower = (0.0, 0.0);
        for &(bound, cumulative) in &deltas {
            if cumulative >= target {
                if bound.is_infinite() {
                    return lower.0 * 1e3;
                }
                let span = (cumulative - lower.1).max(1e-9);
                return (lower.0 + (bound - lower.0) * (target - lower.1) / span) * 1e3;
            }
            lower = (bound, cumulative);
        }
        lower.0 * 1e3
    };
    let mut max = 0.0;
    let mut previous = 0.0;
    for &(bound, cumulative) in &deltas {
        if cumulative > previous {
            max = bound;
        }
        previous = cumulative;
    }
    (quantile(0.5), quantile(0.99), max * 1e3)
}

struct ServerProcess {
    child: Child,
}

impl ServerProcess {
    fn start(
        binary: &Path,
        addr: SocketAddr,
        tls: Option<&BenchTls>,
        quic: Option<SocketAddr>,
        jwt_secret_file: Option<&Path>,
        bots: usize,
    ) -> Result<Self, BenchError> {
        if !binary.exists() {
            return Err(BenchError::NoServer(binary.to_owned()));
        }
        let connections = (bots * 2 + 64).to_string();
        let mut command = Command::new(binary);
        if let Some(tls) = tls {
            if quic.is_none() {
                command.arg("--tls-bind").arg(tls.addr.to_string());
            }
            command
                .arg("--tls-cert")
                .arg(&tls.cert)
                .arg("--tls-key")
                .arg(&tls.key);
        }
        if let Some(quic) = quic {
            command.arg("--quic-bind").arg(quic.to_string());
        }
        if let Some(secret) = jwt_secret_file {
            command.arg("--jwt-secret-file").arg(secret);
        }
        let child = command
            .args(["--bind", &addr.to_string(), "--log-level", "warn"])
            .args([
                "--max-connections",
                &connections,
                "--max-connections-per-ip",
                &connections,
            ])
            .args(["--max-rooms", "100000"])
            // Every bot connects from one address and creates its rooms
            // at once; the rooms' seeds are the server's old default (1),
            // so runs stay comparable with earlier reports.
            .args(["--rooms-per-minute-per-ip", "1000000"])
            .args(["--seed", "1"])
            // Stopped once the bots are done: no drain (dropped bots'
            // seats would hold it for the whole grace).
            .args(["--drain-ms", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|source| BenchError::Io {
                what: "starting the server",
                source,
            })?;
        let server = Self { child };
        let deadline = Instant::now() + Duration::from_secs(15);
        while http_get(addr, "/healthz").is_none() {
            if Instant::now() > deadline {
                return Err(BenchError::NotHealthy);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(server)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then wait (SIGKILL after 10 s).
    fn stop(mut self) {
        // SAFETY: signalling our own child by its pid.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The TLS port of a `wss` or `quic` benchmark: a certificate generated
/// for 127.0.0.1, written to a temporary directory for the server child
/// (which serves it on its TLS port and, for `quic`, its QUIC port), and
/// pinned by the bots.
struct BenchTls {
    addr: SocketAddr,
    dir: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    fingerprint: String,
}

impl BenchTls {
    fn generate() -> Result<Self, BenchError> {
        let io = |what| move |source| BenchError::Io { what, source };
        let generated = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])?;
        let dir = std::env::temp_dir().join(format!("tickwire-bench-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(io("creating the certificate directory"))?;
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, generated.cert.pem()).map_err(io("writing the certificate"))?;
        std::fs::write(&key, generated.signing_key.serialize_pem())
            .map_err(io("writing the key"))?;
        Ok(Self {
            addr: free_port()?,
            dir,
            cert,
            key,
            fingerprint: tickwire_client::fingerprint(generated.cert.der()),
        })
    }
}

impl Drop for BenchTls {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A benchmark run.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    /// Standard size.
    pub size: Size,
    /// Rooms instead of the size's.
    pub rooms: Option<usize>,
    /// Measurement window.
    pub duration: Duration,
    /// Ramp-up.
    pub ramp_up: Duration,
    /// Pause between the last join and the window.
    pub settle: Duration,
    /// Seed.
    pub seed: u64,
    /// Bot threads (0: one per core).
    pub threads: usize,
    /// The server binary.
    pub server: PathBuf,
    /// `ws`, `wss` through the server's TLS port, or `quic` through its
    /// QUIC port (certificate generated by the benchmark and pinned by the
    /// bots).
    pub transport: Transport,
    /// No progress display.
    pub quiet: bool,
    /// Run the server with `--jwt-secret-file` and give each bot a token
    /// signed with it (authentication's cost in the figures).
    pub jwt_secret_file: Option<PathBuf>,
}

/// Runs the benchmark.
pub async fn run(config: BenchConfig) -> Result<Report, BenchError> {
    let (rooms, players) = config.size.shape();
    let rooms = config.rooms.unwrap_or(rooms);
    let addr = free_port()?;
    let tls = match config.transport {
        Transport::Ws => None,
        Transport::Wss | Transport::Quic => Some(BenchTls::generate()?),
    };
    let quic = match config.transport {
        Transport::Quic => Some(free_udp_port()?),
        Transport::Ws | Transport::Wss => None,
    };
    let server = ServerProcess::start(
        &config.server,
        addr,
        tls.as_ref(),
        quic,
        config.jwt_secret_file.as_deref(),
        rooms * players,
    )?;
    let pid = server.pid();
    let (url, client_tls) = match (&tls, quic) {
        (None, _) => (format!("ws://{addr}/ws"), ClientTls::default()),
        (Some(tls), Some(quic)) => (
            format!("quic://{quic}"),
            ClientTls::Fingerprint(tls.fingerprint.clone()),
        ),
        (Some(tls), None) => (
            format!("wss://{}/ws", tls.addr),
            ClientTls::Fingerprint(tls.fingerprint.clone()),
        ),
    };
    let swarm_config = SwarmConfig {
        url,
        tls: client_tls,
        rooms,
        players,
        duration: config.duration,
        ramp_up: config.ramp_up,
        settle: config.settle,
        seed: config.seed,
        threads: config.threads,
        behaviour: crate::behaviour::BehaviourKind::Arena,
        chaos: Default::default(),
        storm_at: None,
        verify_every: 1,
        first_bot: 0,
        network: None,
        join: swarm::JoinMode::CreateRooms,
        events_per_second: 0.0,
        quiet: config.quiet,
        tokens: match &config.jwt_secret_file {
            Some(path) => Some(
                crate::tokens::BotTokens::hs256_file(path).map_err(|source| BenchError::Io {
                    what: "reading --jwt-secret-file",
                    source,
                })?,
            ),
            None => None,
        },
    };
    let mut open = ServerSample::default();
    let mut close = ServerSample::default();
    let mut report = swarm::run(swarm_config, |edge| match edge {
        Edge::Opened => open = sample(addr, pid),
        Edge::Closed => close = sample(addr, pid),
    })
    .await;
    server.stop();

    let cpu = close.cpu.saturating_sub(open.cpu).as_secs_f64();
    let room_ticks = (close.ticks - open.ticks).max(0.0) as u64;
    let (p50, p99, max) = tick_quantiles(&open, &close);
    report.server = Some(ServerFigures {
        cpu_s: cpu,
        cpu_ms_per_room_tick: if room_ticks > 0 {
            cpu * 1e3 / room_ticks as f64
        } else {
            0.0
        },
        room_ticks,
        late_ticks: (close.late_ticks - open.late_ticks).max(0.0) as u64,
        tick_p50_ms: p50,
        tick_p99_ms: p99,
        tick_max_ms: max,
        rss_mib: close.rss_mib,
    });
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_text_is_parsed_and_quantiles_interpolate() {
        let text = "# TYPE x counter\ntickwire_ticks_total 100\ntickwire_late_ticks_total 2\n\
            tickwire_tick_duration_seconds_bucket{le=\"0.001\"} 50\n\
            tickwire_tick_duration_seconds_bucket{le=\"0.002\"} 99\n\
            tickwire_tick_duration_seconds_bucket{le=\"0.004\"} 100\n\
            tickwire_tick_duration_seconds_bucket{le=\"+Inf\"} 100\n";
        let mut close = ServerSample::default();
        parse_metrics(text, &mut close);
        assert_eq!((close.ticks, close.late_ticks), (100.0, 2.0));
        let (p50, p99, max) = tick_quantiles(&ServerSample::default(), &close);
        assert!((p50 - 1.0).abs() < 1e-9, "{p50}");
        assert!((p99 - 2.0).abs() < 1e-9, "{p99}");
        assert!((max - 4.0).abs() < 1e-9, "{max}");
    }

    #[test]
    fn own_cpu_time_reads_from_proc() {
        assert!(process_cpu(std::process::id()).is_some());
        assert!(process_rss_mib(std::process::id()) > 0.0);
    }
}
