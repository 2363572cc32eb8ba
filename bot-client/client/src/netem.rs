//! A link conditioner: the network a real player sits behind, applied to
//! one connection's frames (issue 16, "load tests that look like real
//! players").
//!
//! [`Conditioner`] is pure and deterministic, in quinn's sans-IO shape: the
//! caller passes the time in ([`Conditioner::push`] a frame as it is sent,
//! [`Conditioner::poll`] the frames that are due, and
//! [`Conditioner::poll_timeout`] says when to poll next); randomness comes
//! from a seeded [`SimRng`], so one seed replays one run's losses exactly.
//! One conditioner shapes one direction ([`PathConfig`]); a
//! [`NetworkProfile`] pairs the two (client to server, server to client),
//! and [`ClientBuilder::network`](crate::ClientBuilder::network) puts one
//! under a [`Client`](crate::Client).
//!
//! # What each frame meets
//!
//! In this order, per frame pushed:
//!
//! 1. **Loss** (`loss`, a probability): a [`FrameKind::Datagram`] is
//!    dropped. A [`FrameKind::Reliable`] frame is never dropped: its
//!    transport (TCP, a QUIC stream) would send it again, so a loss shows
//!    up as a retransmission delay of one round trip (twice this
//!    direction's latency, at least [`MIN_RETRANSMIT`]), and every reliable
//!    frame behind it waits too (head-of-line blocking).
//! 2. **Bandwidth** (`bandwidth`, bytes per second): a token bucket holding
//!    [`BURST`] of traffic; a frame that finds it short waits until enough
//!    has trickled in (the frames before it being sent). A datagram that
//!    would wait longer than [`MAX_QUEUE_DELAY`], or find
//!    [`MAX_IN_FLIGHT`] frames in flight, is dropped as a full router
//!    queue drops it (counted as `queue_drops`); reliable frames always
//!    wait.
//! 3. **Latency and jitter**: `latency` plus a uniform draw in
//!    `[-jitter, +jitter]`, never below zero. Jitter alone never reorders:
//!    frames of one kind leave in the order they came (a frame due before
//!    the one ahead of it waits for it), as on one network path.
//! 4. **Duplication** (`duplicate`, datagrams only): a second copy is
//!    delivered too, right behind the first.
//! 5. **Reordering** (`reorder`, datagrams only): the datagram is held back
//!    an extra `reorder_delay`, so the datagrams sent after it overtake it.
//!
//! Datagrams and reliable frames are two lanes: each keeps its own order,
//! and a datagram may overtake a reliable frame stuck behind a
//! retransmission (as QUIC datagrams overtake a stream). Over WebSocket
//! every frame is [`FrameKind::Reliable`], so it is only ever delayed, in
//! order.
//!
//! # Profiles
//!
//! Figures are one way, per direction (a round trip adds both):
//!
//! | profile | latency | jitter | loss | reorder | duplicate | bandwidth down / up |
//! |---|---|---|---|---|---|---|
//! | `lan` | 1 ms | 0 | 0 | 0 | 0 | unlimited |
//! | `wifi` | 15 ms | ± 5 ms | 0.5 % | 0 | 0 | unlimited |
//! | `mobile-4g` | 50 ms | ± 15 ms | 1 % | 0.5 % (held 50 ms) | 0 | 10 / 3 Mbit/s |
//! | `bad-mobile` | 150 ms | ± 60 ms | 5 % | 2 % (held 120 ms) | 1 % | 1 / 1 Mbit/s |
//!
//! # What is counted
//!
//! [`PathStats`] says what the conditioner applied: frames delayed, lost,
//! dropped by the bandwidth queue, duplicated, held back to reorder,
//! delivered out of order (a frame delivered after one of its lane that
//! was pushed later), given a retransmission delay, and the delay added.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tickwire_shared::rng::SimRng;

/// The most traffic the bandwidth cap lets through at once, as time at the
/// capped rate: 10 ms (at least one 1500-byte packet), so a tick's burst of
/// small frames passes as it would through a real link's buffer.
pub const BURST: Duration = Duration::from_millis(10);

/// The smallest burst, bytes: one Ethernet MTU.
const MIN_BURST_BYTES: f64 = 1500.0;

/// The longest a datagram waits for bandwidth before it is dropped instead:
/// a router's queue is finite (and a game would rather lose a stale update
/// than receive it a second late).
pub const MAX_QUEUE_DELAY: Duration = Duration::from_secs(1);

/// Frames in flight beyond which datagrams are dropped: keeps the
/// conditioner bounded when a peer sends faster than the cap lets through.
/// Reliable frames are never dropped, as their transport would not drop
/// them either.
pub const MAX_IN_FLIGHT: usize = 4096;

/// The shortest retransmission delay a lost reliable frame gets.
pub const MIN_RETRANSMIT: Duration = Duration::from_millis(1);

/// How a frame travels, which decides what the network may do to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameKind {
    /// A reliable, ordered frame (every WebSocket frame, a QUIC stream
    /// frame): only ever delayed, in order.
    Reliable,
    /// A QUIC datagram (updates, inputs, acks): may be lost, duplicated and
    /// reordered.
    Datagram,
}

impl FrameKind {
    fn lane(self) -> usize {
        match self {
            Self::Reliable => 0,
            Self::Datagram => 1,
        }
    }
}

/// What the network does to one direction of a connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PathConfig {
    /// Added one-way delay.
    pub latency: Duration,
    /// The delay varies uniformly by up to this much either way (never
    /// below zero).
    pub jitter: Duration,
    /// Probability that a datagram is lost (for a reliable frame: that it
    /// is retransmitted, one round trip later), in `[0, 1]`.
    pub loss: f64,
    /// Probability that a datagram arrives twice, in `[0, 1]`.
    pub duplicate: f64,
    /// Probability that a datagram is held back `reorder_delay`, so that
    /// later ones overtake it, in `[0, 1]`.
    pub reorder: f64,
    /// How long a datagram chosen for reordering is held back.
    pub reorder_delay: Duration,
    /// Bandwidth cap in bytes per second (`None`: unlimited).
    pub bandwidth: Option<u64>,
}

impl PathConfig {
    /// A path that only adds `latency`.
    pub fn delay(latency: Duration) -> Self {
        Self {
            latency,
            ..Self::default()
        }
    }

    /// Whether the path changes nothing (no delay, no loss, no cap).
    pub fn is_perfect(&self) -> bool {
        self.latency.is_zero()
            && self.jitter.is_zero()
            && self.loss <= 0.0
            && self.duplicate <= 0.0
            && self.reorder <= 0.0
            && self.bandwidth.is_none()
    }

    /// Checks the figures: probabilities in `[0, 1]`, a bandwidth above
    /// zero.
    pub fn validate(&self) -> Result<(), NetemError> {
        for (name, p) in [
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(NetemError::Probability { name, value: p });
            }
        }
        if self.bandwidth == Some(0) {
            return Err(NetemError::ZeroBandwidth);
        }
        Ok(())
    }

    /// The delay a lost reliable frame gets: one round trip.
    pub fn retransmit_delay(&self) -> Duration {
        (self.latency * 2).max(MIN_RETRANSMIT)
    }
}

/// A bad network figure.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum NetemError {
    /// A probability outside `[0, 1]`.
    #[error("{name} must be a probability in [0, 1], not {value}")]
    Probability {
        /// Which figure.
        name: &'static str,
        /// Its value.
        value: f64,
    },
    /// A bandwidth cap of zero would deliver nothing.
    #[error("a bandwidth cap must be above zero")]
    ZeroBandwidth,
    /// No profile of that name.
    #[error("no network profile named {0:?} (known: lan, wifi, mobile-4g, bad-mobile)")]
    UnknownProfile(String),
}

/// A named network: what happens to frames from the client to the server
/// (`up`) and from the server to the client (`down`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetworkProfile {
    /// Its name in reports.
    pub name: String,
    /// Client to server.
    pub up: PathConfig,
    /// Server to client.
    pub down: PathConfig,
}

/// Megabits per second in bytes per second.
const fn mbit(m: u64) -> u64 {
    m * 1_000_000 / 8
}

impl NetworkProfile {
    /// The built-in profiles' names.
    pub const NAMES: [&'static str; 4] = ["lan", "wifi", "mobile-4g", "bad-mobile"];

    /// The same path both ways.
    pub fn symmetric(name: impl Into<String>, path: PathConfig) -> Self {
        Self {
            name: name.into(),
            up: path,
            down: path,
        }
    }

    /// A built-in profile by name (see the module docs for the figures).
    pub fn named(name: &str) -> Result<Self, NetemError> {
        let ms = Duration::from_millis;
        Ok(match name {
            "lan" => Self::symmetric(name, PathConfig::delay(ms(1))),
            "wifi" => Self::symmetric(
                name,
                PathConfig {
                    latency: ms(15),
                    jitter: ms(5),
                    loss: 0.005,
                    ..PathConfig::default()
                },
            ),
            "mobile-4g" => {
                let path = PathConfig {
                    latency: ms(50),
                    jitter: ms(15),
                    loss: 0.01,
                    reorder: 0.005,
                    reorder_delay: ms(50),
                    ..PathConfig::default()
                };
                Self {
                    name: name.into(),
                    up: PathConfig {
                        bandwidth: Some(mbit(3)),
                        ..path
                    },
                    down: PathConfig {
                        bandwidth: Some(mbit(10)),
                        ..path
                    },
                }
            }
            "bad-mobile" => Self::symmetric(
                name,
                PathConfig {
                    latency: ms(150),
                    jitter: ms(60),
                    loss: 0.05,
                    reorder: 0.02,
                    reorder_delay: ms(120),
                    duplicate: 0.01,
                    bandwidth: Some(mbit(1)),
                },
            ),
            other => return Err(NetemError::UnknownProfile(other.into())),
        })
    }

    /// Checks both directions.
    pub fn validate(&self) -> Result<(), NetemError> {
        self.up.validate()?;
        self.down.validate()
    }
}

/// What a conditioner applied to one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PathStats {
    /// Frames pushed in.
    pub frames: u64,
    /// Frames delivered (duplicates included).
    pub delivered: u64,
    /// Frames given a delay above zero.
    pub delayed: u64,
    /// Datagrams lost.
    pub lost: u64,
    /// Datagrams dropped because the bandwidth queue was full.
    pub queue_drops: u64,
    /// Datagrams delivered twice.
    pub duplicated: u64,
    /// Datagrams held back to be overtaken.
    pub held_back: u64,
    /// Frames delivered after a frame of their lane that was pushed later.
    pub reordered: u64,
    /// Reliable frames given a retransmission delay (their loss).
    pub retransmitted: u64,
    /// Frames the bandwidth cap made wait.
    pub throttled: u64,
    /// Delay added, summed over the frames queued, microseconds.
    pub added_delay_us: u64,
    /// The longest delay added to one frame, microseconds.
    pub max_delay_us: u64,
}

impl PathStats {
    /// The mean delay added per frame queued, milliseconds.
    pub fn mean_delay_ms(&self) -> f64 {
        let queued = self.frames - self.lost - self.queue_drops + self.duplicated;
        if queued == 0 {
            0.0
        } else {
            self.added_delay_us as f64 / queued as f64 / 1000.0
        }
    }
}

impl std::ops::AddAssign for PathStats {
    fn add_assign(&mut self, o: Self) {
        self.frames += o.frames;
        self.delivered += o.delivered;
        self.delayed += o.delayed;
        self.lost += o.lost;
        self.queue_drops += o.queue_drops;
        self.duplicated += o.duplicated;
        self.held_back += o.held_back;
        self.reordered += o.reordered;
        self.retransmitted += o.retransmitted;
        self.throttled += o.throttled;
        self.added_delay_us += o.added_delay_us;
        self.max_delay_us = self.max_delay_us.max(o.max_delay_us);
    }
}

/// What the conditioners of a client applied, both ways.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NetworkStats {
    /// Client to server.
    pub up: PathStats,
    /// Server to client.
    pub down: PathStats,
}

impl std::ops::AddAssign for NetworkStats {
    fn add_assign(&mut self, o: Self) {
        self.up += o.up;
        self.down += o.down;
    }
}

/// A frame waiting in the conditioner.
#[derive(Debug)]
struct Pending<T> {
    due: Instant,
    /// Unique, in queueing order: breaks ties between frames due at once.
    order: u64,
    /// The push it came from (a duplicate shares its original's).
    seq: u64,
    kind: FrameKind,
    frame: T,
}

impl<T> PartialEq for Pending<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.order) == (other.due, other.order)
    }
}

impl<T> Eq for Pending<T> {}

impl<T> PartialOrd for Pending<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Pending<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.due, self.order).cmp(&(other.due, other.order))
    }
}

/// One direction of a conditioned link: frames in with
/// [`Conditioner::push`], out when due with [`Conditioner::poll`].
/// Generic over the frame (`Vec<u8>`, `Bytes`, ...): its length is what
/// the bandwidth cap counts, and a duplicate is a clone.
#[derive(Debug)]
pub struct Conditioner<T> {
    config: PathConfig,
    rng: SimRng,
    queue: BinaryHeap<Reverse<Pending<T>>>,
    next_seq: u64,
    next_order: u64,
    /// Per lane: when its last in-order frame is due (nothing of the lane
    /// pushed later is delivered before it).
    lane_due: [Option<Instant>; 2],
    /// Per lane: the highest push sequence delivered.
    lane_delivered: [Option<u64>; 2],
    /// Bandwidth tokens, bytes (negative: debt the queue owes).
    tokens: f64,
    tokens_at: Option<Instant>,
    stats: PathStats,
}

/// A uniform draw in `[0, 1)`.
fn unit(rng: &mut SimRng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

impl<T: AsRef<[u8]> + Clone> Conditioner<T> {
    /// A conditioner for `config`, drawing from `seed`'s `stream` (two
    /// conditioners with the same seed and stream make the same choices
    /// for the same pushes).
    pub fn new(config: PathConfig, seed: u64, stream: u64) -> Self {
        Self {
            config,
            rng: SimRng::new(seed, stream),
            queue: BinaryHeap::new(),
            next_seq: 0,
            next_order: 0,
            lane_due: [None; 2],
            lane_delivered: [None; 2],
            tokens: 0.0,
            tokens_at: None,
            stats: PathStats::default(),
        }
    }

    /// Its figures.
    pub fn config(&self) -> &PathConfig {
        &self.config
    }

    /// What it has applied so far.
    pub fn stats(&self) -> PathStats {
        self.stats
    }

    /// Frames waiting to be delivered.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether no frame waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// A frame sent at `now`: it is lost, or queued (maybe twice) to be
    /// delivered when due.
    pub fn push(&mut self, now: Instant, frame: T, kind: FrameKind) {
        self.stats.frames += 1;
        let seq = self.next_seq;
        self.next_seq += 1;
        let datagram = kind == FrameKind::Datagram;
        let mut retransmit = Duration::ZERO;
        if self.config.loss > 0.0 && self.rng.chance(self.config.loss) {
            if datagram {
                self.stats.lost += 1;
                return;
            }
            self.stats.retransmitted += 1;
            retransmit = self.config.retransmit_delay();
        }
        let Some(queued) = self.throttle(now, frame.as_ref().len(), kind) else {
            self.stats.queue_drops += 1;
            return;
        };
        let duplicate =
            datagram && self.config.duplicate > 0.0 && self.rng.chance(self.config.duplicate);
        if duplicate {
            self.stats.duplicated += 1;
            self.enqueue(now, queued, seq, kind, frame.clone());
        }
        self.enqueue(now, queued + retransmit, seq, kind, frame);
    }

    /// The next frame due at `now`, with its kind.
    #[must_use]
    pub fn poll(&mut self, now: Instant) -> Option<(T, FrameKind)> {
        if self.queue.peek()?.0.due > now {
            return None;
        }
        let Reverse(pending) = self.queue.pop()?;
        Some(self.deliver(pending))
    }

    /// When the next frame is due (`None`: none waits). Poll then.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.queue.peek().map(|p| p.0.due)
    }

    /// Every waiting frame at once, in due order (a connection closing:
    /// its last frames are not held back).
    pub fn drain(&mut self) -> impl Iterator<Item = (T, FrameKind)> + '_ {
        std::iter::from_fn(move || {
            let Reverse(pending) = self.queue.pop()?;
            Some(self.deliver(pending))
        })
    }

    fn deliver(&mut self, pending: Pending<T>) -> (T, FrameKind) {
        self.stats.delivered += 1;
        let highest = &mut self.lane_delivered[pending.kind.lane()];
        match *highest {
            Some(h) if pending.seq < h => self.stats.reordered += 1,
            _ => *highest = Some(pending.seq),
        }
        (pending.frame, pending.kind)
    }

    /// How long a frame of `len` bytes waits for bandwidth; `None` when a
    /// datagram would wait too long (dropped).
    fn throttle(&mut self, now: Instant, len: usize, kind: FrameKind) -> Option<Duration> {
        let Some(rate) = self.config.bandwidth else {
            return Some(Duration::ZERO);
        };
        let rate = rate.max(1) as f64;
        let burst = (rate * BURST.as_secs_f64()).max(MIN_BURST_BYTES);
        let refill = match self.tokens_at {
            Some(at) => now.saturating_duration_since(at).as_secs_f64() * rate,
            None => burst,
        };
        self.tokens = (self.tokens + refill).min(burst);
        self.tokens_at = Some(now.max(self.tokens_at.unwrap_or(now)));
        let after = self.tokens - len as f64;
        let wait = if after >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-after / rate)
        };
        if kind == FrameKind::Datagram
            && (wait > MAX_QUEUE_DELAY || self.queue.len() >= MAX_IN_FLIGHT)
        {
            return None;
        }
        self.tokens = after;
        if !wait.is_zero() {
            self.stats.throttled += 1;
        }
        Some(wait)
    }

    /// Latency plus jitter, never below zero.
    fn propagation(&mut self) -> Duration {
        let base = self.config.latency.as_secs_f64();
        let jitter = self.config.jitter.as_secs_f64();
        let offset = if jitter > 0.0 {
            (unit(&mut self.rng) * 2.0 - 1.0) * jitter
        } else {
            0.0
        };
        Duration::from_secs_f64((base + offset).max(0.0))
    }

    fn enqueue(&mut self, now: Instant, queued: Duration, seq: u64, kind: FrameKind, frame: T) {
        let mut due = now + queued + self.propagation();
        let lane = kind.lane();
        let held = kind == FrameKind::Datagram
            && self.config.reorder > 0.0
            && self.rng.chance(self.config.reorder);
        if held {
            // Out of the lane's order: it does not hold later frames back.
            self.stats.held_back += 1;
            due += self.config.reorder_delay;
        } else {
            if let Some(last) = self.lane_due[lane] {
                due = due.max(last);
            }
            self.lane_due[lane] = Some(due);
        }
        let added = u64::try_from(due.duration_since(now).as_micros()).unwrap_or(u64::MAX);
        if added > 0 {
            self.stats.delayed += 1;
        }
        self.stats.added_delay_us = self.stats.added_delay_us.saturating_add(added);
        self.stats.max_delay_us = self.stats.max_delay_us.max(added);
        let order = self.next_order;
        self.next_order += 1;
        self.queue.push(Reverse(Pending {
            due,
            order,
            seq,
            kind,
            frame,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// Pushes `n` frames of `len` bytes every `every`, polling as time
    /// goes, and returns what came out with when (ms from the start).
    fn run(
        c: &mut Conditioner<Vec<u8>>,
        n: u32,
        len: usize,
        every: Duration,
        kind: FrameKind,
    ) -> Vec<(u32, f64)> {
        let start = Instant::now();
        let mut out = Vec::new();
        let take = |c: &mut Conditioner<Vec<u8>>, now: Instant, out: &mut Vec<(u32, f64)>| {
            while let Some((frame, got)) = c.poll(now) {
                assert_eq!(got, kind);
                let id = u32::from_le_bytes(frame[..4].try_into().expect("an id"));
                out.push((id, now.duration_since(start).as_secs_f64() * 1000.0));
            }
        };
        for i in 0..n {
            let now = start + every * i;
            // Deliver at each due time, not at the next push.
            while let Some(at) = c.poll_timeout().filter(|at| *at <= now) {
                take(c, at, &mut out);
            }
            let mut frame = vec![0u8; len.max(4)];
            frame[..4].copy_from_slice(&i.to_le_bytes());
            c.push(now, frame, kind);
        }
        // Then step through the remaining deadlines.
        while let Some(at) = c.poll_timeout() {
            take(c, at, &mut out);
        }
        out
    }

    fn ids(out: &[(u32, f64)]) -> Vec<u32> {
        out.iter().map(|(id, _)| *id).collect()
    }

    #[test]
    fn loss_rate_is_within_tolerance() {
        let config = PathConfig {
            loss: 0.05,
            ..PathConfig::default()
        };
        let mut c = Conditioner::new(config, 7, 0);
        let out = run(&mut c, 20_000, 8, MS, FrameKind::Datagram);
        let s = c.stats();
        let rate = s.lost as f64 / 20_000.0;
        assert!((0.04..0.06).contains(&rate), "loss rate {rate}");
        assert_eq!(out.len() as u64, 20_000 - s.lost);
        assert_eq!(s.delivered, out.len() as u64);
    }

    #[test]
    fn reliable_frames_are_never_lost_and_keep_their_order() {
        let config = PathConfig {
            latency: 20 * MS,
            jitter: 15 * MS,
            loss: 0.1,
            duplicate: 0.5,
            reorder: 0.5,
            reorder_delay: 100 * MS,
            ..PathConfig::default()
        };
        let mut c = Conditioner::new(config, 3, 0);
        let out = run(&mut c, 2_000, 8, MS, FrameKind::Reliable);
        assert_eq!(ids(&out), (0..2_000).collect::<Vec<_>>());
        let s = c.stats();
        assert_eq!(
            (s.lost, s.duplicated, s.held_back, s.reordered),
            (0, 0, 0, 0)
        );
        // Their losses became retransmissions: about 10 %, a round trip
        // late.
        assert!((150..250).contains(&s.retransmitted), "{s:?}");
        assert!(s.max_delay_us >= 40_000 + 5_000, "{s:?}");
    }

    #[test]
    fn only_datagrams_are_reordered() {
        let config = PathConfig {
            latency: 10 * MS,
            reorder: 0.1,
            reorder_delay: 30 * MS,
            ..PathConfig::default()
        };
        let mut c = Conditioner::new(config, 11, 0);
        let out = run(&mut c, 1_000, 8, 5 * MS, FrameKind::Datagram);
        let s = c.stats();
        assert_eq!(out.len(), 1_000, "nothing lost");
        assert!((60..140).contains(&s.held_back), "{s:?}");
        let late = ids(&out).windows(2).filter(|w| w[1] < w[0]).count() as u64;
        assert!(late > 0 && s.reordered >= late, "{late} {s:?}");
        // Held 30 ms at 5 ms apart: each held datagram is overtaken.
        assert_eq!(s.reordered, s.held_back);
    }

    #[test]
    fn jitter_is_bounded_and_does_not_reorder() {
        let config = PathConfig {
            latency: 50 * MS,
            jitter: 15 * MS,
            ..PathConfig::default()
        };
        let mut c = Conditioner::new(config, 5, 0);
        let out = run(&mut c, 1_000, 8, 20 * MS, FrameKind::Datagram);
        assert_eq!(ids(&out), (0..1_000).collect::<Vec<_>>());
        let delays: Vec<f64> = out
            .iter()
            .map(|(id, at)| at - f64::from(*id) * 20.0)
            .collect();
        let (min, max) = delays
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), d| (lo.min(*d), hi.max(*d)));
        // Frames 20 ms apart never catch up with each other, so the delay
        // is the draw itself: within 50 ± 15 ms, and spread over it.
        assert!(min >= 35.0 - 1e-6 && max <= 65.0 + 1e-6, "{min}..{max}");
        assert!(min < 38.0 && max > 62.0, "{min}..{max}");
    }

    #[test]
    fn duplicates_are_counted_and_delivered() {
        let config = PathConfig {
            duplicate: 0.1,
            ..PathConfig::default()
        };
        let mut c = Conditioner::new(config, 13, 0);
        let out = run(&mut c, 5_000, 8, MS, FrameKind::Datagram);
        let s = c.stats();
        assert!((400..600).contains(&s.duplicated), "{s:?}");
        assert_eq!(out.len() as u64, 5_000 + s.duplicated);
        assert_eq!(s.reordered, 0, "a copy comes right behind its original");
    }

    #[test]
    fn the_bandwidth_cap_delays_frames() {
        // 100 kB/s, 1000-byte frames offered at 200 kB/s for a second.
        let config = PathConfig {
            bandwidth: Some(100_000),
            ..PathConfig::default()
        };
        let mut c = Conditioner::new(config, 1, 0);
        let out = run(&mut c, 200, 1_000, 5 * MS, FrameKind::Reliable);
        assert_eq!(out.len(), 200);
        let last = out.last().expect("delivered").1;
        // 200 kB at 100 kB/s: two seconds, less the 1.5 kB burst.
        assert!((1_970.0..2_001.0).contains(&last), "last at {last} ms");
        assert!(c.stats().throttled > 190);
        // Under the cap nothing waits.
        let mut slow = Conditioner::new(config, 1, 0);
        run(&mut slow, 100, 1_000, 20 * MS, FrameKind::Reliable);
        assert_eq!(slow.stats().throttled, 0);
        assert_eq!(slow.stats().added_delay_us, 0);
    }

    #[test]
    fn an_overfull_queue_drops_datagrams_only() {
        let config = PathConfig {
            bandwidth: Some(10_000),
            ..PathConfig::default()
        };
        // 1000-byte datagrams at 100 kB/s into 10 kB/s: after about a
        // second of queue, most are dropped.
        let mut c = Conditioner::new(config, 1, 0);
        let out = run(&mut c, 500, 1_000, 10 * MS, FrameKind::Datagram);
        let s = c.stats();
        assert!(s.queue_drops > 300, "{s:?}");
        assert_eq!(out.len() as u64, 500 - s.queue_drops);
        assert!(s.max_delay_us <= MAX_QUEUE_DELAY.as_micros() as u64);
    }

    #[test]
    fn one_seed_replays_one_run() {
        let profile = NetworkProfile::named("bad-mobile").expect("built in");
        let mut a = Conditioner::new(profile.down, 42, 1);
        let mut b = Conditioner::new(profile.down, 42, 1);
        let mut other = Conditioner::new(profile.down, 42, 2);
        let (x, y) = (
            run(&mut a, 500, 200, 33 * MS, FrameKind::Datagram),
            run(&mut b, 500, 200, 33 * MS, FrameKind::Datagram),
        );
        let z = run(&mut other, 500, 200, 33 * MS, FrameKind::Datagram);
        assert_eq!(x, y);
        assert_eq!(a.stats(), b.stats());
        assert_ne!(ids(&x), ids(&z));
    }

    #[test]
    fn profiles_carry_the_documented_figures() {
        for name in NetworkProfile::NAMES {
            let p = NetworkProfile::named(name).expect("built in");
            p.validate().expect("valid");
            assert_eq!(p.name, name);
        }
        let g4 = NetworkProfile::named("mobile-4g").expect("built in");
        assert_eq!(g4.down.bandwidth, Some(1_250_000));
        assert_eq!(g4.up.bandwidth, Some(375_000));
        assert_eq!((g4.down.latency, g4.down.jitter), (50 * MS, 15 * MS));
        let bad = NetworkProfile::named("bad-mobile").expect("built in");
        assert_eq!(
            (bad.up.loss, bad.up.reorder, bad.up.duplicate),
            (0.05, 0.02, 0.01)
        );
        assert!(NetworkProfile::named("lan").expect("lan").down.loss == 0.0);
        assert!(matches!(
            NetworkProfile::named("dialup"),
            Err(NetemError::UnknownProfile(_))
        ));
        let bad_p = PathConfig {
            loss: 1.5,
            ..PathConfig::default()
        };
        assert!(bad_p.validate().is_err());
        assert!(PathConfig::default().is_perfect());
    }

    #[test]
    fn drain_empties_in_due_order() {
        let mut c = Conditioner::new(PathConfig::delay(100 * MS), 1, 0);
        let now = Instant::now();
        for i in 0u32..5 {
            c.push(now + MS * i, i.to_le_bytes().to_vec(), FrameKind::Reliable);
        }
        assert!(c.poll(now + 50 * MS).is_none());
        assert_eq!(c.poll_timeout(), Some(now + 100 * MS));
        let drained: Vec<u8> = c.drain().map(|(f, _)| f[0]).collect();
        assert_eq!(drained, [0, 1, 2, 3, 4]);
        assert!(c.is_empty());
    }
}
