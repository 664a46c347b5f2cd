//! The wall clock, read at the edges only (CLI, online revocation, test PKI, simulator): the
//! verification core never reads it (STYLE.md §1) and takes a [`UnixTime`] instead.

use crate::pki::time::UnixTime;

/// Seconds since the Unix epoch now (0 if the clock is before 1970).
pub fn now() -> UnixTime {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    UnixTime(secs)
}
