//! `authwarden plan` end to end against Knot DNS: the plan's zone fragment
//! is applied to the zones, Knot serves the changed zones, and a new
//! `authwarden check` reports exactly what the plan said would remain: its
//! verification (the checks run again over an overlay) agrees with real DNS,
//! and so does `check --zone-file` with the fragment over the old zones.

use std::collections::BTreeSet;

use authwarden_e2e::authwarden;
use authwarden_test_support::dns::{KnotOptions, KnotServer, ZoneSource};
use serde_json::Value;

fn soa(origin: &str) -> String {
    format!(
        "$TTL 300\n@ SOA ns1.{origin}. hostmaster.{origin}. 1 7200 3600 1209600 300\n\
         @ NS ns1.{origin}.\nns1 A 127.0.0.1\n@ MX 10 mx.{origin}.\nmx A 127.0.0.1\n"
    )
}

/// The zones: TXT records with absolute owner names, one a line, so that
/// the plan's fragment can replace them.
fn zones() -> Vec<(String, String)> {
    vec![
        (
            "plan-broken.test".into(),
            format!(
                "{}plan-broken.test. TXT \"v=spf1 a mx ?all\"\n\
                 plan-broken.test. TXT \"site-verification=abc123\"\n\
                 _dmarc.plan-broken.test. TXT \"v=DMARC1; p=rejct; pct=abc; rua=dmarc@plan-broken.test; foo=bar\"\n",
                soa("plan-broken.test")
            ),
        ),
        (
            "plan-spf.test".into(),
            format!(
                "{}plan-spf.test. TXT \"v=spf1 ptr mx ~all\"\n\
                 plan-spf.test. TXT \"v=spf1 a -all\"\n\
                 _dmarc.plan-spf.test. TXT \"v=DMARC1; p=none; rua=mailto:d@plan-spf.test\"\n\
                 _dmarc.plan-spf.test. TXT \"rua=mailto:x@plan-spf.test; v=DMARC1; p=none\"\n",
                soa("plan-spf.test")
            ),
        ),
    ]
}

fn serve(zones: &[(String, String)]) -> KnotServer {
    let sources: Vec<(String, ZoneSource)> = zones
        .iter()
        .map(|(o, t)| (o.clone(), ZoneSource::text(t.clone())))
        .collect();
    KnotServer::start(&sources, &KnotOptions::default())
        .unwrap_or_else(|e| panic!("cannot start the test DNS server: {e}"))
}

/// Applies a zone fragment of `authwarden plan --format zone`: for every
/// name it lists, the TXT records at that name are replaced by its lines.
fn apply(zones: &mut [(String, String)], fragment: &str) -> usize {
    let records: Vec<(&str, &str)> = fragment
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with(';'))
        .map(|l| (l.split_whitespace().next().unwrap(), l))
        .collect();
    let owners: BTreeSet<&str> = records.iter().map(|(o, _)| *o).collect();
    for (origin, text) in zones.iter_mut() {
        let mut lines: Vec<String> = text
            .lines()
            .filter(|l| {
                let owner = l.split_whitespace().next().unwrap_or("");
                !(owners.contains(owner) && l.contains(" TXT "))
            })
            .map(str::to_string)
            .collect();
        for (owner, line) in &records {
            if owner.trim_end_matches('.').ends_with(origin.as_str()) {
                lines.push(line.to_string());
            }
        }
        *text = lines.join("\n") + "\n";
    }
    owners.len()
}

fn refs(list: &Value) -> BTreeSet<(String, String)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["code"].as_str().unwrap().to_string(),
                r["subject"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn findings_of(check: &Value, domain: &str) -> BTreeSet<(String, String)> {
    check["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["domain"] == domain)
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                f["subject"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_zone_fragment_applied_in_knot_resolves_what_the_plan_says() {
    let domains = ["plan-broken.test", "plan-spf.test"];
    let mut zones = zones();
    let dns = serve(&zones);
    let ns = dns.addr().to_string();
    let args = |format: &'static str| {
        let mut a = vec!["plan"];
        a.extend_from_slice(&domains);
        a.extend_from_slice(&["--nameserver", &ns, "--format", format]);
        a
    };
    let json = authwarden(&args("json"));
    assert_eq!(json.code(), 0, "{json}");
    let plans = json.json();
    let zone = authwarden(&args("zone"));
    assert_eq!(zone.code(), 0, "{zone}");
    let text = authwarden(&args("text"));
    assert_eq!(text.code(), 0, "{text}");
    let mut before = vec!["check"];
    before.extend_from_slice(&domains);
    before.extend_from_slice(&["--nameserver", &ns, "--format", "json"]);
    let check_before = authwarden(&before).json();
    // The fragment as `--zone-file` over the unchanged server: the
    // overlay answers its record sets, the server everything else.
    let dir = tempfile::tempdir().unwrap();
    let fragment = dir.path().join("plan.zone");
    std::fs::write(&fragment, &zone.stdout).unwrap();
    let mut overlay = before.clone();
    overlay.extend_from_slice(&["--zone-file", fragment.to_str().unwrap()]);
    let check_overlay = authwarden(&overlay).json();
    dns.stop();

    // One DMARC record for each domain, the SPF fix of plan-broken.test
    // beside its other TXT record.
    let plan_of = |d: &str| {
        plans
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["domain"] == d)
            .unwrap_or_else(|| panic!("no plan for {d}: {plans:#}"))
            .clone()
    };
    let broken = plan_of("plan-broken.test");
    let changes = broken["changes"].as_array().unwrap();
    let dmarc = changes
        .iter()
        .find(|c| c["name"] == "_dmarc.plan-broken.test")
        .unwrap_or_else(|| panic!("{broken:#}"));
    assert_eq!(dmarc["after"].as_array().unwrap().len(), 1, "{dmarc:#}");
    let record = dmarc["after"][0].as_str().unwrap();
    assert!(record.starts_with("v=DMARC1; p=none;"), "{record}");
    assert!(
        !record.contains("foo=") && !record.contains("pct=abc"),
        "{record}"
    );
    let spf = changes
        .iter()
        .find(|c| c["name"] == "plan-broken.test")
        .unwrap_or_else(|| panic!("{broken:#}"));
    let after: Vec<&str> = spf["after"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(after.contains(&"site-verification=abc123"), "{after:?}");
    assert_eq!(
        after.iter().filter(|r| r.starts_with("v=spf1")).count(),
        1,
        "{after:?}"
    );
    // Two SPF records become one; the DMARC record that does not start
    // with v=DMARC1 goes, the valid one stays as it is.
    let spf2 = plan_of("plan-spf.test");
    assert_eq!(spf2["verification"]["verified"], true, "{spf2:#}");
    let c = spf2["changes"].as_array().unwrap();
    let at = |name: &str| {
        c.iter()
            .find(|x| x["name"] == name)
            .unwrap_or_else(|| panic!("no change at {name}: {spf2:#}"))["after"]
            .clone()
    };
    assert_eq!(
        at("_dmarc.plan-spf.test"),
        serde_json::json!(["v=DMARC1; p=none; rua=mailto:d@plan-spf.test"])
    );
    let spf_after = at("plan-spf.test");
    assert_eq!(spf_after.as_array().unwrap().len(), 1, "{spf_after}");
    assert!(
        !spf_after[0].as_str().unwrap().contains("ptr"),
        "{spf_after}"
    );
    assert!(
        text.stdout
            .contains("Publish at _dmarc.plan-spf.test (TXT)"),
        "{text}"
    );

    // Apply the fragment and serve the changed zones.
    let names = apply(&mut zones, &zone.stdout);
    assert!(names >= 3, "names changed: {names}\n{}", zone.stdout);
    let dns = serve(&zones);
    let ns = dns.addr().to_string();
    let mut after_args = vec!["check"];
    after_args.extend_from_slice(&domains);
    after_args.extend_from_slice(&["--nameserver", &ns, "--format", "json"]);
    let check_after = authwarden(&after_args).json();
    dns.stop();

    for d in domains {
        let plan = plan_of(d);
        let v = &plan["verification"];
        assert_eq!(v["verified"], true, "{plan:#}");
        let resolved = refs(&v["resolved"]);
        let remaining = refs(&v["remaining"]);
        assert!(
            !resolved.is_empty(),
            "{d}: the plan resolves something: {plan:#}"
        );
        let was = findings_of(&check_before, d);
        let now = findings_of(&check_after, d);
        assert_eq!(
            &was - &now,
            resolved,
            "{d}: resolved in real DNS vs the plan"
        );
        assert_eq!(
            findings_of(&check_overlay, d),
            now,
            "{d}: --zone-file with the fragment vs the changed zones"
        );
        assert_eq!(
            was.intersection(&now).cloned().collect::<BTreeSet<_>>(),
            remaining,
            "{d}: remaining in real DNS vs the plan"
        );
        // Every finding the plan's changes claim to resolve is gone.
        for c in plan["changes"].as_array().unwrap() {
            for r in refs(&c["resolves"]) {
                assert!(!now.contains(&r), "{d}: {r:?} still reported: {c:#}");
            }
        }
    }
}
