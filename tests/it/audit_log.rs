//! Audit log scenarios (issue 6 item 6): the writer through its library API and the verifier both
//! through the library and through the real `eds-gateway audit verify` binary. Every test works in
//! its own directory under Cargo's target tmpdir (a real disk, so fsync is real).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use eds_gateway::audit::record::line_hash;
use eds_gateway::audit::{
    AuditConfig, AuditError, AuditLog, FsyncMode, ProblemKind, VerifyOptions, VerifyReport,
    verify_files, verify_files_with,
};
use eds_gateway::pki::time::UnixTime;
use serde_json::{Value, json};

const T0: UnixTime = UnixTime(1_795_564_800); // 2026-11-25T00:00:00Z

fn temp_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("audit-{name}-{}-{nanos}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn open(path: &Path) -> AuditLog {
    AuditLog::open(AuditConfig::new(path, "gw-test")).expect("open audit log")
}

fn login_fields(i: u64) -> Value {
    json!({
        "reason": "ok",
        "iin": format!("9001013{:05}", i),
        "serial": format!("{:040x}", i),
        "issuer": "CN=ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (GOST) TEST 2022",
        "ip": "10.0.0.7",
        "user_agent": "Mozilla/5.0",
        "k": i,
    })
}

/// A fresh log with `n` login records; returns the live file.
fn chain(dir: &Path, n: u64) -> PathBuf {
    let path = dir.join("audit.jsonl");
    let log = open(&path);
    for i in 1..=n {
        let seq = log
            .append("login_ok", T0.plus_seconds(i as i64), login_fields(i))
            .expect("append");
        assert_eq!(seq, i);
    }
    path
}

fn read_lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .expect("read")
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut s = lines.join("\n");
    s.push('\n');
    fs::write(path, s).expect("write");
}

fn cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_eds-gateway"))
        .args(args)
        .output()
        .expect("run eds-gateway");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[track_caller]
fn only_problem(r: &VerifyReport) -> &eds_gateway::audit::Problem {
    assert_eq!(
        r.problems.len(),
        1,
        "expected one problem, got {:#?}",
        r.problems
    );
    &r.problems[0]
}

#[test]
fn intact_chain_verifies_in_library_and_binary() {
    let dir = temp_dir("intact");
    let path = chain(&dir, 20);
    let lines = read_lines(&path);
    assert!(lines[0].starts_with(
        r#"{"seq":1,"ts":"2026-11-25T00:00:01Z","instance":"gw-test","event":"login_ok","#
    ));
    assert!(lines[0].ends_with(&format!(r#""prev":"{}"}}"#, "0".repeat(64))));
    assert!(lines[1].ends_with(&format!(r#""prev":"{}"}}"#, line_hash(lines[0].as_bytes()))));

    let r = verify_files(std::slice::from_ref(&path));
    assert!(r.is_intact(), "{:#?}", r.problems);
    assert_eq!(
        (r.records, r.first_seq, r.last_seq),
        (20, Some(1), Some(20))
    );
    let last = line_hash(lines[19].as_bytes());
    assert_eq!(r.last_hash.as_deref(), Some(last.as_str()));

    let (code, out, err) = cli(&["audit", "verify", s(&path)]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("intact: 20 records in 1 file(s), seq 1..20"),
        "{out}"
    );
    assert!(out.contains(&last), "{out}");

    let (code, out, _) = cli(&["audit", "verify", "--json", s(&path)]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).expect("json output");
    assert_eq!(v["intact"], true);
    assert_eq!(v["records"], 20);
    assert_eq!(v["last_hash"], last.as_str());
}

#[test]
fn edited_field_is_reported_at_the_edited_record() {
    let dir = temp_dir("edited");
    let path = chain(&dir, 20);
    let mut lines = read_lines(&path);
    assert!(lines[6].contains(r#""reason":"ok""#));
    lines[6] = lines[6].replace(r#""reason":"ok""#, r#""reason":"OK""#);
    write_lines(&path, &lines);

    let r = verify_files(std::slice::from_ref(&path));
    let p = only_problem(&r);
    assert_eq!(
        (p.kind, p.seq, p.line),
        (ProblemKind::Edited, Some(7), Some(7))
    );
    assert!(p.explanation.contains("seq 8"), "{}", p.explanation);

    let (code, out, _) = cli(&["audit", "verify", s(&path)]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("audit.jsonl:7: seq 7: edited:"), "{out}");
}

#[test]
fn edited_prev_field_blames_that_record_not_its_predecessor() {
    let dir = temp_dir("edited-prev");
    let path = chain(&dir, 10);
    let mut lines = read_lines(&path);
    let forged = line_hash(b"something else");
    let at = lines[4].find(r#""prev":""#).expect("prev") + 8;
    lines[4].replace_range(at..at + 64, &forged);
    write_lines(&path, &lines);

    let r = verify_files(&[path]);
    let p = only_problem(&r);
    assert_eq!(
        (p.kind, p.seq, p.line),
        (ProblemKind::Edited, Some(5), Some(5))
    );
}

#[test]
fn deleted_record_is_a_gap() {
    let dir = temp_dir("deleted");
    let path = chain(&dir, 20);
    let mut lines = read_lines(&path);
    lines.remove(4); // seq 5
    write_lines(&path, &lines);

    let r = verify_files(std::slice::from_ref(&path));
    let p = only_problem(&r);
    assert_eq!(
        (p.kind, p.seq, p.line),
        (ProblemKind::Gap, Some(5), Some(5))
    );
    assert!(
        p.explanation.contains("seq 5 is missing between seq 4"),
        "{}",
        p.explanation
    );

    let (code, out, _) = cli(&["audit", "verify", "--json", s(&path)]);
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["intact"], false);
    assert_eq!(v["problems"][0]["kind"], "gap");
    assert_eq!(v["problems"][0]["seq"], 5);
}

#[test]
fn swapped_records_are_reported_as_reordered_once() {
    let dir = temp_dir("swapped");
    let path = chain(&dir, 20);
    let mut lines = read_lines(&path);
    lines.swap(4, 5); // seq 6 now before seq 5
    write_lines(&path, &lines);

    let r = verify_files(std::slice::from_ref(&path));
    let p = only_problem(&r);
    assert_eq!(
        (p.kind, p.seq, p.line),
        (ProblemKind::Reordered, Some(5), Some(6))
    );

    let (code, out, _) = cli(&["audit", "verify", s(&path)]);
    assert_eq!(code, 1);
    assert!(
        out.contains("seq 5: reordered: seq 5 appears after seq 6"),
        "{out}"
    );
}

#[test]
fn file_cut_mid_line_is_truncated() {
    let dir = temp_dir("truncated");
    let path = chain(&dir, 20);
    let len = fs::metadata(&path).expect("stat").len();
    let f = fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open");
    f.set_len(len - 30).expect("truncate");
    drop(f);

    let r = verify_files(std::slice::from_ref(&path));
    let p = only_problem(&r);
    assert_eq!((p.kind, p.line), (ProblemKind::Truncated, Some(20)));
    assert_eq!(r.last_seq, Some(19));

    let (code, out, _) = cli(&["audit", "verify", s(&path)]);
    assert_eq!(code, 1);
    assert!(out.contains(":20: seq -: truncated:"), "{out}");
}

fn rotated_set(dir: &Path) -> (AuditLog, Vec<PathBuf>) {
    let path = dir.join("audit.jsonl");
    let log = AuditLog::open(AuditConfig {
        rotate_bytes: Some(4096),
        ..AuditConfig::new(&path, "gw-rot")
    })
    .expect("open");
    let mut i = 0;
    loop {
        i += 1;
        log.append("login_ok", T0.plus_seconds(i), login_fields(i as u64))
            .expect("append");
        if fs::read_dir(dir).expect("ls").count() >= 3 && i % 5 == 0 {
            break;
        }
    }
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .expect("ls")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    (log, files)
}

#[test]
fn rotation_across_three_files_keeps_one_chain() {
    let dir = temp_dir("rotation");
    let (log, files) = rotated_set(&dir);
    assert_eq!(files.len(), 3, "{files:?}");
    for f in &files {
        assert!(
            fs::metadata(f).expect("stat").len() <= 4096,
            "{}",
            f.display()
        );
    }
    // The live file and the second rotated one start with a marker naming their predecessor.
    let live = dir.join("audit.jsonl");
    let first: Value = serde_json::from_str(&read_lines(&live)[0]).expect("json");
    assert_eq!(first["event"], "audit_rotated");
    let prev_name = first["previous_file"].as_str().expect("name");
    assert!(
        prev_name.starts_with("audit-2026") && prev_name.ends_with(".jsonl"),
        "{prev_name}"
    );
    assert!(dir.join(prev_name).exists());

    // Any order on the command line: files are sorted by first seq.
    let mut shuffled = files.clone();
    shuffled.reverse();
    let r = verify_files(&shuffled);
    assert!(r.is_intact(), "{:#?}", r.problems);
    assert_eq!(r.files.len(), 3);
    assert_eq!(r.last_seq, log.head().map(|h| h.0));
    assert_eq!(r.last_hash, log.head().map(|h| h.1));

    let args: Vec<&str> = ["audit", "verify"]
        .into_iter()
        .chain(shuffled.iter().map(|p| s(p)))
        .collect();
    let (code, out, _) = cli(&args);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("in 3 file(s)"), "{out}");

    // Without the middle file, the first file "ends before the next file starts".
    let mut rotated: Vec<PathBuf> = files.iter().filter(|p| **p != live).cloned().collect();
    rotated.sort_by_key(|p| verify_files(std::slice::from_ref(p)).first_seq);
    let r = verify_files(&[rotated[0].clone(), live.clone()]);
    let p = only_problem(&r);
    assert_eq!(p.kind, ProblemKind::Truncated);
    assert_eq!(p.file, rotated[0]);
    assert!(
        p.explanation.contains("the earlier file was truncated"),
        "{}",
        p.explanation
    );

    // The live file alone starts mid-chain; --allow-partial accepts it.
    let r = verify_files(std::slice::from_ref(&live));
    assert_eq!(only_problem(&r).kind, ProblemKind::StartsMidChain);
    let r = verify_files_with(
        std::slice::from_ref(&live),
        VerifyOptions {
            allow_partial: true,
        },
    );
    assert!(r.is_intact(), "{:#?}", r.problems);
    assert_eq!(cli(&["audit", "verify", s(&live)]).0, 1);
    assert_eq!(cli(&["audit", "verify", "--allow-partial", s(&live)]).0, 0);

    // An edit in a rotated file is named with that file.
    let mut lines = read_lines(&rotated[1]);
    lines[2] = lines[2].replace("10.0.0.7", "10.0.0.8");
    write_lines(&rotated[1], &lines);
    let r = verify_files(&files);
    let p = only_problem(&r);
    assert_eq!(
        (p.kind, &p.file, p.line),
        (ProblemKind::Edited, &rotated[1], Some(3))
    );
}

#[test]
fn reopening_continues_the_chain_even_after_a_crash_mid_rotation() {
    let dir = temp_dir("reopen");
    let path = chain(&dir, 5);
    {
        let log = open(&path);
        assert_eq!(
            log.recent(2).len(),
            2,
            "recent is preloaded from the file's tail"
        );
        assert_eq!(
            log.append("logout", T0.plus_seconds(100), json!({}))
                .expect("append"),
            6
        );
    }
    let log = open(&path);
    assert_eq!(
        log.append("logout", T0.plus_seconds(101), Value::Null)
            .expect("append"),
        7
    );
    let recent = log.recent(3);
    let seqs: Vec<u64> = recent.iter().filter_map(|v| v["seq"].as_u64()).collect();
    assert_eq!(seqs, vec![5, 6, 7]);
    drop(log);
    let r = verify_files(std::slice::from_ref(&path));
    assert!(r.is_intact(), "{:#?}", r.problems);
    assert_eq!(r.records, 7);

    // A crash between the rename and the marker: the live file is missing, the rotated one is
    // there. Reopening continues from it instead of starting a new chain.
    let rotated = dir.join("audit-20261125T000200Z-7.jsonl");
    fs::rename(&path, &rotated).expect("rename");
    let log = open(&path);
    assert_eq!(
        log.append("logout", T0.plus_seconds(102), json!({}))
            .expect("append"),
        9
    );
    drop(log);
    let first: Value = serde_json::from_str(&read_lines(&path)[0]).expect("json");
    assert_eq!(first["event"], "audit_rotated");
    assert_eq!(first["seq"], 8);
    let r = verify_files(&[path, rotated]);
    assert!(r.is_intact(), "{:#?}", r.problems);
    assert_eq!(r.last_seq, Some(9));
}

#[test]
fn torn_last_line_is_set_aside_recorded_and_the_chain_goes_on() {
    let dir = temp_dir("torn");
    let path = chain(&dir, 5);
    let intact_len = fs::metadata(&path).expect("stat").len();
    let torn = br#"{"seq":6,"ts":"2026-11-25T00:00:06Z","instance":"gw-test","event":"log"#;
    let mut bytes = fs::read(&path).expect("read");
    bytes.extend_from_slice(torn);
    fs::write(&path, &bytes).expect("write");
    // The verifier sees the torn line before recovery.
    assert_eq!(
        only_problem(&verify_files(std::slice::from_ref(&path))).kind,
        ProblemKind::Truncated
    );

    let log = open(&path);
    let rec = log.recovery().expect("recovery reported");
    assert_eq!(
        (rec.offset, rec.len, rec.recorded_as),
        (intact_len, torn.len() as u64, 6)
    );
    assert_eq!(fs::read(&rec.saved_to).expect("side file"), torn);
    assert_eq!(
        log.append("logout", T0.plus_seconds(7), json!({}))
            .expect("append"),
        7
    );
    drop(log);
    let lines = read_lines(&path);
    assert_eq!(lines.len(), 7, "the five earlier records are all kept");
    let marker: Value = serde_json::from_str(&lines[5]).expect("json");
    assert_eq!(marker["event"], "audit_torn_tail");
    assert_eq!(marker["torn_sha256"], line_hash(torn));
    let r = verify_files(std::slice::from_ref(&path));
    assert!(r.is_intact(), "{:#?}", r.problems);

    // A complete record that only lost its newline is kept as it is.
    let mut bytes = fs::read(&path).expect("read");
    bytes.pop();
    fs::write(&path, &bytes).expect("write");
    let log = open(&path);
    assert!(log.recovery().is_none());
    assert_eq!(
        log.append("logout", T0.plus_seconds(8), json!({}))
            .expect("append"),
        8
    );
    drop(log);
    assert!(verify_files(&[path]).is_intact());
}

#[test]
fn eight_threads_appending_make_one_gap_free_chain() {
    let dir = temp_dir("threads");
    let path = dir.join("audit.jsonl");
    let log = AuditLog::open(AuditConfig {
        fsync: FsyncMode::Batch {
            max_records: 16,
            max_delay: Duration::from_millis(20),
        },
        ..AuditConfig::new(&path, "gw-mt")
    })
    .expect("open");
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                (0..100)
                    .map(|i| {
                        log.append("login_ok", T0, json!({"thread": t, "i": i}))
                            .expect("append")
                    })
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    let mut seqs: Vec<u64> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("thread"))
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=800).collect::<Vec<u64>>());
    drop(log);
    let r = verify_files(&[path]);
    assert!(r.is_intact(), "{:#?}", r.problems);
    assert_eq!(r.records, 800);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_appends_run_off_the_runtime_threads() {
    let dir = temp_dir("async");
    let path = dir.join("audit.jsonl");
    let log = open(&path);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            log.append_async("challenge_issued", T0, json!({"i": i}))
                .await
        }));
    }
    for t in tasks {
        t.await.expect("join").expect("append");
    }
    drop(log);
    let r = verify_files(&[path]);
    assert!(r.is_intact() && r.records == 20, "{r:#?}");
}

#[test]
fn secret_fields_never_reach_the_file() {
    let dir = temp_dir("secrets");
    let path = dir.join("audit.jsonl");
    let log = open(&path);
    log.append(
        "login_refused",
        T0,
        json!({
            "reason": "cms_over_other_data",
            "iin": "900101300123",
            "token": "SECRET-TOKEN-1",
            "sessionToken": "SECRET-TOKEN-2",
            "request": {
                "headers": {"Cookie": "__Host-eds=SECRET-COOKIE", "user-agent": "Firefox"},
                "form": [{"cms": "MIIC-SECRET-CMS"}, {"csrf_token": "SECRET-CSRF"}],
            },
            "nonce": "SECRET-NONCE",
            "password": "SECRET-PASSWORD",
            "challenge_data": "SECRET-CHALLENGE",
        }),
    )
    .expect("append");
    let text = fs::read_to_string(&path).expect("read");
    assert!(!text.contains("SECRET"), "{text}");
    let v: Value = serde_json::from_str(text.trim_end()).expect("json");
    assert_eq!(v["iin"], "900101300123");
    assert_eq!(v["request"]["headers"]["user-agent"], "Firefox");
    let red: Vec<&str> = v["redacted"]
        .as_array()
        .expect("redacted")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for k in [
        "token",
        "sessionToken",
        "nonce",
        "password",
        "challenge_data",
        "request.headers.Cookie",
        "request.form[0].cms",
        "request.form[1].csrf_token",
    ] {
        assert!(red.contains(&k), "{k} not in {red:?}");
    }
    // The writer's own keys cannot be forged by a caller.
    assert!(matches!(
        log.append("login_ok", T0, json!({"prev": "0"})),
        Err(AuditError::ReservedField(_))
    ));
    assert!(matches!(
        log.append("Login OK!", T0, json!({})),
        Err(AuditError::InvalidEvent(_))
    ));
    // A hostile 1 MB user agent is cut, and the record is still written.
    let seq = log
        .append(
            "login_refused",
            T0,
            json!({"user_agent": "A".repeat(1 << 20)}),
        )
        .expect("long field is cut, not refused");
    assert_eq!(seq, 2);
    drop(log);
    assert!(verify_files(&[path]).is_intact());
}

#[test]
fn hostile_files_get_clear_errors_not_panics() {
    let dir = temp_dir("hostile");
    // Binary garbage: pseudo-random bytes with some newlines.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let garbage: Vec<u8> = (0..200_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let g = dir.join("garbage.jsonl");
    fs::write(&g, &garbage).expect("write");
    let r = verify_files(std::slice::from_ref(&g));
    assert!(!r.is_intact());
    assert!(
        r.problems.iter().all(|p| matches!(
            p.kind,
            ProblemKind::NotJson | ProblemKind::LineTooLong | ProblemKind::Truncated
        )),
        "{:#?}",
        r.problems
    );
    let (code, out, _) = cli(&["audit", "verify", s(&g)]);
    assert_eq!(code, 1);
    assert!(out.contains("not_json"), "{out}");

    // A 10 MB line between two good records: skipped with a clear problem, no buffering of it.
    let path = chain(&temp_dir("hostile-chain"), 3);
    let mut lines = read_lines(&path);
    lines.insert(2, "x".repeat(10 << 20));
    write_lines(&path, &lines);
    let started = Instant::now();
    let r = verify_files(std::slice::from_ref(&path));
    assert!(started.elapsed() < Duration::from_secs(20));
    let p = only_problem(&r);
    assert_eq!((p.kind, p.line), (ProblemKind::LineTooLong, Some(3)));
    assert!(
        p.explanation.contains("10485760 bytes"),
        "{}",
        p.explanation
    );
    assert_eq!(r.records, 3);

    // The writer refuses to continue a file whose tail is not a record, instead of guessing.
    let err = AuditLog::open(AuditConfig::new(&g, "gw")).expect_err("corrupt tail");
    assert!(matches!(err, AuditError::CorruptTail { .. }), "{err}");
    // It reads only the tail: a damaged middle is the verifier's job, and the chain goes on.
    let log = AuditLog::open(AuditConfig::new(&path, "gw")).expect("tail is a good record");
    assert_eq!(log.append("logout", T0, json!({})).expect("append"), 4);
    drop(log);
    assert_eq!(
        only_problem(&verify_files(std::slice::from_ref(&path))).kind,
        ProblemKind::LineTooLong
    );
    let huge = dir.join("one-line.jsonl");
    fs::write(&huge, vec![b'{'; 10 << 20]).expect("write");
    let err = AuditLog::open(AuditConfig::new(&huge, "gw")).expect_err("corrupt tail");
    assert!(err.to_string().contains("audit verify"), "{err}");

    // Seqs at the edges of u64 and a timestamp beyond year 9999: problems, not overflows.
    let z = "0".repeat(64);
    let edge = dir.join("edge.jsonl");
    write_lines(
        &edge,
        &[0u64, u64::MAX, u64::MAX - 1, u64::MAX]
            .iter()
            .map(|q| format!(r#"{{"seq":{q},"ts":"2026-11-25T00:00:00Z","instance":"x","event":"e","prev":"{z}"}}"#))
            .collect::<Vec<_>>(),
    );
    let r = verify_files(std::slice::from_ref(&edge));
    assert!(
        r.problems.iter().any(|p| p.kind == ProblemKind::Duplicate),
        "{:#?}",
        r.problems
    );
    assert!(
        r.problems.iter().any(|p| p.kind == ProblemKind::BadStart),
        "{:#?}",
        r.problems
    );
    let log = open(&dir.join("time.jsonl"));
    assert!(matches!(
        log.append("e", UnixTime(i64::MAX), json!({})),
        Err(AuditError::InvalidTime(_))
    ));

    // Usage errors: 64.
    assert_eq!(cli(&["audit", "verify"]).0, 64);
    assert_eq!(cli(&["audit", "verify", "--frobnicate", s(&g)]).0, 64);
    let (code, _, err) = cli(&["audit", "verify", s(&dir.join("missing.jsonl"))]);
    assert_eq!(code, 64);
    assert!(err.contains("missing.jsonl"), "{err}");
    assert_eq!(cli(&["audit", "verify", s(&dir)]).0, 64);
    let (code, out, _) = cli(&["audit", "verify", "--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("--allow-partial"), "{out}");

    // The 10 MB files are not worth keeping.
    let _ = fs::remove_dir_all(&dir);
    let _ = fs::remove_dir_all(path.parent().expect("dir"));
}

/// Appends per second, PerRecord fsync vs Batch (run with `--ignored --nocapture`).
#[test]
#[ignore = "measurement, not a check"]
fn append_throughput() {
    for (name, fsync, n) in [
        ("per-record", FsyncMode::PerRecord, 500u64),
        (
            "batch(64, 50 ms)",
            FsyncMode::Batch {
                max_records: 64,
                max_delay: Duration::from_millis(50),
            },
            20_000,
        ),
    ] {
        let dir = temp_dir("bench");
        let log = AuditLog::open(AuditConfig {
            fsync,
            ..AuditConfig::new(dir.join("audit.jsonl"), "gw-bench")
        })
        .expect("open");
        let t = Instant::now();
        for i in 0..n {
            log.append("login_ok", T0, login_fields(i)).expect("append");
        }
        log.flush().expect("flush");
        let secs = t.elapsed().as_secs_f64();
        println!(
            "{name}: {n} appends in {secs:.3} s = {:.0}/s",
            n as f64 / secs
        );
    }
}
