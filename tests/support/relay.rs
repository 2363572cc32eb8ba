//! A lossy loopback UDP relay for QUIC tests: clients send to
//! [`Relay::addr`]; each client address gets its own upstream socket to the
//! server (so the server sees one peer per client), and datagrams in both
//! directions are dropped, duplicated or reordered (held a few
//! milliseconds and sent after the next one) at shares that can change at
//! run time. Seeded, so a run's faults repeat. Nothing is queued beyond one
//! held datagram per direction; the relay stops when dropped.

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use tickwire_shared::rng::SimRng;
use tokio::net::UdpSocket;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

/// How long a reordered datagram is held when no other one follows.
const HOLD: Duration = Duration::from_millis(4);

/// Fault shares in parts per thousand, for both directions.
#[derive(Debug, Default)]
pub struct Faults {
    pub loss: AtomicU32,
    pub duplicate: AtomicU32,
    pub reorder: AtomicU32,
}

impl Faults {
    /// Sets every share (per mille).
    pub fn set(&self, loss: u32, duplicate: u32, reorder: u32) {
        self.loss.store(loss, Ordering::Relaxed);
        self.duplicate.store(duplicate, Ordering::Relaxed);
        self.reorder.store(reorder, Ordering::Relaxed);
    }
}

/// What the relay did, per direction (index 0: client to server, 1: server
/// to client).
#[derive(Debug, Default)]
pub struct RelayStats {
    pub forwarded: [AtomicU64; 2],
    pub dropped: [AtomicU64; 2],
    pub duplicated: [AtomicU64; 2],
    pub reordered: [AtomicU64; 2],
}

impl RelayStats {
    pub fn line(&self) -> String {
        let get = |a: &[AtomicU64; 2], i: usize| a[i].load(Ordering::Relaxed);
        let dir = |i: usize| {
            format!(
                "forwarded {} dropped {} duplicated {} reordered {}",
                get(&self.forwarded, i),
                get(&self.dropped, i),
                get(&self.duplicated, i),
                get(&self.reordered, i)
            )
        };
        format!("up: {}; down: {}", dir(0), dir(1))
    }
}

/// Applies the faults to one direction of one client's traffic.
struct Shaper {
    rng: SimRng,
    held: Option<(Vec<u8>, Instant)>,
    direction: usize,
}

impl Shaper {
    fn new(seed: u64, stream: u64, direction: usize) -> Self {
        Self {
            rng: SimRng::new(seed, stream),
            held: None,
            direction,
        }
    }

    /// The datagrams to send now for one that arrived.
    fn on_datagram(&mut self, d: &[u8], faults: &Faults, stats: &RelayStats) -> Vec<Vec<u8>> {
        let share = |a: &AtomicU32| f64::from(a.load(Ordering::Relaxed)) / 1000.0;
        let i = self.direction;
        let mut out = Vec::with_capacity(3);
        if self.rng.chance(share(&faults.loss)) {
            stats.dropped[i].fetch_add(1, Ordering::Relaxed);
        } else if self.held.is_none() && self.rng.chance(share(&faults.reorder)) {
            stats.reordered[i].fetch_add(1, Ordering::Relaxed);
            self.held = Some((d.to_vec(), Instant::now() + HOLD));
            return out;
        } else {
            out.push(d.to_vec());
            if self.rng.chance(share(&faults.duplicate)) {
                stats.duplicated[i].fetch_add(1, Ordering::Relaxed);
                out.push(d.to_vec());
            }
        }
        // A held datagram goes after the next one: swapped.
        if let Some((held, _)) = self.held.take() {
            out.push(held);
        }
        out
    }

    /// The held datagram, once its time is up.
    fn due(&mut self, now: Instant) -> Option<Vec<u8>> {
        if self.held.as_ref().is_some_and(|(_, at)| *at <= now) {
            self.held.take().map(|(d, _)| d)
        } else {
            None
        }
    }
}

/// A running relay.
pub struct Relay {
    pub addr: SocketAddr,
    pub faults: Arc<Faults>,
    pub stats: Arc<RelayStats>,
    task: JoinHandle<()>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        // Aborting the front task drops its JoinSet, which aborts every
        // upstream task.
        self.task.abort();
    }
}

impl Relay {
    /// Starts a relay in front of `server`.
    pub async fn start(server: SocketAddr, seed: u64) -> Self {
        let front = Arc::new(UdpSocket::bind("127.0.0.1:0").await.expect("relay binds"));
        let addr = front.local_addr().expect("addr");
        let faults = Arc::new(Faults::default());
        let stats = Arc::new(RelayStats::default());
        let task = tokio::spawn(front_loop(
            front,
            server,
            seed,
            Arc::clone(&faults),
            Arc::clone(&stats),
        ));
        Self {
            addr,
            faults,
            stats,
            task,
        }
    }
}

async fn front_loop(
    front: Arc<UdpSocket>,
    server: SocketAddr,
    seed: u64,
    faults: Arc<Faults>,
    stats: Arc<RelayStats>,
) {
    let mut upstreams: JoinSet<()> = JoinSet::new();
    let mut clients: HashMap<SocketAddr, (Arc<UdpSocket>, Shaper)> = HashMap::new();
    let mut buf = vec![0u8; 65_536];
    loop {
        let received = tokio::time::timeout(HOLD, front.recv_from(&mut buf)).await;
        let now = Instant::now();
        for (up, shaper) in clients.values_mut() {
            if let Some(d) = shaper.due(now) {
                let _ = up.send(&d).await;
            }
        }
        let Ok(Ok((n, from))) = received else {
            continue;
        };
        if !clients.contains_key(&from) {
            let up = Arc::new(
                UdpSocket::bind("127.0.0.1:0")
                    .await
                    .expect("upstream binds"),
            );
            up.connect(server).await.expect("upstream connects");
            let stream = clients.len() as u64 * 2;
            upstreams.spawn(back_loop(
                Arc::clone(&up),
                Arc::clone(&front),
                from,
                Shaper::new(seed, stream + 1, 1),
                Arc::clone(&faults),
                Arc::clone(&stats),
            ));
            clients.insert(from, (up, Shaper::new(seed, stream, 0)));
        }
        let (up, shaper) = clients.get_mut(&from).expect("just inserted");
        for d in shaper.on_datagram(&buf[..n], &faults, &stats) {
            stats.forwarded[0].fetch_add(1, Ordering::Relaxed);
            let _ = up.send(&d).await;
        }
    }
}

async fn back_loop(
    up: Arc<UdpSocket>,
    front: Arc<UdpSocket>,
    client: SocketAddr,
    mut shaper: Shaper,
    faults: Arc<Faults>,
    stats: Arc<RelayStats>,
) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let received = tokio::time::timeout(HOLD, up.recv(&mut buf)).await;
        if let Some(d) = shaper.due(Instant::now()) {
            let _ = front.send_to(&d, client).await;
        }
        let Ok(Ok(n)) = received else {
            continue;
        };
        for d in shaper.on_datagram(&buf[..n], &faults, &stats) {
            stats.forwarded[1].fetch_add(1, Ordering::Relaxed);
            let _ = front.send_to(&d, client).await;
        }
    }
}
