//! Drops and resumes: what each bot saw when its connection was cut (by
//! its chaos behaviour or by the swarm's storm) and the client library
//! reconnected, and the run's figures merged from them.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;
use tickwire_client::LostReason;

use super::{Percentiles, histogram, merge_into, merged_histogram};

/// One bot's drops and resumes (counted whether or not the window is
/// open: a storm or a chaos drop is never steady-state noise).
#[derive(Debug)]
pub struct ResumeRecorder {
    /// Drops the client set out to resume (the bot's own cuts, the storm's,
    /// and any the network or the server caused).
    pub tried: u64,
    /// Of them, resumed with the seat.
    pub resumed: u64,
    /// Reconnections that failed, by reason.
    pub lost: BTreeMap<String, u64>,
    /// Drop to resumed, microseconds.
    pub resume_us: Histogram<u32>,
    /// Updates applied after the first resume.
    pub updates_after: u64,
    /// Of them, worlds that did not match the server's checksum (or did not
    /// decode).
    pub mismatches_after: u64,
    /// The drop under way is the storm's.
    in_storm: bool,
    /// What became of this bot in the storm.
    pub storm: Option<StormOutcome>,
}

/// One bot's part in the storm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StormOutcome {
    /// Dropped, not back yet (or never).
    Dropped,
    /// Back with its seat after this long, microseconds.
    Resumed(u64),
    /// Its reconnection failed.
    Lost,
}

impl Default for ResumeRecorder {
    fn default() -> Self {
        Self {
            tried: 0,
            resumed: 0,
            lost: BTreeMap::new(),
            resume_us: histogram(),
            updates_after: 0,
            mismatches_after: 0,
            in_storm: false,
            storm: None,
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl ResumeRecorder {
    /// The bot cut its connection (`storm`: all at once with the others).
    pub fn on_drop(&mut self, storm: bool) {
        self.in_storm = storm;
        if storm {
            self.storm = Some(StormOutcome::Dropped);
        }
    }

    /// The client starts attempt `attempt` of a reconnection.
    pub fn on_reconnecting(&mut self, attempt: u32) {
        if attempt == 1 {
            self.tried += 1;
        }
    }

    /// The client resumed, `after` the drop; `seat`: the room came back.
    pub fn on_resumed(&mut self, after: Duration, seat: bool) {
        if !seat {
            // Back in the lobby, the seat gone: not a resume.
            return self.on_lost("seat_gone");
        }
        self.resumed += 1;
        self.resume_us.saturating_record(micros(after).max(1));
        if std::mem::take(&mut self.in_storm) {
            self.storm = Some(StormOutcome::Resumed(micros(after).max(1)));
        }
    }

    /// The reconnection failed.
    pub fn on_lost_reason(&mut self, reason: &LostReason) {
        self.on_lost(match reason {
            LostReason::SeatGone => "seat_gone",
            LostReason::GaveUp { .. } => "gave_up",
            LostReason::Refused { .. } => "refused",
            LostReason::Unreachable { .. } => "unreachable",
        });
    }

    fn on_lost(&mut self, kind: &str) {
        *self.lost.entry(kind.to_owned()).or_default() += 1;
        if std::mem::take(&mut self.in_storm) {
            self.storm = Some(StormOutcome::Lost);
        }
    }

    /// An update applied (`agreed`: its checksum matched).
    pub fn on_update(&mut self, agreed: bool) {
        if self.resumed > 0 {
            self.updates_after += 1;
            if !agreed {
                self.mismatches_after += 1;
            }
        }
    }
}

/// The storm: every playing bot dropped its connection at once.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StormReport {
    /// Seconds into the window it struck.
    pub at_s: f64,
    /// Bots dropped.
    pub dropped: u64,
    /// Of them, resumed with their seat.
    pub resumed: u64,
    /// Of them, whose reconnection failed.
    pub lost: u64,
    /// Drop to resumed.
    pub time_to_resume_ms: Percentiles,
}

/// The run's drops and resumes.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ResumeReport {
    /// Drops the clients set out to resume.
    pub tried: u64,
    /// Of them, resumed with the seat.
    pub succeeded: u64,
    /// Reconnections that failed, by reason (`gave_up`, `seat_gone`,
    /// `refused`).
    pub lost: BTreeMap<String, u64>,
    /// Reconnections still under way when the run stopped (neither resumed
    /// nor lost).
    pub unfinished: u64,
    /// Drop to resumed.
    pub time_to_resume_ms: Percentiles,
    /// Updates applied after a resume.
    pub updates_after_resume: u64,
    /// Of them, worlds that did not match the server's checksum.
    pub checksum_mismatches_after_resume: u64,
    /// Share of the updates after a resume whose checksum agreed, percent
    /// (100 when there were none).
    pub checksum_agreement_pct: f64,
    /// The storm, when the run had one.
    pub storm: Option<StormReport>,
}

impl ResumeReport {
    /// Merges the bots' recorders; `storm_at_s` when the run had a storm.
    pub fn merge<'a>(
        bots: impl IntoIterator<Item = &'a ResumeRecorder>,
        storm_at_s: Option<f64>,
    ) -> Self {
        let mut all = merged_histogram();
        let mut storm_us = merged_histogram();
        let mut r = Self::default();
        let mut storm = StormReport {
            at_s: storm_at_s.unwrap_or(0.0),
            ..StormReport::default()
        };
        for bot in bots {
            r.tried += bot.tried;
            r.succeeded += bot.resumed;
            for (kind, n) in &bot.lost {
                *r.lost.entry(kind.clone()).or_default() += n;
            }
            merge_into(&mut all, &bot.resume_us);
            r.updates_after_resume += bot.updates_after;
            r.checksum_mismatches_after_resume += bot.mismatches_after;
            match bot.storm {
                None => {}
                Some(outcome) => {
                    storm.dropped += 1;
                    match outcome {
                        StormOutcome::Resumed(us) => {
                            storm.resumed += 1;
                            storm_us.saturating_record(us);
                        }
                        StormOutcome::Lost => storm.lost += 1,
                        StormOutcome::Dropped => {}
                    }
                }
            }
        }
        let lost: u64 = r.lost.values().sum();
        r.unfinished = r.tried.saturating_sub(r.succeeded + lost);
        r.time_to_resume_ms = Percentiles::of(&all);
        r.checksum_agreement_pct = if r.updates_after_resume == 0 {
            100.0
        } else {
            100.0 * (r.updates_after_resume - r.checksum_mismatches_after_resume) as f64
                / r.updates_after_resume as f64
        };
        storm.time_to_resume_ms = Percentiles::of(&storm_us);
        r.storm = storm_at_s.map(|_| storm);
        r
    }

    /// Why the resumes fail the run: a failed reconnection, a resume that
    /// never finished, or a checksum that disagreed after one.
    pub fn failures(&self) -> Vec<String> {
        let mut failures = Vec::new();
        let lost: u64 = self.lost.values().sum();
        if lost > 0 {
            failures.push(format!("{lost} reconnections failed: {:?}", self.lost));
        }
        if self.checksum_mismatches_after_resume > 0 {
            failures.push(format!(
                "{} checksum mismatches after a resume",
                self.checksum_mismatches_after_resume
            ));
        }
        if let Some(storm) = &self.storm
            && storm.resumed < storm.dropped
        {
            failures.push(format!(
                "storm: {} of {} dropped bots resumed",
                storm.resumed, storm.dropped
            ));
        }
        failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resumes_merge_with_the_storm_apart() {
        let mut a = ResumeRecorder::default();
        a.on_drop(false);
        a.on_reconnecting(1);
        a.on_reconnecting(2);
        a.on_resumed(Duration::from_millis(300), true);
        a.on_update(true);
        a.on_update(false);
        a.on_drop(true);
        a.on_reconnecting(1);
        a.on_resumed(Duration::from_millis(900), true);
        let mut b = ResumeRecorder::default();
        b.on_update(false); // before any resume: not counted here
        b.on_drop(true);
        b.on_reconnecting(1);
        b.on_lost_reason(&LostReason::GaveUp { attempts: 9 });
        let mut c = ResumeRecorder::default();
        c.on_drop(false);
        c.on_reconnecting(1);
        c.on_resumed(Duration::from_millis(200), false);

        let r = ResumeReport::merge([&a, &b, &c], Some(12.0));
        assert_eq!((r.tried, r.succeeded, r.unfinished), (4, 2, 0));
        assert_eq!(r.lost.get("gave_up"), Some(&1));
        assert_eq!(r.lost.get("seat_gone"), Some(&1));
        assert_eq!(
            (r.updates_after_resume, r.checksum_mismatches_after_resume),
            (2, 1)
        );
        assert!((r.checksum_agreement_pct - 50.0).abs() < 1e-9);
        let storm = r.storm.clone().expect("a storm");
        assert_eq!((storm.dropped, storm.resumed, storm.lost), (2, 1, 1));
        assert!((storm.time_to_resume_ms.p50 - 900.0).abs() < 5.0);
        assert_eq!(r.failures().len(), 3, "{:?}", r.failures());

        let calm = ResumeReport::merge([&ResumeRecorder::default()], None);
        assert!(calm.storm.is_none() && calm.failures().is_empty());
        assert!((calm.checksum_agreement_pct - 100.0).abs() < 1e-9);
    }
}
