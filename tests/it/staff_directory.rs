//! The staff directory as an operator meets it: CSV and TOML files, every mistake listed with
//! its line, reload on change (a bad file never replaces the good directory), mapping rules.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eds_gateway::auth::staff::{MappingRule, ReloadSummary, StaffDirectory, StaffError};
use eds_gateway::pki::identity::{NationalId, NcaIdentity, NcaProfile, NcaRole};
use eds_gateway::pki::time::UnixTime;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("staff_dir_{}_{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("tmp");
    d
}

fn write(path: &Path, text: &str) {
    // Write to a temporary name and rename, as an editor or config tool does: the directory
    // watcher must never read half a file.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

fn id(iin: &str, bin: Option<&str>, roles: Vec<NcaRole>, profile: NcaProfile) -> NcaIdentity {
    let nid = |v: &str| NationalId {
        value: v.to_string(),
        checksum_ok: false,
    };
    NcaIdentity {
        iin: Some(nid(iin)),
        bin: bin.map(nid),
        common_name: Some("ТЕСТОВ ТЕСТ".into()),
        surname: Some("ТЕСТОВ".into()),
        given_name: Some("ТЕСТ".into()),
        patronymic: None,
        organization: None,
        email: None,
        roles,
        profile,
    }
}

fn person(iin: &str) -> NcaIdentity {
    id(iin, None, vec![], NcaProfile::Gost2015SingleKey)
}

const NOW: UnixTime = UnixTime(1_780_272_000); // 2026-06-01T00:00:00Z

const GOOD_CSV: &str = "\u{feff}iin,name,roles,enabled,valid_until,bin
# comment lines and blank lines are skipped

123456789011,\"Тестов Тест Тестович\",doctor;staff,yes,2026-12-31,
123456789012,Тесттов Тестт,nurse,1,,123456789021
880515300123,Ахметова Айгуль,,no,,
900101300012,Иванов Иван,admin ; staff,TRUE,2026-05-31,
";

#[test]
fn csv_file_loads_and_lookups_apply_every_rule() {
    let d = dir("csv");
    let f = d.join("staff.csv");
    write(&f, GOOD_CSV);
    let s = StaffDirectory::load(&f, vec![]).expect("loads");
    assert_eq!(s.len(), 4);

    let m = s.lookup(&person("123456789011"), NOW).expect("known");
    assert_eq!(m.name, "Тестов Тест Тестович");
    assert_eq!(m.roles, vec!["doctor", "staff"]);

    let e = s.lookup(&person("111111111111"), NOW).expect_err("unknown");
    assert_eq!((e.code, e.status), ("staff_unknown", 403));
    let e = s
        .lookup(&person("880515300123"), NOW)
        .expect_err("disabled");
    assert_eq!(e.code, "staff_disabled");
    // valid_until 2026-05-31 ends at 2026-05-31T19:00:00Z (midnight in Kazakhstan).
    let e = s.lookup(&person("900101300012"), NOW).expect_err("expired");
    assert_eq!(e.code, "staff_expired");
    let last_minute = UnixTime::parse_rfc3339("2026-05-31T18:59:59Z").expect("t");
    let m = s
        .lookup(&person("900101300012"), last_minute)
        .expect("still valid on its last day");
    assert_eq!(m.roles, vec!["admin", "staff"]);

    // A BIN-bound record matches only a certificate of that organisation.
    let e = s.lookup(&person("123456789012"), NOW).expect_err("no BIN");
    assert_eq!(e.code, "staff_bin_mismatch");
    let other_org = id(
        "123456789012",
        Some("999999999999"),
        vec![],
        NcaProfile::Gost2015SingleKey,
    );
    assert_eq!(
        s.lookup(&other_org, NOW).expect_err("other BIN").code,
        "staff_bin_mismatch"
    );
    let ours = id(
        "123456789012",
        Some("123456789021"),
        vec![],
        NcaProfile::Gost2015SingleKey,
    );
    assert_eq!(s.lookup(&ours, NOW).expect("our BIN").roles, vec!["nurse"]);

    let mut no_iin = person("123456789011");
    no_iin.iin = None;
    assert_eq!(
        s.lookup(&no_iin, NOW).expect_err("no IIN").code,
        "cert_no_iin"
    );
}

#[test]
fn csv_errors_are_all_listed_with_line_numbers() {
    let d = dir("csv_bad");
    let f = d.join("staff.csv");
    write(
        &f,
        "iin,name,roles,enabled,valid_until,bin
12345678901,Short Iin,,,,
123456789011,,doctor,,,
123456789012,Bad Enabled,,maybe,,
123456789013,Bad Date,,,31.12.2026,
123456789014,Bad Role,doc tor,,,
123456789015,Bad Bin,,,,BIN123
123456789016,Too few fields
123456789017,\"unterminated,,,,,
123456789018,Fine,,,,
123456789018,Duplicate,,,,
",
    );
    let e = StaffDirectory::load(&f, vec![]).expect_err("refused");
    let lines: Vec<(Option<usize>, &str)> = e
        .problems
        .iter()
        .map(|p| (p.line, p.reason.as_str()))
        .collect();
    let expect = [
        (2, "IIN \"12345678901\" is not 12 digits"),
        (3, "name is empty"),
        (4, "enabled \"maybe\""),
        (5, "valid_until \"31.12.2026\""),
        (6, "role \"doc tor\""),
        (7, "BIN \"BIN123\""),
        (8, "2 fields, the header has 6"),
        (9, "unterminated quote"),
        (11, "duplicate IIN 123456789018 (first on line 10)"),
    ];
    assert_eq!(lines.len(), expect.len(), "{e}");
    for ((line, reason), (want_line, want)) in lines.iter().zip(expect) {
        assert_eq!(*line, Some(want_line), "{e}");
        assert!(
            reason.starts_with(want),
            "line {want_line}: {reason:?} vs {want:?}"
        );
    }
    // The Display form an operator sees lists them all.
    let shown = e.to_string();
    assert!(shown.contains("9 problem(s)"), "{shown}");
    assert!(shown.contains("line 11: duplicate IIN"), "{shown}");
}

#[test]
fn csv_header_problems_are_named() {
    let d = dir("csv_header");
    let f = d.join("staff.csv");
    write(&f, "iin,fullname,roles\n123456789011,X,\n");
    let e = StaffDirectory::load(&f, vec![]).expect_err("bad header");
    assert_eq!(e.problems[0].line, Some(1));
    assert!(
        e.problems[0].reason.contains("unknown column \"fullname\""),
        "{e}"
    );
    assert!(e.to_string().contains("lacks the \"name\" column"), "{e}");

    write(&f, "# only a comment\n");
    let e = StaffDirectory::load(&f, vec![]).expect_err("no header");
    assert!(e.to_string().contains("no header line"), "{e}");

    let txt = d.join("staff.txt");
    write(&txt, GOOD_CSV);
    let e = StaffDirectory::load(&txt, vec![]).expect_err("ending");
    assert!(e.to_string().contains(".csv or .toml"), "{e}");
}

#[test]
fn toml_file_loads_with_bare_and_quoted_dates() {
    let d = dir("toml");
    let f = d.join("staff.toml");
    write(
        &f,
        r#"# staff of the test hospital
[[staff]]
iin = "123456789011"
name = "Тестов Тест Тестович"
roles = ["doctor", "staff", "doctor"]
valid_until = 2026-12-31

[[staff]]
iin = "123456789012"
name = "Тесттов Тестт"
roles = []
enabled = false
bin = "123456789021"
valid_until = "2027-01-15"
"#,
    );
    let s = StaffDirectory::load(&f, vec![]).expect("loads");
    assert_eq!(s.len(), 2);
    let m = s.lookup(&person("123456789011"), NOW).expect("known");
    assert_eq!(m.roles, vec!["doctor", "staff"]);
    let r = s.record("123456789011").expect("record");
    assert_eq!(r.valid_until.as_deref(), Some("2026-12-31"));
    assert_eq!(r.line, 3);
    assert_eq!(
        s.lookup(&person("123456789012"), NOW)
            .expect_err("off")
            .code,
        "staff_disabled"
    );
    let after = UnixTime::parse_rfc3339("2027-01-01T00:00:00Z").expect("t");
    assert_eq!(
        s.lookup(&person("123456789011"), after)
            .expect_err("expired")
            .code,
        "staff_expired"
    );
}

#[test]
fn toml_errors_are_all_listed_with_line_numbers() {
    let d = dir("toml_bad");
    let f = d.join("staff.toml");
    write(
        &f,
        r#"[[staff]]
iin = "123"
name = "Short"

[[staff]]
iin = 123456789011
name = "Number Iin"

[[staff]]
iin = "123456789012"
name = "Odd Key"
role = "doctor"

[[staff]]
iin = "123456789013"
name = "Bad enabled"
enabled = "perhaps"
valid_until = 2026-12-31T10:00:00Z

[[staff]]
name = "No Iin"
"#,
    );
    let e = StaffDirectory::load(&f, vec![]).expect_err("refused");
    let got: Vec<(Option<usize>, String)> = e
        .problems
        .iter()
        .map(|p| (p.line, p.reason.clone()))
        .collect();
    let want: [(usize, &str); 6] = [
        (2, "IIN \"123\" is not 12 digits"),
        (6, "iin must be a string"),
        (12, "unknown key \"role\""),
        (18, "valid_until must be a date"),
        (17, "enabled \"perhaps\""),
        (21, "missing iin"),
    ];
    assert_eq!(got.len(), want.len(), "{e}");
    for ((line, reason), (wl, w)) in got.iter().zip(want) {
        assert_eq!(*line, Some(wl), "{e}");
        assert!(reason.starts_with(w), "{reason:?} vs {w:?}");
    }

    write(&f, "[[staff]\niin = \"1\"\n");
    let e = StaffDirectory::load(&f, vec![]).expect_err("syntax");
    assert_eq!(e.problems.len(), 1, "{e}");
    assert_eq!(e.problems[0].line, Some(1), "{e}");
    assert!(e.problems[0].reason.starts_with("TOML syntax"), "{e}");
}

#[test]
fn mapping_rules_add_roles_to_matched_staff_only() {
    let d = dir("rules");
    let f = d.join("staff.csv");
    write(
        &f,
        "iin,name,roles\n123456789011,Тестов Тест,doctor\n123456789012,Тесттов Тестт,\n",
    );
    let rules = vec![
        MappingRule {
            bin: Some("123456789021".into()),
            nca_role: MappingRule::nca_role_from_name("employee"),
            profile: None,
            grant: vec!["staff".into()],
        },
        MappingRule {
            bin: None,
            nca_role: MappingRule::nca_role_from_name("1.2.398.3.3.4.1.2.1"),
            profile: MappingRule::profile_from_name("gost2015"),
            grant: vec!["head".into(), "staff".into()],
        },
    ];
    assert_eq!(rules[1].nca_role, Some(NcaRole::FirstHead));
    let s = StaffDirectory::load(&f, rules).expect("loads");

    // Our BIN + employee role → staff.
    let employee = id(
        "123456789011",
        Some("123456789021"),
        vec![NcaRole::LegalEntity, NcaRole::Employee],
        NcaProfile::Gost2015SingleKey,
    );
    assert_eq!(
        s.lookup(&employee, NOW).expect("ok").roles,
        vec!["doctor", "staff"]
    );
    // Same role in another organisation: no grant.
    let elsewhere = id(
        "123456789011",
        Some("999999999999"),
        vec![NcaRole::Employee],
        NcaProfile::Gost2015SingleKey,
    );
    assert_eq!(s.lookup(&elsewhere, NOW).expect("ok").roles, vec!["doctor"]);
    // First head with a GOST key: head + staff; with an RSA key: nothing from that rule.
    let head = id(
        "123456789012",
        None,
        vec![NcaRole::FirstHead],
        NcaProfile::Gost2015SingleKey,
    );
    assert_eq!(
        s.lookup(&head, NOW).expect("ok").roles,
        vec!["head", "staff"]
    );
    let rsa_head = id(
        "123456789012",
        None,
        vec![NcaRole::FirstHead],
        NcaProfile::RsaAuth,
    );
    assert!(s.lookup(&rsa_head, NOW).expect("ok").roles.is_empty());
    // A rule never admits someone who is not in the file.
    let stranger = id(
        "555555555555",
        Some("123456789021"),
        vec![NcaRole::Employee],
        NcaProfile::Gost2015SingleKey,
    );
    assert_eq!(
        s.lookup(&stranger, NOW).expect_err("unknown").code,
        "staff_unknown"
    );

    let bad = vec![MappingRule {
        bin: Some("12".into()),
        grant: vec![],
        ..MappingRule::default()
    }];
    let e = StaffDirectory::load(&f, bad).expect_err("bad rule");
    assert_eq!(e.problems.len(), 2, "{e}");
}

#[test]
fn reload_on_change_keeps_the_old_directory_while_the_file_is_bad() {
    let d = dir("reload");
    let f = d.join("staff.csv");
    write(&f, "iin,name,roles\n123456789011,Тестов Тест,doctor\n");
    let s = StaffDirectory::load(&f, vec![]).expect("loads");
    assert_eq!(s.reload_if_changed(), Ok(None), "unchanged");

    // Same bytes rewritten (new mtime): nothing to do.
    write(&f, "iin,name,roles\n123456789011,Тестов Тест,doctor\n");
    assert_eq!(s.reload_if_changed(), Ok(None));

    // A good change: one added, one changed.
    write(
        &f,
        "iin,name,roles\n123456789011,Тестов Тест,doctor;staff\n123456789012,Тесттов Тестт,nurse\n",
    );
    assert_eq!(
        s.reload_if_changed(),
        Ok(Some(ReloadSummary {
            records: 2,
            added: 1,
            removed: 0,
            changed: 1
        }))
    );
    assert_eq!(
        s.lookup(&person("123456789011"), NOW).expect("ok").roles,
        vec!["doctor", "staff"]
    );

    // A bad file: refused once, the previous directory keeps serving.
    write(
        &f,
        "iin,name,roles\n123456789011,Тестов Тест,doctor\nnot-an-iin,X,\n",
    );
    let e = s.reload_if_changed().expect_err("bad file");
    assert_eq!(e.problems[0].line, Some(3), "{e}");
    assert_eq!(s.len(), 2);
    assert!(s.lookup(&person("123456789012"), NOW).is_ok());
    assert_eq!(s.last_error(), Some(e));
    assert_eq!(s.reload_if_changed(), Ok(None), "reported once");

    // Fixed: one removed.
    write(
        &f,
        "iin,name,roles\n123456789011,Тестов Тест,doctor;staff\n",
    );
    assert_eq!(
        s.reload_if_changed(),
        Ok(Some(ReloadSummary {
            records: 1,
            added: 0,
            removed: 1,
            changed: 0
        }))
    );
    assert_eq!(s.last_error(), None);
    assert_eq!(
        s.lookup(&person("123456789012"), NOW)
            .expect_err("gone")
            .code,
        "staff_unknown"
    );

    // The file disappears: an error, and the directory stays.
    std::fs::remove_file(&f).expect("rm");
    assert!(s.reload_if_changed().is_err());
    assert_eq!(s.len(), 1);
}

#[tokio::test]
async fn watcher_reports_reloads_and_bad_files() {
    let d = dir("watch");
    let f = d.join("staff.toml");
    write(&f, "[[staff]]\niin = \"123456789011\"\nname = \"A\"\n");
    let s = Arc::new(StaffDirectory::load(&f, vec![]).expect("loads"));
    let seen: Arc<Mutex<Vec<Result<ReloadSummary, StaffError>>>> = Arc::default();
    let sink = seen.clone();
    let task = s.spawn_watcher(Duration::from_millis(50), move |r| {
        sink.lock().expect("lock").push(r)
    });
    let wait_for = |n: usize| {
        let seen = seen.clone();
        async move {
            for _ in 0..100 {
                if seen.lock().expect("lock").len() >= n {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            panic!("watcher reported fewer than {n} events");
        }
    };
    write(
        &f,
        "[[staff]]\niin = \"123456789011\"\nname = \"A\"\n[[staff]]\niin = \"123456789012\"\nname = \"B\"\n",
    );
    wait_for(1).await;
    write(&f, "[[staff]]\niin = \"12\"\n");
    wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let got = seen.lock().expect("lock").clone();
    assert_eq!(got.len(), 2, "a bad file is reported once: {got:?}");
    assert_eq!(
        got[0],
        Ok(ReloadSummary {
            records: 2,
            added: 1,
            removed: 0,
            changed: 0
        })
    );
    let e = got[1].clone().expect_err("bad");
    assert_eq!(e.problems.len(), 2, "{e}"); // short IIN and missing name
    assert_eq!(s.len(), 2, "the good directory stays in force");
    // Dropping the directory ends the watcher.
    drop(s);
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .expect("watcher ends")
        .expect("no panic");
}

#[test]
fn oversized_files_are_refused_before_parsing() {
    let d = dir("big");
    let f = d.join("staff.csv");
    let file = std::fs::File::create(&f).expect("create");
    file.set_len(16 * 1024 * 1024 + 1).expect("sparse file");
    let e = StaffDirectory::load(&f, vec![]).expect_err("too big");
    assert!(e.to_string().contains("larger than"), "{e}");
}
