//! Reading the objects named on the command line: files that hold one or more PEM blocks or
//! one DER object. An unreadable file is a usage error (exit 2); bytes that do not parse are
//! the caller's to judge (a malformed leaf is an invalid certificate, exit 1).

use std::path::{Path, PathBuf};

use crate::pki::cert::{CertError, Certificate};

/// Largest input file we read (a production NCA CRL is ~21 MB).
pub const MAX_FILE: u64 = 64 * 1024 * 1024;

/// An input file could not be read.
#[derive(Debug)]
pub struct ReadError {
    /// The path.
    pub path: PathBuf,
    /// What went wrong.
    pub detail: String,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot read {}: {}", self.path.display(), self.detail)
    }
}

/// Reads a whole file, with the size cap.
pub fn read(path: &Path) -> Result<Vec<u8>, ReadError> {
    let err = |detail: String| ReadError {
        path: path.to_path_buf(),
        detail,
    };
    let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
    if meta.len() > MAX_FILE {
        return Err(err(format!("larger than {MAX_FILE} bytes")));
    }
    std::fs::read(path).map_err(|e| err(e.to_string()))
}

/// Splits a file into its PEM blocks (each returned with its armour), or returns the whole
/// input as one DER object.
pub fn split_pem(bytes: &[u8]) -> Vec<Vec<u8>> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    const END: &[u8] = b"-----END ";
    let mut out = Vec::new();
    let mut pos = 0usize;
    while let Some(start) = find(&bytes[pos..], BEGIN).map(|i| i + pos) {
        let Some(end_marker) = find(&bytes[start..], END).map(|i| i + start) else {
            break;
        };
        // The END line runs to the next "-----" after the label.
        let after = end_marker + END.len();
        let Some(close) = find(&bytes[after..], b"-----").map(|i| i + after + 5) else {
            break;
        };
        out.push(bytes[start..close].to_vec());
        pos = close;
    }
    if out.is_empty() {
        out.push(bytes.to_vec());
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Parses every certificate in a file.
pub fn certificates(bytes: &[u8]) -> Vec<Result<Certificate, CertError>> {
    split_pem(bytes)
        .iter()
        .map(|b| Certificate::parse(b))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_two_pem_blocks_and_keeps_der_whole() {
        let two = b"junk\n-----BEGIN A-----\nAAAA\n-----END A-----\n-----BEGIN B-----\nBBBB\n-----END B-----\n";
        let parts = split_pem(two);
        assert_eq!(parts.len(), 2);
        assert!(parts[1].starts_with(b"-----BEGIN B-----"));
        assert!(parts[1].ends_with(b"-----END B-----"));
        assert_eq!(split_pem(&[0x30, 0x00]), vec![vec![0x30, 0x00]]);
    }
}
