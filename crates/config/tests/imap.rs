//! `[imap]` and `[ingest]`: defaults, every value, and each error with its position.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use authwarden_config::{PasswordSource, Security};
use common::{errors, ok, one_error};

const MINIMAL: &str =
    "[imap]\nhost = \"imap.example.org\"\nusername = \"dmarc\"\npassword_env = \"IMAP_PW\"\n";

#[test]
fn defaults() {
    let c = ok(MINIMAL);
    let imap = c.imap.as_ref().unwrap();
    assert_eq!(imap.host, "imap.example.org");
    assert_eq!(imap.security, Security::Tls);
    assert_eq!(imap.port, 993);
    assert_eq!(imap.username, "dmarc");
    assert_eq!(imap.password, PasswordSource::Env("IMAP_PW".into()));
    assert_eq!(imap.ca_file, None);
    assert_eq!(imap.folder, "INBOX");
    assert_eq!(imap.archive_folder, "Archive/DMARC");
    assert_eq!(imap.invalid_folder, "Invalid/DMARC");
    assert_eq!(imap.timeout, Duration::from_secs(60));
    assert_eq!(imap.max_message_size, 50 * 1024 * 1024);
    assert_eq!(imap.poll_cron, "0 0 * * * *");
    assert_eq!(imap.state_file, c.history_dir.join("imap-state.json"));
    assert_eq!(c.ingest.max_decompressed, 100 * 1024 * 1024);
    assert_eq!(c.ingest.max_records, 10_000_000);
    assert!(ok("").imap.is_none());
}

#[test]
fn every_key() {
    let c = ok("history_dir = \"../hist\"\n\
         [imap]\nhost = \"127.0.0.1\"\nsecurity = \"none\"\nusername = \"u\"\n\
         password_file = \"secrets/imap.txt\"\nca_file = \"ca.pem\"\nfolder = \"DMARC\"\n\
         archive_folder = \"DMARC/Done\"\ninvalid_folder = \"DMARC/Bad\"\ntimeout = \"5s\"\n\
         max_message_size = \"512KiB\"\npoll_cron = \"0 */15 * * * *\"\n\
         [ingest]\nmax_decompressed = \"1GiB\"\nmax_records = 5000\n");
    let imap = c.imap.as_ref().unwrap();
    assert_eq!(imap.port, 143);
    assert_eq!(imap.security, Security::None);
    assert_eq!(
        imap.password,
        PasswordSource::File(PathBuf::from("config/secrets/imap.txt"))
    );
    assert_eq!(imap.ca_file, Some(PathBuf::from("config/ca.pem")));
    assert_eq!(
        (
            imap.folder.as_str(),
            imap.archive_folder.as_str(),
            imap.invalid_folder.as_str()
        ),
        ("DMARC", "DMARC/Done", "DMARC/Bad")
    );
    assert_eq!(imap.timeout, Duration::from_secs(5));
    assert_eq!(imap.max_message_size, 512 * 1024);
    assert_eq!(imap.poll_cron, "0 */15 * * * *");
    // `history_dir` is read from the top level, the default state file follows it.
    assert_eq!(imap.state_file, PathBuf::from("hist/imap-state.json"));
    assert_eq!(c.ingest.max_decompressed, 1 << 30);
    assert_eq!(c.ingest.max_records, 5000);

    let c = ok(&format!(
        "{MINIMAL}security = \"starttls\"\nstate_file = \"state/imap.json\"\n"
    ));
    let imap = c.imap.unwrap();
    assert_eq!((imap.security, imap.port), (Security::StartTls, 143));
    assert_eq!(imap.state_file, PathBuf::from("config/state/imap.json"));
    let c = ok(&format!("{MINIMAL}port = 10993\n"));
    assert_eq!(c.imap.unwrap().port, 10993);
}

#[test]
fn missing_keys() {
    assert_eq!(
        errors("[imap]\nport = 993\n"),
        "config/t.toml:1:1: error: missing key `host` in `[imap]`\n  help: add e.g. `host = \"imap.example.org\"`\n\
         config/t.toml:1:1: error: missing key `username` in `[imap]`\n  help: add e.g. `username = \"dmarc-reports\"`\n\
         config/t.toml:1:1: error: missing `password_env` or `password_file` in `[imap]`\n  help: add e.g. `password_env = \"AUTHWARDEN_IMAP_PASSWORD\"`: the mailbox needs a login"
    );
}

#[test]
fn literal_password() {
    assert_eq!(
        one_error("[imap]\nhost = \"localhost\"\nusername = \"u\"\npassword = \"hunter2\"\n"),
        "config/t.toml:4:1: error: the config file must not hold the IMAP password\n  help: set `password_env` to the name of an environment variable that holds it, or `password_file` to a file that contains it"
    );
}

#[test]
fn both_password_sources() {
    assert_eq!(
        one_error(&format!("{MINIMAL}password_file = \"pw.txt\"\n")),
        "config/t.toml:5:1: error: `password_env` and `password_file` cannot both be set\n  help: keep one of them"
    );
}

#[test]
fn security_none_only_to_loopback() {
    assert_eq!(
        one_error(&format!("{MINIMAL}security = \"none\"\n")),
        "config/t.toml:5:12: error: `security = \"none\"` is only allowed for a loopback host, and `imap.example.org` is not one\n  help: the login and any password would cross the network unencrypted; use `starttls` or `tls`"
    );
    assert_eq!(
        one_error(&format!("{MINIMAL}security = \"imaps\"\n")),
        "config/t.toml:5:12: error: unknown security `imaps`, expected one of: starttls, tls, none\n  help: did you mean `tls`?"
    );
}

#[test]
fn unknown_key_with_did_you_mean() {
    assert_eq!(
        one_error(&format!("{MINIMAL}archive = \"Done\"\n")),
        "config/t.toml:5:1: error: unknown key `archive` in `[imap]`\n  help: expected one of: `host`, `port`, `security`, `username`, `password_env`, `password_file`, `ca_file`, `folder`, `archive_folder`, `invalid_folder`, `timeout`, `max_message_size`, `poll_cron`, `state_file`"
    );
    assert_eq!(
        one_error(&format!("{MINIMAL}pol_cron = \"0 0 * * * *\"\n")),
        "config/t.toml:5:1: error: unknown key `pol_cron` in `[imap]`\n  help: did you mean `poll_cron`?"
    );
    assert_eq!(
        one_error("[ingest]\nmax_record = 5\n"),
        "config/t.toml:2:1: error: unknown key `max_record` in `[ingest]`\n  help: did you mean `max_records`?"
    );
}

#[test]
fn sizes() {
    assert_eq!(
        one_error(&format!("{MINIMAL}max_message_size = \"50MB\"\n")),
        "config/t.toml:5:20: error: invalid size `50MB` for `imap.max_message_size`: `MB` is ambiguous: sizes use binary units (KiB, MiB, GiB)\n  help: write a whole number with a unit (B, KiB, MiB or GiB), e.g. `512KiB` or `50MiB`"
    );
    assert_eq!(
        one_error(&format!("{MINIMAL}max_message_size = 52428800\n")),
        "config/t.toml:5:20: error: expected a size string like \"50MiB\" for `imap.max_message_size`, found an integer\n  help: write a whole number with a unit (B, KiB, MiB or GiB), e.g. `512KiB` or `50MiB`"
    );
    assert_eq!(
        one_error("[ingest]\nmax_decompressed = \"0MiB\"\n"),
        "config/t.toml:2:20: error: `ingest.max_decompressed` must be greater than zero"
    );
    assert_eq!(
        one_error("[ingest]\nmax_records = 0\n"),
        "config/t.toml:2:15: error: `ingest.max_records` must be between 1 and 1000000000, found 0"
    );
}

#[test]
fn every_problem_at_once() {
    assert_eq!(
        errors(&format!(
            "{MINIMAL}folder = \"Reports\"\narchive_folder = \"Reports\"\ntimeout = \"0s\"\n\
             poll_cron = \"0 0 * *\"\nport = 0\n"
        )),
        "config/t.toml:6:18: error: `imap.archive_folder` is the folder reports are read from (`Reports`)\n  help: processed and invalid messages are moved out of `folder`: give another folder\n\
         config/t.toml:7:11: error: `imap.timeout` must be greater than zero\n\
         config/t.toml:8:13: error: invalid cron expression `0 0 * *` for `imap.poll_cron`: expected 6 or 7 fields, found 4\n  help: the fields are: second minute hour day-of-month month day-of-week [year], e.g. `0 0 6 1 * *` for 06:00 on the 1st of every month\n\
         config/t.toml:9:8: error: `imap.port` must be between 1 and 65535, found 0"
    );
}

#[test]
fn reverse_dns() {
    assert!(ok("").ingest.reverse_dns);
    assert!(!ok("[ingest]\nreverse_dns = false\n").ingest.reverse_dns);
    assert!(ok("[ingest]\nreverse_dns = true\n").ingest.reverse_dns);
    let e = one_error("[ingest]\nreverse_dns = \"no\"\n");
    assert!(
        e.starts_with("config/t.toml:2:15: error: expected a boolean for `ingest.reverse_dns`"),
        "{e}"
    );
    assert_eq!(
        one_error("[ingest]\nreverse_dn = false\n"),
        "config/t.toml:2:1: error: unknown key `reverse_dn` in `[ingest]`\n  help: did you mean `reverse_dns`?"
    );
}
