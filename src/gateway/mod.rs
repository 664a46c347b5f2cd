//! The HTTP service: configuration, the `/eds/` endpoints, sessions and cookies, CSRF, rate
//! limits, and the hand-off to the MIS (issue 6 items 1, 5, 7, 8).
pub mod admin;
pub mod assertion;
pub mod blocklist;
pub mod client;
pub mod config;
pub mod demo;
pub mod listener;
pub mod logging;
pub mod metrics;
pub mod observe;
pub mod pool;
pub mod recheck;
pub mod routes;
pub mod run;
pub mod server;
pub mod stream;
pub mod tls;
pub mod upstream;
pub mod websocket;
