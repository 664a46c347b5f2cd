//! The HTTP service: configuration, the `/eds/` endpoints, sessions and cookies, CSRF, rate
//! limits, and the hand-off to the MIS (issue 6 items 1, 5, 7, 8).
pub mod client;
pub mod config;
pub mod demo;
pub mod listener;
pub mod run;
pub mod server;
pub mod tls;
pub mod upstream;
