//! The embedded session store (the default): one gateway process, state in a local directory,
//! nothing to install. Sessions survive a restart; challenges and rate-limit counters live in
//! memory only (a challenge lives 120 s, a counter one window: a restart costs a user one more
//! click on "sign" and resets the limits, which the audit log records anyway).
//!
//! # On disk
//!
//! The directory holds two files:
//!
//! - `LOCK`: held with an exclusive advisory lock (`flock(2)` on Unix, `LockFileEx` on Windows)
//!   for the life of the store. The kernel drops it when the process dies, so a crash never
//!   leaves a stale lock; a second opener (another process, or a second `open` in this one) gets
//!   [`StoreError::Io`] naming the directory. One process per directory: the journal has one
//!   writer, and two gateways sharing sessions use Redis instead.
//! - `sessions.journal`: an append-only log. An 8-byte magic (`EDSSJ\0\0\x01`, the last byte is
//!   the format version) and then frames `[u32 len LE][u32 crc LE][payload: len bytes]`, where
//!   `crc` is CRC-32 (ISO-HDLC, as in zlib and gzip) over the length bytes and the payload.
//!   Payloads:
//!   - `P` put: `[b'P'][u32 json_len LE][session JSON without the certificate][certificate DER]`
//!   - `T` touch: `[b'T'][32-byte session key][i64 last_seen LE]`
//!   - `R` remove: `[b'R'][32-byte session key]`
//!
//!   The session key is SHA-256 of the `token_hash` string (32 bytes instead of a 64-character
//!   string in memory, and any string works as a token hash).
//!
//! # Crash safety
//!
//! A process that dies mid-append leaves a *torn tail*: a frame whose length reaches past the end
//! of the file, a last frame whose CRC does not match, or zero bytes (a file system that had
//! extended the file but not written it). Opening drops such a tail (truncating the file to the
//! last whole frame) and keeps everything before it. A bad frame with whole frames *after* it is
//! not a torn write: opening then fails with [`StoreError::Corrupt`] and the offset, rather than
//! guessing. A failed append (disk full) is rolled back by truncating to the previous end; if even
//! that fails the store refuses further writes rather than append after garbage.
//!
//! Creates and removes are `fdatasync`ed before they return (a logout must not come back after a
//! power cut); touches are not (a lost touch only makes a session look idle sooner). The option
//! [`EmbeddedOptions::fsync`] turns syncing off for benchmarks and tests on slow disks.
//!
//! # Memory: why records live on disk
//!
//! The goal is 100,000 live sessions in ≤ 64 MB (issue 6, item 10). A [`Session`] in memory is
//! about 15 heap strings plus a 1.2–1.9 KB certificate: well over 2 KB each, 200+ MB for 100k.
//! So memory holds only an index entry per session (journal offset and length, the times that
//! decide expiry, the key it belongs to: about 100 bytes) and [`Store::get_session`] reads the
//! record back with one positioned read (`pread`), which the OS page cache normally serves
//! without touching the disk. The certificate and the identity strings are therefore never on the
//! heap except while a caller holds a returned [`Session`]. `last_seen` is kept exactly in memory
//! and written at most once per 15 s per session (the trait allows ≤ 15 s late).
//!
//! # Compaction
//!
//! Removed sessions and old touches are dead bytes. When the journal is larger than
//! [`EmbeddedOptions::compact_min_bytes`] (default [`COMPACT_MIN_BYTES`]) and more than [`COMPACT_RATIO`] × the live records, [`EmbeddedStore::open`]
//! and [`Store::purge_expired`] (the gateway's periodic sweep) rewrite it: live `P` frames copied
//! raw (CRC re-checked) in their original order, each followed by a `T` with its current
//! `last_seen`, into `sessions.journal.tmp`, synced, then renamed over the journal and the
//! directory synced. A crash at any point leaves either the old or the new journal whole.
//! Compaction holds the store's lock while it copies (about a second for 100k sessions).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::broadcast;

use super::{PendingChallenge, Session, Store, StoreError, StoreEvent};
use crate::auth::proof::NewSession;

/// The journal file inside the store directory.
pub const JOURNAL_FILE: &str = "sessions.journal";
/// The lock file inside the store directory.
pub const LOCK_FILE: &str = "LOCK";
const JOURNAL_TMP: &str = "sessions.journal.tmp";
const MAGIC: [u8; 8] = *b"EDSSJ\x00\x00\x01";
const HEADER_LEN: u64 = MAGIC.len() as u64;
/// Frame header: u32 length + u32 CRC.
const FRAME_HEADER: usize = 8;
/// Largest payload accepted, written or read. A session record is 2–4 KB (certificate included);
/// 1 MiB leaves room for odd certificates while bounding what a corrupt length can make us read.
const MAX_PAYLOAD: usize = 1 << 20;
/// `last_seen` is written at most this often per session (the trait allows ≤ 15 s late).
pub const TOUCH_WRITE_EVERY_SECS: i64 = 15;
/// Journals smaller than this are never compacted (it is not worth a rewrite).
pub const COMPACT_MIN_BYTES: u64 = 8 << 20;
/// Compact when the journal is more than this many times the size of the live records.
pub const COMPACT_RATIO: u64 = 3;
/// Pending challenges held at most. The gateway caps them per client; this bounds the total an
/// attacker with many addresses can make us hold (200k × ~300 B ≈ 60 MB worst case).
pub const MAX_CHALLENGES: usize = 200_000;
/// Rate-limit counters held at most (per IP and per IIN, two actions: 1M is far above one
/// hospital's traffic in one window). When full after dropping expired windows, `rate_hit`
/// fails and callers deny.
pub const MAX_RATE_KEYS: usize = 1_000_000;
/// Events buffered per subscriber before a slow one starts missing them (it then gets
/// `RecvError::Lagged` and must re-check everything).
const EVENT_CAPACITY: usize = 1024;

const OP_PUT: u8 = b'P';
const OP_TOUCH: u8 = b'T';
const OP_REMOVE: u8 = b'R';

type Key = [u8; 32];

/// Options for [`EmbeddedStore::open_with`].
#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    /// `fdatasync` after creating and removing a session (default true). Turn off only for
    /// benchmarks or throwaway stores: without it a power cut can lose recent logins and logouts.
    pub fsync: bool,
    /// Journals smaller than this are never compacted (default [`COMPACT_MIN_BYTES`]).
    pub compact_min_bytes: u64,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        EmbeddedOptions {
            fsync: true,
            compact_min_bytes: COMPACT_MIN_BYTES,
        }
    }
}

/// What the store holds and how much memory its index takes (for `/eds/readyz`, the benchmark
/// and operators).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedStats {
    /// Live sessions.
    pub sessions: usize,
    /// Pending challenges.
    pub challenges: usize,
    /// Rate-limit counters.
    pub rate_keys: usize,
    /// Journal size on disk (bytes).
    pub journal_bytes: u64,
    /// Bytes of the journal that are live session records.
    pub live_bytes: u64,
    /// Estimated heap held by the in-memory index, challenges and counters (bytes): table
    /// capacities × entry sizes plus owned allocations; allocator overhead excluded.
    pub heap_bytes: usize,
    /// Bytes of torn tail dropped when the store was opened.
    pub torn_tail_dropped: u64,
}

/// What memory keeps per session: where the record is and the times that decide expiry.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Offset of the record's frame in the journal.
    offset: u64,
    /// Frame length (header included).
    len: u32,
    /// SHA-256 of `Identity::key_id`.
    key_id: Key,
    created: i64,
    /// Exact, in memory.
    last_seen: i64,
    /// What replaying the journal would give.
    last_seen_disk: i64,
    idle: i64,
    absolute: i64,
}

impl Entry {
    fn expires_at(&self) -> i64 {
        self.last_seen.saturating_add(self.idle).min(self.absolute)
    }
}

struct RateWindow {
    start: Instant,
    len: Duration,
    count: u64,
}

impl RateWindow {
    fn live_at(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.start) < self.len
    }
}

struct State {
    file: Arc<File>,
    end: u64,
    live_bytes: u64,
    sessions: HashMap<Key, Entry>,
    by_key: HashMap<Key, Vec<Key>>,
    challenges: HashMap<String, PendingChallenge>,
    rates: HashMap<String, RateWindow>,
    /// Set when a failed append could not be rolled back: no more writes.
    broken: Option<String>,
    torn_tail_dropped: u64,
    compact_min_bytes: u64,
}

/// The embedded store. See the module docs for the design.
pub struct EmbeddedStore {
    dir: PathBuf,
    state: Mutex<State>,
    events: broadcast::Sender<StoreEvent>,
    fsync: bool,
    /// The block list (issue 8), mirrored in [`BLOCKLIST_FILE`].
    blocks: Mutex<Vec<super::BlockEntry>>,
    /// Evicted token hashes → (code, until). In memory only: after a restart an evicted
    /// session's cookie is answered `session_ended` (still refused).
    tombstones: Mutex<HashMap<String, (String, i64)>>,
    /// Held (locked) for the life of the store; closing it releases the lock.
    _lock: File,
}

/// The block-list file inside the store directory (JSON array, replaced atomically on every
/// change; small: one line per blocked IIN or key).
pub const BLOCKLIST_FILE: &str = "blocklist.json";

fn read_blocklist(dir: &Path) -> Result<Vec<super::BlockEntry>, StoreError> {
    let path = dir.join(BLOCKLIST_FILE);
    match std::fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b)
            .map_err(|e| StoreError::Corrupt(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io_err("reading", &path, &e)),
    }
}

fn write_blocklist(dir: &Path, list: &[super::BlockEntry]) -> Result<(), StoreError> {
    let path = dir.join(BLOCKLIST_FILE);
    let tmp = dir.join("blocklist.json.tmp");
    let bytes = serde_json::to_vec_pretty(list)
        .map_err(|e| StoreError::Io(format!("encoding the block list: {e}")))?;
    {
        let mut f = File::create(&tmp).map_err(|e| io_err("writing", &tmp, &e))?;
        f.write_all(&bytes)
            .and_then(|()| f.sync_all())
            .map_err(|e| io_err("writing", &tmp, &e))?;
    }
    std::fs::rename(&tmp, &path).map_err(|e| io_err("renaming", &path, &e))
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl EmbeddedStore {
    /// Opens (creating if needed) the store in `dir` with default options.
    pub fn open(dir: &Path) -> Result<EmbeddedStore, StoreError> {
        EmbeddedStore::open_with(dir, EmbeddedOptions::default())
    }

    /// Opens (creating if needed) the store in `dir`: takes the lock, replays the journal
    /// (dropping a torn tail), and compacts it if it is mostly dead bytes. Blocking file I/O:
    /// call it before serving, or from `spawn_blocking`.
    pub fn open_with(dir: &Path, opts: EmbeddedOptions) -> Result<EmbeddedStore, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| io_err("creating", dir, &e))?;
        let lock = take_lock(dir)?;
        let path = dir.join(JOURNAL_FILE);
        let mut state = replay(&path)?;
        state.compact_min_bytes = opts.compact_min_bytes;
        if wants_compaction(&state) {
            compact(dir, &mut state)?;
        }
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        let blocks = read_blocklist(dir)?;
        Ok(EmbeddedStore {
            dir: dir.to_path_buf(),
            state: Mutex::new(state),
            events,
            fsync: opts.fsync,
            blocks: Mutex::new(blocks),
            tombstones: Mutex::new(HashMap::new()),
            _lock: lock,
        })
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Counts and memory accounting.
    pub fn stats(&self) -> Result<EmbeddedStats, StoreError> {
        let st = self.lock()?;
        let session_table = st.sessions.capacity() * (size_of::<(Key, Entry)>() + 1);
        let key_table = st.by_key.capacity() * (size_of::<(Key, Vec<Key>)>() + 1);
        let key_lists: usize = st
            .by_key
            .values()
            .map(|v| v.capacity() * size_of::<Key>())
            .sum();
        let challenges: usize = st.challenges.capacity()
            * (size_of::<(String, PendingChallenge)>() + 1)
            + st.challenges
                .iter()
                .map(|(k, c)| {
                    k.capacity()
                        + c.id.capacity()
                        + c.data.capacity()
                        + c.prelogin_hash.capacity()
                        + c.client_ip.capacity()
                })
                .sum::<usize>();
        let rates: usize = st.rates.capacity() * (size_of::<(String, RateWindow)>() + 1)
            + st.rates.keys().map(String::capacity).sum::<usize>();
        Ok(EmbeddedStats {
            sessions: st.sessions.len(),
            challenges: st.challenges.len(),
            rate_keys: st.rates.len(),
            journal_bytes: st.end,
            live_bytes: st.live_bytes,
            heap_bytes: session_table + key_table + key_lists + challenges + rates,
            torn_tail_dropped: st.torn_tail_dropped,
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        self.state
            .lock()
            .map_err(|_| StoreError::Backend("embedded store lock poisoned".into()))
    }

    async fn sync(&self, file: Arc<File>) -> Result<(), StoreError> {
        if !self.fsync {
            return Ok(());
        }
        tokio::task::spawn_blocking(move || file.sync_data())
            .await
            .map_err(|e| StoreError::Io(format!("journal sync task failed: {e}")))?
            .map_err(|e| StoreError::Io(format!("syncing the session journal: {e}")))
    }

    /// Reads and decodes the session at `e` from `file`, with `last_seen` from memory.
    fn load(file: &File, e: &Entry, token_hash: Option<&str>) -> Result<Session, StoreError> {
        let payload = read_frame_at(file, e.offset, e.len)?;
        let mut s = decode_put(&payload, e.offset)?;
        if let Some(th) = token_hash
            && s.token_hash != th
        {
            return Err(StoreError::Corrupt(format!(
                "journal record at offset {} belongs to another session",
                e.offset
            )));
        }
        s.last_seen = e.last_seen;
        Ok(s)
    }
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn put_challenge(&self, c: &PendingChallenge) -> Result<(), StoreError> {
        let mut st = self.lock()?;
        if st.challenges.len() >= MAX_CHALLENGES && !st.challenges.contains_key(&c.id) {
            let now = crate::clock::now().0;
            st.challenges.retain(|_, c| c.expires > now);
            if st.challenges.len() >= MAX_CHALLENGES {
                return Err(StoreError::Backend(format!(
                    "too many pending challenges (limit {MAX_CHALLENGES})"
                )));
            }
        }
        st.challenges.insert(c.id.clone(), c.clone());
        Ok(())
    }

    async fn take_challenge(&self, id: &str) -> Result<Option<PendingChallenge>, StoreError> {
        Ok(self.lock()?.challenges.remove(id))
    }

    async fn create_session(&self, s: &NewSession) -> Result<(), StoreError> {
        let session = s.session();
        let payload = encode_put(session)?;
        let key = session_key(&session.token_hash);
        let file = {
            let mut st = self.lock()?;
            let (offset, len) = append(&mut st, &payload)?;
            if let Some(old) = st.sessions.remove(&key) {
                forget(&mut st, &key, &old);
            }
            let entry = Entry {
                offset,
                len,
                key_id: sha256(session.identity.key_id.as_bytes()),
                created: session.created,
                last_seen: session.last_seen,
                last_seen_disk: session.last_seen,
                idle: session.idle_timeout_secs,
                absolute: session.absolute_expiry,
            };
            remember(&mut st, key, entry);
            Arc::clone(&st.file)
        };
        self.sync(file).await
    }

    async fn get_session(&self, token_hash: &str) -> Result<Option<Session>, StoreError> {
        let key = session_key(token_hash);
        let (file, entry) = {
            let st = self.lock()?;
            match st.sessions.get(&key) {
                Some(e) => (Arc::clone(&st.file), *e),
                None => return Ok(None),
            }
        };
        EmbeddedStore::load(&file, &entry, Some(token_hash)).map(Some)
    }

    async fn touch_session(&self, token_hash: &str, at: i64) -> Result<(), StoreError> {
        let key = session_key(token_hash);
        let mut st = self.lock()?;
        let Some(e) = st.sessions.get_mut(&key) else {
            return Ok(());
        };
        if at <= e.last_seen {
            return Ok(());
        }
        e.last_seen = at;
        if at.saturating_sub(e.last_seen_disk) < TOUCH_WRITE_EVERY_SECS {
            return Ok(());
        }
        let mut payload = Vec::with_capacity(41);
        payload.push(OP_TOUCH);
        payload.extend_from_slice(&key);
        payload.extend_from_slice(&at.to_le_bytes());
        append(&mut st, &payload)?;
        if let Some(e) = st.sessions.get_mut(&key) {
            e.last_seen_disk = at;
        }
        Ok(())
    }

    async fn remove_session(&self, token_hash: &str) -> Result<Option<Session>, StoreError> {
        let key = session_key(token_hash);
        let (file, entry) = {
            let st = self.lock()?;
            match st.sessions.get(&key) {
                Some(e) => (Arc::clone(&st.file), *e),
                None => return Ok(None),
            }
        };
        // Read before removing (the frame stays readable through `file` even if a compaction
        // swaps journals meanwhile); a corrupt record is still removed, then reported.
        let loaded = EmbeddedStore::load(&file, &entry, Some(token_hash));
        let sync_file = {
            let mut st = self.lock()?;
            match st.sessions.get(&key) {
                // Another remove (or a re-create) got there first.
                Some(e) if e.created == entry.created && e.len == entry.len => {}
                _ => return Ok(None),
            }
            let mut payload = Vec::with_capacity(33);
            payload.push(OP_REMOVE);
            payload.extend_from_slice(&key);
            append(&mut st, &payload)?;
            if let Some(old) = st.sessions.remove(&key) {
                forget(&mut st, &key, &old);
            }
            Arc::clone(&st.file)
        };
        self.sync(sync_file).await?;
        let mut s = loaded?;
        // The last touch may have landed between the read and the removal.
        s.last_seen = s.last_seen.max(entry.last_seen);
        Ok(Some(s))
    }

    async fn sessions_for_key(&self, key_id: &str) -> Result<Vec<Session>, StoreError> {
        let kid = sha256(key_id.as_bytes());
        let (file, mut entries) = {
            let st = self.lock()?;
            let entries: Vec<Entry> = st
                .by_key
                .get(&kid)
                .map(|keys| {
                    keys.iter()
                        .filter_map(|k| st.sessions.get(k))
                        .copied()
                        .collect()
                })
                .unwrap_or_default();
            (Arc::clone(&st.file), entries)
        };
        entries.sort_by_key(|e| (e.created, e.offset));
        entries
            .iter()
            .map(|e| EmbeddedStore::load(&file, e, None))
            .collect()
    }

    async fn list_sessions(&self) -> Result<Vec<Session>, StoreError> {
        let (file, mut entries) = {
            let st = self.lock()?;
            let entries: Vec<Entry> = st.sessions.values().copied().collect();
            (Arc::clone(&st.file), entries)
        };
        entries.sort_by_key(|e| e.offset);
        entries
            .iter()
            .map(|e| EmbeddedStore::load(&file, e, None))
            .collect()
    }

    async fn rate_hit(&self, key: &str, window: Duration) -> Result<u64, StoreError> {
        let now = Instant::now();
        let mut st = self.lock()?;
        if !st.rates.contains_key(key) && st.rates.len() >= MAX_RATE_KEYS {
            st.rates.retain(|_, w| w.live_at(now));
            if st.rates.len() >= MAX_RATE_KEYS {
                return Err(StoreError::Backend(format!(
                    "too many rate-limit counters (limit {MAX_RATE_KEYS})"
                )));
            }
        }
        let w = st.rates.entry(key.to_string()).or_insert(RateWindow {
            start: now,
            len: window,
            count: 0,
        });
        if !w.live_at(now) {
            *w = RateWindow {
                start: now,
                len: window,
                count: 0,
            };
        }
        w.count = w.count.saturating_add(1);
        Ok(w.count)
    }

    async fn rate_peek(&self, key: &str) -> Result<u64, StoreError> {
        let now = Instant::now();
        let st = self.lock()?;
        Ok(st
            .rates
            .get(key)
            .filter(|w| w.live_at(now))
            .map_or(0, |w| w.count))
    }

    async fn publish(&self, ev: &StoreEvent) -> Result<(), StoreError> {
        // An error here only means nobody subscribed yet: nothing to deliver.
        let _ = self.events.send(ev.clone());
        Ok(())
    }

    fn subscribe(&self) -> broadcast::Receiver<StoreEvent> {
        self.events.subscribe()
    }

    async fn purge_expired(&self, now: i64) -> Result<usize, StoreError> {
        let (removed, file) = {
            let mut st = self.lock()?;
            let dead: Vec<Key> = st
                .sessions
                .iter()
                .filter(|(_, e)| e.expires_at() <= now)
                .map(|(k, _)| *k)
                .collect();
            for key in &dead {
                let mut payload = Vec::with_capacity(33);
                payload.push(OP_REMOVE);
                payload.extend_from_slice(key);
                append(&mut st, &payload)?;
                if let Some(old) = st.sessions.remove(key) {
                    forget(&mut st, key, &old);
                }
            }
            st.challenges.retain(|_, c| c.expires > now);
            let mono = Instant::now();
            st.rates.retain(|_, w| w.live_at(mono));
            if wants_compaction(&st) {
                compact(&self.dir, &mut st)?;
            }
            (dead.len(), Arc::clone(&st.file))
        };
        if removed > 0 {
            self.sync(file).await?;
        }
        Ok(removed)
    }

    fn backend(&self) -> &'static str {
        "embedded"
    }

    async fn block_put(&self, e: &super::BlockEntry) -> Result<(), StoreError> {
        let mut list = self
            .blocks
            .lock()
            .map_err(|_| StoreError::Io("block list lock poisoned".into()))?;
        let mut next = list.clone();
        next.retain(|x| x.key() != e.key());
        next.push(e.clone());
        write_blocklist(&self.dir, &next)?;
        *list = next;
        Ok(())
    }

    async fn block_remove(&self, key: &str) -> Result<Option<super::BlockEntry>, StoreError> {
        let mut list = self
            .blocks
            .lock()
            .map_err(|_| StoreError::Io("block list lock poisoned".into()))?;
        let Some(pos) = list.iter().position(|x| x.key() == key) else {
            return Ok(None);
        };
        let mut next = list.clone();
        let gone = next.remove(pos);
        write_blocklist(&self.dir, &next)?;
        *list = next;
        Ok(Some(gone))
    }

    async fn block_list(&self) -> Result<Vec<super::BlockEntry>, StoreError> {
        let mut v = self
            .blocks
            .lock()
            .map(|l| l.clone())
            .map_err(|_| StoreError::Io("block list lock poisoned".into()))?;
        v.sort_by_key(|a| (a.at, a.key()));
        Ok(v)
    }

    async fn put_tombstone(
        &self,
        token_hash: &str,
        code: &str,
        until: i64,
    ) -> Result<(), StoreError> {
        if let Ok(mut t) = self.tombstones.lock() {
            if t.len() > 100_000 {
                let now = crate::clock::now().0;
                t.retain(|_, (_, u)| *u > now);
            }
            t.insert(token_hash.to_string(), (code.to_string(), until));
        }
        Ok(())
    }

    async fn tombstone(&self, token_hash: &str, now: i64) -> Result<Option<String>, StoreError> {
        Ok(self.tombstones.lock().ok().and_then(|t| {
            t.get(token_hash)
                .filter(|(_, until)| *until > now)
                .map(|(c, _)| c.clone())
        }))
    }
}

// ---- index maintenance ----

fn remember(st: &mut State, key: Key, e: Entry) {
    st.live_bytes = st.live_bytes.saturating_add(u64::from(e.len));
    // Most keys have one session (`max_sessions_per_key` defaults to 1): start at capacity 1,
    // not Vec's default 4.
    st.by_key
        .entry(e.key_id)
        .or_insert_with(|| Vec::with_capacity(1))
        .push(key);
    st.sessions.insert(key, e);
}

fn forget(st: &mut State, key: &Key, e: &Entry) {
    st.live_bytes = st.live_bytes.saturating_sub(u64::from(e.len));
    if let Some(list) = st.by_key.get_mut(&e.key_id) {
        list.retain(|k| k != key);
        if list.is_empty() {
            st.by_key.remove(&e.key_id);
        } else if list.capacity() > 2 * list.len() + 2 {
            list.shrink_to_fit();
        }
    }
}

fn session_key(token_hash: &str) -> Key {
    sha256(token_hash.as_bytes())
}

fn sha256(data: &[u8]) -> Key {
    let d = ring::digest::digest(&ring::digest::SHA256, data);
    let mut k = [0u8; 32];
    k.copy_from_slice(d.as_ref());
    k
}

// ---- records ----

fn encode_put(s: &Session) -> Result<Vec<u8>, StoreError> {
    let mut head = s.clone();
    head.cert_der = Vec::new();
    let json = serde_json::to_vec(&head)
        .map_err(|e| StoreError::Io(format!("encoding a session record: {e}")))?;
    let json_len =
        u32::try_from(json.len()).map_err(|_| StoreError::Io("session record too large".into()))?;
    let mut p = Vec::with_capacity(5 + json.len() + s.cert_der.len());
    p.push(OP_PUT);
    p.extend_from_slice(&json_len.to_le_bytes());
    p.extend_from_slice(&json);
    p.extend_from_slice(&s.cert_der);
    if p.len() > MAX_PAYLOAD {
        return Err(StoreError::Io(format!(
            "session record of {} bytes exceeds the journal's {MAX_PAYLOAD}-byte limit",
            p.len()
        )));
    }
    Ok(p)
}

fn decode_put(p: &[u8], offset: u64) -> Result<Session, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("journal offset {offset}: {what}"));
    match p.first() {
        Some(&OP_PUT) => {}
        _ => return Err(corrupt("not a session record")),
    }
    let len_bytes: [u8; 4] = p
        .get(1..5)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| corrupt("short session record"))?;
    let json_len =
        usize::try_from(u32::from_le_bytes(len_bytes)).map_err(|_| corrupt("bad JSON length"))?;
    let json_end = 5usize
        .checked_add(json_len)
        .filter(|&end| end <= p.len())
        .ok_or_else(|| corrupt("JSON length past the record"))?;
    let mut s: Session = serde_json::from_slice(&p[5..json_end])
        .map_err(|e| corrupt(&format!("undecodable session: {e}")))?;
    s.cert_der = p[json_end..].to_vec();
    Ok(s)
}

fn frame(payload: &[u8]) -> Result<Vec<u8>, StoreError> {
    if payload.len() > MAX_PAYLOAD {
        return Err(StoreError::Io("journal record too large".into()));
    }
    let len = u32::try_from(payload.len())
        .map_err(|_| StoreError::Io("journal record too large".into()))?
        .to_le_bytes();
    let mut crc = Crc32::new();
    crc.update(&len);
    crc.update(payload);
    let mut f = Vec::with_capacity(FRAME_HEADER + payload.len());
    f.extend_from_slice(&len);
    f.extend_from_slice(&crc.finish().to_le_bytes());
    f.extend_from_slice(payload);
    Ok(f)
}

/// Appends one frame; returns its offset and length. Rolls back a partial write.
fn append(st: &mut State, payload: &[u8]) -> Result<(u64, u32), StoreError> {
    if let Some(why) = &st.broken {
        return Err(StoreError::Io(format!(
            "session journal unwritable after an earlier failure: {why}"
        )));
    }
    let f = frame(payload)?;
    let len = u32::try_from(f.len()).map_err(|_| StoreError::Io("record too large".into()))?;
    let offset = st.end;
    if let Err(e) = write_all_at(&st.file, &f, offset) {
        if let Err(e2) = st.file.set_len(offset) {
            st.broken = Some(format!("write failed ({e}) and rollback failed ({e2})"));
        }
        return Err(StoreError::Io(format!(
            "appending to the session journal: {e}"
        )));
    }
    st.end = offset.saturating_add(u64::from(len));
    Ok((offset, len))
}

/// Reads the frame at `offset` (of total length `len`) and checks it.
fn read_frame_at(file: &File, offset: u64, len: u32) -> Result<Vec<u8>, StoreError> {
    let total = usize::try_from(len).map_err(|_| StoreError::Corrupt("bad frame".into()))?;
    if !(FRAME_HEADER..=FRAME_HEADER + MAX_PAYLOAD).contains(&total) {
        return Err(StoreError::Corrupt(format!(
            "bad frame length at offset {offset}"
        )));
    }
    let mut buf = vec![0u8; total];
    read_exact_at(file, &mut buf, offset)
        .map_err(|e| StoreError::Io(format!("reading the session journal at {offset}: {e}")))?;
    match check_frame(&buf) {
        FrameCheck::Ok(plen) if plen + FRAME_HEADER == total => {
            buf.drain(..FRAME_HEADER);
            Ok(buf)
        }
        _ => Err(StoreError::Corrupt(format!(
            "session record at journal offset {offset} fails its checksum"
        ))),
    }
}

enum FrameCheck {
    /// Header and CRC fine; payload length.
    Ok(usize),
    /// Length field out of range.
    BadLength,
    /// The frame reaches past the buffer.
    Short,
    /// CRC mismatch.
    BadCrc,
}

/// Checks the frame at the start of `buf` (which may hold more after it).
fn check_frame(buf: &[u8]) -> FrameCheck {
    let Some(len_bytes) = buf.get(0..4).and_then(|b| <[u8; 4]>::try_from(b).ok()) else {
        return FrameCheck::Short;
    };
    let Some(crc_bytes) = buf.get(4..8).and_then(|b| <[u8; 4]>::try_from(b).ok()) else {
        return FrameCheck::Short;
    };
    let Ok(plen) = usize::try_from(u32::from_le_bytes(len_bytes)) else {
        return FrameCheck::BadLength;
    };
    if plen == 0 || plen > MAX_PAYLOAD {
        return FrameCheck::BadLength;
    }
    let Some(payload) = buf.get(FRAME_HEADER..FRAME_HEADER + plen) else {
        return FrameCheck::Short;
    };
    let mut crc = Crc32::new();
    crc.update(&len_bytes);
    crc.update(payload);
    if crc.finish() != u32::from_le_bytes(crc_bytes) {
        return FrameCheck::BadCrc;
    }
    FrameCheck::Ok(plen)
}

// ---- open: lock, replay, compaction ----

// `File::try_lock` (flock / LockFileEx) is std since Rust 1.89, the crate's rust-version.
fn take_lock(dir: &Path) -> Result<File, StoreError> {
    let path = dir.join(LOCK_FILE);
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| io_err("opening", &path, &e))?;
    match f.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(StoreError::Io(format!(
                "session store {} is in use by another gateway process (lock {} is held); \
                 one process per store directory — several gateways need the Redis store",
                dir.display(),
                path.display()
            )));
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io_err("locking", &path, &e)),
    }
    // The holder's pid, for an operator wondering who holds it (advisory only).
    let _ = f.set_len(0);
    let _ = writeln!(f, "{}", std::process::id());
    Ok(f)
}

fn open_journal(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| io_err("opening", path, &e))
}

/// Replays the journal at `path` into a fresh state, dropping a torn tail.
fn replay(path: &Path) -> Result<State, StoreError> {
    let file = open_journal(path)?;
    let file_len = file
        .metadata()
        .map_err(|e| io_err("reading", path, &e))?
        .len();
    let mut st = State {
        file: Arc::new(file),
        end: HEADER_LEN,
        live_bytes: 0,
        sessions: HashMap::new(),
        by_key: HashMap::new(),
        challenges: HashMap::new(),
        rates: HashMap::new(),
        broken: None,
        torn_tail_dropped: 0,
        compact_min_bytes: COMPACT_MIN_BYTES,
    };
    if file_len < HEADER_LEN {
        // New, or torn while writing the header: start over (nothing was ever stored).
        let mut head = [0u8; 8];
        let n = usize::try_from(file_len).unwrap_or(0);
        read_exact_at(&st.file, &mut head[..n], 0).map_err(|e| io_err("reading", path, &e))?;
        if head[..n] != MAGIC[..n] {
            return Err(StoreError::Corrupt(format!(
                "{} is not a session journal",
                path.display()
            )));
        }
        st.file
            .set_len(0)
            .map_err(|e| io_err("resetting", path, &e))?;
        write_all_at(&st.file, &MAGIC, 0).map_err(|e| io_err("writing", path, &e))?;
        st.file
            .sync_all()
            .map_err(|e| io_err("syncing", path, &e))?;
        st.torn_tail_dropped = file_len;
        return Ok(st);
    }
    let reader_file = Arc::clone(&st.file);
    let mut r = BufReader::with_capacity(1 << 16, &*reader_file);
    let mut head = [0u8; 8];
    r.read_exact(&mut head)
        .map_err(|e| io_err("reading", path, &e))?;
    if head != MAGIC {
        return Err(StoreError::Corrupt(format!(
            "{} is not a session journal (or a newer format)",
            path.display()
        )));
    }
    let mut pos = HEADER_LEN;
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut entries: HashMap<Key, Entry> = HashMap::new();
    loop {
        let remaining = file_len - pos;
        if remaining == 0 {
            break;
        }
        // Read one frame (or what is left of it).
        let want = remaining.min((FRAME_HEADER + MAX_PAYLOAD) as u64);
        buf.clear();
        buf.resize(
            FRAME_HEADER.min(usize::try_from(want).unwrap_or(FRAME_HEADER)),
            0,
        );
        r.read_exact(&mut buf)
            .map_err(|e| io_err("reading", path, &e))?;
        let plen = buf
            .get(0..4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(|b| u32::from_le_bytes(b) as usize)
            .unwrap_or(0);
        if (1..=MAX_PAYLOAD).contains(&plen) {
            let avail = usize::try_from(remaining).unwrap_or(usize::MAX) - buf.len();
            let more = plen.min(avail);
            let start = buf.len();
            buf.resize(start + more, 0);
            r.read_exact(&mut buf[start..])
                .map_err(|e| io_err("reading", path, &e))?;
        }
        let frame_end = pos + buf.len() as u64;
        match check_frame(&buf) {
            FrameCheck::Ok(plen) => {
                let frame_len = u32::try_from(buf.len()).unwrap_or(u32::MAX);
                apply(
                    &mut entries,
                    &buf[FRAME_HEADER..FRAME_HEADER + plen],
                    pos,
                    frame_len,
                )?;
                pos = frame_end;
            }
            FrameCheck::Short => {
                // Reaches past the end of the file: a torn append.
                drop_tail(&mut st, path, pos, file_len)?;
                break;
            }
            FrameCheck::BadCrc if frame_end == file_len => {
                drop_tail(&mut st, path, pos, file_len)?;
                break;
            }
            FrameCheck::BadLength | FrameCheck::BadCrc => {
                if rest_is_zero(&st.file, pos, file_len)? {
                    drop_tail(&mut st, path, pos, file_len)?;
                    break;
                }
                return Err(StoreError::Corrupt(format!(
                    "{}: bad record at offset {pos} with more records after it (not a torn \
                     write); move the journal aside to start empty, or restore it",
                    path.display()
                )));
            }
        }
    }
    drop(r);
    st.end = pos;
    for (key, e) in entries {
        remember(&mut st, key, e);
    }
    Ok(st)
}

/// Applies one checked payload to the replay map.
fn apply(
    entries: &mut HashMap<Key, Entry>,
    p: &[u8],
    offset: u64,
    frame_len: u32,
) -> Result<(), StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("journal offset {offset}: {what}"));
    match p.first() {
        Some(&OP_PUT) => {
            let s = decode_put(p, offset)?;
            let key = session_key(&s.token_hash);
            entries.insert(
                key,
                Entry {
                    offset,
                    len: frame_len,
                    key_id: sha256(s.identity.key_id.as_bytes()),
                    created: s.created,
                    last_seen: s.last_seen,
                    last_seen_disk: s.last_seen,
                    idle: s.idle_timeout_secs,
                    absolute: s.absolute_expiry,
                },
            );
        }
        Some(&OP_TOUCH) => {
            let key: Key = p
                .get(1..33)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| corrupt("short touch record"))?;
            let at = p
                .get(33..41)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(i64::from_le_bytes)
                .ok_or_else(|| corrupt("short touch record"))?;
            if let Some(e) = entries.get_mut(&key) {
                e.last_seen = e.last_seen.max(at);
                e.last_seen_disk = e.last_seen;
            }
        }
        Some(&OP_REMOVE) => {
            let key: Key = p
                .get(1..33)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| corrupt("short remove record"))?;
            entries.remove(&key);
        }
        _ => return Err(corrupt("unknown record type")),
    }
    Ok(())
}

fn rest_is_zero(file: &File, from: u64, to: u64) -> Result<bool, StoreError> {
    let mut pos = from;
    let mut buf = vec![0u8; 1 << 16];
    while pos < to {
        let n = usize::try_from((to - pos).min(buf.len() as u64)).unwrap_or(buf.len());
        read_exact_at(file, &mut buf[..n], pos)
            .map_err(|e| StoreError::Io(format!("reading the session journal: {e}")))?;
        if buf[..n].iter().any(|&b| b != 0) {
            return Ok(false);
        }
        pos += n as u64;
    }
    Ok(true)
}

fn drop_tail(st: &mut State, path: &Path, pos: u64, file_len: u64) -> Result<(), StoreError> {
    st.file
        .set_len(pos)
        .map_err(|e| io_err("truncating the torn tail of", path, &e))?;
    st.file
        .sync_all()
        .map_err(|e| io_err("syncing", path, &e))?;
    st.torn_tail_dropped = file_len - pos;
    Ok(())
}

fn wants_compaction(st: &State) -> bool {
    st.end > st.compact_min_bytes && st.end > st.live_bytes.saturating_mul(COMPACT_RATIO)
}

/// Rewrites the journal with only the live records (see the module docs).
fn compact(dir: &Path, st: &mut State) -> Result<(), StoreError> {
    let tmp_path = dir.join(JOURNAL_TMP);
    let path = dir.join(JOURNAL_FILE);
    let tmp = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .read(true)
        .open(&tmp_path)
        .map_err(|e| io_err("creating", &tmp_path, &e))?;
    let mut order: Vec<(Key, Entry)> = st.sessions.iter().map(|(k, e)| (*k, *e)).collect();
    order.sort_by_key(|(_, e)| e.offset);
    let mut w = BufWriter::with_capacity(1 << 16, &tmp);
    let werr = |e: io::Error| io_err("writing", &tmp_path, &e);
    w.write_all(&MAGIC).map_err(werr)?;
    let mut pos = HEADER_LEN;
    let mut moved: Vec<(Key, u64, i64)> = Vec::with_capacity(order.len());
    let mut live = 0u64;
    for (key, e) in &order {
        let payload = read_frame_at(&st.file, e.offset, e.len)?;
        let put = frame(&payload)?;
        w.write_all(&put).map_err(werr)?;
        moved.push((*key, pos, e.last_seen));
        pos += put.len() as u64;
        live += put.len() as u64;
        let mut t = Vec::with_capacity(41);
        t.push(OP_TOUCH);
        t.extend_from_slice(key);
        t.extend_from_slice(&e.last_seen.to_le_bytes());
        let touch = frame(&t)?;
        w.write_all(&touch).map_err(werr)?;
        pos += touch.len() as u64;
    }
    w.flush().map_err(werr)?;
    drop(w);
    tmp.sync_all()
        .map_err(|e| io_err("syncing", &tmp_path, &e))?;
    std::fs::rename(&tmp_path, &path).map_err(|e| io_err("replacing", &path, &e))?;
    sync_dir(dir)?;
    // The renamed file is the journal now: keep using the handle we wrote it with.
    st.file = Arc::new(tmp);
    st.end = pos;
    st.live_bytes = live;
    for (key, offset, seen) in moved {
        if let Some(e) = st.sessions.get_mut(&key) {
            e.offset = offset;
            e.last_seen_disk = seen;
        }
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_err("syncing", dir, &e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn io_err(what: &str, path: &Path, e: &io::Error) -> StoreError {
    StoreError::Io(format!("{what} {}: {e}", path.display()))
}

// ---- positioned I/O ----

#[cfg(unix)]
fn read_exact_at(f: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(f, buf, offset)
}

#[cfg(unix)]
fn write_all_at(f: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(f, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(f: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match f.seek_read(buf, offset)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

#[cfg(windows)]
fn write_all_at(f: &File, mut buf: &[u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match f.seek_write(buf, offset)? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => {
                buf = &buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

// ---- CRC-32 (ISO-HDLC: poly 0x04C11DB7 reflected, init and xorout 0xFFFFFFFF; zlib's) ----
// Slicing-by-8 (Intel's "slicing-by-8" tables): 8 bytes per step, so checking a 2.5 KB record on
// every read costs about a microsecond.

const CRC_TABLES: [[u32; 256]; 8] = {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut k = 1;
        while k < 8 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            k += 1;
        }
        i += 1;
    }
    t
};

struct Crc32(u32);

impl Crc32 {
    fn new() -> Crc32 {
        Crc32(!0)
    }

    fn update(&mut self, data: &[u8]) {
        let t = &CRC_TABLES;
        let mut c = self.0;
        let mut chunks = data.chunks_exact(8);
        for ch in &mut chunks {
            let lo = u32::from_le_bytes([ch[0], ch[1], ch[2], ch[3]]) ^ c;
            let hi = u32::from_le_bytes([ch[4], ch[5], ch[6], ch[7]]);
            c = t[7][(lo & 0xff) as usize]
                ^ t[6][((lo >> 8) & 0xff) as usize]
                ^ t[5][((lo >> 16) & 0xff) as usize]
                ^ t[4][(lo >> 24) as usize]
                ^ t[3][(hi & 0xff) as usize]
                ^ t[2][((hi >> 8) & 0xff) as usize]
                ^ t[1][((hi >> 16) & 0xff) as usize]
                ^ t[0][(hi >> 24) as usize];
        }
        for &b in chunks.remainder() {
            c = t[0][((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
        }
        self.0 = c;
    }

    fn finish(&self) -> u32 {
        !self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_check_value() {
        // CRC catalogue check value for CRC-32/ISO-HDLC over "123456789".
        let mut c = Crc32::new();
        c.update(b"123456789");
        assert_eq!(c.finish(), 0xCBF4_3926);
    }

    #[test]
    fn crc32_slicing_matches_the_bitwise_definition() {
        fn bitwise(data: &[u8]) -> u32 {
            let mut c = !0u32;
            for &b in data {
                c ^= u32::from(b);
                for _ in 0..8 {
                    c = if c & 1 != 0 {
                        0xEDB8_8320 ^ (c >> 1)
                    } else {
                        c >> 1
                    };
                }
            }
            !c
        }
        let data: Vec<u8> = (0..200u32).map(|i| (i * 97 + 13) as u8).collect();
        for len in 0..data.len() {
            for split in [0, len / 3, len] {
                let mut c = Crc32::new();
                c.update(&data[..split]);
                c.update(&data[split..len]);
                assert_eq!(c.finish(), bitwise(&data[..len]), "len {len} split {split}");
            }
        }
    }

    #[test]
    fn a_frame_with_a_flipped_bit_fails_its_check() {
        let mut f = frame(b"Rhello").expect("frame");
        assert!(matches!(check_frame(&f), FrameCheck::Ok(6)));
        f[10] ^= 0x04;
        assert!(matches!(check_frame(&f), FrameCheck::BadCrc));
        assert!(matches!(check_frame(&f[..9]), FrameCheck::Short));
    }
}
