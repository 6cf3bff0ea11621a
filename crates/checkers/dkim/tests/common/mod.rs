//! The fixture runner shared by the test files.
//!
//! Each `tests/fixtures/*.zone` is a DNS zone the checker runs against (at
//! 2026-11-01, without a history folder unless a test gives one). Comment
//! lines steer the run: `; check: <domain>` (default: the first `$ORIGIN`),
//! `; fail: <name> <TYPE> servfail|timeout|refused`, `; selectors: a b`
//! (`[domains.dkim] selectors`), `; observed: a b` (selectors seen in
//! aggregate reports) and `; config: <json>` (`[checkers.dkim]`).
//!
//! The keys in the fixtures were generated once with the openssl CLI and
//! pasted into the zones (split into 255-byte strings):
//! `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:N` for N = 512,
//! 1024, 2047, 2048, 4096, then `openssl pkey -pubout -outform DER`
//! (SubjectPublicKeyInfo) or `openssl rsa -RSAPublicKey_out -outform DER`
//! (bare RSAPublicKey), base64-encoded; `openssl genpkey -algorithm ed25519`
//! for ed25519 (the raw key is the last 32 bytes of its DER public key).
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use authwarden_api::serde_json::{json, Value};
use authwarden_api::{CheckContext, CheckOutput, Checker, DomainTarget, FixedClock, RunPaths};
use authwarden_checker_dkim::{Dkim, ObservedSelectors, ObservedSelectorsExt};
use authwarden_test_support::fixture::Fixture as Zone;
use chrono::{DateTime, TimeZone, Utc};

pub struct Fixture {
    pub domain: String,
    pub output: CheckOutput,
}

pub fn default_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 6, 0, 0).unwrap()
}

struct Observed(Vec<String>);

impl ObservedSelectors for Observed {
    fn selectors(&self, _domain: &str) -> Vec<String> {
        self.0.clone()
    }
}

/// Runs the checker over zone text with its directives.
pub async fn run_text(
    name: &str,
    text: &str,
    now: DateTime<Utc>,
    data_dir: Option<&Path>,
) -> Fixture {
    let zone = Zone::from_text(name, text);
    let mut settings = json!({});
    let mut config = json!({});
    let mut observed = None;
    let words = |s: &str| -> Vec<String> { s.split_whitespace().map(str::to_string).collect() };
    for line in text.lines() {
        if let Some(s) = line.strip_prefix("; selectors:") {
            settings = json!({"dkim": {"selectors": words(s)}});
        } else if let Some(s) = line.strip_prefix("; observed:") {
            observed = Some(words(s));
        } else if let Some(s) = line.strip_prefix("; config:") {
            config = authwarden_api::serde_json::from_str(s.trim()).unwrap();
        }
    }
    let (domain, resolver) = (zone.domain, zone.resolver);
    let mut ctx =
        CheckContext::new(Arc::new(resolver), Arc::new(FixedClock(now))).with_config(config);
    if let Some(list) = observed {
        ctx.extensions
            .insert(Arc::new(ObservedSelectorsExt(Arc::new(Observed(list)))));
    }
    if let Some(dir) = data_dir {
        ctx.extensions
            .insert(Arc::new(RunPaths::new(dir.to_path_buf())));
    }
    let mut target = DomainTarget::new(&domain);
    target.settings = settings;
    let output = Dkim.check(&ctx, &target).await;
    Fixture { domain, output }
}

pub fn fixture_text(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.zone"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub async fn run(name: &str) -> Fixture {
    run_text(name, &fixture_text(name), default_now(), None).await
}

pub fn snapshot_value(fixture: &Fixture) -> Value {
    json!({
        "domain": fixture.domain,
        "findings": fixture.output.findings,
        "facts": fixture.output.facts,
        "proposals": fixture.output.proposals,
    })
}

/// The facts entry of one selector.
pub fn selector_facts<'a>(fixture: &'a Fixture, selector: &str) -> &'a Value {
    fixture
        .output
        .facts
        .as_ref()
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["selector"] == selector)
        .unwrap_or_else(|| panic!("no facts for {selector}: {:#?}", fixture.output.facts))
}
