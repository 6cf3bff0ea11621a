//! The job pipeline end to end: `authwarden run`, `outbox flush`, `daemon`
//! and `config validate`, the real binary against Knot DNS serving the zones
//! of `fixtures/pipeline/` and aiosmtpd on loopback.
//!
//! The four domains of the fixtures give the first run 1 error and
//! 3 warnings (see each zone's comment); `fixtures/pipeline/after/` replaces
//! two of the zones for a second run that fixes one finding and breaks
//! something new. Each test writes its own config with absolute paths, so the
//! binary's working directory does not matter, and pins the monthly job to the
//! `dmarc-policy` and `spf` checkers so that checkers added later do not change
//! these expectations.

use std::collections::BTreeSet;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use authwarden_e2e::{authwarden, copy_dir, fixtures_dir, Daemon, Run};
use authwarden_history::polars::prelude::DataFrame;
use authwarden_history::HistoryStore;
use authwarden_scheduler::JobLock;
use authwarden_test_support::dns::{zones_in_dir, KnotOptions, KnotServer};
use authwarden_test_support::smtp::{SmtpOptions, SmtpServer};
use authwarden_test_support::util::free_port;
use mail_parser::{MessageParser, MessagePart, MimeHeaders, PartType};
use tempfile::TempDir;

/// The domains of the fixtures, in report order.
const DOMAINS: [&str; 4] = ["good.test", "weak.test", "nodmarc.test", "hostile.test"];

/// The findings of the first run: (domain, severity tag as the text report
/// prints it, code, name).
const FIRST_RUN: [(&str, &str, &str, &str); 4] = [
    ("nodmarc.test", "ERROR", "DMARC001", "dmarc-record-missing"),
    ("weak.test", "WARNING", "DMARC006", "dmarc-policy-none"),
    ("weak.test", "WARNING", "SPF007", "spf-neutral-all"),
    ("hostile.test", "WARNING", "DMARC004", "dmarc-unknown-tag"),
];

/// What `hostile.test` publishes in its DMARC record's unknown tag.
const HOSTILE: &str = "<script>alert(1)</script>";

/// How long the daemon may take to produce a report.
const DAEMON_REPORT_WAIT: Duration = Duration::from_secs(20);

fn fixtures() -> PathBuf {
    fixtures_dir("pipeline")
}

fn templates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../templates")
        .canonicalize()
        .expect("the repository's templates/ folder")
}

/// Knot serving the zones of the first run, or with `after` those of the
/// second run (the zones of `after/` replace their namesakes).
fn start_dns(after: bool) -> KnotServer {
    let mut zones = zones_in_dir(&fixtures()).expect("fixtures/pipeline is readable");
    if after {
        for (origin, source) in zones_in_dir(&fixtures().join("after")).unwrap() {
            let slot = zones
                .iter_mut()
                .find(|(o, _)| *o == origin)
                .unwrap_or_else(|| panic!("after/{origin}zone replaces no zone of the first run"));
            slot.1 = source;
        }
    }
    KnotServer::start(&zones, &KnotOptions::default())
        .unwrap_or_else(|e| panic!("cannot start the test DNS server: {e}"))
}

/// How the config's `[smtp]` table is written, if at all.
enum Smtp<'a> {
    /// No `[smtp]`: messages stay in the outbox.
    Off,
    /// Plain SMTP to 127.0.0.1:port.
    Plain(u16),
    /// STARTTLS to 127.0.0.1:port, trusting the CA in this file.
    StartTls(u16, &'a Path),
}

/// The config of one test.
struct Config<'a> {
    dns: SocketAddr,
    smtp: Smtp<'a>,
    /// Extra lines of `[jobs.monthly]`.
    monthly: &'a str,
    /// Extra tables at the end.
    tail: &'a str,
    templates: PathBuf,
}

impl<'a> Config<'a> {
    fn new(dns: SocketAddr) -> Config<'a> {
        Config {
            dns,
            smtp: Smtp::Off,
            monthly: "",
            tail: "",
            templates: templates_dir(),
        }
    }

    fn text(&self, reports: &Path) -> String {
        let mut text = format!(
            "timezone = \"UTC\"\n\
             reports_dir = '{}'\n\n\
             [dns]\n\
             nameservers = [\"{}\"]\n\
             timeout = \"500ms\"\n\
             retries = 1\n\n\
             [templates]\n\
             dir = '{}'\n\n",
            reports.display(),
            self.dns,
            self.templates.display()
        );
        for domain in DOMAINS {
            text.push_str(&format!("[[domains]]\nname = \"{domain}\"\n\n"));
        }
        text.push_str(&format!(
            "[jobs.monthly]\n\
             recipients = [\"postmaster@good.test\"]\n\
             checkers = [\"dmarc-policy\", \"spf\"]\n\
             {}\n\n",
            self.monthly
        ));
        let smtp = |port: u16, security: &str| {
            format!(
                "[smtp]\n\
                 host = \"127.0.0.1\"\n\
                 port = {port}\n\
                 security = \"{security}\"\n\
                 from = \"authwarden <authwarden@good.test>\"\n\
                 timeout = \"10s\"\n"
            )
        };
        match self.smtp {
            Smtp::Off => {}
            Smtp::Plain(port) => text.push_str(&smtp(port, "none")),
            Smtp::StartTls(port, ca) => {
                text.push_str(&smtp(port, "starttls"));
                text.push_str(&format!("ca_file = '{}'\n", ca.display()));
            }
        }
        text.push('\n');
        text.push_str(self.tail);
        text
    }
}

/// A temporary directory with the config file and the reports directory.
struct Setup {
    dir: TempDir,
}

impl Setup {
    fn new(config: &Config<'_>) -> Setup {
        let setup = Setup {
            dir: tempfile::Builder::new()
                .prefix("authwarden-pipeline-")
                .tempdir()
                .unwrap(),
        };
        setup.write_config(config);
        setup
    }

    fn write_config(&self, config: &Config<'_>) {
        fs::write(self.config(), config.text(&self.reports())).unwrap();
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("authwarden.toml")
    }

    fn reports(&self) -> PathBuf {
        self.dir.path().join("reports")
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.reports().join(rel)
    }

    /// `authwarden ARGS... --config <this config>`.
    fn authwarden(&self, args: &[&str]) -> Run {
        let config = self.config();
        let mut all = args.to_vec();
        all.extend_from_slice(&["--config", config.to_str().unwrap()]);
        authwarden(&all)
    }

    /// The `.eml` files in `reports/<sub>`, sorted.
    fn emls(&self, sub: &str) -> Vec<PathBuf> {
        files_with_suffix(&self.path(sub), ".eml")
    }

    fn history(&self) -> HistoryStore {
        HistoryStore::new(self.path("data"))
    }
}

fn files_with_suffix(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = match fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(suffix))
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
}

/// The names of the entries of `dir` (none when it does not exist).
fn entries(dir: &Path) -> BTreeSet<String> {
    match fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => BTreeSet::new(),
    }
}

/// The period and run id from the first line of `run`'s text output,
/// `monthly 2026-11 (20261101T060000000Z-monthly): 4 domains, ...`.
fn period_and_run_id(run: &Run) -> (String, String) {
    let line = run.stdout.lines().next().unwrap_or_default();
    let parsed = line.strip_prefix("monthly ").and_then(|rest| {
        let (period, rest) = rest.split_once(" (")?;
        let (run_id, _) = rest.split_once("): ")?;
        Some((period.to_string(), run_id.to_string()))
    });
    let (period, run_id) =
        parsed.unwrap_or_else(|| panic!("no `monthly PERIOD (RUN ID): ...` line: {run}"));
    let is_month = period.len() == 7
        && period.as_bytes()[4] == b'-'
        && period
            .chars()
            .enumerate()
            .all(|(i, c)| i == 4 || c.is_ascii_digit());
    assert!(is_month, "the monthly period is YYYY-MM: {run}");
    (period, run_id)
}

/// Whitespace runs folded to one space: the text report aligns and wraps.
fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The MIME type of a part, lower-case, e.g. `multipart/related`.
fn mime(part: &MessagePart<'_>) -> String {
    part.content_type()
        .map(|ct| {
            format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or_default()).to_ascii_lowercase()
        })
        .unwrap_or_default()
}

fn ca_file(server: &SmtpServer, dir: &Path) -> PathBuf {
    let path = dir.join("test-ca.pem");
    fs::write(&path, server.ca_pem().expect("a TLS server has a CA")).unwrap();
    path
}

#[test]
fn run_monthly_mails_the_report_over_starttls() {
    let dns = start_dns(false);
    let smtp = SmtpServer::start(SmtpOptions {
        starttls: true,
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("cannot start the test SMTP server: {e}"));
    let ca_dir = tempfile::tempdir().unwrap();
    let ca = ca_file(&smtp, ca_dir.path());
    let mut config = Config::new(dns.addr());
    config.smtp = Smtp::StartTls(smtp.port(), &ca);
    let setup = Setup::new(&config);

    let run = setup.authwarden(&["run", "monthly"]);
    assert_eq!(run.code(), 0, "{run}");
    let (period, run_id) = period_and_run_id(&run);
    assert!(
        run.stdout
            .contains("4 domains, 1 error, 3 warnings, 0 notes; 4 new, 0 still open, 0 resolved"),
        "{run}"
    );

    // Delivered once, and moved from the outbox to sent/.
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1, "{run}");
    assert_eq!(setup.emls("outbox"), Vec::<PathBuf>::new(), "{run}");
    let sent = setup.emls("sent");
    assert_eq!(sent.len(), 1, "{run}");
    assert!(
        run.stdout
            .contains(&format!("sent ({})", sent[0].display())),
        "{run}"
    );

    let message = MessageParser::default()
        .parse(&messages[0])
        .expect("the received message parses");
    let subject = message.subject().unwrap_or_default();
    assert_eq!(
        subject,
        format!("authwarden monthly report {period} — 1 error, 3 warnings"),
        "{run}"
    );
    assert!(message.date().is_some(), "a Date header");
    let message_id = message.message_id().expect("a Message-ID header");
    let stored = fs::read(&sent[0]).unwrap();
    let stored = MessageParser::default().parse(&stored).unwrap();
    assert_eq!(
        stored.message_id(),
        Some(message_id),
        "sent/ holds the message that was delivered"
    );

    // multipart/alternative { text/plain, multipart/related { text/html, image/png } }
    let part = |id: u32| message.part(id).expect("a listed part exists");
    let root = message.root_part();
    assert_eq!(mime(root), "multipart/alternative");
    let children = root.sub_parts().expect("the root is multipart");
    assert_eq!(children.len(), 2, "text and related");
    let text_part = part(children[0]);
    assert_eq!(mime(text_part), "text/plain");
    let related = part(children[1]);
    assert_eq!(mime(related), "multipart/related");
    let related_children = related.sub_parts().unwrap();
    assert_eq!(related_children.len(), 2, "html and the chart");
    let html_part = part(related_children[0]);
    assert_eq!(mime(html_part), "text/html");
    let image = part(related_children[1]);
    assert_eq!(mime(image), "image/png");
    assert!(
        matches!(image.body, PartType::Binary(_) | PartType::InlineBinary(_)),
        "the image is binary"
    );
    assert!(
        image.contents().starts_with(b"\x89PNG\r\n\x1a\n"),
        "the image is a PNG"
    );
    let cid = image
        .content_id()
        .expect("the image has a Content-ID")
        .trim_matches(|c| c == '<' || c == '>')
        .to_string();
    assert!(!cid.is_empty());

    let text = text_part.text_contents().unwrap();
    let html = html_part.text_contents().unwrap();
    assert!(
        html.contains(&format!("src=\"cid:{cid}\"")),
        "the HTML shows the inline image {cid}:\n{html}"
    );

    // The findings, in the text part.
    let flat = squash(text);
    for (domain, severity, code, name) in FIRST_RUN {
        assert!(
            flat.contains(&format!("[{severity}] {code} {name} (new)")),
            "{code} of {domain} in the text part:\n{text}"
        );
        assert!(html.contains(code), "{code} in the HTML part");
    }
    for domain in DOMAINS {
        assert!(flat.contains(domain), "{domain} in the text part:\n{text}");
    }
    assert!(flat.contains("New since the last run: 4"), "{text}");

    // The hostile value: text in the HTML, plain in the text part.
    let escaped = "&lt;script&gt;alert(1)&lt;/script&gt;";
    assert!(html.contains(escaped), "escaped in the HTML:\n{html}");
    assert!(
        !html.to_ascii_lowercase().contains("<script"),
        "no script element in the HTML:\n{html}"
    );
    assert!(
        text.contains(HOSTILE),
        "shown as is in the text part:\n{text}"
    );

    // The report files and the history.
    let report_dir = setup.path(&format!("monthly/{period}"));
    let report_html = fs::read_to_string(report_dir.join("report.html")).unwrap();
    let report_txt = fs::read_to_string(report_dir.join("report.txt")).unwrap();
    assert!(report_html.contains(escaped));
    assert!(!report_html.to_ascii_lowercase().contains("<script"));
    assert_eq!(
        squash(&report_txt),
        squash(text),
        "report.txt is the text part"
    );
    let findings_dir = setup.path(&format!("data/findings/job=monthly/period={period}"));
    assert_eq!(
        entries(&findings_dir),
        BTreeSet::from([format!("{run_id}.parquet")]),
        "{run}"
    );
}

#[test]
fn smtp_down_keeps_the_message_in_the_outbox_until_a_flush_delivers_it_once() {
    let dns = start_dns(false);
    // Nobody listens here yet.
    let port = free_port();
    let mut config = Config::new(dns.addr());
    config.smtp = Smtp::Plain(port);
    let setup = Setup::new(&config);

    let run = setup.authwarden(&["run", "monthly"]);
    // The report is written; exit status 4 says the mail waits in the outbox.
    assert_eq!(
        run.code(),
        4,
        "a failed send leaves the message queued: {run}"
    );
    let queued = setup.emls("outbox");
    assert_eq!(queued.len(), 1, "{run}");
    assert_eq!(setup.emls("sent"), Vec::<PathBuf>::new(), "{run}");
    assert!(
        run.stdout
            .contains(&format!("waiting in the outbox ({})", queued[0].display())),
        "{run}"
    );
    assert!(
        run.stdout.contains("not sent:"),
        "the reason is shown: {run}"
    );

    let smtp = SmtpServer::start(SmtpOptions {
        port: Some(port),
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("cannot start the test SMTP server on {port}: {e}"));
    let flush = setup.authwarden(&["outbox", "flush"]);
    assert_eq!(flush.code(), 0, "{flush}");
    assert!(
        flush.stdout.contains("1 sent, 0 still in the outbox"),
        "{flush}"
    );
    assert_eq!(smtp.messages().len(), 1, "{flush}");
    assert_eq!(setup.emls("outbox"), Vec::<PathBuf>::new(), "{flush}");
    let sent = setup.emls("sent");
    assert_eq!(
        sent.iter().map(|p| p.file_name()).collect::<Vec<_>>(),
        vec![queued[0].file_name()],
        "the same file moved to sent/"
    );
    let received = MessageParser::default()
        .parse(&smtp.messages()[0])
        .unwrap()
        .subject()
        .unwrap_or_default()
        .to_string();
    assert!(
        received.starts_with("authwarden monthly report "),
        "{received}"
    );

    let again = setup.authwarden(&["outbox", "flush"]);
    assert_eq!(again.code(), 0, "{again}");
    assert!(
        again.stdout.contains("0 sent, 0 still in the outbox"),
        "{again}"
    );
    assert_eq!(smtp.messages().len(), 1, "delivered exactly once");
    assert_eq!(setup.emls("sent").len(), 1);
}

/// Waits until the wall clock is in a later second than now. Run ids have
/// one-second resolution, and two runs started in the same second collide
/// (see `two_runs_in_the_same_second_are_two_runs_in_the_history`); this test
/// is about the comparison, not about that.
fn next_second() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    thread::sleep(Duration::from_nanos(
        1_000_000_000 - u64::from(now.subsec_nanos()) + 10_000_000,
    ));
}

/// The `(domain, code)` pairs of a findings frame read back from history.
fn codes(df: &DataFrame) -> BTreeSet<(String, String)> {
    let domain = df.column("domain").unwrap().str().unwrap();
    let code = df.column("code").unwrap().str().unwrap();
    domain
        .iter()
        .zip(code.iter())
        .map(|(d, c)| (d.unwrap().to_string(), c.unwrap().to_string()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    list.iter()
        .map(|(d, c)| (d.to_string(), c.to_string()))
        .collect()
}

#[test]
fn a_second_run_after_a_dns_change_splits_new_still_open_and_resolved() {
    let before = start_dns(false);
    let after = start_dns(true);
    let mut config = Config::new(before.addr());
    let setup = Setup::new(&config);

    let first = setup.authwarden(&["run", "monthly"]);
    assert_eq!(first.code(), 0, "{first}");
    assert!(
        first
            .stdout
            .contains("1 error, 3 warnings, 0 notes; 4 new, 0 still open, 0 resolved"),
        "{first}"
    );
    let (_, first_id) = period_and_run_id(&first);

    // weak.test moves to p=reject (DMARC006 resolved); good.test loses its
    // SPF `all` term (SPF008 new); the other three findings stay.
    config.dns = after.addr();
    setup.write_config(&config);
    next_second();
    let second = setup.authwarden(&["run", "monthly"]);
    assert_eq!(second.code(), 0, "{second}");
    assert!(
        second
            .stdout
            .contains("1 error, 3 warnings, 0 notes; 1 new, 3 still open, 1 resolved"),
        "{second}"
    );
    let (period, second_id) = period_and_run_id(&second);

    let report = fs::read_to_string(setup.path(&format!("monthly/{period}/report.txt"))).unwrap();
    let flat = squash(&report);
    for expected in [
        "New since the last run: 1",
        "Still open from earlier runs: 3",
        "Resolved since the last run: 1",
        "[WARNING] SPF008 spf-no-all (new)",
        "[RESOLVED] DMARC006 dmarc-policy-none",
    ] {
        assert!(flat.contains(expected), "`{expected}` in:\n{report}");
    }
    // Still open: no "(new)" mark, and how long it has been open.
    assert!(
        flat.contains("[ERROR] DMARC001 dmarc-record-missing "),
        "{report}"
    );
    assert!(
        !flat.contains("DMARC001 dmarc-record-missing (new)"),
        "{report}"
    );
    assert!(flat.contains("open for 2 runs"), "{report}");

    // The history reads back with polars.
    let store = setup.history();
    let runs = store.runs("monthly").unwrap();
    let ids: Vec<&str> = runs.iter().map(|r| r.run_id.as_str()).collect();
    assert_eq!(ids, [first_id.as_str(), second_id.as_str()]);
    assert_eq!(
        codes(&store.load_findings("monthly", &first_id).unwrap()),
        pairs(&[
            ("nodmarc.test", "DMARC001"),
            ("weak.test", "DMARC006"),
            ("weak.test", "SPF007"),
            ("hostile.test", "DMARC004"),
        ])
    );
    assert_eq!(
        codes(&store.load_findings("monthly", &second_id).unwrap()),
        pairs(&[
            ("nodmarc.test", "DMARC001"),
            ("good.test", "SPF008"),
            ("weak.test", "SPF007"),
            ("hostile.test", "DMARC004"),
        ])
    );
    assert!(store.warnings().is_empty(), "{:?}", store.warnings());
}

#[test]
fn two_runs_back_to_back_are_two_runs_in_the_history() {
    // Run ids are kept to the millisecond: two runs started in the same
    // second (a retry right after a run) stay two runs.
    let dns = start_dns(false);
    let setup = Setup::new(&Config::new(dns.addr()));
    let first = setup.authwarden(&["run", "monthly"]);
    let second = setup.authwarden(&["run", "monthly"]);
    assert_eq!(first.code(), 0, "{first}");
    assert_eq!(second.code(), 0, "{second}");
    let runs = setup.history().runs("monthly").unwrap();
    assert_eq!(
        runs.len(),
        2,
        "each run is kept in the history: {runs:#?}\n{first}\n{second}"
    );
    assert_ne!(runs[0].run_id, runs[1].run_id);
    assert!(
        second.stdout.contains("0 new, 4 still open, 0 resolved"),
        "the second run is compared with the first:\n{first}\n{second}"
    );
}

#[test]
fn the_job_lock_refuses_a_second_runner_and_names_the_holder() {
    let dns = start_dns(false);
    let setup = Setup::new(&Config::new(dns.addr()));
    let lock = JobLock::acquire(&setup.path("state"), "monthly").unwrap();

    let refused = setup.authwarden(&["run", "monthly"]);
    assert_ne!(refused.code(), 0, "{refused}");
    assert!(
        refused.stderr.contains("already running")
            && refused
                .stderr
                .contains(&format!("pid {} since", std::process::id())),
        "the message names the holder: {refused}"
    );
    assert!(
        !setup.path("monthly").exists() && setup.emls("outbox").is_empty(),
        "a refused run does nothing: {refused}"
    );
    assert!(setup.history().runs("monthly").unwrap().is_empty());

    drop(lock);
    let run = setup.authwarden(&["run", "monthly"]);
    assert_eq!(run.code(), 0, "{run}");
    assert_eq!(setup.emls("outbox").len(), 1, "{run}");
    assert_eq!(setup.history().runs("monthly").unwrap().len(), 1);
}

#[test]
fn the_daemon_fires_the_job_on_its_cron_and_stops_on_sigterm() {
    let dns = start_dns(false);
    let mut config = Config::new(dns.addr());
    config.monthly = "cron = \"* * * * * *\"";
    config.tail = "[jobs.quarterly]\nenabled = false\n\n[jobs.annual]\nenabled = false\n";
    let setup = Setup::new(&config);

    let mut daemon = Daemon::start(&setup.config(), setup.dir.path());
    let monthly = setup.path("monthly");
    daemon.wait_for("monthly report", DAEMON_REPORT_WAIT, |_| {
        entries(&monthly)
            .iter()
            .any(|period| monthly.join(period).join("report.txt").is_file())
    });
    let status = daemon.terminate();
    assert_eq!(status.code(), Some(0), "log:\n{}", daemon.log());

    let runs = setup.history().runs("monthly").unwrap();
    assert!(!runs.is_empty(), "log:\n{}", daemon.log());
    // Every run the daemon started ended with its message queued.
    assert_eq!(
        setup.emls("outbox").len(),
        runs.len(),
        "log:\n{}",
        daemon.log()
    );
    assert!(
        !setup.path("quarterly").exists() && !setup.path("annual").exists(),
        "disabled jobs do not run; log:\n{}",
        daemon.log()
    );
}

#[test]
fn the_daemon_catches_up_a_missed_run_exactly_once() {
    let dns = start_dns(false);
    // Default cron expressions; only the monthly job has run before, long ago.
    let setup = Setup::new(&Config::new(dns.addr()));
    let state = setup.path("state/schedule.json");
    fs::create_dir_all(state.parent().unwrap()).unwrap();
    fs::write(
        &state,
        "{ \"last_completed\": { \"monthly\": \"2020-01-01T06:00:00Z\" } }\n",
    )
    .unwrap();

    let mut daemon = Daemon::start(&setup.config(), setup.dir.path());
    // After the catch-up the daemon plans its next slots: it is idle, so a
    // second catch-up run would have started by now.
    daemon.wait_for("idle plan after the catch-up", DAEMON_REPORT_WAIT, |d| {
        let log = d.log();
        log.find("completed in").is_some_and(|at| {
            log[at..]
                .lines()
                .skip(1)
                .any(|line| line.contains("next: monthly at"))
        })
    });
    let status = daemon.terminate();
    let log = daemon.log();
    assert_eq!(status.code(), Some(0), "log:\n{log}");

    assert_eq!(setup.emls("outbox").len(), 1, "one message; log:\n{log}");
    assert_eq!(entries(&setup.path("monthly")).len(), 1, "log:\n{log}");
    assert_eq!(
        setup.history().runs("monthly").unwrap().len(),
        1,
        "one run; log:\n{log}"
    );
    assert_eq!(log.matches("catch up").count(), 1, "log:\n{log}");
    // Jobs with no recorded run wait for their next slot.
    assert!(
        !setup.path("quarterly").exists() && !setup.path("annual").exists(),
        "log:\n{log}"
    );
    let recorded = fs::read_to_string(&state).unwrap();
    assert!(
        !recorded.contains("2020-01-01"),
        "the catch-up is recorded as the last completion: {recorded}"
    );
}

/// Whether `text` names `file` with a line number: `FILE:LINE:`.
fn names_file_and_line(text: &str, file: &Path) -> bool {
    let prefix = format!("{}:", file.display());
    text.match_indices(&prefix).any(|(at, _)| {
        let rest = &text[at + prefix.len()..];
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        digits > 0 && rest[digits..].starts_with(':')
    })
}

/// A copy of the repository's templates in `dir` whose `monthly.html.hbs`
/// ends in an unclosed block; returns the folder and the broken file.
fn broken_templates(dir: &Path) -> (PathBuf, PathBuf) {
    let folder = dir.join("broken-templates");
    copy_dir(&templates_dir(), &folder);
    let file = folder.join("monthly.html.hbs");
    let mut source = fs::read_to_string(&file).unwrap();
    source.push_str("{{#if summary}}\n");
    fs::write(&file, source).unwrap();
    (folder, file)
}

#[test]
fn config_validate_rejects_a_missing_or_broken_template_folder() {
    let dns = start_dns(false);
    // The repository's templates: valid.
    let setup = Setup::new(&Config::new(dns.addr()));
    let ok = setup.authwarden(&["config", "validate"]);
    assert_eq!(ok.code(), 0, "{ok}");

    // A folder that does not exist.
    let mut config = Config::new(dns.addr());
    config.templates = setup.dir.path().join("no-such-templates");
    setup.write_config(&config);
    let missing = setup.authwarden(&["config", "validate"]);
    assert_eq!(missing.code(), 2, "{missing}");
    assert!(
        missing.stderr.contains("no-such-templates"),
        "the folder is named: {missing}"
    );

    // A template with an unclosed block.
    let (folder, file) = broken_templates(setup.dir.path());
    config.templates = folder;
    setup.write_config(&config);
    let invalid = setup.authwarden(&["config", "validate"]);
    assert_eq!(invalid.code(), 2, "{invalid}");
    assert!(
        names_file_and_line(&invalid.stderr, &file),
        "file:line of the broken template: {invalid}"
    );
}

#[test]
fn a_run_that_fails_on_its_templates_sends_nothing_and_records_nothing() {
    let dns = start_dns(false);
    let dir = tempfile::tempdir().unwrap();
    let (folder, file) = broken_templates(dir.path());
    let mut config = Config::new(dns.addr());
    config.templates = folder;
    let setup = Setup::new(&config);

    let run = setup.authwarden(&["run", "monthly"]);
    assert_eq!(run.code(), 2, "{run}");
    assert!(names_file_and_line(&run.stderr, &file), "{run}");
    assert!(setup.emls("outbox").is_empty(), "no message: {run}");
    assert!(
        !setup.path("state/schedule.json").exists(),
        "not recorded as completed for the scheduler: {run}"
    );
    // Nobody saw this run's findings: were it kept, the next report would
    // call them "still open" instead of new.
    assert_eq!(
        setup.history().runs("monthly").unwrap(),
        Vec::new(),
        "a failed run is not committed to the history: {run}"
    );
}
