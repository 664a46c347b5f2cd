//! `eds-gateway drill run` end to end: the real binary sets up its loopback world (test CA,
//! `pki serve` with its webhook, demo MIS, one gateway per scenario), logs staff in over HTTP,
//! revokes and blocks keys and writes its reports; the HTML report is opened in headless
//! Chromium. CI-sized: 2-second intervals. Nothing here asserts a timing: the drill's own
//! expectations do, and the test checks they are present, in order, and held.

use crate::browser_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

fn tmp(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("drill-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("tmp dir");
    d
}

/// A CI-sized drill: 2 people (GOST and RSA), 3-second OCSP re-check, 2-second CRL refresh.
const SHORT: &str = r#"
users = 2
browse_interval_ms = 100
warmup_secs = 0.5
tail_secs = 0.5
scenarios = ["revoke-push", "revoke-ocsp", "revoke-crl", "outage", "block"]

[intervals]
ocsp_recheck_secs = 3
crl_refresh_secs = 2
ocsp_max_age_secs = 2

[outage]
mode = "ocsp-then-crl"
ocsp_down_secs = 3
crl_lifetime_secs = 2
"#;

#[track_caller]
fn drill(dir: &Path, scenario: &str) -> (i32, String, String) {
    let file = dir.join("scenario.toml");
    std::fs::write(&file, scenario).expect("scenario file");
    let out = Command::new(env!("CARGO_BIN_EXE_eds-gateway"))
        .args(["drill", "run", "--scenario"])
        .arg(&file)
        .arg("--out")
        .arg(dir.join("out"))
        .output()
        .expect("run eds-gateway");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn report(dir: &Path) -> Value {
    let b = std::fs::read(dir.join("out/report.json")).expect("report.json written");
    serde_json::from_slice(&b).expect("report.json parses")
}

fn first_t(s: &Value, kind: &str) -> Option<u64> {
    s["events"]
        .as_array()?
        .iter()
        .find(|e| e["kind"] == kind)
        .and_then(|e| e["t_ms"].as_u64())
}

#[test]
fn short_drill_evicts_on_every_channel_and_its_report_opens_in_chromium() {
    let dir = tmp("short");
    let (code, stdout, stderr) = drill(&dir, SHORT);
    let r = report(&dir);
    let failed: Vec<String> = r["scenarios"]
        .as_array()
        .expect("scenarios")
        .iter()
        .flat_map(|s| {
            let name = s["name"].as_str().unwrap_or("").to_string();
            let err = s["error"]
                .as_str()
                .map(|e| format!("{name}: error {e}"))
                .into_iter();
            err.chain(
                s["expectations"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|x| x["passed"] != true)
                    .map(move |x| {
                        format!(
                            "{name}: {} (goal {}, measured {})",
                            x["name"], x["goal"], x["measured"]
                        )
                    }),
            )
            .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        failed.is_empty() && code == 0 && r["passed"] == true,
        "exit {code}; failed: {failed:#?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let names: Vec<&str> = r["scenarios"]
        .as_array()
        .expect("scenarios")
        .iter()
        .map(|s| s["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        names,
        [
            "revoke-push",
            "revoke-ocsp",
            "revoke-crl",
            "outage",
            "block"
        ]
    );
    for s in r["scenarios"].as_array().expect("scenarios") {
        let name = s["name"].as_str().unwrap_or("");
        assert!(
            s["expectations"].as_array().is_some_and(|x| x.len() >= 3),
            "{name}: expectations present"
        );
        // Events are in time order.
        let ts: Vec<u64> = s["events"]
            .as_array()
            .expect("events")
            .iter()
            .map(|e| e["t_ms"].as_u64().expect("t_ms"))
            .collect();
        assert!(ts.windows(2).all(|w| w[0] <= w[1]), "{name}: events sorted");
        if name.starts_with("revoke") || name == "block" {
            let login = first_t(s, "login").expect("login");
            let t0 = first_t(
                s,
                if name == "block" {
                    "blocked"
                } else {
                    "revoked"
                },
            )
            .expect("T0");
            let evicted = first_t(s, "evicted").expect("evicted");
            assert!(login < t0 && t0 < evicted, "{name}: login < T0 < eviction");
            assert_eq!(s["t0_ms"].as_u64(), Some(t0));
            assert_eq!(s["measurements"]["requests_after_eviction"], json!(0));
            let code = s["measurements"]["eviction_code"].as_str().unwrap_or("");
            let want = if name == "block" {
                "session_blocked"
            } else {
                "session_revoked"
            };
            assert_eq!(code, want, "{name}");
            // The victim's requests after the eviction were all refused.
            let victim = s["lanes"]
                .as_array()
                .expect("lanes")
                .iter()
                .position(|l| l["role"] == "victim")
                .expect("victim lane");
            let late_ok = s["events"]
                .as_array()
                .expect("events")
                .iter()
                .filter(|e| {
                    e["kind"] == "request"
                        && e["lane"] == json!(victim)
                        && e["t_ms"].as_u64() > Some(evicted)
                        && e["status"] == 200
                })
                .count();
            assert_eq!(late_ok, 0, "{name}: a 200 after eviction");
        }
    }
    let keys: Vec<&str> = r["scenarios"][0]["lanes"]
        .as_array()
        .expect("lanes")
        .iter()
        .map(|l| l["key"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(keys, ["gost2015", "rsa-auth"]);
    println!("{stdout}");

    // The HTML report in headless Chromium: one lane per person in every timeline.
    let html = dir.join("out/report.html");
    let text = std::fs::read_to_string(&html).expect("report.html");
    assert!(!text.contains("<script"), "no script in the report");
    if browser_support::browser().is_none() {
        return;
    }
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("screenshots");
    std::fs::create_dir_all(&shot).expect("screenshots dir");
    let shot = shot.join("drill-report.png");
    let seen = report_in_chromium(&html.canonicalize().expect("abs"), &shot);
    assert_eq!(seen["pageErrors"], json!([]), "{seen}");
    assert_eq!(seen["requests"], json!([]), "no external resources: {seen}");
    assert!(
        seen["verdict"].as_str().unwrap_or("").starts_with("PASSED"),
        "{seen}"
    );
    let timelines = seen["timelines"].as_array().expect("timelines");
    assert_eq!(timelines.len(), 5, "{seen}");
    for (t, s) in timelines
        .iter()
        .zip(r["scenarios"].as_array().expect("scenarios"))
    {
        assert_eq!(t["scenario"], s["name"]);
        assert_eq!(
            t["lanes"].as_u64(),
            Some(s["lanes"].as_array().expect("lanes").len() as u64),
            "one lane per person: {t}"
        );
        assert!(t["width"].as_f64().unwrap_or(0.0) > 300.0, "{t}");
        assert!(t["t0"].as_u64().unwrap_or(0) >= 1, "{t}");
    }
    assert_eq!(seen["expectations"]["fail"], json!(0), "{seen}");
    assert!(std::fs::metadata(&shot).is_ok_and(|m| m.len() > 10_000));
}

/// Runs tests/browser/report.mjs (same Chromium and playwright-core as browser_support).
#[track_caller]
fn report_in_chromium(html: &Path, shot: &Path) -> Value {
    let chromium = std::env::var_os("EDS_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    let plan = json!({"chromium": chromium, "file": html, "screenshot": shot});
    let out = Command::new("node")
        .arg("report.mjs")
        .arg(plan.to_string())
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser"))
        .output()
        .expect("run node");
    assert!(
        out.status.success(),
        "node report.mjs failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("driver output ({e}): {text}"))
}

#[test]
fn impossible_goal_fails_the_drill_with_exit_1() {
    let dir = tmp("impossible");
    // Eviction within 1 ms of the revocation: the responder's webhook alone polls every 200 ms.
    let (code, stdout, stderr) = drill(
        &dir,
        "users = 2\nwarmup_secs = 0.3\ntail_secs = 0.3\nscenarios = [\"revoke-push\"]\n\
         [goals]\npush_secs = 0.001\n",
    );
    assert_eq!(code, 1, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let r = report(&dir);
    assert_eq!(r["passed"], false);
    let s = &r["scenarios"][0];
    let evict = s["expectations"]
        .as_array()
        .expect("expectations")
        .iter()
        .find(|x| x["name"].as_str().unwrap_or("").contains("evicted"))
        .expect("eviction expectation");
    assert_eq!(evict["passed"], false, "{evict}");
    assert!(stdout.contains("FAIL"), "{stdout}");
    assert!(dir.join("out/report.html").exists());
}

#[test]
fn bad_scenario_file_is_a_usage_error_listing_every_problem() {
    let dir = tmp("usage");
    let (code, _, stderr) = drill(
        &dir,
        "users = 1\nscenarios = [\"revoke-everything\"]\n[intervals]\nocsp_recheck_secs = 0\n",
    );
    assert_eq!(code, 64, "{stderr}");
    assert!(stderr.contains("4 problem(s)"), "{stderr}");
    assert!(!dir.join("out/report.json").exists());
    let out = Command::new(env!("CARGO_BIN_EXE_eds-gateway"))
        .args(["drill", "run", "--gateway", "http://127.0.0.1:9"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(64));
}
