//! The file-system part of validation: every file and folder the config
//! names is looked at once the document has been walked, and each problem
//! is reported at the key's value, like any other config error.
//!
//! Inputs must be there and usable now (a password file, a CA file, a zone
//! file that parses, a report folder, the templates folder, an external
//! checker's program), so that a run stops before any work rather than at
//! the end. Outputs (the reports and history folders, the IMAP state file)
//! are created when first written: one that does not exist yet is normal,
//! and only a path that can never be created is an error (it, or a folder
//! above it, is a file).

use std::ops::Range;
use std::path::{Path, PathBuf};

use authwarden_zone::{Zone, ZoneError};

use crate::error::Sink;

/// What the config expects a path to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A file that is read whole: `password_file`.
    File,
    /// A PEM file with at least one certificate: `ca_file`.
    CaFile,
    /// A zone file that must parse: `dns.zone_files`.
    ZoneFile,
    /// A report folder or file: `ingest.folders`.
    FileOrFolder,
    /// A folder that is read: `templates.dir`.
    Folder,
    /// A folder that is created when missing: `reports_dir`, `history_dir`.
    OutputFolder,
    /// A file that is created when missing: `imap.state_file`.
    OutputFile,
    /// The program of an external checker's `command` given as a path
    /// (with a `/`; a relative one is resolved against the config file's
    /// folder).
    Program,
    /// The program of an external checker's `command` given as a bare
    /// name, looked up in `PATH`.
    ProgramInPath,
}

/// A path the config names, with where it is written.
#[derive(Debug, Clone)]
pub(crate) struct FileRef {
    /// The key, e.g. `smtp.password_file` or `dns.zone_files`.
    pub key: String,
    /// The value as written.
    pub written: String,
    /// The path as the loader resolves it (for a bare program name, the name).
    pub path: PathBuf,
    /// The span of the value (of the array element, for lists).
    pub span: Range<usize>,
    pub kind: Kind,
}

/// Checks every referenced path, in file order, reporting to `sink`.
pub(crate) fn check(sink: &mut Sink<'_>, refs: &[FileRef]) {
    // Zone files are merged in order, as the resolver loads them, so that a
    // conflict between two files is found here too.
    let mut zones = Zone::new();
    for r in refs {
        let problem = match r.kind {
            Kind::File => readable_file(&r.path).err(),
            Kind::CaFile => ca_file(&r.path).err(),
            Kind::ZoneFile => match zone_file(&r.path, &r.written, &mut zones) {
                Ok(Ok(())) => None,
                Ok(Err(e)) => {
                    zone_error(sink, r, &e);
                    continue;
                }
                Err(p) => Some(p),
            },
            Kind::FileOrFolder => file_or_folder(&r.path).err(),
            Kind::Folder => readable_folder(&r.path).err(),
            Kind::OutputFolder => output(&r.path, true).err(),
            Kind::OutputFile => output(&r.path, false).err(),
            Kind::Program => program(&r.path).err(),
            Kind::ProgramInPath => program_in_path(&r.written).err(),
        };
        if let Some(problem) = problem {
            let (message, help) = problem.describe(r);
            sink.push(r.span.clone(), message, help);
        }
    }
}

enum Problem {
    Missing,
    NotAFile,
    NotAFolder,
    /// Neither a regular file nor a folder (a socket, a device).
    Special,
    Unreadable(std::io::Error),
    NoCertificate,
    /// An output path cannot be created: this existing path above it is a file.
    Blocked(PathBuf),
    NotExecutable,
    NotInPath,
}

impl Problem {
    fn describe(&self, r: &FileRef) -> (String, Option<String>) {
        let key = &r.key;
        let path = r.path.display();
        let relative = Path::new(&r.written).is_relative();
        let resolved_help = || {
            relative.then(|| {
                "relative paths are relative to the config file's folder, not to the current one"
                    .to_string()
            })
        };
        match self {
            Problem::Missing => (
                format!("`{key}`: `{path}` does not exist"),
                match r.kind {
                    Kind::FileOrFolder => Some(
                        "create the folder, or remove it from the list: a job would ingest nothing from it".into(),
                    ),
                    _ => resolved_help(),
                },
            ),
            Problem::NotAFile => (format!("`{key}`: `{path}` is a folder, not a file"), None),
            Problem::NotAFolder => (format!("`{key}`: `{path}` is a file, not a folder"), None),
            Problem::Special => (
                format!("`{key}`: `{path}` is neither a file nor a folder"),
                None,
            ),
            Problem::Unreadable(e) => (format!("`{key}`: cannot read `{path}`: {e}"), None),
            Problem::NoCertificate => (
                format!("`{key}`: `{path}` holds no PEM certificate"),
                Some("give the CA's certificate in PEM form: a block starting with `-----BEGIN CERTIFICATE-----`".into()),
            ),
            Problem::Blocked(file) => (
                format!(
                    "`{key}`: `{path}` cannot be created: `{}` is a file, not a folder",
                    file.display()
                ),
                None,
            ),
            Problem::NotExecutable => (
                format!("`{key}`: the program `{path}` is not executable"),
                Some(format!("make it executable (`chmod +x {path}`), or name its interpreter first, e.g. `[\"python3\", \"{}\"]`", r.written)),
            ),
            Problem::NotInPath => (
                format!("`{key}`: the program `{}` is not found in PATH", r.written),
                Some("install it, or give its path (a relative path with a `/` is relative to the config file's folder)".into()),
            ),
        }
    }
}

fn io_problem(e: std::io::Error) -> Problem {
    if e.kind() == std::io::ErrorKind::NotFound {
        Problem::Missing
    } else {
        Problem::Unreadable(e)
    }
}

fn metadata(path: &Path) -> Result<std::fs::Metadata, Problem> {
    std::fs::metadata(path).map_err(io_problem)
}

/// An existing regular file that can be opened.
fn readable_file(path: &Path) -> Result<(), Problem> {
    let meta = metadata(path)?;
    if meta.is_dir() {
        return Err(Problem::NotAFile);
    }
    if !meta.is_file() {
        return Err(Problem::Special);
    }
    std::fs::File::open(path).map_err(Problem::Unreadable)?;
    Ok(())
}

fn readable_folder(path: &Path) -> Result<(), Problem> {
    let meta = metadata(path)?;
    if !meta.is_dir() {
        return Err(Problem::NotAFolder);
    }
    std::fs::read_dir(path).map_err(Problem::Unreadable)?;
    Ok(())
}

fn file_or_folder(path: &Path) -> Result<(), Problem> {
    let meta = metadata(path)?;
    if meta.is_dir() {
        readable_folder(path)
    } else if meta.is_file() {
        readable_file(path)
    } else {
        Err(Problem::Special)
    }
}

/// The same test the SMTP and IMAP clients make before they use the file.
fn ca_file(path: &Path) -> Result<(), Problem> {
    readable_file(path)?;
    let bytes = std::fs::read(path).map_err(Problem::Unreadable)?;
    const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
    if bytes.windows(BEGIN.len()).any(|w| w == BEGIN) {
        Ok(())
    } else {
        Err(Problem::NoCertificate)
    }
}

/// Reads the zone file (the outer error), parses it as the resolver does
/// (no default origin) and merges it into `zones` (the inner error). Zone
/// errors name the file as written in the config, so a position inside one
/// reads `example.zone:7:3`.
fn zone_file(
    path: &Path,
    written: &str,
    zones: &mut Zone,
) -> Result<Result<(), ZoneError>, Problem> {
    readable_file(path)?;
    let text = std::fs::read_to_string(path).map_err(Problem::Unreadable)?;
    Ok(Zone::parse(&text, written, None).and_then(|zone| zones.merge(zone)))
}

/// `zone file example.zone: line 7: <reason>`, at the config value; the
/// help gives the zone file's own position, for an editor to jump to.
fn zone_error(sink: &mut Sink<'_>, r: &FileRef, e: &ZoneError) {
    // A merge conflict is reported at the record of the file being merged,
    // so the error is always in this file.
    let (message, help) = match (e.line(), e.column()) {
        (Some(line), Some(column)) => (
            format!("zone file {}: line {line}: {}", r.written, e.reason()),
            Some(format!("at {}:{line}:{column}", r.path.display())),
        ),
        _ => (format!("zone file {}: {}", r.written, e.reason()), None),
    };
    sink.push(r.span.clone(), message, help);
}

/// A folder (or file) that is created when first written: fine when it
/// exists as the right kind, or when it does not exist yet and the nearest
/// existing path above it is a folder.
fn output(path: &Path, folder: bool) -> Result<(), Problem> {
    match std::fs::metadata(path) {
        Ok(meta) if folder && !meta.is_dir() => return Err(Problem::NotAFolder),
        Ok(meta) if !folder && meta.is_dir() => return Err(Problem::NotAFile),
        Ok(_) => return Ok(()),
        // Not there, or a path above it is a file: found below.
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) => {}
        Err(e) => return Err(Problem::Unreadable(e)),
    }
    let mut up = path.parent();
    while let Some(p) = up {
        let p = if p.as_os_str().is_empty() {
            Path::new(".")
        } else {
            p
        };
        match std::fs::metadata(p) {
            Ok(meta) if meta.is_dir() => return Ok(()),
            Ok(_) => return Err(Problem::Blocked(p.to_path_buf())),
            // Not there either (or not visible to us): look further up.
            Err(_) => up = p.parent(),
        }
    }
    Ok(())
}

/// An external checker's program given as a path: an executable file.
fn program(path: &Path) -> Result<(), Problem> {
    readable_file(path)?;
    if is_executable(path) {
        Ok(())
    } else {
        Err(Problem::NotExecutable)
    }
}

/// A bare program name: an executable file in a folder of `PATH`, the
/// search the process start makes. Without `PATH` the system's default
/// search applies, which is not checked.
fn program_in_path(name: &str) -> Result<(), Problem> {
    let Some(dirs) = std::env::var_os("PATH") else {
        return Ok(());
    };
    let found = std::env::split_paths(&dirs).any(|dir| {
        let candidate = dir.join(name);
        candidate.is_file() && is_executable(&candidate)
    });
    if found {
        Ok(())
    } else {
        Err(Problem::NotInPath)
    }
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}
