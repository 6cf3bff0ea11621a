//! Unit tests of the DMARC record parser: every tag, every kind of issue.

use authwarden_dmarc::record::{close_match, KNOWN_TAGS};
use authwarden_dmarc::{
    is_dmarc_record, parse_record, parse_record_bytes, Alignment, FailureOption, IssueKind,
    ParsedRecord, Policy, PsdFlag, ReportFormat, SyntaxIssue,
};

fn ok(text: &str) -> ParsedRecord {
    parse_record(text).unwrap_or_else(|e| panic!("{text:?} rejected: {e:?}"))
}

fn clean(text: &str) -> ParsedRecord {
    let parsed = ok(text);
    assert!(parsed.issues.is_empty(), "{text:?}: {:?}", parsed.issues);
    parsed
}

fn only_issue(text: &str) -> SyntaxIssue {
    let parsed = ok(text);
    assert_eq!(parsed.issues.len(), 1, "{text:?}: {:?}", parsed.issues);
    parsed.issues.into_iter().next().unwrap()
}

#[test]
fn minimal_record_and_defaults() {
    let r = clean("v=DMARC1; p=none").record;
    assert_eq!(r.policy, Some(Policy::None));
    assert_eq!(r.subdomain_policy, None);
    assert_eq!(r.effective_subdomain_policy(), Policy::None);
    assert_eq!(r.effective_nonexistent_subdomain_policy(), Policy::None);
    assert_eq!(r.effective_pct(), 100);
    assert!(!r.is_testing());
    assert_eq!(r.effective_adkim(), Alignment::Relaxed);
    assert_eq!(r.effective_aspf(), Alignment::Relaxed);
    assert_eq!(r.effective_fo(), vec![FailureOption::AllFail]);
    assert_eq!(r.effective_ri(), 86_400);
    assert!(r.rua.is_empty() && r.ruf.is_empty());
    assert_eq!(r.tags.len(), 2);
    assert_eq!(r.text, "v=DMARC1; p=none");
}

#[test]
fn every_tag() {
    let text = "v=DMARC1; p=reject; sp=quarantine; np=none; pct=50; t=y; adkim=s; aspf=r; \
                fo=1:d:s; rua=mailto:a@example.org!10m,mailto:b@example.net; \
                ruf=mailto:f@example.org; rf=afrf:iodef; ri=3600; psd=n";
    let r = clean(text).record;
    assert_eq!(r.policy, Some(Policy::Reject));
    assert_eq!(r.subdomain_policy, Some(Policy::Quarantine));
    assert_eq!(r.nonexistent_subdomain_policy, Some(Policy::None));
    assert_eq!(r.pct, Some(50));
    assert_eq!(r.testing, Some(true));
    assert_eq!(r.adkim, Some(Alignment::Strict));
    assert_eq!(r.aspf, Some(Alignment::Relaxed));
    assert_eq!(
        r.fo,
        Some(vec![
            FailureOption::AnyFail,
            FailureOption::Dkim,
            FailureOption::Spf
        ])
    );
    assert_eq!(r.rua.len(), 2);
    assert_eq!(r.rua[0].uri, "mailto:a@example.org");
    assert_eq!(r.rua[0].max_size.as_deref(), Some("10m"));
    assert_eq!(r.rua[0].max_bytes(), Some(10 << 20));
    assert_eq!(r.rua[0].mailto_host().as_deref(), Some("example.org"));
    assert_eq!(r.rua[1].max_size, None);
    assert_eq!(r.ruf[0].mailto_address(), Some("f@example.org"));
    assert_eq!(r.rf, Some(vec![ReportFormat::Afrf, ReportFormat::Iodef]));
    assert_eq!(r.ri, Some(3600));
    assert_eq!(r.psd, Some(PsdFlag::No));
    // The canonical form round-trips.
    let again = clean(&r.to_txt()).record;
    assert_eq!(again.to_txt(), r.to_txt());
    assert_eq!(
        r.to_txt(),
        "v=DMARC1; p=reject; sp=quarantine; np=none; pct=50; t=y; adkim=s; aspf=r; fo=1:d:s; \
         rua=mailto:a@example.org!10m,mailto:b@example.net; ruf=mailto:f@example.org; \
         rf=afrf:iodef; ri=3600; psd=n"
    );
}

#[test]
fn effective_policies_inherit() {
    let r = clean("v=DMARC1; p=reject").record;
    assert_eq!(r.effective_subdomain_policy(), Policy::Reject);
    assert_eq!(r.effective_nonexistent_subdomain_policy(), Policy::Reject);
    let r = clean("v=DMARC1; p=reject; sp=none").record;
    assert_eq!(r.effective_nonexistent_subdomain_policy(), Policy::None);
    assert!(Policy::None < Policy::Quarantine && Policy::Quarantine < Policy::Reject);
    assert_eq!(Policy::Reject.weaker(), Policy::Quarantine);
    assert_eq!(Policy::Quarantine.weaker(), Policy::None);
    assert_eq!(Policy::None.weaker(), Policy::None);
}

#[test]
fn lenient_whitespace_and_case() {
    let r = clean(
        "  v = DMARC1 ;P = Reject;  SP=None ; rua = mailto:a@example.org , mailto:b@example.org ;",
    )
    .record;
    assert_eq!(r.policy, Some(Policy::Reject));
    assert_eq!(r.subdomain_policy, Some(Policy::None));
    assert_eq!(r.rua.len(), 2);
    // Tabs are whitespace, empty parts are skipped.
    clean("v=DMARC1;\tp=none;;");
    clean("v=DMARC1; p=none; fo = 0 : 1");
}

#[test]
fn discovery_filter() {
    assert!(is_dmarc_record("v=DMARC1; p=none"));
    assert!(is_dmarc_record("v=DMARC1"));
    assert!(is_dmarc_record(" v = DMARC1 ;p=none"));
    assert!(is_dmarc_record("v=dmarc1; p=none"));
    assert!(!is_dmarc_record("p=none; v=DMARC1"));
    assert!(!is_dmarc_record("v=DMARC10; p=none"));
    assert!(!is_dmarc_record("v=spf1 -all"));
    assert!(!is_dmarc_record(""));
    assert!(!is_dmarc_record("google-site-verification=abc"));
}

#[test]
fn not_dmarc_is_err() {
    for text in [
        "p=none; v=DMARC1",
        "v=DMARC2; p=none",
        "",
        "v=spf1 -all",
        "hello",
    ] {
        let issues = parse_record(text).unwrap_err();
        assert!(
            issues.iter().any(|i| i.kind == IssueKind::NotDmarc),
            "{text:?}: {issues:?}"
        );
    }
}

#[test]
fn version_case_is_reported() {
    let issue = only_issue("v=dmarc1; p=none");
    assert_eq!(issue.kind, IssueKind::InvalidValue);
    assert_eq!(issue.tag.as_deref(), Some("v"));
    assert_eq!(issue.suggestion.as_deref(), Some("DMARC1"));
}

#[test]
fn policy_typos_get_did_you_mean() {
    for (value, expected) in [
        ("rejct", "reject"),
        ("rejet", "reject"),
        ("quarantaine", "quarantine"),
        ("quarentine", "quarantine"),
        ("non", "none"),
        ("nonee", "none"),
    ] {
        let issue = only_issue(&format!("v=DMARC1; p=none; sp={value}"));
        assert_eq!(issue.kind, IssueKind::InvalidValue);
        assert_eq!(issue.tag.as_deref(), Some("sp"));
        assert_eq!(issue.value.as_deref(), Some(value));
        assert_eq!(issue.suggestion.as_deref(), Some(expected), "{value}");
        assert!(issue
            .message
            .contains(&format!("did you mean `{expected}`?")));
    }
    let issue = only_issue("v=DMARC1; p=none; np=block");
    assert_eq!(issue.suggestion, None);
    assert_eq!(
        issue.message,
        "invalid value `block` for tag `np`, expected one of none, quarantine, reject"
    );
}

#[test]
fn invalid_p_says_how_receivers_treat_it() {
    let parsed = ok("v=DMARC1; p=rejct");
    assert_eq!(parsed.issues.len(), 1);
    assert_eq!(parsed.record.policy, None);
    assert_eq!(parsed.record.effective_policy(), Policy::None);
    assert!(parsed.record.ignored_by_rfc7489());
    assert!(parsed.issues[0]
        .message
        .contains("rfc 7489 receivers ignore the record"));

    let parsed = ok("v=DMARC1; p=rejct; rua=mailto:d@example.org");
    assert!(!parsed.record.ignored_by_rfc7489());
    assert!(parsed.issues[0]
        .message
        .contains("treat the record as p=none because rua is present"));
    // The typo's correction is a rollout step, not a repair: receivers
    // apply none today.
    assert_eq!(parsed.repaired().policy, Some(Policy::None));
    assert_eq!(parsed.invalid_policy(), Some("rejct"));
    assert_eq!(ok("v=DMARC1; p=reject").invalid_policy(), None);
}

#[test]
fn missing_p() {
    let issue = only_issue("v=DMARC1; rua=mailto:d@example.org");
    assert_eq!(issue.kind, IssueKind::MissingPolicy);
    assert!(issue.message.contains("6.6.3"), "{}", issue.message);
    assert!(issue.message.contains("p=none"));

    let parsed = ok("v=DMARC1");
    assert_eq!(parsed.issues[0].kind, IssueKind::MissingPolicy);
    assert!(parsed.issues[0].message.contains("ignore it"));
    assert_eq!(parsed.repaired().to_txt(), "v=DMARC1; p=none");
}

#[test]
fn pct() {
    assert_eq!(clean("v=DMARC1; p=reject; pct=0").record.pct, Some(0));
    assert_eq!(clean("v=DMARC1; p=reject; pct=100").record.pct, Some(100));
    let issue = only_issue("v=DMARC1; p=reject; pct=150");
    assert_eq!(
        (issue.tag.as_deref(), issue.value.as_deref()),
        (Some("pct"), Some("150"))
    );
    assert_eq!(issue.suggestion.as_deref(), Some("100"));
    let issue = only_issue("v=DMARC1; p=reject; pct=abc");
    assert_eq!(issue.suggestion, None);
    assert_eq!(
        issue.message,
        "invalid value `abc` for tag `pct`, expected an integer from 0 to 100"
    );
    let issue = only_issue("v=DMARC1; p=reject; pct=50%");
    assert_eq!(issue.suggestion.as_deref(), Some("50"));
    let parsed = ok("v=DMARC1; p=reject; pct=-1");
    assert_eq!(parsed.record.pct, None);
    assert_eq!(parsed.issues.len(), 1);
}

#[test]
fn yes_no_and_alignment_flags() {
    assert_eq!(clean("v=DMARC1; p=none; t=n").record.testing, Some(false));
    assert_eq!(clean("v=DMARC1; p=none; t=Y").record.testing, Some(true));
    assert_eq!(
        only_issue("v=DMARC1; p=none; t=yes").suggestion.as_deref(),
        Some("y")
    );
    assert_eq!(
        only_issue("v=DMARC1; p=none; t=true").suggestion.as_deref(),
        Some("y")
    );
    assert_eq!(
        only_issue("v=DMARC1; p=none; t=false")
            .suggestion
            .as_deref(),
        Some("n")
    );
    assert_eq!(only_issue("v=DMARC1; p=none; t=x").suggestion, None);

    assert_eq!(
        clean("v=DMARC1; p=none; aspf=s").record.aspf,
        Some(Alignment::Strict)
    );
    let issue = only_issue("v=DMARC1; p=none; adkim=x");
    assert_eq!(issue.tag.as_deref(), Some("adkim"));
    assert_eq!(issue.value.as_deref(), Some("x"));
    assert_eq!(issue.suggestion, None);
    assert_eq!(
        only_issue("v=DMARC1; p=none; adkim=strict")
            .suggestion
            .as_deref(),
        Some("s")
    );
    assert_eq!(
        only_issue("v=DMARC1; p=none; aspf=relaxed")
            .suggestion
            .as_deref(),
        Some("r")
    );

    assert_eq!(
        clean("v=DMARC1; p=none; psd=y").record.psd,
        Some(PsdFlag::Yes)
    );
    assert_eq!(
        clean("v=DMARC1; p=none; psd=u").record.psd,
        Some(PsdFlag::Unspecified)
    );
    assert_eq!(
        only_issue("v=DMARC1; p=none; psd=maybe").tag.as_deref(),
        Some("psd")
    );
}

#[test]
fn fo_rf_ri() {
    assert_eq!(
        clean("v=DMARC1; p=none; fo=0").record.fo,
        Some(vec![FailureOption::AllFail])
    );
    assert_eq!(
        clean("v=DMARC1; p=none; fo=d:d").record.fo,
        Some(vec![FailureOption::Dkim])
    );
    let parsed = ok("v=DMARC1; p=none; fo=1:x");
    assert_eq!(parsed.record.fo, None);
    assert_eq!(parsed.issues[0].tag.as_deref(), Some("fo"));
    assert_eq!(parsed.issues[0].value.as_deref(), Some("1:x"));
    let issue = only_issue("v=DMARC1; p=none; fo=1,d");
    assert_eq!(issue.tag.as_deref(), Some("fo"));

    assert_eq!(
        clean("v=DMARC1; p=none; rf=iodef").record.rf,
        Some(vec![ReportFormat::Iodef])
    );
    assert_eq!(
        only_issue("v=DMARC1; p=none; rf=arf").suggestion.as_deref(),
        Some("afrf")
    );

    assert_eq!(clean("v=DMARC1; p=none; ri=0").record.ri, Some(0));
    assert_eq!(only_issue("v=DMARC1; p=none; ri=1d").suggestion, None);
    assert_eq!(
        only_issue("v=DMARC1; p=none; ri=3600s")
            .suggestion
            .as_deref(),
        Some("3600")
    );
    assert_eq!(
        only_issue("v=DMARC1; p=none; ri=99999999999")
            .tag
            .as_deref(),
        Some("ri")
    );
}

#[test]
fn report_uris() {
    let r =
        clean("v=DMARC1; p=none; rua=mailto:a@example.org!1G, https://r.example.net/dmarc").record;
    assert_eq!(r.rua[0].max_size.as_deref(), Some("1g"));
    assert_eq!(r.rua[0].max_bytes(), Some(1 << 30));
    assert!(r.rua[0].is_mailto());
    assert!(!r.rua[1].is_mailto());
    assert_eq!(r.rua[1].scheme(), "https");
    assert_eq!(r.rua[1].mailto_host(), None);
    // Size without unit is bytes.
    let r = clean("v=DMARC1; p=none; rua=mailto:a@example.org!500").record;
    assert_eq!(r.rua[0].max_bytes(), Some(500));
    // Query part is not part of the host.
    let r = clean("v=DMARC1; p=none; rua=mailto:a@Example.ORG?subject=dmarc").record;
    assert_eq!(r.rua[0].mailto_host().as_deref(), Some("example.org"));

    let issue = only_issue("v=DMARC1; p=none; rua=dmarc@example.org");
    assert_eq!(issue.tag.as_deref(), Some("rua"));
    assert_eq!(
        issue.suggestion.as_deref(),
        Some("mailto:dmarc@example.org")
    );

    for bad in [
        "rua=",
        "rua=mailto:",
        "rua=mailto:nobody",
        "rua=mailto:@example.org",
        "ruf=mailto:a@example.org!10x",
        "ruf=mailto:a@example.org!",
        "rua=mailto:a@exa mple.org",
        "rua=not a uri",
    ] {
        let parsed = ok(&format!("v=DMARC1; p=none; {bad}"));
        assert_eq!(parsed.issues.len(), 1, "{bad}: {:?}", parsed.issues);
        assert_eq!(parsed.issues[0].kind, IssueKind::InvalidValue, "{bad}");
        assert!(
            parsed.record.rua.is_empty() && parsed.record.ruf.is_empty(),
            "{bad}"
        );
    }
}

#[test]
fn unknown_tags_are_kept_and_parsing_goes_on() {
    let parsed = ok("v=DMARC1; foo=bar; p=reject; rau=mailto:d@example.org; pc=50");
    assert_eq!(parsed.record.policy, Some(Policy::Reject));
    let kinds: Vec<_> = parsed.issues.iter().map(|i| i.kind).collect();
    assert_eq!(kinds, vec![IssueKind::UnknownTag; 3]);
    assert_eq!(parsed.issues[0].tag.as_deref(), Some("foo"));
    // `fo` is one edit away, but `bar` is no `fo` value.
    assert_eq!(parsed.issues[0].suggestion, None);
    assert_eq!(parsed.issues[1].suggestion.as_deref(), Some("rua"));
    // `p` and `pct` are both one edit away; only `pct` takes `50`.
    assert_eq!(parsed.issues[2].suggestion.as_deref(), Some("pct"));
    assert!(parsed
        .record
        .tags
        .iter()
        .any(|t| t.name == "foo" && t.value == "bar"));
    // The repaired record renames the typo and drops the rest.
    assert_eq!(
        parsed.repaired().to_txt(),
        "v=DMARC1; p=reject; pct=50; rua=mailto:d@example.org"
    );
}

#[test]
fn duplicates_keep_the_first() {
    let parsed = ok("v=DMARC1; p=reject; p=none");
    assert_eq!(parsed.record.policy, Some(Policy::Reject));
    assert_eq!(parsed.issues.len(), 1);
    assert_eq!(parsed.issues[0].kind, IssueKind::DuplicateTag);
    assert_eq!(parsed.issues[0].tag.as_deref(), Some("p"));
    assert_eq!(parsed.issues[0].value.as_deref(), Some("none"));
    // v again is a duplicate too.
    assert_eq!(
        only_issue("v=DMARC1; p=none; v=DMARC1").kind,
        IssueKind::DuplicateTag
    );
}

#[test]
fn malformed_parts() {
    let issue = only_issue("v=DMARC1; p=none; reject");
    assert_eq!(issue.kind, IssueKind::MalformedTag);
    assert_eq!(issue.suggestion.as_deref(), Some("p=reject"));
    let issue = only_issue("v=DMARC1; p=none; hello world");
    assert_eq!(issue.kind, IssueKind::MalformedTag);
    assert_eq!(issue.suggestion, None);
}

#[test]
fn control_and_non_ascii_characters() {
    // The control character also spoils the tag it sits in, as it would
    // for a receiver; messages show it escaped.
    let parsed = ok("v=DMARC1; p=none;\u{7} rua=mailto:d@example.org");
    assert_eq!(parsed.issues.len(), 2, "{:?}", parsed.issues);
    assert_eq!(parsed.issues[0].kind, IssueKind::InvalidCharacter);
    assert_eq!(parsed.issues[0].value.as_deref(), Some("U+0007"));
    assert_eq!(parsed.issues[0].offset, Some(17));
    assert_eq!(parsed.issues[1].kind, IssueKind::UnknownTag);
    assert_eq!(
        parsed.issues[1].message,
        "unknown tag `\\u{7} rua`, receivers ignore it"
    );
    assert!(parsed.record.rua.is_empty());

    let parsed = ok("v=DMARC1; p=réject\u{0}");
    assert_eq!(parsed.issues[0].kind, IssueKind::InvalidCharacter);
    assert!(parsed.issues[0]
        .message
        .contains("2 control or non-ascii characters"));
    assert!(parsed.issues.iter().any(|i| i.tag.as_deref() == Some("p")));
}

#[test]
fn invalid_utf8_is_an_issue_not_a_panic() {
    let parsed =
        parse_record_bytes(b"v=DMARC1; p=reject; rua=mailto:d@example.org\xff\xfe").unwrap();
    assert_eq!(parsed.issues[0].kind, IssueKind::InvalidUtf8);
    assert_eq!(parsed.issues[0].offset, Some(44));
    assert_eq!(parsed.issues[0].value.as_deref(), Some("\\xff"));
    // The replacement characters are not reported a second time.
    assert!(!parsed
        .issues
        .iter()
        .any(|i| i.kind == IssueKind::InvalidCharacter));
    assert_eq!(parsed.record.policy, Some(Policy::Reject));

    let issues = parse_record_bytes(b"\xc3\x28garbage").unwrap_err();
    assert_eq!(issues[0].kind, IssueKind::InvalidUtf8);
    assert_eq!(issues[1].kind, IssueKind::NotDmarc);

    // Valid UTF-8 goes through unchanged.
    assert!(parse_record_bytes(b"v=DMARC1; p=none").unwrap().is_clean());
}

#[test]
fn arbitrary_bytes_never_panic() {
    // A cheap deterministic fuzz: every byte at every position of a record.
    let base = b"v=DMARC1; p=reject; pct=50; rua=mailto:a@example.org!10m; fo=1:d".to_vec();
    for pos in 0..base.len() {
        for byte in [0u8, b';', b'=', b'!', b':', b',', b' ', 0x7f, 0xc3, 0xff] {
            let mut bytes = base.clone();
            bytes[pos] = byte;
            let _ = parse_record_bytes(&bytes);
            bytes.insert(pos, byte);
            let _ = parse_record_bytes(&bytes);
        }
    }
}

#[test]
fn messages_are_lower_case_without_trailing_period() {
    let texts = [
        "v=dmarc1; p=rejct; foo=1; p=none; pct=abc; reject; t=yes",
        "v=DMARC1; rua=dmarc@example.org",
        "v=DMARC1; p=none\u{1}",
    ];
    for text in texts {
        for issue in ok(text).issues {
            let first = issue.message.chars().next().unwrap();
            assert!(!first.is_uppercase(), "{}", issue.message);
            assert!(!issue.message.ends_with('.'), "{}", issue.message);
        }
    }
}

#[test]
fn close_match_limits() {
    assert_eq!(
        close_match("rejct", &["none", "quarantine", "reject"]).as_deref(),
        Some("reject")
    );
    assert_eq!(close_match("x", &["none", "quarantine", "reject"]), None);
    assert_eq!(close_match("", &["none"]), None);
    assert_eq!(close_match("pc", KNOWN_TAGS).as_deref(), Some("p"));
    assert_eq!(close_match("ruaa", KNOWN_TAGS).as_deref(), Some("rua"));
}

#[test]
fn offsets_are_byte_offsets_in_the_published_data() {
    // `\xff` at 18 is invalid UTF-8, the NUL right after it is at 19.
    let parsed =
        parse_record_bytes(b"v=DMARC1; p=reject\xff\x00; rua=mailto:d@example.org").unwrap();
    assert_eq!(parsed.issues[0].kind, IssueKind::InvalidUtf8);
    assert_eq!(parsed.issues[0].offset, Some(18));
    assert_eq!(parsed.issues[1].kind, IssueKind::InvalidCharacter);
    assert_eq!(parsed.issues[1].offset, Some(19));
    // A multi-byte character counts its bytes.
    let parsed = parse_record("v=DMARC1; p=é\u{1}").unwrap();
    assert_eq!(parsed.issues[0].offset, Some(12));
    assert!(parsed.issues[0]
        .message
        .contains("2 control or non-ascii characters"));
}

#[test]
fn missing_semicolons_are_reported_and_split() {
    let parsed = ok("v=DMARC1 p=reject  rua=mailto:d@example.org; pct=50");
    assert_eq!(parsed.record.policy, Some(Policy::Reject));
    assert_eq!(parsed.record.rua.len(), 1);
    assert_eq!(parsed.record.pct, Some(50));
    let kinds: Vec<_> = parsed.issues.iter().map(|i| i.kind).collect();
    assert_eq!(kinds, vec![IssueKind::MissingSemicolon; 2]);
    assert_eq!(parsed.issues[0].tag.as_deref(), Some("p"));
    assert_eq!(parsed.issues[1].tag.as_deref(), Some("rua"));
    assert_eq!(
        parsed.repaired().to_txt(),
        "v=DMARC1; p=reject; pct=50; rua=mailto:d@example.org"
    );
    // Whitespace inside a value before something that is no tag stays put.
    let parsed = ok("v=DMARC1; p=reject; rua=mailto:d@example.org foo=bar");
    assert!(parsed
        .issues
        .iter()
        .all(|i| i.kind != IssueKind::MissingSemicolon));
    // A URI with `?subject=` is not split.
    clean("v=DMARC1; p=none; rua=mailto:d@example.org?subject=x");
}
