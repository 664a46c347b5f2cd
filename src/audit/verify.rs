//! The verifier behind `eds-gateway audit verify`: streams audit files line by line and names every
//! break in the hash chain precisely (file, line, seq, kind, explanation).
//!
//! # What it checks
//! Records are matched **by seq**, not by position, so one fault gives one problem:
//! - *edited*: record `s`'s `prev` is not the SHA-256 of record `s-1`'s line → `s-1` was edited.
//!   If the links into and out of `s` are both broken, `s` itself (its `prev` included) was edited.
//! - *gap*: seqs that never appear (deleted records); at a file boundary (the earlier file ends
//!   before the next file's first seq) the kind is *truncated*.
//! - *reordered*: a seq that arrives after a higher one; its links are still checked.
//! - *duplicate*: a seq seen twice.
//! - *truncated*: a last line with no `\n` that is not a complete record (a write cut off).
//! - *not_json* / *bad_record* / *line_too_long* (over 64 KiB: skipped, never buffered).
//! - *starts_mid_chain*: the lowest seq's `prev` is not 64 zeros (allowed with `allow_partial`,
//!   for a set that begins with a rotated-out continuation); *bad_start*: zeros but seq ≠ 1.
//!
//! A hash chain cannot show records cut from the end of the newest file, or a chain rewritten from
//! the edit onwards: compare the reported last seq and hash with a copy kept elsewhere (a SIEM).
//!
//! # Order and budgets
//! Files are sorted by the first valid seq found in their first 16 lines (stable; files without
//! one go last), so a shell glob in any order works. Memory is bounded: one line buffer
//! ([`MAX_LINE`]), the hashes of the last [`SEQ_WINDOW`] seqs (links and reorders further apart
//! than that are not checked), at most [`MAX_GAPS`] open gaps and [`MAX_PROBLEMS`] problems
//! listed (the rest counted).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::lines::{Line, read_capped_line};
use super::record::{LineError, MAX_LINE, ZERO_HASH, parse_line};

/// Seqs whose hashes are kept for link checks (about 200 bytes each: 2 MB).
pub const SEQ_WINDOW: usize = 10_000;
/// Open gaps tracked at once.
pub const MAX_GAPS: usize = 10_000;
/// Problems listed in a report; more are only counted.
pub const MAX_PROBLEMS: usize = 1000;

/// Verifier switches.
#[derive(Clone, Copy, Debug, Default)]
pub struct VerifyOptions {
    /// Accept a set whose first record continues an earlier chain (a rotated-out file).
    pub allow_partial: bool,
}

/// What went wrong, as a stable code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ProblemKind {
    /// A JSON object missing or malforming `seq`, `ts`, `instance`, `event` or `prev`.
    BadRecord,
    /// The chain's first record has zero `prev` but a seq other than 1.
    BadStart,
    /// A seq that appears twice.
    Duplicate,
    /// A record whose bytes changed after it was written.
    Edited,
    /// Missing seqs (deleted records).
    Gap,
    /// A file could not be read.
    Io,
    /// A line over 64 KiB.
    LineTooLong,
    /// A line that is not a JSON object.
    NotJson,
    /// A record out of seq order.
    Reordered,
    /// The first record's `prev` is not zeros and partial sets were not allowed.
    StartsMidChain,
    /// A torn last line, or a file that ends before the next file's chain starts.
    Truncated,
}

impl ProblemKind {
    /// The stable code used in text and JSON output.
    pub fn code(self) -> &'static str {
        match self {
            ProblemKind::BadRecord => "bad_record",
            ProblemKind::BadStart => "bad_start",
            ProblemKind::Duplicate => "duplicate",
            ProblemKind::Edited => "edited",
            ProblemKind::Gap => "gap",
            ProblemKind::Io => "io",
            ProblemKind::LineTooLong => "line_too_long",
            ProblemKind::NotJson => "not_json",
            ProblemKind::Reordered => "reordered",
            ProblemKind::StartsMidChain => "starts_mid_chain",
            ProblemKind::Truncated => "truncated",
        }
    }
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// What.
    pub kind: ProblemKind,
    /// The file it is in.
    pub file: PathBuf,
    /// 1-based line, when one line is to blame.
    pub line: Option<u64>,
    /// The seq concerned (for a gap: the first missing one).
    pub seq: Option<u64>,
    /// For people.
    pub explanation: String,
}

/// Per-file counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSummary {
    /// The file.
    pub path: PathBuf,
    /// Lines read.
    pub lines: u64,
    /// Valid records.
    pub records: u64,
    /// Lowest and highest seq among them.
    pub first_seq: Option<u64>,
    /// Highest seq.
    pub last_seq: Option<u64>,
}

/// The verdict over a set of files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// Files in the order they were checked (by first seq).
    pub files: Vec<FileSummary>,
    /// Valid records in all files.
    pub records: u64,
    /// Lowest seq.
    pub first_seq: Option<u64>,
    /// Highest seq.
    pub last_seq: Option<u64>,
    /// SHA-256 of the highest-seq record's line: anchor it elsewhere.
    pub last_hash: Option<String>,
    /// Findings, by file and line.
    pub problems: Vec<Problem>,
    /// Findings beyond [`MAX_PROBLEMS`], counted only.
    pub problems_suppressed: u64,
}

impl VerifyReport {
    /// True when nothing was found.
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty() && self.problems_suppressed == 0
    }

    /// The `--json` shape.
    pub fn to_json(&self) -> Value {
        json!({
            "intact": self.is_intact(),
            "records": self.records,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "last_hash": self.last_hash,
            "files": self.files.iter().map(|f| json!({
                "path": f.path.display().to_string(),
                "lines": f.lines,
                "records": f.records,
                "first_seq": f.first_seq,
                "last_seq": f.last_seq,
            })).collect::<Vec<_>>(),
            "problems": self.problems.iter().map(|p| json!({
                "file": p.file.display().to_string(),
                "line": p.line,
                "seq": p.seq,
                "kind": p.kind.code(),
                "explanation": p.explanation,
            })).collect::<Vec<_>>(),
            "problems_suppressed": self.problems_suppressed,
        })
    }
}

/// Verifies files with default options (no partial sets).
pub fn verify_files(paths: &[PathBuf]) -> VerifyReport {
    verify_files_with(paths, VerifyOptions::default())
}

/// Verifies files (sorted by their first seq; see the module docs).
pub fn verify_files_with(paths: &[PathBuf], opts: VerifyOptions) -> VerifyReport {
    let mut v = Verifier::new(opts);
    let mut keyed: Vec<(u64, &PathBuf)> = Vec::with_capacity(paths.len());
    for p in paths {
        match first_seq(p) {
            Ok(k) => keyed.push((k.unwrap_or(u64::MAX), p)),
            Err(e) => v.problem_at(
                usize::MAX,
                p,
                None,
                None,
                ProblemKind::Io,
                format!("cannot read: {e}"),
            ),
        }
    }
    keyed.sort_by_key(|k| k.0);
    for (_, p) in keyed {
        v.file(p);
    }
    v.finish()
}

/// The first valid seq among a file's first 16 lines.
fn first_seq(path: &Path) -> std::io::Result<Option<u64>> {
    let mut r = BufReader::with_capacity(64 * 1024, File::open(path)?);
    let mut buf = Vec::new();
    for _ in 0..16 {
        match read_capped_line(&mut r, &mut buf, MAX_LINE)? {
            Line::Eof => break,
            Line::TooLong { .. } => continue,
            Line::Text { .. } => {
                if let Ok((rec, _)) = parse_line(&buf) {
                    return Ok(Some(rec.seq));
                }
            }
        }
    }
    Ok(None)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Loc {
    file: usize,
    line: u64,
}

struct Seen {
    hash: String,
    /// Kept only while the link from `seq - 1` is still to be checked.
    pending_prev: Option<String>,
    loc: Loc,
}

struct GapInfo {
    end: u64,
    before: (u64, Loc),
    after: (u64, Loc),
}

struct Broken {
    seq: u64,
    loc: Loc,
    prev_loc: Loc,
}

struct Verifier {
    opts: VerifyOptions,
    files: Vec<FileSummary>,
    problems: Vec<(usize, u64, Problem)>,
    suppressed: u64,
    seen: BTreeMap<u64, Seen>,
    /// Highest seq so far, where, and its hash.
    max: Option<(u64, Loc, String)>,
    /// Lowest seq so far, its prev and where.
    min: Option<(u64, String, Loc)>,
    missing: BTreeMap<u64, GapInfo>,
    gaps_overflow: bool,
    broken: BTreeMap<u64, Broken>,
    records: u64,
    /// Per file: the torn last line, so boundary gaps mention it.
    torn: BTreeSet<usize>,
}

impl Verifier {
    fn new(opts: VerifyOptions) -> Self {
        Verifier {
            opts,
            files: Vec::new(),
            problems: Vec::new(),
            suppressed: 0,
            seen: BTreeMap::new(),
            max: None,
            min: None,
            missing: BTreeMap::new(),
            gaps_overflow: false,
            broken: BTreeMap::new(),
            records: 0,
            torn: BTreeSet::new(),
        }
    }

    fn problem_at(
        &mut self,
        file_idx: usize,
        path: &Path,
        line: Option<u64>,
        seq: Option<u64>,
        kind: ProblemKind,
        explanation: String,
    ) {
        if self.problems.len() >= MAX_PROBLEMS {
            self.suppressed += 1;
            return;
        }
        self.problems.push((
            file_idx,
            line.unwrap_or(0),
            Problem {
                kind,
                file: path.to_path_buf(),
                line,
                seq,
                explanation,
            },
        ));
    }

    fn problem(&mut self, loc: Loc, seq: Option<u64>, kind: ProblemKind, explanation: String) {
        let path = self.files[loc.file].path.clone();
        self.problem_at(loc.file, &path, Some(loc.line), seq, kind, explanation);
    }

    fn at(&self, loc: Loc) -> String {
        format!("{}:{}", self.files[loc.file].path.display(), loc.line)
    }

    fn file(&mut self, path: &Path) {
        let idx = self.files.len();
        self.files.push(FileSummary {
            path: path.to_path_buf(),
            lines: 0,
            records: 0,
            first_seq: None,
            last_seq: None,
        });
        let f = match File::open(path) {
            Ok(f) => f,
            Err(e) => {
                self.problem_at(
                    idx,
                    path,
                    None,
                    None,
                    ProblemKind::Io,
                    format!("cannot open: {e}"),
                );
                return;
            }
        };
        let mut r = BufReader::with_capacity(256 * 1024, f);
        let mut buf = Vec::with_capacity(4096);
        let mut line_no: u64 = 0;
        loop {
            let read = match read_capped_line(&mut r, &mut buf, MAX_LINE) {
                Ok(x) => x,
                Err(e) => {
                    let loc = Loc {
                        file: idx,
                        line: line_no + 1,
                    };
                    self.problem(loc, None, ProblemKind::Io, format!("read error: {e}"));
                    return;
                }
            };
            if read == Line::Eof {
                return;
            }
            line_no += 1;
            self.files[idx].lines = line_no;
            let loc = Loc {
                file: idx,
                line: line_no,
            };
            match read {
                Line::Eof => return,
                Line::TooLong { len, terminated } => {
                    let (kind, what) = if terminated {
                        (ProblemKind::LineTooLong, "skipped")
                    } else {
                        self.torn.insert(idx);
                        (ProblemKind::Truncated, "the last line, with no newline")
                    };
                    self.problem(
                        loc,
                        None,
                        kind,
                        format!("line of {len} bytes is over the {MAX_LINE}-byte cap ({what})"),
                    );
                }
                Line::Text { terminated } => match parse_line(&buf) {
                    Ok((rec, _)) => self.record(rec.seq, rec.prev, rec.hash, loc),
                    Err(_) if !terminated => {
                        self.torn.insert(idx);
                        self.problem(
                            loc,
                            None,
                            ProblemKind::Truncated,
                            format!(
                                "the last line ({} bytes) has no newline and is not a complete record: the file was cut mid-write",
                                buf.len()
                            ),
                        );
                    }
                    Err(LineError::NotJson(why)) => {
                        self.problem(loc, None, ProblemKind::NotJson, why);
                    }
                    Err(LineError::BadRecord(why)) => {
                        let seq = serde_json::from_slice::<Value>(&buf)
                            .ok()
                            .and_then(|v| v.get("seq").and_then(Value::as_u64));
                        self.problem(loc, seq, ProblemKind::BadRecord, why);
                    }
                },
            }
        }
    }

    fn record(&mut self, s: u64, prev: String, hash: String, loc: Loc) {
        self.records += 1;
        {
            let f = &mut self.files[loc.file];
            f.records += 1;
            f.first_seq = Some(f.first_seq.map_or(s, |x| x.min(s)));
            f.last_seq = Some(f.last_seq.map_or(s, |x| x.max(s)));
        }
        if let Some(old) = self.seen.get(&s) {
            let was = self.at(old.loc);
            self.problem(
                loc,
                Some(s),
                ProblemKind::Duplicate,
                format!("seq {s} already appeared at {was}"),
            );
            return;
        }

        // Position: in order, a jump (gap opens), or late (fills a gap: reordered).
        match self.max.clone() {
            None => {}
            Some((m, _, _)) if Some(s) == m.checked_add(1) => {}
            // s > m + 1 here, so neither bound overflows.
            Some((m, mloc, _)) if s > m => self.open_gap(m + 1, s - 1, (m, mloc), (s, loc)),
            Some((m, mloc, _)) => {
                let min = self.min.as_ref().map_or(s, |x| x.0);
                if self.take_missing(s) {
                    let a = self.at(mloc);
                    self.problem(
                        loc,
                        Some(s),
                        ProblemKind::Reordered,
                        format!("seq {s} appears after seq {m} ({a}); it belongs before it"),
                    );
                } else if s < min {
                    let a = self.at(mloc);
                    self.problem(
                        loc,
                        Some(s),
                        ProblemKind::Reordered,
                        format!(
                            "seq {s} appears after seq {m} ({a}) but precedes the first record read"
                        ),
                    );
                    if s + 1 < min {
                        let minloc = self.min.as_ref().map_or(loc, |x| x.2);
                        self.open_gap(s + 1, min - 1, (s, loc), (min, minloc));
                    }
                } else {
                    self.problem(
                        loc,
                        Some(s),
                        ProblemKind::Duplicate,
                        format!("seq {s} appears again (or further out of order than {SEQ_WINDOW} records)"),
                    );
                    return;
                }
            }
        }

        // Links by seq: s-1 → s now, or later when s-1 arrives; s → s+1 if s+1 came first.
        let mut pending_prev = None;
        if let Some(p) = s.checked_sub(1).and_then(|p| self.seen.get(&p)) {
            if p.hash != prev {
                let b = Broken {
                    seq: s,
                    loc,
                    prev_loc: p.loc,
                };
                self.broken.insert(s, b);
            }
        } else if s > 1 && self.is_missing(s - 1) {
            pending_prev = Some(prev.clone());
        }
        let next = s.checked_add(1).and_then(|n| self.seen.get_mut(&n));
        if let Some(next) = next
            && let Some(np) = next.pending_prev.take()
            && np != hash
        {
            let b = Broken {
                seq: s.saturating_add(1),
                loc: next.loc,
                prev_loc: loc,
            };
            self.broken.insert(b.seq, b);
        }
        if self.min.as_ref().is_none_or(|x| s < x.0) {
            self.min = Some((s, prev, loc));
        }
        if self.max.as_ref().is_none_or(|x| s > x.0) {
            self.max = Some((s, loc, hash.clone()));
        }
        self.seen.insert(
            s,
            Seen {
                hash,
                pending_prev,
                loc,
            },
        );
        while self.seen.len() > SEQ_WINDOW {
            self.seen.pop_first();
        }
    }

    fn open_gap(&mut self, start: u64, end: u64, before: (u64, Loc), after: (u64, Loc)) {
        if self.missing.len() >= MAX_GAPS {
            if !self.gaps_overflow {
                self.gaps_overflow = true;
                self.problem(
                    after.1,
                    Some(start),
                    ProblemKind::Gap,
                    format!("more than {MAX_GAPS} gaps open: later gaps are not tracked"),
                );
            }
            return;
        }
        self.missing.insert(start, GapInfo { end, before, after });
    }

    fn is_missing(&self, s: u64) -> bool {
        self.missing
            .range(..=s)
            .next_back()
            .is_some_and(|(_, g)| g.end >= s)
    }

    /// Removes `s` from the open gaps; true if it was missing.
    fn take_missing(&mut self, s: u64) -> bool {
        let Some((&start, g)) = self.missing.range(..=s).next_back() else {
            return false;
        };
        if g.end < s {
            return false;
        }
        let Some(g) = self.missing.remove(&start) else {
            return false;
        };
        if start < s {
            self.missing.insert(
                start,
                GapInfo {
                    end: s - 1,
                    before: g.before,
                    after: g.after,
                },
            );
        }
        if s < g.end {
            self.missing.insert(
                s + 1,
                GapInfo {
                    end: g.end,
                    before: g.before,
                    after: g.after,
                },
            );
        }
        true
    }

    fn finish(mut self) -> VerifyReport {
        // Start of the chain.
        if let Some((s, prev, loc)) = self.min.clone() {
            if prev == ZERO_HASH {
                if s != 1 {
                    self.problem(
                        loc,
                        Some(s),
                        ProblemKind::BadStart,
                        format!("prev is all zeros (a chain start) but seq is {s}, not 1"),
                    );
                }
            } else if !self.opts.allow_partial {
                self.problem(
                    loc,
                    Some(s),
                    ProblemKind::StartsMidChain,
                    format!(
                        "the first record (seq {s}) continues an earlier chain (prev is not zeros): earlier files are missing; use --allow-partial if this set starts with a rotated-out file"
                    ),
                );
            }
        }
        // Gaps left open: deleted records, or a file that ends early.
        let gaps: Vec<(u64, GapInfo)> = std::mem::take(&mut self.missing).into_iter().collect();
        for (start, g) in gaps {
            let range = if start == g.end {
                format!("seq {start} is")
            } else {
                format!("seqs {start}..{} are", g.end)
            };
            let (bs, bl) = g.before;
            let (as_, al) = g.after;
            let boundary = bl.file != al.file && self.files[bl.file].last_seq == Some(bs);
            if boundary {
                let torn = if self.torn.contains(&bl.file) {
                    " (its last line is torn)"
                } else {
                    ""
                };
                let (bf, af) = (
                    self.files[bl.file].path.display().to_string(),
                    self.files[al.file].path.display().to_string(),
                );
                self.problem(
                    bl,
                    Some(start),
                    ProblemKind::Truncated,
                    format!(
                        "{bf} ends at seq {bs}{torn} but the next file {af} starts at seq {as_}: {range} missing, the earlier file was truncated"
                    ),
                );
            } else {
                let (ba, aa) = (self.at(bl), self.at(al));
                self.problem(
                    al,
                    Some(start),
                    ProblemKind::Gap,
                    format!(
                        "{range} missing between seq {bs} ({ba}) and seq {as_} ({aa}): deleted"
                    ),
                );
            }
        }
        // Broken links → edited records.
        let broken: Vec<Broken> = std::mem::take(&mut self.broken).into_values().collect();
        let mut i = 0;
        while i < broken.len() {
            let b = &broken[i];
            let next_also = broken
                .get(i + 1)
                .filter(|n| Some(n.seq) == b.seq.checked_add(1));
            if let Some(n) = next_also {
                let (here, after) = (self.at(b.loc), self.at(n.loc));
                self.problem(
                    b.loc,
                    Some(b.seq),
                    ProblemKind::Edited,
                    format!(
                        "seq {} ({here}) was edited: its SHA-256 no longer matches the prev stored in seq {} ({after}), and its own prev no longer matches seq {} (which therefore cannot be vouched for either)",
                        b.seq,
                        n.seq,
                        b.seq.saturating_sub(1)
                    ),
                );
                i += 2;
            } else {
                let (edited, by) = (self.at(b.prev_loc), self.at(b.loc));
                self.problem(
                    b.prev_loc,
                    Some(b.seq.saturating_sub(1)),
                    ProblemKind::Edited,
                    format!(
                        "seq {} ({edited}) was edited: its SHA-256 no longer matches the prev stored in seq {} ({by})",
                        b.seq.saturating_sub(1),
                        b.seq
                    ),
                );
                i += 1;
            }
        }
        self.problems.sort_by_key(|p| (p.0, p.1));
        let (first_seq, last_seq, last_hash) = (
            self.min.as_ref().map(|m| m.0),
            self.max.as_ref().map(|m| m.0),
            self.max.map(|m| m.2),
        );
        VerifyReport {
            files: self.files,
            records: self.records,
            first_seq,
            last_seq,
            last_hash,
            problems: self.problems.into_iter().map(|p| p.2).collect(),
            problems_suppressed: self.suppressed,
        }
    }
}
