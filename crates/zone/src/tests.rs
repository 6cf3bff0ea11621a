//! Unit tests of the parser, the zone lookup and the resolver.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use authwarden_api::{async_trait, DnsAnswer, DnsFailure, DnsOutcome, Rdata, RecordType, Resolver};
use futures::executor::block_on;

use crate::{Zone, ZoneError, ZoneLookup, ZoneResolver, OUTSIDE_MESSAGE};

fn parse(text: &str) -> Zone {
    match Zone::parse(text, "test.zone", None) {
        Ok(zone) => zone,
        Err(e) => panic!("parse failed: {e}"),
    }
}

fn parse_err(text: &str) -> ZoneError {
    match Zone::parse(text, "bad.zone", None) {
        Ok(zone) => panic!("expected an error, parsed {zone:?}"),
        Err(e) => e,
    }
}

/// The error as `line:column: reason`.
fn err_at(text: &str) -> String {
    let e = parse_err(text);
    assert_eq!(e.file(), "bad.zone");
    format!(
        "{}:{}: {}",
        e.line().unwrap_or(0),
        e.column().unwrap_or(0),
        e.reason()
    )
}

fn lookup(zone: &Zone, name: &str, rtype: RecordType) -> ZoneLookup {
    zone.lookup(name, rtype)
}

fn query(resolver: &ZoneResolver, name: &str, rtype: RecordType) -> DnsAnswer {
    block_on(resolver.query(name, rtype))
}

fn txt(parts: &[&[u8]]) -> Rdata {
    Rdata::Txt(parts.iter().map(|p| p.to_vec()).collect())
}

const SOA_ZONE: &str = r#"
$TTL 1h
$ORIGIN example.com.
@   IN  SOA ns1 hostmaster (
            2024010101 ; serial
            7200       ; refresh
            3600       ; retry
            1209600    ; expire
            300 )      ; minimum
    IN  NS  ns1
    NS  ns2.example.net.
ns1 300 IN A 192.0.2.53
    IN 600 AAAA 2001:db8::53
@       MX 10 mail
        MX 20 mail.example.net.
mail    A 192.0.2.25
a.b.c   TXT "deep"
"#;

#[test]
fn parses_soa_parentheses_and_comments() {
    let zone = parse(SOA_ZONE);
    assert_eq!(zone.apexes().collect::<Vec<_>>(), vec!["example.com"]);
    assert_eq!(
        lookup(&zone, "example.com", RecordType::SOA),
        ZoneLookup::Records(vec![Rdata::Other(
            "ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300".into()
        )])
    );
    assert_eq!(
        lookup(&zone, "EXAMPLE.com.", RecordType::NS),
        ZoneLookup::Records(vec![
            Rdata::Ns("ns1.example.com".into()),
            Rdata::Ns("ns2.example.net".into())
        ])
    );
    assert_eq!(
        lookup(&zone, "example.com", RecordType::MX),
        ZoneLookup::Records(vec![
            Rdata::Mx {
                preference: 10,
                exchange: "mail.example.com".into()
            },
            Rdata::Mx {
                preference: 20,
                exchange: "mail.example.net".into()
            },
        ])
    );
    assert_eq!(
        lookup(&zone, "ns1.example.com", RecordType::AAAA),
        ZoneLookup::Records(vec![Rdata::Aaaa(
            "2001:db8::53".parse::<Ipv6Addr>().unwrap()
        )])
    );
}

#[test]
fn ttl_and_class_in_either_order_and_defaults() {
    let zone = parse(SOA_ZONE);
    let ttl = |name: &str, rtype: RecordType| {
        zone.records()
            .find(|r| r.name == name && r.rtype == rtype)
            .map(|r| r.ttl)
    };
    assert_eq!(ttl("example.com", RecordType::SOA), Some(3600)); // $TTL 1h
    assert_eq!(ttl("ns1.example.com", RecordType::A), Some(300)); // TTL then class
    assert_eq!(ttl("ns1.example.com", RecordType::AAAA), Some(600)); // class then TTL
    assert_eq!(ttl("mail.example.com", RecordType::A), Some(3600));

    // Without $TTL the last explicit TTL applies, and before any, 3600.
    let zone = parse("$ORIGIN x.\na A 192.0.2.1\nb 1w2d3h4m5s A 192.0.2.2\nc A 192.0.2.3\n");
    let ttls: Vec<u32> = zone.records().map(|r| r.ttl).collect();
    assert_eq!(ttls, vec![crate::DEFAULT_TTL, 788_645, 788_645]);
}

#[test]
fn txt_keeps_character_strings_and_escapes() {
    let zone = parse(concat!(
        "$ORIGIN example.com.\n",
        "multi TXT \"v=spf1 ip4:192.0.2.0/24 \" \"include:_spf.example.net -all\"\n",
        "quote TXT \"say \\\"hi\\\"; (not a comment)\"\n",
        "bytes TXT \"\\255\\000x\\065\" unquoted\\032word\n",
        "utf8 TXT \"caf\u{e9}\"\n",
        "empty TXT \"\"\n",
        "paren TXT ( \"one\"\n",
        "            \"two\" ) ; trailing comment\n",
    ));
    assert_eq!(
        lookup(&zone, "multi.example.com", RecordType::TXT),
        ZoneLookup::Records(vec![txt(&[
            b"v=spf1 ip4:192.0.2.0/24 ",
            b"include:_spf.example.net -all"
        ])])
    );
    assert_eq!(
        lookup(&zone, "quote.example.com", RecordType::TXT),
        ZoneLookup::Records(vec![txt(&[b"say \"hi\"; (not a comment)"])])
    );
    assert_eq!(
        lookup(&zone, "bytes.example.com", RecordType::TXT),
        ZoneLookup::Records(vec![txt(&[b"\xff\x00xA", b"unquoted word"])])
    );
    assert_eq!(
        lookup(&zone, "utf8.example.com", RecordType::TXT),
        ZoneLookup::Records(vec![txt(&["caf\u{e9}".as_bytes()])])
    );
    assert_eq!(
        lookup(&zone, "empty.example.com", RecordType::TXT),
        ZoneLookup::Records(vec![txt(&[b""])])
    );
    assert_eq!(
        lookup(&zone, "paren.example.com", RecordType::TXT),
        ZoneLookup::Records(vec![txt(&[b"one", b"two"])])
    );
}

#[test]
fn tlsa_presentation_and_generic_forms() {
    let zone = parse(concat!(
        "$ORIGIN example.com.\n",
        "_25._tcp.mail TLSA 3 1 1 ( AB01\n ff )\n",
        "_25._tcp.gen TYPE52 \\# 5 0301 01ab01\n",
    ));
    let expected = Rdata::Tlsa {
        usage: 3,
        selector: 1,
        matching: 1,
        data: "ab01ff".into(),
    };
    assert_eq!(
        lookup(&zone, "_25._tcp.mail.example.com", RecordType::TLSA),
        ZoneLookup::Records(vec![expected])
    );
    assert_eq!(
        lookup(&zone, "_25._tcp.gen.example.com", RecordType::TLSA),
        ZoneLookup::Records(vec![Rdata::Tlsa {
            usage: 3,
            selector: 1,
            matching: 1,
            data: "ab01".into(),
        }])
    );
    let err = Zone::parse("$ORIGIN example.com.\nx TLSA 3 1 1 abc\n", "t.zone", None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("even number of hexadecimal digits"), "{err}");
    let err = Zone::parse("$ORIGIN example.com.\nx TLSA 300 1 1 ab\n", "t.zone", None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("TLSA certificate usage"), "{err}");
}

#[test]
fn spf_type_and_generic_forms() {
    let zone = parse(concat!(
        "$ORIGIN example.com.\n",
        "@ SPF \"v=spf1 -all\"\n",
        "t99 TYPE99 \"v=spf1 a -all\"\n",
        "gen TYPE16 \\# 6 05 68656c6c6f\n",
        "gen A \\# 4 C0000201\n",
        "gen MX \\# 8 000a 046d61696c 00\n",
    ));
    assert_eq!(
        lookup(&zone, "example.com", RecordType::SPF),
        ZoneLookup::Records(vec![txt(&[b"v=spf1 -all"])])
    );
    // TXT and SPF are different types.
    assert_eq!(
        lookup(&zone, "example.com", RecordType::TXT),
        ZoneLookup::NoData
    );
    assert_eq!(
        lookup(&zone, "t99.example.com", RecordType::SPF),
        ZoneLookup::Records(vec![txt(&[b"v=spf1 a -all"])])
    );
    assert_eq!(
        lookup(&zone, "gen.example.com", RecordType::TXT),
        ZoneLookup::Records(vec![txt(&[b"hello"])])
    );
    assert_eq!(
        lookup(&zone, "gen.example.com", RecordType::A),
        ZoneLookup::Records(vec![Rdata::A(Ipv4Addr::new(192, 0, 2, 1))])
    );
    assert_eq!(
        lookup(&zone, "gen.example.com", RecordType::MX),
        ZoneLookup::Records(vec![Rdata::Mx {
            preference: 10,
            exchange: "mail".into()
        }])
    );
}

#[test]
fn relative_names_and_origin_switching() {
    let zone = parse(concat!(
        "$ORIGIN example.com.\n",
        "www CNAME @\n",
        "$ORIGIN sub.example.com.\n",
        "host A 192.0.2.7\n",
        "     TXT \"same owner\"\n",
        "$ORIGIN other.org.\n",
        "@ MX 0 .\n",
        "abs.example.com. A 192.0.2.8\n",
        "$ORIGIN deeper\n", // relative to other.org.
        "x PTR host.sub.example.com.\n",
    ));
    let mut apexes: Vec<&str> = zone.apexes().collect();
    apexes.sort();
    assert_eq!(
        apexes,
        vec![
            "deeper.other.org",
            "example.com",
            "other.org",
            "sub.example.com"
        ]
    );
    assert_eq!(
        lookup(&zone, "www.example.com", RecordType::A),
        ZoneLookup::Cname("example.com".into())
    );
    assert_eq!(
        lookup(&zone, "host.sub.example.com", RecordType::TXT),
        ZoneLookup::Records(vec![txt(&[b"same owner"])])
    );
    assert_eq!(
        lookup(&zone, "other.org", RecordType::MX),
        ZoneLookup::Records(vec![Rdata::Mx {
            preference: 0,
            exchange: String::new()
        }])
    );
    assert_eq!(
        lookup(&zone, "abs.example.com", RecordType::A),
        ZoneLookup::Records(vec![Rdata::A(Ipv4Addr::new(192, 0, 2, 8))])
    );
    assert_eq!(
        lookup(&zone, "x.deeper.other.org", RecordType::PTR),
        ZoneLookup::Records(vec![Rdata::Ptr("host.sub.example.com".into())])
    );
}

#[test]
fn default_origin_is_used_and_authoritative() {
    let zone = Zone::parse("@ TXT \"x\"\nwww A 192.0.2.1\n", "f", Some("Example.COM")).unwrap();
    assert_eq!(zone.apexes().collect::<Vec<_>>(), vec!["example.com"]);
    assert_eq!(
        lookup(&zone, "www.example.com", RecordType::A),
        ZoneLookup::Records(vec![Rdata::A(Ipv4Addr::new(192, 0, 2, 1))])
    );
    assert_eq!(
        lookup(&zone, "example.org", RecordType::A),
        ZoneLookup::Outside
    );
}

#[test]
fn soa_owners_define_authority() {
    // With an SOA, $ORIGIN values do not add apexes.
    let zone = parse(concat!(
        "$ORIGIN example.com.\n",
        "@ SOA ns hm 1 2 3 4 5\n",
        "$ORIGIN sub.example.com.\n",
        "x A 192.0.2.1\n",
    ));
    assert_eq!(zone.apexes().collect::<Vec<_>>(), vec!["example.com"]);
    assert_eq!(zone.len(), 2);
    assert!(!zone.is_empty());
}

#[test]
fn errors_carry_line_and_column() {
    let cases: &[(&str, &str)] = &[
        (
            "$ORIGIN example.com.\nwww IN CAA 0 issue \"x\"\n",
            "2:8: unsupported record type 'CAA'",
        ),
        (
            "$ORIGIN example.com.\n@ TXT \"never closed\n",
            "2:7: unterminated quoted string",
        ),
        (
            "$ORIGIN example.com.\n@ SOA ns hm (\n 1 2 3\n 4 5\n",
            "2:13: '(' is never closed",
        ),
        ("$ORIGIN example.com.\n@ A 192.0.2.1 )\n", "2:15: ')' without a matching '('"),
        (
            "www A 192.0.2.1\n",
            "1:1: relative name 'www' but no $ORIGIN is set",
        ),
        (
            "$ORIGIN example.com.\n\nmail   A 192.0.2.300\n",
            "3:10: invalid IPv4 address '192.0.2.300'",
        ),
        (
            "$ORIGIN example.com.\nmail A 192.0.2.1 192.0.2.2\n",
            "2:18: unexpected '192.0.2.2' after the A record data",
        ),
        ("$ORIGIN example.com.\nmail MX 10\n", "2:9: MX record needs a preference and an exchange"),
        ("$ORIGIN example.com.\nmail MX 70000 x\n", "2:9: invalid MX preference '70000'"),
        (" A 192.0.2.1\n", "1:2: the owner is omitted"),
        ("$ORIGIN example.com.\n@ CH TXT \"x\"\n", "2:3: class CH is not supported"),
        ("$ORIGIN example.com.\n@ 1x TXT \"x\"\n", "2:3: invalid TTL '1x'"),
        ("$ORIGIN example.com.\n@ 1 2 TXT \"x\"\n", "2:5: TTL given twice"),
        ("$ORIGIN example.com.\n@ TXT \"\\256\"\n", "2:8: escape \\256 is not a byte value"),
        ("$ORIGIN example.com.\n@ TXT\n", "2:3: TXT record needs at least one character-string"),
        ("$ORIGIN example.com.\n@ IN\n", "2:3: record has no type"),
        ("$ORIGIN example.com.\na..b A 192.0.2.1\n", "2:1: empty label in name 'a..b'"),
        ("$INCLUDE other.zone\n", "1:1: $INCLUDE is not supported"),
        ("$FOO bar\n", "1:1: unknown directive '$FOO'"),
        (
            "$ORIGIN example.com.\n@ TYPE12345 \\# 0\n",
            "2:3: unsupported record type 'TYPE12345'",
        ),
        ("$ORIGIN example.com.\n@ A \\# 3 010203\n", "2:5: invalid generic A data"),
        ("$ORIGIN example.com.\n@ A \\# 4 010203\n", "2:8: generic data length is 4 but 3 bytes follow"),
        (
            "@ SOA ns.example.com. hm.example.com. 1 2 3 4 5\n",
            "1:1: relative name '@' but no $ORIGIN is set",
        ),
        (
            "example.com. SOA ns.example.com. hm.example.com. 1 2 3 4 5\nmail.example.org. A 192.0.2.1\n",
            "2:1: 'mail.example.org.' is outside the zone(s) this file is authoritative for (example.com.)",
        ),
        (
            "example.com. CNAME other.example.\n",
            "1:1: a file without SOA and $ORIGIN only overrides record sets",
        ),
        (
            "$ORIGIN example.com.\nwww A 192.0.2.1\nwww CNAME @\n",
            "3:1: CNAME beside other data (A at bad.zone:2:1)",
        ),
        (
            "$ORIGIN example.com.\nwww CNAME a\nwww CNAME b\n",
            "3:1: second CNAME at this name (first at bad.zone:2:1)",
        ),
    ];
    for (text, expected) in cases {
        let got = err_at(text);
        assert!(
            got.starts_with(expected),
            "for {text:?}\n  expected prefix: {expected}\n  got:             {got}"
        );
    }
    let long = format!("$ORIGIN example.com.\n@ TXT \"{}\"\n", "x".repeat(256));
    assert!(err_at(&long).starts_with("2:7: character-string is 256 bytes long"));
    // The Display form is file:line:column: reason.
    assert_eq!(
        parse_err("$ORIGIN example.com.\n@ BOGUS x\n").to_string(),
        "bad.zone:2:3: unsupported record type 'BOGUS' (supported: A, AAAA, MX, TXT, SPF, CNAME, NS, PTR, SOA and TYPEnnn of these)"
    );
}

const LOOKUP_ZONE: &str = concat!(
    "$ORIGIN example.com.\n",
    "@ SOA ns hm 1 2 3 4 5\n",
    "@ TXT \"v=spf1 -all\"\n",
    "a.b.c A 192.0.2.1\n", // b.c and c are empty non-terminals
    "alias CNAME alias2\n",
    "alias2 CNAME target\n",
    "target TXT \"target text\"\n",
    "dangling CNAME nowhere\n",
    "out CNAME mail.example.net.\n",
    "loop1 CNAME loop2\n",
    "loop2 CNAME loop1\n",
    "*.wild TXT \"wildcard\"\n",
    "exists.wild A 192.0.2.9\n",
    "*.walias CNAME target\n",
);

#[test]
fn nxdomain_nodata_and_empty_non_terminals() {
    let zone = parse(LOOKUP_ZONE);
    assert_eq!(
        lookup(&zone, "example.com", RecordType::A),
        ZoneLookup::NoData
    );
    assert_eq!(
        lookup(&zone, "a.b.c.example.com", RecordType::A),
        ZoneLookup::Records(vec![Rdata::A(Ipv4Addr::new(192, 0, 2, 1))])
    );
    assert_eq!(
        lookup(&zone, "a.b.c.example.com", RecordType::TXT),
        ZoneLookup::NoData
    );
    assert_eq!(
        lookup(&zone, "b.c.example.com", RecordType::A),
        ZoneLookup::NoData
    );
    assert_eq!(
        lookup(&zone, "c.example.com", RecordType::TXT),
        ZoneLookup::NoData
    );
    assert_eq!(
        lookup(&zone, "x.c.example.com", RecordType::TXT),
        ZoneLookup::NxDomain
    );
    assert_eq!(
        lookup(&zone, "nope.example.com", RecordType::TXT),
        ZoneLookup::NxDomain
    );
    assert_eq!(
        lookup(&zone, "example.net", RecordType::TXT),
        ZoneLookup::Outside
    );
    // A query for type CNAME returns the record instead of following it.
    assert_eq!(
        lookup(&zone, "alias.example.com", RecordType::CNAME),
        ZoneLookup::Records(vec![Rdata::Cname("alias2.example.com".into())])
    );
}

#[test]
fn wildcards_per_rfc4592() {
    let zone = parse(LOOKUP_ZONE);
    assert_eq!(
        lookup(&zone, "anything.wild.example.com", RecordType::TXT),
        ZoneLookup::Records(vec![txt(&[b"wildcard"])])
    );
    // Several labels below the closest encloser still match.
    assert_eq!(
        lookup(&zone, "x.y.wild.example.com", RecordType::TXT),
        ZoneLookup::Records(vec![txt(&[b"wildcard"])])
    );
    assert_eq!(
        lookup(&zone, "anything.wild.example.com", RecordType::A),
        ZoneLookup::NoData
    );
    // An existing name is not covered by the wildcard...
    assert_eq!(
        lookup(&zone, "exists.wild.example.com", RecordType::TXT),
        ZoneLookup::NoData
    );
    // ...nor are names below it (their closest encloser is the existing name).
    assert_eq!(
        lookup(&zone, "below.exists.wild.example.com", RecordType::TXT),
        ZoneLookup::NxDomain
    );
    assert_eq!(
        lookup(&zone, "x.walias.example.com", RecordType::TXT),
        ZoneLookup::Cname("target.example.com".into())
    );
}

#[test]
fn resolver_follows_cname_chains() {
    let resolver = ZoneResolver::new(parse(LOOKUP_ZONE));
    let answer = query(&resolver, "Alias.Example.com.", RecordType::TXT);
    assert_eq!(answer.name, "alias.example.com");
    assert_eq!(
        answer.cname_chain,
        vec!["alias2.example.com", "target.example.com"]
    );
    assert_eq!(
        answer.outcome,
        DnsOutcome::Records(vec![txt(&[b"target text"])])
    );
    assert_eq!(answer.canonical_name(), "target.example.com");

    let answer = query(&resolver, "alias.example.com", RecordType::MX);
    assert_eq!(answer.outcome, DnsOutcome::NoData);
    assert_eq!(answer.cname_chain.len(), 2);

    let answer = query(&resolver, "dangling.example.com", RecordType::TXT);
    assert_eq!(answer.cname_chain, vec!["nowhere.example.com"]);
    assert_eq!(answer.outcome, DnsOutcome::NxDomain);

    let answer = query(&resolver, "loop1.example.com", RecordType::A);
    assert!(
        matches!(answer.outcome, DnsOutcome::Failed(DnsFailure::Other(ref m)) if m.contains("CNAME loop"))
    );

    let answer = query(&resolver, "x.walias.example.com", RecordType::TXT);
    assert_eq!(answer.cname_chain, vec!["target.example.com"]);
    assert_eq!(
        answer.outcome,
        DnsOutcome::Records(vec![txt(&[b"target text"])])
    );

    // Without fallback, a chain leaving the zone and a name outside it fail.
    let answer = query(&resolver, "out.example.com", RecordType::A);
    assert_eq!(answer.cname_chain, vec!["mail.example.net"]);
    assert!(
        matches!(answer.outcome, DnsOutcome::Failed(DnsFailure::Other(ref m)) if m.contains("outside the zone file"))
    );
    let answer = query(&resolver, "example.org", RecordType::A);
    assert_eq!(
        answer.outcome,
        DnsOutcome::Failed(DnsFailure::Other(OUTSIDE_MESSAGE.into()))
    );
    assert_eq!(resolver.queries_sent(), 0);
}

#[test]
fn long_cname_chains_are_cut() {
    let mut text = String::from("$ORIGIN example.com.\n");
    for i in 0..20 {
        text.push_str(&format!("c{i} CNAME c{}\n", i + 1));
    }
    let resolver = ZoneResolver::from_str(&text).unwrap();
    let answer = query(&resolver, "c0.example.com", RecordType::A);
    assert_eq!(answer.cname_chain.len(), crate::MAX_CNAME_CHAIN);
    assert!(
        matches!(answer.outcome, DnsOutcome::Failed(DnsFailure::Other(ref m)) if m.contains("longer than"))
    );
}

/// A fallback that answers every query with one A record (and a CNAME for
/// `alias.example.net`), counting queries.
#[derive(Default)]
struct Fallback {
    asked: Mutex<Vec<(String, RecordType)>>,
    sent: AtomicU64,
}

#[async_trait]
impl Resolver for Fallback {
    async fn query(&self, name: &str, rtype: RecordType) -> DnsAnswer {
        self.sent.fetch_add(1, Ordering::SeqCst);
        self.asked.lock().unwrap().push((name.to_owned(), rtype));
        let chain = if name == "alias.example.net" {
            vec!["real.example.net".to_owned()]
        } else {
            vec![]
        };
        DnsAnswer {
            name: name.to_owned(),
            rtype,
            cname_chain: chain,
            outcome: DnsOutcome::Records(vec![Rdata::A(Ipv4Addr::new(198, 51, 100, 1))]),
        }
    }

    fn queries_sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }
}

#[test]
fn fallback_answers_outside_names_and_chain_tails() {
    let fallback = Arc::new(Fallback::default());
    let zone = parse("$ORIGIN example.com.\nwww CNAME alias.example.net.\nlocal A 192.0.2.1\n");
    let resolver = ZoneResolver::with_fallback(zone, fallback.clone());

    let answer = query(&resolver, "local.example.com", RecordType::A);
    assert_eq!(
        answer.outcome,
        DnsOutcome::Records(vec![Rdata::A(Ipv4Addr::new(192, 0, 2, 1))])
    );
    // In-zone negative answers do not reach the fallback either.
    assert_eq!(
        query(&resolver, "nope.example.com", RecordType::A).outcome,
        DnsOutcome::NxDomain
    );
    assert_eq!(resolver.queries_sent(), 0);

    let answer = query(&resolver, "www.example.com", RecordType::A);
    assert_eq!(
        answer.cname_chain,
        vec!["alias.example.net", "real.example.net"]
    );
    assert_eq!(
        answer.outcome,
        DnsOutcome::Records(vec![Rdata::A(Ipv4Addr::new(198, 51, 100, 1))])
    );

    let answer = query(&resolver, "Example.ORG.", RecordType::MX);
    assert_eq!(answer.name, "example.org");
    assert_eq!(
        *fallback.asked.lock().unwrap(),
        vec![
            ("alias.example.net".to_owned(), RecordType::A),
            ("example.org".to_owned(), RecordType::MX)
        ]
    );
    assert_eq!(resolver.queries_sent(), 2);
}

#[test]
fn fail_hook_simulates_failures() {
    let fallback = Arc::new(Fallback::default());
    let zone = parse("$ORIGIN example.com.\n@ TXT \"v=spf1 -all\"\n@ MX 10 mail\nwww CNAME @\n");
    let resolver = ZoneResolver::with_fallback(zone, fallback.clone())
        .fail("example.com.", Some(RecordType::TXT), DnsFailure::ServFail)
        .fail("down.example.org", None, DnsFailure::Timeout)
        .fail(
            "down.example.org",
            Some(RecordType::MX),
            DnsFailure::Refused,
        );

    assert_eq!(
        query(&resolver, "example.com", RecordType::TXT).outcome,
        DnsOutcome::Failed(DnsFailure::ServFail)
    );
    assert!(matches!(
        query(&resolver, "example.com", RecordType::MX).outcome,
        DnsOutcome::Records(_)
    ));
    // The rule applies to names reached through a CNAME.
    let answer = query(&resolver, "www.example.com", RecordType::TXT);
    assert_eq!(answer.cname_chain, vec!["example.com"]);
    assert_eq!(answer.outcome, DnsOutcome::Failed(DnsFailure::ServFail));
    // Outside names fail without asking the fallback; typed rules win.
    assert_eq!(
        query(&resolver, "down.example.org", RecordType::A).outcome,
        DnsOutcome::Failed(DnsFailure::Timeout)
    );
    assert_eq!(
        query(&resolver, "down.example.org", RecordType::MX).outcome,
        DnsOutcome::Failed(DnsFailure::Refused)
    );
    assert_eq!(fallback.queries_sent(), 0);
}

#[test]
fn merge_and_load_files() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.zone");
    let b = dir.path().join("b.zone");
    std::fs::write(&a, "$ORIGIN example.com.\n@ TXT \"a\"\nwww CNAME @\n").unwrap();
    std::fs::write(
        &b,
        "example.net. SOA ns.example.net. hm.example.net. 1 2 3 4 5\nexample.net. TXT \"b\"\n",
    )
    .unwrap();
    let zone = Zone::load_all([&a, &b]).unwrap();
    let mut apexes: Vec<&str> = zone.apexes().collect();
    apexes.sort();
    assert_eq!(apexes, vec!["example.com", "example.net"]);
    assert_eq!(
        lookup(&zone, "example.net", RecordType::TXT),
        ZoneLookup::Records(vec![txt(&[b"b"])])
    );

    // A conflict across files names the record that could not be added.
    let mut zone = Zone::load(&a).unwrap();
    let other = Zone::parse(
        "$ORIGIN example.com.\nwww A 192.0.2.1\n",
        "other.zone",
        None,
    )
    .unwrap();
    let e = zone.merge(other).unwrap_err();
    assert_eq!(e.file(), "other.zone");
    assert_eq!(e.line(), Some(2));

    // Identical records from two files are kept once.
    let mut zone = Zone::load(&a).unwrap();
    zone.merge(Zone::load(&a).unwrap()).unwrap();
    assert_eq!(zone.len(), 2);

    // Files written for an authoritative server get their origin from outside.
    let knot = dir.path().join("knot.zone");
    std::fs::write(
        &knot,
        "@ SOA ns1 hm 1 2 3 4 5\n_dmarc TXT \"v=DMARC1; p=none\"\n",
    )
    .unwrap();
    assert!(Zone::load(&knot).is_err());
    let zone = Zone::load_with_origin(&knot, Some("healthy.test.")).unwrap();
    assert_eq!(zone.apexes().collect::<Vec<_>>(), vec!["healthy.test"]);
    assert!(matches!(
        lookup(&zone, "_dmarc.healthy.test", RecordType::TXT),
        ZoneLookup::Records(_)
    ));

    let missing = dir.path().join("missing.zone");
    let e = Zone::load(&missing).unwrap_err();
    assert!(matches!(e, ZoneError::Io { .. }));
    assert!(e.to_string().contains("missing.zone"), "{e}");
    assert_eq!(e.line(), None);

    std::fs::write(&b, "$ORIGIN example.com.\n\nbad A nope\n").unwrap();
    let e = Zone::load_all([&a, &b]).unwrap_err();
    assert!(
        e.to_string()
            .starts_with(&format!("{}:3:7: invalid IPv4 address", b.display())),
        "{e}"
    );
}

#[test]
fn from_str_forms() {
    let resolver: ZoneResolver = "$ORIGIN example.com.\n@ A 192.0.2.1\n".parse().unwrap();
    assert_eq!(resolver.zone().len(), 1);
    let e = ZoneResolver::from_str("$ORIGIN example.com.\n@ A\n").unwrap_err();
    assert_eq!(e.file(), "<inline>");
}

#[test]
fn crlf_and_tabs() {
    let zone = parse("$ORIGIN example.com.\r\n@\tIN\tTXT\t\"a\"\r\n\tMX\t10 mail\r\n");
    assert_eq!(
        lookup(&zone, "example.com", RecordType::TXT),
        ZoneLookup::Records(vec![txt(&[b"a"])])
    );
    assert!(matches!(
        lookup(&zone, "example.com", RecordType::MX),
        ZoneLookup::Records(_)
    ));
}

#[test]
fn name_escapes_and_root_origin() {
    let zone = parse(
        "$ORIGIN .\n\\065bc.example. A 192.0.2.1\n_dmarc.Example. TXT \"v=DMARC1; p=none\"\n",
    );
    assert_eq!(zone.apexes().collect::<Vec<_>>(), vec![""]);
    assert_eq!(
        lookup(&zone, "abc.example", RecordType::A),
        ZoneLookup::Records(vec![Rdata::A(Ipv4Addr::new(192, 0, 2, 1))])
    );
    assert_eq!(
        lookup(&zone, "_dmarc.example", RecordType::TXT),
        ZoneLookup::Records(vec![txt(&[b"v=DMARC1; p=none"])])
    );
    // Under the root everything is inside: unknown names are NXDOMAIN.
    assert_eq!(
        lookup(&zone, "example.org", RecordType::A),
        ZoneLookup::NxDomain
    );
    assert_eq!(lookup(&zone, "example", RecordType::A), ZoneLookup::NoData);
    assert!(err_at("$ORIGIN example.com.\na\\.b A 192.0.2.1\n")
        .starts_with("2:1: unsupported octet \\046"));
}

#[test]
fn a_file_of_absolute_record_sets_overrides_just_those() {
    let mut zone = Zone::parse(
        "$ORIGIN example.com.\n@ TXT \"v=spf1 ?all\"\n@ A 192.0.2.1\n_dmarc TXT \"v=DMARC1; p=none\"\n",
        "zone",
        None,
    )
    .unwrap();
    let fragment = Zone::parse(
        "; a plan\nexample.com. 3600 IN TXT \"v=spf1 -all\"\nexample.com. TXT \"other\"\n",
        "fragment",
        None,
    )
    .unwrap();
    assert_eq!(fragment.apexes().count(), 0);
    assert_eq!(
        fragment.lookup("example.org", RecordType::TXT),
        ZoneLookup::Outside
    );
    zone.merge(fragment).unwrap();
    let txt = |name: &str| match zone.lookup(name, RecordType::TXT) {
        ZoneLookup::Records(r) => r.iter().filter_map(Rdata::txt_joined).collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert_eq!(txt("example.com"), vec!["v=spf1 -all", "other"]);
    assert_eq!(txt("_dmarc.example.com"), vec!["v=DMARC1; p=none"]);
    assert!(matches!(
        zone.lookup("example.com", RecordType::A),
        ZoneLookup::Records(_)
    ));
    assert_eq!(
        zone.lookup("nx.example.com", RecordType::TXT),
        ZoneLookup::NxDomain
    );
}
