//! Loading the templates of a folder and rendering a report with them.
//!
//! A folder holds one HTML and one text template per job
//! (`monthly.html.hbs`, `monthly.txt.hbs`, ...) and the partials they share
//! under `partials/` (`partials/header.html.hbs`, `partials/header.txt.hbs`,
//! ...). HTML and text are rendered by two handlebars registries: the HTML
//! one escapes every `{{value}}`, the text one escapes nothing. Both run in
//! strict mode, and loading renders [`ReportContext::sample`] through every
//! template so that a misspelt field or a missing partial is an error before
//! any run needs the report.
//!
//! Before either registry sees the context, every string in it is made
//! display-safe with [`authwarden_api::text::display_value`] (see
//! [`display_safe_json`]): control characters, bidi controls and invisible
//! characters are escaped visibly (`\u{1b}`, `\n`) and long values are cut.
//! Doing it to the data rather than in an escape function reaches every use
//! of a value, as `{{value}}`, as a helper's parameter (most text lines go
//! through `wrap`) or in a custom template's `{{{value}}}`, and leaves alone
//! the line breaks that `wrap` itself writes.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use authwarden_api::text::{self, NAME_MAX_CHARS, TEXT_MAX_CHARS};
use authwarden_api::Cadence;
use handlebars::{
    Context, Handlebars, Helper, HelperDef, RenderContext, RenderErrorReason, ScopedJson,
    TemplateError,
};
use serde::Serialize;
use serde_json::Value;

use crate::context::{plural, ReportContext};

/// Why templates could not be loaded or a report could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A template file that the renderer needs does not exist.
    #[error("{}: template file is missing", .path.display())]
    Missing {
        /// The file that was expected.
        path: PathBuf,
    },
    /// A file or folder could not be read.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: io::Error,
    },
    /// A template is not valid handlebars.
    #[error("{}: {reason}", Location(.path, *.line, *.column))]
    Syntax {
        /// The template file.
        path: PathBuf,
        /// The line of the error (1-based), when known.
        line: Option<usize>,
        /// The column of the error (1-based), when known.
        column: Option<usize>,
        /// What is wrong.
        reason: String,
    },
    /// A template failed on the context, e.g. it names a field that does not
    /// exist or a partial that is not there.
    #[error("{}: {reason}", Location(.path, *.line, *.column))]
    Template {
        /// The template file (a partial's file when the error is in a partial).
        path: PathBuf,
        /// The line of the error (1-based), when known.
        line: Option<usize>,
        /// The column of the error (1-based), when known.
        column: Option<usize>,
        /// What is wrong.
        reason: String,
    },
    /// The chart could not be drawn or encoded.
    #[error("trend chart: {0}")]
    Chart(String),
}

/// `path:line:column`, leaving out what is unknown.
struct Location<'a>(&'a Path, Option<usize>, Option<usize>);

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.display())?;
        if let Some(line) = self.1 {
            write!(f, ":{line}")?;
            if let Some(column) = self.2 {
                write!(f, ":{column}")?;
            }
        }
        Ok(())
    }
}

/// A rendered report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The mail subject, from [`ReportContext::subject`].
    pub subject: String,
    /// The HTML part.
    pub html: String,
    /// The plain-text part.
    pub text: String,
}

/// The two output formats; each has its own registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Html,
    Text,
}

impl Kind {
    const ALL: [Kind; 2] = [Kind::Html, Kind::Text];

    /// The part of a file name before `.hbs`.
    fn ext(self) -> &'static str {
        match self {
            Kind::Html => "html",
            Kind::Text => "txt",
        }
    }
}

/// The file name of a job's template, e.g. `monthly.html.hbs`.
fn job_file(job: Cadence, kind: Kind) -> String {
    format!("{job}.{}.hbs", kind.ext())
}

/// One registry and where each of its templates came from.
struct Registry {
    hb: Handlebars<'static>,
    /// Handlebars template name → file, to name the file in errors.
    files: BTreeMap<String, PathBuf>,
}

impl Registry {
    fn new(kind: Kind) -> Registry {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        if kind == Kind::Text {
            hb.register_escape_fn(handlebars::no_escape);
        }
        register_helpers(&mut hb);
        Registry {
            hb,
            files: BTreeMap::new(),
        }
    }

    fn register(&mut self, name: String, path: PathBuf, source: &str) -> Result<(), RenderError> {
        self.hb
            .register_template_string(&name, source)
            .map_err(|e| syntax_error(&path, &e))?;
        self.files.insert(name, path);
        Ok(())
    }

    fn render(&self, name: &str, data: &Context) -> Result<String, RenderError> {
        self.hb
            .render_with_context(name, data)
            .map_err(|e| self.render_error(name, &e))
    }

    fn render_error(&self, name: &str, e: &handlebars::RenderError) -> RenderError {
        let template = e.template_name.as_deref().unwrap_or(name);
        let path = self
            .files
            .get(template)
            .or_else(|| self.files.get(name))
            .cloned()
            .unwrap_or_else(|| PathBuf::from(name));
        let reason = match e.reason() {
            RenderErrorReason::MissingVariable(Some(field)) => {
                format!("`{field}` is not a field of the report context (strict mode)")
            }
            RenderErrorReason::MissingVariable(None) => {
                "a helper got a value that is not in the report context (strict mode)".to_string()
            }
            RenderErrorReason::PartialNotFound(partial) => {
                format!("partial `{partial}` not found (expected partials/{partial}.*.hbs)")
            }
            other => other.to_string(),
        };
        RenderError::Template {
            path,
            line: e.line_no,
            column: e.column_no,
            reason,
        }
    }
}

fn syntax_error(path: &Path, e: &TemplateError) -> RenderError {
    let (line, column) = match e.pos() {
        Some((l, c)) => (Some(l), Some(c)),
        None => (None, None),
    };
    // The parser's message repeats the position and draws an ASCII pointer
    // over several lines; the first line without those is what a reader needs.
    let reason = e.reason().to_string();
    let reason = reason
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("-->") && !l.starts_with('|'))
        .unwrap_or("invalid template")
        .to_string();
    RenderError::Syntax {
        path: path.to_path_buf(),
        line,
        column,
        reason,
    }
}

/// Renders reports with the templates of one folder.
///
/// The folder holds `monthly.html.hbs`, `monthly.txt.hbs`,
/// `quarterly.html.hbs`, `quarterly.txt.hbs`, `annual.html.hbs` and
/// `annual.txt.hbs`, and any partials as `partials/NAME.html.hbs` /
/// `partials/NAME.txt.hbs`, used as `{{> NAME}}` from templates of the same
/// format. Templates see the JSON of [`ReportContext`] plus `subject` (the
/// mail subject) and `clean_domains` (the names of the domains with no open
/// finding). Besides handlebars' built-in helpers (`eq`, `or`, `not`, ...)
/// they can use `upper`, `plural n "one" "many"` (`1,874 messages`), `inc n`,
/// `join list ", "`, `number n` (`1,234`) and, for text, `wrap` (joins its parameters and wraps
/// them at 72 columns; `indent=N` for the column the line starts at,
/// `hang=N` for extra indentation of the lines after the first).
pub struct Renderer {
    html: Registry,
    text: Registry,
}

impl fmt::Debug for Renderer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Renderer")
            .field("html", &self.html.files)
            .field("text", &self.text.files)
            .finish()
    }
}

/// What the templates see: the context plus what is derived from it for
/// display.
#[derive(Serialize)]
struct TemplateData<'a> {
    #[serde(flatten)]
    ctx: &'a ReportContext,
    /// The mail subject.
    subject: String,
    /// The domains with no open finding, which the reports outside the audit
    /// list on one line instead of giving each a section.
    clean_domains: Vec<&'a str>,
}

impl<'a> TemplateData<'a> {
    fn new(ctx: &'a ReportContext) -> TemplateData<'a> {
        TemplateData {
            ctx,
            subject: ctx.subject(),
            clean_domains: ctx
                .domains
                .iter()
                .filter(|d| d.findings.is_empty())
                .map(|d| d.domain.as_str())
                .collect(),
        }
    }
}

/// What the templates see, every string made display-safe by
/// [`display_safe_json`].
fn template_context(data: &TemplateData<'_>) -> Context {
    // Plain structs of strings, numbers and lists: nothing that JSON cannot
    // hold (no map with keys that are not strings, no float that is NaN).
    let mut value = serde_json::to_value(data).unwrap_or(Value::Null);
    display_safe_json(&mut value, "");
    Context::from(value)
}

/// The fields of the context whose values are names, shown in full up to
/// [`NAME_MAX_CHARS`]: domains, DNS names, selectors, IP addresses, org and
/// provider names, codes, labels, dates, phases. Every other string is text
/// (messages, help with the record to publish, evidence and facts quoting DNS
/// records, next steps, chart descriptions), cut at [`TEXT_MAX_CHARS`], far
/// above any record that works, so that a record the reader must copy is
/// never cut.
const NAME_FIELDS: &[&str] = &[
    "at_start",
    "category",
    "cause",
    "checker",
    "cid",
    "clean_domains",
    "code",
    "date",
    "domain",
    "file",
    "first_day",
    "first_seen",
    "from",
    "generated_at",
    "header_from",
    "host",
    "job",
    "label",
    "last_day",
    "latest_report",
    "name",
    "organisation",
    "pass_percent",
    "period",
    "phase",
    "policy_type",
    "provider",
    "result_type",
    "severity",
    "since",
    "source_ip",
    "src",
    "status",
    "subject",
    "to",
    "unit",
    "until",
];

/// Makes every string in `value` display-safe for both formats with
/// [`text::display_value`]: control characters (a newline too: every value
/// is shown on one line, or wrapped by `wrap`), bidi controls and invisible
/// characters escaped visibly, and the string cut after
/// [`NAME_MAX_CHARS`] or [`TEXT_MAX_CHARS`] characters by the name of its
/// field (`key`, the nearest object key; a list's items go by the list's).
/// Text without any of these is unchanged, so the reports of ordinary data
/// are byte for byte what the templates write.
fn display_safe_json(value: &mut Value, key: &str) {
    match value {
        Value::String(s) => {
            let max = if NAME_FIELDS.contains(&key) {
                NAME_MAX_CHARS
            } else {
                TEXT_MAX_CHARS
            };
            if let std::borrow::Cow::Owned(safe) = text::display_value(s, max) {
                *s = safe;
            }
        }
        Value::Array(items) => {
            for item in items {
                display_safe_json(item, key);
            }
        }
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                display_safe_json(v, k);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// The templates shipped in the repository's `templates/` folder, built in.
const BUILTIN: &[(&str, &str)] = &[
    (
        "monthly.html.hbs",
        include_str!("../../../templates/monthly.html.hbs"),
    ),
    (
        "monthly.txt.hbs",
        include_str!("../../../templates/monthly.txt.hbs"),
    ),
    (
        "quarterly.html.hbs",
        include_str!("../../../templates/quarterly.html.hbs"),
    ),
    (
        "quarterly.txt.hbs",
        include_str!("../../../templates/quarterly.txt.hbs"),
    ),
    (
        "annual.html.hbs",
        include_str!("../../../templates/annual.html.hbs"),
    ),
    (
        "annual.txt.hbs",
        include_str!("../../../templates/annual.txt.hbs"),
    ),
    (
        "partials/badge.html.hbs",
        include_str!("../../../templates/partials/badge.html.hbs"),
    ),
    (
        "partials/clean-domains.html.hbs",
        include_str!("../../../templates/partials/clean-domains.html.hbs"),
    ),
    (
        "partials/clean-domains.txt.hbs",
        include_str!("../../../templates/partials/clean-domains.txt.hbs"),
    ),
    (
        "partials/domain.html.hbs",
        include_str!("../../../templates/partials/domain.html.hbs"),
    ),
    (
        "partials/domain.txt.hbs",
        include_str!("../../../templates/partials/domain.txt.hbs"),
    ),
    (
        "partials/finding.html.hbs",
        include_str!("../../../templates/partials/finding.html.hbs"),
    ),
    (
        "partials/finding.txt.hbs",
        include_str!("../../../templates/partials/finding.txt.hbs"),
    ),
    (
        "partials/footer.html.hbs",
        include_str!("../../../templates/partials/footer.html.hbs"),
    ),
    (
        "partials/footer.txt.hbs",
        include_str!("../../../templates/partials/footer.txt.hbs"),
    ),
    (
        "partials/header.html.hbs",
        include_str!("../../../templates/partials/header.html.hbs"),
    ),
    (
        "partials/header.txt.hbs",
        include_str!("../../../templates/partials/header.txt.hbs"),
    ),
    (
        "partials/mail-summary.html.hbs",
        include_str!("../../../templates/partials/mail-summary.html.hbs"),
    ),
    (
        "partials/mail-summary.txt.hbs",
        include_str!("../../../templates/partials/mail-summary.txt.hbs"),
    ),
    (
        "partials/next-steps.html.hbs",
        include_str!("../../../templates/partials/next-steps.html.hbs"),
    ),
    (
        "partials/next-steps.txt.hbs",
        include_str!("../../../templates/partials/next-steps.txt.hbs"),
    ),
    (
        "partials/as-built.html.hbs",
        include_str!("../../../templates/partials/as-built.html.hbs"),
    ),
    (
        "partials/as-built.txt.hbs",
        include_str!("../../../templates/partials/as-built.txt.hbs"),
    ),
    (
        "partials/overview.html.hbs",
        include_str!("../../../templates/partials/overview.html.hbs"),
    ),
    (
        "partials/overview.txt.hbs",
        include_str!("../../../templates/partials/overview.txt.hbs"),
    ),
    (
        "partials/resolved.html.hbs",
        include_str!("../../../templates/partials/resolved.html.hbs"),
    ),
    (
        "partials/resolved.txt.hbs",
        include_str!("../../../templates/partials/resolved.txt.hbs"),
    ),
    (
        "partials/rollout-table.html.hbs",
        include_str!("../../../templates/partials/rollout-table.html.hbs"),
    ),
    (
        "partials/rollout-table.txt.hbs",
        include_str!("../../../templates/partials/rollout-table.txt.hbs"),
    ),
    (
        "partials/rollout.html.hbs",
        include_str!("../../../templates/partials/rollout.html.hbs"),
    ),
    (
        "partials/rollout.txt.hbs",
        include_str!("../../../templates/partials/rollout.txt.hbs"),
    ),
    (
        "partials/tls-reports.html.hbs",
        include_str!("../../../templates/partials/tls-reports.html.hbs"),
    ),
    (
        "partials/tls-reports.txt.hbs",
        include_str!("../../../templates/partials/tls-reports.txt.hbs"),
    ),
    (
        "partials/failure-reports.html.hbs",
        include_str!("../../../templates/partials/failure-reports.html.hbs"),
    ),
    (
        "partials/failure-reports.txt.hbs",
        include_str!("../../../templates/partials/failure-reports.txt.hbs"),
    ),
    (
        "partials/report-auth.html.hbs",
        include_str!("../../../templates/partials/report-auth.html.hbs"),
    ),
    (
        "partials/report-auth.txt.hbs",
        include_str!("../../../templates/partials/report-auth.txt.hbs"),
    ),
    (
        "partials/summary.html.hbs",
        include_str!("../../../templates/partials/summary.html.hbs"),
    ),
    (
        "partials/summary.txt.hbs",
        include_str!("../../../templates/partials/summary.txt.hbs"),
    ),
    (
        "partials/trend.html.hbs",
        include_str!("../../../templates/partials/trend.html.hbs"),
    ),
    (
        "partials/trend.txt.hbs",
        include_str!("../../../templates/partials/trend.txt.hbs"),
    ),
];

/// A template file as read: its path relative to the folder and its text.
type Source = (String, String);

impl Renderer {
    /// Loads every template and partial of `dir`.
    ///
    /// Fails on the first problem: a missing job template, an unreadable
    /// file, a syntax error, or a template that does not render the sample
    /// context (see [`ReportContext::sample`]); the error names the file and,
    /// where known, the line and column. [`Renderer::validate_dir`] reports
    /// every problem instead.
    pub fn from_dir(dir: &Path) -> Result<Renderer, RenderError> {
        let mut errors = Vec::new();
        let renderer = load_dir(dir, &mut errors);
        match (renderer, errors.into_iter().next()) {
            (Some(r), None) => Ok(r),
            (_, Some(e)) => Err(e),
            (None, None) => unreachable!("loading failed without an error"),
        }
    }

    /// The templates of the repository's `templates/` folder, compiled into
    /// the binary, for when no folder is configured.
    pub fn builtin() -> Result<Renderer, RenderError> {
        let sources = BUILTIN
            .iter()
            .map(|(rel, text)| (rel.to_string(), text.to_string()))
            .collect();
        let mut errors = Vec::new();
        let renderer = build(Path::new("templates"), sources, &mut errors);
        match (renderer, errors.into_iter().next()) {
            (Some(r), None) => Ok(r),
            (_, Some(e)) => Err(e),
            (None, None) => unreachable!("loading failed without an error"),
        }
    }

    /// Checks the templates of `dir` the way [`Renderer::from_dir`] loads
    /// them, returning every problem found (for `config validate`).
    pub fn validate_dir(dir: &Path) -> Result<(), Vec<RenderError>> {
        let mut errors = Vec::new();
        let _ = load_dir(dir, &mut errors);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Renders the report for `ctx` with the templates of `ctx.job`.
    ///
    /// Findings are shown sorted (see [`ReportContext::sorted`]).
    pub fn render(&self, ctx: &ReportContext) -> Result<Rendered, RenderError> {
        let sorted = ctx.sorted();
        let data = TemplateData::new(&sorted);
        let context = template_context(&data);
        Ok(Rendered {
            html: self.html.render(&job_file(ctx.job, Kind::Html), &context)?,
            text: self.text.render(&job_file(ctx.job, Kind::Text), &context)?,
            subject: text::display_safe(&data.subject).into_owned(),
        })
    }

    /// Renders only the HTML of the report for `ctx`, e.g. the file on disk
    /// whose context differs from the mail's only in where images come from
    /// ([`ReportContext::for_files`]).
    pub fn render_html(&self, ctx: &ReportContext) -> Result<String, RenderError> {
        let sorted = ctx.sorted();
        let data = TemplateData::new(&sorted);
        let context = template_context(&data);
        self.html.render(&job_file(ctx.job, Kind::Html), &context)
    }

    fn registry(&self, kind: Kind) -> &Registry {
        match kind {
            Kind::Html => &self.html,
            Kind::Text => &self.text,
        }
    }
}

/// Reads the job templates and `partials/*.{html,txt}.hbs` of `dir`.
fn load_dir(dir: &Path, errors: &mut Vec<RenderError>) -> Option<Renderer> {
    if let Err(source) = std::fs::read_dir(dir) {
        errors.push(RenderError::Io {
            path: dir.to_path_buf(),
            source,
        });
        return None;
    }
    let mut sources = Vec::new();
    for job in Cadence::ALL {
        for kind in Kind::ALL {
            let rel = job_file(job, kind);
            let path = dir.join(&rel);
            match std::fs::read_to_string(&path) {
                Ok(text) => sources.push((rel, text)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    errors.push(RenderError::Missing { path })
                }
                Err(source) => errors.push(RenderError::Io { path, source }),
            }
        }
    }
    let partials = dir.join("partials");
    match std::fs::read_dir(&partials) {
        Ok(entries) => {
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.ends_with(".html.hbs") || n.ends_with(".txt.hbs"))
                .collect();
            names.sort();
            for name in names {
                let path = partials.join(&name);
                match std::fs::read_to_string(&path) {
                    Ok(text) => sources.push((format!("partials/{name}"), text)),
                    Err(source) => errors.push(RenderError::Io { path, source }),
                }
            }
        }
        // A folder whose templates use no partials needs no partials folder.
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(source) => errors.push(RenderError::Io {
            path: partials,
            source,
        }),
    }
    build(dir, sources, errors)
}

/// Registers `sources` and renders the sample context through every job
/// template; returns the renderer when nothing went wrong.
fn build(dir: &Path, sources: Vec<Source>, errors: &mut Vec<RenderError>) -> Option<Renderer> {
    let before = errors.len();
    let mut renderer = Renderer {
        html: Registry::new(Kind::Html),
        text: Registry::new(Kind::Text),
    };
    for (rel, text) in sources {
        let path = dir.join(&rel);
        let (kind, name) = match rel.strip_prefix("partials/") {
            Some(file) => {
                let (kind, stem) = match file.strip_suffix(".html.hbs") {
                    Some(stem) => (Kind::Html, stem),
                    None => (Kind::Text, file.trim_end_matches(".txt.hbs")),
                };
                (kind, stem.to_string())
            }
            None if rel.ends_with(".html.hbs") => (Kind::Html, rel.clone()),
            None => (Kind::Text, rel.clone()),
        };
        let registry = match kind {
            Kind::Html => &mut renderer.html,
            Kind::Text => &mut renderer.text,
        };
        if let Err(e) = registry.register(name, path, &text) {
            errors.push(e);
        }
    }
    if errors.len() > before {
        return None;
    }
    // Render the sample context through every template now, so that a
    // template naming a field that does not exist fails here and not on the
    // day of the run. Registering a missing template already failed above.
    for job in Cadence::ALL {
        let sample = ReportContext::sample(job);
        let data = template_context(&TemplateData::new(&sample));
        for kind in Kind::ALL {
            let name = job_file(job, kind);
            let registry = renderer.registry(kind);
            if registry.files.contains_key(&name) {
                if let Err(e) = registry.render(&name, &data) {
                    errors.push(e);
                }
            }
        }
    }
    (errors.len() == before).then_some(renderer)
}

fn register_helpers(hb: &mut Handlebars<'static>) {
    let helpers: [(&str, HelperFn); 7] = [
        ("nolink", nolink_helper),
        ("upper", upper_helper),
        ("plural", plural_helper),
        ("inc", inc_helper),
        ("wrap", wrap_helper),
        ("join", join_helper),
        ("number", number_helper),
    ];
    for (name, f) in helpers {
        hb.register_helper(name, Box::new(ValueHelper(f)));
    }
}

/// A helper that computes a value from its parameters.
type HelperFn = fn(&Helper<'_>) -> Result<Value, RenderErrorReason>;

/// Makes a [`HelperFn`] a handlebars helper: all of ours compute a value
/// from their parameters alone.
struct ValueHelper(HelperFn);

impl HelperDef for ValueHelper {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, handlebars::RenderError> {
        Ok(ScopedJson::Derived((self.0)(h)?))
    }
}

/// The value of a helper's parameter; in strict mode a missing field is an
/// error rather than an empty value.
fn param<'a>(
    h: &'a Helper<'_>,
    i: usize,
    helper: &'static str,
) -> Result<&'a Value, RenderErrorReason> {
    let p = h
        .param(i)
        .ok_or(RenderErrorReason::ParamNotFoundForIndex(helper, i))?;
    if p.is_value_missing() {
        return Err(RenderErrorReason::MissingVariable(
            p.relative_path().cloned(),
        ));
    }
    Ok(p.value())
}

/// A helper's parameter that must be a whole number; `what` names it in the
/// error.
fn count_param(
    h: &Helper<'_>,
    i: usize,
    helper: &'static str,
    what: &'static str,
) -> Result<u64, RenderErrorReason> {
    param(h, i, helper)?
        .as_u64()
        .ok_or(RenderErrorReason::InvalidParamType(what))
}

/// A JSON value as text: strings as they are, `null` as nothing.
fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `{{upper severity}}` → `ERROR`.
fn upper_helper(h: &Helper<'_>) -> Result<Value, RenderErrorReason> {
    let v = param(h, 0, "upper")?;
    Ok(Value::String(as_text(v).to_uppercase()))
}

/// `{{plural summary.errors "error" "errors"}}` → `1 error`, `3 errors`.
fn plural_helper(h: &Helper<'_>) -> Result<Value, RenderErrorReason> {
    let n = count_param(h, 0, "plural", "a count")?;
    let one = as_text(param(h, 1, "plural")?);
    let many = as_text(param(h, 2, "plural")?);
    Ok(Value::String(plural(n, &one, &many)))
}

/// `{{inc @index}}` → the 1-based position.
fn inc_helper(h: &Helper<'_>) -> Result<Value, RenderErrorReason> {
    let n = count_param(h, 0, "inc", "a number")?;
    Ok(Value::from(n + 1))
}

/// `{{number mail.messages}}` → `1,234,567`: digits grouped by three.
fn number_helper(h: &Helper<'_>) -> Result<Value, RenderErrorReason> {
    let n = count_param(h, 0, "number", "a count")?;
    Ok(Value::String(group_digits(n)))
}

pub(crate) use authwarden_api::text::group_digits;

/// `{{nolink host}}` → the text with a zero-width space after every `.`,
/// `@` and `:`, so that mail clients do not turn a host name or address from
/// a stranger's report into a link. For HTML only: in plain text the
/// invisible characters would break a copied name.
fn nolink_helper(h: &Helper<'_>) -> Result<Value, RenderErrorReason> {
    let v = as_text(param(h, 0, "nolink")?);
    let mut out = String::with_capacity(v.len() + v.len() / 4);
    for c in v.chars() {
        out.push(c);
        if matches!(c, '.' | '@' | ':' | '/') {
            out.push('\u{200b}');
        }
    }
    Ok(Value::String(out))
}

/// `{{join clean_domains ", "}}` → `example.net, example.org`.
fn join_helper(h: &Helper<'_>) -> Result<Value, RenderErrorReason> {
    let list = param(h, 0, "join")?
        .as_array()
        .ok_or(RenderErrorReason::InvalidParamType("a list"))?;
    let sep = as_text(param(h, 1, "join")?);
    let items: Vec<String> = list.iter().map(as_text).collect();
    Ok(Value::String(items.join(&sep)))
}

/// `{{wrap "What to do: " help indent=4}}`: joins its parameters and wraps
/// the text at `width` columns (72 unless given). The first line is taken
/// to start at column `indent` (the template writes that indentation); the
/// following lines are indented by `indent` + `hang` spaces (`hang` is 0
/// unless given, e.g. 5 to align under the text after `PASS `).
fn wrap_helper(h: &Helper<'_>) -> Result<Value, RenderErrorReason> {
    let mut text = String::new();
    for i in 0..h.params().len() {
        text.push_str(&as_text(param(h, i, "wrap")?));
    }
    let number = |key: &str, default: usize| {
        h.hash_get(key)
            .and_then(|v| v.value().as_u64())
            .map_or(default, |n| usize::try_from(n).unwrap_or(default))
    };
    let indent = number("indent", 0);
    let wrapped = wrap(
        &text,
        number("width", 72),
        indent,
        indent + number("hang", 0),
    );
    Ok(Value::String(wrapped))
}

/// Wraps `text` at `width` columns, the first line starting at column
/// `first`, the others indented by `indent` spaces; see [`wrap_helper`]. Words
/// longer than a line (DKIM keys, long records) are broken.
pub(crate) fn wrap(text: &str, width: usize, first: usize, indent: usize) -> String {
    // Never fewer than 20 columns for text, whatever the indentation.
    let width = width.max(first.max(indent) + 20);
    let mut out = String::new();
    let mut col = first;
    let mut at_line_start = true;
    let newline = |out: &mut String, col: &mut usize| {
        out.push('\n');
        out.extend(std::iter::repeat_n(' ', indent));
        *col = indent;
    };
    for word in text.split_whitespace() {
        let len = word.chars().count();
        if !at_line_start {
            if col + 1 + len <= width {
                out.push(' ');
                out.push_str(word);
                col += 1 + len;
                continue;
            }
            newline(&mut out, &mut col);
        }
        let mut chars = word.chars().peekable();
        while chars.peek().is_some() {
            if col >= width {
                newline(&mut out, &mut col);
            }
            let chunk: String = chars.by_ref().take(width - col).collect();
            col += chunk.chars().count();
            out.push_str(&chunk);
        }
        at_line_start = false;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_breaks_at_width_and_indents_following_lines() {
        let text = "move to p=quarantine once the aggregate reports show that all \
                    legitimate senders pass";
        let got = wrap(text, 40, 4, 4);
        for (i, line) in got.lines().enumerate() {
            let start = if i == 0 { 4 } else { 0 };
            assert!(start + line.chars().count() <= 40, "{line:?}");
        }
        assert_eq!(
            got,
            "move to p=quarantine once the\n    aggregate reports show that all\n    legitimate senders pass"
        );
    }

    #[test]
    fn wrap_breaks_words_longer_than_a_line() {
        let key = "p=".to_string() + &"A".repeat(50);
        let got = wrap(&format!("key {key}"), 30, 2, 2);
        let lines: Vec<_> = got.lines().collect();
        assert_eq!(lines[0], "key");
        assert!(lines.iter().skip(1).all(|l| l.starts_with("  ")));
        assert!(lines.iter().all(|l| l.chars().count() <= 30), "{got}");
        assert_eq!(got.replace(['\n', ' '], ""), format!("key{key}"));
    }

    #[test]
    fn numbers_are_grouped_by_three() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1000), "1,000");
        assert_eq!(group_digits(1234567), "1,234,567");
    }

    #[test]
    fn wrap_hangs_following_lines() {
        let got = wrap(
            "PASS dmarc-policy: the record exists and enforces",
            40,
            4,
            9,
        );
        assert_eq!(
            got,
            "PASS dmarc-policy: the record exists\n         and enforces"
        );
    }

    #[test]
    fn builtin_lists_every_file_of_the_templates_folder() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates");
        let mut on_disk = vec![];
        for sub in ["", "partials/"] {
            for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
                let entry = entry.unwrap();
                let name = entry.file_name().to_string_lossy().into_owned();
                if entry.file_type().unwrap().is_file() && name.ends_with(".hbs") {
                    on_disk.push(format!("{sub}{name}"));
                }
            }
        }
        on_disk.sort();
        let mut builtin: Vec<_> = BUILTIN.iter().map(|(rel, _)| rel.to_string()).collect();
        builtin.sort();
        assert_eq!(builtin, on_disk, "update BUILTIN in render.rs");
    }

    #[test]
    fn location_leaves_out_what_is_unknown() {
        let p = Path::new("t/a.hbs");
        assert_eq!(Location(p, Some(3), Some(7)).to_string(), "t/a.hbs:3:7");
        assert_eq!(Location(p, Some(3), None).to_string(), "t/a.hbs:3");
        assert_eq!(Location(p, None, None).to_string(), "t/a.hbs");
    }
}
