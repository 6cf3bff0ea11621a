//! The facts the spf checker publishes per domain (key `spf`), as a type:
//! the checker serialises a [`SpfFacts`], the report reads it back.

use authwarden_api::serde_json::Value;
use serde::{Deserialize, Serialize};

use crate::eval::{LOOKUP_LIMIT, VOID_LIMIT};

/// The facts of the spf checker for one domain. Every field is serialised,
/// null (or empty) where unknown; a missing field reads back as its default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SpfFacts {
    /// `found`, `missing`, `multiple`, `invalid` or `incomplete`.
    pub status: Option<String>,
    /// The record as published.
    pub record: Option<String>,
    /// DNS-querying terms, counted through every include and redirect.
    pub dns_lookups: Option<u32>,
    /// Lookups that answered NXDOMAIN or no data.
    pub void_lookups: Option<u32>,
    /// The `all` the evaluation ends at, e.g. `~all`, or `none`.
    pub all: Option<String>,
    /// The `redirect` target.
    pub redirect: Option<String>,
    /// True when an `all` makes the `redirect` ignored.
    pub redirect_ignored: Option<bool>,
    /// The IPv4 ranges the record authorizes.
    pub ip4: Vec<String>,
    /// The IPv6 ranges the record authorizes.
    pub ip6: Vec<String>,
    /// The lookup tree, one node per DNS-querying term.
    pub tree: Vec<Value>,
}

impl SpfFacts {
    /// The facts of a domain without a usable record: `status` and, for an
    /// invalid one, the record as published.
    pub fn without_record(status: &str, record: Option<&str>) -> SpfFacts {
        SpfFacts {
            status: Some(status.to_string()),
            record: record.map(str::to_string),
            ..SpfFacts::default()
        }
    }

    /// `3 of 10 DNS lookups, 0 of 2 void lookups`: the counts against the
    /// limits of RFC 7208 section 4.6.4 ([`LOOKUP_LIMIT`], [`VOID_LIMIT`]);
    /// `None` when the record was not evaluated.
    pub fn lookups_text(&self) -> Option<String> {
        let n = self.dns_lookups?;
        let voids = self.void_lookups.unwrap_or(0);
        Some(format!(
            "{n} of {LOOKUP_LIMIT} DNS lookups, {voids} of {VOID_LIMIT} void lookups"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authwarden_api::serde_json::{self, json};

    #[test]
    fn the_layout_and_the_limits() {
        let f = SpfFacts::without_record("missing", None);
        assert_eq!(
            serde_json::to_value(&f).unwrap(),
            json!({
                "status": "missing", "record": null, "dns_lookups": null, "void_lookups": null,
                "all": null, "redirect": null, "redirect_ignored": null,
                "ip4": [], "ip6": [], "tree": [],
            })
        );
        assert_eq!(f.lookups_text(), None);
        let f = SpfFacts {
            dns_lookups: Some(3),
            void_lookups: Some(1),
            ..SpfFacts::default()
        };
        assert_eq!(
            f.lookups_text().unwrap(),
            "3 of 10 DNS lookups, 1 of 2 void lookups"
        );
    }
}
