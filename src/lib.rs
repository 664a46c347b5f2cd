//! eds-gateway: a reverse proxy in front of a hospital's medical information system that logs
//! staff in with their NCA RK electronic signature.
//!
//! The verification core lives in [`pki`]; it does no I/O.

pub mod audit;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod drill;
pub mod gateway;
pub mod pki;
pub mod revocation;
pub mod session;
pub mod web;
