//! Shared helpers: a small fake set of checkers and codes.

#![allow(dead_code)]

use std::path::Path;

use authwarden_api::Cadence;
use authwarden_config::{Config, ConfigErrors, Known, KnownChecker};

pub fn known() -> Known {
    let checker = |id: &str, cadences: &[Cadence]| KnownChecker {
        id: id.to_string(),
        cadences: cadences.to_vec(),
    };
    Known {
        checkers: vec![
            checker("dmarc-policy", &[Cadence::Monthly, Cadence::Annual]),
            checker("spf-lookups", &[Cadence::Monthly, Cadence::Quarterly]),
            checker("dkim-selectors", &[Cadence::Quarterly]),
        ],
        codes: [
            ("DMARC001", "dmarc-record-missing"),
            ("DMARC003", "dmarc-policy-none"),
            ("DMARC004", "dmarc-no-rua"),
            ("SPF001", "spf-lookup-limit-exceeded"),
        ]
        .iter()
        .map(|(c, n)| (c.to_string(), n.to_string()))
        .collect(),
        ..Known::default()
    }
}

/// Parses `text` as `config/t.toml`.
pub fn parse(text: &str) -> Result<Config, ConfigErrors> {
    authwarden_config::parse(text, Path::new("config/t.toml"), &known())
}

/// Parses `text`, which must be valid.
pub fn ok(text: &str) -> Config {
    match parse(text) {
        Ok(c) => c,
        Err(e) => panic!("expected a valid config, got:\n{e}"),
    }
}

/// Parses `text`, which must be invalid, and prints the errors.
pub fn errors(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// Parses `text`, which must have exactly one error, and prints it.
pub fn one_error(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => {
            assert_eq!(e.len(), 1, "expected one error, got:\n{e}");
            e.to_string()
        }
    }
}
