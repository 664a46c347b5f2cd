//! Online revocation: fetch, persist, refresh and cache CRLs and OCSP answers, and decide per the
//! operator's [`policy::Policy`]. The judging is the core's ([`crate::pki::ocsp::check`],
//! [`crate::pki::crl`]); this layer adds the network, the disk and the clock.
//!
//! Layout:
//! - [`ocsp_request`]: RFC 6960 request encoder (pure).
//! - [`http`]: the HTTP client (timeouts, User-Agent, size caps, conditional GET).
//! - [`ocsp_client`]: OCSP with retries, cache, negative cache and single-flight.
//! - [`crl_store`]: CRL download, verify-once, compact serial index, full + delta, persistence,
//!   refresh, atomic swap.
//! - [`policy`]: modes, conditions, actions, verdicts with reason codes.
//! - [`checker`]: runs the sources in the policy's order and returns the verdict.
//!
//! Dependencies and why:
//! - `tokio` (rt, macros, net, time, fs, sync): the runtime reqwest needs; its `Mutex` gives
//!   single-flight, its timers the backoff. The de-facto standard, maintained by the Tokio team.
//! - `reqwest` 0.12 without default features, with `rustls-tls`: a small, well-kept HTTP/1.1
//!   client with connect/total timeouts and streaming bodies; rustls over `ring` (already a
//!   dependency) instead of OpenSSL; no HTTP/2, cookies or compression. DESIGN.md keeps hyper-util
//!   for the proxy and reqwest for CRL/OCSP fetches.
//! - `indicatif`: the `crl fetch` progress bar (console-rs, widely used).
//! - No `arc-swap`: `RwLock<Arc<_>>` swaps a finished index in one pointer write, which is all
//!   a reader needs.

pub mod checker;
pub mod crl_store;
pub mod evidence;
pub mod http;
pub mod ocsp_client;
pub mod ocsp_request;
pub mod policy;
