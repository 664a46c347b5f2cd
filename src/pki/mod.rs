//! The verification core: no I/O, no clock, no async. Bytes, a time and revocation evidence
//! go in; a verdict comes out (../shared/DESIGN.md, "Layers").

pub mod cert;
pub mod der_util;
pub mod gost;
pub mod identity;
pub mod name;
pub mod p12;
pub mod signature;
pub mod time;
