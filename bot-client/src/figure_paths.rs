//! Figures of a report addressed by name: a dotted path into the report's
//! JSON (`well_behaved.latency_ms.p99`, `phases.hold.errors`) or one of
//! the short names of [`NAMED`] (`latency_p99`). Scenario thresholds and
//! baseline gates both read figures this way. Pure: no IO.
//!
//! Paths are checked against the shape of a report before a run starts
//! ([`FigurePath::resolve`]), so a misspelt path is an error, never a
//! threshold that silently passes. Reading a figure ([`FigurePath::read`]):
//! - a segment into an array picks the element with that `name` (phases
//!   by name) or at that index;
//! - a path ending on a map of counts (`well_behaved.errors`) reads their
//!   sum, and a key of such a map (`well_behaved.errors.closed:Kicked`)
//!   reads 0 when absent (no error of that kind);
//! - `null` (a figure the run did not produce, such as `server` outside a
//!   benchmark) is missing, and so is a path the report lacks.

use serde_json::Value;

use crate::measure::resume::{ResumeReport, StormReport};
use crate::measure::{GroupReport, Percentiles};
use crate::report::{Report, ServerFigures};
use crate::scenario::PhaseReport;

/// The short names of figures, with the path each stands for.
pub const NAMED: &[(&str, &str)] = &[
    ("latency_p50", "well_behaved.latency_ms.p50"),
    ("latency_p99", "well_behaved.latency_ms.p99"),
    ("jitter_p99", "well_behaved.jitter_ms.p99"),
    ("rtt_p99", "well_behaved.rtt_ms.p99"),
    ("event_answer_p99", "well_behaved.answer_latency_ms.p99"),
    (
        "bytes_per_client",
        "well_behaved.down_payload_bytes_per_client_s",
    ),
    (
        "up_bytes_per_client",
        "well_behaved.up_payload_bytes_per_client_s",
    ),
    ("updates_per_bot", "well_behaved.updates_per_bot_per_s"),
    ("updates_missed", "well_behaved.updates_missed"),
    ("checksum_mismatches", "well_behaved.checksum_mismatches"),
    ("errors", "well_behaved.errors"),
    ("connect_p99", "connect_ms.p99"),
    ("join_p99", "join_ms.p99"),
    ("bots_failed", "bots.failed"),
    ("bot_cpu", "bot_cpu_s"),
    ("cpu_per_room_tick", "server.cpu_ms_per_room_tick"),
    ("server_cpu", "server.cpu_s"),
    ("tick_p99", "server.tick_p99_ms"),
    ("late_ticks", "server.late_ticks"),
    ("server_rss", "server.rss_mib"),
];

/// Why a figure's path is refused or its value cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FigureError {
    /// The path names nothing a report has.
    #[error(
        "`{path}` is not a figure of a report (unknown `{segment}`; a dotted path into the JSON report, or one of: {names})"
    )]
    Unknown {
        /// The path as written.
        path: String,
        /// The first segment that matched nothing.
        segment: String,
        /// The short names, for the message.
        names: String,
    },
    /// The path leads to something that is not a number (a string, a
    /// whole section).
    #[error("`{path}` is not a number in a report")]
    NotANumber {
        /// The path as written.
        path: String,
    },
    /// The report at hand does not have the figure.
    #[error("`{path}` is missing from the report")]
    Missing {
        /// The path as written.
        path: String,
    },
}

/// A checked path to one figure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FigurePath {
    /// As written (a short name or a dotted path).
    pub name: String,
    /// The dotted path's segments.
    segments: Vec<String>,
    /// What the path ends on.
    ends_on: End,
}

/// What a figure's path ends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// A number.
    Number,
    /// A map of counts (errors by kind): read as their sum.
    Map,
    /// A key of a map of counts: absent reads 0.
    MapKey,
}

impl FigurePath {
    /// Checks `name` (a short name or a dotted path) against `shape`, the
    /// JSON of a report with every optional section present (see
    /// [`report_shape`]).
    pub fn resolve(name: &str, shape: &Value) -> Result<Self, FigureError> {
        let path = NAMED
            .iter()
            .find(|(short, _)| *short == name)
            .map_or(name, |(_, path)| *path);
        let segments: Vec<String> = path.split('.').map(str::to_owned).collect();
        let unknown = |segment: &str| FigureError::Unknown {
            path: name.to_owned(),
            segment: segment.to_owned(),
            names: NAMED.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
        };
        let mut at = shape;
        let mut ends_on = End::Number;
        for (i, segment) in segments.iter().enumerate() {
            if segment.is_empty() {
                return Err(unknown(segment));
            }
            match at {
                // An empty object in the shape is a map (errors by kind,
                // refusals by code): any key, and nothing below it.
                Value::Object(fields) if fields.is_empty() => {
                    if i + 1 != segments.len() {
                        return Err(unknown(&segments[i + 1]));
                    }
                    ends_on = End::MapKey;
                }
                Value::Object(fields) => {
                    at = fields.get(segment).ok_or_else(|| unknown(segment))?;
                }
                Value::Array(items) => {
                    at = element(items, segment).ok_or_else(|| unknown(segment))?;
                }
                _ => return Err(unknown(segment)),
            }
        }
        if ends_on == End::Number {
            ends_on = match at {
                Value::Number(_) => End::Number,
                // Maps are empty in the shape; a section has fields.
                Value::Object(fields) if fields.is_empty() => End::Map,
                _ => {
                    return Err(FigureError::NotANumber {
                        path: name.to_owned(),
                    });
                }
            };
        }
        Ok(Self {
            name: name.to_owned(),
            segments,
            ends_on,
        })
    }

    /// The dotted path (a short name expanded).
    pub fn dotted(&self) -> String {
        self.segments.join(".")
    }

    /// Reads the figure from a report's JSON.
    pub fn read(&self, report: &Value) -> Result<f64, FigureError> {
        let missing = || FigureError::Missing {
            path: self.name.clone(),
        };
        let mut at = report;
        for (i, segment) in self.segments.iter().enumerate() {
            let last = i + 1 == self.segments.len();
            at = match at {
                Value::Object(fields) => match fields.get(segment) {
                    Some(v) => v,
                    None if last && self.ends_on == End::MapKey => return Ok(0.0),
                    None => return Err(missing()),
                },
                Value::Array(items) => element(items, segment).ok_or_else(missing)?,
                _ => return Err(missing()),
            };
        }
        match at {
            Value::Null => Err(missing()),
            Value::Number(n) => n.as_f64().ok_or_else(missing),
            Value::Object(fields)
                if self.ends_on == End::Map && fields.values().all(Value::is_number) =>
            {
                Ok(fields.values().filter_map(Value::as_f64).sum())
            }
            _ => Err(FigureError::NotANumber {
                path: self.name.clone(),
            }),
        }
    }
}

/// The element of an array a segment names: the one whose `name` is the
/// segment, else the one at that index.
fn element<'a>(items: &'a [Value], segment: &str) -> Option<&'a Value> {
    items
        .iter()
        .find(|item| item.get("name").and_then(Value::as_str) == Some(segment))
        .or_else(|| segment.parse::<usize>().ok().and_then(|i| items.get(i)))
}

/// The JSON shape of a report with every optional section present (the
/// misbehaving group, the server's figures, resumes and a storm, the
/// redirected joins) and the given phases, for checking paths before a
/// run.
pub fn report_shape(phases: &[PhaseReport]) -> Value {
    let report = Report {
        misbehaving: Some(GroupReport::default()),
        server: Some(ServerFigures::default()),
        resume: Some(ResumeReport {
            storm: Some(StormReport::default()),
            ..ResumeReport::default()
        }),
        join_redirected_ms: Some(Percentiles::default()),
        phases: phases.to_vec(),
        ..Report::default()
    };
    serde_json::to_value(&report).expect("a report always serialises")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn phase(name: &str) -> PhaseReport {
        PhaseReport {
            name: name.into(),
            ..PhaseReport::default()
        }
    }

    #[test]
    fn every_short_name_resolves() {
        let shape = report_shape(&[]);
        for (name, path) in NAMED {
            let figure =
                FigurePath::resolve(name, &shape).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(figure.dotted(), *path);
        }
    }

    #[test]
    fn unknown_paths_and_sections_are_refused() {
        let shape = report_shape(&[phase("hold")]);
        let e = FigurePath::resolve("well_behaved.latency_ms.p999", &shape).unwrap_err();
        assert!(
            matches!(&e, FigureError::Unknown { segment, .. } if segment == "p999"),
            "{e}"
        );
        assert!(e.to_string().contains("well_behaved.latency_ms.p999"));
        assert!(FigurePath::resolve("phases.spike.errors", &shape).is_err());
        assert!(FigurePath::resolve("latency_p98", &shape).is_err());
        assert!(matches!(
            FigurePath::resolve("well_behaved.latency_ms", &shape),
            Err(FigureError::NotANumber { .. })
        ));
        assert!(matches!(
            FigurePath::resolve("url", &shape),
            Err(FigureError::NotANumber { .. })
        ));
        assert!(FigurePath::resolve("well_behaved.errors.a.b", &shape).is_err());
        assert!(FigurePath::resolve("phases.hold.latency_p99_ms", &shape).is_ok());
        assert!(FigurePath::resolve("phases.0.bots.peak", &shape).is_ok());
    }

    #[test]
    fn reading_picks_phases_by_name_sums_maps_and_reports_missing() {
        let shape = report_shape(&[phase("hold")]);
        let report = json!({
            "well_behaved": { "errors": { "closed:Kicked": 2, "lost:Expired": 1 }, "latency_ms": { "p99": 4.5 } },
            "server": null,
            "phases": [ { "name": "ramp", "errors": 7 }, { "name": "hold", "errors": 3 } ],
        });
        let read = |path: &str| FigurePath::resolve(path, &shape).unwrap().read(&report);
        assert_eq!(read("phases.hold.errors"), Ok(3.0));
        assert_eq!(read("phases.0.errors"), Ok(7.0));
        assert_eq!(read("latency_p99"), Ok(4.5));
        assert_eq!(read("errors"), Ok(3.0));
        assert_eq!(read("well_behaved.errors.closed:Kicked"), Ok(2.0));
        assert_eq!(read("well_behaved.errors.error:RateLimited"), Ok(0.0));
        assert!(matches!(
            read("cpu_per_room_tick"),
            Err(FigureError::Missing { .. })
        ));
        assert!(matches!(
            read("well_behaved.latency_ms.p50"),
            Err(FigureError::Missing { .. })
        ));
    }
}
