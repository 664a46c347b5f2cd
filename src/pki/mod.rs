//! The verification core: no I/O, no clock, no async. Bytes, a time and revocation evidence
//! go in; a verdict comes out (../shared/DESIGN.md, "Layers").

pub mod ber;
pub mod cert;
pub mod cms;
pub mod crl;
pub mod der_util;
pub mod gost;
pub mod identity;
pub mod name;
pub mod name_constraints;
pub mod ocsp;
pub mod p12;
pub mod path;
pub mod policy;
pub mod reason;
pub mod revocation;
pub mod signature;
pub mod time;
