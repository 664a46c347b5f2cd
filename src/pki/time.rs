//! Time as the core sees it: whole seconds since the Unix epoch, given by the caller.
//!
//! The core never reads the clock (STYLE.md §1): every check takes a [`UnixTime`] argument.

use std::fmt;

/// Seconds since 1970-01-01T00:00:00Z (may be negative for pre-1970 encodings).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(pub i64);

impl UnixTime {
    /// Parses an RFC 3339 timestamp such as `2026-11-25T00:00:00Z`.
    pub fn parse_rfc3339(s: &str) -> Option<UnixTime> {
        let t =
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
        Some(UnixTime(t.unix_timestamp()))
    }

    /// Converts an ASN.1 time from the `der`/`x509-cert` types.
    pub fn from_der_datetime(dt: &der::DateTime) -> UnixTime {
        // der::DateTime is always >= 1970 (it is built from a unix duration); u64 secs fit i64
        // until the year 292277026596.
        UnixTime(i64::try_from(dt.unix_duration().as_secs()).unwrap_or(i64::MAX))
    }

    /// Adds (or subtracts) seconds, saturating.
    pub fn plus_seconds(self, secs: i64) -> UnixTime {
        UnixTime(self.0.saturating_add(secs))
    }

    /// RFC 3339 rendering (UTC).
    pub fn to_rfc3339(self) -> String {
        match time::OffsetDateTime::from_unix_timestamp(self.0) {
            Ok(t) => t
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|_| self.0.to_string()),
            Err(_) => self.0.to_string(),
        }
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip() {
        let t = UnixTime::parse_rfc3339("2026-11-25T00:00:00Z").expect("parses");
        assert_eq!(t.0, 1_795_564_800);
        assert_eq!(t.to_rfc3339(), "2026-11-25T00:00:00Z");
        assert_eq!(
            UnixTime::parse_rfc3339("1970-01-01T00:00:03Z"),
            Some(UnixTime(3))
        );
        assert_eq!(UnixTime::parse_rfc3339("yesterday"), None);
    }
}
