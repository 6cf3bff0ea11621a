//! Batch ingest of files and folders: every payload parsed on all cores,
//! one error per broken input, duplicates dropped by (org_name, report_id).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::{open_path, AggregateReport, Limits, Payload};

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

fn collect(path: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<(String, String)>) {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            errors.push((path.display().to_string(), format!("io: {e}")));
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
            errors.push((path.display().to_string(), format!("io: {e}")));
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
            && !is_not_a_report(&name)
            && (ft.is_file() || ft.is_symlink())
        {
            files.push(entry.path());
        }
    }
}

/// What [`visit_payloads`] gives for each input: the handler's result for
/// a payload, or the source and reason of a file or folder that could not
/// be opened at all.
pub type Visit<T> = Result<(String, T), (String, String)>;

fn visit_file<T>(
    path: &Path,
    limits: &Limits,
    handle: &(impl Fn(&Payload) -> T + Sync),
) -> Vec<Visit<T>> {
    let payloads = match open_path(path, limits) {
        Ok(p) => p,
        Err(e) => return vec![Err((path.display().to_string(), e.to_string()))],
    };
    payloads
        .into_iter()
        .map(|p| Ok((p.source().to_owned(), handle(&p))))
        .collect()
}

/// Walks files and folders like [`ingest_paths`] and calls `handle` for
/// every payload (a file, a zip member, a mail attachment), files spread
/// over the available cores. The results keep the order of the (sorted)
/// input. Only one file's payloads are held per core at a time, so a
/// handler that streams ([`Payload::parse_with`]) keeps memory bounded
/// however many and however large the reports are.
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
    let mut out = Vec::new();
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        collect(p.as_ref(), &mut files, &mut errors);
    }
    out.extend(errors.into_iter().map(Err));
    let outcomes: Vec<Mutex<Option<Vec<Visit<T>>>>> =
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
                let outcome = visit_file(path, limits, &handle);
                *outcomes[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome);
            });
        }
    });
    for slot in outcomes {
        out.extend(
            slot.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .unwrap_or_default(),
        );
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
