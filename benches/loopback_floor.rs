//! The physical floor of the server's CPU cost per tick on this machine.
//!
//! Our `small` workload has N clients (16 by default) per room; the room
//! ticks at 30 Hz, after every tick the server writes one small update to
//! each client, and each client answers every update with one small input
//! message. This bench reproduces only that traffic shape over loopback TCP
//! (`TCP_NODELAY` on both ends): 20-byte updates out, 29-byte replies back,
//! one `write()` per message, with no WebSocket library, no protocol and no
//! game. What the server thread spends on it is what the kernel and the async
//! runtime cost by themselves, so it is the part of the server's measured
//! cost per room-tick (about 0.45 ms of CPU for 16 clients when this bench
//! was written) that no change to our code can remove.
//!
//! Two server variants, each on its own dedicated thread so that the thread's
//! own CPU clock (`CLOCK_THREAD_CPUTIME_ID`, read from inside it) measures it
//! alone:
//!
//! - `epoll`: a bare `mio::Poll` loop that sleeps until the next tick is due,
//!   writes to every client, and reads the replies as they arrive. It also
//!   times every single `write()`, separating the first write of a tick
//!   (which follows the 33 ms idle gap) from the others.
//! - `tokio`: a current-thread tokio runtime (what the server uses for IO):
//!   one reading task per connection and one tick task using
//!   `tokio::time::interval` and `try_write`. That thread also runs tokio's
//!   IO and timer drivers, so its CPU is the whole runtime's cost.
//!
//! All clients share one separate thread (a single `mio` event loop, like
//! the bot swarm). Each run has a 2 s warm-up after all clients connected,
//! then a measurement window; the variants are interleaved and the median
//! run is reported per variant.
//!
//! `cargo bench --bench loopback_floor`
//!
//! Environment: `FLOOR_CLIENTS` (default 16), `FLOOR_SECS` (measurement
//! window in seconds, default 10), `FLOOR_RUNS` (runs per variant, default
//! 3). Without `--bench` (as `cargo test --benches` runs it) it does a quick
//! smoke run: one run per variant with a 1 s window.

use std::env::{self, VarError};
use std::fmt;
use std::hint::black_box;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};
use tokio::io::AsyncReadExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::time::MissedTickBehavior;

/// Room tick rate of the `small` workload.
const TICK_HZ: u32 = 30;
/// Size of the update the server writes to each client every tick.
const UPDATE_LEN: usize = 20;
/// Size of the reply a client writes for every update it receives.
const REPLY_LEN: usize = 29;
/// Ticks played after all clients connected and before the window opens.
const WARM_UP: Duration = Duration::from_secs(2);
/// A run fails unless at least this fraction of the expected replies
/// (ticks × clients) reached the server within its window.
const MIN_REPLY_FRACTION: f64 = 0.95;
/// How long the client thread may run past the end of the schedule before
/// it gives up waiting for the server to close the connections.
const CLIENT_GRACE: Duration = Duration::from_secs(30);
/// Size of the read buffers on both sides.
const READ_BUF_LEN: usize = 4096;
/// Thread CPU clock reads used to estimate what one read costs.
const CLOCK_CALIBRATION_READS: u32 = 100_000;

/// What to run, from the environment.
#[derive(Debug, Clone, Copy)]
struct Config {
    /// Connections (clients) per run.
    clients: usize,
    /// Length of each run's measurement window.
    window: Duration,
    /// Runs per variant.
    runs: usize,
    /// Whether this is the quick smoke run (`cargo test --benches`).
    smoke: bool,
}

impl Config {
    /// Reads `FLOOR_CLIENTS`, `FLOOR_SECS` and `FLOOR_RUNS`; without
    /// `--bench` on the command line the defaults shrink to a smoke run.
    fn from_env() -> Self {
        let smoke = !env::args().any(|arg| arg == "--bench");
        let (default_secs, default_runs) = if smoke { (1, 1) } else { (10, 3) };
        let clients: usize = env_or("FLOOR_CLIENTS", 16);
        let secs: u64 = env_or("FLOOR_SECS", default_secs);
        let runs: usize = env_or("FLOOR_RUNS", default_runs);
        assert!(clients > 0, "FLOOR_CLIENTS must be at least 1");
        assert!(secs > 0, "FLOOR_SECS must be at least 1");
        assert!(runs > 0, "FLOOR_RUNS must be at least 1");
        Self {
            clients,
            window: Duration::from_secs(secs),
            runs,
            smoke,
        }
    }
}

/// The environment variable `name` parsed as a `T`, or `default` if unset.
fn env_or<T>(name: &str, default: T) -> T
where
    T: FromStr,
    T::Err: fmt::Display,
{
    match env::var(name) {
        Ok(value) => value
            .trim()
            .parse()
            .unwrap_or_else(|err| panic!("{name}={value:?} is not valid: {err}")),
        Err(VarError::NotPresent) => default,
        Err(err) => panic!("{name} is not usable: {err}"),
    }
}

/// Which server loop a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// A bare `mio::Poll` loop.
    Epoll,
    /// A current-thread tokio runtime with a task per connection.
    Tokio,
}

impl Variant {
    /// Every variant, in the order runs interleave them.
    const ALL: [Self; 2] = [Self::Epoll, Self::Tokio];
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Epoll => "epoll",
            Self::Tokio => "tokio",
        })
    }
}

/// The tick schedule of one run: tick `n` is due at `start + n * period`.
/// Ticks `0..warm_up_ticks` are the warm-up; the window opens when tick
/// `warm_up_ticks` is due and closes when tick `end_tick` is due (which is
/// not played), so it spans exactly `window_ticks` whole tick periods.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    /// Time between ticks.
    period: Duration,
    /// Ticks before the window opens.
    warm_up_ticks: u32,
    /// Ticks inside the window.
    window_ticks: u32,
}

impl Schedule {
    /// The schedule for a window of length `window`.
    fn new(window: Duration) -> Self {
        let ticks_in = |span: Duration| {
            let ticks = (span.as_secs_f64() * f64::from(TICK_HZ)).round();
            assert!(ticks < f64::from(u32::MAX / 2), "window too long");
            ticks as u32
        };
        Self {
            period: Duration::from_secs(1) / TICK_HZ,
            warm_up_ticks: ticks_in(WARM_UP),
            window_ticks: ticks_in(window),
        }
    }

    /// The tick whose due time closes the window; it is not played.
    fn end_tick(&self) -> u32 {
        self.warm_up_ticks + self.window_ticks
    }

    /// When tick `tick` is due, for a schedule that started at `start`.
    fn due(&self, start: Instant, tick: u32) -> Instant {
        start + self.period * tick
    }

    /// Wall time from the first tick to the end of the window.
    fn total(&self) -> Duration {
        self.period * self.end_tick()
    }
}

/// The server thread's counters at one instant, to subtract.
#[derive(Debug, Clone, Copy)]
struct Mark {
    /// The server thread's CPU time.
    cpu: Duration,
    /// Reply bytes the server has read so far.
    reply_bytes: u64,
    /// Wall clock.
    at: Instant,
}

impl Mark {
    /// Takes a mark; must be called on the server thread.
    fn now(reply_bytes: u64) -> Self {
        Self {
            cpu: thread_cpu_time(),
            reply_bytes,
            at: Instant::now(),
        }
    }
}

/// What a server thread measured over its window.
#[derive(Debug, Clone, Copy)]
struct WindowMeasurement {
    /// Server thread CPU time spent in the window.
    cpu: Duration,
    /// Ticks played in the window.
    ticks: u32,
    /// Complete replies the server read in the window.
    replies: u64,
    /// Wall time the window lasted.
    wall: Duration,
}

impl WindowMeasurement {
    /// The measurement between two marks `ticks` ticks apart.
    fn between(start: Mark, end: Mark, ticks: u32) -> Self {
        Self {
            cpu: end.cpu - start.cpu,
            ticks,
            replies: (end.reply_bytes - start.reply_bytes) / REPLY_LEN as u64,
            wall: end.at - start.at,
        }
    }

    /// Server CPU per tick, in milliseconds.
    fn cpu_ms_per_tick(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e3 / f64::from(self.ticks)
    }
}

/// CPU time of individual `write()` calls in the epoll variant's window.
#[derive(Debug, Clone, Copy, Default)]
struct WriteCosts {
    /// Total CPU of the first write of each tick.
    first_total: Duration,
    /// Number of first writes timed.
    first_count: u64,
    /// Total CPU of every other write.
    other_total: Duration,
    /// Number of other writes timed.
    other_count: u64,
}

impl WriteCosts {
    /// Records one write's CPU time.
    fn record(&mut self, first_of_tick: bool, cpu: Duration) {
        if first_of_tick {
            self.first_total += cpu;
            self.first_count += 1;
        } else {
            self.other_total += cpu;
            self.other_count += 1;
        }
    }

    /// Adds another run's counts to these.
    fn merge(&mut self, other: &Self) {
        self.first_total += other.first_total;
        self.first_count += other.first_count;
        self.other_total += other.other_total;
        self.other_count += other.other_count;
    }

    /// Mean CPU of a first write, in microseconds.
    fn first_mean_us(&self) -> f64 {
        mean_us(self.first_total, self.first_count)
    }

    /// Mean CPU of any other write, in microseconds.
    fn other_mean_us(&self) -> f64 {
        mean_us(self.other_total, self.other_count)
    }
}

/// `total / count` in microseconds (0 when nothing was counted).
fn mean_us(total: Duration, count: u64) -> f64 {
    if count == 0 {
        0.0
    } else {
        total.as_secs_f64() * 1e6 / count as f64
    }
}

/// What a server thread reports at the end of a run.
#[derive(Debug, Clone, Copy)]
struct ServerReport {
    /// The window's figures.
    window: WindowMeasurement,
    /// Per-write CPU (epoll variant only).
    write_costs: Option<WriteCosts>,
    /// Updates that did not go out whole in one write (should be none).
    incomplete_writes: u64,
}

/// What the client thread reports at the end of a run.
#[derive(Debug, Clone, Copy)]
struct ClientReport {
    /// Updates received over the whole run.
    updates_received: u64,
    /// Replies written over the whole run.
    replies_sent: u64,
    /// Whether it gave up before the server closed every connection.
    timed_out: bool,
}

/// One finished run.
#[derive(Debug, Clone, Copy)]
struct RunResult {
    /// The server loop used.
    variant: Variant,
    /// The server's figures.
    server: ServerReport,
    /// The clients' figures.
    clients: ClientReport,
    /// Connections in the run.
    client_count: usize,
}

impl RunResult {
    /// Replies the server should have read in its window.
    fn expected_replies(&self) -> u64 {
        u64::from(self.server.window.ticks) * self.client_count as u64
    }

    /// Whether enough replies arrived to show the traffic was real.
    fn traffic_ok(&self) -> bool {
        self.server.window.replies as f64 >= MIN_REPLY_FRACTION * self.expected_replies() as f64
    }
}

/// CPU time consumed so far by the calling thread (user plus system).
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, properly aligned, writable `timespec` that
    // lives across the call, and `clock_gettime` writes nothing but it.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(
        rc,
        0,
        "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed: {}",
        io::Error::last_os_error()
    );
    Duration::new(
        u64::try_from(ts.tv_sec).expect("thread CPU seconds are never negative"),
        u32::try_from(ts.tv_nsec).expect("timespec nanoseconds are in 0..1e9"),
    )
}

/// The CPU cost of one `thread_cpu_time()` call on this machine.
fn thread_clock_read_cost() -> Duration {
    let start = thread_cpu_time();
    for _ in 0..CLOCK_CALIBRATION_READS {
        black_box(thread_cpu_time());
    }
    (thread_cpu_time() - start) / CLOCK_CALIBRATION_READS
}

/// Opens `count` loopback connections with `TCP_NODELAY` on both ends, all
/// non-blocking. Returns the server ends and the client ends, pairwise in
/// the same order.
fn connect_pairs(count: usize) -> (Vec<TcpStream>, Vec<TcpStream>) {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind an ephemeral loopback port");
    let addr = listener
        .local_addr()
        .expect("read the listener's bound address");
    let mut server_ends = Vec::with_capacity(count);
    let mut client_ends = Vec::with_capacity(count);
    for _ in 0..count {
        let client = TcpStream::connect(addr).expect("connect to the loopback listener");
        let (server, _) = listener.accept().expect("accept a loopback connection");
        for stream in [&client, &server] {
            stream.set_nodelay(true).expect("set TCP_NODELAY");
            stream
                .set_nonblocking(true)
                .expect("make the socket non-blocking");
        }
        server_ends.push(server);
        client_ends.push(client);
    }
    (server_ends, client_ends)
}

/// The `epoll` server: one `mio::Poll` loop on the calling thread. Plays
/// the schedule, then drops (closes) every connection.
fn run_epoll_server(streams: Vec<TcpStream>, schedule: Schedule) -> ServerReport {
    let mut poll = Poll::new().expect("create an epoll instance");
    let mut events = Events::with_capacity(1024);
    let mut conns: Vec<mio::net::TcpStream> = streams
        .into_iter()
        .map(mio::net::TcpStream::from_std)
        .collect();
    for (index, conn) in conns.iter_mut().enumerate() {
        poll.registry()
            .register(conn, Token(index), Interest::READABLE)
            .expect("register a server connection with epoll");
    }

    let update = [0xA5u8; UPDATE_LEN];
    let mut read_buf = [0u8; READ_BUF_LEN];
    let mut reply_bytes = 0u64;
    let mut write_costs = WriteCosts::default();
    let mut incomplete_writes = 0u64;
    let mut window_start = None;
    let mut next_tick = 0u32;
    let start = Instant::now();

    let window = loop {
        let due = schedule.due(start, next_tick);
        let now = Instant::now();
        if now >= due {
            if next_tick == schedule.warm_up_ticks {
                window_start = Some(Mark::now(reply_bytes));
            }
            if next_tick == schedule.end_tick() {
                let opened = window_start.expect("the window opened before it closes");
                let closed = Mark::now(reply_bytes);
                break WindowMeasurement::between(opened, closed, schedule.window_ticks);
            }
            let in_window = window_start.is_some();
            // Chained marks: each write's cost includes one clock read.
            let mut before = in_window.then(thread_cpu_time);
            for (index, conn) in conns.iter_mut().enumerate() {
                match conn.write(&update) {
                    Ok(UPDATE_LEN) => {}
                    Ok(_) => incomplete_writes += 1,
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => incomplete_writes += 1,
                    Err(err) => panic!("writing the update to client {index}: {err}"),
                }
                if let Some(previous) = before {
                    let after = thread_cpu_time();
                    write_costs.record(index == 0, after - previous);
                    before = Some(after);
                }
            }
            next_tick += 1;
            continue;
        }

        match poll.poll(&mut events, Some(due - now)) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => panic!("waiting on epoll: {err}"),
        }
        for event in &events {
            let index = event.token().0;
            reply_bytes += read_available(&mut conns[index], &mut read_buf, index);
        }
    };

    // Dropping the connections closes them; the clients see EOF and stop.
    drop(conns);
    ServerReport {
        window,
        write_costs: Some(write_costs),
        incomplete_writes,
    }
}

/// Reads from a server connection until it would block or a read comes back
/// short; returns the bytes read. The client never closes first, so EOF
/// here is a failure.
fn read_available(conn: &mut mio::net::TcpStream, buf: &mut [u8], index: usize) -> u64 {
    let mut total = 0u64;
    loop {
        match conn.read(buf) {
            Ok(0) => panic!("client {index} closed its connection during the run"),
            Ok(n) => {
                total += n as u64;
                if n < buf.len() {
                    return total;
                }
            }
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => return total,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => panic!("reading replies from client {index}: {err}"),
        }
    }
}

/// The `tokio` server: a current-thread runtime driven by `block_on` on the
/// calling thread, with one reading task per connection and one tick task.
/// When the tick task is done the runtime is dropped, which cancels the
/// readers and closes every connection.
fn run_tokio_server(streams: Vec<TcpStream>, schedule: Schedule) -> ServerReport {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build a current-thread tokio runtime");
    runtime.block_on(async move {
        let reply_bytes = Arc::new(AtomicU64::new(0));
        let mut writers = Vec::with_capacity(streams.len());
        for stream in streams {
            let stream = tokio::net::TcpStream::from_std(stream)
                .expect("register a server connection with tokio");
            let (mut reader, writer) = stream.into_split();
            let counter = Arc::clone(&reply_bytes);
            tokio::spawn(async move {
                let mut buf = [0u8; READ_BUF_LEN];
                // EOF or an error ends the task; the reply count shows it.
                while let Ok(n @ 1..) = reader.read(&mut buf).await {
                    counter.fetch_add(n as u64, Ordering::Relaxed);
                }
            });
            writers.push(writer);
        }
        tokio::spawn(tokio_ticks(writers, reply_bytes, schedule))
            .await
            .expect("the tick task panicked")
    })
}

/// The tokio variant's tick task: `try_write`s one update to every
/// connection per tick of a drift-free `interval`, and measures the window.
/// Returns (dropping the write halves, which shuts down their sending side)
/// when the window closes.
async fn tokio_ticks(
    writers: Vec<OwnedWriteHalf>,
    reply_bytes: Arc<AtomicU64>,
    schedule: Schedule,
) -> ServerReport {
    let update = [0xA5u8; UPDATE_LEN];
    let mut interval = tokio::time::interval(schedule.period);
    // Burst keeps tick n due at start + n * period, like the epoll loop.
    interval.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut incomplete_writes = 0u64;
    let mut window_start = None;
    for tick in 0..=schedule.end_tick() {
        interval.tick().await;
        if tick == schedule.warm_up_ticks {
            window_start = Some(Mark::now(reply_bytes.load(Ordering::Relaxed)));
        }
        if tick == schedule.end_tick() {
            break;
        }
        for (index, writer) in writers.iter().enumerate() {
            match writer.try_write(&update) {
                Ok(UPDATE_LEN) => {}
                Ok(_) => incomplete_writes += 1,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => incomplete_writes += 1,
                Err(err) => panic!("writing the update to client {index}: {err}"),
            }
        }
    }
    let closed = Mark::now(reply_bytes.load(Ordering::Relaxed));
    let opened = window_start.expect("the window opened before it closes");
    ServerReport {
        window: WindowMeasurement::between(opened, closed, schedule.window_ticks),
        write_costs: None,
        incomplete_writes,
    }
}

/// One client connection in the client thread.
#[derive(Debug)]
struct BotConn {
    /// The socket; `None` once closed.
    stream: Option<mio::net::TcpStream>,
    /// Update bytes received so far.
    received_bytes: u64,
    /// Whole replies written so far.
    replies_sent: u64,
    /// Bytes of the current reply already written (a short write's rest).
    reply_offset: usize,
}

impl BotConn {
    /// Reads what is available; closes the connection on EOF or error.
    fn read_updates(&mut self, buf: &mut [u8]) {
        while let Some(stream) = self.stream.as_mut() {
            match stream.read(buf) {
                Ok(0) => self.stream = None,
                Ok(n) => {
                    self.received_bytes += n as u64;
                    if n < buf.len() {
                        return;
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => self.stream = None,
            }
        }
    }

    /// Writes one reply per update received and not yet answered, one
    /// `write()` each, until done or the socket would block.
    fn send_replies(&mut self) {
        let reply = [0x5Au8; REPLY_LEN];
        while self.replies_sent < self.received_bytes / UPDATE_LEN as u64 {
            let Some(stream) = self.stream.as_mut() else {
                return;
            };
            match stream.write(&reply[self.reply_offset..]) {
                Ok(0) => self.stream = None,
                Ok(n) => {
                    self.reply_offset += n;
                    if self.reply_offset == REPLY_LEN {
                        self.reply_offset = 0;
                        self.replies_sent += 1;
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => self.stream = None,
            }
        }
    }
}

/// The client thread: one `mio` loop serving every client socket. Answers
/// updates until the server has closed every connection, or `deadline`.
fn run_clients(streams: Vec<TcpStream>, deadline: Instant) -> ClientReport {
    let mut poll = Poll::new().expect("create the clients' epoll instance");
    let mut events = Events::with_capacity(1024);
    let mut conns: Vec<BotConn> = streams
        .into_iter()
        .map(|stream| BotConn {
            stream: Some(mio::net::TcpStream::from_std(stream)),
            received_bytes: 0,
            replies_sent: 0,
            reply_offset: 0,
        })
        .collect();
    for (index, conn) in conns.iter_mut().enumerate() {
        let stream = conn.stream.as_mut().expect("connections start open");
        poll.registry()
            .register(
                stream,
                Token(index),
                Interest::READABLE | Interest::WRITABLE,
            )
            .expect("register a client connection with epoll");
    }

    let mut read_buf = [0u8; READ_BUF_LEN];
    let mut timed_out = false;
    while conns.iter().any(|conn| conn.stream.is_some()) {
        let now = Instant::now();
        if now >= deadline {
            timed_out = true;
            break;
        }
        match poll.poll(&mut events, Some(deadline - now)) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => panic!("clients waiting on epoll: {err}"),
        }
        for event in &events {
            let conn = &mut conns[event.token().0];
            if event.is_readable() || event.is_read_closed() || event.is_error() {
                conn.read_updates(&mut read_buf);
            }
            conn.send_replies();
        }
    }

    ClientReport {
        updates_received: conns
            .iter()
            .map(|conn| conn.received_bytes / UPDATE_LEN as u64)
            .sum(),
        replies_sent: conns.iter().map(|conn| conn.replies_sent).sum(),
        timed_out,
    }
}

/// Runs one variant once: connects, starts the client thread and the server
/// thread, and joins both.
fn run_once(variant: Variant, config: &Config) -> RunResult {
    let (server_ends, client_ends) = connect_pairs(config.clients);
    let schedule = Schedule::new(config.window);
    let client_deadline = Instant::now() + schedule.total() + CLIENT_GRACE;

    let clients = thread::Builder::new()
        .name("floor-clients".into())
        .spawn(move || run_clients(client_ends, client_deadline))
        .expect("spawn the client thread");
    let server = thread::Builder::new()
        .name(format!("floor-{variant}"))
        .spawn(move || match variant {
            Variant::Epoll => run_epoll_server(server_ends, schedule),
            Variant::Tokio => run_tokio_server(server_ends, schedule),
        })
        .expect("spawn the server thread");

    let server = server.join().expect("the server thread panicked");
    let clients = clients.join().expect("the client thread panicked");
    assert!(
        !clients.timed_out,
        "{variant}: the client thread gave up waiting for the server to close its connections"
    );
    RunResult {
        variant,
        server,
        clients,
        client_count: config.clients,
    }
}

/// The median of `values` (the mean of the middle two for an even count).
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    }
}

/// Prints the header paragraph and the run parameters.
fn print_header(config: &Config, cores: usize, clock_read: Duration) {
    println!("## Loopback floor: server CPU per tick with nothing but the sockets\n");
    println!(
        "Each run opens {clients} loopback TCP connections (TCP_NODELAY on both ends). Every \
         tick ({TICK_HZ} Hz, drift-free) the server writes one {UPDATE_LEN}-byte message to each \
         client, one write() per client, and every client answers each message with one \
         {REPLY_LEN}-byte message, which the server reads and counts. All clients share one \
         separate thread (one mio event loop). The server runs on its own thread, and the figure \
         is that thread's own CPU time (CLOCK_THREAD_CPUTIME_ID) over the measurement window \
         divided by the ticks in it: what the kernel and the event loop cost for this traffic \
         with no WebSocket, no protocol and no game. `epoll` is a bare mio loop; `tokio` is a \
         current-thread tokio runtime (a read task per connection, an interval tick task using \
         try_write), whose thread also runs tokio's IO and timer drivers.\n",
        clients = config.clients,
    );
    println!(
        "Machine: {cores} cores. Warm-up {warm_up} s, window {window} s per run, {runs} runs per \
         variant, interleaved. Reading the thread CPU clock costs about {clock:.2} µs of CPU; the \
         epoll figures include {reads} such reads per tick (the per-write timing).{smoke}\n",
        warm_up = WARM_UP.as_secs(),
        window = config.window.as_secs(),
        runs = config.runs,
        clock = clock_read.as_secs_f64() * 1e6,
        reads = config.clients + 1,
        smoke = if config.smoke {
            " (Smoke run: started without --bench.)"
        } else {
            ""
        },
    );
}

/// Prints the results table and the epoll per-write line.
fn print_results(results: &[RunResult], config: &Config) {
    println!(
        "| variant | clients | runs (ms CPU per tick, each) | median ms per tick | µs per client per tick | replies received/expected |"
    );
    println!("|---|---|---|---|---|---|");
    for variant in Variant::ALL {
        let runs: Vec<&RunResult> = results.iter().filter(|r| r.variant == variant).collect();
        let per_tick: Vec<f64> = runs
            .iter()
            .map(|r| r.server.window.cpu_ms_per_tick())
            .collect();
        let each = per_tick
            .iter()
            .map(|ms| format!("{ms:.3}"))
            .collect::<Vec<_>>()
            .join(", ");
        let median_ms = median(&per_tick);
        let received: u64 = runs.iter().map(|r| r.server.window.replies).sum();
        let expected: u64 = runs.iter().map(|r| r.expected_replies()).sum();
        println!(
            "| {variant} | {clients} | {each} | {median_ms:.3} | {per_client:.1} | {received}/{expected} ({pct:.1}%) |",
            clients = config.clients,
            per_client = median_ms * 1e3 / config.clients as f64,
            pct = 100.0 * received as f64 / expected as f64,
        );
    }

    let mut costs = WriteCosts::default();
    for r in results {
        if let Some(run_costs) = &r.server.write_costs {
            costs.merge(run_costs);
        }
    }
    println!(
        "\nepoll, CPU per write() in the window (all runs): first write of a tick {first:.1} µs \
         mean (n = {first_n}), other writes {other:.1} µs mean (n = {other_n}).",
        first = costs.first_mean_us(),
        first_n = costs.first_count,
        other = costs.other_mean_us(),
        other_n = costs.other_count,
    );
}

fn main() {
    let config = Config::from_env();
    let cores = thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(0);
    let clock_read = thread_clock_read_cost();

    let mut results = Vec::with_capacity(config.runs * Variant::ALL.len());
    for round in 1..=config.runs {
        for variant in Variant::ALL {
            let result = run_once(variant, &config);
            let window = result.server.window;
            eprintln!(
                "run {round}/{runs} {variant}: {ms:.3} ms CPU per tick over {ticks} ticks \
                 ({wall:.2} s), replies {replies}/{expected}; clients got {updates} updates, \
                 sent {sent} replies",
                runs = config.runs,
                ms = window.cpu_ms_per_tick(),
                ticks = window.ticks,
                wall = window.wall.as_secs_f64(),
                replies = window.replies,
                expected = result.expected_replies(),
                updates = result.clients.updates_received,
                sent = result.clients.replies_sent,
            );
            results.push(result);
        }
    }

    print_header(&config, cores, clock_read);
    print_results(&results, &config);

    let incomplete: u64 = results.iter().map(|r| r.server.incomplete_writes).sum();
    if incomplete > 0 {
        println!("\nWarning: {incomplete} updates did not go out whole in one write().");
    }
    for result in &results {
        assert!(
            result.traffic_ok(),
            "{}: only {} of {} expected replies reached the server in the window",
            result.variant,
            result.server.window.replies,
            result.expected_replies(),
        );
    }
}
