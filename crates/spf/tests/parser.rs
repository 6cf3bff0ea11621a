//! Table tests of the RFC 7208 parser: what parses, and for what fails, the
//! term, position and reason.

use authwarden_spf::{
    is_spf_record, parse_record, parse_record_parts, DualCidr, Mechanism, Modifier, Qualifier,
    TermKind,
};

#[track_caller]
fn ok(record: &str) -> Vec<TermKind> {
    match parse_record(record.as_bytes()) {
        Ok(r) => r.terms.into_iter().map(|t| t.kind).collect(),
        Err(e) => panic!("{record:?} should parse: {e}"),
    }
}

/// Asserts the record fails at `term` / `position` with a reason containing `why`.
#[track_caller]
fn err(record: &str, term: &str, position: usize, why: &str) {
    match parse_record(record.as_bytes()) {
        Ok(r) => panic!("{record:?} should not parse, got {:?}", r.terms),
        Err(e) => {
            assert_eq!(e.term, term, "{record:?}: {e}");
            assert_eq!(e.position, position, "{record:?}: {e}");
            assert!(e.reason.contains(why), "{record:?}: {e}");
            assert!(!e.reason.ends_with('.'), "{e}");
        }
    }
}

#[test]
fn record_selection() {
    assert!(is_spf_record(b"v=spf1"));
    assert!(is_spf_record(b"v=spf1 -all"));
    assert!(is_spf_record(b"V=SPF1 -all"));
    assert!(!is_spf_record(b"v=spf10"));
    assert!(!is_spf_record(b"v=spf1mx"));
    assert!(!is_spf_record(b"spf2.0/pra"));
    assert!(!is_spf_record(b" v=spf1"));
}

#[test]
fn every_mechanism_and_qualifier() {
    let terms = ok("v=spf1 +all -all ~all ?all");
    let quals: Vec<_> = terms
        .iter()
        .map(|t| match t {
            TermKind::Directive(q, Mechanism::All) => *q,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        quals,
        [
            Qualifier::Pass,
            Qualifier::Fail,
            Qualifier::SoftFail,
            Qualifier::Neutral
        ]
    );
    let terms = ok("v=spf1 a mx ptr a:example.com mx:example.com ptr:example.com include:_spf.example.net exists:%{i}.bl.example.org ip4:192.0.2.0/24 ip6:2001:db8::/32 ip4:192.0.2.1 ip6:::1 -all");
    let names: Vec<_> = terms
        .iter()
        .map(|t| match t {
            TermKind::Directive(_, m) => m.name(),
            TermKind::Modifier(_) => "modifier",
        })
        .collect();
    assert_eq!(
        names,
        [
            "a", "mx", "ptr", "a", "mx", "ptr", "include", "exists", "ip4", "ip6", "ip4", "ip6",
            "all"
        ]
    );
}

#[test]
fn dual_cidr() {
    let cidrs: Vec<DualCidr> =
        ok("v=spf1 a/24 a//64 a/24//64 mx:example.com/0//0 a:example.com//128")
            .into_iter()
            .map(|t| match t {
                TermKind::Directive(_, Mechanism::A(_, c) | Mechanism::Mx(_, c)) => c,
                other => panic!("{other:?}"),
            })
            .collect();
    assert_eq!(
        cidrs[0],
        DualCidr {
            v4: Some(24),
            v6: None
        }
    );
    assert_eq!(
        cidrs[1],
        DualCidr {
            v4: None,
            v6: Some(64)
        }
    );
    assert_eq!(
        cidrs[2],
        DualCidr {
            v4: Some(24),
            v6: Some(64)
        }
    );
    assert_eq!(
        cidrs[3],
        DualCidr {
            v4: Some(0),
            v6: Some(0)
        }
    );
    assert_eq!(
        cidrs[4],
        DualCidr {
            v4: None,
            v6: Some(128)
        }
    );
    err("v=spf1 a/33", "a/33", 8, "out of range 0-32");
    err("v=spf1 a//129", "a//129", 8, "out of range 0-128");
    err("v=spf1 a/024", "a/024", 8, "leading zero");
    err(
        "v=spf1 ip4:192.0.2.0/33",
        "ip4:192.0.2.0/33",
        20,
        "out of range 0-32",
    );
    err(
        "v=spf1 ip6:2001:db8::/129",
        "ip6:2001:db8::/129",
        21,
        "out of range 0-128",
    );
    err(
        "v=spf1 ip4:192.0.2.0//24",
        "ip4:192.0.2.0//24",
        20,
        "not a prefix length",
    );
}

#[test]
fn ip_networks() {
    err(
        "v=spf1 ip4:192.0.2",
        "ip4:192.0.2",
        11,
        "not an IPv4 address",
    );
    err(
        "v=spf1 ip4:192.0.2.256",
        "ip4:192.0.2.256",
        11,
        "not an IPv4 address",
    );
    err(
        "v=spf1 ip4:192.0.02.1",
        "ip4:192.0.02.1",
        11,
        "not an IPv4 address",
    );
    err(
        "v=spf1 ip4:mail.example.com",
        "ip4:mail.example.com",
        11,
        "not an IPv4 address",
    );
    err(
        "v=spf1 ip6:2001:db8::g",
        "ip6:2001:db8::g",
        11,
        "not an IPv6 address",
    );
    err("v=spf1 ip4", "ip4", 10, "needs `:`");
    err("v=spf1 ip4:", "ip4:", 11, "after the colon");
    ok("v=spf1 ip6:::ffff:192.0.2.1/128");
}

#[test]
fn domain_specs() {
    err("v=spf1 include:", "include:", 15, "after the colon");
    err("v=spf1 include", "include", 14, "needs `:`");
    err("v=spf1 a:museum", "a:museum", 9, "two labels");
    err("v=spf1 a:museum.", "a:museum.", 9, "two labels");
    err("v=spf1 a:1.2.3.4", "a:1.2.3.4", 15, "all digits");
    err("v=spf1 a:example.-com", "a:example.-com", 17, "hyphen");
    err("v=spf1 a:foo..com", "a:foo..com", 12, "empty label");
    err(
        "v=spf1 exists:example.com/24",
        "exists:example.com/24",
        22,
        "letters, digits and hyphens",
    );
    ok("v=spf1 a:example.com. mx:Example.COM include:%{d} exists:%{ir}.%{v}._spf.%{d2}");
    let long = format!("v=spf1 a:{}.example.com", "x".repeat(64));
    assert!(parse_record(long.as_bytes())
        .unwrap_err()
        .reason
        .contains("limit is 63"));
}

#[test]
fn macros() {
    ok("v=spf1 exists:%{s}%{l}%{o}%{d}%{i}%{p}%{h}%{v}.example.com");
    ok("v=spf1 exists:%{L}%{S}.example.com exists:%{d1r}.x.example.com exists:%{l2r-.+,/_=}.example.com");
    ok("v=spf1 exists:%%%_%-.example.com");
    ok("v=spf1 exp=%{d}.explain.example.com redirect=%{d2}._spf.example.com");
    err(
        "v=spf1 exists:%{c}.example.com",
        "exists:%{c}.example.com",
        16,
        "only in explanation text",
    );
    err(
        "v=spf1 exists:%{r}.example.com",
        "exists:%{r}.example.com",
        16,
        "only in explanation text",
    );
    err(
        "v=spf1 exists:%{t}.example.com",
        "exists:%{t}.example.com",
        16,
        "only in explanation text",
    );
    err(
        "v=spf1 exists:%{x}.example.com",
        "exists:%{x}.example.com",
        16,
        "not a macro letter",
    );
    err(
        "v=spf1 exists:%{d0}.example.com",
        "exists:%{d0}.example.com",
        17,
        "1 to 128",
    );
    err(
        "v=spf1 exists:%{d2!}.example.com",
        "exists:%{d2!}.example.com",
        18,
        "not a delimiter",
    );
    err(
        "v=spf1 exists:%{d.example.com",
        "exists:%{d.example.com",
        14,
        "not closed",
    );
    err(
        "v=spf1 exists:%d.example.com",
        "exists:%d.example.com",
        14,
        "not a macro",
    );
    err("v=spf1 foo=%", "foo=%", 11, "lone `%`");
    err(
        "v=spf1 a:%{}.example.com",
        "a:%{}.example.com",
        9,
        "empty macro",
    );
}

#[test]
fn modifiers() {
    let terms = ok("v=spf1 redirect=_spf.example.com exp=explain._spf.example.com moo=cow Foo.bar-baz_=x unknown=");
    assert!(
        matches!(&terms[0], TermKind::Modifier(Modifier::Redirect(d)) if d.domain().as_deref() == Some("_spf.example.com"))
    );
    assert!(matches!(&terms[1], TermKind::Modifier(Modifier::Exp(_))));
    assert!(
        matches!(&terms[2], TermKind::Modifier(Modifier::Unknown { name, value }) if name == "moo" && value == "cow")
    );
    err(
        "v=spf1 redirect=a.example.com redirect=b.example.com",
        "redirect=b.example.com",
        30,
        "more than once",
    );
    err(
        "v=spf1 exp=a.example.com exp=b.example.com",
        "exp=b.example.com",
        25,
        "more than once",
    );
    err("v=spf1 redirect=", "redirect=", 16, "empty domain");
    err(
        "v=spf1 -redirect=a.example.com",
        "-redirect=a.example.com",
        8,
        "unknown mechanism `redirect`",
    );
    err("v=spf1 1foo=bar", "1foo=bar", 7, "unknown mechanism `1foo`");
    err(
        "v=spf1 moo=%{c}",
        "moo=%{c}",
        13,
        "only in explanation text",
    );
    ok("v=spf1 REDIRECT=_spf.example.com");
}

#[test]
fn terms_and_characters() {
    err("v=spf1 -alll", "-alll", 8, "unknown mechanism `alll`");
    err("v=spf1 all:foo", "all:foo", 10, "takes no argument");
    err("v=spf1 -", "-", 8, "qualifier without a mechanism");
    err(
        "v=spf1 includ:example.com",
        "includ:example.com",
        7,
        "did you mean `include`",
    );
    err(
        "v=spf1 a:ctrl.example.com\rptr -all",
        "a:ctrl.example.com\rptr",
        25,
        "control character 0x0d",
    );
    err(
        "v=spf1 a:example.net \u{96}all",
        "\u{96}all",
        21,
        "non-ASCII",
    );
    err(
        "v=spf1 include:\tx.example.com",
        "include:\tx.example.com",
        15,
        "control character 0x09",
    );
    err("v=spf10", "v=spf10", 0, "does not start with `v=spf1`");
    err("spf1 -all", "spf1", 0, "does not start with `v=spf1`");
    // Spaces: several between terms, trailing, none at all after the version.
    assert_eq!(ok("v=spf1    a   -all   ").len(), 2);
    assert!(ok("v=spf1").is_empty());
    assert_eq!(ok("V=SPF1 A:EXAMPLE.COM -ALL").len(), 2);
}

#[test]
fn invalid_utf8_is_a_byte_error() {
    let e = parse_record(b"v=spf1 a:\xff.example.com -all").unwrap_err();
    assert_eq!(e.position, 9);
    assert!(e.reason.contains("0xff"), "{e}");
}

#[test]
fn strings_are_joined_without_spaces() {
    let r = parse_record_parts(&[b"v=spf1 ip4:".to_vec(), b"192.0.2.5 -all".to_vec()]).unwrap();
    assert_eq!(r.text, "v=spf1 ip4:192.0.2.5 -all");
    assert!(matches!(
        r.terms[0].kind,
        TermKind::Directive(_, Mechanism::Ip4(..))
    ));
    let r = parse_record_parts(&[b"v=spf1".to_vec(), b"mx".to_vec()]);
    assert!(r.is_err(), "`v=spf1mx` is not a record");
}

#[test]
fn terms_after_all_and_accessors() {
    let r = parse_record(b"v=spf1 -all include:x.example.com redirect=y.example.com").unwrap();
    assert_eq!(r.all(), Some(Qualifier::Fail));
    assert_eq!(r.terms_after_all().len(), 1);
    assert!(r.redirect().is_some());
    assert_eq!(r.terms[1].position, 12);
}

/// No input panics, and every error points inside the input.
#[test]
fn never_panics_on_mutations() {
    let seeds: &[&[u8]] = &[
        b"v=spf1 a:%{d1r-}.example.com/24//64 ip4:192.0.2.0/24 ip6:2001:db8::/32 redirect=x.example.com exp=%{d} -all",
        b"v=spf1 include:_spf.google.com ~all",
    ];
    let alphabet = b"v=spf1 %{}:/.-+~?!aAdDlrx019\x00\x7f\xff";
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..20_000 {
        let seed = seeds[(next() % seeds.len() as u64) as usize];
        let mut input = seed.to_vec();
        for _ in 0..(next() % 4 + 1) {
            let pos = (next() % (input.len() as u64 + 1)) as usize;
            let byte = alphabet[(next() % alphabet.len() as u64) as usize];
            match next() % 3 {
                0 if pos < input.len() => input[pos] = byte,
                1 if pos < input.len() => {
                    input.remove(pos);
                }
                _ => input.insert(pos, byte),
            }
        }
        if let Err(e) = parse_record(&input) {
            assert!(e.position <= input.len(), "{e} in {input:?}");
            assert!(!e.reason.is_empty());
        }
    }
}
