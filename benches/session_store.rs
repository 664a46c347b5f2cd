//! Session-store figures (issue 6, item 10): memory for 100,000 live sessions in the embedded
//! store (goal ≤ 64 MB), and the per-request cost of `get_session` and `touch_session` on the
//! embedded store and on Redis.
//!
//! - Memory: resident set (`/proc/self/statm` × page size) before opening the store and after
//!   creating 100,000 sessions with realistic fields and a 1.5 KB certificate each, plus the
//!   store's own accounting ([`EmbeddedStats::heap_bytes`]). The sessions are created with
//!   `fsync` off (100k fdatasyncs measure the disk, not the store); one create with `fsync` on
//!   is timed separately.
//! - Cost: 10,000 `get_session` calls on random live sessions, and 10,000 touches (throttled:
//!   within 15 s of the last write, and writing: ≥ 15 s later), per call.
//! - Redis: the same on 10,000 sessions under a unique prefix at `REDIS_URL` (default
//!   `redis://127.0.0.1:6379`), deleted afterwards; skipped with a note when unreachable.
//!
//! Run: `cargo bench --bench session_store --features bench-support`

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eds_gateway::auth::proof::NewSession;
use eds_gateway::session::embedded::{EmbeddedOptions, EmbeddedStore};
use eds_gateway::session::redis_store::RedisStore;
use eds_gateway::session::{Identity, Session, Store};

const SESSIONS: usize = 100_000;
const OPS: usize = 10_000;
const REDIS_SESSIONS: usize = 10_000;
const PAGE: u64 = 4096;

fn hex_sha256(s: &str) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, s.as_bytes()))
}

fn session(i: usize, now: i64) -> Session {
    let token_hash = hex_sha256(&format!("bench token {i}"));
    // Logged in within the last hour, active within the last 5 minutes: all live (idle 15 min).
    let created = now - (i % 3600) as i64;
    let last_seen = now - (i % 300) as i64;
    Session {
        sid: hex_sha256(&format!("sid{token_hash}"))[..16].to_string(),
        token_hash,
        identity: Identity {
            iin: format!("{:012}", 870_412_300_000u64 + i as u64),
            name: "ЖҰМАБЕКОВА АЙГЕРІМ СЕРІКҚЫЗЫ".into(),
            bin: Some("990240000123".into()),
            org: Some("ГКП на ПХВ \"Городская поликлиника №5\" акимата г. Астаны".into()),
            roles: vec!["nurse".into(), "staff".into()],
            cert_serial: hex_sha256(&format!("serial {i}"))[..40].to_string(),
            cert_issuer: "CN=ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (GOST) 2022, C=KZ".into(),
            key_id: hex_sha256(&format!("key {i}")),
            cert_not_after: now + 365 * 86_400,
        },
        cert_der: (0..1500usize).map(|b| (b * 31 + i) as u8).collect(),
        created,
        last_seen,
        idle_timeout_secs: 900,
        absolute_expiry: created + 43_200,
        ip: format!("10.{}.{}.{}", i % 256, (i / 256) % 256, 7),
        user_agent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like \
                     Gecko) Chrome/126.0.0.0 Safari/537.36"
            .into(),
        csrf: hex_sha256(&format!("csrf {i}")),
    }
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * PAGE)
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

/// A cheap deterministic index sequence (xorshift), so lookups are not in insertion order.
fn indices(n: usize, modulo: usize) -> Vec<usize> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % modulo as u64) as usize
        })
        .collect()
}

fn per_call(d: Duration, n: usize) -> f64 {
    d.as_nanos() as f64 / n as f64
}

async fn costs(store: &dyn Store, hashes: &[String], now: i64) -> (f64, f64, f64) {
    let idx = indices(OPS, hashes.len());
    let t = Instant::now();
    for &i in &idx {
        let s = store.get_session(&hashes[i]).await.expect("get");
        black_box(s.expect("present"));
    }
    let get = per_call(t.elapsed(), OPS);
    // Writing touches: ≥ 15 s after every session's last write.
    let t1 = now + 100;
    let t = Instant::now();
    for &i in &idx {
        store.touch_session(&hashes[i], t1).await.expect("touch");
    }
    let touch_write = per_call(t.elapsed(), OPS);
    // Throttled touches: 1 s after those writes, on the same sessions.
    let t = Instant::now();
    for &i in &idx {
        store
            .touch_session(&hashes[i], t1 + 1)
            .await
            .expect("touch");
    }
    let touch_throttled = per_call(t.elapsed(), OPS);
    (get, touch_write, touch_throttled)
}

async fn embedded(now: i64) {
    let dir = std::env::temp_dir().join(format!("eds-bench-sessions-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let hashes: Vec<String> = (0..SESSIONS)
        .map(|i| hex_sha256(&format!("bench token {i}")))
        .collect();
    // Each record is built, stored and dropped in turn, so only what the store keeps grows.
    let before = rss_bytes();
    let opts = EmbeddedOptions {
        fsync: false,
        ..EmbeddedOptions::default()
    };
    let store = Arc::new(EmbeddedStore::open_with(&dir, opts).expect("open"));
    let t = Instant::now();
    for i in 0..SESSIONS {
        store
            .create_session(&NewSession::for_store_tests(session(i, now)))
            .await
            .expect("create");
    }
    let create = per_call(t.elapsed(), SESSIONS);
    let after = rss_bytes();
    let stats = store.stats().expect("stats");
    println!("embedded store, {SESSIONS} live sessions (1.5 KB certificate each):");
    println!(
        "  resident memory growth      {:>8.1} MiB  (statm: {:.1} → {:.1} MiB)",
        mib(after.saturating_sub(before)),
        mib(before),
        mib(after)
    );
    println!(
        "  store's own accounting      {:>8.1} MiB  ({} bytes/session, index + tables)",
        mib(stats.heap_bytes as u64),
        stats.heap_bytes / SESSIONS
    );
    println!(
        "  journal on disk             {:>8.1} MiB  ({} live bytes)",
        mib(stats.journal_bytes),
        stats.live_bytes
    );
    println!("  create (fsync off)          {create:>8.0} ns/call");

    let (get, tw, tt) = costs(store.as_ref(), &hashes, now).await;
    println!("  get_session                 {get:>8.0} ns/call  ({OPS} random live sessions)");
    println!("  touch (writes journal)      {tw:>8.0} ns/call");
    println!("  touch (throttled, <15 s)    {tt:>8.0} ns/call");
    drop(store);

    // One create with fsync on (what a login pays), averaged over 50.
    let store = EmbeddedStore::open(&dir).expect("reopen");
    let t = Instant::now();
    for i in 0..50 {
        store
            .create_session(&NewSession::for_store_tests(session(SESSIONS + i, now)))
            .await
            .expect("create");
    }
    println!(
        "  create (fsync on)           {:>8.0} ns/call  (50 calls)",
        per_call(t.elapsed(), 50)
    );
    let t = Instant::now();
    drop(store);
    let store = EmbeddedStore::open(&dir).expect("reopen");
    println!(
        "  reopen (replay journal)     {:>8.1} ms  ({} sessions)",
        t.elapsed().as_secs_f64() * 1000.0,
        store.stats().expect("stats").sessions
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

async fn redis(now: i64) {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = format!("eds-bench:{}:", std::process::id());
    let store = match RedisStore::connect(&url, &prefix).await {
        Ok(s) => s,
        Err(e) => {
            println!("redis store: SKIPPED, no server at REDIS_URL={url} ({e})");
            return;
        }
    };
    let mut hashes: Vec<String> = Vec::with_capacity(REDIS_SESSIONS);
    let t = Instant::now();
    for i in 0..REDIS_SESSIONS {
        let s = session(i, now);
        hashes.push(s.token_hash.clone());
        store
            .create_session(&NewSession::for_store_tests(s))
            .await
            .expect("create");
    }
    let create = per_call(t.elapsed(), REDIS_SESSIONS);
    println!("redis store ({REDIS_SESSIONS} sessions, {url} on this machine, one task):");
    println!("  create                      {create:>8.0} ns/call");
    let (get, tw, tt) = costs(&store, &hashes, now).await;
    println!("  get_session                 {get:>8.0} ns/call");
    println!("  touch (writes, Lua script)  {tw:>8.0} ns/call");
    println!("  touch (throttled, <15 s)    {tt:>8.0} ns/call");
    // Clean up: every key under the prefix.
    let client = redis::Client::open(url.as_str()).expect("url");
    let mut c = client
        .get_multiplexed_async_connection()
        .await
        .expect("connection");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut c)
        .await
        .unwrap_or_default();
    for chunk in keys.chunks(1000) {
        let _: Result<i64, _> = redis::cmd("DEL").arg(chunk).query_async(&mut c).await;
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    rt.block_on(async {
        embedded(now).await;
        redis(now).await;
    });
}
