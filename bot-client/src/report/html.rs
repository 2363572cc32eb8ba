//! HTML report (being written).
use super::Report;
/// Renders the report.
pub fn render(report: &Report) -> String { format!("<pre>{}</pre>", report.summary()) }
