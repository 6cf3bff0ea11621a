//! Domain name helpers: normalisation and the organizational domain.

pub use crate::dns::normalize_name;

/// The organizational domain of `name` (RFC 7489 section 3.2): the
/// registrable domain per the public suffix list, e.g. `mail.example.co.uk`
/// gives `example.co.uk`. A name that is itself a public suffix (or unknown)
/// is returned unchanged.
pub fn organizational_domain(name: &str) -> String {
    let name = normalize_name(name);
    match psl::domain_str(&name) {
        Some(d) => d.to_string(),
        None => name,
    }
}

/// True when `a` and `b` share an organizational domain (relaxed alignment).
pub fn relaxed_aligned(a: &str, b: &str) -> bool {
    organizational_domain(a) == organizational_domain(b)
}

/// Checks that `name` is a syntactically valid domain name: labels of 1 to
/// 63 letters, digits, hyphens or underscores, 253 characters at most.
pub fn validate_domain(name: &str) -> Result<(), String> {
    let name = name.trim_end_matches('.');
    if name.is_empty() {
        return Err("empty domain name".into());
    }
    if name.len() > 253 {
        return Err(format!(
            "domain name is {} characters, the limit is 253",
            name.len()
        ));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(format!("`{name}` has an empty label"));
        }
        if label.len() > 63 {
            return Err(format!("label `{label}` is longer than 63 characters"));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!("`{name}` contains the character `{c}`"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("label `{label}` starts or ends with a hyphen"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_domain() {
        assert_eq!(
            organizational_domain("mail.Example.co.uk."),
            "example.co.uk"
        );
        assert_eq!(organizational_domain("a.b.example.com"), "example.com");
        assert_eq!(organizational_domain("example.com"), "example.com");
        assert!(relaxed_aligned("bounce.example.com", "example.com"));
        assert!(!relaxed_aligned("example.net", "example.com"));
    }

    #[test]
    fn domain_syntax() {
        assert!(validate_domain("example.org").is_ok());
        assert!(validate_domain("exa mple.org").is_err());
        assert!(validate_domain("a..b").is_err());
        assert!(validate_domain("-a.b").is_err());
    }
}

/// One of `count` shards of a fleet: the domains whose stable hash falls to
/// it. `index` counts from 1 (`--shard 2/4`). The hash is FNV-1a (64 bits)
/// of the normalized name, fixed here so that every version of authwarden
/// and every machine puts a domain in the same shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    /// Which shard, 1 to `count`.
    pub index: u32,
    /// How many shards.
    pub count: u32,
}

impl Shard {
    /// Parses `I/N` with 1 ≤ I ≤ N.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}` is not a shard: write I/N, e.g. 2/4"))?;
        let index: u32 = i
            .trim()
            .parse()
            .map_err(|_| format!("`{i}` is not a shard number"))?;
        let count: u32 = n
            .trim()
            .parse()
            .map_err(|_| format!("`{n}` is not a shard count"))?;
        if count == 0 || index == 0 || index > count {
            return Err(format!(
                "shard {index}/{count}: the shard number runs from 1 to {count}"
            ));
        }
        Ok(Shard { index, count })
    }

    /// The shard (1 to `count`) that `domain` belongs to.
    pub fn of(domain: &str, count: u32) -> u32 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for b in crate::dns::normalize_name(domain).bytes() {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        (hash % u64::from(count.max(1))) as u32 + 1
    }

    /// Whether `domain` is in this shard.
    pub fn contains(&self, domain: &str) -> bool {
        Shard::of(domain, self.count) == self.index
    }

    /// `2-of-4`, for file names.
    pub fn file_stem(&self) -> String {
        format!("{}-of-{}", self.index, self.count)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod shard_tests {
    use super::Shard;

    #[test]
    fn shards_are_stable_and_cover_every_domain_once() {
        // Fixed values: a change of the hash would move domains between shards.
        assert_eq!(Shard::of("example.org", 4), Shard::of("EXAMPLE.org.", 4));
        assert_eq!(
            [
                "healthy.example",
                "monitoring.example",
                "rollout.example",
                "broken.example",
                "leaky.example"
            ]
            .map(|d| Shard::of(d, 4)),
            [SHARDS[0], SHARDS[1], SHARDS[2], SHARDS[3], SHARDS[4]]
        );
        for n in 1..6 {
            for d in ["a.example", "b.example", "c.example"] {
                let owners = (1..=n)
                    .filter(|i| {
                        Shard {
                            index: *i,
                            count: n,
                        }
                        .contains(d)
                    })
                    .count();
                assert_eq!(owners, 1);
            }
        }
        assert_eq!(Shard::parse("2/4"), Ok(Shard { index: 2, count: 4 }));
        assert!(Shard::parse("0/4").is_err());
        assert!(Shard::parse("5/4").is_err());
        assert!(Shard::parse("2").is_err());
    }

    const SHARDS: [u32; 5] = [3, 4, 3, 1, 2];
}
