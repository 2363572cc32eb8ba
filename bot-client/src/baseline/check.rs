//! The IO around [`super::compare`]: reads the baseline report from disk,
//! compares a run with it and records the verdict in the run's report.

use std::path::Path;

use crate::report::Report;

use super::{Comparison, Gate, compare};

/// Why a baseline could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The file could not be read.
    #[error("reading the baseline {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        reason: std::io::Error,
    },
    /// The file is not JSON.
    #[error("the baseline {path} is not a JSON report: {reason}")]
    Json {
        /// The file.
        path: String,
        /// Why.
        reason: serde_json::Error,
    },
    /// A gate could not be evaluated (a figure missing from a report).
    #[error(transparent)]
    Gate(#[from] super::BaselineError),
}

/// Compares `report` with the baseline report at `path` under `gates`.
pub fn against_file(
    report: &Report,
    path: &Path,
    gates: &[Gate],
) -> Result<Comparison, CheckError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|reason| CheckError::Read {
        path: shown.clone(),
        reason,
    })?;
    let baseline: serde_json::Value =
        serde_json::from_str(&text).map_err(|reason| CheckError::Json {
            path: shown,
            reason,
        })?;
    let now = serde_json::to_value(report).expect("a report always serialises");
    Ok(compare(&baseline, &now, gates)?)
}

/// Compares `report` with the baseline at `path` and records every gate
/// out of its limit, or the reason the comparison failed, among the
/// report's failures. Returns the side-by-side table, when there is one.
pub fn apply(report: &mut Report, path: &Path, gates: &[Gate]) -> Option<String> {
    match against_file(report, path, gates) {
        Ok(comparison) => {
            report.failures.extend(comparison.failures());
            Some(comparison.table())
        }
        Err(e) => {
            report.failures.push(format!("baseline: {e}"));
            None
        }
    }
}

/// Merges gates: those of `overrides` replace those of `base` for the
/// same figure, the others are added.
pub fn merge(base: &[Gate], overrides: Vec<Gate>) -> Vec<Gate> {
    let mut gates: Vec<Gate> = base
        .iter()
        .filter(|g| {
            !overrides
                .iter()
                .any(|o| o.figure.dotted() == g.figure.dotted())
        })
        .cloned()
        .collect();
    gates.extend(overrides);
    gates
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figure_paths::report_shape;

    #[test]
    fn a_run_against_its_own_report_passes_and_a_tight_gate_fails() {
        let shape = report_shape(&[]);
        let mut baseline = Report::default();
        baseline.well_behaved.latency_ms.p99 = 10.0;
        let path =
            std::env::temp_dir().join(format!("tickwire-baseline-{}.json", std::process::id()));
        baseline.write_json(&path).expect("write");
        let mut now = Report::default();
        now.well_behaved.latency_ms.p99 = 11.0;
        let loose = [Gate::parse("latency_p99=+20%", &shape).unwrap()];
        let table = apply(&mut now, &path, &loose).expect("a table");
        assert!(now.failures.is_empty(), "{:?}", now.failures);
        assert!(
            table.contains("| latency_p99 | 10 | 11 | +10.0% | +20% | ok |"),
            "{table}"
        );
        let tight = [Gate::parse("latency_p99=+5%", &shape).unwrap()];
        apply(&mut now, &path, &tight).expect("a table");
        assert_eq!(now.failures.len(), 1, "{:?}", now.failures);
        let missing = [Gate::parse("cpu_per_room_tick=+5%", &shape).unwrap()];
        assert!(apply(&mut now, &path, &missing).is_none());
        assert!(
            now.failures[1].contains("missing from the baseline"),
            "{:?}",
            now.failures
        );
        let _ = std::fs::remove_file(&path);
        let mut unread = Report::default();
        assert!(apply(&mut unread, Path::new("/nonexistent/baseline.json"), &loose).is_none());
        assert!(unread.failures[0].starts_with("baseline: reading"));
    }

    #[test]
    fn command_line_gates_replace_the_scenarios_for_the_same_figure() {
        let shape = report_shape(&[]);
        let base = vec![
            Gate::parse("latency_p99=+20%", &shape).unwrap(),
            Gate::parse("errors=+0", &shape).unwrap(),
        ];
        let merged = merge(
            &base,
            vec![Gate::parse("well_behaved.latency_ms.p99=+5%", &shape).unwrap()],
        );
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[1].limit.amount, 5.0);
    }
}
