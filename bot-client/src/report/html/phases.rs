//! The phases of a scenario run in the HTML report: a table with a row
//! per phase, and the phase boundaries marked on the plots over time.

use std::error::Error;
use std::fmt::{self, Write as _};

use plotters::coord::types::{RangedCoordf64, RangedCoordusize};
use plotters::prelude::*;

use super::{AXIS_COLOUR, count, escape, fixed, int, thousands};
use crate::report::Report;

/// Where each phase after the first starts: (second, phase name).
pub(super) fn boundaries(r: &Report) -> Vec<(usize, String)> {
    r.phases
        .iter()
        .skip(1)
        .map(|p| (p.start_s.round() as usize, p.name.clone()))
        .collect()
}

/// Draws a thin vertical line and the phase's name at each boundary
/// inside the plot.
pub(super) fn draw_boundaries(
    chart: &mut ChartContext<'_, SVGBackend<'_>, Cartesian2d<RangedCoordusize, RangedCoordf64>>,
    boundaries: &[(usize, String)],
    x_max: usize,
    y_top: f64,
) -> Result<(), Box<dyn Error>> {
    let style = ("sans-serif", 14).into_font().color(&AXIS_COLOUR);
    for (second, name) in boundaries.iter().filter(|(s, _)| *s <= x_max) {
        chart.draw_series(LineSeries::new(
            [(*second, 0.0), (*second, y_top)],
            AXIS_COLOUR.mix(0.5).stroke_width(1),
        ))?;
        chart.draw_series(std::iter::once(Text::new(
            format!(" {name}"),
            (*second, y_top),
            style.clone(),
        )))?;
    }
    Ok(())
}

/// The phases table (nothing for a run without phases).
pub(super) fn table(out: &mut String, r: &Report) -> fmt::Result {
    if r.phases.is_empty() {
        return Ok(());
    }
    out.push_str("<section>\n<h2>Phases</h2>\n");
    out.push_str(
        "<p class=\"note\">Each phase of the scenario with its own figures. Bots are those the scenario \
         had running (start → end, peak and mean); the figures are those of the bots that play \
         (well-behaved and resuming; misbehaving bots are not measured), per bot actually running. \
         The plots above mark where each phase starts.</p>\n",
    );
    out.push_str("<div class=\"tablewrap\"><table>\n<thead><tr><th>Phase</th><th>Kind</th>");
    for h in [
        "seconds",
        "bots start → end",
        "peak / mean",
        "joined / failed",
        "updates / bot / s",
        "latency p50 (ms)",
        "latency p99 (ms)",
        "down B/client/s",
        "up B/client/s",
        "missed ticks",
        "checksum mismatches",
        "errors",
    ] {
        write!(out, "<th class=\"num\">{h}</th>")?;
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for p in &r.phases {
        let flag = |bad: bool| if bad { "num bad" } else { "num" };
        writeln!(
            out,
            "<tr><td style=\"white-space:nowrap\">{}</td><td>{}</td><td class=\"num\">{}–{}</td><td class=\"num\">{} → {}</td>\
             <td class=\"num\">{} / {}</td><td class=\"{}\">{} / {}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"{}\">{}</td><td class=\"{}\">{}</td></tr>",
            escape(&p.name),
            p.kind,
            fixed(p.start_s, 0),
            fixed(p.end_s, 0),
            count(p.bots.at_start),
            count(p.bots.at_end),
            count(p.bots.peak),
            fixed(p.bots.mean, 1),
            flag(p.bots.failed > 0),
            count(p.bots.joined),
            count(p.bots.failed),
            fixed(p.updates_per_bot_per_s, 1),
            fixed(p.latency_p50_ms, 2),
            fixed(p.latency_p99_ms, 2),
            thousands(p.down_bytes_per_client_s),
            thousands(p.up_bytes_per_client_s),
            int(p.missed),
            flag(p.checksum_mismatches > 0),
            int(p.checksum_mismatches),
            flag(p.errors > 0),
            int(p.errors),
        )?;
    }
    out.push_str("</tbody></table></div>\n</section>\n");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::SecondReport;
    use crate::scenario::{PhaseBots, PhaseKind, PhaseReport};

    fn phase(name: &str, kind: PhaseKind, start_s: f64, end_s: f64, errors: u64) -> PhaseReport {
        PhaseReport {
            name: name.into(),
            kind,
            start_s,
            end_s,
            bots: PhaseBots {
                at_start: 0,
                at_end: 8,
                peak: 8,
                mean: 4.0,
                joined: 8,
                failed: 0,
            },
            latency_p99_ms: 3.25,
            errors,
            ..PhaseReport::default()
        }
    }

    #[test]
    fn a_scenario_report_has_a_phase_table_and_marked_boundaries() {
        let mut report = Report {
            phases: vec![
                phase("warm<up>", PhaseKind::Ramp, 0.0, 3.0, 0),
                phase("hold", PhaseKind::Hold, 3.0, 7.0, 2),
            ],
            ..Report::default()
        };
        report.timeline = (0..7)
            .map(|second| SecondReport {
                second,
                updates: 100,
                latency_p50_ms: 1.0,
                latency_p99_ms: 2.0,
                down_bytes_per_client: 500.0,
                up_bytes_per_client: 50.0,
            })
            .collect();
        let page = super::super::render(&report);
        assert!(page.contains("<h2>Phases</h2>"));
        assert!(page.contains("warm&lt;up&gt;"), "names are escaped");
        assert!(
            page.contains("<td class=\"num bad\">2</td>"),
            "errors are flagged"
        );
        assert!(page.contains("3.25"));
        // The boundary at second 3 is labelled on both plots over time.
        assert_eq!(page.matches(">\n hold\n</text>").count(), 2);
        assert_eq!(boundaries(&report), [(3, "hold".to_owned())]);
    }

    #[test]
    fn a_swarm_report_has_no_phase_table() {
        let page = super::super::render(&Report::default());
        assert!(!page.contains("<h2>Phases</h2>"));
    }
}
