//! A line reader with a length cap: audit files may be gigabytes and hostile, so a line is never
//! held beyond [`super::record::MAX_LINE`] bytes; the rest of an over-long line is skipped.

use std::io::{self, BufRead};

/// One read from [`read_capped_line`].
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// End of input: nothing was read.
    Eof,
    /// A line is in the buffer (without `\n`); `terminated` is false for a last line with no `\n`.
    Text {
        /// The line ended with `\n`.
        terminated: bool,
    },
    /// The line was longer than the cap; its bytes were skipped (the buffer is empty).
    TooLong {
        /// Its full length in bytes (without `\n`).
        len: u64,
        /// The line ended with `\n`.
        terminated: bool,
    },
}

/// Reads one line into `buf` (cleared first), keeping at most `cap` bytes.
pub fn read_capped_line<R: BufRead>(r: &mut R, buf: &mut Vec<u8>, cap: usize) -> io::Result<Line> {
    buf.clear();
    let mut len: u64 = 0;
    let mut too_long = false;
    let mut any = false;
    loop {
        let chunk = match r.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(if !any {
                Line::Eof
            } else if too_long {
                Line::TooLong {
                    len,
                    terminated: false,
                }
            } else {
                Line::Text { terminated: false }
            });
        }
        any = true;
        let (take, found) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i, true),
            None => (chunk.len(), false),
        };
        len = len.saturating_add(take as u64);
        if !too_long {
            if buf.len() + take > cap {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(&chunk[..take]);
            }
        }
        r.consume(if found { take + 1 } else { take });
        if found {
            return Ok(if too_long {
                Line::TooLong {
                    len,
                    terminated: true,
                }
            } else {
                Line::Text { terminated: true }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_long_lines_are_skipped_not_buffered() {
        let mut data = vec![b'a'; 100];
        data.push(b'\n');
        data.extend_from_slice(b"ok\nlast");
        let mut r = io::BufReader::with_capacity(7, &data[..]);
        let mut buf = Vec::new();
        assert_eq!(
            read_capped_line(&mut r, &mut buf, 10).expect("io"),
            Line::TooLong {
                len: 100,
                terminated: true
            }
        );
        assert!(buf.is_empty());
        assert_eq!(
            read_capped_line(&mut r, &mut buf, 10).expect("io"),
            Line::Text { terminated: true }
        );
        assert_eq!(buf, b"ok");
        assert_eq!(
            read_capped_line(&mut r, &mut buf, 10).expect("io"),
            Line::Text { terminated: false }
        );
        assert_eq!(buf, b"last");
        assert_eq!(
            read_capped_line(&mut r, &mut buf, 10).expect("io"),
            Line::Eof
        );
    }
}
