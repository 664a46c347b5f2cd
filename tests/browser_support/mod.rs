//! Headless Chromium driven by playwright-core (tests/browser/login.mjs), shared by the login
//! page tests and the gateway's browser test. Nothing is skipped silently: without Chromium,
//! Node or tests/browser/node_modules the tests fail and name the install step (`.ci/run` does
//! both), unless `EDS_SKIP_BROWSER_TESTS=1` (said loudly).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

pub struct Browser {
    chromium: PathBuf,
    dir: PathBuf,
}

/// Chromium, Node and playwright-core, or a failure naming the install step. `None` only when
/// the operator asked to skip (said loudly).
pub fn browser() -> Option<Browser> {
    if std::env::var("EDS_SKIP_BROWSER_TESTS").as_deref() == Ok("1") {
        eprintln!(
            "\n!!!!!!!! EDS_SKIP_BROWSER_TESTS=1: the login page browser test did NOT run !!!!!!!!\n"
        );
        return None;
    }
    let chromium = std::env::var_os("EDS_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        chromium.exists(),
        "Chromium not found at {}: install Debian's `chromium` (`apt-get install chromium`; \
         .ci/run does it), set EDS_CHROMIUM, or set EDS_SKIP_BROWSER_TESTS=1 to skip loudly",
        chromium.display()
    );
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.is_ok_and(|o| o.status.success()),
        "node is not installed: install `nodejs` and `npm` (.ci/run does it)"
    );
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core/package.json")
            .exists(),
        "playwright-core is not installed: run `(cd tests/browser && npm ci --no-audit --no-fund)` \
         (.ci/run does it)"
    );
    Some(Browser { chromium, dir })
}

impl Browser {
    /// Runs one plan through tests/browser/login.mjs and returns what it observed.
    #[track_caller]
    /// `accept_language` is sent as the header; its first tag is also the browser's locale.
    pub fn run(&self, accept_language: &str, steps: Value) -> Value {
        let locale = accept_language.split([',', ';']).next().unwrap_or("ru");
        let plan = json!({
            "chromium": self.chromium,
            "locale": locale,
            "acceptLanguage": accept_language,
            "steps": steps,
        });
        let out = Command::new("node")
            .arg("login.mjs")
            .arg(plan.to_string())
            .current_dir(&self.dir)
            .output()
            .expect("run node");
        assert!(
            out.status.success(),
            "node login.mjs failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let last = text.lines().last().unwrap_or("");
        serde_json::from_str(last).unwrap_or_else(|e| panic!("driver output ({e}): {text}"))
    }
}

pub fn screenshot_path(name: &str) -> String {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("browser-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir.join(name).display().to_string()
}
