//! A bounded BER → DER length normaliser for CMS input (X.690 §8.1.3, §10.1).
//!
//! CMS may be BER encoded (RFC 5652 §5.1: "SignedData ... may be BER encoded"); OpenSSL's
//! `cms -sign -stream` and some Java providers write indefinite lengths and constructed OCTET
//! STRINGs for the encapsulated content. The CMS parser works on definite lengths only, so this
//! module rewrites:
//! - indefinite lengths (`0x80` … end-of-contents `00 00`) into minimal definite lengths;
//! - constructed OCTET STRINGs (universal tag 4, `0x24`) into one primitive OCTET STRING holding
//!   the concatenation of their segments (X.690 §8.7.3).
//!
//! Everything else is copied verbatim (primitive contents are never touched), so DER input comes
//! out byte-for-byte identical. In particular the signed attributes, which RFC 5652 §5.3 requires
//! to be DER "even if the rest of the structure is BER encoded", keep their received bytes.
//!
//! Budgets: nesting depth (see [`MAX_DEPTH`]) and a total element count ([`MAX_ELEMENTS`]) so that
//! work is linear in the input and recursion is bounded.

use std::fmt;

/// Deepest nesting accepted. A CMS SignedData with embedded certificates nests about 12 levels
/// (ContentInfo › SignedData › certificates › Certificate › TBS › Name › RDN › ATV …, extension
/// values are OCTET STRINGs and are not descended into); 32 leaves ample room and stops
/// stack-exhaustion attempts.
pub const MAX_DEPTH: usize = 32;

/// Most elements (TLVs) walked in one input. A 1 MiB login CMS with a few certificates holds a
/// few thousand elements; 200 000 is far above any legitimate input and keeps the walk bounded.
pub const MAX_ELEMENTS: usize = 200_000;

/// Why a BER input could not be normalised.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BerError {
    /// Nesting deeper than [`MAX_DEPTH`].
    TooDeep {
        /// The limit that was hit.
        max: usize,
    },
    /// More than [`MAX_ELEMENTS`] elements.
    TooManyElements {
        /// The limit that was hit.
        max: usize,
    },
    /// A header or content that does not fit the buffer, a high tag number, an indefinite length
    /// on a primitive, or a missing end-of-contents.
    Malformed {
        /// Byte offset where the problem was found.
        offset: usize,
    },
}

impl BerError {
    /// Stable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            BerError::TooDeep { .. } => "ber_too_deep",
            BerError::TooManyElements { .. } => "ber_too_many_elements",
            BerError::Malformed { .. } => "ber_malformed",
        }
    }
}

impl fmt::Display for BerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BerError::TooDeep { max } => write!(f, "BER nesting deeper than {max} levels"),
            BerError::TooManyElements { max } => write!(f, "more than {max} BER elements"),
            BerError::Malformed { offset } => write!(f, "malformed BER at byte {offset}"),
        }
    }
}

impl std::error::Error for BerError {}

/// True if the buffer uses any indefinite length or constructed OCTET STRING, i.e. if
/// [`to_der`] would change it. Cheap pre-check so DER input is used as received.
pub fn needs_normalising(input: &[u8]) -> Result<bool, BerError> {
    let mut budget = MAX_ELEMENTS;
    let mut found = false;
    let end = scan(input, 0, input.len(), 0, &mut budget, &mut found, false)?;
    if end != input.len() {
        return Err(BerError::Malformed { offset: end });
    }
    Ok(found)
}

/// Rewrites one BER element (the whole `input`) into definite-length form; see the module doc.
pub fn to_der(input: &[u8]) -> Result<Vec<u8>, BerError> {
    let mut budget = MAX_ELEMENTS;
    let mut out = Vec::with_capacity(input.len());
    let pos = convert(input, 0, 0, &mut budget, &mut out)?;
    if pos != input.len() {
        return Err(BerError::Malformed { offset: pos });
    }
    Ok(out)
}

/// A parsed identifier + length header.
struct Header {
    tag: u8,
    /// `None` for the indefinite form.
    len: Option<usize>,
    /// Offset of the first content octet.
    content: usize,
}

fn header(buf: &[u8], pos: usize) -> Result<Header, BerError> {
    let bad = BerError::Malformed { offset: pos };
    let tag = *buf.get(pos).ok_or(bad.clone())?;
    if tag & 0x1f == 0x1f {
        // High tag numbers never occur in CMS (X.690 §8.1.2.4); refuse rather than guess.
        return Err(bad);
    }
    let first = *buf.get(pos + 1).ok_or(bad.clone())?;
    if first == 0x80 {
        if tag & 0x20 == 0 {
            // X.690 §8.1.3.2: indefinite form only for constructed encodings.
            return Err(bad);
        }
        return Ok(Header {
            tag,
            len: None,
            content: pos + 2,
        });
    }
    if first < 0x80 {
        return Ok(Header {
            tag,
            len: Some(usize::from(first)),
            content: pos + 2,
        });
    }
    let n = usize::from(first & 0x7f);
    if n > 4 {
        // More than 4 GiB can never fit our 1 MiB budget.
        return Err(bad);
    }
    let mut len = 0usize;
    for i in 0..n {
        len = (len << 8) | usize::from(*buf.get(pos + 2 + i).ok_or(bad.clone())?);
    }
    let content = pos + 2 + n;
    let end = content.checked_add(len).ok_or(bad.clone())?;
    if end > buf.len() {
        return Err(bad);
    }
    Ok(Header {
        tag,
        len: Some(len),
        content,
    })
}

fn take(budget: &mut usize) -> Result<(), BerError> {
    *budget = budget
        .checked_sub(1)
        .ok_or(BerError::TooManyElements { max: MAX_ELEMENTS })?;
    Ok(())
}

/// Walks elements from `pos` until `limit` (definite parent) or end-of-contents (`indefinite`),
/// returning the position after the last element (after the `00 00` for indefinite parents).
fn scan(
    buf: &[u8],
    mut pos: usize,
    limit: usize,
    depth: usize,
    budget: &mut usize,
    found: &mut bool,
    indefinite: bool,
) -> Result<usize, BerError> {
    if depth > MAX_DEPTH {
        return Err(BerError::TooDeep { max: MAX_DEPTH });
    }
    loop {
        if indefinite {
            if buf.get(pos..pos + 2) == Some(&[0, 0]) {
                return Ok(pos + 2);
            }
            if pos >= limit {
                return Err(BerError::Malformed { offset: pos });
            }
        } else if pos >= limit {
            return Ok(pos);
        }
        take(budget)?;
        let h = header(buf, pos)?;
        if h.tag == 0x24 {
            *found = true;
        }
        pos = match h.len {
            None => {
                *found = true;
                scan(buf, h.content, limit, depth + 1, budget, found, true)?
            }
            Some(len) => {
                let end = h.content + len;
                if end > limit {
                    return Err(BerError::Malformed { offset: pos });
                }
                if h.tag & 0x20 != 0 {
                    let got = scan(buf, h.content, end, depth + 1, budget, found, false)?;
                    if got != end {
                        return Err(BerError::Malformed { offset: got });
                    }
                }
                end
            }
        };
    }
}

fn push_header(out: &mut Vec<u8>, tag: u8, len: usize) {
    out.push(tag);
    if len < 0x80 {
        // Short form: fits in 7 bits (checked above).
        out.extend_from_slice(&[u8::try_from(len).unwrap_or(0)]);
        return;
    }
    let bytes = len.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    let sig = bytes.get(skip..).unwrap_or(&[]);
    out.push(0x80 | u8::try_from(sig.len()).unwrap_or(0));
    out.extend_from_slice(sig);
}

/// Converts one element at `pos`, appending its DER form to `out`; returns the position after
/// it. Constructed OCTET STRINGs are flattened.
fn convert(
    buf: &[u8],
    pos: usize,
    depth: usize,
    budget: &mut usize,
    out: &mut Vec<u8>,
) -> Result<usize, BerError> {
    if depth > MAX_DEPTH {
        return Err(BerError::TooDeep { max: MAX_DEPTH });
    }
    take(budget)?;
    let h = header(buf, pos)?;
    let constructed = h.tag & 0x20 != 0;
    if !constructed {
        // Primitive: definite length guaranteed by `header`.
        let end = h.content + h.len.unwrap_or(0);
        let content = buf
            .get(h.content..end)
            .ok_or(BerError::Malformed { offset: pos })?;
        push_header(out, h.tag, content.len());
        out.extend_from_slice(content);
        return Ok(end);
    }
    // Constructed: convert children into a scratch buffer, then emit with a definite length.
    let mut body = Vec::new();
    let mut p = h.content;
    let end = loop {
        match h.len {
            None => {
                if buf.get(p..p + 2) == Some(&[0, 0]) {
                    break p + 2;
                }
                if p >= buf.len() {
                    return Err(BerError::Malformed { offset: p });
                }
            }
            Some(len) => {
                let end = h.content + len;
                if p == end {
                    break end;
                }
                if p > end {
                    return Err(BerError::Malformed { offset: p });
                }
            }
        }
        let next = convert(buf, p, depth + 1, budget, &mut body)?;
        if let Some(len) = h.len
            && next > h.content + len
        {
            return Err(BerError::Malformed { offset: p });
        }
        p = next;
    };
    if h.tag == 0x24 {
        // X.690 §8.7.3: the segments are OCTET STRINGs (possibly constructed themselves, now
        // flattened); concatenate their contents into one primitive OCTET STRING.
        let mut flat = Vec::with_capacity(body.len());
        let mut q = 0;
        while q < body.len() {
            let seg = header(&body, q)?;
            if seg.tag != 0x04 {
                return Err(BerError::Malformed { offset: pos });
            }
            let seg_end = seg.content + seg.len.unwrap_or(0);
            flat.extend_from_slice(
                body.get(seg.content..seg_end)
                    .ok_or(BerError::Malformed { offset: pos })?,
            );
            q = seg_end;
        }
        push_header(out, 0x04, flat.len());
        out.extend_from_slice(&flat);
    } else {
        push_header(out, h.tag, body.len());
        out.extend_from_slice(&body);
    }
    Ok(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_input_is_left_alone() {
        let der = [0x30, 0x06, 0x02, 0x01, 0x05, 0x04, 0x01, 0xaa];
        assert_eq!(needs_normalising(&der), Ok(false));
        assert_eq!(to_der(&der).as_deref(), Ok(&der[..]));
    }

    #[test]
    fn indefinite_lengths_become_definite() {
        let ber = [
            0x30, 0x80, 0x02, 0x01, 0x05, 0xa0, 0x80, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00,
        ];
        assert_eq!(needs_normalising(&ber), Ok(true));
        assert_eq!(
            to_der(&ber).as_deref(),
            Ok(&[0x30, 0x07, 0x02, 0x01, 0x05, 0xa0, 0x02, 0x05, 0x00][..])
        );
    }

    #[test]
    fn constructed_octet_strings_are_flattened() {
        let ber = [
            0xa0, 0x80, 0x24, 0x80, 0x04, 0x02, b'a', b'b', 0x04, 0x01, b'c', 0x00, 0x00, 0x00,
            0x00,
        ];
        assert_eq!(
            to_der(&ber).as_deref(),
            Ok(&[0xa0, 0x05, 0x04, 0x03, b'a', b'b', b'c'][..])
        );
    }

    #[test]
    fn deep_nesting_is_refused() {
        let mut ber = Vec::new();
        for _ in 0..100 {
            ber.extend_from_slice(&[0x30, 0x80]);
        }
        for _ in 0..100 {
            ber.extend_from_slice(&[0x00, 0x00]);
        }
        assert_eq!(to_der(&ber), Err(BerError::TooDeep { max: MAX_DEPTH }));
        assert_eq!(
            needs_normalising(&ber),
            Err(BerError::TooDeep { max: MAX_DEPTH })
        );
    }

    #[test]
    fn missing_end_of_contents_is_malformed() {
        let ber = [0x30, 0x80, 0x02, 0x01, 0x05];
        assert!(matches!(to_der(&ber), Err(BerError::Malformed { .. })));
        assert!(matches!(
            needs_normalising(&ber),
            Err(BerError::Malformed { .. })
        ));
    }

    #[test]
    fn huge_lengths_are_malformed() {
        let ber = [0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x00];
        assert!(matches!(to_der(&ber), Err(BerError::Malformed { .. })));
        let ber = [0x30, 0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9];
        assert!(matches!(to_der(&ber), Err(BerError::Malformed { .. })));
    }
}
