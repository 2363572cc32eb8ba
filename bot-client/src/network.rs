//! Bots behind simulated networks: `--network PROFILE` or a share mix
//! (`--network wifi=50,mobile-4g=30,bad-mobile=20`), each bot's profile
//! drawn from the run's seed, and the report's figures per profile group.
//!
//! A profile is a built-in name (`lan`, `wifi`, `mobile-4g`, `bad-mobile`:
//! figures in [`tickwire_client::netem`]) or a TOML file of one's own
//! ([`ProfileFile`]); the client library's link conditioner applies it to
//! each bot's frames ([`tickwire_client::ClientBuilder::network`]).

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tickwire_client::{NetworkProfile, NetworkStats, PathConfig};
use tickwire_shared::rng::SimRng;

use crate::measure::{self, FinishedBot, GroupReport};

/// A bad `--network` value.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// A share that is not `PROFILE=PERCENT`.
    #[error("{0:?}: a share is PROFILE=PERCENT (e.g. wifi=50)")]
    Share(String),
    /// Shares that do not add up to 100.
    #[error("network shares add up to {0} %, not 100")]
    Total(u32),
    /// The same profile twice.
    #[error("network profile {0:?} appears twice")]
    Duplicate(String),
    /// No profile of that name.
    #[error(transparent)]
    Profile(#[from] tickwire_client::netem::NetemError),
    /// A profile file that could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A profile file that is not a profile.
    #[error("{path}: {source}")]
    Toml {
        /// The file.
        path: String,
        /// Why.
        source: toml::de::Error,
    },
}

/// One direction of a custom profile, as a TOML file writes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PathFile {
    /// One-way latency, milliseconds.
    pub latency_ms: f64,
    /// Jitter either way, milliseconds.
    pub jitter_ms: f64,
    /// Loss, percent (of datagrams; reliable frames are retransmitted).
    pub loss_pct: f64,
    /// Duplication, percent of datagrams.
    pub duplicate_pct: f64,
    /// Reordering, percent of datagrams.
    pub reorder_pct: f64,
    /// How long a reordered datagram is held back, milliseconds.
    pub reorder_delay_ms: f64,
    /// Bandwidth cap, kilobits per second (absent: unlimited).
    pub bandwidth_kbit: Option<u64>,
}

impl PathFile {
    fn path(&self) -> PathConfig {
        let ms = |v: f64| Duration::from_secs_f64(v.max(0.0) / 1000.0);
        PathConfig {
            latency: ms(self.latency_ms),
            jitter: ms(self.jitter_ms),
            loss: self.loss_pct / 100.0,
            duplicate: self.duplicate_pct / 100.0,
            reorder: self.reorder_pct / 100.0,
            reorder_delay: ms(self.reorder_delay_ms),
            bandwidth: self.bandwidth_kbit.map(|k| k * 1000 / 8),
        }
    }
}

/// A custom profile file:
///
/// ```toml
/// name = "satellite"          # optional; default: the file's stem
/// [both]                      # or [up] and [down] apart
/// latency_ms = 300
/// jitter_ms = 20
/// loss_pct = 1.5
/// bandwidth_kbit = 5000
/// ```
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProfileFile {
    /// Its name in reports.
    pub name: Option<String>,
    /// Both directions (`up` and `down` override it).
    pub both: Option<PathFile>,
    /// Client to server.
    pub up: Option<PathFile>,
    /// Server to client.
    pub down: Option<PathFile>,
}

impl ProfileFile {
    /// Parses a profile from TOML; `fallback_name` when it names none.
    pub fn parse(text: &str, fallback_name: &str) -> Result<NetworkProfile, toml::de::Error> {
        let file: Self = toml::from_str(text)?;
        let both = file.both.unwrap_or_default();
        Ok(NetworkProfile {
            name: file.name.unwrap_or_else(|| fallback_name.to_owned()),
            up: file.up.unwrap_or(both).path(),
            down: file.down.unwrap_or(both).path(),
        })
    }
}

/// A built-in profile by name, or a `.toml` file.
pub fn profile(name: &str) -> Result<NetworkProfile, NetworkError> {
    let profile = if name.ends_with(".toml") {
        let path = Path::new(name);
        let text = std::fs::read_to_string(path).map_err(|source| NetworkError::Read {
            path: name.to_owned(),
            source,
        })?;
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or(name);
        ProfileFile::parse(&text, stem).map_err(|source| NetworkError::Toml {
            path: name.to_owned(),
            source,
        })?
    } else {
        NetworkProfile::named(name)?
    };
    profile.validate()?;
    Ok(profile)
}

/// Which networks a swarm's bots sit behind, as shares of the bots.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkMix {
    /// Each profile and its share, percent (they add up to 100).
    pub shares: Vec<(NetworkProfile, u32)>,
}

impl NetworkMix {
    /// Every bot behind one profile.
    pub fn single(profile: NetworkProfile) -> Self {
        Self {
            shares: vec![(profile, 100)],
        }
    }

    /// Parses `PROFILE` or `PROFILE=PERCENT,...` (percentages adding up
    /// to 100); a profile is a built-in name or a `.toml` file.
    pub fn parse(spec: &str) -> Result<Self, NetworkError> {
        let spec = spec.trim();
        if !spec.contains('=') {
            return Ok(Self::single(profile(spec)?));
        }
        let mut shares: Vec<(NetworkProfile, u32)> = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, pct) = part
                .rsplit_once('=')
                .ok_or_else(|| NetworkError::Share(part.to_owned()))?;
            let pct: u32 = pct
                .trim()
                .parse()
                .map_err(|_| NetworkError::Share(part.to_owned()))?;
            let profile = profile(name.trim())?;
            if shares.iter().any(|(p, _)| p.name == profile.name) {
                return Err(NetworkError::Duplicate(profile.name));
            }
            shares.push((profile, pct));
        }
        let total: u32 = shares.iter().map(|(_, pct)| pct).sum();
        if total != 100 {
            return Err(NetworkError::Total(total));
        }
        Ok(Self { shares })
    }

    /// Each of `bots` bots' profile: counts as close to the shares as
    /// whole bots allow (largest remainders), places shuffled with `seed`.
    pub fn assign(&self, bots: usize, seed: u64) -> Vec<&NetworkProfile> {
        let mut counts: Vec<(usize, usize, u64)> = self
            .shares
            .iter()
            .enumerate()
            .map(|(i, (_, pct))| {
                let exact = bots as u64 * u64::from(*pct);
                (i, (exact / 100) as usize, exact % 100)
            })
            .collect();
        let left = bots - counts.iter().map(|c| c.1).sum::<usize>();
        let mut by_remainder: Vec<usize> = (0..counts.len()).collect();
        by_remainder.sort_by_key(|&i| (std::cmp::Reverse(counts[i].2), i));
        for i in by_remainder.into_iter().cycle().take(left) {
            counts[i].1 += 1;
        }
        let mut out: Vec<&NetworkProfile> = Vec::with_capacity(bots);
        for (i, n, _) in &counts {
            out.extend(std::iter::repeat_n(&self.shares[*i].0, *n));
        }
        debug_assert_eq!(out.len(), bots);
        // Fisher-Yates with the run's seed: which bot gets which network
        // does not follow rooms.
        let mut rng = SimRng::new(seed, NETWORK_STREAM);
        for i in (1..out.len()).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            out.swap(i, j);
        }
        out
    }

    /// The mix as given: `wifi=50,mobile-4g=50`.
    pub fn describe(&self) -> String {
        self.shares
            .iter()
            .map(|(p, pct)| format!("{}={pct}", p.name))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// The random stream the assignment draws from (apart from the bots').
const NETWORK_STREAM: u64 = 1 << 43;

/// The seed of bot `index`'s link conditioner.
pub fn bot_seed(seed: u64, index: u64) -> u64 {
    SimRng::new(seed, NETWORK_STREAM | 1 << 44 | index).next_u64()
}

/// The well-behaved bots behind one network profile.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NetworkGroup {
    /// The profile's name.
    pub profile: String,
    /// Its figures (as the whole well-behaved group's).
    pub figures: GroupReport,
    /// Updates whose checksum agreed, percent of those applied (must stay
    /// 100).
    pub checksum_agreement_pct: f64,
    /// What the link conditioners applied, summed over the group's bots
    /// (whole run, joins included).
    pub applied: NetworkStats,
    /// Datagrams the conditioners lost, percent of those sent, down / up.
    pub loss_pct: (f64, f64),
}

/// Groups the well-behaved bots by network profile (bots without one are
/// left out) and merges each group's figures; sorts `bots` by profile on
/// the way, which changes no merged figure.
pub fn groups(bots: &mut [FinishedBot], seconds: f64, wire_overhead: u64) -> Vec<NetworkGroup> {
    let name = |b: &FinishedBot| b.network().map(|(n, _)| n.clone());
    bots.sort_by_key(name);
    let mut out = Vec::new();
    let mut start = 0;
    while start < bots.len() {
        let group = name(&bots[start]);
        let end = start
            + bots[start..]
                .iter()
                .take_while(|b| name(b) == group)
                .count();
        if let Some(profile) = group {
            let slice = &bots[start..end];
            let figures = measure::merge(slice, seconds, wire_overhead).report;
            let mut applied = NetworkStats::default();
            for bot in slice {
                if let Some((_, stats)) = bot.network() {
                    applied += *stats;
                }
            }
            let checked = figures.updates + figures.checksum_mismatches;
            let pct = |part: u64, whole: u64| {
                if whole == 0 {
                    0.0
                } else {
                    part as f64 * 100.0 / whole as f64
                }
            };
            out.push(NetworkGroup {
                profile,
                checksum_agreement_pct: if checked == 0 {
                    100.0
                } else {
                    pct(figures.updates, checked)
                },
                loss_pct: (
                    pct(applied.down.lost, applied.down.frames),
                    pct(applied.up.lost, applied.up.frames),
                ),
                figures,
                applied,
            });
        }
        start = end;
    }
    out
}

/// The summary's rows for the network groups (none without groups).
pub fn summary_rows(groups: &[NetworkGroup]) -> String {
    let mut out = String::new();
    for g in groups {
        let f = &g.figures;
        let (d, u) = (&g.applied.down, &g.applied.up);
        let _ = writeln!(
            out,
            "| network {}: bots / update latency p50 / p99 | {} / {:.2} / {:.2} ms |",
            g.profile, f.bots, f.latency_ms.p50, f.latency_ms.p99
        );
        let _ = writeln!(
            out,
            "| network {}: baseline age / full snapshots / missed / stale | {:.2} ticks / {} / {} / {} |",
            g.profile, f.mean_baseline_age, f.full_snapshots, f.updates_missed, f.updates_reordered
        );
        let _ = writeln!(
            out,
            "| network {}: down / up B/client/s, checksums agreeing | {:.0} / {:.0}, {:.2} % |",
            g.profile,
            f.down_payload_bytes_per_client_s,
            f.up_payload_bytes_per_client_s,
            g.checksum_agreement_pct
        );
        let _ = writeln!(
            out,
            "| network {}: applied down (up): lost / dup / reordered / retransmitted / throttled, mean delay | {} ({}) / {} ({}) / {} ({}) / {} ({}) / {} ({}), {:.1} ({:.1}) ms |",
            g.profile,
            d.lost,
            u.lost,
            d.duplicated,
            u.duplicated,
            d.reordered,
            u.reordered,
            d.retransmitted,
            u.retransmitted,
            d.throttled,
            u.throttled,
            d.mean_delay_ms(),
            u.mean_delay_ms()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mix_parses_and_assigns_its_shares() {
        let mix = NetworkMix::parse("wifi=50,mobile-4g=30,bad-mobile=20").expect("valid");
        assert_eq!(mix.describe(), "wifi=50,mobile-4g=30,bad-mobile=20");
        let bots = mix.assign(40, 9);
        let count = |name: &str| bots.iter().filter(|p| p.name == name).count();
        assert_eq!(
            (count("wifi"), count("mobile-4g"), count("bad-mobile")),
            (20, 12, 8)
        );
        // Seeded: the same seed places them the same way, another not.
        let names =
            |bots: &[&NetworkProfile]| bots.iter().map(|p| p.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&bots), names(&mix.assign(40, 9)));
        assert_ne!(names(&bots), names(&mix.assign(40, 10)));
        // Whole bots: 7 bots at 50/30/20 are 4/2/1 (largest remainders).
        let seven = mix.assign(7, 1);
        let count7 = |name: &str| seven.iter().filter(|p| p.name == name).count();
        assert_eq!(
            (count7("wifi"), count7("mobile-4g"), count7("bad-mobile")),
            (4, 2, 1)
        );
    }

    #[test]
    fn bad_mixes_are_refused() {
        assert!(matches!(
            NetworkMix::parse("wifi=50,lan=40"),
            Err(NetworkError::Total(90))
        ));
        assert!(matches!(
            NetworkMix::parse("wifi=50,wifi=50"),
            Err(NetworkError::Duplicate(_))
        ));
        assert!(matches!(
            NetworkMix::parse("wifi=half"),
            Err(NetworkError::Share(_))
        ));
        assert!(matches!(
            NetworkMix::parse("dialup"),
            Err(NetworkError::Profile(_))
        ));
        let single = NetworkMix::parse("lan").expect("valid");
        assert_eq!(single.shares.len(), 1);
        assert_eq!(single.assign(3, 1).len(), 3);
    }

    #[test]
    fn a_custom_profile_comes_from_toml() {
        let profile = ProfileFile::parse(
            "name = \"satellite\"\n[both]\nlatency_ms = 300\njitter_ms = 20\nloss_pct = 1.5\nbandwidth_kbit = 8000\n[up]\nlatency_ms = 310\n",
            "fallback",
        )
        .expect("valid");
        assert_eq!(profile.name, "satellite");
        assert_eq!(profile.down.latency, Duration::from_millis(300));
        assert_eq!(profile.down.bandwidth, Some(1_000_000));
        assert!((profile.down.loss - 0.015).abs() < 1e-12);
        // [up] replaces [both] for that direction.
        assert_eq!(profile.up.latency, Duration::from_millis(310));
        assert_eq!(profile.up.loss, 0.0);
        let unnamed = ProfileFile::parse("[both]\nlatency_ms = 5\n", "office").expect("valid");
        assert_eq!(unnamed.name, "office");
        assert!(ProfileFile::parse("[both]\nlatency = 5\n", "x").is_err());

        let dir = std::env::temp_dir().join(format!("tickwire-netem-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("office.toml");
        std::fs::write(&file, "[both]\nlatency_ms = 5\nloss_pct = 200\n").expect("written");
        let bad = super::profile(file.to_str().expect("utf-8"));
        assert!(matches!(bad, Err(NetworkError::Profile(_))), "{bad:?}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
