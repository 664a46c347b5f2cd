//! Kazakh GOST signatures (GOST 34.10-2015, GOST 34.310-2004).
//!
//! PLACEHOLDER while the real implementation is developed on its branch: every GOST signature is
//! refused with `GostError::NotAvailable`. This file is replaced when that branch merges.

use const_oid::ObjectIdentifier;
use std::fmt;

/// Why a GOST operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GostError {
    /// GOST support is not built in yet.
    NotAvailable,
}

impl GostError {
    /// Stable reason code.
    pub fn code(&self) -> &'static str {
        "gost_not_available"
    }
}

impl fmt::Display for GostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GOST signatures are not available in this build")
    }
}

impl std::error::Error for GostError {}

/// True for GOST signature and key OIDs (arc 1.2.398.3.10.1.1).
pub fn is_gost_oid(oid: &ObjectIdentifier) -> bool {
    oid.to_string().starts_with("1.2.398.3.10.1.1.")
}

/// Verifies a GOST signature.
pub fn verify(_: &ObjectIdentifier, _: &[u8], _: &[u8], _: &[u8]) -> Result<(), GostError> {
    Err(GostError::NotAvailable)
}

/// GOST digest by OID.
pub fn digest(_: &ObjectIdentifier, _: &[u8]) -> Option<Vec<u8>> {
    None
}
