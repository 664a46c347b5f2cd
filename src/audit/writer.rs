//! [`AuditLog`]: the writer. One process, one file (each gateway instance has its own file,
//! DESIGN.md "Stores and scale"); appends are serialised by a mutex so file order is `seq` order.
//!
//! # Durability
//! - [`FsyncMode::PerRecord`] (default): `fdatasync` after every record, before `append` returns.
//! - [`FsyncMode::Batch`]: `append` fsyncs itself when `max_records` records are unsynced; a
//!   background thread fsyncs once the oldest unsynced record is `max_delay` old. So a record is on
//!   disk at most `max_delay` (plus one fsync) after `append` returned, even if no other record
//!   follows. Dropping the last handle fsyncs what is left.
//! - A failed write is rolled back (`ftruncate` to the last good length) so the file never holds
//!   a half line we know of; if the rollback or an fsync fails, the log is *poisoned*: every later
//!   append fails with [`AuditError::Poisoned`] until the log is reopened (after an fsync error
//!   the kernel may have dropped the dirty pages, so we cannot trust what is on disk).
//!
//! # Reopening and crashes
//! `open` reads only the tail of the file (a window of two maximal lines) and continues the chain
//! from its last record. If the file ends with a line that has no `\n` (a crash mid-write):
//! - if that line is a complete record that chains correctly, the `\n` is added and it is kept;
//! - otherwise the torn bytes are copied to `<file>.torn-<offset>` (fsynced), cut from the file,
//!   and an `audit_torn_tail` record (offset, length, SHA-256 of the torn bytes, the side file's
//!   name) is appended to the chain. Earlier records are never touched; [`AuditLog::recovery`]
//!   reports it to the caller.
//! - if the last complete line is not a record, `open` refuses ([`AuditError::CorruptTail`]): the
//!   operator runs `eds-gateway audit verify` and moves the file aside.
//!
//! # Rotation
//! Before a record would push the file past `rotate_bytes`, the file is fsynced and renamed to
//! `<stem>-<YYYYMMDDTHHMMSSZ>-<last seq>.<ext>` (the time is the record's `ts`), a new file is
//! created at the configured path, and its first record is an `audit_rotated` marker naming the
//! previous file; the marker's `prev` is the hash of the rotated file's last record, and `seq`
//! continues. If the configured file is missing or empty when opened but rotated siblings exist
//! (a crash between rename and marker), the chain continues from the sibling with the highest
//! last seq, and the marker is written then. A brand-new chain starts only when neither exists.
//!
//! One writer per file: two processes appending to the same file would interleave two chains.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::AuditError;
use super::record::{
    MAX_LINE, ParsedRecord, ZERO_HASH, build_line, line_hash, parse_line, sanitize_fields,
};
use crate::pki::time::UnixTime;

/// Records kept in memory for [`AuditLog::recent`] (the admin page shows the latest few hundred).
pub const RECENT_CAP: usize = 1000;

/// Smallest accepted `rotate_bytes` (1 KiB): below it, every record would start a new file.
pub const MIN_ROTATE_BYTES: u64 = 1024;

/// When records reach the disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FsyncMode {
    /// fsync after every record (the default).
    #[default]
    PerRecord,
    /// fsync once `max_records` are unsynced or the oldest unsynced one is `max_delay` old.
    Batch {
        /// Unsynced records that force an fsync in `append` (at least 1).
        max_records: usize,
        /// Longest time a record stays unsynced (the background flusher's deadline).
        max_delay: Duration,
    },
}

/// Where and how to write.
#[derive(Clone, Debug)]
pub struct AuditConfig {
    /// The live file (parent directories are created).
    pub path: PathBuf,
    /// This gateway instance's name, written in every record.
    pub instance: String,
    /// Durability.
    pub fsync: FsyncMode,
    /// Rotate before the file would exceed this many bytes (`None`: never).
    pub rotate_bytes: Option<u64>,
}

impl AuditConfig {
    /// Per-record fsync, no rotation.
    pub fn new(path: impl Into<PathBuf>, instance: impl Into<String>) -> Self {
        AuditConfig {
            path: path.into(),
            instance: instance.into(),
            fsync: FsyncMode::PerRecord,
            rotate_bytes: None,
        }
    }
}

/// A torn last line found by `open` and moved out of the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    /// Byte offset in the file where the torn line started (the file was cut there).
    pub offset: u64,
    /// Its length.
    pub len: u64,
    /// Where its bytes were saved.
    pub saved_to: PathBuf,
    /// The seq of the `audit_torn_tail` record that documents it.
    pub recorded_as: u64,
}

/// The append-only, hash-chained audit log. Cheap to clone (one shared writer).
#[derive(Clone)]
pub struct AuditLog {
    inner: Arc<Handle>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.inner.shared.cfg.path)
            .field("instance", &self.inner.shared.cfg.instance)
            .finish_non_exhaustive()
    }
}

struct Handle {
    shared: Arc<Shared>,
    flusher: Option<JoinHandle<()>>,
}

struct Shared {
    cfg: AuditConfig,
    state: Mutex<State>,
    wake: Condvar,
}

struct State {
    file: File,
    len: u64,
    next_seq: u64,
    prev_hash: String,
    unsynced: usize,
    first_unsynced: Option<Instant>,
    ring: VecDeque<Value>,
    poisoned: Option<String>,
    shutdown: bool,
    recovery: Option<TornTail>,
}

/// What `open` learns from the tail of an existing file.
struct Tail {
    last: Option<ParsedRecord>,
    /// Unterminated bytes at the end: (offset, bytes).
    fragment: Option<(u64, Vec<u8>)>,
    recent: Vec<Value>,
    len: u64,
}

impl AuditLog {
    /// Opens (or creates) the log and continues its chain; see the module docs for crash and
    /// rotation handling.
    pub fn open(cfg: AuditConfig) -> Result<AuditLog, AuditError> {
        validate_config(&cfg)?;
        let path = cfg.path.clone();
        let dir = parent_dir(&path);
        fs::create_dir_all(&dir).map_err(|e| io_err(&dir, "create directory", e))?;

        let existing_len = match fs::metadata(&path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(io_err(&path, "stat", e)),
        };
        let mut tail = if existing_len > 0 {
            read_tail(&path)?
        } else {
            Tail {
                last: None,
                fragment: None,
                recent: Vec::new(),
                len: 0,
            }
        };
        // A missing or empty live file after a rotation: continue from the newest rotated file.
        let mut resume_from: Option<String> = None;
        if existing_len == 0
            && let Some((_, sib)) = rotated_siblings(&path)?.into_iter().max_by_key(|s| s.0)
        {
            let st = read_tail(&sib)?;
            if st.fragment.is_some() {
                return Err(AuditError::CorruptTail {
                    path: sib,
                    detail: "a rotated file ends with a torn line".to_owned(),
                });
            }
            tail.last = st.last;
            tail.recent = st.recent;
            resume_from = sib.file_name().map(|n| n.to_string_lossy().into_owned());
        }

        let created = existing_len == 0;
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&path)
            .map_err(|e| io_err(&path, "open", e))?;
        if created {
            sync_dir(&dir)?;
        }

        let mut torn: Option<(u64, Vec<u8>, PathBuf)> = None;
        if let Some((offset, frag)) = tail.fragment.take() {
            let expected_seq = tail.last.as_ref().map_or(1, |l| l.seq.saturating_add(1));
            let expected_prev = tail.last.as_ref().map_or(ZERO_HASH, |l| l.hash.as_str());
            match parse_line(&frag) {
                Ok((rec, v)) if rec.seq == expected_seq && rec.prev == expected_prev => {
                    // A whole record cut just before its newline: finish the line, keep it.
                    file.write_all(b"\n")
                        .and_then(|()| file.sync_data())
                        .map_err(|e| io_err(&path, "complete last line", e))?;
                    tail.len += 1;
                    tail.recent.push(v);
                    tail.last = Some(rec);
                }
                _ => {
                    let saved = save_torn(&path, offset, &frag)?;
                    file.set_len(offset)
                        .and_then(|()| file.sync_data())
                        .map_err(|e| io_err(&path, "cut torn line", e))?;
                    tail.len = offset;
                    // Documented by a record below, once the state exists.
                    torn = Some((offset, frag, saved));
                }
            }
        }

        let (next_seq, prev_hash) = match &tail.last {
            Some(l) => (l.seq.saturating_add(1), l.hash.clone()),
            None => (1, ZERO_HASH.to_owned()),
        };
        let mut ring: VecDeque<Value> = tail.recent.into_iter().collect();
        while ring.len() > RECENT_CAP {
            ring.pop_front();
        }
        let state = State {
            file,
            len: tail.len,
            next_seq,
            prev_hash,
            unsynced: 0,
            first_unsynced: None,
            ring,
            poisoned: None,
            shutdown: false,
            recovery: None,
        };
        let shared = Arc::new(Shared {
            cfg,
            state: Mutex::new(state),
            wake: Condvar::new(),
        });
        let flusher = match shared.cfg.fsync {
            FsyncMode::Batch { max_delay, .. } => {
                let s = Arc::clone(&shared);
                Some(
                    std::thread::Builder::new()
                        .name("audit-flush".to_owned())
                        .spawn(move || flusher(&s, max_delay))
                        .map_err(|e| io_err(&path, "start flusher thread", e))?,
                )
            }
            FsyncMode::PerRecord => None,
        };
        let log = AuditLog {
            inner: Arc::new(Handle {
                shared: Arc::clone(&shared),
                flusher,
            }),
        };

        let now = crate::clock::now();
        if let Some((offset, frag, saved)) = torn {
            let fields = json!({
                "torn_offset": offset,
                "torn_bytes": frag.len(),
                "torn_sha256": line_hash(&frag),
                "saved_to": saved.file_name().map(|n| n.to_string_lossy().into_owned()),
            });
            let seq = log.append_forced("audit_torn_tail", now, fields)?;
            let mut st = lock(&shared)?;
            st.recovery = Some(TornTail {
                offset,
                len: frag.len() as u64,
                saved_to: saved,
                recorded_as: seq,
            });
        }
        if let Some(prev_file) = resume_from {
            let prev_last = next_seq.saturating_sub(1);
            log.append_forced(
                "audit_rotated",
                now,
                json!({"previous_file": prev_file, "previous_last_seq": prev_last}),
            )?;
        }
        Ok(log)
    }

    /// Appends one record; returns its `seq`. `fields` must be a JSON object (or null); secret
    /// keys are removed at any depth and listed in `redacted` (see [`super::record`]).
    pub fn append(&self, event: &str, ts: UnixTime, fields: Value) -> Result<u64, AuditError> {
        validate_event(event)?;
        self.append_forced(event, ts, fields)
    }

    /// [`AuditLog::append`] on tokio's blocking pool, for async handlers.
    pub async fn append_async(
        &self,
        event: &str,
        ts: UnixTime,
        fields: Value,
    ) -> Result<u64, AuditError> {
        let this = self.clone();
        let event = event.to_owned();
        tokio::task::spawn_blocking(move || this.append(&event, ts, fields))
            .await
            .map_err(|e| AuditError::Task(e.to_string()))?
    }

    /// The last `n` records (oldest first), at most [`RECENT_CAP`]: records appended by this
    /// process plus those `open` found in the tail window of the existing file.
    pub fn recent(&self, n: usize) -> Vec<Value> {
        let st = match self.inner.shared.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let skip = st.ring.len().saturating_sub(n);
        st.ring.iter().skip(skip).cloned().collect()
    }

    /// The seq and hash of the last record written (what an operator anchors elsewhere: a plain
    /// hash chain cannot show that records were cut from the end of the newest file).
    pub fn head(&self) -> Option<(u64, String)> {
        let st = lock(&self.inner.shared).ok()?;
        (st.next_seq > 1).then(|| (st.next_seq - 1, st.prev_hash.clone()))
    }

    /// The torn line `open` moved out of the chain, if any.
    pub fn recovery(&self) -> Option<TornTail> {
        lock(&self.inner.shared).ok()?.recovery.clone()
    }

    /// fsyncs now (Batch mode; a no-op when nothing is pending).
    pub fn flush(&self) -> Result<(), AuditError> {
        let mut st = lock(&self.inner.shared)?;
        sync_pending(&mut st, &self.inner.shared.cfg.path)
    }

    fn append_forced(&self, event: &str, ts: UnixTime, fields: Value) -> Result<u64, AuditError> {
        let (fields, redacted) = sanitize_fields(fields)?;
        let shared = &self.inner.shared;
        let cfg = &shared.cfg;
        let ts_s = ts.to_rfc3339();
        // `to_rfc3339` falls back to digits outside years 0..=9999; the verifier would refuse that.
        if crate::pki::time::UnixTime::parse_rfc3339(&ts_s).is_none() {
            return Err(AuditError::InvalidTime(ts.0));
        }
        let mut st = lock(shared)?;
        if let Some(why) = &st.poisoned {
            return Err(AuditError::Poisoned(why.clone()));
        }
        let mut line = build_line(
            st.next_seq,
            &ts_s,
            &cfg.instance,
            event,
            &fields,
            &redacted,
            &st.prev_hash,
        )?;
        if let Some(max) = cfg.rotate_bytes
            && st.len > 0
            && st.len.saturating_add(line.len() as u64 + 1) > max
        {
            rotate(&mut st, cfg, ts)?;
            line = build_line(
                st.next_seq,
                &ts_s,
                &cfg.instance,
                event,
                &fields,
                &redacted,
                &st.prev_hash,
            )?;
        }
        let seq = st.next_seq;
        write_line(&mut st, shared, line, false)?;
        Ok(seq)
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Ok(mut st) = self.shared.state.lock() {
            st.shutdown = true;
            let _ = sync_pending(&mut st, &self.shared.cfg.path);
        }
        self.shared.wake.notify_all();
        if let Some(h) = self.flusher.take() {
            let _ = h.join();
        }
    }
}

fn lock(shared: &Shared) -> Result<MutexGuard<'_, State>, AuditError> {
    shared
        .state
        .lock()
        .map_err(|_| AuditError::Poisoned("a writer thread panicked".to_owned()))
}

fn validate_config(cfg: &AuditConfig) -> Result<(), AuditError> {
    let i = &cfg.instance;
    if i.is_empty() || i.len() > 128 || i.chars().any(char::is_control) {
        return Err(AuditError::InvalidConfig(
            "instance must be 1..128 bytes without control characters".to_owned(),
        ));
    }
    if let Some(r) = cfg.rotate_bytes
        && r < MIN_ROTATE_BYTES
    {
        return Err(AuditError::InvalidConfig(format!(
            "rotate_bytes must be at least {MIN_ROTATE_BYTES}"
        )));
    }
    if let FsyncMode::Batch { max_records: 0, .. } = cfg.fsync {
        return Err(AuditError::InvalidConfig(
            "batch max_records must be at least 1".to_owned(),
        ));
    }
    if cfg.path.file_name().is_none() {
        return Err(AuditError::InvalidConfig(format!(
            "{} is not a file path",
            cfg.path.display()
        )));
    }
    Ok(())
}

/// Event names: 1..64 of `[a-z0-9_.-]`, so they are stable codes, not free text.
fn validate_event(event: &str) -> Result<(), AuditError> {
    let ok = !event.is_empty()
        && event.len() <= 64
        && event
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(AuditError::InvalidEvent(event.chars().take(80).collect()))
    }
}

fn io_err(path: &Path, op: &'static str, source: std::io::Error) -> AuditError {
    AuditError::Io {
        path: path.to_path_buf(),
        op,
        source,
    }
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// fsync a directory so a create or rename in it survives a crash (POSIX: the entry lives in the
/// directory, not the file).
fn sync_dir(dir: &Path) -> Result<(), AuditError> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_err(dir, "fsync directory", e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Reads the last `2 * (MAX_LINE + 1)` bytes: enough for the last complete line and a torn one.
fn read_tail(path: &Path) -> Result<Tail, AuditError> {
    let mut f = File::open(path).map_err(|e| io_err(path, "open", e))?;
    let len = f.metadata().map_err(|e| io_err(path, "stat", e))?.len();
    let window = (2 * (MAX_LINE as u64 + 1)).min(len);
    let start = len - window;
    f.seek(SeekFrom::Start(start))
        .map_err(|e| io_err(path, "seek", e))?;
    let mut data = Vec::with_capacity(usize::try_from(window).unwrap_or(0));
    f.take(window)
        .read_to_end(&mut data)
        .map_err(|e| io_err(path, "read", e))?;
    let corrupt = |detail: &str| AuditError::CorruptTail {
        path: path.to_path_buf(),
        detail: format!("{detail}; run `eds-gateway audit verify` on it and move it aside"),
    };

    let (complete, fragment) = if data.last() == Some(&b'\n') {
        (&data[..], None)
    } else {
        match data.iter().rposition(|&b| b == b'\n') {
            Some(i) => (&data[..=i], Some(&data[i + 1..])),
            None if start == 0 => (&data[..0], Some(&data[..])),
            None => {
                return Err(corrupt(
                    "the file ends with an unterminated line over 64 KiB",
                ));
            }
        }
    };
    let mut lines: Vec<&[u8]> = complete.split(|&b| b == b'\n').collect();
    lines.pop(); // the empty piece after the final '\n' (or the empty slice itself)
    if start > 0 && !lines.is_empty() {
        lines.remove(0); // may begin mid-line
    }
    if !complete.is_empty() && lines.is_empty() {
        return Err(corrupt("its last line is longer than 64 KiB"));
    }
    let last = match lines.last() {
        Some(l) => match parse_line(l) {
            Ok((rec, _)) => Some(rec),
            Err(_) => return Err(corrupt("its last complete line is not an audit record")),
        },
        None => None,
    };
    let recent = lines
        .iter()
        .rev()
        .take(RECENT_CAP)
        .rev()
        .filter_map(|l| parse_line(l).ok().map(|(_, v)| v))
        .collect();
    let fragment = fragment.map(|f| (len - f.len() as u64, f.to_vec()));
    Ok(Tail {
        last,
        fragment,
        recent,
        len,
    })
}

fn save_torn(path: &Path, offset: u64, frag: &[u8]) -> Result<PathBuf, AuditError> {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".torn-{offset}"));
    let mut side = PathBuf::from(name);
    let mut n = 1;
    while side.exists() {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".torn-{offset}-{n}"));
        side = PathBuf::from(name);
        n += 1;
    }
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&side)
        .map_err(|e| io_err(&side, "create", e))?;
    f.write_all(frag)
        .and_then(|()| f.sync_all())
        .map_err(|e| io_err(&side, "write", e))?;
    sync_dir(&parent_dir(path))?;
    Ok(side)
}

/// `(last seq, path)` of `<stem>-<YYYYMMDDTHHMMSSZ>-<seq>.<ext>` files beside `path`.
fn rotated_siblings(path: &Path) -> Result<Vec<(u64, PathBuf)>, AuditError> {
    let dir = parent_dir(path);
    let (stem, ext) = stem_ext(path);
    let prefix = format!("{stem}-");
    let suffix = format!(".{ext}");
    let mut out = Vec::new();
    let rd = match fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) => return Err(io_err(&dir, "list directory", e)),
    };
    for entry in rd.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(mid) = name
            .strip_prefix(&prefix)
            .and_then(|r| r.strip_suffix(&suffix))
        else {
            continue;
        };
        let Some((ts, seq)) = mid.rsplit_once('-') else {
            continue;
        };
        if ts.len() != 16 || !ts.ends_with('Z') {
            continue;
        }
        if let Ok(seq) = seq.parse::<u64>() {
            out.push((seq, entry.path()));
        }
    }
    Ok(out)
}

fn stem_ext(path: &Path) -> (String, String) {
    let stem = path
        .file_stem()
        .map_or_else(|| "audit".to_owned(), |s| s.to_string_lossy().into_owned());
    let ext = path
        .extension()
        .map_or_else(|| "jsonl".to_owned(), |s| s.to_string_lossy().into_owned());
    (stem, ext)
}

/// `20261125T080000Z`.
fn compact_utc(ts: UnixTime) -> String {
    match time::OffsetDateTime::from_unix_timestamp(ts.0) {
        Ok(t) => format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => "00000000T000000Z".to_owned(),
    }
}

fn rotate(st: &mut State, cfg: &AuditConfig, ts: UnixTime) -> Result<(), AuditError> {
    let path = &cfg.path;
    st.file.sync_data().map_err(|e| {
        st.poisoned = Some(format!("fsync before rotation failed: {e}"));
        io_err(path, "fsync", e)
    })?;
    st.unsynced = 0;
    st.first_unsynced = None;
    let last_seq = st.next_seq.saturating_sub(1);
    let (stem, ext) = stem_ext(path);
    let dir = parent_dir(path);
    let name = format!("{stem}-{}-{last_seq}.{ext}", compact_utc(ts));
    let target = dir.join(&name);
    if target.exists() {
        return Err(io_err(
            &target,
            "rotate",
            std::io::Error::new(std::io::ErrorKind::AlreadyExists, "rotated name taken"),
        ));
    }
    fs::rename(path, &target).map_err(|e| io_err(path, "rotate (rename)", e))?;
    // From here on the old handle points at the rotated file: any failure poisons the log.
    let fresh = OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)
        .and_then(|f| {
            if let Ok(d) = File::open(&dir) {
                d.sync_all()?;
            }
            Ok(f)
        });
    let fresh = match fresh {
        Ok(f) => f,
        Err(e) => {
            st.poisoned = Some(format!("could not open a new file after rotation: {e}"));
            return Err(io_err(path, "open after rotation", e));
        }
    };
    st.file = fresh;
    st.len = 0;
    let mut fields = Map::new();
    fields.insert("previous_file".to_owned(), Value::from(name));
    fields.insert("previous_last_seq".to_owned(), Value::from(last_seq));
    let line = build_line(
        st.next_seq,
        &ts.to_rfc3339(),
        &cfg.instance,
        "audit_rotated",
        &fields,
        &[],
        &st.prev_hash,
    )?;
    // The marker is always fsynced: it is what ties the new file to the old one.
    write_raw(st, path, line, true)
}

/// Writes a built line, handling the batch policy.
fn write_line(
    st: &mut State,
    shared: &Shared,
    line: String,
    force_sync: bool,
) -> Result<(), AuditError> {
    let path = &shared.cfg.path;
    match shared.cfg.fsync {
        FsyncMode::PerRecord => write_raw(st, path, line, true),
        FsyncMode::Batch { max_records, .. } => {
            write_raw(st, path, line, force_sync)?;
            if !force_sync {
                st.unsynced += 1;
                if st.unsynced >= max_records {
                    sync_pending(st, path)?;
                } else if st.first_unsynced.is_none() {
                    st.first_unsynced = Some(Instant::now());
                    shared.wake.notify_all();
                }
            }
            Ok(())
        }
    }
}

fn write_raw(st: &mut State, path: &Path, line: String, sync: bool) -> Result<(), AuditError> {
    let mut bytes = line.into_bytes();
    let hash = line_hash(&bytes);
    let value: Option<Value> = serde_json::from_slice(&bytes).ok();
    bytes.push(b'\n');
    if let Err(e) = st.file.write_all(&bytes) {
        // Undo a partial write so the next record does not glue onto half a line.
        if let Err(e2) = st.file.set_len(st.len) {
            st.poisoned = Some(format!("write failed ({e}) and rollback failed ({e2})"));
        }
        return Err(io_err(path, "write", e));
    }
    st.len += bytes.len() as u64;
    st.next_seq = st.next_seq.saturating_add(1);
    st.prev_hash = hash;
    if let Some(v) = value {
        if st.ring.len() >= RECENT_CAP {
            st.ring.pop_front();
        }
        st.ring.push_back(v);
    }
    if sync && let Err(e) = st.file.sync_data() {
        st.poisoned = Some(format!("fsync failed: {e}"));
        return Err(io_err(path, "fsync", e));
    }
    Ok(())
}

fn sync_pending(st: &mut State, path: &Path) -> Result<(), AuditError> {
    if st.unsynced == 0 {
        return Ok(());
    }
    st.unsynced = 0;
    st.first_unsynced = None;
    st.file.sync_data().map_err(|e| {
        st.poisoned = Some(format!("fsync failed: {e}"));
        io_err(path, "fsync", e)
    })
}

/// Batch mode: fsyncs once the oldest unsynced record is `max_delay` old.
fn flusher(shared: &Shared, max_delay: Duration) {
    let Ok(mut st) = shared.state.lock() else {
        return;
    };
    loop {
        if st.shutdown {
            let _ = sync_pending(&mut st, &shared.cfg.path);
            return;
        }
        st = match st.first_unsynced {
            None => match shared.wake.wait(st) {
                Ok(g) => g,
                Err(_) => return,
            },
            Some(t0) => {
                let deadline = t0 + max_delay;
                let now = Instant::now();
                if now >= deadline {
                    let _ = sync_pending(&mut st, &shared.cfg.path);
                    st
                } else {
                    match shared.wake.wait_timeout(st, deadline - now) {
                        Ok((g, _)) => g,
                        Err(_) => return,
                    }
                }
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_names_are_compact_utc() {
        assert_eq!(
            compact_utc(UnixTime(1_795_564_800 + 3661)),
            "20261125T010101Z"
        );
    }

    #[test]
    fn event_names_are_codes() {
        assert!(validate_event("login_ok").is_ok());
        assert!(validate_event("Login OK").is_err());
        assert!(validate_event("").is_err());
    }
}
