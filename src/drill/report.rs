//! The revocation drill's report: `report.json` (everything measured) and `report.html` (a
//! self-contained page: no script, no external resources; one inline SVG timeline per scenario
//! with one lane per person, and the table of expectations). Pure: builds strings from a
//! [`Report`]; the caller writes the files.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The whole drill.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    /// `eds-gateway drill run`.
    pub tool: String,
    /// Crate version.
    pub version: String,
    /// Start, RFC 3339.
    pub started_at: String,
    /// End, RFC 3339.
    pub finished_at: String,
    /// Every expectation of every scenario held.
    pub passed: bool,
    /// What the drill ran against.
    pub setup: Setup,
    /// Scenarios in the order they ran.
    pub scenarios: Vec<ScenarioReport>,
}

/// What the drill ran against.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Setup {
    /// `in-process` (everything on loopback, made by the drill) or `external`.
    pub mode: String,
    /// Notes for the operator (what was started, what could not be isolated).
    pub notes: Vec<String>,
}

/// One person's lane in a scenario.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Lane {
    /// Display name.
    pub name: String,
    /// IIN.
    pub iin: String,
    /// Key type (`gost2015`, `rsa-auth`).
    pub key: String,
    /// Certificate serial (hex).
    pub serial: String,
    /// `victim` (revoked or blocked), `staff`, or `operator` (the admin who blocks).
    pub role: String,
}

/// Something that happened, `t_ms` after the scenario started.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Event {
    /// Milliseconds since the scenario started (response time for requests and logins).
    pub t_ms: u64,
    /// Lane index, when the event belongs to a person.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lane: Option<usize>,
    /// `login`, `login_refused`, `request`, `revoked`, `blocked`, `unblocked`, `evicted`,
    /// `ocsp_down`, `crl_down`, `restored`, `gateway_started`, `note`.
    pub kind: String,
    /// HTTP status (requests, logins).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Reason code (refusals).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Event {
    /// An event without status or code.
    pub fn new(t_ms: u64, lane: Option<usize>, kind: &str) -> Event {
        Event {
            t_ms,
            lane,
            kind: kind.into(),
            status: None,
            code: None,
            detail: None,
        }
    }
}

/// A goal checked against a measurement.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Expectation {
    /// What is expected, in words.
    pub name: String,
    /// The goal (e.g. `≤ 2.0 s`, `cert_revoked`).
    pub goal: String,
    /// What was measured.
    pub measured: String,
    /// Held.
    pub passed: bool,
}

/// One scenario run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScenarioReport {
    /// `revoke-push`, `revoke-ocsp`, `revoke-crl`, `outage`, `block`.
    pub name: String,
    /// Title for people.
    pub title: String,
    /// The gateway settings that mattered (mode, intervals, channels enabled).
    pub gateway: Value,
    /// T0: the revocation or block (ms since the scenario started).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub t0_ms: Option<u64>,
    /// Length of the scenario.
    pub duration_ms: u64,
    /// The people, one lane each.
    pub lanes: Vec<Lane>,
    /// What happened, in time order.
    pub events: Vec<Event>,
    /// Named measurements (milliseconds, counts, codes).
    pub measurements: BTreeMap<String, Value>,
    /// Goals and whether they held.
    pub expectations: Vec<Expectation>,
    /// Why the scenario could not run to its end (its expectations then fail).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ScenarioReport {
    /// Every expectation held, there was at least one, and nothing broke.
    pub fn passed(&self) -> bool {
        self.error.is_none()
            && !self.expectations.is_empty()
            && self.expectations.iter().all(|e| e.passed)
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn secs(ms: u64) -> String {
    format!("{:.2} s", ms as f64 / 1000.0)
}

const LANE_H: u32 = 46;
const LEFT: u32 = 230;
const PLOT_W: u32 = 900;
const TOP: u32 = 34;

fn x_of(t_ms: u64, duration_ms: u64) -> f64 {
    let d = duration_ms.max(1) as f64;
    f64::from(LEFT) + (t_ms as f64 / d).min(1.0) * f64::from(PLOT_W)
}

/// Where a label next to a mark at `x` goes: right of it, or left of it (anchored at its end)
/// in the last third of the plot so it is not cut off.
fn label_at(x: f64) -> (f64, &'static str) {
    if x > f64::from(LEFT) + f64::from(PLOT_W) * 0.66 {
        (x - 9.0, "end")
    } else {
        (x + 9.0, "start")
    }
}

/// The SVG timeline of one scenario: a lane per person (`<g class="lane">`), request ticks
/// (grey = served, red = refused), logins, refusals, the eviction, T0 and outage phases.
pub fn timeline_svg(s: &ScenarioReport) -> String {
    let lanes = s.lanes.len() as u32;
    let height = TOP + lanes * LANE_H + 40;
    let width = LEFT + PLOT_W + 30;
    let mut o = String::new();
    let _ = write!(
        o,
        "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"Timeline of {}\" font-family=\"sans-serif\" font-size=\"12\">",
        esc(&s.name)
    );
    let _ = write!(
        o,
        "<rect x=\"0\" y=\"0\" width=\"{width}\" height=\"{height}\" fill=\"#ffffff\"/>"
    );
    // Outage phases as shaded bands behind the lanes.
    let mark_t = |kind: &str| s.events.iter().find(|e| e.kind == kind).map(|e| e.t_ms);
    let bands = [
        (
            "ocsp_down",
            "crl_down",
            "#fff1cc",
            "OCSP down / OCSP недоступен",
        ),
        (
            "crl_down",
            "restored",
            "#ffd9d0",
            "OCSP+CRL down, CRL stale / CRL устарел",
        ),
    ];
    for (from, to, colour, label) in bands {
        if let Some(a) = mark_t(from) {
            let b = mark_t(to).unwrap_or(s.duration_ms);
            let (xa, xb) = (x_of(a, s.duration_ms), x_of(b, s.duration_ms));
            let _ = write!(
                o,
                "<rect class=\"phase\" x=\"{xa:.1}\" y=\"{TOP}\" width=\"{:.1}\" height=\"{}\" fill=\"{colour}\"/>\
                 <text x=\"{:.1}\" y=\"{}\" fill=\"#7a5a00\">{}</text>",
                (xb - xa).max(1.0),
                lanes * LANE_H,
                xa + 3.0,
                TOP + lanes * LANE_H + 14,
                esc(label)
            );
        }
    }
    // Axis: seconds.
    let total_s = s.duration_ms.div_ceil(1000);
    let step = (total_s / 12).max(1);
    let mut sec = 0;
    while sec <= total_s {
        let x = x_of(sec * 1000, s.duration_ms);
        let _ = write!(
            o,
            "<line x1=\"{x:.1}\" y1=\"{}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#e3e6ea\"/>\
             <text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\" fill=\"#555\">{sec} s</text>",
            TOP - 4,
            TOP + lanes * LANE_H,
            TOP - 8
        );
        sec += step;
    }
    for (i, lane) in s.lanes.iter().enumerate() {
        let y0 = TOP + i as u32 * LANE_H;
        let mid = y0 + LANE_H / 2;
        let fill = if lane.role == "victim" {
            "#fdecec"
        } else {
            "#f6f8fa"
        };
        let _ = write!(
            o,
            "<g class=\"lane\" data-iin=\"{}\" data-role=\"{}\">\
             <rect x=\"0\" y=\"{y0}\" width=\"{width}\" height=\"{}\" fill=\"{fill}\" fill-opacity=\"0.6\"/>\
             <text x=\"6\" y=\"{}\" font-weight=\"bold\">{}</text>\
             <text x=\"6\" y=\"{}\" fill=\"#555\">{} · {} · {}</text>\
             <line x1=\"{LEFT}\" y1=\"{mid}\" x2=\"{}\" y2=\"{mid}\" stroke=\"#c9ced6\"/>",
            esc(&lane.iin),
            esc(&lane.role),
            LANE_H - 2,
            y0 + 18,
            esc(&lane.name),
            y0 + 34,
            esc(&lane.iin),
            esc(&lane.key),
            esc(&lane.role),
            LEFT + PLOT_W
        );
        for e in s.events.iter().filter(|e| e.lane == Some(i)) {
            let x = x_of(e.t_ms, s.duration_ms);
            match e.kind.as_str() {
                "request" => {
                    let ok = e.status == Some(200);
                    let _ = write!(
                        o,
                        "<line class=\"tick {}\" x1=\"{x:.1}\" y1=\"{}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"1\"/>",
                        if ok { "ok" } else { "refused" },
                        mid - 6,
                        mid + 6,
                        if ok { "#8a96a3" } else { "#d62728" }
                    );
                }
                "login" => {
                    let (lx, anchor) = label_at(x);
                    let _ = write!(
                        o,
                        "<circle class=\"login\" cx=\"{x:.1}\" cy=\"{mid}\" r=\"6\" fill=\"#2ca02c\"><title>login {}</title></circle>\
                         <text x=\"{lx:.1}\" y=\"{}\" text-anchor=\"{anchor}\" fill=\"#1d6b1d\">login</text>",
                        secs(e.t_ms),
                        mid - 8
                    );
                }
                "login_refused" => {
                    let code = e.code.clone().unwrap_or_default();
                    let _ = write!(
                        o,
                        "<path class=\"refused-login\" d=\"M{x:.1},{} l6,10 l-12,0 z\" fill=\"#ff7f0e\"><title>login refused {} at {}</title></path>",
                        mid + 2,
                        esc(&code),
                        secs(e.t_ms)
                    );
                }
                "probe_login" => {
                    let _ = write!(
                        o,
                        "<circle class=\"probe-ok\" cx=\"{x:.1}\" cy=\"{}\" r=\"4\" fill=\"none\" stroke=\"#2ca02c\"><title>new login accepted at {}</title></circle>",
                        mid + 10,
                        secs(e.t_ms)
                    );
                }
                "evicted" => {
                    let (lx, anchor) = label_at(x);
                    let _ = write!(
                        o,
                        "<g class=\"evicted\"><path d=\"M{:.1},{} l12,12 M{:.1},{} l-12,12\" stroke=\"#b00020\" stroke-width=\"3\"/>\
                         <text x=\"{lx:.1}\" y=\"{}\" text-anchor=\"{anchor}\" fill=\"#b00020\" font-weight=\"bold\">evicted {} ({})</text></g>",
                        x - 6.0,
                        mid - 6,
                        x + 6.0,
                        mid - 6,
                        mid + 18,
                        esc(e.detail.as_deref().unwrap_or("")),
                        esc(e.code.as_deref().unwrap_or(""))
                    );
                }
                _ => {}
            }
        }
        // The first refused login after T0, labelled.
        if let Some(e) = s
            .events
            .iter()
            .find(|e| e.lane == Some(i) && e.kind == "login_refused")
        {
            let (lx, anchor) = label_at(x_of(e.t_ms, s.duration_ms));
            let _ = write!(
                o,
                "<text x=\"{lx:.1}\" y=\"{}\" text-anchor=\"{anchor}\" fill=\"#a35200\">new login refused: {}</text>",
                mid - 8,
                esc(e.code.as_deref().unwrap_or(""))
            );
        }
        o.push_str("</g>");
    }
    // T0 and other whole-drill marks as vertical lines.
    for e in &s.events {
        let (colour, label) = match e.kind.as_str() {
            "revoked" => ("#d62728", "T0 revoked / отозван"),
            "blocked" => ("#d62728", "T0 blocked / заблокирован"),
            "unblocked" => ("#1f77b4", "unblocked / разблокирован"),
            "ocsp_down" => ("#bf8f00", ""),
            "crl_down" => ("#bf4f00", ""),
            "restored" => ("#1f77b4", "restored / восстановлено"),
            _ => continue,
        };
        let x = x_of(e.t_ms, s.duration_ms);
        let (lx, anchor) = label_at(x);
        let _ = write!(
            o,
            "<g class=\"mark {}\"><line x1=\"{x:.1}\" y1=\"{}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"{colour}\" stroke-width=\"2\" stroke-dasharray=\"5,3\"/>\
             <text x=\"{lx:.1}\" y=\"{}\" text-anchor=\"{anchor}\" fill=\"{colour}\" font-weight=\"bold\">{}</text></g>",
            esc(&e.kind),
            TOP - 2,
            TOP + lanes * LANE_H,
            TOP + lanes * LANE_H + 28,
            esc(label)
        );
    }
    o.push_str("</svg>");
    o
}

/// The HTML page (English with Russian headings; no script, no external resources).
pub fn html(r: &Report) -> String {
    let mut o = String::new();
    let verdict = if r.passed {
        "<p class=\"verdict pass\">PASSED — every expectation held / ПРОЙДЕНО — все ожидания выполнены</p>"
    } else {
        "<p class=\"verdict fail\">FAILED — at least one expectation did not hold / НЕ ПРОЙДЕНО — есть невыполненные ожидания</p>"
    };
    let _ = write!(
        o,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Revocation drill report — Отчёт об учении по отзыву</title>\
         <style>body{{font-family:sans-serif;margin:1.5em;color:#1b1f24;background:#fbfcfd}}\
         h1{{color:#1d4e89}}h2{{margin-top:1.6em;border-bottom:2px solid #1d4e89}}\
         table{{border-collapse:collapse;margin:.6em 0;background:#fff}}th,td{{border:1px solid #ccd;padding:.3em .7em;text-align:left;vertical-align:top}}\
         .pass{{color:#1d6b1d;font-weight:bold}}.fail{{color:#b00020;font-weight:bold}}\
         .verdict{{font-size:1.3em;padding:.5em;border:2px solid currentColor;display:inline-block}}\
         .legend span{{margin-right:1.2em}}svg{{border:1px solid #ccd;max-width:100%;height:auto}}code{{background:#eef}}</style>\
         </head><body><h1>Revocation drill report <small>/ Отчёт об учении по отзыву сертификатов</small></h1>{verdict}\
         <table><tr><th>Started / Начало</th><td>{}</td></tr><tr><th>Finished / Конец</th><td>{}</td></tr>\
         <tr><th>Setup / Стенд</th><td>{}</td></tr><tr><th>Tool</th><td>{} {}</td></tr></table>",
        esc(&r.started_at),
        esc(&r.finished_at),
        esc(&r.setup.mode),
        esc(&r.tool),
        esc(&r.version)
    );
    if !r.setup.notes.is_empty() {
        o.push_str("<ul class=\"notes\">");
        for n in &r.setup.notes {
            let _ = write!(o, "<li>{}</li>", esc(n));
        }
        o.push_str("</ul>");
    }
    o.push_str(
        "<h2>Summary / Сводка</h2><table><tr><th>Scenario / Сценарий</th><th>Result / Результат</th><th>Key figures / Ключевые показатели</th></tr>",
    );
    for s in &r.scenarios {
        let figures: Vec<String> = s
            .measurements
            .iter()
            .filter(|(k, _)| k.ends_with("_ms") || k.starts_with("requests_after"))
            .map(|(k, v)| match v.as_u64() {
                Some(ms) if k.ends_with("_ms") => format!("{k}: {}", secs(ms)),
                _ => format!("{k}: {v}"),
            })
            .collect();
        let _ = write!(
            o,
            "<tr><td><a href=\"#{}\">{}</a></td><td class=\"{}\">{}</td><td>{}</td></tr>",
            esc(&s.name),
            esc(&s.title),
            if s.passed() { "pass" } else { "fail" },
            if s.passed() { "PASS" } else { "FAIL" },
            esc(&figures.join("; "))
        );
    }
    o.push_str("</table>");
    o.push_str(
        "<p class=\"legend\"><b>How to read the timeline / Как читать шкалу:</b> \
         <span>one row per person / строка на сотрудника</span>\
         <span style=\"color:#2ca02c\">● login / вход</span>\
         <span style=\"color:#8a96a3\">| request served / запрос выполнен</span>\
         <span style=\"color:#d62728\">| request refused / запрос отклонён</span>\
         <span style=\"color:#ff7f0e\">▲ new login refused / новый вход отклонён</span>\
         <span style=\"color:#b00020\">✕ session evicted / сеанс завершён</span>\
         <span style=\"color:#d62728\">┆ T0: key revoked or blocked / ключ отозван или заблокирован</span></p>",
    );
    for s in &r.scenarios {
        let _ = write!(
            o,
            "<section class=\"scenario\" id=\"{}\"><h2>{} <span class=\"{}\">{}</span></h2>",
            esc(&s.name),
            esc(&s.title),
            if s.passed() { "pass" } else { "fail" },
            if s.passed() { "PASS" } else { "FAIL" }
        );
        let _ = write!(
            o,
            "<p>Gateway settings / Настройки шлюза: <code>{}</code></p>",
            esc(&s.gateway.to_string())
        );
        if let Some(e) = &s.error {
            let _ = write!(
                o,
                "<p class=\"fail\">The scenario could not finish / Сценарий не завершён: {}</p>",
                esc(e)
            );
        }
        o.push_str(&timeline_svg(s));
        o.push_str(
            "<h3>Expectations / Ожидания</h3><table class=\"expectations\"><tr><th>Expectation / Ожидание</th><th>Goal / Цель</th><th>Measured / Измерено</th><th>Result / Итог</th></tr>",
        );
        for e in &s.expectations {
            let _ = write!(
                o,
                "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
                if e.passed { "held" } else { "broken" },
                esc(&e.name),
                esc(&e.goal),
                esc(&e.measured),
                if e.passed { "pass" } else { "fail" },
                if e.passed { "PASS" } else { "FAIL" }
            );
        }
        o.push_str("</table>");
        let key_events: Vec<&Event> = s.events.iter().filter(|e| e.kind != "request").collect();
        o.push_str(
            "<details><summary>Events / События</summary><table><tr><th>t</th><th>Person / Сотрудник</th><th>Event / Событие</th><th>Code / Код</th><th>Detail</th></tr>",
        );
        for e in key_events {
            let who = e
                .lane
                .and_then(|i| s.lanes.get(i))
                .map(|l| l.name.clone())
                .unwrap_or_default();
            let _ = write!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                secs(e.t_ms),
                esc(&who),
                esc(&e.kind),
                esc(e.code.as_deref().unwrap_or("")),
                esc(e.detail.as_deref().unwrap_or(""))
            );
        }
        o.push_str("</table></details></section>");
    }
    o.push_str("</body></html>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ScenarioReport {
        let lane = |n: &str, role: &str| Lane {
            name: n.into(),
            iin: "850101300015".into(),
            key: "gost2015".into(),
            serial: "01".into(),
            role: role.into(),
        };
        let mut ev = vec![
            Event::new(10, Some(0), "login"),
            Event::new(12, Some(1), "login"),
        ];
        ev.push(Event {
            status: Some(200),
            ..Event::new(100, Some(0), "request")
        });
        ev.push(Event::new(500, None, "revoked"));
        ev.push(Event {
            code: Some("session_revoked".into()),
            detail: Some("+0.40 s".into()),
            ..Event::new(900, Some(0), "evicted")
        });
        ScenarioReport {
            name: "revoke-push".into(),
            title: "t <x>".into(),
            gateway: serde_json::json!({"mode": "ocsp-then-crl"}),
            t0_ms: Some(500),
            duration_ms: 1000,
            lanes: vec![lane("A", "victim"), lane("B", "staff")],
            events: ev,
            measurements: BTreeMap::new(),
            expectations: vec![Expectation {
                name: "evicted".into(),
                goal: "≤ 2 s".into(),
                measured: "0.40 s".into(),
                passed: true,
            }],
            error: None,
        }
    }

    #[test]
    fn timeline_has_one_lane_per_person_and_marks_t0_and_eviction() {
        let svg = timeline_svg(&sample());
        assert_eq!(svg.matches("<g class=\"lane\"").count(), 2);
        assert!(svg.contains("T0 revoked"));
        assert!(svg.contains("class=\"evicted\""));
        assert!(svg.contains("evicted +0.40 s (session_revoked)"));
    }

    #[test]
    fn html_escapes_and_has_no_script_or_external_resource() {
        let r = Report {
            tool: "eds-gateway drill run".into(),
            version: "0".into(),
            started_at: "a".into(),
            finished_at: "b".into(),
            passed: true,
            setup: Setup {
                mode: "in-process".into(),
                notes: vec!["<b>".into()],
            },
            scenarios: vec![sample()],
        };
        let h = html(&r);
        assert!(!h.contains("<script"));
        assert!(!h.contains("src=\"http"));
        assert!(!h.contains("<b>\n") && h.contains("&lt;b&gt;"));
        assert!(h.contains("t &lt;x&gt;"));
        assert!(h.contains("PASS"));
    }

    #[test]
    fn scenario_without_expectations_does_not_pass() {
        let mut s = sample();
        s.expectations.clear();
        assert!(!s.passed());
    }
}
