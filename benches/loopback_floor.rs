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
//! It plays the same traffic (same clients, sizes, ticks, warm-up, window
//! and runs) over loopback UDP too, as the floor of the QUIC transport
//! (quinn): one update datagram per client per tick, one reply datagram per
//! update. The server has one unconnected UDP socket, receives every
//! client's replies on it with `recv_from` and sends each client its update
//! with its own `send_to`; each client has its own UDP socket (connected to
//! the server's).
//!
//! Four server variants, each on its own dedicated thread so that the
//! thread's own CPU clock (`CLOCK_THREAD_CPUTIME_ID`, read from inside it)
//! measures it alone. Over TCP (the floor of ws and wss):
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
//! Over UDP (the floor of quic), the same two loops on the one socket:
//!
//! - `udp bare loop`: the `epoll` loop, sending with `send_to` and reading
//!   with `recv_from` until the socket is empty; it times every `send_to`
//!   the way `epoll` times its writes (the first of a tick kept apart).
//! - `udp async task`: the `tokio` runtime with one task reading the socket
//!   (`recv_from`) and the interval tick task using `try_send_to`.
//!
//! The UDP floor is only the datagrams' cost. It leaves out everything QUIC
//! adds to them: packet encryption and decryption (AEAD and header
//! protection on every packet), ACK frames and the extra packets that carry
//! them, congestion control and pacing, loss detection and retransmission,
//! connection IDs and the routing of datagrams to connections, and the
//! hand-offs between quinn's endpoint and connection tasks. Its syscalls are
//! not quinn's either: one `recv_from` per datagram, where quinn-udp takes
//! up to 32 datagrams per `recvmmsg`, so a QUIC server's receive side can
//! make fewer syscalls than this floor (GSO only joins datagrams to one
//! destination, so one update per client per tick stays one send each). The
//! socket buffers are the kernel's defaults, which quinn leaves as they are.
//!
//! UDP on loopback should not drop datagrams at this rate, but it may (a
//! receive buffer that overflows). So every run counts the updates and
//! replies sent and received in each direction over the whole run (the
//! server keeps reading, unmeasured, after the window closes until every
//! update it sent is answered or 500 ms pass without one), and a UDP run
//! reports its lost datagrams under the table instead of failing. A run
//! fails if the replies received in its window, plus the datagrams it lost,
//! fall under 95 % of the expected replies (the traffic was not real), and a
//! TCP run fails if it lost anything.
//!
//! The table's rows are parsed by `floor-ratio` (in the shared tools), which
//! takes the last row whose second column matches `/tokio/` or `/epoll/`.
//! The UDP rows' names contain neither word (`udp bare loop` rather than
//! `udp epoll`, `udp async task` rather than `udp tokio`), so they never
//! match, whatever order the rows are printed in; putting them before the
//! TCP rows would only work as long as the script takes the last match.
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
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use mio::event::Source;
use mio::{Events, Interest, Poll, Registry, Token, Waker};
use tokio::io::AsyncReadExt;
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
/// After the window, how long the server waits for a reply that does not
/// come before it stops reading and counts the missing ones as lost.
const DRAIN_QUIET: Duration = Duration::from_millis(500);
/// How often the tokio variants look at the reply count while draining.
const DRAIN_CHECK: Duration = Duration::from_millis(1);
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

/// The sockets a run's traffic travels on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    /// One loopback TCP connection per client.
    Tcp,
    /// One UDP socket per client, one unconnected UDP socket on the server.
    Udp,
}

impl Transport {
    /// The call that sends one update.
    fn send_call(self) -> &'static str {
        match self {
            Self::Tcp => "write()",
            Self::Udp => "send_to()",
        }
    }
}

/// How the server thread drives its sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServerLoop {
    /// A bare `mio::Poll` loop.
    Bare,
    /// A current-thread tokio runtime.
    Tokio,
}

/// Which server a run uses: a transport and a loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Variant {
    /// The sockets.
    transport: Transport,
    /// The loop driving them.
    server: ServerLoop,
}

impl Variant {
    /// Every variant, in the order runs interleave them and rows are printed.
    const ALL: [Self; 4] = [
        Self::new(Transport::Tcp, ServerLoop::Bare),
        Self::new(Transport::Tcp, ServerLoop::Tokio),
        Self::new(Transport::Udp, ServerLoop::Bare),
        Self::new(Transport::Udp, ServerLoop::Tokio),
    ];

    /// The variant running `server` on `transport`.
    const fn new(transport: Transport, server: ServerLoop) -> Self {
        Self { transport, server }
    }
}

impl fmt::Display for Variant {
    /// The row name. `floor-ratio` matches the TCP names with `/epoll/` and
    /// `/tokio/`, so the UDP names must contain neither word.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match (self.transport, self.server) {
            (Transport::Tcp, ServerLoop::Bare) => "epoll",
            (Transport::Tcp, ServerLoop::Tokio) => "tokio",
            (Transport::Udp, ServerLoop::Bare) => "udp bare loop",
            (Transport::Udp, ServerLoop::Tokio) => "udp async task",
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

/// CPU time of individual sends (`write()` or `send_to()`) in a bare
/// loop's window.
#[derive(Debug, Clone, Copy, Default)]
struct WriteCosts {
    /// Total CPU of the first send of each tick.
    first_total: Duration,
    /// Number of first sends timed.
    first_count: u64,
    /// Total CPU of every other send.
    other_total: Duration,
    /// Number of other sends timed.
    other_count: u64,
}

impl WriteCosts {
    /// Records one send's CPU time.
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

    /// Mean CPU of a first send, in microseconds.
    fn first_mean_us(&self) -> f64 {
        mean_us(self.first_total, self.first_count)
    }

    /// Mean CPU of any other send, in microseconds.
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

/// The outcomes of a server's update sends over a whole run.
#[derive(Debug, Clone, Copy, Default)]
struct SendTally {
    /// Updates handed to the kernel whole.
    sent: u64,
    /// Updates that did not go out whole in one send (should be none).
    incomplete: u64,
}

impl SendTally {
    /// Counts the result of sending one update to client `index`.
    fn record(&mut self, index: usize, result: io::Result<usize>) {
        match result {
            Ok(UPDATE_LEN) => self.sent += 1,
            Ok(_) => self.incomplete += 1,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => self.incomplete += 1,
            Err(err) => panic!("sending the update to client {index}: {err}"),
        }
    }
}

/// What a server thread reports at the end of a run.
#[derive(Debug, Clone, Copy)]
struct ServerReport {
    /// The window's figures.
    window: WindowMeasurement,
    /// Per-send CPU (bare loops only).
    write_costs: Option<WriteCosts>,
    /// The update sends over the whole run.
    sends: SendTally,
    /// Complete replies read over the whole run, the drain included.
    replies_received: u64,
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
    /// The server used.
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

    /// Updates the server sent that no client received.
    fn updates_lost(&self) -> u64 {
        self.server
            .sends
            .sent
            .saturating_sub(self.clients.updates_received)
    }

    /// Replies the clients sent that the server never read.
    fn replies_lost(&self) -> u64 {
        self.clients
            .replies_sent
            .saturating_sub(self.server.replies_received)
    }

    /// Whether enough replies arrived, or were counted lost, to show the
    /// traffic was real.
    fn traffic_ok(&self) -> bool {
        let accounted = self.server.window.replies + self.updates_lost() + self.replies_lost();
        accounted as f64 >= MIN_REPLY_FRACTION * self.expected_replies() as f64
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

/// Waits on `poll` for at most `timeout`; an interrupted wait returns with
/// no events.
fn wait_for_events(poll: &mut Poll, events: &mut Events, timeout: Option<Duration>, who: &str) {
    match poll.poll(events, timeout) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::Interrupted => events.clear(),
        Err(err) => panic!("{who} waiting on epoll: {err}"),
    }
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

/// The UDP sockets of one run, all on loopback and non-blocking.
#[derive(Debug)]
struct UdpSockets {
    /// The server's one unconnected socket.
    server: UdpSocket,
    /// Each client's address, in client order.
    peers: Vec<SocketAddr>,
    /// Each client's socket, connected to the server's.
    clients: Vec<UdpSocket>,
}

impl UdpSockets {
    /// Binds the server's socket and `count` client sockets.
    fn bind(count: usize) -> Self {
        let bind = || {
            let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
                .expect("bind an ephemeral loopback UDP port");
            socket
                .set_nonblocking(true)
                .expect("make the socket non-blocking");
            socket
        };
        let server = bind();
        let server_addr = server
            .local_addr()
            .expect("read the server socket's address");
        let clients: Vec<UdpSocket> = (0..count)
            .map(|_| {
                let client = bind();
                client
                    .connect(server_addr)
                    .expect("connect a client socket to the server's");
                client
            })
            .collect();
        let peers = clients
            .iter()
            .map(|client| client.local_addr().expect("read a client's address"))
            .collect();
        Self {
            server,
            peers,
            clients,
        }
    }
}

/// A bare loop's server sockets, as `run_bare_server` drives them.
trait BareSockets {
    /// The number of clients.
    fn clients(&self) -> usize;
    /// Registers the sockets for reading; `read_ready` gets the tokens back.
    fn register(&mut self, registry: &Registry);
    /// Sends one update to client `index`; returns the bytes sent.
    fn send_update(&mut self, index: usize, update: &[u8]) -> io::Result<usize>;
    /// Reads everything the socket behind `token` has; returns the bytes.
    fn read_ready(&mut self, token: Token, buf: &mut [u8]) -> u64;
}

/// The `epoll` server's sockets: one connection per client, each
/// registered under its index.
#[derive(Debug)]
struct TcpServerSockets(Vec<mio::net::TcpStream>);

impl BareSockets for TcpServerSockets {
    fn clients(&self) -> usize {
        self.0.len()
    }

    fn register(&mut self, registry: &Registry) {
        for (index, conn) in self.0.iter_mut().enumerate() {
            registry
                .register(conn, Token(index), Interest::READABLE)
                .expect("register a server connection with epoll");
        }
    }

    fn send_update(&mut self, index: usize, update: &[u8]) -> io::Result<usize> {
        self.0[index].write(update)
    }

    /// Reads until the connection would block or a read comes back short.
    /// The client never closes first, so EOF here is a failure.
    fn read_ready(&mut self, token: Token, buf: &mut [u8]) -> u64 {
        let index = token.0;
        let mut total = 0u64;
        loop {
            match self.0[index].read(buf) {
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
}

/// The `udp bare loop` server's socket and its clients' addresses.
#[derive(Debug)]
struct UdpServerSocket {
    /// The one socket, registered under token 0.
    socket: mio::net::UdpSocket,
    /// Each client's address, in client order.
    peers: Vec<SocketAddr>,
}

impl BareSockets for UdpServerSocket {
    fn clients(&self) -> usize {
        self.peers.len()
    }

    fn register(&mut self, registry: &Registry) {
        registry
            .register(&mut self.socket, Token(0), Interest::READABLE)
            .expect("register the server socket with epoll");
    }

    fn send_update(&mut self, index: usize, update: &[u8]) -> io::Result<usize> {
        self.socket.send_to(update, self.peers[index])
    }

    /// Reads datagrams, one `recv_from` each, until the socket is empty.
    fn read_ready(&mut self, _token: Token, buf: &mut [u8]) -> u64 {
        let mut total = 0u64;
        loop {
            match self.socket.recv_from(buf) {
                Ok((n, _from)) => total += n as u64,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return total,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => panic!("reading replies from the server socket: {err}"),
            }
        }
    }
}

/// The bare servers (`epoll`, `udp bare loop`): one `mio::Poll` loop on the
/// calling thread that plays the schedule, timing every send in the window,
/// then reads the last replies (unmeasured) and drops (closes) its sockets.
fn run_bare_server(mut sockets: impl BareSockets, schedule: Schedule) -> ServerReport {
    let mut poll = Poll::new().expect("create an epoll instance");
    let mut events = Events::with_capacity(1024);
    sockets.register(poll.registry());

    let update = [0xA5u8; UPDATE_LEN];
    let mut read_buf = [0u8; READ_BUF_LEN];
    let mut reply_bytes = 0u64;
    let mut write_costs = WriteCosts::default();
    let mut sends = SendTally::default();
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
            // Chained marks: each send's cost includes one clock read.
            let mut before = in_window.then(thread_cpu_time);
            for index in 0..sockets.clients() {
                sends.record(index, sockets.send_update(index, &update));
                if let Some(previous) = before {
                    let after = thread_cpu_time();
                    write_costs.record(index == 0, after - previous);
                    before = Some(after);
                }
            }
            next_tick += 1;
            continue;
        }

        wait_for_events(&mut poll, &mut events, Some(due - now), "the server");
        for event in &events {
            reply_bytes += sockets.read_ready(event.token(), &mut read_buf);
        }
    };

    // The answers to the last updates, and any straggler.
    while reply_bytes / (REPLY_LEN as u64) < sends.sent {
        wait_for_events(&mut poll, &mut events, Some(DRAIN_QUIET), "the server");
        if events.is_empty() {
            break;
        }
        for event in &events {
            reply_bytes += sockets.read_ready(event.token(), &mut read_buf);
        }
    }

    // Dropping the sockets closes them; TCP clients see EOF and stop.
    drop(sockets);
    ServerReport {
        window,
        write_costs: Some(write_costs),
        sends,
        replies_received: reply_bytes / REPLY_LEN as u64,
    }
}

/// The tokio servers (`tokio`, `udp async task`): a current-thread runtime
/// driven by `block_on` on the calling thread. Inside it, `start` spawns
/// the reading tasks, which add every reply byte they read to the counter
/// it is given, and returns the function that sends one update to a
/// client; the tick task then plays the schedule with it. When the tick
/// task is done the runtime is dropped, which cancels the readers and
/// closes every socket.
fn run_tokio_server<S>(
    clients: usize,
    schedule: Schedule,
    start: impl FnOnce(Arc<AtomicU64>) -> S,
) -> ServerReport
where
    S: FnMut(usize, &[u8]) -> io::Result<usize> + Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build a current-thread tokio runtime");
    runtime.block_on(async move {
        let reply_bytes = Arc::new(AtomicU64::new(0));
        let send = start(Arc::clone(&reply_bytes));
        tokio::spawn(tokio_ticks(clients, send, reply_bytes, schedule))
            .await
            .expect("the tick task panicked")
    })
}

/// The `tokio` server's start: one reading task per connection; sends with
/// `try_write` on the connection's write half.
fn start_tcp_tasks(
    streams: Vec<TcpStream>,
    reply_bytes: Arc<AtomicU64>,
) -> impl FnMut(usize, &[u8]) -> io::Result<usize> + Send + 'static {
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
    // Dropping the write halves (with this function) shuts down their
    // sending side.
    move |index, update| writers[index].try_write(update)
}

/// The `udp async task` server's start: one task reading the socket with
/// `recv_from`; sends with `try_send_to`.
fn start_udp_tasks(
    socket: UdpSocket,
    peers: Vec<SocketAddr>,
    reply_bytes: Arc<AtomicU64>,
) -> impl FnMut(usize, &[u8]) -> io::Result<usize> + Send + 'static {
    let socket =
        Arc::new(tokio::net::UdpSocket::from_std(socket).expect("register the socket with tokio"));
    let reader = Arc::clone(&socket);
    tokio::spawn(async move {
        let mut buf = [0u8; READ_BUF_LEN];
        // An error ends the task; the reply count shows it.
        while let Ok((n, _from)) = reader.recv_from(&mut buf).await {
            reply_bytes.fetch_add(n as u64, Ordering::Relaxed);
        }
    });
    move |index, update| socket.try_send_to(update, peers[index])
}

/// The tokio variants' tick task: sends one update to every client per tick
/// of a drift-free `interval`, and measures the window. Then waits
/// (unmeasured) for the last replies and returns, dropping `send`.
async fn tokio_ticks(
    clients: usize,
    mut send: impl FnMut(usize, &[u8]) -> io::Result<usize>,
    reply_bytes: Arc<AtomicU64>,
    schedule: Schedule,
) -> ServerReport {
    let update = [0xA5u8; UPDATE_LEN];
    let mut interval = tokio::time::interval(schedule.period);
    // Burst keeps tick n due at start + n * period, like the bare loop.
    interval.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut sends = SendTally::default();
    let mut window_start = None;
    for tick in 0..=schedule.end_tick() {
        interval.tick().await;
        if tick == schedule.warm_up_ticks {
            window_start = Some(Mark::now(reply_bytes.load(Ordering::Relaxed)));
        }
        if tick == schedule.end_tick() {
            break;
        }
        for index in 0..clients {
            sends.record(index, send(index, &update));
        }
    }
    let closed = Mark::now(reply_bytes.load(Ordering::Relaxed));
    let opened = window_start.expect("the window opened before it closes");

    // The answers to the last updates, and any straggler.
    let mut seen = reply_bytes.load(Ordering::Relaxed);
    let mut last_progress = Instant::now();
    while seen / (REPLY_LEN as u64) < sends.sent && last_progress.elapsed() < DRAIN_QUIET {
        tokio::time::sleep(DRAIN_CHECK).await;
        let now_seen = reply_bytes.load(Ordering::Relaxed);
        if now_seen != seen {
            seen = now_seen;
            last_progress = Instant::now();
        }
    }

    ServerReport {
        window: WindowMeasurement::between(opened, closed, schedule.window_ticks),
        write_costs: None,
        sends,
        replies_received: seen / REPLY_LEN as u64,
    }
}

/// A client's socket, as the client thread drives it.
trait ClientSocket: Source {
    /// Whether a read shorter than the buffer shows the socket has nothing
    /// more: true of a stream, not of datagrams (one per read).
    const SHORT_READ_DRAINS: bool;
    /// Reads what is waiting; `Ok(0)` is the end of a stream (the server
    /// never sends an empty datagram).
    fn read_some(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// Sends (part of) a reply.
    fn write_some(&mut self, buf: &[u8]) -> io::Result<usize>;
}

impl ClientSocket for mio::net::TcpStream {
    const SHORT_READ_DRAINS: bool = true;

    fn read_some(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read(buf)
    }

    fn write_some(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write(buf)
    }
}

impl ClientSocket for mio::net::UdpSocket {
    const SHORT_READ_DRAINS: bool = false;

    fn read_some(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv(buf)
    }

    fn write_some(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.send(buf)
    }
}

/// One client in the client thread.
#[derive(Debug)]
struct BotConn<S> {
    /// The socket; `None` once closed.
    socket: Option<S>,
    /// Update bytes received so far.
    received_bytes: u64,
    /// Whole replies written so far.
    replies_sent: u64,
    /// Bytes of the current reply already written (a short write's rest).
    reply_offset: usize,
}

impl<S: ClientSocket> BotConn<S> {
    /// Reads what is available; closes the socket on EOF or error.
    fn read_updates(&mut self, buf: &mut [u8]) {
        while let Some(socket) = self.socket.as_mut() {
            match socket.read_some(buf) {
                Ok(0) => self.socket = None,
                Ok(n) => {
                    self.received_bytes += n as u64;
                    if S::SHORT_READ_DRAINS && n < buf.len() {
                        return;
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => self.socket = None,
            }
        }
    }

    /// Writes one reply per update received and not yet answered, one
    /// `write()` (or `send()`) each, until done or the socket would block.
    fn send_replies(&mut self) {
        let reply = [0x5Au8; REPLY_LEN];
        while self.replies_sent < self.received_bytes / UPDATE_LEN as u64 {
            let Some(socket) = self.socket.as_mut() else {
                return;
            };
            match socket.write_some(&reply[self.reply_offset..]) {
                Ok(0) => self.socket = None,
                Ok(n) => {
                    self.reply_offset += n;
                    if self.reply_offset == REPLY_LEN {
                        self.reply_offset = 0;
                        self.replies_sent += 1;
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => self.socket = None,
            }
        }
    }
}

/// The client thread: one `mio` loop serving every client socket. Answers
/// updates until the server has closed every connection, or `stop` (the
/// token of a waker registered with `poll`) is woken, or `deadline`. Once
/// woken it reads what is still waiting, to count it.
fn run_clients<S: ClientSocket>(
    sockets: Vec<S>,
    mut poll: Poll,
    stop: Token,
    deadline: Instant,
) -> ClientReport {
    let mut events = Events::with_capacity(1024);
    let mut conns: Vec<BotConn<S>> = sockets
        .into_iter()
        .map(|socket| BotConn {
            socket: Some(socket),
            received_bytes: 0,
            replies_sent: 0,
            reply_offset: 0,
        })
        .collect();
    for (index, conn) in conns.iter_mut().enumerate() {
        assert_ne!(Token(index), stop, "the stop token is not a client's");
        let socket = conn.socket.as_mut().expect("connections start open");
        poll.registry()
            .register(
                socket,
                Token(index),
                Interest::READABLE | Interest::WRITABLE,
            )
            .expect("register a client socket with epoll");
    }

    let mut read_buf = [0u8; READ_BUF_LEN];
    let mut timed_out = false;
    let mut stopped = false;
    while !stopped && conns.iter().any(|conn| conn.socket.is_some()) {
        let now = Instant::now();
        if now >= deadline {
            timed_out = true;
            break;
        }
        wait_for_events(&mut poll, &mut events, Some(deadline - now), "the clients");
        for event in &events {
            if event.token() == stop {
                stopped = true;
                continue;
            }
            let conn = &mut conns[event.token().0];
            if event.is_readable() || event.is_read_closed() || event.is_error() {
                conn.read_updates(&mut read_buf);
            }
            conn.send_replies();
        }
    }
    if stopped {
        for conn in &mut conns {
            conn.read_updates(&mut read_buf);
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

/// Runs one variant once: opens the sockets, then plays the run.
fn run_once(variant: Variant, config: &Config) -> RunResult {
    let schedule = Schedule::new(config.window);
    let n = config.clients;
    let server_loop = variant.server;
    let (server, clients) = match variant.transport {
        Transport::Tcp => {
            let (server_ends, client_ends) = connect_pairs(n);
            let client_ends = client_ends
                .into_iter()
                .map(mio::net::TcpStream::from_std)
                .collect();
            play(variant, schedule, client_ends, move || match server_loop {
                ServerLoop::Bare => {
                    let conns = server_ends
                        .into_iter()
                        .map(mio::net::TcpStream::from_std)
                        .collect();
                    run_bare_server(TcpServerSockets(conns), schedule)
                }
                ServerLoop::Tokio => run_tokio_server(n, schedule, move |reply_bytes| {
                    start_tcp_tasks(server_ends, reply_bytes)
                }),
            })
        }
        Transport::Udp => {
            let UdpSockets {
                server,
                peers,
                clients,
            } = UdpSockets::bind(n);
            let clients = clients
                .into_iter()
                .map(mio::net::UdpSocket::from_std)
                .collect();
            play(variant, schedule, clients, move || match server_loop {
                ServerLoop::Bare => {
                    let socket = mio::net::UdpSocket::from_std(server);
                    run_bare_server(UdpServerSocket { socket, peers }, schedule)
                }
                ServerLoop::Tokio => run_tokio_server(n, schedule, move |reply_bytes| {
                    start_udp_tasks(server, peers, reply_bytes)
                }),
            })
        }
    };
    assert!(
        !clients.timed_out,
        "{variant}: the client thread gave up waiting for the end of the run"
    );
    RunResult {
        variant,
        server,
        clients,
        client_count: n,
    }
}

/// Starts the client thread on `client_sockets` and the server thread
/// running `server`, joins the server, then stops and joins the clients.
fn play<S>(
    variant: Variant,
    schedule: Schedule,
    client_sockets: Vec<S>,
    server: impl FnOnce() -> ServerReport + Send + 'static,
) -> (ServerReport, ClientReport)
where
    S: ClientSocket + Send + 'static,
{
    let client_deadline = Instant::now() + schedule.total() + CLIENT_GRACE;
    let poll = Poll::new().expect("create the clients' epoll instance");
    let stop = Token(client_sockets.len());
    let waker = Waker::new(poll.registry(), stop).expect("create the clients' waker");

    let clients = thread::Builder::new()
        .name("floor-clients".into())
        .spawn(move || run_clients(client_sockets, poll, stop, client_deadline))
        .expect("spawn the client thread");
    let server = thread::Builder::new()
        .name(format!("floor-{variant}"))
        .spawn(server)
        .expect("spawn the server thread");

    let server = server.join().expect("the server thread panicked");
    // The server has closed its sockets; UDP clients learn it from this.
    waker.wake().expect("wake the client thread");
    let clients = clients.join().expect("the client thread panicked");
    (server, clients)
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
        "The `udp` rows play the same traffic as datagrams, the floor of QUIC without QUIC: the \
         server has one unconnected UDP socket, sends each client its update with one send_to() \
         per client per tick and reads every client's replies on it with one recv_from() per \
         datagram; each client has its own UDP socket. `udp bare loop` is the epoll loop on that \
         socket; `udp async task` is the tokio runtime with one task reading the socket and the \
         interval tick task using try_send_to. No encryption, no ACKs, no congestion control or \
         pacing, no recvmmsg or GSO batching.\n"
    );
    println!(
        "Machine: {cores} cores. Warm-up {warm_up} s, window {window} s per run, {runs} runs per \
         variant, interleaved. Reading the thread CPU clock costs about {clock:.2} µs of CPU; the \
         epoll and udp bare loop figures include {reads} such reads per tick (the per-send \
         timing).{smoke}\n",
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

/// The runs of `variant`.
fn runs_of(results: &[RunResult], variant: Variant) -> impl Iterator<Item = &RunResult> {
    results.iter().filter(move |r| r.variant == variant)
}

/// Prints the results table, the bare loops' per-send lines and the UDP
/// runs' datagram counts.
fn print_results(results: &[RunResult], config: &Config) {
    println!(
        "| variant | clients | runs (ms CPU per tick, each) | median ms per tick | µs per client per tick | replies received/expected |"
    );
    println!("|---|---|---|---|---|---|");
    for variant in Variant::ALL {
        let per_tick: Vec<f64> = runs_of(results, variant)
            .map(|r| r.server.window.cpu_ms_per_tick())
            .collect();
        let each = per_tick
            .iter()
            .map(|ms| format!("{ms:.3}"))
            .collect::<Vec<_>>()
            .join(", ");
        let median_ms = median(&per_tick);
        let received: u64 = runs_of(results, variant)
            .map(|r| r.server.window.replies)
            .sum();
        let expected: u64 = runs_of(results, variant)
            .map(RunResult::expected_replies)
            .sum();
        println!(
            "| {variant} | {clients} | {each} | {median_ms:.3} | {per_client:.1} | {received}/{expected} ({pct:.1}%) |",
            clients = config.clients,
            per_client = median_ms * 1e3 / config.clients as f64,
            pct = 100.0 * received as f64 / expected as f64,
        );
    }

    println!();
    for variant in Variant::ALL {
        let mut costs = WriteCosts::default();
        let mut timed = false;
        for run_costs in runs_of(results, variant).filter_map(|r| r.server.write_costs.as_ref()) {
            costs.merge(run_costs);
            timed = true;
        }
        if timed {
            let call = variant.transport.send_call();
            println!(
                "{variant}, CPU per {call} in the window (all runs): first {call} of a tick \
                 {first:.1} µs mean (n = {first_n}), other {call} calls {other:.1} µs mean \
                 (n = {other_n}).",
                first = costs.first_mean_us(),
                first_n = costs.first_count,
                other = costs.other_mean_us(),
                other_n = costs.other_count,
            );
        }
    }

    for variant in Variant::ALL
        .into_iter()
        .filter(|v| v.transport == Transport::Udp)
    {
        let sum = |count: fn(&RunResult) -> u64| runs_of(results, variant).map(count).sum::<u64>();
        let updates = sum(|r| r.server.sends.sent);
        let replies = sum(|r| r.clients.replies_sent);
        let lost = sum(RunResult::updates_lost) + sum(RunResult::replies_lost);
        println!(
            "{variant}, datagrams over whole runs (all runs): updates {got}/{updates} received, \
             replies {read}/{replies} received{verdict}.",
            got = sum(|r| r.clients.updates_received),
            read = sum(|r| r.server.replies_received),
            verdict = if lost == 0 {
                ", none lost".to_owned()
            } else {
                format!(": {lost} LOST (counted, not failed; the figures carry less traffic)")
            },
        );
    }
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
                 ({wall:.2} s), replies {replies}/{expected}; server sent {sent} updates; clients \
                 got {updates} updates, sent {replies_sent} replies; server read {read} replies",
                runs = config.runs,
                ms = window.cpu_ms_per_tick(),
                ticks = window.ticks,
                wall = window.wall.as_secs_f64(),
                replies = window.replies,
                expected = result.expected_replies(),
                sent = result.server.sends.sent,
                updates = result.clients.updates_received,
                replies_sent = result.clients.replies_sent,
                read = result.server.replies_received,
            );
            results.push(result);
        }
    }

    print_header(&config, cores, clock_read);
    print_results(&results, &config);

    let incomplete: u64 = results.iter().map(|r| r.server.sends.incomplete).sum();
    if incomplete > 0 {
        println!("\nWarning: {incomplete} updates did not go out whole in one send.");
    }
    for result in &results {
        assert!(
            result.traffic_ok(),
            "{}: only {} of {} expected replies reached the server in the window \
             ({} updates and {} replies lost)",
            result.variant,
            result.server.window.replies,
            result.expected_replies(),
            result.updates_lost(),
            result.replies_lost(),
        );
        if result.variant.transport == Transport::Tcp {
            assert_eq!(
                (result.updates_lost(), result.replies_lost()),
                (0, 0),
                "{}: TCP lost updates or replies",
                result.variant,
            );
        }
    }
}
