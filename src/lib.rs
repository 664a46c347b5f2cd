//! eds-gateway: a reverse proxy in front of a hospital's medical information system that logs
//! staff in with their NCA RK electronic signature.
//!
//! The verification core lives in [`pki`]; it does no I/O.

pub mod cli;
pub mod clock;
pub mod drill;
pub mod pki;
pub mod revocation;
