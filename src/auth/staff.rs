//! The staff directory: who may log in and with which gateway roles (issue 6, item 4; DESIGN.md
//! "The flow of one login", step 5). A certificate proves *who* someone is (IIN); only this
//! file says that the person works here. Unknown, disabled or expired staff are refused.
//!
//! # File formats (chosen by the file name's ending)
//! **CSV** (`.csv`), UTF-8 (a BOM is skipped), a header line naming the columns in any order;
//! `iin` and `name` are required, `roles`, `enabled`, `valid_until`, `bin` optional. Empty lines
//! and lines starting with `#` are skipped. Fields may be double-quoted (`""` inside quotes is
//! one quote, RFC 4180 §2); a field cannot span lines.
//! ```text
//! iin,name,roles,enabled,valid_until,bin
//! 880515300123,Ахметова Айгуль Сериковна,doctor;staff,yes,2027-06-30,123456789021
//! 900101300012,"Иванов Иван",nurse,true,,
//! ```
//! **TOML** (`.toml`):
//! ```toml
//! [[staff]]
//! iin = "880515300123"
//! name = "Ахметова Айгуль Сериковна"
//! roles = ["doctor", "staff"]
//! enabled = true                 # optional, default true
//! valid_until = "2027-06-30"     # optional; a bare TOML date works too
//! bin = "123456789021"           # optional
//! ```
//! Fields: `iin` 12 digits (the checksum is not enforced: NCA's own test IINs fail it,
//! ../shared/NCA.md §3.2); `name` non-empty; `roles` `;`-separated in CSV, each
//! `[A-Za-z0-9_.:-]{1,64}`; `enabled` `true/false/1/0/yes/no` (empty = true); `valid_until`
//! `YYYY-MM-DD`, the last day the person may log in, inclusive, in Kazakhstan time (UTC+5, the
//! single time zone since 2024-03-01); `bin` 12 digits: the record then only matches a
//! certificate whose subject carries that organisation BIN (`OU=BIN…`). An IIN may appear once.
//!
//! Every problem is reported (line number + reason, up to [`MAX_LISTED_ERRORS`]); a file with any
//! problem is refused whole, and a reload that fails keeps the previous good directory.
//!
//! # Mapping rules
//! A [`MappingRule`] adds roles to a *matched* staff record when the certificate fits it (all
//! given conditions: organisation BIN, NCA role OID in the certificate, key profile), e.g. "our
//! BIN + employee role → `staff`". Rules never admit anyone who is not in the file.
//!
//! # Reloading
//! [`StaffDirectory::reload_if_changed`] compares modification time and size with the last
//! attempt (one `stat`: cheap when nothing changed), then the content's SHA-256; only a changed
//! file is parsed. The parsed directory sits behind `RwLock<Arc<…>>`: a lookup clones the `Arc`
//! (the lock is held for that instant only), so lookups never wait for a reload's parsing.
//! [`StaffDirectory::spawn_watcher`] runs that check on a tokio interval.
//!
//! Budgets: [`MAX_FILE_BYTES`] (16 MiB) and [`MAX_RECORDS`] records.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, SystemTime};

use crate::auth::refusal::Refusal;
use crate::pki::identity::{NcaIdentity, NcaProfile, NcaRole};
use crate::pki::time::UnixTime;

/// Largest staff file read. A 200,000-person file in CSV is about 20 MB at most with long
/// names; a hospital has a few thousand staff.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Most records.
pub const MAX_RECORDS: usize = 200_000;

/// Most problems listed in one [`StaffError`] (the count of the rest is added).
pub const MAX_LISTED_ERRORS: usize = 200;

/// Most roles per record.
pub const MAX_ROLES: usize = 32;

/// Kazakhstan time (UTC+5 everywhere since 2024-03-01) in which `valid_until` days end.
pub const VALID_UNTIL_UTC_OFFSET_SECS: i32 = 5 * 3600;

/// One person in the directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaffRecord {
    /// 12-digit IIN.
    pub iin: String,
    /// Full name as the hospital writes it.
    pub name: String,
    /// Gateway roles, sorted, unique.
    pub roles: Vec<String>,
    /// May log in.
    pub enabled: bool,
    /// Last day (inclusive, `YYYY-MM-DD`), if limited.
    pub valid_until: Option<String>,
    /// Unix time at which the record stops being valid (end of `valid_until`, UTC+5).
    pub valid_until_end: Option<i64>,
    /// Organisation BIN the certificate must carry, if any.
    pub bin: Option<String>,
    /// Line in the file (1-based).
    pub line: usize,
}

impl StaffRecord {
    /// Same person data (ignores the line number).
    fn same_as(&self, o: &StaffRecord) -> bool {
        self.iin == o.iin
            && self.name == o.name
            && self.roles == o.roles
            && self.enabled == o.enabled
            && self.valid_until == o.valid_until
            && self.bin == o.bin
    }
}

/// A mapping rule: when a matched staff member's certificate fits every given condition, the
/// rule's roles are added.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct MappingRule {
    /// The certificate's organisation BIN must be this.
    pub bin: Option<String>,
    /// The certificate must carry this NCA role OID.
    pub nca_role: Option<NcaRole>,
    /// The certificate must be of this key profile.
    pub profile: Option<NcaProfile>,
    /// Roles granted.
    pub grant: Vec<String>,
}

impl MappingRule {
    /// An NCA role by configuration name (`employee`, `first_head`, `legal_entity`, …, as
    /// [`NcaRole::as_str`]) or by OID (`1.2.398.3.3.4.1.2.5`).
    pub fn nca_role_from_name(s: &str) -> Option<NcaRole> {
        const ALL: [NcaRole; 8] = [
            NcaRole::Individual,
            NcaRole::LegalEntity,
            NcaRole::FirstHead,
            NcaRole::SigningRight,
            NcaRole::FinanceSigningRight,
            NcaRole::Hr,
            NcaRole::Employee,
            NcaRole::InformationSystem,
        ];
        if let Some(r) = ALL.iter().find(|r| r.as_str() == s) {
            return Some(r.clone());
        }
        let oid = const_oid::ObjectIdentifier::new(s).ok()?;
        NcaRole::from_oid(&oid)
    }

    /// A key profile by name (`gost2015`, `rsa-auth`, `rsa-sign`, `gost2004`, or the
    /// [`NcaProfile::as_str`] spelling).
    pub fn profile_from_name(s: &str) -> Option<NcaProfile> {
        [
            NcaProfile::Gost2015SingleKey,
            NcaProfile::RsaAuth,
            NcaProfile::RsaSign,
            NcaProfile::Gost2004,
        ]
        .into_iter()
        .find(|p| {
            p.as_str() == s
                || crate::auth::purpose::LoginProfile::of(*p).is_some_and(|lp| lp.name() == s)
        })
    }

    fn matches(&self, id: &NcaIdentity) -> bool {
        let bin_ok = self
            .bin
            .as_ref()
            .is_none_or(|b| id.bin.as_ref().is_some_and(|have| &have.value == b));
        let role_ok = self.nca_role.as_ref().is_none_or(|r| id.roles.contains(r));
        let profile_ok = self.profile.is_none_or(|p| id.profile == p);
        bin_ok && role_ok && profile_ok
    }
}

/// A successful lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaffMatch {
    /// Name from the staff record.
    pub name: String,
    /// Roles from the record and the matching rules, sorted, unique.
    pub roles: Vec<String>,
}

/// What a reload changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReloadSummary {
    /// Records now.
    pub records: usize,
    /// IINs new in the file.
    pub added: usize,
    /// IINs gone from the file.
    pub removed: usize,
    /// IINs whose record changed.
    pub changed: usize,
}

/// One problem in a staff file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaffProblem {
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub reason: String,
}

/// Everything wrong with a staff file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaffError {
    /// The file.
    pub path: PathBuf,
    /// The problems (at most [`MAX_LISTED_ERRORS`]).
    pub problems: Vec<StaffProblem>,
    /// Problems found beyond those listed.
    pub more: usize,
}

impl StaffError {
    fn file(path: &Path, reason: impl Into<String>) -> StaffError {
        StaffError {
            path: path.to_path_buf(),
            problems: vec![StaffProblem {
                line: None,
                reason: reason.into(),
            }],
            more: 0,
        }
    }

    /// Stable reason code.
    pub fn code(&self) -> &'static str {
        "staff_file_invalid"
    }
}

impl fmt::Display for StaffError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "staff file {}: {} problem(s)",
            self.path.display(),
            self.problems.len() + self.more
        )?;
        for p in &self.problems {
            match p.line {
                Some(l) => write!(f, "\n  line {l}: {}", p.reason)?,
                None => write!(f, "\n  {}", p.reason)?,
            }
        }
        if self.more > 0 {
            write!(f, "\n  … and {} more", self.more)?;
        }
        Ok(())
    }
}

impl std::error::Error for StaffError {}

/// Collects problems up to the listing cap.
struct Problems {
    list: Vec<StaffProblem>,
    more: usize,
}

impl Problems {
    fn new() -> Problems {
        Problems {
            list: Vec::new(),
            more: 0,
        }
    }

    fn add(&mut self, line: Option<usize>, reason: impl Into<String>) {
        if self.list.len() < MAX_LISTED_ERRORS {
            self.list.push(StaffProblem {
                line,
                reason: reason.into(),
            });
        } else {
            self.more += 1;
        }
    }

    fn is_empty(&self) -> bool {
        self.list.is_empty() && self.more == 0
    }

    fn into_error(self, path: &Path) -> StaffError {
        StaffError {
            path: path.to_path_buf(),
            problems: self.list,
            more: self.more,
        }
    }
}

fn digits12(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn valid_role(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "" | "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

/// `YYYY-MM-DD` → (normalised text, end of that day at UTC+5 as Unix seconds).
fn parse_day(s: &str) -> Option<(String, i64)> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let s = s.trim();
    if s.len() != 10 {
        return None;
    }
    let d = time::Date::parse(s, &fmt).ok()?;
    let next = d.next_day()?;
    let offset = time::UtcOffset::from_whole_seconds(VALID_UNTIL_UTC_OFFSET_SECS).ok()?;
    let end = time::PrimitiveDateTime::new(next, time::Time::MIDNIGHT)
        .assume_offset(offset)
        .unix_timestamp();
    Some((s.to_string(), end))
}

/// The fields of one record before validation.
#[derive(Default)]
struct RawRecord {
    line: usize,
    iin: Option<(String, usize)>,
    name: Option<(String, usize)>,
    roles: Vec<(String, usize)>,
    enabled: Option<(String, usize)>,
    valid_until: Option<(String, usize)>,
    bin: Option<(String, usize)>,
    /// Fields of the wrong type, already reported.
    bad_fields: Vec<&'static str>,
}

fn validate(raw: RawRecord, p: &mut Problems) -> Option<StaffRecord> {
    let before = p.list.len() + p.more;
    let iin = match raw.iin {
        Some((v, _)) if digits12(v.trim()) => Some(v.trim().to_string()),
        Some((v, l)) => {
            p.add(Some(l), format!("IIN {v:?} is not 12 digits"));
            None
        }
        None if raw.bad_fields.contains(&"iin") => None,
        None => {
            p.add(Some(raw.line), "missing iin");
            None
        }
    };
    let name = match raw.name {
        Some((v, _)) if !v.trim().is_empty() && v.chars().count() <= 256 => {
            Some(v.trim().to_string())
        }
        Some((_, l)) => {
            p.add(Some(l), "name is empty or longer than 256 characters");
            None
        }
        None if raw.bad_fields.contains(&"name") => None,
        None => {
            p.add(Some(raw.line), "missing name");
            None
        }
    };
    let mut roles = BTreeSet::new();
    for (r, l) in &raw.roles {
        let r = r.trim();
        if r.is_empty() {
            continue;
        }
        if valid_role(r) {
            roles.insert(r.to_string());
        } else {
            p.add(
                Some(*l),
                format!("role {r:?} is not [A-Za-z0-9_.:-], 1-64 characters"),
            );
        }
    }
    if roles.len() > MAX_ROLES {
        p.add(Some(raw.line), format!("more than {MAX_ROLES} roles"));
    }
    let enabled = match &raw.enabled {
        None => true,
        Some((v, l)) => parse_bool(v).unwrap_or_else(|| {
            p.add(
                Some(*l),
                format!("enabled {v:?} is not true/false/1/0/yes/no"),
            );
            false
        }),
    };
    let mut valid_until = None;
    let mut valid_until_end = None;
    if let Some((v, l)) = &raw.valid_until
        && !v.trim().is_empty()
    {
        match parse_day(v) {
            Some((text, end)) => {
                valid_until = Some(text);
                valid_until_end = Some(end);
            }
            None => p.add(Some(*l), format!("valid_until {v:?} is not YYYY-MM-DD")),
        }
    }
    let bin = match &raw.bin {
        Some((v, _)) if v.trim().is_empty() => None,
        Some((v, _)) if digits12(v.trim()) => Some(v.trim().to_string()),
        Some((v, l)) => {
            p.add(Some(*l), format!("BIN {v:?} is not 12 digits"));
            None
        }
        None => None,
    };
    if p.list.len() + p.more != before || !raw.bad_fields.is_empty() {
        return None;
    }
    Some(StaffRecord {
        iin: iin?,
        name: name?,
        roles: roles.into_iter().collect(),
        enabled,
        valid_until,
        valid_until_end,
        bin,
        line: raw.line,
    })
}

/// Splits one CSV line (RFC 4180 quoting, no embedded line breaks).
fn csv_fields(line: &str) -> Result<Vec<String>, &'static str> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cur.push('"');
                } else {
                    quoted = false;
                    match chars.peek() {
                        None | Some(',') => {}
                        Some(_) => return Err("text after a closing quote"),
                    }
                }
            } else {
                cur.push(c);
            }
        } else if c == ',' {
            out.push(std::mem::take(&mut cur));
            at_start = true;
            continue;
        } else if c == '"' && at_start && cur.trim().is_empty() {
            cur.clear();
            quoted = true;
        } else {
            cur.push(c);
        }
        at_start = false;
    }
    if quoted {
        return Err("unterminated quote");
    }
    out.push(cur);
    Ok(out)
}

const COLUMNS: [&str; 6] = ["iin", "name", "roles", "enabled", "valid_until", "bin"];

fn parse_csv(text: &str, p: &mut Problems) -> Vec<StaffRecord> {
    let mut records = Vec::new();
    let mut header: Option<Vec<usize>> = None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let fields = match csv_fields(line) {
            Ok(f) => f,
            Err(e) => {
                p.add(Some(n), e);
                continue;
            }
        };
        let Some(cols) = &header else {
            let mut cols = Vec::new();
            let mut ok = true;
            for f in &fields {
                let name = f.trim().to_ascii_lowercase();
                match COLUMNS.iter().position(|c| *c == name) {
                    Some(ix) if !cols.contains(&ix) => cols.push(ix),
                    Some(_) => {
                        p.add(Some(n), format!("column {name:?} appears twice"));
                        ok = false;
                    }
                    None => {
                        p.add(
                            Some(n),
                            format!("unknown column {name:?} (known: {})", COLUMNS.join(", ")),
                        );
                        ok = false;
                    }
                }
            }
            for required in [0usize, 1] {
                if !cols.contains(&required) {
                    p.add(
                        Some(n),
                        format!("header lacks the {:?} column", COLUMNS[required]),
                    );
                    ok = false;
                }
            }
            if !ok {
                return records;
            }
            header = Some(cols);
            continue;
        };
        if fields.len() != cols.len() {
            p.add(
                Some(n),
                format!("{} fields, the header has {}", fields.len(), cols.len()),
            );
            continue;
        }
        if records.len() >= MAX_RECORDS {
            p.add(Some(n), format!("more than {MAX_RECORDS} records"));
            break;
        }
        let mut raw = RawRecord {
            line: n,
            ..RawRecord::default()
        };
        for (f, &col) in fields.into_iter().zip(cols) {
            let v = Some((f, n));
            match col {
                0 => raw.iin = v,
                1 => raw.name = v,
                2 => {
                    raw.roles = v
                        .iter()
                        .flat_map(|(s, _)| s.split(';').map(|r| (r.to_string(), n)))
                        .collect();
                }
                3 => raw.enabled = v,
                4 => raw.valid_until = v,
                _ => raw.bin = v,
            }
        }
        if let Some(r) = validate(raw, p) {
            records.push(r);
        }
    }
    if header.is_none() {
        p.add(
            None,
            "no header line (iin,name,roles,enabled,valid_until,bin)",
        );
    }
    records
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()
        .get(..offset.min(text.len()))
        .map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
        + 1
}

fn parse_toml(text: &str, p: &mut Problems) -> Vec<StaffRecord> {
    use toml::de::{DeTable, DeValue};
    let doc = match DeTable::parse(text) {
        Ok(d) => d,
        Err(e) => {
            let line = e.span().map(|s| line_of(text, s.start));
            p.add(line, format!("TOML syntax: {}", e.message()));
            return Vec::new();
        }
    };
    let mut records = Vec::new();
    let mut staff = None;
    for (k, v) in doc.get_ref().iter() {
        if k.get_ref().as_ref() == "staff" {
            staff = Some(v);
        } else {
            p.add(
                Some(line_of(text, k.span().start)),
                format!(
                    "unknown top-level key {:?} (expected [[staff]])",
                    k.get_ref()
                ),
            );
        }
    }
    let Some(staff) = staff else {
        p.add(None, "no [[staff]] records");
        return records;
    };
    let DeValue::Array(entries) = staff.get_ref() else {
        p.add(
            Some(line_of(text, staff.span().start)),
            "staff must be an array of tables ([[staff]])",
        );
        return records;
    };
    for entry in entries.iter() {
        let line = line_of(text, entry.span().start);
        if records.len() >= MAX_RECORDS {
            p.add(Some(line), format!("more than {MAX_RECORDS} records"));
            break;
        }
        let DeValue::Table(t) = entry.get_ref() else {
            p.add(Some(line), "a staff entry must be a table");
            continue;
        };
        let mut raw = RawRecord {
            line,
            ..RawRecord::default()
        };
        let mut first_key_line = None;
        for (k, v) in t.iter() {
            let key = k.get_ref().as_ref();
            let l = line_of(text, v.span().start);
            first_key_line.get_or_insert(line_of(text, k.span().start));
            let mut string = |field: &'static str, p: &mut Problems| match v.get_ref() {
                DeValue::String(s) => Some((s.to_string(), l)),
                _ => {
                    p.add(Some(l), format!("{field} must be a string"));
                    raw.bad_fields.push(field);
                    None
                }
            };
            match key {
                "iin" => raw.iin = string("iin", p),
                "name" => raw.name = string("name", p),
                "bin" => raw.bin = string("bin", p),
                "enabled" => match v.get_ref() {
                    DeValue::Boolean(b) => raw.enabled = Some((b.to_string(), l)),
                    DeValue::String(s) => raw.enabled = Some((s.to_string(), l)),
                    _ => p.add(Some(l), "enabled must be true or false"),
                },
                "valid_until" => match v.get_ref() {
                    DeValue::String(s) => raw.valid_until = Some((s.to_string(), l)),
                    DeValue::Datetime(d) if d.time.is_none() && d.offset.is_none() => {
                        raw.valid_until = Some((d.to_string(), l));
                    }
                    _ => p.add(Some(l), "valid_until must be a date YYYY-MM-DD"),
                },
                "roles" => match v.get_ref() {
                    DeValue::Array(a) => {
                        for r in a.iter() {
                            match r.get_ref() {
                                DeValue::String(s) => raw
                                    .roles
                                    .push((s.to_string(), line_of(text, r.span().start))),
                                _ => p.add(Some(l), "roles must be strings"),
                            }
                        }
                    }
                    _ => p.add(Some(l), "roles must be an array of strings"),
                },
                other => p.add(
                    Some(line_of(text, k.span().start)),
                    format!("unknown key {other:?} (known: {})", COLUMNS.join(", ")),
                ),
            }
        }
        raw.line = first_key_line.unwrap_or(line);
        if let Some(r) = validate(raw, p) {
            records.push(r);
        }
    }
    records
}

/// Parses a staff file's text; `toml` selects the format.
fn parse_text(
    path: &Path,
    text: &str,
    toml: bool,
) -> Result<BTreeMap<String, StaffRecord>, StaffError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut p = Problems::new();
    let records = if toml {
        parse_toml(text, &mut p)
    } else {
        parse_csv(text, &mut p)
    };
    let mut map: BTreeMap<String, StaffRecord> = BTreeMap::new();
    for r in records {
        if let Some(first) = map.get(&r.iin) {
            p.add(
                Some(r.line),
                format!("duplicate IIN {} (first on line {})", r.iin, first.line),
            );
            continue;
        }
        map.insert(r.iin.clone(), r);
    }
    if !p.is_empty() {
        return Err(p.into_error(path));
    }
    Ok(map)
}

/// The format by file name ending: `.toml` or `.csv` (case-insensitive).
fn is_toml(path: &Path) -> Result<bool, StaffError> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("toml") => Ok(true),
        Some("csv") => Ok(false),
        _ => Err(StaffError::file(
            path,
            "the staff file name must end in .csv or .toml",
        )),
    }
}

/// What was last seen of the file (good or bad).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Stamp {
    mtime: Option<SystemTime>,
    size: u64,
    hash: [u8; 32],
}

struct Loaded {
    records: BTreeMap<String, StaffRecord>,
}

/// The staff directory (see the module documentation).
pub struct StaffDirectory {
    path: PathBuf,
    toml: bool,
    rules: Vec<MappingRule>,
    current: RwLock<Arc<Loaded>>,
    /// The last attempt's stamp and its error, if it failed. Also serialises reloads.
    seen: Mutex<(Stamp, Option<StaffError>)>,
}

impl fmt::Debug for StaffDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaffDirectory")
            .field("path", &self.path)
            .field("records", &self.len())
            .field("rules", &self.rules.len())
            .finish()
    }
}

fn read_file(path: &Path) -> Result<(Stamp, String), StaffError> {
    let meta = std::fs::metadata(path).map_err(|e| StaffError::file(path, e.to_string()))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(StaffError::file(
            path,
            format!("file is larger than {MAX_FILE_BYTES} bytes"),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| StaffError::file(path, e.to_string()))?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > MAX_FILE_BYTES {
        return Err(StaffError::file(
            path,
            format!("file is larger than {MAX_FILE_BYTES} bytes"),
        ));
    }
    let hash = ring::digest::digest(&ring::digest::SHA256, &bytes);
    let mut h = [0u8; 32];
    h.copy_from_slice(hash.as_ref());
    let stamp = Stamp {
        mtime: meta.modified().ok(),
        size: meta.len(),
        hash: h,
    };
    let text = String::from_utf8(bytes).map_err(|e| {
        StaffError::file(
            path,
            format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to()),
        )
    })?;
    Ok((stamp, text))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl StaffDirectory {
    /// Loads the file at `path` (CSV or TOML by its ending) with `rules`.
    pub fn load(path: &Path, rules: Vec<MappingRule>) -> Result<StaffDirectory, StaffError> {
        let toml = is_toml(path)?;
        let mut problems = Problems::new();
        for (i, r) in rules.iter().enumerate() {
            if r.grant.is_empty() {
                problems.add(None, format!("mapping rule #{} grants no role", i + 1));
            }
            for g in &r.grant {
                if !valid_role(g) {
                    problems.add(None, format!("mapping rule #{}: bad role {g:?}", i + 1));
                }
            }
            if let Some(b) = &r.bin
                && !digits12(b)
            {
                problems.add(
                    None,
                    format!("mapping rule #{}: BIN {b:?} is not 12 digits", i + 1),
                );
            }
        }
        if !problems.is_empty() {
            return Err(problems.into_error(path));
        }
        let (stamp, text) = read_file(path)?;
        let records = parse_text(path, &text, toml)?;
        Ok(StaffDirectory {
            path: path.to_path_buf(),
            toml,
            rules,
            current: RwLock::new(Arc::new(Loaded { records })),
            seen: Mutex::new((stamp, None)),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn snapshot(&self) -> Arc<Loaded> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Number of records in force.
    pub fn len(&self) -> usize {
        self.snapshot().records.len()
    }

    /// True if no record is in force.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The record for `iin`, as in force.
    pub fn record(&self, iin: &str) -> Option<StaffRecord> {
        self.snapshot().records.get(iin).cloned()
    }

    /// The error of the last reload attempt, while the file on disk is still that bad file
    /// (for a readiness or admin page).
    pub fn last_error(&self) -> Option<StaffError> {
        lock(&self.seen).1.clone()
    }

    /// Looks up the certificate's holder at `now`. Refusals (all 403): `cert_no_iin`,
    /// `staff_unknown`, `staff_disabled`, `staff_expired`, `staff_bin_mismatch`.
    pub fn lookup(&self, id: &NcaIdentity, now: UnixTime) -> Result<StaffMatch, Refusal> {
        let Some(iin) = id.iin.as_ref().map(|i| i.value.as_str()) else {
            return Err(Refusal::new(
                "cert_no_iin",
                403,
                "the certificate carries no IIN (SERIALNUMBER=IIN…)",
            ));
        };
        let loaded = self.snapshot();
        let Some(r) = loaded.records.get(iin) else {
            return Err(Refusal::new(
                "staff_unknown",
                403,
                format!("IIN {iin} is not in the staff directory"),
            ));
        };
        if !r.enabled {
            return Err(Refusal::new(
                "staff_disabled",
                403,
                format!("staff record of IIN {iin} (line {}) is disabled", r.line),
            ));
        }
        if let (Some(end), Some(day)) = (r.valid_until_end, &r.valid_until)
            && now.0 >= end
        {
            return Err(Refusal::new(
                "staff_expired",
                403,
                format!("staff record of IIN {iin} was valid until {day}"),
            ));
        }
        if let Some(want) = &r.bin {
            let have = id.bin.as_ref().map(|b| b.value.as_str());
            if have != Some(want.as_str()) {
                return Err(Refusal::new(
                    "staff_bin_mismatch",
                    403,
                    format!(
                        "staff record of IIN {iin} is for BIN {want}; the certificate has {}",
                        have.unwrap_or("no BIN")
                    ),
                ));
            }
        }
        let mut roles: BTreeSet<String> = r.roles.iter().cloned().collect();
        for rule in &self.rules {
            if rule.matches(id) {
                roles.extend(rule.grant.iter().cloned());
            }
        }
        Ok(StaffMatch {
            name: r.name.clone(),
            roles: roles.into_iter().collect(),
        })
    }

    /// Reloads when the file changed since the last attempt. `Ok(None)`: unchanged (or changed
    /// back to what is in force, or still the same bad file as last time); `Ok(Some)`: the new
    /// directory is in force; `Err`: the file is bad, the previous directory stays in force (the
    /// error is returned once per distinct bad file).
    pub fn reload_if_changed(&self) -> Result<Option<ReloadSummary>, StaffError> {
        let mut seen = lock(&self.seen);
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) => {
                let err = StaffError::file(&self.path, e.to_string());
                if seen.1.as_ref() == Some(&err) {
                    return Ok(None);
                }
                seen.1 = Some(err.clone());
                return Err(err);
            }
        };
        if meta.modified().ok() == seen.0.mtime && meta.len() == seen.0.size {
            return Ok(None);
        }
        let (stamp, text) = match read_file(&self.path) {
            Ok(x) => x,
            Err(e) => {
                if seen.1.as_ref() == Some(&e) {
                    return Ok(None);
                }
                seen.1 = Some(e.clone());
                return Err(e);
            }
        };
        if stamp.hash == seen.0.hash {
            // Touched but the same bytes: the directory in force (or the bad file already
            // reported) is still what the file says.
            seen.0 = stamp;
            return Ok(None);
        }
        seen.0 = stamp;
        match parse_text(&self.path, &text, self.toml) {
            Err(e) => {
                seen.1 = Some(e.clone());
                Err(e)
            }
            Ok(records) => {
                seen.1 = None;
                let old = self.snapshot();
                let added = records
                    .keys()
                    .filter(|k| !old.records.contains_key(*k))
                    .count();
                let removed = old
                    .records
                    .keys()
                    .filter(|k| !records.contains_key(*k))
                    .count();
                let changed = records
                    .iter()
                    .filter(|(k, r)| old.records.get(*k).is_some_and(|o| !o.same_as(r)))
                    .count();
                let summary = ReloadSummary {
                    records: records.len(),
                    added,
                    removed,
                    changed,
                };
                *self
                    .current
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) =
                    Arc::new(Loaded { records });
                Ok(Some(summary))
            }
        }
    }

    /// Checks the file every `every` on the tokio runtime (the reading and parsing run on the
    /// blocking pool) and calls `on_reload` for each reload or each new bad file. The task ends
    /// when the directory is dropped.
    pub fn spawn_watcher(
        self: &Arc<Self>,
        every: Duration,
        on_reload: impl Fn(Result<ReloadSummary, StaffError>) + Send + Sync + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let weak: Weak<StaffDirectory> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(dir) = weak.upgrade() else { return };
                let outcome = tokio::task::spawn_blocking(move || dir.reload_if_changed()).await;
                match outcome {
                    Ok(Ok(Some(s))) => on_reload(Ok(s)),
                    Ok(Ok(None)) => {}
                    Ok(Err(e)) => on_reload(Err(e)),
                    Err(_) => return,
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_follow_rfc4180_quoting() {
        assert_eq!(
            csv_fields(r#"a,"b, c","d ""q""",,e"#).expect("ok"),
            vec!["a", "b, c", "d \"q\"", "", "e"]
        );
        assert!(csv_fields(r#"a,"b"#).is_err());
        assert!(csv_fields(r#""a"b,c"#).is_err());
    }

    #[test]
    fn valid_until_ends_at_midnight_kazakhstan_time() {
        let (_, end) = parse_day("2026-12-31").expect("date");
        // 2027-01-01T00:00:00+05:00 = 2026-12-31T19:00:00Z
        assert_eq!(UnixTime(end).to_rfc3339(), "2026-12-31T19:00:00Z");
        assert!(parse_day("2026-02-30").is_none());
        assert!(parse_day("31.12.2026").is_none());
        assert!(parse_day("2026-1-1").is_none());
    }
}
