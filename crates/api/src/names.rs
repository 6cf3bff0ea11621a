//! The one copy of the naming rules and the near-miss suggestion that the
//! config, the registry, external checkers, `explain` and record parsers
//! share, so that every "did you mean" behaves the same.

/// A kebab-case name: starts with a lower-case letter; lower-case ASCII
/// letters, digits and single hyphens; no trailing hyphen (`mta-sts`,
/// `dmarc-record-missing`). Checker ids and finding names follow it.
pub fn is_kebab_case(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase())
        && !s.ends_with('-')
        && !s.contains("--")
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// A finding code: two or more upper-case ASCII letters and three digits
/// (`SPF001`, `DMARC016`, `ENGINE001`).
pub fn is_code(s: &str) -> bool {
    let letters = s.chars().take_while(|c| c.is_ascii_uppercase()).count();
    let rest = &s[letters..];
    letters >= 2 && rest.len() == 3 && rest.chars().all(|c| c.is_ascii_digit())
}

/// The best near-miss for `word` among `candidates`: the closest by
/// case-insensitive edit distance (Damerau–Levenshtein) when it is at most
/// a third of the word's length (at least 1, at most 4). `None` when
/// nothing is that close: then a caller lists the candidates instead.
///
/// ```
/// use authwarden_api::names::did_you_mean;
/// assert_eq!(did_you_mean("inclde", ["include", "exists"]), Some("include"));
/// assert_eq!(did_you_mean("zzz", ["include"]), None);
/// ```
pub fn did_you_mean<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    near_miss(word, candidates, false)
}

/// [`did_you_mean`], and when nothing is close by edit distance, the one
/// candidate that the word (three characters or more) begins
/// (`google` for `google-workspace`): for ids that people shorten.
///
/// ```
/// use authwarden_api::names::did_you_mean_or_prefix;
/// assert_eq!(did_you_mean_or_prefix("google", ["google-workspace", "mailgun"]), Some("google-workspace"));
/// ```
pub fn did_you_mean_or_prefix<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    near_miss(word, candidates, true)
}

fn near_miss<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
    prefix: bool,
) -> Option<&'c str> {
    let word = word.trim().to_lowercase();
    if word.is_empty() {
        return None;
    }
    let limit = (word.chars().count() / 3).clamp(1, 4);
    let mut best: Option<(usize, &str)> = None;
    let mut prefixed: Vec<&str> = Vec::new();
    for candidate in candidates {
        let lower = candidate.to_lowercase();
        if lower == word {
            return Some(candidate);
        }
        let d = strsim::damerau_levenshtein(&word, &lower);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, candidate));
        }
        if prefix && word.chars().count() >= 3 && lower.starts_with(&word) {
            prefixed.push(candidate);
        }
    }
    best.map(|(_, c)| c)
        .or_else(|| (prefixed.len() == 1).then(|| prefixed[0]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kebab_and_codes() {
        for ok in ["spf", "mta-sts", "dmarc-record-missing", "x1"] {
            assert!(is_kebab_case(ok), "{ok}");
        }
        for bad in ["", "Mx", "mx_hosts", "-mx", "mx-", "mx--hosts", "1mx"] {
            assert!(!is_kebab_case(bad), "{bad:?}");
        }
        for ok in ["SPF001", "DMARC016", "ENGINE001"] {
            assert!(is_code(ok), "{ok}");
        }
        for bad in ["S001", "SPF01", "SPF0001", "spf001", "SPF00A", ""] {
            assert!(!is_code(bad), "{bad:?}");
        }
    }

    #[test]
    fn suggestions() {
        let keys = ["nameservers", "timeout", "retries", "zone_files"];
        assert_eq!(did_you_mean("timeuot", keys), Some("timeout"));
        assert_eq!(did_you_mean("NAMESERVER", keys), Some("nameservers"));
        assert_eq!(did_you_mean("zone", keys), None);
        assert_eq!(did_you_mean_or_prefix("zone", keys), Some("zone_files"));
        assert_eq!(did_you_mean("colour", keys), None);
        assert_eq!(
            did_you_mean("DMARC01", ["DMARC001", "SPF001"]),
            Some("DMARC001")
        );
        // Two candidates share the prefix: no guess.
        assert_eq!(
            did_you_mean_or_prefix("goo", ["google-a", "google-b"]),
            None
        );
    }
}
