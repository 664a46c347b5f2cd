//! Small DER helpers the parsers share: slicing the exact bytes of one element out of a
//! structure (signatures are over the bytes as received, never over a re-encoding).

/// One TLV element located in a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tlv {
    /// The identifier octet (we only handle single-byte tags; high-tag-number form is refused).
    pub tag: u8,
    /// Offset of the first identifier octet.
    pub start: usize,
    /// Offset of the first content octet.
    pub content_start: usize,
    /// Offset one past the last content octet.
    pub end: usize,
}

impl Tlv {
    /// The whole element (tag, length and content).
    pub fn whole<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[self.start..self.end]
    }
    /// The content octets.
    pub fn content<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[self.content_start..self.end]
    }
}

/// Reads one definite-length DER element starting at `pos`. `None` on any malformation
/// (indefinite length, length past the end, high tag numbers, non-minimal long form is tolerated
/// here because the full decoder checks canonical form).
pub fn read_tlv(buf: &[u8], pos: usize) -> Option<Tlv> {
    let tag = *buf.get(pos)?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let first = *buf.get(pos + 1)?;
    let (len, hdr) = if first < 0x80 {
        (usize::from(first), 2usize)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*buf.get(pos + 2 + i)?);
        }
        (len, 2 + n)
    };
    let content_start = pos.checked_add(hdr)?;
    let end = content_start.checked_add(len)?;
    if end > buf.len() {
        return None;
    }
    Some(Tlv {
        tag,
        start: pos,
        content_start,
        end,
    })
}

/// For `SEQUENCE { a, b, c, ... }` at the start of `buf`, returns the elements a, b, c...
/// (up to `max` of them).
pub fn sequence_children(buf: &[u8], max: usize) -> Option<Vec<Tlv>> {
    let outer = read_tlv(buf, 0)?;
    if outer.tag != 0x30 {
        return None;
    }
    let mut out = Vec::new();
    let mut pos = outer.content_start;
    while pos < outer.end && out.len() < max {
        let t = read_tlv(buf, pos)?;
        if t.end > outer.end {
            return None;
        }
        pos = t.end;
        out.push(t);
    }
    Some(out)
}

/// The exact bytes of the first element of the outer SEQUENCE (the "to be signed" part of a
/// certificate, CRL or BasicOCSPResponse).
pub fn first_child(buf: &[u8]) -> Option<&[u8]> {
    let kids = sequence_children(buf, 1)?;
    kids.first().map(|t| t.whole(buf))
}

/// Strips a PEM armour if present (any label), else returns the input as is.
/// Returns `(label, der)`.
pub fn pem_or_der(input: &[u8]) -> Result<(Option<String>, Vec<u8>), der::Error> {
    let trimmed = trim_ascii(input);
    if trimmed.starts_with(b"-----BEGIN ") {
        return pem_lenient(trimmed)
            .map(|(l, d)| (Some(l), d))
            .ok_or_else(|| der::Error::from(der::ErrorKind::Failed));
    }
    Ok((None, input.to_vec()))
}

/// Decodes one PEM block: label from the BEGIN line, base64 body with any whitespace, header
/// lines (`Key: value`) skipped. Lenient on non-zero trailing bits, as OpenSSL is: a test
/// certificate with a flipped bit in its last base64 character is still that certificate.
fn pem_lenient(pem: &[u8]) -> Option<(String, Vec<u8>)> {
    use base64::Engine as _;
    let text = std::str::from_utf8(pem).ok()?;
    let first = text.lines().next()?;
    let label = first
        .strip_prefix("-----BEGIN ")?
        .strip_suffix("-----")?
        .trim()
        .to_string();
    let end_marker = format!("-----END {label}-----");
    let end = text.find(&end_marker)?;
    let body: String = text[first.len()..end]
        .lines()
        .filter(|l| !l.contains(':'))
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let der = engine.decode(body).ok()?;
    Some((label, der))
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_first_child_of_a_sequence() {
        let buf = [0x30, 0x06, 0x02, 0x01, 0x05, 0x04, 0x01, 0xaa];
        assert_eq!(first_child(&buf), Some(&[0x02, 0x01, 0x05][..]));
        let kids = sequence_children(&buf, 8).expect("sequence");
        assert_eq!(kids.len(), 2);
        assert_eq!(kids[1].content(&buf), &[0xaa]);
    }

    #[test]
    fn refuses_lengths_past_the_end() {
        assert_eq!(read_tlv(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff], 0), None);
        assert_eq!(read_tlv(&[0x30, 0x80, 0x00, 0x00], 0), None);
        assert_eq!(read_tlv(&[], 0), None);
    }
}
