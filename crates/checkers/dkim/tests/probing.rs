//! Which selectors a check probes: those with evidence at every run (config,
//! reports, key history, and the providers the domain's SPF record and
//! inventory name), the whole catalog only in the quarterly and annual jobs,
//! with `probe_catalog = true` (what `check --probe-catalog` sets), or
//! where no selector with evidence has a key.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use authwarden_api::serde_json::{json, Value};
use authwarden_api::{
    async_trait, Cadence, CheckContext, CheckOutput, Checker, DnsAnswer, DomainTarget, FixedClock,
    RecordType, Resolver, RunPaths,
};
use authwarden_checker_dkim::selectors::default_catalog;
use authwarden_checker_dkim::Dkim;
use authwarden_zone::ZoneResolver;
use chrono::{TimeZone, Utc};

/// An ed25519 public key (any valid key will do).
const KEY: &str = "v=DKIM1; k=ed25519; p=OPrBOFjXnC7cccyBPjVXc/oku0qgsaPZK/eMng5poUI=";

/// A zone resolver that counts the key lookups.
struct Counting {
    zone: ZoneResolver,
    probes: AtomicUsize,
}

#[async_trait]
impl Resolver for Counting {
    async fn query(&self, name: &str, rtype: RecordType) -> DnsAnswer {
        if name.contains("._domainkey.") {
            self.probes.fetch_add(1, Ordering::SeqCst);
        }
        self.zone.query(name, rtype).await
    }
}

/// Checks example.org over `records` (zone lines after `$ORIGIN`): the
/// output and how many key lookups it made.
async fn check(
    records: &str,
    job: Option<Cadence>,
    config: Value,
    settings: Value,
) -> (CheckOutput, usize) {
    let text = format!("$ORIGIN example.org.\n@ MX 10 mail\nmail A 192.0.2.25\n{records}");
    let resolver = Arc::new(Counting {
        zone: ZoneResolver::from_str(&text).unwrap(),
        probes: AtomicUsize::new(0),
    });
    let now = Utc.with_ymd_and_hms(2026, 11, 1, 6, 0, 0).unwrap();
    let mut ctx =
        CheckContext::new(resolver.clone(), Arc::new(FixedClock(now))).with_config(config);
    ctx.job = job;
    let mut target = DomainTarget::new("example.org");
    target.settings = settings;
    let out = Dkim.check(&ctx, &target).await;
    (out, resolver.probes.load(Ordering::SeqCst))
}

/// The selectors in the facts, with their sources.
fn found(out: &CheckOutput) -> Vec<(String, Vec<String>)> {
    out.facts
        .as_ref()
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|f| f["found"] == true)
        .map(|f| {
            let sources = f["sources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect();
            (f["selector"].as_str().unwrap().to_string(), sources)
        })
        .collect()
}

fn codes(out: &CheckOutput) -> Vec<&str> {
    out.findings.iter().map(|f| f.code.as_str()).collect()
}

/// The selectors of the providers the SPF record includes are probed, and
/// nothing else: 5 lookups (Google's one, SendGrid's three and `corp`
/// from config) instead of the whole catalog.
#[tokio::test]
async fn the_spf_record_names_the_selectors_to_probe() {
    let zone = format!(
        "@ TXT \"v=spf1 include:_spf.google.com include:sendgrid.net -all\"\n\
         google._domainkey TXT \"{KEY}\"\ns1._domainkey TXT \"{KEY}\"\ncorp._domainkey TXT \"{KEY}\"\n"
    );
    let settings = json!({"dkim": {"selectors": ["corp"]}});
    let (out, probes) = check(&zone, None, json!({}), settings.clone()).await;
    assert_eq!(
        found(&out),
        [
            ("corp".to_string(), vec!["config".to_string()]),
            ("google".to_string(), vec!["provider".to_string()]),
            ("s1".to_string(), vec!["provider".to_string()]),
        ]
    );
    assert!(codes(&out).is_empty(), "{:#?}", out.findings);
    assert_eq!(probes, 5);
    // The monthly job probes the same; the quarterly one the whole catalog.
    let (monthly, probes) = check(&zone, Some(Cadence::Monthly), json!({}), settings.clone()).await;
    assert_eq!(found(&monthly), found(&out));
    assert_eq!(probes, 5);
    let (_, probes) = check(&zone, Some(Cadence::Quarterly), json!({}), settings).await;
    assert!(probes >= default_catalog().len(), "{probes}");
}

/// The inventory names a provider: its selectors are probed.
#[tokio::test]
async fn the_inventory_names_the_selectors_to_probe() {
    let zone = format!(
        "@ TXT \"v=spf1 mx -all\"\nk1._domainkey TXT \"{KEY}\"\nown._domainkey TXT \"{KEY}\"\n"
    );
    let settings = json!({
        "dkim": {"selectors": ["own"]},
        "inventory": {"senders": [{"provider": "mailchimp"}]}
    });
    let (out, probes) = check(&zone, None, json!({}), settings).await;
    let selectors: Vec<String> = found(&out).into_iter().map(|(s, _)| s).collect();
    assert_eq!(selectors, ["own", "k1"]);
    // own, and Mailchimp's k1, k2, k3 and mandrill.
    assert_eq!(probes, 5);
}

/// A key only the catalog knows (no evidence names it) is left for the
/// scheduled catalog probe when another selector has a key, and found by
/// the quarterly job or with `probe_catalog = true`.
#[tokio::test]
async fn a_catalog_only_key_waits_for_the_scheduled_probe() {
    let zone = format!(
        "@ TXT \"v=spf1 mx -all\"\ncorp._domainkey TXT \"{KEY}\"\ns2._domainkey TXT \"{KEY}\"\n"
    );
    let settings = json!({"dkim": {"selectors": ["corp"]}});
    let names =
        |out: &CheckOutput| -> Vec<String> { found(out).into_iter().map(|(s, _)| s).collect() };
    let (out, probes) = check(&zone, None, json!({}), settings.clone()).await;
    assert_eq!(names(&out), ["corp"]);
    assert_eq!(probes, 1);
    let (out, _) = check(&zone, Some(Cadence::Quarterly), json!({}), settings.clone()).await;
    assert_eq!(names(&out), ["corp", "s2"]);
    let (out, _) = check(&zone, Some(Cadence::Annual), json!({}), settings.clone()).await;
    assert_eq!(names(&out), ["corp", "s2"]);
    let (out, _) = check(
        &zone,
        None,
        json!({"probe_catalog": true}),
        settings.clone(),
    )
    .await;
    assert_eq!(names(&out), ["corp", "s2"]);
    // Never, not even in the quarterly job.
    let (out, probes) = check(
        &zone,
        Some(Cadence::Quarterly),
        json!({"probe_catalog": false}),
        settings,
    )
    .await;
    assert_eq!(names(&out), ["corp"]);
    assert_eq!(probes, 1);
}

/// No selector with evidence has a key: the catalog is probed at once, so a
/// domain that signs with a common selector is not reported as unsigned.
#[tokio::test]
async fn without_a_key_the_catalog_is_probed_at_once() {
    let zone = format!("@ TXT \"v=spf1 mx -all\"\ndefault._domainkey TXT \"{KEY}\"\n");
    let (out, probes) = check(&zone, None, json!({}), json!({})).await;
    assert_eq!(
        found(&out),
        [("default".to_string(), vec!["catalog".to_string()])]
    );
    assert!(!codes(&out).contains(&"DKIM001"), "{:#?}", out.findings);
    assert!(probes >= default_catalog().len(), "{probes}");

    // With the catalog probe off, nothing is found and the domain is
    // reported as sending mail without a key.
    let (out, probes) = check(&zone, None, json!({"probe_catalog": false}), json!({})).await;
    assert!(found(&out).is_empty());
    assert_eq!(probes, 0);
    assert!(codes(&out).contains(&"DKIM001"), "{:#?}", out.findings);
}

/// A read-only run (an ad-hoc check, the plan's verification) reads the key
/// history and writes nothing: no history file and no lock file.
#[tokio::test]
async fn a_read_only_run_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "$ORIGIN example.org.\n@ MX 10 mail\nmail A 192.0.2.25\n@ TXT \"v=spf1 include:_spf.google.com -all\"\ngoogle._domainkey TXT \"{KEY}\"\n"
    );
    let resolver = Arc::new(ZoneResolver::from_str(&text).unwrap());
    let now = Utc.with_ymd_and_hms(2026, 11, 1, 6, 0, 0).unwrap();
    let mut ctx = CheckContext::new(resolver, Arc::new(FixedClock(now)));
    ctx.extensions
        .insert(Arc::new(RunPaths::read_only(dir.path().to_path_buf())));
    let out = Dkim.check(&ctx, &DomainTarget::new("example.org")).await;
    assert_eq!(found(&out).len(), 1);
    let written: Vec<_> = walk(dir.path());
    assert!(written.is_empty(), "{written:?}");

    // A job records the key (and may lock).
    ctx.extensions
        .insert(Arc::new(RunPaths::new(dir.path().to_path_buf())));
    ctx.job = Some(Cadence::Monthly);
    Dkim.check(&ctx, &DomainTarget::new("example.org")).await;
    assert!(
        walk(dir.path())
            .iter()
            .any(|p| p.ends_with("example.org.json")),
        "{:?}",
        walk(dir.path())
    );
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
