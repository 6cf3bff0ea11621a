//! Batch ingest of files and folders: every payload parsed on all cores,
//! one error per broken input, duplicates dropped by (org_name, report_id).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::budget::Meter;
use crate::label::path_label;
use crate::payload::stream_path_metered;
use crate::{AggregateReport, FailedInputs, Limits, Payload};

/// What a batch ingest produced.
#[derive(Debug, Default, serde::Serialize)]
pub struct IngestResult {
    /// Parsed reports, first occurrence of each (org_name, report_id), with
    /// their source (`file` or `file#member`).
    pub reports: Vec<(String, AggregateReport)>,
    /// Inputs that could not be read: source and reason
    /// (`"invalid_xml: ... (at byte 120)"`).
    pub errors: Vec<(String, String)>,
    /// Reports dropped as duplicates: the duplicate's source and the source
    /// of the report it repeats.
    pub duplicates: Vec<(String, String)>,
}

/// Files Maildir and mail servers keep beside messages.
fn is_mailstore_metadata(name: &str) -> bool {
    name.starts_with("dovecot")
        || name.starts_with("courierimap")
        || matches!(name, "maildirfolder" | "subscriptions" | ".DS_Store")
}

/// Files found in a folder that are documentation or data of another kind
/// (a README, a SOURCES.txt beside a corpus, an export), never reports: a
/// folder walk skips them. Named explicitly, they are still tried.
fn is_not_a_report(name: &str) -> bool {
    const OTHER: &[&str] = &[
        "txt", "md", "rst", "html", "htm", "pdf", "csv", "json", "parquet", "toml", "yaml", "yml",
        "log", "py", "sh",
    ];
    name.rsplit_once('.')
        .is_some_and(|(_, ext)| OTHER.iter().any(|o| ext.eq_ignore_ascii_case(o)))
}

/// A `.json` file in a folder that is an SMTP TLS report, by its first
/// bytes: other JSON (exports, settings) is still skipped.
fn is_tls_json(path: &Path, name: &str) -> bool {
    use std::io::Read;
    if !name
        .rsplit_once('.')
        .is_some_and(|(_, ext)| ext.eq_ignore_ascii_case("json"))
    {
        return false;
    }
    let mut head = Vec::with_capacity(4096);
    std::fs::File::open(path)
        .and_then(|f| f.take(4096).read_to_end(&mut head))
        .is_ok()
        && crate::tlsrpt::mentions_tls_keys(&head)
}

fn collect(path: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<(String, String)>) {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            errors.push((
                path_label(&path.display().to_string()).into_owned(),
                format!("io: {e}"),
            ));
            return;
        }
    };
    if meta.is_file() {
        files.push(path.to_owned());
        return;
    }
    if !meta.is_dir() {
        return;
    }
    let entries = match std::fs::read_dir(path) {
        Ok(rd) => rd,
        Err(e) => {
            errors.push((
                path_label(&path.display().to_string()).into_owned(),
                format!("io: {e}"),
            ));
            return;
        }
    };
    let mut children: Vec<_> = entries.flatten().collect();
    children.sort_by_key(|e| e.file_name());
    for entry in children {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let Ok(ft) = entry.file_type() else { continue };
        // A symlinked folder is not followed, so a link loop cannot hang us.
        if ft.is_dir() {
            collect(&entry.path(), files, errors);
        } else if !is_mailstore_metadata(&name)
            && (!is_not_a_report(&name) || is_tls_json(&entry.path(), &name))
            && (ft.is_file() || ft.is_symlink())
        {
            files.push(entry.path());
        }
    }
}

/// What [`visit_payloads`] gives for each input: the handler's result for
/// a payload, or the source and reason of a file or folder that could not
/// be read (as a whole, or past a spent work budget), or was skipped.
pub type Visit<T> = Result<(String, T), (String, String)>;

/// What one file gave, and why it should be remembered as failed.
struct FileVisit<T> {
    visits: Vec<Visit<T>>,
    /// The reason the file failed as a whole (not an I/O error, which may
    /// pass), or a budget ran out.
    failed: Option<String>,
    /// Payloads handed to the handler.
    payloads: usize,
    skipped: bool,
}

fn visit_file<T>(
    path: &Path,
    limits: &Limits,
    skip: Option<&FailedInputs>,
    handle: &(impl Fn(&Payload) -> T + Sync),
) -> FileVisit<T> {
    let label = path_label(&path.display().to_string()).into_owned();
    if let Some(f) = skip.and_then(|s| s.remembered(path)) {
        return FileVisit {
            visits: vec![Err((label, f.skip_message()))],
            failed: None,
            payloads: 0,
            skipped: true,
        };
    }
    let meter = Meter::new(limits);
    let mut visits = Vec::new();
    let mut payloads = 0;
    let res = stream_path_metered(path, label.clone(), limits, &meter, &mut |p| {
        payloads += 1;
        let result = handle(&p);
        // The payload that ran out of budget is reported as the file's
        // error below, not as a result of its own.
        if meter.spent().is_none() {
            visits.push(Ok((p.source().to_owned(), result)));
        }
    });
    let failed = match res {
        Ok(()) => None,
        Err(e) => {
            let reason = e.to_string();
            visits.push(Err((label, reason.clone())));
            (e.code() != "io").then_some(reason)
        }
    };
    FileVisit {
        visits,
        failed,
        payloads,
        skipped: false,
    }
}

/// Walks files and folders like [`ingest_paths`] and calls `handle` for
/// every payload (a file, a zip member, a mail attachment), files spread
/// over the available cores. The results keep the order of the (sorted)
/// input.
///
/// Containers are streamed: a payload is handed to `handle` as soon as it
/// is found and dropped when `handle` returns, so a handler that streams
/// ([`Payload::parse_with`]) keeps memory bounded (see
/// [`stream_path`](crate::stream_path)) however many and however large the
/// reports and members are; only the handler's results are kept.
///
/// Each file has its work budget ([`Limits::max_work_bytes`],
/// [`Limits::max_work_time`]): when one runs out, the rest of the file is
/// not read and the file gets one `Err` naming the budget
/// (`work_budget_bytes: …`); the results of the payloads handled before
/// stay, the payload being read when it ran out gives no result of its own.
pub fn visit_payloads<P, T, F>(
    paths: impl IntoIterator<Item = P>,
    limits: &Limits,
    handle: F,
) -> Vec<Visit<T>>
where
    P: AsRef<Path>,
    T: Send,
    F: Fn(&Payload) -> T + Sync,
{
    visit(paths, limits, None, &handle)
        .into_iter()
        .flat_map(|(_, v)| v.visits)
        .collect()
}

/// [`visit_payloads`], skipping the files `failed` remembers as failed and
/// unchanged since: each is one `Err` with
/// `skipped: failed before with <reason> (unchanged since <when>)`, and is
/// not opened.
///
/// `failed` learns from the visit: a file is remembered when it failed as
/// a whole (other than an I/O error, which may pass), when a work budget
/// ran out, or when it gave payloads and `failure` says each of them
/// failed (`failure` returns the reason from a handler's result, `None` for
/// a success); a file that was read without such a failure is forgotten.
/// The caller saves `failed` ([`FailedInputs::save`]) after the visit.
pub fn visit_payloads_skipping<P, T, F, R>(
    paths: impl IntoIterator<Item = P>,
    limits: &Limits,
    failed: &mut FailedInputs,
    handle: F,
    failure: R,
) -> Vec<Visit<T>>
where
    P: AsRef<Path>,
    T: Send,
    F: Fn(&Payload) -> T + Sync,
    R: Fn(&T) -> Option<String>,
{
    let files = visit(paths, limits, Some(failed), &handle);
    let mut out = Vec::new();
    for (path, v) in files {
        if let Some(path) = path.filter(|_| !v.skipped) {
            let all_failed = || {
                let reasons: Vec<String> = v
                    .visits
                    .iter()
                    .filter_map(|x| x.as_ref().ok().and_then(|(_, t)| failure(t)))
                    .collect();
                (v.payloads > 0 && reasons.len() == v.payloads)
                    .then(|| reasons.into_iter().next())
                    .flatten()
            };
            match v.failed.clone().or_else(all_failed) {
                Some(reason) => {
                    failed.remember(&path, &reason);
                }
                None => {
                    failed.forget(&path);
                }
            }
        }
        out.extend(v.visits);
    }
    out
}

/// The walk and the workers: per input (file or an unreadable path), what
/// it gave, with the file's path.
fn visit<P, T, F>(
    paths: impl IntoIterator<Item = P>,
    limits: &Limits,
    skip: Option<&FailedInputs>,
    handle: &F,
) -> Vec<(Option<PathBuf>, FileVisit<T>)>
where
    P: AsRef<Path>,
    T: Send,
    F: Fn(&Payload) -> T + Sync,
{
    let mut out = Vec::new();
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        collect(p.as_ref(), &mut files, &mut errors);
    }
    out.extend(errors.into_iter().map(|e| {
        (
            None,
            FileVisit {
                visits: vec![Err(e)],
                failed: None,
                payloads: 0,
                skipped: false,
            },
        )
    }));
    let outcomes: Vec<Mutex<Option<FileVisit<T>>>> =
        files.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(files.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(path) = files.get(i) else { break };
                let outcome = visit_file(path, limits, skip, handle);
                *outcomes[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome);
            });
        }
    });
    for (path, slot) in files.into_iter().zip(outcomes) {
        if let Some(v) = slot.into_inner().unwrap_or_else(|e| e.into_inner()) {
            out.push((Some(path), v));
        }
    }
    out
}

/// Ingests files and folders (recursively; a Maildir is just files; files
/// such as `README.md` or `*.txt` inside folders are skipped). Files
/// are parsed in parallel on the available cores; results keep the order of
/// the (sorted) input. A broken file or member is one entry in `errors` and
/// the batch goes on.
///
/// Every report is held in memory; [`visit_payloads`] with
/// [`Payload::parse_with`] streams instead.
pub fn ingest_paths<P: AsRef<Path>>(
    paths: impl IntoIterator<Item = P>,
    limits: &Limits,
) -> IngestResult {
    let mut result = IngestResult::default();
    let visits = visit_payloads(paths, limits, |p| p.parse(limits));
    let mut seen: HashMap<(String, String), String> = HashMap::new();
    for item in visits {
        let item = match item {
            Ok((source, Ok(report))) => Ok((source, report)),
            Ok((source, Err(e))) => Err((source, e.to_string())),
            Err(e) => Err(e),
        };
        match item {
            Ok((source, report)) => {
                let key = (
                    report.metadata.org_name.clone(),
                    report.metadata.report_id.clone(),
                );
                if let Some(first) = seen.get(&key) {
                    result.duplicates.push((source, first.clone()));
                } else {
                    seen.insert(key, source.clone());
                    result.reports.push((source, report));
                }
            }
            Err(e) => result.errors.push(e),
        }
    }
    result
}
