//! The shipped catalog is consistent, and the parser refuses what would make
//! a catalog ambiguous.

use super::*;

/// A host name as DNS carries it: dot-separated labels of 1 to 63 letters,
/// digits, hyphens (not at either end) or a leading underscore
/// (`_spf.google.com`), two labels at least, 253 bytes at most.
fn well_formed_domain(name: &str) -> bool {
    let labels: Vec<&str> = name.split('.').collect();
    name.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            let body = l.strip_prefix('_').unwrap_or(l);
            !body.is_empty()
                && l.len() <= 63
                && !body.starts_with('-')
                && !body.ends_with('-')
                && body
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_lowercase()))
}

/// A DKIM selector (RFC 6376 section 3.1), as the catalog keeps it: lower case.
fn well_formed_selector(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        })
}

#[test]
fn the_shipped_catalog_is_consistent() {
    let c = Catalog::builtin();
    assert!(c.providers().len() >= 20);
    let mut ids = HashSet::new();
    let mut selectors: HashMap<&str, &str> = HashMap::new();
    for p in c.providers() {
        assert!(!p.name.trim().is_empty(), "a provider without a name");
        assert_eq!(p.name, p.name.trim(), "{}", p.name);
        // Kebab-case: what provider_id gives for it, and unique.
        assert!(!p.id.is_empty() && p.id == provider_id(&p.id), "{}", p.id);
        assert!(ids.insert(p.id.as_str()), "id `{}` twice", p.id);
        for d in &p.domains {
            assert!(well_formed_domain(d), "{}: domain `{d}`", p.id);
            assert_eq!(c.lookup(d).map(|x| &x.id), Some(&p.id), "{d}");
        }
        if let Some(spf) = &p.spf {
            let include = p
                .spf_include()
                .unwrap_or_else(|| panic!("{}: `{spf}` is not an include", p.id));
            assert!(well_formed_domain(include), "{}: include `{include}`", p.id);
            // An include's target belongs to its own provider, so that an
            // include in a record names the provider.
            assert_eq!(c.lookup(include).map(|x| &x.id), Some(&p.id), "{include}");
        }
        for s in &p.dkim_selectors {
            assert!(well_formed_selector(s), "{}: selector `{s}`", p.id);
            if let Some(other) = selectors.insert(s, &p.id) {
                panic!("selector `{s}` belongs to both `{other}` and `{}`", p.id);
            }
        }
    }
    for s in c.generic_selectors() {
        assert!(well_formed_selector(s), "generic selector `{s}`");
        assert!(!selectors.contains_key(s.as_str()), "{s}");
    }
    // The probe order and the unprobed selectors name every selector, each
    // once, and nothing else: every selector probed belongs to a provider or
    // is generic.
    let order: Vec<&str> = c.probe_order.iter().map(String::as_str).collect();
    let mut expected: Vec<&str> = selectors.keys().copied().collect();
    expected.extend(c.generic_selectors().iter().map(String::as_str));
    let mut sorted = order.clone();
    sorted.extend(c.unprobed.iter().map(String::as_str));
    sorted.sort_unstable();
    expected.sort_unstable();
    assert_eq!(sorted, expected, "`dkim_probe_order` against the selectors");
    let probe = c.dkim_probe();
    assert_eq!(probe.iter().map(|(s, _)| *s).collect::<Vec<_>>(), order);
    for (s, p) in &probe {
        match p {
            Some(p) => assert_eq!(selectors.get(s), Some(&p.id.as_str()), "{s}"),
            None => assert!(c.generic_selectors().iter().any(|g| g == s), "{s}"),
        }
    }
}

#[test]
fn lookups() {
    let c = Catalog::builtin();
    assert_eq!(c.lookup("o1.email.SendGrid.net.").unwrap().name, "SendGrid");
    assert_eq!(
        c.lookup("eur01.protection.outlook.com").unwrap().name,
        "Microsoft 365"
    );
    assert!(c.lookup("example.com").is_none());
    assert!(c.lookup("notsendgrid.net").is_none());
    assert_eq!(provider_id("Microsoft 365"), "microsoft-365");
    assert_eq!(provider_id("Groups.io"), "groups-io");
    assert_eq!(provider_id("Mandrill (Mailchimp)"), "mandrill-mailchimp");
    let g = c.by_id("google-workspace").unwrap();
    assert_eq!(g.name, "Google Workspace");
    assert_eq!(g.spf_include(), Some("_spf.google.com"));
    assert_eq!(c.lookup("_spf.google.com").unwrap().id, "google-workspace");
    assert!(c.by_selector("Google").any(|p| p.id == "google-workspace"));
    assert_eq!(c.by_name("SendGrid").unwrap().id, "sendgrid");
    // The services only the DKIM probe list knew, and Mailgun's selectors
    // from both former files.
    assert_eq!(c.by_id("campaign-monitor").unwrap().dkim_selectors, ["cm"]);
    assert_eq!(
        c.lookup("sig1.dkim.example.org.at.icloudmailadmin.com")
            .unwrap()
            .id,
        "icloud-mail"
    );
    assert_eq!(
        c.by_selector("protonmail3").next().unwrap().id,
        "proton-mail"
    );
    assert_eq!(
        c.by_id("mailgun").unwrap().dkim_selectors,
        ["krs", "mailo", "pic"]
    );
    let probe = c.dkim_probe();
    // The dkim checker's probe list as it was: 30 selectors, Mailgun's
    // `mailo` and `pic` known but not probed at every domain.
    assert_eq!(probe.len(), 30);
    assert!(probe.iter().any(|(s, _)| *s == "krs"));
    assert!(!probe.iter().any(|(s, _)| *s == "mailo" || *s == "pic"));
    assert_eq!(probe[0].0, "google");
    assert_eq!(probe[0].1.unwrap().id, "google-workspace");
    assert!(probe.iter().any(|(s, p)| *s == "default" && p.is_none()));
}

#[test]
fn ambiguous_catalogs_are_refused() {
    let err = |text: &str| Catalog::from_toml(text).unwrap_err().to_string();
    let e = err("[[provider]]\nname='A'\nid='x'\ndomains=['a.example']\n[[provider]]\nname='B'\nid='x'\ndomains=['b.example']\n");
    assert!(e.contains("id `x`"), "{e}");
    let e = err("[[provider]]\nname='A'\ndomains=['x.example']\n[[provider]]\nname='B'\ndomains=['X.example']\n");
    assert!(e.contains("both `A` and `B`"), "{e}");
    assert!(Catalog::from_toml("[[provider]]\nname='A'\ndomains=[]\n").is_err());
    assert!(Catalog::from_toml("[[provider]]\nname='A'\ndomain=['a.b']\n").is_err());
    let a = "[[provider]]\nname='A'\ndomains=['a.example']\ndkim_selectors=['s1']\n";
    let e = err(&format!("generic_dkim_selectors=['S1']\n{a}"));
    assert!(
        e.contains("generic selector `s1` is also a selector of `A`"),
        "{e}"
    );
    let e = err(&format!("dkim_probe_order=['s2']\n{a}"));
    assert!(e.contains("`s2`, a selector of no provider"), "{e}");
    let e = err(&format!("dkim_probe_order=['s1', 's1']\n{a}"));
    assert!(e.contains("`s1` twice"), "{e}");
    // Without an order, providers' selectors in catalog order, then generic.
    let c = Catalog::from_toml(&format!("generic_dkim_selectors=['dkim']\n{a}")).unwrap();
    let probe: Vec<_> = c
        .dkim_probe()
        .into_iter()
        .map(|(s, p)| (s, p.map(|p| p.id.as_str())))
        .collect();
    assert_eq!(probe, [("s1", Some("a")), ("dkim", None)]);
    // An unprobed selector is left out of the probe, and must be known.
    let c = Catalog::from_toml(&format!("dkim_unprobed=['S1']\n{a}")).unwrap();
    assert!(c.dkim_probe().is_empty());
    assert_eq!(c.by_selector("s1").next().unwrap().name, "A");
    let e = err(&format!("dkim_unprobed=['s9']\n{a}"));
    assert!(e.contains("`s9`, a selector of no provider"), "{e}");
    let e = err(&format!(
        "dkim_probe_order=['s1']\ndkim_unprobed=['s1']\n{a}"
    ));
    assert!(e.contains("`s1`, which is in `dkim_probe_order`"), "{e}");
}

#[test]
fn dkim_labels_name_a_selector_and_its_domains() {
    let c = Catalog::builtin();
    let m = c.by_id("mailchimp").unwrap();
    assert_eq!(
        m.dkim_name("mandrill"),
        "Mandrill (Mailchimp Transactional)"
    );
    assert_eq!(m.dkim_domains("mandrill"), ["mandrillapp.com"]);
    assert_eq!(m.dkim_name("k1"), "Mailchimp");
    let k1 = m.dkim_domains("k1");
    assert!(
        k1.contains(&"mcsv.net") && !k1.contains(&"mandrillapp.com"),
        "{k1:?}"
    );
    // The classifier still names the provider.
    assert_eq!(c.lookup("mandrillapp.com").unwrap().name, "Mailchimp");
    let s = c.by_id("sendgrid").unwrap();
    assert_eq!(s.dkim_name("smtpapi"), "SendGrid");
    assert_eq!(s.dkim_domains("s1"), ["sendgrid.net", "sendgrid.com"]);

    let err = |text: &str| Catalog::from_toml(text).unwrap_err().to_string();
    let a = "[[provider]]\nname='A'\ndomains=['a.example']\ndkim_selectors=['s1']\n";
    let e = err(&format!("{a}dkim_labels = {{ s2 = {{ name = 'B' }} }}\n"));
    assert!(
        e.contains("`s2`, which is not one of its dkim_selectors"),
        "{e}"
    );
    let e = err(&format!(
        "{a}dkim_labels = {{ s1 = {{ name = 'B', domains = ['b.example'] }} }}\n"
    ));
    assert!(
        e.contains("`b.example`, which is not one of its domains"),
        "{e}"
    );
    let e = err(&format!("{a}dkim_labels = {{ s1 = {{ name = ' ' }} }}\n"));
    assert!(e.contains("empty label"), "{e}");
}
