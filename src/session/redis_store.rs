//! The Redis session store: several gateway instances behind a load balancer share sessions,
//! challenges, rate-limit counters and an event channel through one Redis (≥ 7.0, or Valkey).
//!
//! # Key layout (every key starts with the deployment's prefix `{p}`)
//!
//! | key | type | holds | expires |
//! |---|---|---|---|
//! | `{p}s:{token_hash}` | hash | `rec`: the session as JSON without the certificate; `cert`: the DER, raw; `seen`, `idle`, `abs`: last_seen, idle timeout, absolute end (integers) | `EXPIREAT` [`Session::expires_at`], moved by every written touch |
//! | `{p}k:{key_id}` | sorted set | token hashes of one key, scored by `created` | `EXPIREAT` the latest `absolute_expiry` among them |
//! | `{p}all` | sorted set | every token hash, scored by its current `expires_at` | never (members removed by purge, remove, or lazily when found dead) |
//! | `{p}c:{id}` | string | a [`PendingChallenge`] as JSON | `EXAT` its `expires` |
//! | `{p}r:{key}` | string | a rate-limit counter | `PEXPIRE … NX`: the window starts at the first hit |
//! | `{p}blocks` | hash | the block list: `iin:…`/`serial:…` → [`super::BlockEntry`] JSON | never |
//! | `{p}t:{token_hash}` | string | eviction tombstone: `session_revoked`/`session_blocked` | `EXAT` the session's absolute end |
//! | `{p}events` | channel | [`StoreEvent`] JSON | — |
//!
//! A session is a hash rather than one JSON string so that a touch rewrites two small fields
//! instead of the whole record (and Lua never re-encodes our JSON: cjson turns `[]` into `{}`).
//! The certificate is stored raw (binary-safe field), not as a JSON array of numbers.
//!
//! # Atomicity
//!
//! - Challenges: `GETDEL` (Redis ≥ 6.2): of two takes on any instances, one gets it.
//! - Create: one `MULTI`/`EXEC` writes the hash, its expiry and both indexes.
//! - Touch and remove: Lua scripts, so a touch never resurrects a removed session (it writes only
//!   if the hash exists) and two removes return the session once. Touch computes the new expiry
//!   from the stored fields: `min(seen + idle, abs)`.
//! - Purge: a script per candidate deletes only if its `{p}all` score is still ≤ now, so a touch
//!   on another instance in between wins.
//! - Rate counters: `INCR` then `PEXPIRE NX` in one script: no counter without an expiry.
//!
//! Indexes are *cleaned lazily*: a member of `{p}k:…` or `{p}all` whose hash expired is removed
//! when a listing finds it missing. [`Store::purge_expired`] also sweeps `{p}all`.
//!
//! # Touch throttling
//!
//! Each instance writes `last_seen` at most once per 15 s per session (the trait allows it to be
//! ≤ 15 s late), so a busy page costs one `HMGET` per request and one script call per 15 s.
//!
//! # Connections and failure
//!
//! Commands go over one multiplexed connection (pipelined, shared by all tasks) with connect and
//! response timeouts (2 s by default). When it fails with an I/O, timeout or dropped-connection
//! error it is discarded and the next command reconnects (one reconnect at a time). Every failure
//! is [`StoreError::Backend`]: callers deny. Events use a dedicated pub/sub connection owned by one
//! background task per store, which pings it every 15 s, reconnects with backoff (100 ms doubling
//! to 5 s) and never panics; after a reconnect it delivers
//! `StoreEvent::Recheck { kind: "events_gap" }` because events published while it was away are
//! lost (pub/sub does not queue), so subscribers should drop what they cached.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, Cmd, Pipeline, RedisError, Script, ScriptInvocation};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use super::{PendingChallenge, Session, Store, StoreError, StoreEvent};
use crate::auth::proof::NewSession;

/// `last_seen` is written at most this often per session per instance.
pub const TOUCH_WRITE_EVERY_SECS: i64 = 15;
/// Longest key part (token hash, key id, challenge id, rate key) accepted. Ours are 64 hex
/// digits or short; this bounds what an attacker-chosen id makes us send to Redis.
pub const MAX_KEY_PART: usize = 512;
/// Sessions returned by [`Store::list_sessions`] at most (a budget on one admin request).
pub const MAX_LIST: usize = 1_000_000;
/// Sessions of one key looked at by [`Store::sessions_for_key`] at most.
pub const MAX_PER_KEY: usize = 1_000;
/// Sessions purged per [`Store::purge_expired`] call at most (the rest go next time or by key
/// expiry anyway).
pub const MAX_PURGE: usize = 50_000;
/// Largest event payload accepted from the channel.
const MAX_EVENT_BYTES: usize = 64 * 1024;
/// Touch throttle entries kept per instance before the table is cleared (one entry per active
/// session; clearing only costs one extra write each).
const MAX_THROTTLE: usize = 200_000;
const BATCH: usize = 500;
const EVENT_CAPACITY: usize = 1024;
/// Latest expiry we ask Redis for (9999-12-31T23:59:59Z): bounds Lua's float arithmetic and
/// keeps `EXPIREAT` arguments valid.
const MAX_UNIX: i64 = 253_402_300_799;

/// Timeouts for [`RedisStore::connect_with`].
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// TCP connect + handshake (default 2 s).
    pub connect_timeout: Duration,
    /// One command's answer (default 2 s).
    pub response_timeout: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            connect_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(2),
        }
    }
}

/// The Redis store. See the module docs for the layout.
pub struct RedisStore {
    client: Client,
    prefix: String,
    opts: RedisOptions,
    conn: Mutex<Option<MultiplexedConnection>>,
    reconnect: tokio::sync::Mutex<()>,
    throttle: Mutex<HashMap<String, i64>>,
    events: broadcast::Sender<StoreEvent>,
    pump: JoinHandle<()>,
    scripts: Scripts,
}

impl std::fmt::Debug for RedisStore {
    // No URL: it may carry a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Drop for RedisStore {
    fn drop(&mut self) {
        self.pump.abort();
    }
}

struct Scripts {
    touch: Script,
    remove: Script,
    purge: Script,
    rate: Script,
}

impl Scripts {
    fn new() -> Scripts {
        Scripts {
            // KEYS: session hash, all-index. ARGV: at, token hash.
            touch: Script::new(
                r"
local v = redis.call('HMGET', KEYS[1], 'seen', 'idle', 'abs')
if not v[1] or not v[2] or not v[3] then return 0 end
local at = tonumber(ARGV[1])
if at <= tonumber(v[1]) then return 0 end
local exp = math.min(at + tonumber(v[2]), tonumber(v[3]))
redis.call('HSET', KEYS[1], 'seen', ARGV[1])
redis.call('EXPIREAT', KEYS[1], string.format('%d', exp))
redis.call('ZADD', KEYS[2], string.format('%d', exp), ARGV[2])
return 1
",
            ),
            // KEYS: session hash, all-index. ARGV: token hash.
            remove: Script::new(
                r"
local v = redis.call('HMGET', KEYS[1], 'rec', 'cert', 'seen')
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return v
",
            ),
            // KEYS: session hash, all-index. ARGV: token hash, now.
            purge: Script::new(
                r"
local sc = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not sc or tonumber(sc) > tonumber(ARGV[2]) then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('DEL', KEYS[1]) + 1
",
            ),
            // KEYS: counter. ARGV: window in ms.
            rate: Script::new(
                r"
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1], 'NX')
return n
",
            ),
        }
    }
}

impl RedisStore {
    /// Connects with the default 2 s timeouts. `prefix` starts every key (e.g. `eds:prod:`).
    pub async fn connect(url: &str, prefix: &str) -> Result<RedisStore, StoreError> {
        RedisStore::connect_with(url, prefix, RedisOptions::default()).await
    }

    /// Connects: opens the command connection, checks the server version (≥ 7.0 for
    /// `PEXPIRE NX`; `GETDEL` needs 6.2), subscribes to `{prefix}events` and starts the event
    /// task. Fails with [`StoreError::Backend`] if any step fails or times out.
    pub async fn connect_with(
        url: &str,
        prefix: &str,
        opts: RedisOptions,
    ) -> Result<RedisStore, StoreError> {
        // The parse error can quote the URL, which may hold a password: give the kind only.
        let client = Client::open(url)
            .map_err(|e| StoreError::Backend(format!("invalid Redis URL ({:?})", e.kind())))?;
        let conn = connect_commands(&client, &opts).await?;
        let mut probe = conn.clone();
        let info: String = redis::cmd("INFO")
            .arg("server")
            .query_async(&mut probe)
            .await
            .map_err(backend)?;
        check_version(&info)?;
        let channel = format!("{prefix}events");
        let first = connect_events(&client, &channel, &opts).await?;
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        let pump = tokio::spawn(pump_events(
            client.clone(),
            channel,
            opts.clone(),
            events.clone(),
            first,
        ));
        Ok(RedisStore {
            client,
            prefix: prefix.to_string(),
            opts,
            conn: Mutex::new(Some(conn)),
            reconnect: tokio::sync::Mutex::new(()),
            throttle: Mutex::new(HashMap::new()),
            events,
            pump,
            scripts: Scripts::new(),
        })
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn key(&self, kind: &str, part: &str) -> String {
        format!("{}{kind}:{part}", self.prefix)
    }

    fn all_key(&self) -> String {
        format!("{}all", self.prefix)
    }

    fn cached(&self) -> Option<MultiplexedConnection> {
        self.conn.lock().ok().and_then(|c| c.clone())
    }

    async fn connection(&self) -> Result<MultiplexedConnection, StoreError> {
        if let Some(c) = self.cached() {
            return Ok(c);
        }
        let _one = self.reconnect.lock().await;
        if let Some(c) = self.cached() {
            return Ok(c);
        }
        let c = connect_commands(&self.client, &self.opts).await?;
        if let Ok(mut slot) = self.conn.lock() {
            *slot = Some(c.clone());
        }
        Ok(c)
    }

    fn failed(&self, e: RedisError) -> StoreError {
        if (e.is_io_error()
            || e.is_timeout()
            || e.is_connection_dropped()
            || e.is_connection_refusal()
            || e.is_unrecoverable_error())
            && let Ok(mut slot) = self.conn.lock()
        {
            *slot = None;
        }
        backend(e)
    }

    async fn query<T: redis::FromRedisValue>(&self, cmd: &Cmd) -> Result<T, StoreError> {
        let mut c = self.connection().await?;
        cmd.query_async(&mut c).await.map_err(|e| self.failed(e))
    }

    async fn query_pipe<T: redis::FromRedisValue>(&self, p: &Pipeline) -> Result<T, StoreError> {
        let mut c = self.connection().await?;
        p.query_async(&mut c).await.map_err(|e| self.failed(e))
    }

    async fn invoke<T: redis::FromRedisValue>(
        &self,
        inv: &ScriptInvocation<'_>,
    ) -> Result<T, StoreError> {
        let mut c = self.connection().await?;
        inv.invoke_async(&mut c).await.map_err(|e| self.failed(e))
    }

    /// Reads many sessions (in order); `None` for those gone. Corrupt ones are errors.
    async fn load_many(&self, hashes: &[String]) -> Result<Vec<Option<Session>>, StoreError> {
        let mut out = Vec::with_capacity(hashes.len());
        for chunk in hashes.chunks(BATCH) {
            let mut p = redis::pipe();
            for th in chunk {
                p.cmd("HMGET")
                    .arg(self.key("s", th))
                    .arg("rec")
                    .arg("cert")
                    .arg("seen");
            }
            let rows: Vec<Vec<Option<Vec<u8>>>> = self.query_pipe(&p).await?;
            for (th, row) in chunk.iter().zip(rows) {
                out.push(decode_session(th, &row)?);
            }
        }
        Ok(out)
    }

    /// Removes `dead` members from the sorted set `index` (best effort: the index is only a
    /// hint, and a later listing retries).
    async fn drop_members(&self, index: &str, dead: &[String]) {
        if dead.is_empty() {
            return;
        }
        let _ = self
            .query::<i64>(redis::cmd("ZREM").arg(index).arg(dead))
            .await;
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn put_challenge(&self, c: &PendingChallenge) -> Result<(), StoreError> {
        part_ok(&c.id)?;
        let json = serde_json::to_vec(c)
            .map_err(|e| StoreError::Backend(format!("encoding a challenge: {e}")))?;
        let _: () = self
            .query(
                redis::cmd("SET")
                    .arg(self.key("c", &c.id))
                    .arg(json)
                    .arg("EXAT")
                    .arg(expiry_arg(c.expires)),
            )
            .await?;
        Ok(())
    }

    async fn take_challenge(&self, id: &str) -> Result<Option<PendingChallenge>, StoreError> {
        if id.len() > MAX_KEY_PART {
            return Ok(None);
        }
        let v: Option<Vec<u8>> = self
            .query(redis::cmd("GETDEL").arg(self.key("c", id)))
            .await?;
        match v {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(format!("challenge record: {e}"))),
        }
    }

    async fn create_session(&self, s: &NewSession) -> Result<(), StoreError> {
        let s = s.session();
        part_ok(&s.token_hash)?;
        part_ok(&s.identity.key_id)?;
        let mut head = s.clone();
        head.cert_der = Vec::new();
        let rec = serde_json::to_vec(&head)
            .map_err(|e| StoreError::Backend(format!("encoding a session: {e}")))?;
        let skey = self.key("s", &s.token_hash);
        let kkey = self.key("k", &s.identity.key_id);
        let exp = expiry_arg(s.expires_at());
        let abs = expiry_arg(s.absolute_expiry);
        let mut p = redis::pipe();
        p.atomic()
            .cmd("DEL")
            .arg(&skey)
            .ignore()
            .cmd("HSET")
            .arg(&skey)
            .arg("rec")
            .arg(rec)
            .arg("cert")
            .arg(&s.cert_der)
            .arg("seen")
            .arg(s.last_seen)
            .arg("idle")
            .arg(s.idle_timeout_secs.clamp(0, MAX_UNIX))
            .arg("abs")
            .arg(abs)
            .ignore()
            .cmd("EXPIREAT")
            .arg(&skey)
            .arg(exp)
            .ignore()
            .cmd("ZADD")
            .arg(&kkey)
            .arg(s.created)
            .arg(&s.token_hash)
            .ignore()
            .cmd("EXPIREAT")
            .arg(&kkey)
            .arg(abs)
            .arg("NX")
            .ignore()
            .cmd("EXPIREAT")
            .arg(&kkey)
            .arg(abs)
            .arg("GT")
            .ignore()
            .cmd("ZADD")
            .arg(self.all_key())
            .arg(exp)
            .arg(&s.token_hash)
            .ignore();
        let _: () = self.query_pipe(&p).await?;
        if let Ok(mut t) = self.throttle.lock() {
            t.remove(&s.token_hash);
        }
        Ok(())
    }

    async fn get_session(&self, token_hash: &str) -> Result<Option<Session>, StoreError> {
        if token_hash.len() > MAX_KEY_PART {
            return Ok(None);
        }
        let row: Vec<Option<Vec<u8>>> = self
            .query(
                redis::cmd("HMGET")
                    .arg(self.key("s", token_hash))
                    .arg("rec")
                    .arg("cert")
                    .arg("seen"),
            )
            .await?;
        decode_session(token_hash, &row)
    }

    async fn touch_session(&self, token_hash: &str, at: i64) -> Result<(), StoreError> {
        if token_hash.len() > MAX_KEY_PART {
            return Ok(());
        }
        {
            let mut t = self
                .throttle
                .lock()
                .map_err(|_| StoreError::Backend("touch throttle lock poisoned".into()))?;
            if let Some(&last) = t.get(token_hash)
                && at.saturating_sub(last) < TOUCH_WRITE_EVERY_SECS
            {
                return Ok(());
            }
            if t.len() >= MAX_THROTTLE {
                t.clear();
            }
            t.insert(token_hash.to_string(), at);
        }
        let mut inv = self.scripts.touch.prepare_invoke();
        inv.key(self.key("s", token_hash))
            .key(self.all_key())
            .arg(at.clamp(0, MAX_UNIX))
            .arg(token_hash);
        let r: Result<i64, StoreError> = self.invoke(&inv).await;
        if r.is_err() {
            // Not written: let the next request try again.
            if let Ok(mut t) = self.throttle.lock() {
                t.remove(token_hash);
            }
        }
        r.map(|_| ())
    }

    async fn remove_session(&self, token_hash: &str) -> Result<Option<Session>, StoreError> {
        if token_hash.len() > MAX_KEY_PART {
            return Ok(None);
        }
        let mut inv = self.scripts.remove.prepare_invoke();
        inv.key(self.key("s", token_hash))
            .key(self.all_key())
            .arg(token_hash);
        let row: Vec<Option<Vec<u8>>> = self.invoke(&inv).await?;
        if let Ok(mut t) = self.throttle.lock() {
            t.remove(token_hash);
        }
        let s = decode_session(token_hash, &row)?;
        if let Some(s) = &s {
            self.drop_members(
                &self.key("k", &s.identity.key_id),
                std::slice::from_ref(&s.token_hash),
            )
            .await;
        }
        Ok(s)
    }

    async fn sessions_for_key(&self, key_id: &str) -> Result<Vec<Session>, StoreError> {
        if key_id.len() > MAX_KEY_PART {
            return Ok(Vec::new());
        }
        let kkey = self.key("k", key_id);
        // Score order = created; equal scores in token-hash order.
        let hashes: Vec<String> = self
            .query(redis::cmd("ZRANGE").arg(&kkey).arg(0).arg(MAX_PER_KEY - 1))
            .await?;
        let loaded = self.load_many(&hashes).await?;
        let mut dead = Vec::new();
        let mut out = Vec::new();
        for (th, s) in hashes.into_iter().zip(loaded) {
            match s {
                Some(s) if s.identity.key_id == key_id => out.push(s),
                _ => dead.push(th),
            }
        }
        self.drop_members(&kkey, &dead).await;
        Ok(out)
    }

    async fn list_sessions(&self) -> Result<Vec<Session>, StoreError> {
        let all = self.all_key();
        let hashes: Vec<String> = self
            .query(redis::cmd("ZRANGE").arg(&all).arg(0).arg(MAX_LIST - 1))
            .await?;
        let loaded = self.load_many(&hashes).await?;
        let mut dead = Vec::new();
        let mut out = Vec::new();
        for (th, s) in hashes.into_iter().zip(loaded) {
            match s {
                Some(s) => out.push(s),
                None => dead.push(th),
            }
        }
        self.drop_members(&all, &dead).await;
        out.sort_by(|a, b| (a.created, &a.token_hash).cmp(&(b.created, &b.token_hash)));
        Ok(out)
    }

    async fn rate_hit(&self, key: &str, window: Duration) -> Result<u64, StoreError> {
        part_ok(key)?;
        let ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut inv = self.scripts.rate.prepare_invoke();
        inv.key(self.key("r", key)).arg(ms);
        self.invoke(&inv).await
    }

    async fn rate_peek(&self, key: &str) -> Result<u64, StoreError> {
        if key.len() > MAX_KEY_PART {
            return Ok(0);
        }
        let v: Option<u64> = self
            .query(redis::cmd("GET").arg(self.key("r", key)))
            .await?;
        Ok(v.unwrap_or(0))
    }

    async fn publish(&self, ev: &StoreEvent) -> Result<(), StoreError> {
        let json = serde_json::to_vec(ev)
            .map_err(|e| StoreError::Backend(format!("encoding an event: {e}")))?;
        let _: i64 = self
            .query(
                redis::cmd("PUBLISH")
                    .arg(format!("{}events", self.prefix))
                    .arg(json),
            )
            .await?;
        Ok(())
    }

    fn subscribe(&self) -> broadcast::Receiver<StoreEvent> {
        self.events.subscribe()
    }

    async fn block_put(&self, e: &super::BlockEntry) -> Result<(), StoreError> {
        let json = serde_json::to_string(e)
            .map_err(|e| StoreError::Backend(format!("encoding a block entry: {e}")))?;
        let _: i64 = self
            .query(
                redis::cmd("HSET")
                    .arg(format!("{}blocks", self.prefix))
                    .arg(e.key())
                    .arg(json),
            )
            .await?;
        Ok(())
    }

    async fn block_remove(&self, key: &str) -> Result<Option<super::BlockEntry>, StoreError> {
        let hash = format!("{}blocks", self.prefix);
        let old: Option<String> = self.query(redis::cmd("HGET").arg(&hash).arg(key)).await?;
        let removed: i64 = self.query(redis::cmd("HDEL").arg(&hash).arg(key)).await?;
        if removed == 0 {
            return Ok(None);
        }
        Ok(old.and_then(|j| serde_json::from_str(&j).ok()))
    }

    async fn block_list(&self) -> Result<Vec<super::BlockEntry>, StoreError> {
        let all: HashMap<String, String> = self
            .query(redis::cmd("HGETALL").arg(format!("{}blocks", self.prefix)))
            .await?;
        let mut out = Vec::with_capacity(all.len());
        for (k, v) in all {
            let e: super::BlockEntry = serde_json::from_str(&v)
                .map_err(|e| StoreError::Corrupt(format!("block entry {k}: {e}")))?;
            out.push(e);
        }
        out.sort_by_key(|a| (a.at, a.key()));
        Ok(out)
    }

    async fn put_tombstone(
        &self,
        token_hash: &str,
        code: &str,
        until: i64,
    ) -> Result<(), StoreError> {
        part_ok(token_hash)?;
        let until = until.max(crate::clock::now().0 + 1);
        let _: () = self
            .query(
                redis::cmd("SET")
                    .arg(self.key("t", token_hash))
                    .arg(code)
                    .arg("EXAT")
                    .arg(until),
            )
            .await?;
        Ok(())
    }

    async fn tombstone(&self, token_hash: &str, _now: i64) -> Result<Option<String>, StoreError> {
        if token_hash.len() > MAX_KEY_PART {
            return Ok(None);
        }
        self.query(redis::cmd("GET").arg(self.key("t", token_hash)))
            .await
    }

    async fn purge_expired(&self, now: i64) -> Result<usize, StoreError> {
        let all = self.all_key();
        let mut purged = 0usize;
        let mut looked = 0usize;
        while looked < MAX_PURGE {
            let due: Vec<String> = self
                .query(
                    redis::cmd("ZRANGEBYSCORE")
                        .arg(&all)
                        .arg("-inf")
                        .arg(now)
                        .arg("LIMIT")
                        .arg(0)
                        .arg(BATCH),
                )
                .await?;
            if due.is_empty() {
                break;
            }
            looked += due.len();
            let mut p = redis::pipe();
            // EVALSHA in a pipeline needs the script loaded first (idempotent).
            p.load_script(&self.scripts.purge).ignore();
            for th in &due {
                p.invoke_script(
                    self.scripts
                        .purge
                        .key(self.key("s", th))
                        .key(&all)
                        .arg(th)
                        .arg(now),
                );
            }
            let results: Vec<i64> = self.query_pipe(&p).await?;
            // 2: deleted here; 1: already gone (Redis expired it) — both are sessions that went.
            purged += results.iter().filter(|&&r| r > 0).count();
            if due.len() < BATCH {
                break;
            }
        }
        Ok(purged)
    }

    fn backend(&self) -> &'static str {
        "redis"
    }
}

fn backend(e: RedisError) -> StoreError {
    StoreError::Backend(format!("redis: {e}"))
}

fn part_ok(part: &str) -> Result<(), StoreError> {
    if part.is_empty() || part.len() > MAX_KEY_PART {
        return Err(StoreError::Backend(format!(
            "store key part of {} bytes (allowed 1..={MAX_KEY_PART})",
            part.len()
        )));
    }
    Ok(())
}

/// An `EXPIREAT`/`EXAT` argument: at least 1 (Redis refuses 0 and negatives; any past time
/// deletes the key at once, which is what an expired record deserves).
fn expiry_arg(t: i64) -> i64 {
    t.clamp(1, MAX_UNIX)
}

fn decode_session(
    token_hash: &str,
    row: &[Option<Vec<u8>>],
) -> Result<Option<Session>, StoreError> {
    let (Some(rec), cert, seen) = (
        row.first().cloned().flatten(),
        row.get(1).cloned().flatten(),
        row.get(2).cloned().flatten(),
    ) else {
        return Ok(None);
    };
    let corrupt = |what: String| StoreError::Corrupt(format!("redis session record: {what}"));
    let mut s: Session =
        serde_json::from_slice(&rec).map_err(|e| corrupt(format!("undecodable JSON: {e}")))?;
    if s.token_hash != token_hash {
        return Err(corrupt("stored under another token hash".into()));
    }
    s.cert_der = cert.unwrap_or_default();
    if let Some(seen) = seen {
        let seen = std::str::from_utf8(&seen)
            .ok()
            .and_then(|t| t.parse::<i64>().ok())
            .ok_or_else(|| corrupt("bad last_seen".into()))?;
        s.last_seen = s.last_seen.max(seen);
    }
    Ok(Some(s))
}

fn check_version(info: &str) -> Result<(), StoreError> {
    let version = info
        .lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .map(str::trim)
        .ok_or_else(|| StoreError::Backend("redis: INFO gave no redis_version".into()))?;
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    if major < 7 {
        return Err(StoreError::Backend(format!(
            "redis {version} is too old: the store needs 7.0 or newer (GETDEL, PEXPIRE NX)"
        )));
    }
    Ok(())
}

async fn connect_commands(
    client: &Client,
    opts: &RedisOptions,
) -> Result<MultiplexedConnection, StoreError> {
    let cfg = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(opts.connect_timeout))
        .set_response_timeout(Some(opts.response_timeout));
    // The outer timeout also bounds DNS and the handshake.
    tokio::time::timeout(
        opts.connect_timeout + opts.response_timeout,
        client.get_multiplexed_async_connection_with_config(&cfg),
    )
    .await
    .map_err(|_| StoreError::Backend("redis: connect timed out".into()))?
    .map_err(backend)
}

async fn connect_events(
    client: &Client,
    channel: &str,
    opts: &RedisOptions,
) -> Result<redis::aio::PubSub, StoreError> {
    let attempt = async {
        let mut ps = client.get_async_pubsub().await?;
        ps.subscribe(channel).await?;
        Ok::<_, RedisError>(ps)
    };
    tokio::time::timeout(opts.connect_timeout + opts.response_timeout, attempt)
        .await
        .map_err(|_| StoreError::Backend("redis: pub/sub connect timed out".into()))?
        .map_err(backend)
}

/// The event task: forwards `{prefix}events` to the broadcast channel, reconnecting forever.
async fn pump_events(
    client: Client,
    channel: String,
    opts: RedisOptions,
    tx: broadcast::Sender<StoreEvent>,
    first: redis::aio::PubSub,
) {
    const MIN_BACKOFF: Duration = Duration::from_millis(100);
    const MAX_BACKOFF: Duration = Duration::from_secs(5);
    const PING_EVERY: Duration = Duration::from_secs(15);
    let mut next = Some(first);
    let mut backoff = MIN_BACKOFF;
    loop {
        let ps = match next.take() {
            Some(ps) => ps,
            None => match connect_events(&client, &channel, &opts).await {
                Ok(ps) => {
                    backoff = MIN_BACKOFF;
                    let _ = tx.send(StoreEvent::Recheck {
                        kind: "events_gap".into(),
                        payload: serde_json::json!({}),
                    });
                    ps
                }
                Err(_) => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            },
        };
        let (mut sink, mut stream) = ps.split();
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.tick().await;
        loop {
            tokio::select! {
                msg = stream.next() => {
                    let Some(msg) = msg else { break };
                    let bytes = msg.get_payload_bytes();
                    if bytes.len() > MAX_EVENT_BYTES {
                        continue;
                    }
                    // Malformed events (another version, a stray publisher) are dropped.
                    if let Ok(ev) = serde_json::from_slice::<StoreEvent>(bytes) {
                        let _ = tx.send(ev);
                    }
                }
                _ = ping.tick() => {
                    let pong = tokio::time::timeout(
                        opts.response_timeout,
                        sink.ping::<redis::Value>(),
                    )
                    .await;
                    if !matches!(pong, Ok(Ok(_))) {
                        break;
                    }
                }
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
