//! The HTML report: one self-contained page for people. Everything is
//! inline (CSS, and SVG plots drawn with `plotters`); there are no scripts,
//! fonts, style sheets or images to fetch, so the page opens offline and can
//! be attached to a CI run as is.
//!
//! The page has a header (run parameters and a PASS/FAIL badge with the
//! failures), key figure cards, three plots (update latency and bandwidth
//! over the measurement window, the update latency distribution) and tables
//! of every figure, with the misbehaving group (chaos runs) side by side
//! with the well-behaved one. Every string that comes from the report is
//! escaped. Scenario runs add a table of their phases and mark the phase
//! boundaries on the plots over time ([`phases`]).

use std::collections::BTreeSet;
use std::error::Error;
use std::fmt::{self, Write as _};

use plotters::prelude::*;

use super::{Report, ServerFigures};

mod phases;
use crate::measure::resume::ResumeReport;
use crate::measure::{GroupReport, LatencyBucket, Percentiles, SecondReport};

/// Plot size in SVG user units; the page scales it to the column width.
const PLOT_SIZE: (u32, u32) = (1000, 340);
/// Median latency line.
const P50_COLOUR: RGBColor = RGBColor(0x25, 0x63, 0xeb);
/// 99th percentile latency line.
const P99_COLOUR: RGBColor = RGBColor(0xea, 0x58, 0x0c);
/// Downstream bandwidth line.
const DOWN_COLOUR: RGBColor = RGBColor(0x0d, 0x94, 0x88);
/// Upstream bandwidth line.
const UP_COLOUR: RGBColor = RGBColor(0x7c, 0x3a, 0xed);
/// Distribution bars.
const BAR_COLOUR: RGBColor = RGBColor(0x3b, 0x82, 0xf6);
/// Grid lines.
const GRID_COLOUR: RGBColor = RGBColor(0xe5, 0xe7, 0xeb);
/// Axis and label text.
const AXIS_COLOUR: RGBColor = RGBColor(0x57, 0x60, 0x6a);
/// Plot markers are drawn on time series up to this many points.
const MAX_MARKED_POINTS: usize = 40;
/// Ratio between consecutive buckets of the latency distribution
/// (`measure::distribution` iterates the histogram logarithmically by 1.25).
const BUCKET_RATIO: f64 = 1.25;

const CSS: &str = r#"
:root {
  color-scheme: light;
  --fg: #1f2328; --muted: #59636e; --border: #d1d9e0; --bg: #f6f8fa; --panel: #ffffff;
  --head: #eef1f4; --good: #1a7f37; --good-bg: #dafbe1; --bad: #cf222e; --bad-bg: #ffebe9;
  --warn: #9a6700; --warn-bg: #fff8c5;
}
* { box-sizing: border-box; }
body {
  margin: 0; background: var(--bg); color: var(--fg); font-size: 15px; line-height: 1.45;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif;
}
main { max-width: 1120px; margin: 0 auto; padding: 24px 20px 40px; }
h1 { font-size: 28px; margin: 0; letter-spacing: -0.01em; }
h2 { font-size: 19px; margin: 34px 0 12px; padding-bottom: 6px; border-bottom: 1px solid var(--border); }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 13.5px; }
code { background: var(--head); padding: 1px 6px; border-radius: 4px; overflow-wrap: anywhere; }
header.top {
  display: flex; flex-wrap: wrap; gap: 20px 32px; justify-content: space-between; align-items: flex-start;
  background: var(--panel); border: 1px solid var(--border); border-radius: 12px; padding: 20px 24px;
}
header.top .tool { color: var(--muted); margin: 2px 0 14px; }
dl.params { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 4px 18px; margin: 0; }
dl.params dt { color: var(--muted); }
dl.params dd { margin: 0; font-weight: 500; overflow-wrap: anywhere; }
.verdict { display: flex; flex-direction: column; align-items: flex-end; gap: 10px; max-width: 460px; }
.badge {
  font-size: 44px; font-weight: 800; letter-spacing: 0.08em; line-height: 1;
  padding: 14px 30px; border-radius: 14px; border: 3px solid;
}
.badge.pass { color: var(--good); background: var(--good-bg); border-color: var(--good); }
.badge.fail { color: var(--bad); background: var(--bad-bg); border-color: var(--bad); }
.failures { margin: 0; padding: 10px 14px 10px 30px; background: var(--bad-bg); border: 1px solid var(--bad);
  border-radius: 8px; color: var(--bad); font-size: 14px; overflow-wrap: anywhere; }
.failures li { margin: 2px 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(205px, 1fr)); gap: 12px; }
.card { background: var(--panel); border: 1px solid var(--border); border-left: 5px solid var(--border);
  border-radius: 10px; padding: 11px 14px 12px; }
.card.good { border-left-color: var(--good); }
.card.bad { border-left-color: var(--bad); background: var(--bad-bg); }
.card.warn { border-left-color: var(--warn); background: var(--warn-bg); }
.card.server { border-left-color: #8250df; }
.card .label { color: var(--muted); font-size: 13px; font-weight: 500; }
.card .value { font-size: 27px; font-weight: 700; font-variant-numeric: tabular-nums; margin: 1px 0 2px; white-space: nowrap; }
.card .unit { font-size: 14px; font-weight: 500; color: var(--muted); margin-left: 5px; }
.card .sub { font-size: 12.5px; color: var(--muted); }
figure { margin: 0 0 16px; background: var(--panel); border: 1px solid var(--border); border-radius: 10px; padding: 14px 16px 10px; }
figcaption { display: flex; flex-wrap: wrap; justify-content: space-between; gap: 4px 16px; margin-bottom: 6px; }
figcaption .what { font-weight: 600; }
figcaption .how { color: var(--muted); font-size: 13px; width: 100%; }
.legend { font-size: 13px; color: var(--muted); }
.legend .swatch { display: inline-block; width: 20px; height: 4px; border-radius: 2px; vertical-align: middle; margin: 0 6px 0 16px; }
.legend .swatch.box { height: 12px; width: 12px; }
figure svg { display: block; width: 100%; height: auto; }
.nodata { color: var(--muted); font-style: italic; padding: 26px; text-align: center; border: 1px dashed var(--border); border-radius: 8px; margin: 0; }
.note { color: var(--muted); font-size: 13.5px; margin: 6px 0 10px; }
.tablewrap { overflow-x: auto; border: 1px solid var(--border); border-radius: 10px; background: var(--panel); }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 6px 12px; text-align: left; border-bottom: 1px solid var(--border); }
tr:last-child td { border-bottom: none; }
thead th { background: var(--head); font-weight: 600; font-size: 13px; white-space: nowrap; }
tbody tr:nth-child(even) td { background: #fafbfc; }
tr.section td { background: var(--head) !important; font-weight: 600; font-size: 13px; color: var(--muted); }
td.num, th.num { text-align: right; white-space: nowrap; }
td.bad { color: var(--bad); font-weight: 700; background: var(--bad-bg) !important; }
td.muted { color: var(--muted); }
details { margin-top: 14px; }
summary { cursor: pointer; color: var(--muted); font-weight: 500; margin-bottom: 8px; }
footer { color: var(--muted); font-size: 12.5px; margin-top: 36px; text-align: center; }
@media print { body { background: #fff; } .card, figure, header.top { break-inside: avoid; } }
"#;

/// Renders `report` as a complete, self-contained HTML page.
pub fn render(report: &Report) -> String {
    let mut out = String::with_capacity(96 * 1024);
    page(&mut out, report).expect("writing to a String cannot fail");
    out
}

/// Escapes `text` for HTML content and quoted attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

fn page(out: &mut String, r: &Report) -> fmt::Result {
    let verdict = if r.passed() { "PASS" } else { "FAIL" };
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<meta name=\"color-scheme\" content=\"light\">\n");
    writeln!(out, "<title>tickwire swarm report: {verdict}</title>")?;
    writeln!(out, "<style>{CSS}</style>\n</head>\n<body>\n<main>")?;
    header(out, r)?;
    cards(out, r)?;
    plots(out, r)?;
    phases::table(out, r)?;
    tables(out, r)?;
    let tool = if r.tool.is_empty() {
        "tickwire-bot".to_owned()
    } else {
        r.tool.clone()
    };
    writeln!(
        out,
        "<footer>Generated by {}. Self-contained page: no scripts and no external resources.</footer>",
        escape(&tool)
    )?;
    out.push_str("</main>\n</body>\n</html>\n");
    Ok(())
}

// ---------------------------------------------------------------------------
// Number formatting

/// Digits of a non-negative integer string with thousands separators.
fn group_digits(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An integer with thousands separators.
fn int(v: u64) -> String {
    group_digits(&v.to_string())
}

/// A count stored as `usize`.
fn count(v: usize) -> String {
    int(v as u64)
}

/// `v` rounded to a whole number, with thousands separators.
fn thousands(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let rounded = format!("{:.0}", v.abs().round());
    let sign = if v < 0.0 && rounded != "0" { "-" } else { "" };
    format!("{sign}{}", group_digits(&rounded))
}

/// `v` with `decimals` decimals, or a dash when it is not a number.
fn fixed(v: f64, decimals: usize) -> String {
    if v.is_finite() {
        format!("{v:.decimals$}")
    } else {
        "–".into()
    }
}

/// Milliseconds with 2 decimals.
fn ms(v: f64) -> String {
    format!("{} ms", fixed(v, 2))
}

/// Bytes per second with thousands separators.
fn bytes_rate(v: f64) -> String {
    format!("{} B/s", thousands(v))
}

/// Bytes per second as kbit/s, the unit game network budgets are quoted in.
fn kbit(v: f64) -> String {
    format!("{} kbit/s", fixed(v * 8.0 / 1000.0, 1))
}

/// Seconds with 1 decimal.
fn seconds(v: f64) -> String {
    format!("{} s", fixed(v, 1))
}

/// Milliseconds for an axis label: fewer decimals as values grow.
fn axis_ms(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if a < 0.1 {
        format!("{v:.3}")
    } else if a < 10.0 {
        format!("{v:.2}")
    } else if a < 100.0 {
        format!("{v:.1}")
    } else {
        thousands(v)
    }
}

/// `part` as a percentage of `whole`.
fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "–".into();
    }
    let share = part as f64 * 100.0 / whole as f64;
    if part == 0 {
        "0%".into()
    } else if share < 0.01 {
        "< 0.01%".into()
    } else {
        format!("{share:.2}%")
    }
}

/// A tick label: up to 3 decimals, without trailing zeros.
fn tick(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" {
        "0".into()
    } else {
        s.into()
    }
}

/// Ticks for a logarithmic axis from `lo` to `hi`: 1, 2, 5 times powers of
/// ten, or every multiple when that gives too few, or the ends.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite() && lo > 0.0 && hi > lo) {
        return Vec::new();
    }
    let (first, last) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let within = |multiples: &[f64]| -> Vec<f64> {
        (first..=last)
            .flat_map(|e| multiples.iter().map(move |m| m * 10f64.powi(e)))
            .filter(|v| (lo..=hi).contains(v))
            .collect()
    };
    let ticks = within(&[1.0, 2.0, 5.0]);
    if ticks.len() >= 4 {
        return ticks;
    }
    let ticks = within(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
    if ticks.len() >= 2 {
        ticks
    } else {
        vec![lo, hi]
    }
}

/// `v`, or 0 where it is not a finite number (plots must not see NaN).
fn finite(v: f64) -> f64 {
    if v.is_finite() { v } else { 0.0 }
}

/// The top of a plot's y axis for data up to `max`, with headroom.
fn y_top(max: f64) -> f64 {
    if max.is_finite() && max > 0.0 {
        max * 1.12
    } else {
        1.0
    }
}

fn hex(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

// ---------------------------------------------------------------------------
// Header

fn header(out: &mut String, r: &Report) -> fmt::Result {
    out.push_str("<header class=\"top\">\n<div class=\"run\">\n<h1>tickwire swarm report</h1>\n");
    let tool = if r.tool.is_empty() {
        "tickwire-bot"
    } else {
        r.tool.as_str()
    };
    writeln!(out, "<p class=\"tool\">{}</p>", escape(tool))?;
    out.push_str("<dl class=\"params\">\n");
    let text = |s: &str| {
        if s.is_empty() {
            "–".to_owned()
        } else {
            escape(s)
        }
    };
    let url = if r.url.is_empty() {
        "–".to_owned()
    } else {
        format!("<code>{}</code>", escape(&r.url))
    };
    let bots = r.rooms.saturating_mul(r.players_per_room);
    let params = [
        ("URL", url),
        ("Transport", text(&r.transport)),
        ("Behaviour", text(&r.behaviour)),
        (
            "Rooms × players",
            format!(
                "{} × {} = {} bots",
                count(r.rooms),
                count(r.players_per_room),
                count(bots)
            ),
        ),
        ("Seed", format!("<span class=\"mono\">{}</span>", r.seed)),
        ("Ramp-up", seconds(r.ramp_up_s)),
        ("Settle", seconds(r.settle_s)),
        ("Measurement window", seconds(r.window_s)),
    ];
    for (name, value) in params {
        writeln!(out, "<dt>{name}</dt><dd>{value}</dd>")?;
    }
    out.push_str("</dl>\n</div>\n<div class=\"verdict\">\n");
    if r.passed() {
        out.push_str(
            "<div class=\"badge pass\" title=\"the run passes as a CI gate\">PASS</div>\n",
        );
    } else {
        out.push_str("<div class=\"badge fail\" title=\"the run fails as a CI gate\">FAIL</div>\n<ul class=\"failures\">\n");
        for failure in &r.failures {
            writeln!(out, "<li>{}</li>", escape(failure))?;
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</div>\n</header>\n");
    Ok(())
}

// ---------------------------------------------------------------------------
// Key figure cards

/// How a card is highlighted.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tone {
    Plain,
    Good,
    Bad,
    Warn,
    Server,
}

impl Tone {
    fn class(self) -> &'static str {
        match self {
            Self::Plain => "",
            Self::Good => " good",
            Self::Bad => " bad",
            Self::Warn => " warn",
            Self::Server => " server",
        }
    }
}

/// One card: `label`, a big `value` with its `unit`, and a `sub` line.
fn card(
    out: &mut String,
    tone: Tone,
    label: &str,
    value: &str,
    unit: &str,
    sub: &str,
) -> fmt::Result {
    write!(
        out,
        "<div class=\"card{}\"><div class=\"label\">{}</div><div class=\"value\">{}",
        tone.class(),
        escape(label),
        escape(value)
    )?;
    if !unit.is_empty() {
        write!(out, "<span class=\"unit\">{}</span>", escape(unit))?;
    }
    writeln!(out, "</div><div class=\"sub\">{}</div></div>", escape(sub))
}

fn cards(out: &mut String, r: &Report) -> fmt::Result {
    let w = &r.well_behaved;
    out.push_str("<section>\n<h2>Key figures</h2>\n<div class=\"cards\">\n");
    let l = &w.latency_ms;
    if l.count == 0 {
        card(
            out,
            Tone::Plain,
            "Update latency p50",
            "–",
            "",
            "no updates measured",
        )?;
        card(
            out,
            Tone::Plain,
            "Update latency p99",
            "–",
            "",
            "no updates measured",
        )?;
    } else {
        card(
            out,
            Tone::Plain,
            "Update latency p50",
            &fixed(l.p50, 2),
            "ms",
            &format!("mean {} · p90 {}", ms(l.mean), ms(l.p90)),
        )?;
        card(
            out,
            Tone::Plain,
            "Update latency p99",
            &fixed(l.p99, 2),
            "ms",
            &format!("max {} · {} samples", ms(l.max), int(l.count)),
        )?;
    }
    card(
        out,
        Tone::Plain,
        "Updates per bot per second",
        &fixed(w.updates_per_bot_per_s, 1),
        "/s",
        &format!(
            "{} updates · {} missed · {} full",
            int(w.updates),
            int(w.updates_missed),
            int(w.full_snapshots)
        ),
    )?;
    card(
        out,
        Tone::Plain,
        "Downstream per client",
        &thousands(w.down_payload_bytes_per_client_s),
        "B/s payload",
        &format!(
            "wire est. {} ({}) · WebSocket {}",
            bytes_rate(w.down_wire_estimate_bytes_per_client_s),
            kbit(w.down_wire_estimate_bytes_per_client_s),
            bytes_rate(w.down_framed_bytes_per_client_s)
        ),
    )?;
    card(
        out,
        Tone::Plain,
        "Upstream per client",
        &thousands(w.up_payload_bytes_per_client_s),
        "B/s payload",
        &format!(
            "wire est. {} ({}) · WebSocket {}",
            bytes_rate(w.up_wire_estimate_bytes_per_client_s),
            kbit(w.up_wire_estimate_bytes_per_client_s),
            bytes_rate(w.up_framed_bytes_per_client_s)
        ),
    )?;
    let integrity_ok = w.checksum_mismatches == 0 && w.decode_errors == 0;
    card(
        out,
        if integrity_ok { Tone::Good } else { Tone::Bad },
        "Checksum mismatches",
        &int(w.checksum_mismatches),
        "",
        &format!("{} undecodable updates", int(w.decode_errors)),
    )?;
    let b = &r.bots;
    let bots_ok = b.failed == 0 && b.joined >= b.planned;
    card(
        out,
        if bots_ok { Tone::Good } else { Tone::Bad },
        "Bots joined / planned",
        &format!("{} / {}", count(b.joined), count(b.planned)),
        "",
        &format!(
            "{} connected · {} failed",
            count(b.connected),
            count(b.failed)
        ),
    )?;
    let per_bot = if b.planned > 0 {
        format!(
            "{} ms CPU per bot",
            fixed(r.bot_cpu_s * 1000.0 / b.planned as f64, 2)
        )
    } else {
        "user + system time of the bot process".to_owned()
    };
    card(
        out,
        Tone::Plain,
        "Bot CPU",
        &fixed(r.bot_cpu_s, 2),
        "s",
        &per_bot,
    )?;
    if w.events.emitted > 0 {
        let a = &w.answer_latency_ms;
        card(
            out,
            Tone::Plain,
            "Event answer p99",
            &if a.count == 0 {
                "–".to_owned()
            } else {
                fixed(a.p99, 2)
            },
            if a.count == 0 { "" } else { "ms" },
            &format!(
                "p50 {} ms · {} answered · {} refused · {} timed out",
                fixed(a.p50, 2),
                int(w.events.answered),
                int(w.events.refused_total()),
                int(w.events.timed_out)
            ),
        )?;
    }
    let errors: u64 = w.errors.values().sum();
    if errors > 0 {
        card(
            out,
            Tone::Bad,
            "Errors (well-behaved)",
            &int(errors),
            "",
            &format!(
                "{} {}, see the table below",
                w.errors.len(),
                if w.errors.len() == 1 { "kind" } else { "kinds" }
            ),
        )?;
    }
    if let Some(m) = &r.misbehaving {
        let provoked: u64 = m.errors.values().sum();
        card(
            out,
            Tone::Warn,
            "Misbehaving bots",
            &count(m.bots),
            "",
            &format!("{} errors provoked · side by side below", int(provoked)),
        )?;
    }
    if let Some(resume) = &r.resume {
        resume_cards(out, resume)?;
    }
    if let Some(s) = &r.server {
        server_cards(out, s)?;
    }
    out.push_str("</div>\n</section>\n");
    Ok(())
}

fn resume_cards(out: &mut String, r: &ResumeReport) -> fmt::Result {
    let all_back = r.succeeded == r.tried && r.lost.is_empty();
    card(
        out,
        if all_back { Tone::Good } else { Tone::Bad },
        "Resumes",
        &format!("{} / {}", int(r.succeeded), int(r.tried)),
        "",
        &format!(
            "time to resume p50 {} · p99 {}",
            ms(r.time_to_resume_ms.p50),
            ms(r.time_to_resume_ms.p99)
        ),
    )?;
    card(
        out,
        if r.checksum_mismatches_after_resume == 0 {
            Tone::Good
        } else {
            Tone::Bad
        },
        "Checksums after resume",
        &fixed(r.checksum_agreement_pct, 2),
        "%",
        &format!("of {} updates", int(r.updates_after_resume)),
    )?;
    if let Some(storm) = &r.storm {
        card(
            out,
            if storm.resumed == storm.dropped {
                Tone::Good
            } else {
                Tone::Bad
            },
            "Storm: resumed / dropped",
            &format!("{} / {}", int(storm.resumed), int(storm.dropped)),
            "",
            &format!(
                "at {} s · p50 {} · p99 {} · max {}",
                fixed(storm.at_s, 1),
                ms(storm.time_to_resume_ms.p50),
                ms(storm.time_to_resume_ms.p99),
                ms(storm.time_to_resume_ms.max)
            ),
        )?;
    }
    Ok(())
}

fn server_cards(out: &mut String, s: &ServerFigures) -> fmt::Result {
    card(
        out,
        Tone::Server,
        "Server CPU per room-tick",
        &fixed(s.cpu_ms_per_room_tick, 4),
        "ms",
        &format!(
            "{} CPU over {} room-ticks",
            format_args!("{} s", fixed(s.cpu_s, 2)),
            int(s.room_ticks)
        ),
    )?;
    card(
        out,
        if s.late_ticks > 0 {
            Tone::Warn
        } else {
            Tone::Good
        },
        "Late ticks",
        &int(s.late_ticks),
        "",
        &format!(
            "{} of {} room-ticks started a period late",
            percent(s.late_ticks, s.room_ticks),
            int(s.room_ticks)
        ),
    )?;
    card(
        out,
        Tone::Server,
        "Tick duration p50",
        &fixed(s.tick_p50_ms, 3),
        "ms",
        &format!(
            "p99 {} ms · max ≤ {} ms",
            fixed(s.tick_p99_ms, 3),
            fixed(s.tick_max_ms, 3)
        ),
    )?;
    card(
        out,
        Tone::Server,
        "Server memory",
        &fixed(s.rss_mib, 1),
        "MiB",
        "resident set size at the end",
    )
}

// ---------------------------------------------------------------------------
// Plots

/// A plot, or why there is none.
type Plot = Result<String, Box<dyn Error>>;

/// One line of a time plot.
struct Series {
    name: &'static str,
    colour: RGBColor,
    points: Vec<(usize, f64)>,
}

fn plots(out: &mut String, r: &Report) -> fmt::Result {
    out.push_str("<section>\n<h2>Plots</h2>\n");
    let t = &r.timeline;
    let latency = [
        Series {
            name: "p50",
            colour: P50_COLOUR,
            points: t
                .iter()
                .map(|s| (s.second, finite(s.latency_p50_ms)))
                .collect(),
        },
        Series {
            name: "p99",
            colour: P99_COLOUR,
            points: t
                .iter()
                .map(|s| (s.second, finite(s.latency_p99_ms)))
                .collect(),
        },
    ];
    figure(
        out,
        "Update latency over time",
        "Server tick start to world rebuilt, per second of the measurement window, well-behaved bots (ms).",
        &latency,
        if t.is_empty() {
            None
        } else {
            Some(time_plot(
                &latency,
                "update latency (ms)",
                &axis_ms,
                &phases::boundaries(r),
            ))
        },
    )?;
    let bandwidth = [
        Series {
            name: "downstream",
            colour: DOWN_COLOUR,
            points: t
                .iter()
                .map(|s| (s.second, finite(s.down_bytes_per_client)))
                .collect(),
        },
        Series {
            name: "upstream",
            colour: UP_COLOUR,
            points: t
                .iter()
                .map(|s| (s.second, finite(s.up_bytes_per_client)))
                .collect(),
        },
    ];
    figure(
        out,
        "Bandwidth over time",
        "Application payload bytes per client in each second of the window, well-behaved bots (B/s; \
         framing and packet headers come on top, see the tables).",
        &bandwidth,
        if t.is_empty() {
            None
        } else {
            Some(time_plot(
                &bandwidth,
                "bytes per client per second",
                &thousands,
                &phases::boundaries(r),
            ))
        },
    )?;
    let marks = latency_marks(&r.well_behaved.latency_ms);
    let bars = bars(&r.latency_distribution);
    let mut legend = vec![Series {
        name: "updates",
        colour: BAR_COLOUR,
        points: Vec::new(),
    }];
    legend.extend(marks.iter().map(|&(name, colour, _)| Series {
        name,
        colour,
        points: Vec::new(),
    }));
    figure(
        out,
        "Update latency distribution",
        "Updates per latency bucket (log-spaced buckets, log x axis), well-behaved bots, with the overall p50 and p99.",
        &legend,
        if bars.is_empty() {
            None
        } else {
            Some(distribution_plot(&bars, &marks))
        },
    )?;
    out.push_str("</section>\n");
    Ok(())
}

/// A `<figure>` with caption, legend and the plot (or a note).
fn figure(
    out: &mut String,
    what: &str,
    how: &str,
    legend: &[Series],
    plot: Option<Plot>,
) -> fmt::Result {
    writeln!(
        out,
        "<figure>\n<figcaption><span class=\"what\">{}</span><span class=\"legend\">",
        escape(what)
    )?;
    if plot.is_some() {
        for s in legend {
            let shape = if s.name == "updates" {
                "swatch box"
            } else {
                "swatch"
            };
            write!(
                out,
                "<span class=\"{shape}\" style=\"background:{}\"></span>{}",
                hex(s.colour),
                escape(s.name)
            )?;
        }
    }
    writeln!(
        out,
        "</span><span class=\"how\">{}</span></figcaption>",
        escape(how)
    )?;
    match plot {
        None => {
            out.push_str("<p class=\"nodata\">No data: nothing was measured in the window.</p>\n")
        }
        Some(Ok(svg)) => {
            let label = format!(" role=\"img\" aria-label=\"{}\"", escape(what));
            // Inline SVG in HTML needs no namespace; dropping it keeps the
            // page free of any URL.
            let svg = svg
                .replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1)
                .replacen("<svg", &format!("<svg{label}"), 1);
            out.push_str(&svg);
        }
        Some(Err(e)) => writeln!(
            out,
            "<p class=\"nodata\">The plot could not be drawn: {}</p>",
            escape(&e.to_string())
        )?,
    }
    out.push_str("</figure>\n");
    Ok(())
}

/// Lines over seconds of the window, with a dashed vertical line and a
/// label at each phase boundary (second, phase starting there).
fn time_plot(
    series: &[Series],
    y_desc: &str,
    y_label: &dyn Fn(f64) -> String,
    boundaries: &[(usize, String)],
) -> Plot {
    let x_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .max()
        .unwrap_or(0)
        .max(1);
    let y_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, PLOT_SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(14)
            .margin_right(24)
            .x_label_area_size(46)
            .y_label_area_size(86)
            .build_cartesian_2d(0usize..x_max, 0f64..y_top(y_max))?;
        chart
            .configure_mesh()
            .x_desc("second of the measurement window")
            .y_desc(y_desc)
            .x_labels(12)
            .y_labels(7)
            .y_label_formatter(&|v| y_label(*v))
            .label_style(("sans-serif", 15).into_font().color(&AXIS_COLOUR))
            .axis_desc_style(("sans-serif", 15).into_font().color(&AXIS_COLOUR))
            .axis_style(AXIS_COLOUR)
            .bold_line_style(GRID_COLOUR)
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        phases::draw_boundaries(&mut chart, boundaries, x_max, y_top(y_max))?;
        for s in series {
            chart.draw_series(LineSeries::new(
                s.points.iter().copied(),
                s.colour.stroke_width(2),
            ))?;
            if s.points.len() <= MAX_MARKED_POINTS {
                chart.draw_series(
                    s.points
                        .iter()
                        .map(|&p| Circle::new(p, 3, s.colour.filled())),
                )?;
            }
        }
        root.present()?;
    }
    Ok(svg)
}

/// One bar of the distribution: left and right edge (ms) and count.
type Bar = (f64, f64, u64);

/// Bars from the buckets: usable buckets only, sorted, without the empty
/// buckets before the first and after the last update.
fn bars(buckets: &[LatencyBucket]) -> Vec<Bar> {
    let mut usable: Vec<LatencyBucket> = buckets
        .iter()
        .copied()
        .filter(|b| b.upper_ms.is_finite() && b.upper_ms > 0.0)
        .collect();
    usable.sort_by(|a, b| a.upper_ms.total_cmp(&b.upper_ms));
    let mut bars = Vec::with_capacity(usable.len());
    let mut left = None;
    for b in &usable {
        let from = left.unwrap_or(b.upper_ms / BUCKET_RATIO);
        if b.upper_ms > from {
            bars.push((from, b.upper_ms, b.count));
        }
        left = Some(b.upper_ms);
    }
    let first = bars.iter().position(|b| b.2 > 0);
    let last = bars.iter().rposition(|b| b.2 > 0);
    match (first, last) {
        (Some(first), Some(last)) => bars[first..=last].to_vec(),
        _ => Vec::new(),
    }
}

/// Vertical lines at the overall p50 and p99, when there were samples.
fn latency_marks(p: &Percentiles) -> Vec<(&'static str, RGBColor, f64)> {
    if p.count == 0 {
        return Vec::new();
    }
    [("p50", P50_COLOUR, p.p50), ("p99", P99_COLOUR, p.p99)]
        .into_iter()
        .filter(|m| m.2.is_finite() && m.2 > 0.0)
        .collect()
}

/// Bars on a logarithmic latency axis.
fn distribution_plot(bars: &[Bar], marks: &[(&str, RGBColor, f64)]) -> Plot {
    let x_min = bars.first().map_or(0.1, |b| b.0);
    let x_max = bars.last().map_or(1.0, |b| b.1);
    let top = y_top(bars.iter().map(|b| b.2).max().unwrap_or(0) as f64);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, PLOT_SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(14)
            .margin_right(24)
            .x_label_area_size(46)
            .y_label_area_size(86)
            .build_cartesian_2d(
                (x_min..x_max)
                    .log_scale()
                    .with_key_points(log_ticks(x_min, x_max)),
                0f64..top,
            )?;
        chart
            .configure_mesh()
            .x_desc("update latency (ms, log scale)")
            .y_desc("updates")
            .x_labels(12)
            .y_labels(7)
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| thousands(*v))
            .label_style(("sans-serif", 15).into_font().color(&AXIS_COLOUR))
            .axis_desc_style(("sans-serif", 15).into_font().color(&AXIS_COLOUR))
            .axis_style(AXIS_COLOUR)
            .bold_line_style(GRID_COLOUR)
            .light_line_style(WHITE.mix(0.0))
            .disable_x_mesh()
            .draw()?;
        chart.draw_series(bars.iter().map(|&(l, r, n)| {
            Rectangle::new([(l, 0.0), (r, n as f64)], BAR_COLOUR.mix(0.85).filled())
        }))?;
        chart
            .draw_series(bars.iter().map(|&(l, r, n)| {
                Rectangle::new([(l, 0.0), (r, n as f64)], WHITE.stroke_width(1))
            }))?;
        for &(_, colour, x) in marks {
            if (x_min..=x_max).contains(&x) {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(x, 0.0), (x, top)],
                    colour.stroke_width(2),
                )))?;
            }
        }
        root.present()?;
    }
    Ok(svg)
}

// ---------------------------------------------------------------------------
// Tables

/// A row of the group table: a section heading, or a figure with its value
/// and whether that value is a problem.
enum Row {
    Section(&'static str),
    Figure(
        &'static str,
        fn(&GroupReport) -> String,
        fn(&GroupReport) -> bool,
    ),
}

fn never(_: &GroupReport) -> bool {
    false
}

const GROUP_ROWS: &[Row] = &[
    Row::Section("Updates"),
    Row::Figure("Bots", |g| count(g.bots), never),
    Row::Figure("Updates applied in the window", |g| int(g.updates), never),
    Row::Figure(
        "Updates per bot per second",
        |g| fixed(g.updates_per_bot_per_s, 2),
        never,
    ),
    Row::Figure(
        "Updates missed (skipped ticks)",
        |g| int(g.updates_missed),
        never,
    ),
    Row::Figure("Full snapshots", |g| int(g.full_snapshots), never),
    Row::Figure(
        "Mean baseline age (ticks)",
        |g| fixed(g.mean_baseline_age, 2),
        never,
    ),
    Row::Figure(
        "Checksum mismatches",
        |g| int(g.checksum_mismatches),
        |g| g.checksum_mismatches > 0,
    ),
    Row::Figure(
        "Undecodable updates",
        |g| int(g.decode_errors),
        |g| g.decode_errors > 0,
    ),
    Row::Figure(
        "Errors (all kinds)",
        |g| int(g.errors.values().sum()),
        |g| g.errors.values().any(|&n| n > 0),
    ),
    Row::Section("Downstream, bytes per client per second"),
    Row::Figure(
        "Payload",
        |g| thousands(g.down_payload_bytes_per_client_s),
        never,
    ),
    Row::Figure(
        "Framed (+ WebSocket headers, or QUIC stream length prefixes)",
        |g| thousands(g.down_framed_bytes_per_client_s),
        never,
    ),
    Row::Figure(
        "Wire estimate (+ packet headers for the transport)",
        |g| thousands(g.down_wire_estimate_bytes_per_client_s),
        never,
    ),
    Row::Figure(
        "Wire estimate, kbit/s",
        |g| kbit(g.down_wire_estimate_bytes_per_client_s).replace(" kbit/s", ""),
        never,
    ),
    Row::Section("Upstream, bytes per client per second"),
    Row::Figure(
        "Payload",
        |g| thousands(g.up_payload_bytes_per_client_s),
        never,
    ),
    Row::Figure(
        "Framed (+ WebSocket headers and masks, or QUIC stream length prefixes)",
        |g| thousands(g.up_framed_bytes_per_client_s),
        never,
    ),
    Row::Figure(
        "Wire estimate (+ packet headers for the transport)",
        |g| thousands(g.up_wire_estimate_bytes_per_client_s),
        never,
    ),
    Row::Figure(
        "Wire estimate, kbit/s",
        |g| kbit(g.up_wire_estimate_bytes_per_client_s).replace(" kbit/s", ""),
        never,
    ),
];

fn tables(out: &mut String, r: &Report) -> fmt::Result {
    let w = &r.well_behaved;
    let groups: Vec<(&str, &GroupReport)> = std::iter::once(("Well-behaved", w))
        .chain(r.misbehaving.as_ref().map(|m| ("Misbehaving", m)))
        .collect();

    out.push_str("<section>\n<h2>Group figures</h2>\n");
    if r.misbehaving.is_some() {
        out.push_str(
            "<p class=\"note\">The misbehaving bots ran alongside the well-behaved ones. Compare the columns: \
             the well-behaved figures should look like those of a run without misbehaving peers \
             (no checksum mismatches, no errors, steady update rate and latency); errors in the \
             misbehaving column are what they provoked on purpose.</p>\n",
        );
    }
    out.push_str("<div class=\"tablewrap\"><table>\n<thead><tr><th>Figure</th>");
    for (name, _) in &groups {
        write!(out, "<th class=\"num\">{name}</th>")?;
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in GROUP_ROWS {
        match row {
            Row::Section(title) => writeln!(
                out,
                "<tr class=\"section\"><td colspan=\"{}\">{title}</td></tr>",
                groups.len() + 1
            )?,
            Row::Figure(name, value, bad) => {
                write!(out, "<tr><td>{name}</td>")?;
                for (i, (_, g)) in groups.iter().enumerate() {
                    // Only the well-behaved group gates the run; the
                    // misbehaving one provokes errors on purpose.
                    let class = if i == 0 && bad(g) { "num bad" } else { "num" };
                    write!(out, "<td class=\"{class}\">{}</td>", escape(&value(g)))?;
                }
                out.push_str("</tr>\n");
            }
        }
    }
    out.push_str("</tbody></table></div>\n</section>\n");

    out.push_str("<section>\n<h2>Timing percentiles</h2>\n");
    out.push_str(
        "<p class=\"note\">Update latency: server tick start to world rebuilt. Jitter: deviation of update \
         inter-arrival times from the tick period. RTT: ping round trip. Event answer: an <code>echo</code> \
         event emitted with an ack to its answer (answered events only). All in milliseconds, inside the \
         measurement window.</p>\n",
    );
    percentile_head(out, true)?;
    let measures: [(&str, PickPercentiles); 4] = [
        ("Update latency", |g| &g.latency_ms),
        ("Update jitter", |g| &g.jitter_ms),
        ("Ping RTT", |g| &g.rtt_ms),
        ("Event answer", |g| &g.answer_latency_ms),
    ];
    for (measure, get) in measures {
        for (group, g) in &groups {
            percentile_row(out, measure, Some(group), get(g))?;
        }
    }
    out.push_str("</tbody></table></div>\n");

    out.push_str("<h2>Connection setup</h2>\n<p class=\"note\">All bots, outside the measurement window (ms).</p>\n");
    percentile_head(out, false)?;
    percentile_row(out, "Connect and greet", None, &r.connect_ms)?;
    percentile_row(out, "Greeted to joined", None, &r.join_ms)?;
    if let Some(redirected) = &r.join_redirected_ms {
        percentile_row(out, "Joined without a redirect", None, &r.join_direct_ms)?;
        percentile_row(out, "Joined through a redirect", None, redirected)?;
    }
    out.push_str("</tbody></table></div>\n");
    writeln!(
        out,
        "<p class=\"note\">Bots planned {}, connected {}, joined {}, failed {}.</p>",
        count(r.bots.planned),
        count(r.bots.connected),
        count(r.bots.joined),
        count(r.bots.failed)
    )?;
    out.push_str("</section>\n");

    events_table(out, r, &groups)?;
    errors_table(out, &groups)?;
    network_table(out, r)?;
    server_table(out, r)?;
    timeline_table(out, &r.timeline)
}

/// The well-behaved bots per network profile (`--network`): their figures
/// side by side, and what the link conditioners applied.
fn network_table(out: &mut String, r: &Report) -> fmt::Result {
    if r.network.is_empty() {
        return Ok(());
    }
    out.push_str("<section>\n<h2>Networks</h2>\n");
    writeln!(
        out,
        "<p class=\"note\">Well-behaved bots behind simulated networks ({}), one column per profile. \
         Applied: what the link conditioners did over the whole run, server to client (client to server); \
         datagrams only are lost, duplicated or reordered, reliable frames are retransmitted (delayed).</p>",
        escape(r.network_mix.as_deref().unwrap_or(""))
    )?;
    out.push_str("<div class=\"tablewrap\"><table>\n<thead><tr><th>Figure</th>");
    for g in &r.network {
        write!(out, "<th class=\"num\">{}</th>", escape(&g.profile))?;
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    type Cell = fn(&crate::network::NetworkGroup) -> String;
    let rows: [(&str, Cell); 14] = [
        ("Bots", |g| count(g.figures.bots)),
        ("Update latency p50", |g| ms(g.figures.latency_ms.p50)),
        ("Update latency p99", |g| ms(g.figures.latency_ms.p99)),
        ("Ping RTT p50", |g| ms(g.figures.rtt_ms.p50)),
        ("Mean baseline age (ticks)", |g| {
            fixed(g.figures.mean_baseline_age, 2)
        }),
        ("Full snapshots", |g| int(g.figures.full_snapshots)),
        ("Updates missed", |g| int(g.figures.updates_missed)),
        ("Stale updates dropped", |g| {
            int(g.figures.updates_reordered)
        }),
        ("Checksums agreeing", |g| {
            format!("{} %", fixed(g.checksum_agreement_pct, 2))
        }),
        ("Down / up B/client/s", |g| {
            format!(
                "{} / {}",
                bytes_rate(g.figures.down_payload_bytes_per_client_s),
                bytes_rate(g.figures.up_payload_bytes_per_client_s)
            )
        }),
        ("Applied: lost", |g| {
            format!("{} ({})", int(g.applied.down.lost), int(g.applied.up.lost))
        }),
        ("Applied: duplicated / reordered", |g| {
            format!(
                "{} ({}) / {} ({})",
                int(g.applied.down.duplicated),
                int(g.applied.up.duplicated),
                int(g.applied.down.reordered),
                int(g.applied.up.reordered)
            )
        }),
        ("Applied: retransmitted / throttled", |g| {
            format!(
                "{} ({}) / {} ({})",
                int(g.applied.down.retransmitted),
                int(g.applied.up.retransmitted),
                int(g.applied.down.throttled),
                int(g.applied.up.throttled)
            )
        }),
        ("Applied: mean delay", |g| {
            format!(
                "{} ({})",
                ms(g.applied.down.mean_delay_ms()),
                ms(g.applied.up.mean_delay_ms())
            )
        }),
    ];
    for (name, cell) in rows {
        write!(out, "<tr><td>{name}</td>")?;
        for g in &r.network {
            let bad = name == "Checksums agreeing" && g.figures.checksum_mismatches > 0;
            let class = if bad { "num bad" } else { "num" };
            write!(out, "<td class=\"{class}\">{}</td>", escape(&cell(g)))?;
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n</section>\n");
    Ok(())
}

/// Picks one of a group's percentile sets.
type PickPercentiles = fn(&GroupReport) -> &Percentiles;

fn percentile_head(out: &mut String, with_group: bool) -> fmt::Result {
    out.push_str("<div class=\"tablewrap\"><table>\n<thead><tr><th>Measure</th>");
    if with_group {
        out.push_str("<th>Group</th>");
    }
    for h in ["samples", "mean", "p50", "p90", "p99", "max"] {
        write!(out, "<th class=\"num\">{h}</th>")?;
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    Ok(())
}

fn percentile_row(
    out: &mut String,
    measure: &str,
    group: Option<&str>,
    p: &Percentiles,
) -> fmt::Result {
    write!(out, "<tr><td>{}</td>", escape(measure))?;
    if let Some(group) = group {
        write!(out, "<td>{}</td>", escape(group))?;
    }
    write!(out, "<td class=\"num\">{}</td>", int(p.count))?;
    for v in [p.mean, p.p50, p.p90, p.p99, p.max] {
        if p.count == 0 {
            out.push_str("<td class=\"num muted\">–</td>");
        } else {
            write!(out, "<td class=\"num\">{}</td>", fixed(v, 2))?;
        }
    }
    out.push_str("</tr>\n");
    Ok(())
}

fn events_table(out: &mut String, r: &Report, groups: &[(&str, &GroupReport)]) -> fmt::Result {
    out.push_str("<section>\n<h2>Events</h2>\n");
    if groups.iter().all(|(_, g)| g.events.emitted == 0) {
        out.push_str("<p class=\"note\">No events emitted (run the swarm with <code>--events-per-second</code>).</p>\n</section>\n");
        return Ok(());
    }
    writeln!(
        out,
        "<p class=\"note\">Each bot emitted <code>echo</code> with an ack {} times a second; refusals by code \
         (the server's event rate limit answers <code>RateLimited</code>).</p>",
        fixed(r.events_per_second, 1)
    )?;
    out.push_str("<div class=\"tablewrap\"><table>\n<thead><tr><th>Outcome</th>");
    for (name, _) in groups {
        write!(out, "<th class=\"num\">{name}</th>")?;
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    let codes: BTreeSet<&String> = groups
        .iter()
        .flat_map(|(_, g)| g.events.refused.keys())
        .collect();
    let mut rows: Vec<(String, Vec<u64>)> = vec![
        (
            "emitted".into(),
            groups.iter().map(|(_, g)| g.events.emitted).collect(),
        ),
        (
            "answered".into(),
            groups.iter().map(|(_, g)| g.events.answered).collect(),
        ),
    ];
    for code in codes {
        rows.push((
            format!("refused: {code}"),
            groups
                .iter()
                .map(|(_, g)| g.events.refused.get(code).copied().unwrap_or(0))
                .collect(),
        ));
    }
    rows.push((
        "timed out".into(),
        groups.iter().map(|(_, g)| g.events.timed_out).collect(),
    ));
    rows.push((
        "cut by a close".into(),
        groups.iter().map(|(_, g)| g.events.cut_by_close).collect(),
    ));
    rows.push((
        "skipped (too many in flight)".into(),
        groups.iter().map(|(_, g)| g.events.skipped).collect(),
    ));
    for (name, values) in rows {
        write!(out, "<tr><td>{}</td>", escape(&name))?;
        for v in values {
            write!(out, "<td class=\"num\">{}</td>", int(v))?;
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n</section>\n");
    Ok(())
}

fn errors_table(out: &mut String, groups: &[(&str, &GroupReport)]) -> fmt::Result {
    out.push_str("<section>\n<h2>Errors by kind</h2>\n");
    let kinds: BTreeSet<&String> = groups.iter().flat_map(|(_, g)| g.errors.keys()).collect();
    if kinds.is_empty() {
        out.push_str("<p class=\"note\">No errors.</p>\n</section>\n");
        return Ok(());
    }
    out.push_str("<div class=\"tablewrap\"><table>\n<thead><tr><th>Kind</th>");
    for (name, _) in groups {
        write!(out, "<th class=\"num\">{name}</th>")?;
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for kind in kinds {
        write!(out, "<tr><td><code>{}</code></td>", escape(kind))?;
        for (i, (_, g)) in groups.iter().enumerate() {
            let n = g.errors.get(kind).copied().unwrap_or(0);
            // Errors among the well-behaved bots fail the run; among the
            // misbehaving ones they are expected.
            let class = if i == 0 && n > 0 { "num bad" } else { "num" };
            write!(out, "<td class=\"{class}\">{}</td>", int(n))?;
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n</section>\n");
    Ok(())
}

fn server_table(out: &mut String, r: &Report) -> fmt::Result {
    out.push_str("<section>\n<h2>Server</h2>\n");
    let Some(s) = &r.server else {
        out.push_str("<p class=\"note\">No server figures: the server was not run by the benchmark.</p>\n</section>\n");
        return Ok(());
    };
    let rows = [
        (
            "CPU time in the window (user + system)",
            format!("{} s", fixed(s.cpu_s, 3)),
        ),
        (
            "CPU per room-tick",
            format!("{} ms", fixed(s.cpu_ms_per_room_tick, 4)),
        ),
        ("Room-ticks simulated", int(s.room_ticks)),
        (
            "Late ticks (started more than a period late)",
            format!(
                "{} ({})",
                int(s.late_ticks),
                percent(s.late_ticks, s.room_ticks)
            ),
        ),
        (
            "Tick duration p50",
            format!("{} ms", fixed(s.tick_p50_ms, 3)),
        ),
        (
            "Tick duration p99",
            format!("{} ms", fixed(s.tick_p99_ms, 3)),
        ),
        (
            "Longest tick (bucket upper bound)",
            format!("≤ {} ms", fixed(s.tick_max_ms, 3)),
        ),
        (
            "Resident memory at the end",
            format!("{} MiB", fixed(s.rss_mib, 1)),
        ),
    ];
    out.push_str("<div class=\"tablewrap\"><table>\n<thead><tr><th>Figure</th><th class=\"num\">Value</th></tr></thead>\n<tbody>\n");
    for (name, value) in rows {
        writeln!(
            out,
            "<tr><td>{name}</td><td class=\"num\">{}</td></tr>",
            escape(&value)
        )?;
    }
    out.push_str("</tbody></table></div>\n</section>\n");
    Ok(())
}

fn timeline_table(out: &mut String, timeline: &[SecondReport]) -> fmt::Result {
    if timeline.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "<details>\n<summary>Per-second figures ({} seconds)</summary>",
        count(timeline.len())
    )?;
    out.push_str("<div class=\"tablewrap\"><table>\n<thead><tr>");
    for h in [
        "second",
        "updates",
        "latency p50 (ms)",
        "latency p99 (ms)",
        "down B/client",
        "up B/client",
    ] {
        write!(out, "<th class=\"num\">{h}</th>")?;
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for s in timeline {
        writeln!(
            out,
            "<tr><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            s.second,
            int(s.updates),
            fixed(s.latency_p50_ms, 2),
            fixed(s.latency_p99_ms, 2),
            thousands(s.down_bytes_per_client),
            thousands(s.up_bytes_per_client)
        )?;
    }
    out.push_str("</tbody></table></div>\n</details>\n");
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::report::BotCounts;

    fn percentiles(base: f64) -> Percentiles {
        Percentiles {
            count: 12_345,
            mean: base * 1.1,
            p50: base,
            p90: base * 1.8,
            p99: base * 3.2,
            max: base * 7.5,
        }
    }

    fn sample() -> Report {
        let timeline = (0..12)
            .map(|i| SecondReport {
                second: i,
                updates: 11_940 + i as u64,
                latency_p50_ms: 1.2 + (i % 3) as f64 * 0.1,
                latency_p99_ms: 4.5 + (i % 4) as f64 * 0.4,
                down_bytes_per_client: 9_800.0 + (i * 37) as f64,
                up_bytes_per_client: 1_450.0,
            })
            .collect();
        let latency_distribution = [
            (0.8, 0),
            (1.0, 1_200),
            (1.25, 6_100),
            (1.5625, 3_000),
            (1.953, 800),
            (2.44, 190),
            (4.77, 12),
        ]
        .into_iter()
        .map(|(upper_ms, count)| LatencyBucket { upper_ms, count })
        .collect();
        let well_behaved = GroupReport {
            bots: 400,
            updates: 143_512,
            updates_per_bot_per_s: 29.9,
            updates_missed: 7,
            full_snapshots: 3,
            mean_baseline_age: 1.02,
            checksum_mismatches: 0,
            decode_errors: 0,
            updates_reordered: 0,
            latency_ms: percentiles(1.25),
            jitter_ms: percentiles(0.4),
            rtt_ms: percentiles(0.9),
            down_payload_bytes_per_client_s: 9_876.5,
            down_framed_bytes_per_client_s: 9_936.5,
            down_wire_estimate_bytes_per_client_s: 11_496.5,
            up_payload_bytes_per_client_s: 1_450.0,
            up_framed_bytes_per_client_s: 1_690.0,
            up_wire_estimate_bytes_per_client_s: 3_250.0,
            errors: BTreeMap::new(),
            ..GroupReport::default()
        };
        let misbehaving = GroupReport {
            bots: 40,
            errors: BTreeMap::from([
                ("oversize frame".to_owned(), 17),
                ("<b>bold</b>".to_owned(), 2),
            ]),
            ..GroupReport::default()
        };
        Report {
            tool: "tickwire-bot 0.1.0".into(),
            url: "ws://127.0.0.1:7878/ws".into(),
            transport: "ws".into(),
            behaviour: "chaos".into(),
            rooms: 40,
            players_per_room: 11,
            seed: 42,
            ramp_up_s: 5.0,
            settle_s: 2.0,
            window_s: 12.0,
            events_per_second: 0.0,
            bots: BotCounts {
                planned: 440,
                connected: 440,
                joined: 440,
                failed: 0,
                redirected: 0,
                verifying: 440,
            },
            connect_ms: percentiles(2.5),
            join_ms: percentiles(0.7),
            join_direct_ms: percentiles(0.7),
            join_redirected_ms: None,
            well_behaved,
            misbehaving: Some(misbehaving),
            timeline,
            latency_distribution,
            bot_cpu_s: 3.21,
            server: Some(ServerFigures {
                cpu_s: 1.5,
                cpu_ms_per_room_tick: 0.0312,
                room_ticks: 48_000,
                late_ticks: 3,
                tick_p50_ms: 0.021,
                tick_p99_ms: 0.118,
                tick_max_ms: 0.512,
                rss_mib: 61.4,
            }),
            resume: None,
            agents: Vec::new(),
            network_mix: None,
            network: Vec::new(),
            phases: Vec::new(),
            failures: Vec::new(),
        }
    }

    fn assert_offline(html: &str) {
        let lower = html.to_lowercase();
        for needle in [
            "<script", "http://", "https://", "<link", "@import", "url(", "<img",
        ] {
            assert!(!lower.contains(needle), "page contains {needle:?}");
        }
    }

    #[test]
    fn html_sample_page_has_plots_figures_and_no_external_references() {
        let html = render(&sample());
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.trim_end().ends_with("</html>"));
        assert_eq!(html.matches("<svg").count(), 3, "three plots");
        assert_eq!(html.matches("</svg>").count(), 3);
        assert_offline(&html);
        for figure in [
            "tickwire swarm report",
            "PASS",
            "ws://127.0.0.1:7878/ws",
            "chaos",
            "40 × 11 = 440 bots",
            "1.25",        // latency p50
            "4.00",        // latency p99
            "29.9",        // updates per bot per second
            "9,877",       // downstream payload
            "11,497 B/s",  // downstream wire estimate
            "1,450",       // upstream payload
            "440 / 440",   // bots joined / planned
            "3.21",        // bot CPU
            "0.0312",      // server CPU per room-tick
            "48,000",      // room-ticks
            "0.118",       // tick p99
            "143,512",     // updates
            "12,345",      // samples
            "Misbehaving", // the second group
            "oversize frame",
            "Connect and greet",
        ] {
            assert!(html.contains(figure), "page lacks {figure:?}");
        }
        assert!(
            html.contains("&lt;b&gt;bold&lt;/b&gt;"),
            "error kinds are escaped"
        );
        assert!(!html.contains("<b>bold</b>"));
        assert!(!html.contains("No data"));
    }

    #[test]
    fn html_escapes_everything_from_the_report() {
        let mut report = sample();
        report.url = "\"<script>alert(1)</script>\"".into();
        report.behaviour = "it's <i>".into();
        report.tool = "a & b".into();
        report
            .well_behaved
            .errors
            .insert("<img src=x onerror=alert(2)>".into(), 1);
        report.failures = vec!["<script>alert(3)</script>".into()];
        let html = render(&report);
        assert!(!html.contains("<script"), "no script tag gets through");
        assert!(html.contains("&quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;"));
        assert!(html.contains("it&#39;s &lt;i&gt;"));
        assert!(html.contains("a &amp; b"));
        assert!(html.contains("&lt;img src=x onerror=alert(2)&gt;"));
        assert!(html.contains("&lt;script&gt;alert(3)&lt;/script&gt;"));
        assert!(html.contains("badge fail"));
        assert_offline(&html);
    }

    #[test]
    fn html_empty_report_renders_with_no_data_notes() {
        let html = render(&Report::default());
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(!html.contains("<svg"));
        assert_eq!(html.matches("No data").count(), 3);
        assert_offline(&html);
    }

    #[test]
    fn html_odd_numbers_do_not_panic() {
        let mut report = sample();
        report.timeline = vec![SecondReport {
            second: 0,
            updates: 0,
            latency_p50_ms: f64::NAN,
            latency_p99_ms: f64::INFINITY,
            down_bytes_per_client: -1.0,
            up_bytes_per_client: 0.0,
        }];
        report.latency_distribution = vec![
            LatencyBucket {
                upper_ms: f64::NAN,
                count: 5,
            },
            LatencyBucket {
                upper_ms: 0.0,
                count: 5,
            },
            LatencyBucket {
                upper_ms: 2.0,
                count: 9,
            },
        ];
        report.well_behaved.down_payload_bytes_per_client_s = f64::NAN;
        report.bot_cpu_s = f64::INFINITY;
        let html = render(&report);
        assert_eq!(html.matches("<svg").count(), 3);
        // A distribution with no updates in any bucket has nothing to draw.
        report.latency_distribution = vec![LatencyBucket {
            upper_ms: 1.0,
            count: 0,
        }];
        let html = render(&report);
        assert_eq!(html.matches("<svg").count(), 2);
        assert!(html.contains("No data"));
    }

    #[test]
    fn html_failures_are_listed() {
        let mut report = sample();
        report.well_behaved.checksum_mismatches = 2;
        report.judge();
        let html = render(&report);
        assert!(html.contains("badge fail"));
        assert!(html.contains("<li>2 checksum mismatches</li>"));
        assert!(html.contains("<title>tickwire swarm report: FAIL</title>"));
    }

    #[test]
    fn html_helpers() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1_000.0), "1,000");
        assert_eq!(thousands(1_234_567.6), "1,234,568");
        assert_eq!(thousands(-12_345.0), "-12,345");
        assert_eq!(thousands(-0.2), "0");
        assert_eq!(thousands(f64::NAN), "–");
        assert_eq!(int(12_345_678), "12,345,678");
        assert_eq!(ms(1.0 / 3.0), "0.33 ms");
        assert_eq!(tick(0.2), "0.2");
        assert_eq!(percent(3, 100_000), "< 0.01%");
        assert_eq!(percent(1, 8), "12.50%");
        assert_eq!(percent(0, 8), "0%");
        assert_eq!(percent(1, 0), "–");
        assert_eq!(tick(20.0), "20");
        assert_eq!(tick(0.0), "0");
        assert_eq!(log_ticks(0.4, 30.0), vec![0.5, 1.0, 2.0, 5.0, 10.0, 20.0]);
        assert_eq!(log_ticks(1.1, 1.9), vec![1.1, 1.9]);
        assert_eq!(log_ticks(0.0, 1.0).len(), 0);
        let bars = bars(&[
            LatencyBucket {
                upper_ms: 1.0,
                count: 0,
            },
            LatencyBucket {
                upper_ms: 2.0,
                count: 3,
            },
            LatencyBucket {
                upper_ms: 4.0,
                count: 0,
            },
            LatencyBucket {
                upper_ms: 8.0,
                count: 1,
            },
            LatencyBucket {
                upper_ms: 16.0,
                count: 0,
            },
        ]);
        assert_eq!(bars, vec![(1.0, 2.0, 3), (2.0, 4.0, 0), (4.0, 8.0, 1)]);
    }

    #[test]
    fn html_write_html_writes_the_page() {
        let path =
            std::env::temp_dir().join(format!("tickwire-report-{}.html", std::process::id()));
        sample().write_html(&path).expect("temp dir is writable");
        let written = std::fs::read_to_string(&path).expect("just written");
        std::fs::remove_file(&path).expect("just written");
        assert_eq!(written, render(&sample()));
    }
}
