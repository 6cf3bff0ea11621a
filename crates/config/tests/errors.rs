//! Every kind of configuration error: its exact message, help and position.

mod common;

use common::{errors, one_error};

#[test]
fn syntax_error_has_position() {
    assert_eq!(
        one_error("timezone = \"UTC\"\n[dns\nretries = 1\n"),
        "config/t.toml:2:5: error: invalid TOML: unclosed table, expected `]`"
    );
}

#[test]
fn duplicate_key_is_a_syntax_error() {
    assert_eq!(
        one_error("timezone = \"UTC\"\ntimezone = \"UTC\"\n"),
        "config/t.toml:2:1: error: invalid TOML: duplicate key"
    );
}

#[test]
fn unknown_top_level_key() {
    assert_eq!(
        one_error("timezon = \"UTC\"\n"),
        "config/t.toml:1:1: error: unknown key `timezon` at the top level\n  help: did you mean `timezone`?"
    );
}

#[test]
fn unknown_key_without_near_miss_lists_the_keys() {
    assert_eq!(
        one_error("[dns]\nbogus = 1\n"),
        "config/t.toml:2:1: error: unknown key `bogus` in `[dns]`\n  help: expected one of: `nameservers`, `timeout`, `retries`, `zone_files`"
    );
}

#[test]
fn unknown_dns_key_with_did_you_mean() {
    assert_eq!(
        one_error("[dns]\nnameserver = [\"127.0.0.1\"]\n"),
        "config/t.toml:2:1: error: unknown key `nameserver` in `[dns]`\n  help: did you mean `nameservers`?"
    );
}

#[test]
fn wrong_type() {
    assert_eq!(
        one_error("[dns]\nretries = \"2\"\n"),
        "config/t.toml:2:11: error: expected an integer for `dns.retries`, found a string"
    );
    assert_eq!(
        one_error("dns = 3\n"),
        "config/t.toml:1:7: error: expected a table for `dns`, found an integer"
    );
    assert_eq!(
        one_error("[jobs.monthly]\nenabled = \"yes\"\n"),
        "config/t.toml:2:11: error: expected a boolean for `jobs.monthly.enabled`, found a string"
    );
    assert_eq!(
        one_error("[jobs.monthly]\nrecipients = \"a@example.org\"\n"),
        "config/t.toml:2:14: error: expected an array of strings for `jobs.monthly.recipients`, found a string"
    );
    assert_eq!(
        one_error("[dns]\nnameservers = [\"127.0.0.1\", 53]\n"),
        "config/t.toml:2:29: error: expected a string for `dns.nameservers[1]`, found an integer"
    );
}

#[test]
fn negative_retries() {
    assert_eq!(
        one_error("[dns]\nretries = -1\n"),
        "config/t.toml:2:11: error: `dns.retries` must be between 0 and 100, found -1"
    );
}

#[test]
fn bad_nameserver() {
    assert_eq!(
        one_error("[dns]\nnameservers = [\"127.0.0.1:5353\", \"ns1.example.org\"]\n"),
        "config/t.toml:2:34: error: invalid nameserver `ns1.example.org`\n  help: give an IP address with an optional port, e.g. `192.0.2.53`, `192.0.2.53:5353` or `[2001:db8::53]:53`"
    );
}

#[test]
fn bad_duration() {
    assert_eq!(
        one_error("[dns]\ntimeout = \"5 seconds\"\n"),
        "config/t.toml:2:11: error: invalid duration `5 seconds` for `dns.timeout`: unknown unit `seconds`\n  help: write a number with a unit (ms, s, m or h), e.g. `300ms`, `5s` or `1m30s`"
    );
    assert_eq!(
        one_error("[dns]\ntimeout = 5\n"),
        "config/t.toml:2:11: error: expected a duration string like \"5s\" for `dns.timeout`, found an integer"
    );
    assert_eq!(
        one_error("[dns]\ntimeout = \"0s\"\n"),
        "config/t.toml:2:11: error: `dns.timeout` must be greater than zero"
    );
}

#[test]
fn bad_cron_points_at_the_field() {
    assert_eq!(
        one_error("[jobs.monthly]\ncron = \"0 0 25 1 * *\"\n"),
        "config/t.toml:2:13: error: invalid cron expression `0 0 25 1 * *` for `jobs.monthly.cron`: Hours must be less than 23. ('25' specified.)"
    );
}

#[test]
fn five_field_cron() {
    assert_eq!(
        one_error("[jobs.annual]\ncron = \"0 6 1 1 *\"\n"),
        "config/t.toml:2:8: error: invalid cron expression `0 6 1 1 *` for `jobs.annual.cron`: expected 6 or 7 fields, found 5\n  help: the fields are: second minute hour day-of-month month day-of-week [year], e.g. `0 0 6 1 * *` for 06:00 on the 1st of every month"
    );
}

#[test]
fn bad_timezone() {
    assert_eq!(
        one_error("timezone = \"Europe/Berln\"\n"),
        "config/t.toml:1:12: error: unknown timezone `Europe/Berln`\n  help: did you mean `Europe/Berlin`?"
    );
    assert_eq!(
        one_error("timezone = \"Mars/Olympus\"\n"),
        "config/t.toml:1:12: error: unknown timezone `Mars/Olympus`\n  help: use an IANA time zone name such as `Europe/Berlin` or `UTC`"
    );
}

#[test]
fn unknown_level() {
    assert_eq!(
        one_error("[levels]\nDMARC003 = \"warning\"\n"),
        "config/t.toml:2:12: error: unknown level `warning`, expected one of: allow, note, warn, deny\n  help: did you mean `warn`?"
    );
    assert_eq!(
        one_error("[levels]\nDMARC003 = \"dney\"\n"),
        "config/t.toml:2:12: error: unknown level `dney`, expected one of: allow, note, warn, deny\n  help: did you mean `deny`?"
    );
}

#[test]
fn unknown_code_in_levels() {
    assert_eq!(
        one_error("[levels]\nDMARC03 = \"allow\"\n"),
        "config/t.toml:2:1: error: unknown code or name `DMARC03` in `[levels]`\n  help: did you mean `DMARC003`?"
    );
    assert_eq!(
        one_error("[levels]\n\"dmarc-no-ruf\" = \"deny\"\n"),
        "config/t.toml:2:1: error: unknown code or name `dmarc-no-ruf` in `[levels]`\n  help: did you mean `dmarc-no-rua`?"
    );
}

#[test]
fn code_and_name_for_the_same_code() {
    assert_eq!(
        one_error("[levels]\nDMARC004 = \"allow\"\n\"dmarc-no-rua\" = \"deny\"\n"),
        "config/t.toml:3:1: error: the level of `DMARC004` is already set on line 2 (as `DMARC004`)\n  help: keep one of them"
    );
}

#[test]
fn unknown_checker_table() {
    assert_eq!(
        one_error("[checkers.dmarc-polcy]\nenabled = false\n"),
        "config/t.toml:1:11: error: unknown checker `dmarc-polcy` in `[checkers]`\n  help: did you mean `dmarc-policy`?"
    );
    assert_eq!(
        one_error("[checkers.tls-rpt]\n"),
        "config/t.toml:1:11: error: unknown checker `tls-rpt` in `[checkers]`\n  help: known checkers: `dmarc-policy`, `spf-lookups`, `dkim-selectors`"
    );
}

#[test]
fn unknown_checker_in_job() {
    assert_eq!(
        one_error("[jobs.monthly]\ncheckers = [\"dmarc-policy\", \"spf-lookup\"]\n"),
        "config/t.toml:2:29: error: unknown checker `spf-lookup` in `jobs.monthly.checkers`\n  help: did you mean `spf-lookups`?"
    );
}

#[test]
fn unknown_job() {
    assert_eq!(
        one_error("[jobs.weekly]\ncron = \"0 0 6 * * 1\"\n"),
        "config/t.toml:1:7: error: unknown job `weekly`, expected monthly, quarterly or annual"
    );
    assert_eq!(
        one_error("[checkers.dmarc-policy]\njobs = [\"monthy\"]\n"),
        "config/t.toml:2:9: error: unknown job `monthy`, expected monthly, quarterly or annual\n  help: did you mean `monthly`?"
    );
}

#[test]
fn unknown_job_key() {
    assert_eq!(
        one_error("[jobs.quarterly]\nrecipient = [\"a@example.org\"]\n"),
        "config/t.toml:2:1: error: unknown key `recipient` in `[jobs.quarterly]`\n  help: did you mean `recipients`?"
    );
}

#[test]
fn bad_recipient() {
    assert_eq!(
        one_error("[jobs.monthly]\nrecipients = [\"postmaster\"]\n"),
        "config/t.toml:2:15: error: invalid mail address `postmaster` in `jobs.monthly.recipients`: the address has no `@`"
    );
}

#[test]
fn duplicate_domain() {
    assert_eq!(
        one_error("[[domains]]\nname = \"example.org\"\n\n[[domains]]\nname = \"Example.org.\"\n"),
        "config/t.toml:5:8: error: duplicate domain `example.org`\n  help: it is already listed on line 2"
    );
}

#[test]
fn invalid_domain() {
    assert_eq!(
        one_error("[[domains]]\nname = \"exa mple.org\"\n"),
        "config/t.toml:2:8: error: invalid domain name `exa mple.org`: `exa mple.org` contains the character ` `"
    );
}

#[test]
fn domain_without_name() {
    assert_eq!(
        one_error("[[domains]]\n[domains.dmarc-policy]\nx = 1\n"),
        "config/t.toml:1:1: error: missing key `name` in `[[domains]]`\n  help: add e.g. `name = \"example.org\"`"
    );
}

#[test]
fn unknown_domain_key() {
    assert_eq!(
        one_error("[[domains]]\nname = \"example.org\"\n[domains.dkim-selector]\nselectors = [\"s1\"]\n"),
        "config/t.toml:3:10: error: unknown key `dkim-selector` in `[[domains]]`\n  help: did you mean `dkim-selectors`?"
    );
}

#[test]
fn domain_checker_settings_must_be_a_table() {
    assert_eq!(
        one_error("[[domains]]\nname = \"example.org\"\ndmarc-policy = true\n"),
        "config/t.toml:3:16: error: expected a table for `domains[0].dmarc-policy`, found a boolean"
    );
}

#[test]
fn security_none_to_remote_host() {
    assert_eq!(
        one_error("[smtp]\nhost = \"smtp.example.org\"\nsecurity = \"none\"\nfrom = \"a@example.org\"\n"),
        "config/t.toml:3:12: error: `security = \"none\"` is only allowed for a loopback host, and `smtp.example.org` is not one\n  help: mail and any password would cross the network unencrypted; use `starttls` or `tls`"
    );
}

#[test]
fn unknown_security() {
    assert_eq!(
        one_error("[smtp]\nhost = \"localhost\"\nsecurity = \"ssl\"\nfrom = \"a@example.org\"\n"),
        "config/t.toml:3:12: error: unknown security `ssl`, expected one of: starttls, tls, none\n  help: did you mean `tls`?"
    );
}

#[test]
fn both_password_sources() {
    assert_eq!(
        one_error(
            "[smtp]\nhost = \"localhost\"\nfrom = \"a@example.org\"\nusername = \"u\"\n\
             password_env = \"PW\"\npassword_file = \"pw.txt\"\n"
        ),
        "config/t.toml:6:1: error: `password_env` and `password_file` cannot both be set\n  help: keep one of them"
    );
}

#[test]
fn literal_password() {
    assert_eq!(
        one_error("[smtp]\nhost = \"localhost\"\nfrom = \"a@example.org\"\nusername = \"u\"\npassword = \"hunter2\"\n"),
        "config/t.toml:5:1: error: the config file must not hold the SMTP password\n  help: set `password_env` to the name of an environment variable that holds it, or `password_file` to a file that contains it"
    );
}

#[test]
fn password_without_username() {
    assert_eq!(
        one_error("[smtp]\nhost = \"localhost\"\nfrom = \"a@example.org\"\npassword_env = \"PW\"\n"),
        "config/t.toml:4:1: error: a password is set in `[smtp]` but no `username`\n  help: add `username`, or remove the password"
    );
}

#[test]
fn smtp_missing_keys() {
    assert_eq!(
        errors("[smtp]\nport = 2525\n"),
        "config/t.toml:1:1: error: missing key `host` in `[smtp]`\n  help: add e.g. `host = \"smtp.example.org\"`\n\
         config/t.toml:1:1: error: missing key `from` in `[smtp]`\n  help: add e.g. `from = \"authwarden <authwarden@example.org>\"`"
    );
}

#[test]
fn bad_port_and_from() {
    assert_eq!(
        errors("[smtp]\nhost = \"localhost\"\nport = 70000\nfrom = \"authwarden <authwarden@example.org\"\n"),
        "config/t.toml:3:8: error: `smtp.port` must be between 1 and 65535, found 70000\n\
         config/t.toml:4:8: error: invalid mail address `authwarden <authwarden@example.org` in `smtp.from`: missing `>` after the address"
    );
}

#[test]
fn pass_through_values_must_be_json() {
    assert_eq!(
        one_error("[checkers.dmarc-policy]\nratio = nan\n"),
        "config/t.toml:2:9: error: `checkers.dmarc-policy.ratio` cannot be nan: checker settings are JSON, which has no NaN or infinity"
    );
}

#[test]
fn columns_count_characters_not_bytes() {
    // `ü` is two bytes in UTF-8 but one column.
    assert_eq!(
        one_error("[levels]\n\"grüße\" = \"allow\"\n"),
        "config/t.toml:2:1: error: unknown code or name `grüße` in `[levels]`"
    );
    assert_eq!(
        one_error("[[domains]]\nname = \"ü.example\" # ü\n"),
        "config/t.toml:2:8: error: invalid domain name `ü.example`: `ü.example` contains the character `ü`"
    );
}

#[test]
fn three_different_errors_are_all_reported() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/invalid/three-errors.toml"
    ))
    .unwrap();
    let errors = common::parse(&text).unwrap_err();
    assert_eq!(errors.len(), 3, "{errors}");
    let positions: Vec<(usize, usize)> =
        errors.errors().iter().map(|e| (e.line, e.column)).collect();
    assert_eq!(positions, [(4, 1), (8, 15), (11, 8)], "{errors}");
}

#[test]
fn unreadable_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.toml");
    let err = authwarden_config::load(&path, &common::known()).unwrap_err();
    assert_eq!(err.len(), 1);
    let e = &err.errors()[0];
    assert_eq!((e.line, e.column), (0, 0));
    assert!(
        err.to_string().starts_with(&format!(
            "{}: error: cannot read the configuration file: ",
            path.display()
        )),
        "{err}"
    );
}

/// A file with one of everything wrong, as the user sees it.
#[test]
fn everything_wrong_snapshot() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/invalid/everything.toml"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let errors = authwarden_config::parse(
        &text,
        std::path::Path::new("fixtures/invalid/everything.toml"),
        &common::known(),
    )
    .unwrap_err();
    insta::assert_snapshot!(errors.to_string());
}
