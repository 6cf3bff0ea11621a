//! DMARC report mails built by hand for the ingest tests: base64, CRC-32,
//! gzip and zip with stored (uncompressed) data, which every reader must
//! accept, and a multipart message carrying one report attachment.
//!
//! Built here rather than with compression crates so that a test needs none;
//! tests that want real deflate data compress it themselves and pass the
//! bytes to [`mail`].

/// CRC-32 (IEEE), as gzip and zip store it.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// gzip with stored deflate blocks.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    let chunks: Vec<&[u8]> = bytes.chunks(65535).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        out.push(u8::from(i + 1 == chunks.len()));
        let len = chunk.len() as u16;
        out.extend(len.to_le_bytes());
        out.extend((!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend(crc32(bytes).to_le_bytes());
    out.extend((bytes.len() as u32).to_le_bytes());
    out
}

/// A zip archive with one stored member called `name`.
pub fn zip(name: &str, bytes: &[u8]) -> Vec<u8> {
    let (crc, size, name_len) = (crc32(bytes), bytes.len() as u32, name.len() as u16);
    let mut out = Vec::new();
    out.extend(0x0403_4b50u32.to_le_bytes());
    out.extend([20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]); // version, flags, stored, time, date
    out.extend(crc.to_le_bytes());
    out.extend(size.to_le_bytes());
    out.extend(size.to_le_bytes());
    out.extend(name_len.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out.extend(name.as_bytes());
    out.extend_from_slice(bytes);
    let central = out.len() as u32;
    out.extend(0x0201_4b50u32.to_le_bytes());
    // The central header has one field more than the local one (made by).
    out.extend([20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]); // made by, needed, flags, stored, time, date
    out.extend(crc.to_le_bytes());
    out.extend(size.to_le_bytes());
    out.extend(size.to_le_bytes());
    out.extend(name_len.to_le_bytes());
    out.extend([0u8; 12]); // extra, comment, disk, internal and external attributes
    out.extend(0u32.to_le_bytes()); // offset of the local header
    out.extend(name.as_bytes());
    let central_len = out.len() as u32 - central;
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend([0, 0, 0, 0, 1, 0, 1, 0]);
    out.extend(central_len.to_le_bytes());
    out.extend(central.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

/// Base64 in lines of 76 characters, separated by CRLF.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for (i, chunk) in bytes.chunks(3).enumerate() {
        if i > 0 && i % 19 == 0 {
            out.push_str("\r\n");
        }
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (j, &b)| n | (u32::from(b) << (16 - 8 * j)));
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * k)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A report mail with one attachment, base64-encoded.
pub fn mail(subject: &str, content_type: &str, filename: &str, attachment: &[u8]) -> Vec<u8> {
    multipart(
        subject,
        content_type,
        filename,
        "base64",
        &base64(attachment),
    )
}

/// A report mail with one text attachment sent as is (`7bit`), its lines
/// ended with CRLF.
pub fn mail_7bit(subject: &str, content_type: &str, filename: &str, text: &str) -> Vec<u8> {
    let body = text.trim_end().replace("\r\n", "\n").replace('\n', "\r\n");
    multipart(subject, content_type, filename, "7bit", &body)
}

fn multipart(
    subject: &str,
    content_type: &str,
    filename: &str,
    encoding: &str,
    body: &str,
) -> Vec<u8> {
    format!(
        "From: noreply-dmarc@reporter.example\r\n\
         To: dmarc@example.com\r\n\
         Subject: {subject}\r\n\
         Date: Tue, 2 Jan 2024 00:00:00 +0000\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
         \r\n\
         --b1\r\n\
         Content-Type: text/plain\r\n\
         \r\n\
         This is an aggregate report.\r\n\
         --b1\r\n\
         Content-Type: {content_type}; name=\"{filename}\"\r\n\
         Content-Disposition: attachment; filename=\"{filename}\"\r\n\
         Content-Transfer-Encoding: {encoding}\r\n\
         \r\n\
         {body}\r\n\
         --b1--\r\n"
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_known_values_and_wraps_lines() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        let long = base64(&[0u8; 60]);
        let lines: Vec<&str> = long.split("\r\n").collect();
        assert_eq!(lines.iter().map(|l| l.len()).collect::<Vec<_>>(), [76, 4]);
    }

    #[test]
    fn crc32_matches_the_check_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn gzip_stores_blocks_with_trailer() {
        let data = vec![7u8; 70_000];
        let gz = gzip(&data);
        assert_eq!(&gz[..3], [0x1f, 0x8b, 8]);
        // Two stored blocks (5 header bytes each), 10 header and 8 trailer bytes.
        assert_eq!(gz.len(), data.len() + 10 + 2 * 5 + 8);
        assert_eq!(gz[10], 0, "first block is not the last");
        assert_eq!(gz[10 + 5 + 65535], 1, "second block is the last");
        let n = gz.len();
        assert_eq!(gz[n - 8..n - 4], crc32(&data).to_le_bytes());
        assert_eq!(gz[n - 4..], (data.len() as u32).to_le_bytes());
    }

    #[test]
    fn zip_headers_are_where_their_offsets_say() {
        let z = zip("r.xml", b"<feedback/>");
        let u32_at = |at: usize| u32::from_le_bytes(z[at..at + 4].try_into().unwrap());
        let u16_at = |at: usize| u16::from_le_bytes(z[at..at + 2].try_into().unwrap());
        let end = z.len() - 22;
        assert_eq!(u32_at(end), 0x0605_4b50);
        let (central_len, central) = (u32_at(end + 12) as usize, u32_at(end + 16) as usize);
        assert_eq!(central + central_len, end);
        assert_eq!(u32_at(central), 0x0201_4b50);
        assert_eq!(u16_at(central + 10), 0, "stored");
        assert_eq!(u32_at(central + 16), crc32(b"<feedback/>"));
        assert_eq!(u16_at(central + 28), 5, "name length");
        assert_eq!(&z[central + 46..central + 51], b"r.xml");
        assert_eq!(u32_at(central + 42), 0, "local header offset");
        assert_eq!(u32_at(0), 0x0403_4b50);
        assert_eq!(&z[30..35], b"r.xml");
        assert_eq!(&z[35..46], b"<feedback/>");
    }

    #[test]
    fn mail_carries_the_attachment() {
        let m = String::from_utf8(mail("s", "text/xml", "r.xml", b"foo")).unwrap();
        assert!(m.contains("Subject: s\r\n"), "{m}");
        assert!(
            m.contains("Content-Type: text/xml; name=\"r.xml\"\r\n"),
            "{m}"
        );
        assert!(m.contains("Content-Transfer-Encoding: base64\r\n\r\nZm9v\r\n--b1--\r\n"));
        let m = String::from_utf8(mail_7bit("s", "text/xml", "r.xml", "<a>\n<b/>\n")).unwrap();
        assert!(m.contains("Content-Transfer-Encoding: 7bit\r\n\r\n<a>\r\n<b/>\r\n--b1--\r\n"));
    }
}
