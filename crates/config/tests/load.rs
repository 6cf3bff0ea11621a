//! Valid configurations: values, defaults, path resolution and helpers.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use authwarden_api::serde_json::json;
use authwarden_api::{Cadence, Level};
use authwarden_config::{default_cron, defaults, load, Known, PasswordSource, Security};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn every_key_is_read() {
    let path = Path::new("/etc/authwarden/conf/full.toml");
    let text = std::fs::read_to_string(fixture("valid/full.toml")).unwrap();
    let c = authwarden_config::parse(&text, path, &common::known()).unwrap();

    assert_eq!(c.source.as_deref(), Some(path));
    assert_eq!(c.timezone, chrono_tz::Europe::Berlin);
    assert_eq!(c.reports_dir, PathBuf::from("/etc/authwarden/out/reports"));
    assert_eq!(c.history_dir, PathBuf::from("/var/lib/authwarden/history"));

    let addrs: Vec<SocketAddr> = ["127.0.0.1:5353", "[::1]:53", "192.0.2.53:53"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(c.dns.nameservers, addrs);
    assert_eq!(c.dns.timeout, Duration::from_secs(90));
    assert_eq!(c.dns.retries, 3);
    assert_eq!(
        c.dns.zone_files,
        [
            PathBuf::from("/etc/authwarden/conf/example.zone"),
            PathBuf::from("/etc/authwarden/extra.zone")
        ]
    );

    assert_eq!(c.domains.len(), 2);
    assert_eq!(c.domains[0].name, "example.org");
    assert_eq!(
        c.domains[0].settings,
        json!({"dkim-selectors": {"selectors": ["s1", "s2"]}})
    );
    assert_eq!(c.domains[1].name, "example.net");
    assert_eq!(
        c.domains[1].settings,
        json!({"dmarc-policy": {"expect_policy": "reject"}})
    );
    assert_eq!(c.domain_targets()[1].settings, c.domains[1].settings);

    assert_eq!(c.levels.len(), 3);
    assert_eq!(c.level_for("DMARC003"), Some(Level::Allow));
    assert_eq!(
        c.level_for("DMARC004"),
        Some(Level::Deny),
        "names resolve to codes"
    );
    assert_eq!(c.level_for("SPF001"), Some(Level::Warn));
    assert_eq!(c.level_for("DMARC001"), None);

    let dmarc = &c.checkers["dmarc-policy"];
    assert!(dmarc.enabled);
    assert_eq!(dmarc.jobs, Some(vec![Cadence::Monthly, Cadence::Annual]));
    assert_eq!(
        c.checker_settings("dmarc-policy"),
        json!({
            "min_pct": 100,
            "ratio": 0.5,
            "since": "2024-01-01",
            "nested": {"a": [1, "two", true]}
        })
    );
    assert!(!c.checker_enabled("spf-lookups"));
    assert!(c.checker_enabled("dkim-selectors"));
    assert_eq!(c.checker_settings("dkim-selectors"), json!({}));

    let monthly = c.job(Cadence::Monthly);
    assert_eq!(monthly.cron, "0 30 7 1 * *");
    assert_eq!(monthly.schedule.source(), "0 30 7 1 * *");
    assert_eq!(
        monthly.recipients,
        [
            "postmaster@example.org",
            "Security Team <security@example.org>"
        ]
    );
    assert_eq!(
        monthly.checkers.as_deref(),
        Some(&["dmarc-policy".to_string(), "spf-lookups".to_string()][..])
    );
    assert!(monthly.enabled);
    assert!(!c.job(Cadence::Annual).enabled);
    assert_eq!(c.job(Cadence::Annual).cron, default_cron(Cadence::Annual));
    assert_eq!(
        c.job(Cadence::Quarterly).cron,
        default_cron(Cadence::Quarterly)
    );

    let smtp = c.smtp.as_ref().unwrap();
    assert_eq!(smtp.host, "127.0.0.1");
    assert_eq!(smtp.port, 2525);
    assert_eq!(smtp.security, Security::None);
    assert_eq!(smtp.username.as_deref(), Some("authwarden"));
    assert_eq!(
        smtp.password,
        PasswordSource::File("/etc/authwarden/conf/secret.txt".into())
    );
    assert_eq!(smtp.from, "authwarden <authwarden@example.org>");
    assert_eq!(
        smtp.ca_file.as_deref(),
        Some(Path::new("/etc/authwarden/conf/ca.pem"))
    );
    assert_eq!(smtp.timeout, Duration::from_secs(10));

    assert_eq!(
        c.templates_dir,
        Some(PathBuf::from("/etc/authwarden/conf/templates"))
    );
}

#[test]
fn empty_file_gives_the_defaults() {
    let path = Path::new("config/authwarden.toml");
    let c = authwarden_config::parse("", path, &common::known()).unwrap();
    let mut d = defaults(Path::new("config"));
    assert_eq!(d.source, None);
    d.source = Some(path.to_path_buf());
    assert_eq!(c, d);

    assert_eq!(c.timezone, chrono_tz::Tz::UTC);
    assert_eq!(c.reports_dir, PathBuf::from("reports"));
    assert_eq!(c.history_dir, PathBuf::from("reports/data"));
    assert_eq!(c.templates_dir, None, "the built-in templates");
    assert!(c.dns.nameservers.is_empty());
    assert_eq!(c.dns.timeout, Duration::from_secs(5));
    assert_eq!(c.dns.retries, 1);
    assert!(c.domains.is_empty());
    assert!(c.smtp.is_none());
    assert_eq!(c.jobs.len(), 3);
    for cadence in Cadence::ALL {
        let job = c.job(cadence);
        assert_eq!(job.cron, default_cron(cadence));
        assert!(job.enabled && job.recipients.is_empty() && job.checkers.is_none());
    }
}

#[test]
fn default_directories_follow_the_config_file() {
    let c = authwarden_config::parse("", Path::new("authwarden.toml"), &common::known()).unwrap();
    assert_eq!(c.reports_dir, PathBuf::from("../reports"));
    let c = authwarden_config::parse(
        "reports_dir = \"r\"",
        Path::new("/srv/aw/config/a.toml"),
        &common::known(),
    )
    .unwrap();
    assert_eq!(c.reports_dir, PathBuf::from("/srv/aw/config/r"));
    assert_eq!(c.history_dir, PathBuf::from("/srv/aw/config/r/data"));
}

#[test]
fn default_schedules_fire_when_expected() {
    use chrono::{TimeZone, Utc};
    let c = defaults(Path::new("config"));
    let start = Utc.with_ymd_and_hms(2025, 2, 15, 0, 0, 0).unwrap();
    let next = |cadence| c.job(cadence).schedule.after(&start).next().unwrap();
    assert_eq!(
        next(Cadence::Monthly),
        Utc.with_ymd_and_hms(2025, 3, 1, 6, 0, 0).unwrap()
    );
    assert_eq!(
        next(Cadence::Quarterly),
        Utc.with_ymd_and_hms(2025, 4, 1, 6, 0, 0).unwrap()
    );
    assert_eq!(
        next(Cadence::Annual),
        Utc.with_ymd_and_hms(2026, 1, 1, 6, 0, 0).unwrap()
    );
}

#[test]
fn domains_shorthand_and_smtp_defaults() {
    let c = load(&fixture("valid/shorthand.toml"), &common::known()).unwrap();
    let names: Vec<&str> = c.domains.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["example.org", "example.net"]);
    assert_eq!(c.domains[0].settings, json!({}));
    let smtp = c.smtp.unwrap();
    assert_eq!(smtp.security, Security::StartTls);
    assert_eq!(smtp.port, 587);
    assert_eq!(smtp.timeout, Duration::from_secs(30));
    assert_eq!(
        smtp.password,
        PasswordSource::Env("AUTHWARDEN_SMTP_PASSWORD".into())
    );
}

#[test]
fn port_defaults_by_security() {
    for (security, port) in [("starttls", 587), ("tls", 465), ("none", 25)] {
        let c = common::ok(&format!(
            "[smtp]\nhost = \"localhost\"\nsecurity = \"{security}\"\nfrom = \"a@example.org\"\n"
        ));
        assert_eq!(c.smtp.unwrap().port, port, "{security}");
    }
}

#[test]
fn job_checkers_follow_cadences_overrides_and_lists() {
    let known = common::known();
    // Defaults: dmarc-policy {monthly, annual}, spf-lookups {monthly, quarterly},
    // dkim-selectors {quarterly}.
    let c = defaults(Path::new("config"));
    assert_eq!(
        c.job_checkers(Cadence::Monthly, &known),
        ["dmarc-policy", "spf-lookups"]
    );
    assert_eq!(
        c.job_checkers(Cadence::Quarterly, &known),
        ["spf-lookups", "dkim-selectors"]
    );
    assert_eq!(c.job_checkers(Cadence::Annual, &known), ["dmarc-policy"]);

    let c = common::ok(
        "[checkers.dkim-selectors]\njobs = [\"annual\"]\n\
         [checkers.spf-lookups]\nenabled = false\n\
         [jobs.quarterly]\ncheckers = [\"dmarc-policy\", \"spf-lookups\"]\n",
    );
    assert_eq!(c.job_checkers(Cadence::Monthly, &known), ["dmarc-policy"]);
    // an explicit list, less the disabled checker
    assert_eq!(c.job_checkers(Cadence::Quarterly, &known), ["dmarc-policy"]);
    assert_eq!(
        c.job_checkers(Cadence::Annual, &known),
        ["dmarc-policy", "dkim-selectors"]
    );
}

#[test]
fn known_from_checker_infos() {
    use authwarden_api::{declare_codes, CheckerInfo, Severity};
    declare_codes! {
        /// Example.
        pub EX_MISSING = ("EX001", "ex-missing", Severity::Error);
    }
    let info = CheckerInfo {
        id: "ex",
        summary: "example",
        cadences: &[Cadence::Quarterly],
        codes: CODES,
        facts_key: "ex",
    };
    let known = Known::from_infos([&info]);
    assert_eq!(known.checker("ex").unwrap().cadences, [Cadence::Quarterly]);
    assert_eq!(known.resolve_code("ex-missing"), Some("EX001"));
    assert_eq!(known.resolve_code("EX001"), Some("EX001"));
    assert_eq!(known.resolve_code("EX002"), None);
}

#[test]
fn every_fixture_file_is_accepted_or_rejected_as_named() {
    let known = common::known();
    for (dir, valid) in [("valid", true), ("invalid", false)] {
        for entry in std::fs::read_dir(fixture(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                // The text alone: the fixtures name files that do not
                // exist (the file checks are tested in files.rs).
                let text = std::fs::read_to_string(&path).unwrap();
                let result = authwarden_config::parse(&text, &path, &known);
                assert_eq!(
                    result.is_ok(),
                    valid,
                    "{}: {:?}",
                    path.display(),
                    result.err()
                );
            }
        }
    }
}
