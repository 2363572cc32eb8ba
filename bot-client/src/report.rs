//! A run's report: every figure, as JSON for machines ([`Report::to_json`])
//! and as a self-contained HTML page with plots for people
//! ([`html::render`]), plus the terminal summary.

pub mod agents;
pub mod html;

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::measure::resume::ResumeReport;
use crate::measure::{GroupReport, LatencyBucket, Percentiles, SecondReport};

/// How many bots got how far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BotCounts {
    /// Bots asked for.
    pub planned: usize,
    /// Completed the handshake.
    pub connected: usize,
    /// Joined their room.
    pub joined: usize,
    /// Failed to connect or join.
    pub failed: usize,
    /// Joined through a redirect to another node of a cluster.
    pub redirected: usize,
    /// Well-behaved bots that joined and decoded and verified every
    /// update (all of them unless the run was light: `--verify-every`).
    pub verifying: usize,
}

/// The server's own figures over the window (benchmark runs only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct ServerFigures {
    /// Process CPU time (user + system) in the window, seconds.
    pub cpu_s: f64,
    /// CPU time per room-tick, milliseconds.
    pub cpu_ms_per_room_tick: f64,
    /// Room-ticks simulated in the window.
    pub room_ticks: u64,
    /// Ticks that started more than one period late.
    pub late_ticks: u64,
    /// Median tick duration, milliseconds (histogram bucket resolution).
    pub tick_p50_ms: f64,
    /// 99th percentile tick duration, milliseconds (bucket resolution).
    pub tick_p99_ms: f64,
    /// Upper bound of the longest tick's bucket, milliseconds.
    pub tick_max_ms: f64,
    /// Server resident memory at the end, MiB.
    pub rss_mib: f64,
}

/// Everything one run measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Report {
    /// `tickwire-bot` and its version.
    pub tool: String,
    /// Server URL.
    pub url: String,
    /// `ws`.
    pub transport: String,
    /// Bot behaviour (`arena`, `idle`, `chaos`).
    pub behaviour: String,
    /// Rooms.
    pub rooms: usize,
    /// Bots per room.
    pub players_per_room: usize,
    /// Workload seed.
    pub seed: u64,
    /// Ramp-up, seconds.
    pub ramp_up_s: f64,
    /// Pause between the last join and the window, seconds.
    pub settle_s: f64,
    /// Measurement window, seconds.
    pub window_s: f64,
    /// `echo` events each bot emitted with an ack per second (0: none).
    pub events_per_second: f64,
    /// How many bots got how far.
    pub bots: BotCounts,
    /// Time to connect and greet.
    pub connect_ms: Percentiles,
    /// Time from greeted to joined.
    pub join_ms: Percentiles,
    /// Of those, the joins that took no redirect (all of them on a server
    /// running alone).
    pub join_direct_ms: Percentiles,
    /// And the joins redirected to another node of a cluster (the new
    /// connection and its greeting included): `None` when none was.
    pub join_redirected_ms: Option<Percentiles>,
    /// The well-behaved bots.
    pub well_behaved: GroupReport,
    /// The misbehaving bots (chaos runs).
    pub misbehaving: Option<GroupReport>,
    /// Per-second series of the well-behaved bots.
    pub timeline: Vec<SecondReport>,
    /// Update latency distribution of the well-behaved bots.
    pub latency_distribution: Vec<LatencyBucket>,
    /// The bots' own CPU time, seconds.
    pub bot_cpu_s: f64,
    /// The server's figures (benchmark runs).
    pub server: Option<ServerFigures>,
    /// Drops and resumes (chaos runs with resuming bots, storms).
    pub resume: Option<ResumeReport>,
    /// The agents that shared a distributed run and what each
    /// contributed (empty when one process ran every bot).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<agents::AgentReport>,
    /// The networks the bots sat behind (`--network`), as given.
    pub network_mix: Option<String>,
    /// The well-behaved bots' figures per network profile, with what the
    /// link conditioners applied (empty without `--network`).
    pub network: Vec<crate::network::NetworkGroup>,
    /// Figures per phase (scenario runs, `tickwire-bot run`); absent
    /// from a swarm's JSON.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<crate::scenario::PhaseReport>,
    /// Why the run fails as a CI gate; empty when it passes.
    pub failures: Vec<String>,
}

impl Report {
    /// Whether the run passes as a gate.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// Sets [`Report::failures`] from the figures: any checksum mismatch or
    /// decode error among well-behaved bots, any unexpected error, any bot
    /// that failed to join.
    pub fn judge(&mut self) {
        let w = &self.well_behaved;
        let mut failures = Vec::new();
        if w.checksum_mismatches > 0 {
            failures.push(format!("{} checksum mismatches", w.checksum_mismatches));
        }
        if w.decode_errors > 0 {
            failures.push(format!("{} undecodable updates", w.decode_errors));
        }
        let errors: u64 = w.errors.values().sum();
        if errors > 0 {
            failures.push(format!(
                "{errors} errors among well-behaved bots: {:?}",
                w.errors
            ));
        }
        if self.bots.failed > 0 {
            failures.push(format!(
                "{} bots failed to connect or join",
                self.bots.failed
            ));
        }
        if w.updates == 0 && self.window_s > 0.0 {
            failures.push("no updates received".into());
        }
        if let Some(resume) = &self.resume {
            failures.extend(resume.failures());
        }
        self.failures = failures;
    }

    /// Compact JSON, one line.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a report always serialises")
    }

    /// Writes pretty JSON to `path`.
    pub fn write_json(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).expect("a report always serialises");
        std::fs::write(path, text)
    }

    /// Writes the HTML report to `path`.
    pub fn write_html(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, html::render(self))
    }

    /// The terminal summary: one table.
    pub fn summary(&self) -> String {
        let w = &self.well_behaved;
        let mut out = String::new();
        let row = |out: &mut String, name: &str, value: String| {
            let _ = writeln!(out, "| {name} | {value} |");
        };
        let _ = writeln!(out, "| figure | value |\n|---|---|");
        row(
            &mut out,
            "bots joined / planned",
            format!("{} / {}", self.bots.joined, self.bots.planned),
        );
        row(
            &mut out,
            "rooms x players",
            format!("{} x {}", self.rooms, self.players_per_room),
        );
        row(&mut out, "window", format!("{:.1} s", self.window_s));
        row(
            &mut out,
            "updates per bot per s",
            format!("{:.1}", w.updates_per_bot_per_s),
        );
        row(&mut out, "updates missed", w.updates_missed.to_string());
        row(
            &mut out,
            "update latency p50 / p90 / p99 / max",
            pct(&w.latency_ms),
        );
        row(
            &mut out,
            "inter-arrival jitter p50 / p90 / p99 / max",
            pct(&w.jitter_ms),
        );
        row(&mut out, "rtt p50 / p90 / p99 / max", pct(&w.rtt_ms));
        if w.events.emitted > 0 {
            row(
                &mut out,
                "event answer p50 / p99",
                format!(
                    "{:.2} / {:.2} ms",
                    w.answer_latency_ms.p50, w.answer_latency_ms.p99
                ),
            );
            row(
                &mut out,
                "events emitted / answered / timed out / skipped",
                format!(
                    "{} / {} / {} / {}",
                    w.events.emitted, w.events.answered, w.events.timed_out, w.events.skipped
                ),
            );
            row(
                &mut out,
                "event refusals",
                format!("{:?}", w.events.refused),
            );
        }
        if let Some(r) = &self.resume {
            row(
                &mut out,
                "resumes tried / succeeded / unfinished at the end",
                format!("{} / {} / {}", r.tried, r.succeeded, r.unfinished),
            );
            row(
                &mut out,
                "time to resume p50 / p99 / max",
                format!(
                    "{:.0} / {:.0} / {:.0} ms",
                    r.time_to_resume_ms.p50, r.time_to_resume_ms.p99, r.time_to_resume_ms.max
                ),
            );
            row(
                &mut out,
                "checksums agreeing after resume",
                format!(
                    "{:.2} % of {}",
                    r.checksum_agreement_pct, r.updates_after_resume
                ),
            );
            if let Some(storm) = &r.storm {
                row(
                    &mut out,
                    "storm: dropped / resumed / lost",
                    format!(
                        "{} / {} / {} at {:.1} s",
                        storm.dropped, storm.resumed, storm.lost, storm.at_s
                    ),
                );
                row(
                    &mut out,
                    "storm: time to resume p50 / p99 / max",
                    format!(
                        "{:.0} / {:.0} / {:.0} ms",
                        storm.time_to_resume_ms.p50,
                        storm.time_to_resume_ms.p99,
                        storm.time_to_resume_ms.max
                    ),
                );
            }
        }
        row(
            &mut out,
            "connect p50 / p99",
            format!("{:.2} / {:.2} ms", self.connect_ms.p50, self.connect_ms.p99),
        );
        row(
            &mut out,
            "join p50 / p99",
            format!("{:.2} / {:.2} ms", self.join_ms.p50, self.join_ms.p99),
        );
        if let Some(redirected) = &self.join_redirected_ms {
            row(
                &mut out,
                "join direct / redirected p50",
                format!(
                    "{:.2} / {:.2} ms ({} of {} redirected)",
                    self.join_direct_ms.p50, redirected.p50, self.bots.redirected, self.bots.joined
                ),
            );
        }
        row(
            &mut out,
            "down B/client/s payload / framed / wire est.",
            format!(
                "{:.0} / {:.0} / {:.0}",
                w.down_payload_bytes_per_client_s,
                w.down_framed_bytes_per_client_s,
                w.down_wire_estimate_bytes_per_client_s
            ),
        );
        row(
            &mut out,
            "up B/client/s payload / framed / wire est.",
            format!(
                "{:.0} / {:.0} / {:.0}",
                w.up_payload_bytes_per_client_s,
                w.up_framed_bytes_per_client_s,
                w.up_wire_estimate_bytes_per_client_s
            ),
        );
        row(&mut out, "full snapshots", w.full_snapshots.to_string());
        row(
            &mut out,
            "mean baseline age",
            format!("{:.2} ticks", w.mean_baseline_age),
        );
        row(
            &mut out,
            "checksum mismatches",
            w.checksum_mismatches.to_string(),
        );
        if w.updates_reordered > 0 {
            row(
                &mut out,
                "updates reordered (dropped)",
                w.updates_reordered.to_string(),
            );
        }
        row(&mut out, "errors", format!("{:?}", w.errors));
        if let Some(mix) = &self.network_mix {
            row(&mut out, "network", mix.clone());
        }
        out.push_str(&crate::network::summary_rows(&self.network));
        if let Some(m) = &self.misbehaving {
            row(&mut out, "misbehaving bots", m.bots.to_string());
            row(&mut out, "misbehaving errors", format!("{:?}", m.errors));
        }
        if self.bots.verifying < self.bots.joined {
            row(
                &mut out,
                "bots verifying every update",
                format!("{} of {}", self.bots.verifying, self.bots.joined),
            );
        }
        for agent in &self.agents {
            row(&mut out, &format!("agent {}", agent.name), agent.summary());
        }
        row(&mut out, "bot CPU", format!("{:.2} s", self.bot_cpu_s));
        if let Some(s) = &self.server {
            row(
                &mut out,
                "server CPU per room-tick",
                format!("{:.4} ms", s.cpu_ms_per_room_tick),
            );
            row(
                &mut out,
                "server CPU in window",
                format!("{:.2} s", s.cpu_s),
            );
            row(
                &mut out,
                "room-ticks / late ticks",
                format!("{} / {}", s.room_ticks, s.late_ticks),
            );
            row(
                &mut out,
                "tick duration p50 / p99 / max",
                format!(
                    "{:.3} / {:.3} / <= {:.3} ms",
                    s.tick_p50_ms, s.tick_p99_ms, s.tick_max_ms
                ),
            );
            row(&mut out, "server RSS", format!("{:.1} MiB", s.rss_mib));
        }
        row(
            &mut out,
            "result",
            if self.passed() {
                "PASS".into()
            } else {
                format!("FAIL: {}", self.failures.join("; "))
            },
        );
        out
    }
}

fn pct(p: &Percentiles) -> String {
    format!(
        "{:.2} / {:.2} / {:.2} / {:.2} ms",
        p.p50, p.p90, p.p99, p.max
    )
}
