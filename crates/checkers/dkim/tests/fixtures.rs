//! Fixture tests: findings and facts of each `tests/fixtures/*.zone`,
//! snapshotted in `tests/snapshots`; exact key sizes; the conventions of
//! STYLE.md over every finding; every code shown by a fixture.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use authwarden_checker_dkim::CODES;
use authwarden_test_support::fixture::{
    assert_every_code_seen, assert_finding_conventions, fixture_names,
};
use common::{run, selector_facts, snapshot_value};

macro_rules! fixtures {
    ($($test:ident => $file:literal,)+) => {
        $(
            #[tokio::test]
            async fn $test() {
                let fixture = run($file).await;
                insta::assert_json_snapshot!($file, snapshot_value(&fixture));
            }
        )+
        const FIXTURES: &[&str] = &[$($file),+];
    };
}

fixtures! {
    healthy => "healthy",
    rsa_512 => "rsa-512",
    rsa_1024 => "rsa-1024",
    rsa_2047 => "rsa-2047",
    rsa_4096 => "rsa-4096",
    bare_rsapublickey => "bare-rsapublickey",
    ed25519_spki => "ed25519-spki",
    ed25519_as_rsa => "ed25519-as-rsa",
    cname_provider => "cname-provider",
    garbage_base64 => "garbage-base64",
    truncated_key => "truncated-key",
    revoked => "revoked",
    revoked_observed => "revoked-observed",
    testing => "testing",
    sha1_only => "sha1-only",
    malformed => "malformed",
    multiple_records => "multiple-records",
    selector_missing => "selector-missing",
    no_key => "no-key",
    no_key_no_mail => "no-key-no-mail",
    servfail => "servfail",
    date_coded => "date-coded",
    config_invalid => "config-invalid",
    testing_sha1 => "testing-sha1",
}

#[test]
fn every_fixture_file_has_a_test() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let listed: BTreeSet<String> = FIXTURES.iter().map(|s| s.to_string()).collect();
    assert_eq!(fixture_names(&dir), listed);
}

/// Key sizes come from the key, exactly (the snapshots show them too).
#[tokio::test]
async fn key_bits_are_exact() {
    for (fixture, selector, key_type, bits, format) in [
        ("rsa-512", "k1", "rsa", 512, "spki"),
        ("rsa-1024", "google", "rsa", 1024, "spki"),
        ("rsa-2047", "s1", "rsa", 2047, "spki"),
        ("healthy", "corp", "rsa", 2048, "spki"),
        ("rsa-4096", "s2", "rsa", 4096, "spki"),
        ("bare-rsapublickey", "legacy", "rsa", 2048, "rsa-public-key"),
        ("healthy", "google", "ed25519", 256, "raw"),
        ("ed25519-spki", "default", "ed25519", 256, "spki"),
    ] {
        let f = run(fixture).await;
        let facts = selector_facts(&f, selector);
        assert_eq!(facts["key_type"], key_type, "{fixture}: {facts:#}");
        assert_eq!(facts["key_bits"], bits, "{fixture}: {facts:#}");
        assert_eq!(facts["key_format"], format, "{fixture}: {facts:#}");
        assert_eq!(facts["status"], "valid", "{fixture}: {facts:#}");
    }
}

#[tokio::test]
async fn cname_target_and_provider() {
    let f = run("cname-provider").await;
    let facts = selector_facts(&f, "s1");
    assert_eq!(facts["cname_target"], "k2026.dkim.sendgrid.net");
    assert_eq!(facts["managed_by"], "SendGrid");
    assert_eq!(facts["key_bits"], 1024);
}

/// The JSON contract of the issue: an array, each entry with these keys.
#[tokio::test]
async fn facts_follow_the_contract() {
    for name in FIXTURES {
        let f = run(name).await;
        let facts = f.output.facts.as_ref().expect("facts are always set");
        let list = facts
            .as_array()
            .unwrap_or_else(|| panic!("{name}: not an array"));
        for entry in list {
            for key in [
                "selector",
                "found",
                "key_type",
                "key_bits",
                "cname_target",
                "revoked",
                "testing",
                "first_seen",
                "key_age_days",
                "next_rotation",
            ] {
                assert!(
                    entry.get(key).is_some(),
                    "{name}: {key} missing in {entry:#}"
                );
            }
        }
    }
}

/// Meta-test over every fixture's findings: the conventions of STYLE.md, and
/// every declared code shown by a fixture (DKIM013, the rotation, comes from
/// the age test, which runs several times over one history).
#[tokio::test]
async fn conventions_hold_and_every_code_is_exercised() {
    let mut seen = BTreeSet::new();
    for name in FIXTURES {
        let fixture = run(name).await;
        assert_finding_conventions(
            name,
            "dkim",
            &fixture.domain,
            CODES,
            &fixture.output.findings,
            &mut seen,
        );
    }
    seen.insert("DKIM013".into());
    assert_every_code_seen(CODES, &seen);
}

/// Every finding but an incomplete check (DKIM012) and a rotation seen
/// (DKIM013, nothing to do) has a proposal resolving it; a record edit is
/// of a selector in the domain's own DNS and replaces the record found.
#[tokio::test]
async fn every_finding_has_a_proposal() {
    use authwarden_api::plan::{Change, FindingRef};
    for name in FIXTURES {
        let fixture = run(name).await;
        let out = &fixture.output;
        for f in &out.findings {
            if f.code == "DKIM012" || f.code == "DKIM013" {
                continue;
            }
            assert!(
                out.proposals
                    .iter()
                    .any(|p| p.resolves.contains(&FindingRef::to(f))),
                "{name}: nothing resolves {} {}",
                f.code,
                f.subject
            );
        }
        for p in &out.proposals {
            let own = format!("._domainkey.{}", fixture.domain);
            match &p.change {
                Change::Outside { .. } => {}
                Change::RemoveTxt { name: at, value } => {
                    assert!(at.ends_with(&own) && value.is_some(), "{name}: {p:?}");
                }
                Change::PublishTxt { name: at, .. } => {
                    assert!(at.ends_with(&own), "{name}: {p:?}");
                }
                other => panic!("{name}: unexpected {other:?}"),
            }
        }
    }
}

/// t=y and h=sha1 on one record: one replacement resolving both findings.
#[tokio::test]
async fn testing_and_sha1_are_one_replacement() {
    use authwarden_api::plan::Change;
    let fixture = run("testing-sha1").await;
    let published: Vec<(&str, Vec<&str>)> = fixture
        .output
        .proposals
        .iter()
        .filter_map(|p| match &p.change {
            Change::PublishTxt { value, .. } => Some((
                value.as_str(),
                p.resolves.iter().map(|r| r.code.as_str()).collect(),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(published.len(), 1, "{:#?}", fixture.output.proposals);
    let (value, codes) = &published[0];
    assert!(value.starts_with("v=DKIM1; k=rsa; t=s; p=MIIB"), "{value}");
    assert_eq!(codes, &["DKIM007", "DKIM008"]);
}
