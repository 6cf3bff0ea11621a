//! Exact key strength: `p=` decoded from base64 and read as DER.
//!
//! The modulus length is read from the key itself, never estimated from the
//! length of the base64 text (a 2047-bit key and a 2048-bit key encode to the
//! same length). A DER reader of a few dozen lines is enough for the two
//! structures DKIM keys come in, so the crate needs no ASN.1 dependency.

use std::fmt;

use base64::Engine as _;

use crate::record::KeyType;

/// How the key was encoded in `p=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFormat {
    /// A DER SubjectPublicKeyInfo (what RFC 6376 prescribes for RSA).
    Spki,
    /// A bare PKCS#1 RSAPublicKey, which some signers publish and most
    /// verifiers accept.
    RsaPublicKey,
    /// The raw 32 bytes of an ed25519 key (RFC 8463).
    Raw,
}

impl KeyFormat {
    /// A short name for facts and evidence.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyFormat::Spki => "spki",
            KeyFormat::RsaPublicKey => "rsa-public-key",
            KeyFormat::Raw => "raw",
        }
    }
}

/// What a decoded key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key's algorithm.
    pub key_type: KeyType,
    /// The exact size: the RSA modulus length in bits, 256 for ed25519.
    pub bits: u32,
    /// The encoding found.
    pub format: KeyFormat,
}

/// Why a key cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError(pub String);

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KeyError {}

fn fail<T>(reason: impl Into<String>) -> Result<T, KeyError> {
    Err(KeyError(reason.into()))
}

/// The DER encoding of the rsaEncryption OID 1.2.840.113549.1.1.1.
const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// The DER encoding of the id-Ed25519 OID 1.3.101.112.
const ED25519: &[u8] = &[0x2b, 0x65, 0x70];

const TAG_INTEGER: u8 = 0x02;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_OID: u8 = 0x06;
const TAG_SEQUENCE: u8 = 0x30;

/// Reads one DER element: returns its tag, its content and what follows.
fn tlv(input: &[u8]) -> Result<(u8, &[u8], &[u8]), KeyError> {
    let [tag, first, rest @ ..] = input else {
        return fail("DER data ends inside an element header");
    };
    let (len, rest) = if first & 0x80 == 0 {
        (usize::from(*first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return fail("DER length is indefinite or out of range");
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return fail(format!(
            "DER element claims {len} bytes but only {} remain (truncated key?)",
            rest.len()
        ));
    }
    Ok((*tag, &rest[..len], &rest[len..]))
}

fn expect<'a>(input: &'a [u8], want: u8, what: &str) -> Result<(&'a [u8], &'a [u8]), KeyError> {
    let (tag, content, rest) = tlv(input)?;
    if tag != want {
        return fail(format!(
            "expected {what} (tag 0x{want:02x}), found tag 0x{tag:02x}"
        ));
    }
    Ok((content, rest))
}

/// The bit length of a DER INTEGER's (unsigned) value.
fn integer_bits(content: &[u8]) -> u32 {
    let significant: &[u8] = match content.iter().position(|b| *b != 0) {
        Some(i) => &content[i..],
        None => return 0,
    };
    (significant.len() as u32 - 1) * 8 + (8 - significant[0].leading_zeros())
}

/// Reads an RSAPublicKey (RFC 8017 A.1.1) and returns the modulus bits.
fn rsa_public_key(der: &[u8]) -> Result<u32, KeyError> {
    let (seq, trailing) = expect(der, TAG_SEQUENCE, "an RSAPublicKey SEQUENCE")?;
    if !trailing.is_empty() {
        return fail("extra bytes after the RSAPublicKey");
    }
    let (modulus, rest) = expect(seq, TAG_INTEGER, "the modulus INTEGER")?;
    let (exponent, _) = expect(rest, TAG_INTEGER, "the public exponent INTEGER")?;
    if modulus.first().is_some_and(|b| b & 0x80 != 0) {
        return fail("the modulus is negative");
    }
    if integer_bits(exponent) == 0 {
        return fail("the public exponent is zero");
    }
    Ok(integer_bits(modulus))
}

/// Decodes the base64 of `p=` (whitespace already removed).
pub fn decode_base64(p: &str) -> Result<Vec<u8>, KeyError> {
    base64::engine::general_purpose::STANDARD
        .decode(p)
        .map_err(|e| {
            let e = e.to_string();
            KeyError(format!(
                "`p=` is not valid base64: {}",
                e.trim_end_matches('.').to_lowercase()
            ))
        })
}

/// Decodes `p=` for key type `k` and measures the key.
///
/// ```
/// use authwarden_checker_dkim::key::analyze;
/// use authwarden_checker_dkim::record::KeyType;
/// let ed = analyze(KeyType::Ed25519, "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=").unwrap();
/// assert_eq!(ed.bits, 256);
/// assert!(analyze(KeyType::Rsa, "not base64!").is_err());
/// ```
pub fn analyze(k: KeyType, p: &str) -> Result<KeyInfo, KeyError> {
    let der = decode_base64(p)?;
    analyze_der(k, &der)
}

/// Measures a decoded key for key type `k`.
pub fn analyze_der(k: KeyType, der: &[u8]) -> Result<KeyInfo, KeyError> {
    if k == KeyType::Ed25519 && der.len() == 32 {
        return Ok(KeyInfo {
            key_type: KeyType::Ed25519,
            bits: 256,
            format: KeyFormat::Raw,
        });
    }
    let (outer, trailing) = expect(der, TAG_SEQUENCE, "a DER SEQUENCE")?;
    if !trailing.is_empty() {
        return fail("extra bytes after the key");
    }
    let (first_tag, _, _) = tlv(outer)?;
    if first_tag == TAG_INTEGER {
        // A bare RSAPublicKey: SEQUENCE { modulus, exponent }.
        if k != KeyType::Rsa {
            return fail(format!("`k={}` but the key is a bare RSA key", k.as_str()));
        }
        return Ok(KeyInfo {
            key_type: KeyType::Rsa,
            bits: rsa_public_key(der)?,
            format: KeyFormat::RsaPublicKey,
        });
    }
    // SubjectPublicKeyInfo: SEQUENCE { AlgorithmIdentifier, BIT STRING }.
    let (algorithm, rest) = expect(outer, TAG_SEQUENCE, "an AlgorithmIdentifier SEQUENCE")?;
    let (oid, _params) = expect(algorithm, TAG_OID, "the algorithm OID")?;
    let (bits, _) = expect(rest, TAG_BIT_STRING, "the subjectPublicKey BIT STRING")?;
    let [0, key @ ..] = bits else {
        return fail("the subjectPublicKey BIT STRING is empty or has unused bits");
    };
    let (found, size) = if oid == RSA_ENCRYPTION {
        (KeyType::Rsa, rsa_public_key(key)?)
    } else if oid == ED25519 {
        if key.len() != 32 {
            return fail(format!(
                "an ed25519 key is 32 bytes, this one {}",
                key.len()
            ));
        }
        (KeyType::Ed25519, 256)
    } else {
        return fail(format!(
            "unsupported key algorithm (OID bytes {})",
            hex(oid)
        ));
    };
    if found != k {
        return fail(format!(
            "`k={}` but the key is {}",
            k.as_str(),
            found.as_str()
        ));
    }
    Ok(KeyInfo {
        key_type: found,
        bits: size,
        format: KeyFormat::Spki,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_bit_lengths() {
        assert_eq!(integer_bits(&[0x00, 0x80]), 8);
        assert_eq!(integer_bits(&[0x01, 0x00]), 9);
        assert_eq!(integer_bits(&[0x7f]), 7);
        assert_eq!(integer_bits(&[0x00]), 0);
    }

    #[test]
    fn hand_built_keys() {
        // RSAPublicKey { n = 0x00c5 (8 bits), e = 3 }.
        let bare = [0x30, 0x07, 0x02, 0x02, 0x00, 0xc5, 0x02, 0x01, 0x03];
        let info = analyze_der(KeyType::Rsa, &bare).unwrap();
        assert_eq!((info.bits, info.format), (8, KeyFormat::RsaPublicKey));
        // Truncated.
        assert!(analyze_der(KeyType::Rsa, &bare[..6]).is_err());
        // Wrong k=.
        assert!(analyze_der(KeyType::Ed25519, &bare).is_err());
        // Raw ed25519 of the wrong length.
        assert!(analyze_der(KeyType::Ed25519, &[0u8; 31]).is_err());
        // Long-form lengths.
        let mut long = vec![0x30, 0x81, 0x07];
        long.extend_from_slice(&bare[2..]);
        assert_eq!(analyze_der(KeyType::Rsa, &long).unwrap().bits, 8);
    }
}
