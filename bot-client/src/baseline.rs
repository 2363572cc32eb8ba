//! Regression gates: a run compared with an earlier report (the
//! baseline), figure by figure, each against a limit on how far it may
//! move. Pure: both reports come in as JSON values, the verdict and a
//! side-by-side table go out.
//!
//! A gate is `figure=limit`: the figure is a short name of
//! [`crate::figure_paths::NAMED`] (`latency_p99`, `bytes_per_client`,
//! `cpu_per_room_tick`, ...) or any dotted path into the report; the limit
//! is how far it may move from the baseline:
//! - `+20%`: at most 20 % above the baseline (latency, bytes, CPU);
//! - `-5%`: at most 5 % below it (throughput: `updates_per_bot=-5%`);
//! - `+2` / `-2`: the same in the figure's own unit (`errors=+0`: no more
//!   errors than last time).
//!
//! A figure missing from either report is an error, not a pass.
//! [`check`] reads the baseline file and records the verdict in a report.

pub mod check;

use std::fmt::{self, Write as _};
use std::str::FromStr;

use serde_json::Value;

use crate::figure_paths::{FigureError, FigurePath};

/// Which way a figure may not move.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// It may not rise more than the limit (`+`).
    Up,
    /// It may not fall more than the limit (`-`).
    Down,
}

/// How far a figure may move from the baseline.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limit {
    /// The direction watched.
    pub direction: Direction,
    /// The allowed move: a percentage of the baseline, or an amount.
    pub amount: f64,
    /// Whether `amount` is a percentage.
    pub percent: bool,
}

/// Why a gate or a comparison is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BaselineError {
    /// A `--gate` argument is not `figure=limit`.
    #[error("gate `{0}` is not `figure=limit` (e.g. `latency_p99=+20%`)")]
    NotAGate(String),
    /// A limit is not `+N%`, `-N%`, `+N` or `-N`.
    #[error(
        "gate `{gate}`: limit `{limit}` is not `+N%`, `-N%`, `+N` or `-N` (N a non-negative number)"
    )]
    BadLimit {
        /// The gate's figure.
        gate: String,
        /// The limit as written.
        limit: String,
    },
    /// The gate's figure is not one a report has.
    #[error("gate `{gate}`: {reason}")]
    Figure {
        /// The gate's figure.
        gate: String,
        /// Why.
        reason: FigureError,
    },
    /// A figure is missing from one of the reports.
    #[error("gate `{gate}`: `{path}` is missing from the {side} report")]
    Missing {
        /// The gate's figure.
        gate: String,
        /// Its dotted path.
        path: String,
        /// `baseline` or `current`.
        side: &'static str,
    },
}

impl FromStr for Limit {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        let text = text.trim();
        let (direction, rest) = match text.as_bytes().first() {
            Some(b'+') => (Direction::Up, &text[1..]),
            Some(b'-') => (Direction::Down, &text[1..]),
            _ => return Err(()),
        };
        let (number, percent) = match rest.strip_suffix('%') {
            Some(number) => (number, true),
            None => (rest, false),
        };
        let number = number.trim();
        // f64 parsing takes a sign of its own: `++3` is not a limit.
        if !number.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
            return Err(());
        }
        let amount: f64 = number.parse().map_err(|_| ())?;
        if !amount.is_finite() || amount < 0.0 {
            return Err(());
        }
        Ok(Self {
            direction,
            amount,
            percent,
        })
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = match self.direction {
            Direction::Up => '+',
            Direction::Down => '-',
        };
        let unit = if self.percent { "%" } else { "" };
        write!(f, "{sign}{}{unit}", self.amount)
    }
}

impl Limit {
    /// The bound `now` must respect given `baseline`: the most it may be
    /// (`Up`) or the least (`Down`).
    pub fn bound(&self, baseline: f64) -> f64 {
        let amount = if self.percent {
            baseline.abs() * self.amount / 100.0
        } else {
            self.amount
        };
        match self.direction {
            Direction::Up => baseline + amount,
            Direction::Down => baseline - amount,
        }
    }

    /// Whether `now` is within the limit of `baseline`.
    pub fn allows(&self, baseline: f64, now: f64) -> bool {
        match self.direction {
            Direction::Up => now <= self.bound(baseline) + f64::EPSILON * baseline.abs(),
            Direction::Down => now >= self.bound(baseline) - f64::EPSILON * baseline.abs(),
        }
    }
}

/// One gate: a figure and its limit.
#[derive(Clone, Debug, PartialEq)]
pub struct Gate {
    /// The figure.
    pub figure: FigurePath,
    /// How far it may move.
    pub limit: Limit,
}

impl Gate {
    /// A gate from its figure and limit as written, the figure checked
    /// against `shape` (see [`crate::figure_paths::report_shape`]).
    pub fn new(figure: &str, limit: &str, shape: &Value) -> Result<Self, BaselineError> {
        let figure_path =
            FigurePath::resolve(figure.trim(), shape).map_err(|reason| BaselineError::Figure {
                gate: figure.to_owned(),
                reason,
            })?;
        let limit = limit.parse().map_err(|()| BaselineError::BadLimit {
            gate: figure.to_owned(),
            limit: limit.to_owned(),
        })?;
        Ok(Self {
            figure: figure_path,
            limit,
        })
    }

    /// A gate from a `--gate` argument, `figure=limit`.
    pub fn parse(text: &str, shape: &Value) -> Result<Self, BaselineError> {
        let (figure, limit) = text
            .split_once('=')
            .ok_or_else(|| BaselineError::NotAGate(text.to_owned()))?;
        Self::new(figure, limit, shape)
    }
}

/// One line of the comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The gate's figure as written.
    pub metric: String,
    /// Its value in the baseline.
    pub baseline: f64,
    /// Its value now.
    pub now: f64,
    /// The limit.
    pub limit: Limit,
    /// Whether it is within the limit.
    pub passed: bool,
}

impl Row {
    /// The change from the baseline, percent (None when the baseline is
    /// 0).
    pub fn change_percent(&self) -> Option<f64> {
        (self.baseline != 0.0).then(|| (self.now - self.baseline) / self.baseline.abs() * 100.0)
    }
}

/// A run compared with its baseline.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Comparison {
    /// One row per gate, in the order given.
    pub rows: Vec<Row>,
}

impl Comparison {
    /// Whether every figure is within its limit.
    pub fn passed(&self) -> bool {
        self.rows.iter().all(|row| row.passed)
    }

    /// One failure line per figure out of its limit.
    pub fn failures(&self) -> Vec<String> {
        self.rows
            .iter()
            .filter(|row| !row.passed)
            .map(|row| {
                format!(
                    "gate {}: {} against a baseline of {} (limit {}: {})",
                    row.metric,
                    number(row.now),
                    number(row.baseline),
                    row.limit,
                    number(row.limit.bound(row.baseline)),
                )
            })
            .collect()
    }

    /// The side-by-side table: metric, baseline, now, change, limit,
    /// verdict.
    pub fn table(&self) -> String {
        let mut out = String::from(
            "| metric | baseline | now | change | limit | verdict |\n|---|---|---|---|---|---|\n",
        );
        for row in &self.rows {
            let change = row.change_percent().map_or_else(
                || {
                    let diff = row.now - row.baseline;
                    let sign = if diff < 0.0 { "" } else { "+" };
                    format!("{sign}{}", number(diff))
                },
                |p| format!("{p:+.1}%"),
            );
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                row.metric,
                number(row.baseline),
                number(row.now),
                change,
                row.limit,
                if row.passed { "ok" } else { "FAIL" },
            );
        }
        out
    }
}

/// A figure for the table: up to four decimals, no trailing zeros.
fn number(v: f64) -> String {
    let text = format!("{v:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.into()
    }
}

/// Compares `now` with `baseline` (both a report's JSON) under `gates`.
pub fn compare(baseline: &Value, now: &Value, gates: &[Gate]) -> Result<Comparison, BaselineError> {
    let read = |report: &Value, gate: &Gate, side| {
        gate.figure.read(report).map_err(|e| match e {
            FigureError::Missing { .. } => BaselineError::Missing {
                gate: gate.figure.name.clone(),
                path: gate.figure.dotted(),
                side,
            },
            reason => BaselineError::Figure {
                gate: gate.figure.name.clone(),
                reason,
            },
        })
    };
    let mut rows = Vec::with_capacity(gates.len());
    for gate in gates {
        let before = read(baseline, gate, "baseline")?;
        let after = read(now, gate, "current")?;
        rows.push(Row {
            metric: gate.figure.name.clone(),
            baseline: before,
            now: after,
            limit: gate.limit,
            passed: gate.limit.allows(before, after),
        });
    }
    Ok(Comparison { rows })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::figure_paths::report_shape;

    fn report(p99: f64, bytes: f64, updates: f64) -> Value {
        json!({
            "well_behaved": {
                "latency_ms": { "p99": p99 },
                "down_payload_bytes_per_client_s": bytes,
                "updates_per_bot_per_s": updates,
                "errors": {},
            },
            "server": null,
        })
    }

    fn gates(specs: &[&str]) -> Vec<Gate> {
        let shape = report_shape(&[]);
        specs
            .iter()
            .map(|s| Gate::parse(s, &shape).expect("valid gate"))
            .collect()
    }

    #[test]
    fn limits_parse_and_bound() {
        let l: Limit = "+20%".parse().unwrap();
        assert_eq!(
            (l.direction, l.amount, l.percent),
            (Direction::Up, 20.0, true)
        );
        assert_eq!(l.bound(10.0), 12.0);
        assert!(l.allows(10.0, 12.0) && !l.allows(10.0, 12.01));
        let l: Limit = "-5%".parse().unwrap();
        assert!(l.allows(100.0, 95.0) && !l.allows(100.0, 94.9) && l.allows(100.0, 300.0));
        let l: Limit = "+3".parse().unwrap();
        assert!(l.allows(0.0, 3.0) && !l.allows(0.0, 3.5));
        assert_eq!(l.to_string(), "+3");
        for bad in ["20%", "+", "+x%", "+-3", "++3", "", "+inf"] {
            assert!(bad.parse::<Limit>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_crossed_threshold_fails_and_the_table_says_so() {
        let before = report(10.0, 1000.0, 30.0);
        let now = report(13.0, 1050.0, 29.0);
        let c = compare(
            &before,
            &now,
            &gates(&[
                "latency_p99=+20%",
                "bytes_per_client=+10%",
                "updates_per_bot=-5%",
            ]),
        )
        .unwrap();
        assert!(!c.passed());
        assert_eq!(
            c.rows.iter().map(|r| r.passed).collect::<Vec<_>>(),
            [false, true, true]
        );
        let failures = c.failures();
        assert_eq!(failures.len(), 1);
        assert!(
            failures[0].contains("latency_p99: 13 against a baseline of 10"),
            "{failures:?}"
        );
        let table = c.table();
        assert!(
            table.contains("| latency_p99 | 10 | 13 | +30.0% | +20% | FAIL |"),
            "{table}"
        );
        assert!(
            table.contains("| bytes_per_client | 1000 | 1050 | +5.0% | +10% | ok |"),
            "{table}"
        );
    }

    #[test]
    fn within_limits_passes() {
        let before = report(10.0, 1000.0, 30.0);
        let now = report(9.0, 1000.0, 30.0);
        let c = compare(&before, &now, &gates(&["latency_p99=+20%", "errors=+0"])).unwrap();
        assert!(c.passed(), "{}", c.table());
        assert!(c.failures().is_empty());
        // From a baseline of 0 the change is an amount, signed.
        assert!(
            c.table().contains("| errors | 0 | 0 | +0 | +0 | ok |"),
            "{}",
            c.table()
        );
    }

    #[test]
    fn a_missing_metric_is_an_error() {
        let before = report(10.0, 1000.0, 30.0);
        let e = compare(&before, &before, &gates(&["cpu_per_room_tick=+15%"])).unwrap_err();
        assert_eq!(
            e,
            BaselineError::Missing {
                gate: "cpu_per_room_tick".into(),
                path: "server.cpu_ms_per_room_tick".into(),
                side: "baseline",
            }
        );
        let mut with_server = before.clone();
        with_server["server"] = json!({ "cpu_ms_per_room_tick": 0.2 });
        let e = compare(&with_server, &before, &gates(&["cpu_per_room_tick=+15%"])).unwrap_err();
        assert!(matches!(
            e,
            BaselineError::Missing {
                side: "current",
                ..
            }
        ));
    }

    #[test]
    fn bad_gates_are_refused_with_their_name() {
        let shape = report_shape(&[]);
        assert!(matches!(
            Gate::parse("latency_p99", &shape),
            Err(BaselineError::NotAGate(_))
        ));
        let e = Gate::parse("latency_p99=20", &shape).unwrap_err();
        assert!(
            e.to_string().contains("latency_p99") && e.to_string().contains("`20`"),
            "{e}"
        );
        let e = Gate::parse("latncy_p99=+20%", &shape).unwrap_err();
        assert!(e.to_string().contains("latncy_p99"), "{e}");
        assert!(Gate::parse("well_behaved.jitter_ms.p90=+1", &shape).is_ok());
    }
}
