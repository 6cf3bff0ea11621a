//! `authwarden spf build DOMAIN`: the SPF record a domain should publish,
//! built from its sender inventory (`[domains.inventory]`, read with the
//! `authwarden-inventory` parser, providers from the one provider catalog),
//! with `~all` or `-all` chosen from the DMARC rollout phase, its lookups
//! counted live by the `authwarden-spf` evaluator, a flattened alternative
//! when it is over the limit, and a diff against what is published. The
//! published record's terms for the domain's own hosts (`a`, `mx`, its
//! `ip4:`/`ip6:` ranges) are kept, as the inventory-drift checker's
//! suggested records keep them, so that both propose the same record. Also the
//! text rendering of an SPF lookup tree, which `check` shows too. (The
//! libraries are reached through the `spf` and `inventory-drift` checkers'
//! re-exports.)

use std::io::Write;

use anyhow::{bail, Context as _};
use authwarden_aggregate::Catalog;
use authwarden_api::{domain, RecordType, Resolver};
use authwarden_checker_inventory_drift::{parse_inventory, Inventory};
use authwarden_checker_spf::eval::{select_record, Fetched};
use authwarden_checker_spf::{
    evaluate, flatten, parse_record, published_phase, tree_json, txt_strings, Evaluation,
    LookupNode, NodeProblem, PublishedPhase, Rollout, LOOKUP_LIMIT, REFRESH_WARNING, VOID_LIMIT,
};
use authwarden_config::Config;
use authwarden_registry::Registry;
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::{setup, Format, GlobalArgs, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};

/// `authwarden spf ...`.
#[derive(Debug, Subcommand)]
pub enum SpfCommand {
    /// Build the SPF record of a domain from its sender inventory
    /// (`[domains.inventory]`), count its lookups live and compare it with the
    /// published one
    Build(BuildArgs),
}

/// Arguments of `spf build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The domain (must be listed in the config with a `[domains.inventory]` table)
    pub domain: String,
    /// Choose the `all` qualifier for this phase instead of reading the
    /// published DMARC record: monitoring gives ~all, enforcing gives -all
    #[arg(long, value_parser = ["monitoring", "enforcing"])]
    pub phase: Option<String>,
    /// Also authorise the domain's own mail exchangers (`mx`); an `mx` of the
    /// published record is kept without it
    #[arg(long)]
    pub mx: bool,
    /// Also authorise the domain's own addresses (`a`); an `a` of the
    /// published record is kept without it
    #[arg(long)]
    pub a: bool,
}

/// Runs `spf ...`.
pub async fn run(
    global: &GlobalArgs,
    command: &SpfCommand,
    registry: &Registry,
) -> anyhow::Result<u8> {
    match command {
        SpfCommand::Build(args) => build(global, args, registry).await,
    }
}

/// The config, accepting the shared `[domains.inventory]` table even when no
/// checker of this build claims it (the inventory-drift checker may not be
/// registered): `spf build` is one of its readers. The file must exist.
fn load_config(global: &GlobalArgs, registry: &Registry) -> anyhow::Result<Config> {
    setup::load_config_with(
        global,
        registry,
        &setup::Loading {
            extra_checkers: &["inventory", "inventory-drift"],
            required_because: Some("`spf build` reads the domain's sender inventory from it"),
        },
    )
}

/// One term of the built record and the senders it stands for.
struct BuiltTerm {
    term: String,
    senders: Vec<String>,
}

fn add_term(terms: &mut Vec<BuiltTerm>, term: String, sender: &str) {
    match terms
        .iter_mut()
        .find(|t| t.term.eq_ignore_ascii_case(&term))
    {
        Some(t) => {
            if !t.senders.iter().any(|s| s == sender) {
                t.senders.push(sender.to_string());
            }
        }
        None => terms.push(BuiltTerm {
            term,
            senders: vec![sender.to_string()],
        }),
    }
}

/// Who the terms kept from the published record stand for.
const PUBLISHED_OWN_HOSTS: &str = "the published record (the domain's own hosts)";

/// The terms of the record: the inventory's ranges first (free, and matched
/// first), then the published record's own-host terms (`a`, `mx`, ranges;
/// see [`authwarden_checker_spf::SpfRecord::own_host_terms`]) and `a`/`mx` when asked for, then the
/// includes, each in inventory order.
fn terms_of(
    inventory: &Inventory,
    args: &BuildArgs,
    kept: &[String],
    warnings: &mut Vec<String>,
) -> Vec<BuiltTerm> {
    let mut ranges = Vec::new();
    let mut own = Vec::new();
    let mut includes = Vec::new();
    for s in &inventory.senders {
        for c in &s.ips {
            add_term(&mut ranges, c.spf_term(), &s.id);
        }
        if let Some(p) = &s.provider {
            match (p.spf_include(), p.spf.as_deref()) {
                (Some(target), _) => add_term(&mut includes, format!("include:{target}"), &s.id),
                (None, Some(mechanism)) => {
                    add_term(&mut includes, mechanism.trim().to_string(), &s.id)
                }
                (None, None) if s.includes.is_empty() && s.ips.is_empty() => warnings.push(
                    format!(
                        "{} ({}) documents no spf mechanism in the provider catalog: it is not in the record; its mail can still pass dmarc by its dkim signature, or list its ranges as a named sender",
                        s.id, p.name
                    ),
                ),
                (None, None) => {}
            }
        }
        for d in &s.includes {
            add_term(&mut includes, format!("include:{d}"), &s.id);
        }
    }
    for t in kept {
        if !ranges
            .iter()
            .any(|r: &BuiltTerm| r.term.eq_ignore_ascii_case(t))
        {
            add_term(&mut own, t.clone(), PUBLISHED_OWN_HOSTS);
        }
    }
    if args.a {
        add_term(&mut own, "a".into(), "--a");
    }
    if args.mx {
        add_term(&mut own, "mx".into(), "--mx");
    }
    ranges.extend(own);
    ranges.extend(includes);
    ranges
}

/// Where the `all` qualifier came from.
struct PhaseChoice {
    rollout: Rollout,
    source: &'static str,
    dmarc: Option<PublishedPhase>,
    why: String,
}

async fn choose_phase(resolver: &dyn Resolver, domain: &str, args: &BuildArgs) -> PhaseChoice {
    if let Some(p) = args.phase.as_deref().and_then(Rollout::parse) {
        return PhaseChoice {
            rollout: p,
            source: "override",
            dmarc: None,
            why: format!("--phase {}: {}", p.as_str(), p.reason()),
        };
    }
    match published_phase(resolver, domain).await {
        Some(d) => {
            let rollout = Rollout::of(&d.phase);
            PhaseChoice {
                rollout,
                source: "dmarc",
                why: format!(
                    "the dmarc record at {} is at \"{}\" ({}): {}",
                    d.record_name,
                    d.phase.describe(),
                    rollout.as_str(),
                    rollout.reason()
                ),
                dmarc: Some(d),
            }
        }
        None => PhaseChoice {
            rollout: Rollout::Monitoring,
            source: "default",
            dmarc: None,
            why: format!(
                "no usable dmarc record found, so treated as monitoring: {}",
                Rollout::Monitoring.reason()
            ),
        },
    }
}

/// What is published at the domain now.
struct Published {
    status: &'static str,
    record: Option<String>,
    terms: Vec<String>,
    /// The terms for the domain's own hosts, which the built record keeps.
    own_hosts: Vec<String>,
}

async fn published(resolver: &dyn Resolver, domain: &str) -> Published {
    let answer = resolver.query(domain, RecordType::TXT).await;
    let mut own_hosts = Vec::new();
    let (status, record) = match select_record(&answer) {
        Fetched::Record { text, parsed, .. } => {
            if let Ok(parsed) = parsed {
                own_hosts = parsed
                    .own_host_terms(domain)
                    .into_iter()
                    .map(|t| t.text.clone())
                    .collect();
            }
            ("found", Some(text))
        }
        Fetched::Missing { .. } => ("missing", None),
        Fetched::Multiple(r) => ("multiple", Some(r.join(" | "))),
        Fetched::Failed(_) => ("incomplete", None),
    };
    let terms = match (status, &record) {
        ("found", Some(text)) => text
            .split(' ')
            .skip(1)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    Published {
        status,
        record,
        terms,
        own_hosts,
    }
}

/// Term-level diff: (added, removed, unchanged), compared case-insensitively
/// with the default `+` qualifier dropped.
fn diff(built: &[String], published: &[String]) -> (Vec<String>, Vec<String>, Vec<String>) {
    let norm = |t: &str| t.trim_start_matches('+').to_ascii_lowercase();
    let has = |list: &[String], t: &str| list.iter().any(|p| norm(p) == norm(t));
    let added = built
        .iter()
        .filter(|t| !has(published, t))
        .cloned()
        .collect();
    let removed = published
        .iter()
        .filter(|t| !has(built, t))
        .cloned()
        .collect();
    let unchanged = built
        .iter()
        .filter(|t| has(published, t))
        .cloned()
        .collect();
    (added, removed, unchanged)
}

/// Problems met while evaluating the built record, as warnings.
fn tree_warnings(ev: &Evaluation, warnings: &mut Vec<String>) {
    for node in &ev.tree {
        node.walk(&mut Vec::new(), &mut |path, n: &LookupNode| {
            let at = path.join(" → ");
            let text = match &n.problem {
                Some(NodeProblem::NoRecord) => format!("{at}: the target publishes no spf record (receivers return permerror): check the provider's current include"),
                Some(NodeProblem::Multiple(r)) => format!("{at}: the target publishes {} spf records (permerror)", r.len()),
                Some(NodeProblem::Syntax(e)) => format!("{at}: the target's record has a syntax error: {e}"),
                Some(NodeProblem::Loop) => format!("{at}: loops back to a record already being evaluated"),
                Some(NodeProblem::TooManyMx(k)) => format!("{at}: {k} mx hosts, the limit is 10"),
                Some(NodeProblem::Failed(f)) => format!("{at}: lookup failed ({f}): the counts are lower bounds, run again"),
                Some(NodeProblem::Truncated) => format!("{at}: not followed, too many includes"),
                None if n.void => format!("{at}: void lookup (the name has no such record)"),
                None => return,
            };
            warnings.push(text);
        });
    }
}

async fn build(global: &GlobalArgs, args: &BuildArgs, registry: &Registry) -> anyhow::Result<u8> {
    let config = load_config(global, registry)?;
    let name = domain::normalize_name(&args.domain);
    if let Err(e) = domain::validate_domain(&name) {
        bail!("invalid domain `{}`: {e}", args.domain);
    }
    let Some(entry) = config.domains.iter().find(|d| d.name == name) else {
        bail!(
            "{name} is not in the config's [[domains]]: add it with a [domains.inventory] table listing its senders"
        );
    };
    let catalog = Catalog::builtin();
    let (inventory, problems) = parse_inventory(&entry.settings, catalog);
    if !inventory.configured {
        bail!(
            "{name} has no sender inventory: add a [domains.inventory] table, e.g. senders = [{{ provider = \"google-workspace\" }}, {{ name = \"crm\", ips = [\"192.0.2.0/24\"] }}]"
        );
    }
    if !problems.is_empty() {
        for p in &problems {
            match &p.suggestion {
                Some(s) => eprintln!(
                    "error: {name} inventory {}: {} (did you mean `{s}`?)",
                    p.path, p.message
                ),
                None => eprintln!("error: {name} inventory {}: {}", p.path, p.message),
            }
        }
        eprintln!(
            "error: the inventory of {name} has {} problem(s): no record is built from a partial inventory",
            problems.len()
        );
        return Ok(EXIT_USAGE);
    }
    let resolver = setup::resolver(&config)?;
    let resolver = &*resolver;
    let mut warnings = Vec::new();
    let current = published(resolver, &name).await;
    let terms = terms_of(&inventory, args, &current.own_hosts, &mut warnings);
    if terms.is_empty() {
        warnings.push(format!(
            "the inventory authorises no sender by spf: the record says no server sends as {name}"
        ));
    }
    let phase = choose_phase(resolver, &name, args).await;
    let all = format!("{}all", phase.rollout.all().as_char());
    let mut words = vec!["v=spf1".to_string()];
    words.extend(terms.iter().map(|t| t.term.clone()));
    words.push(all.clone());
    let text = words.join(" ");
    let record = parse_record(text.as_bytes())
        .with_context(|| format!("the record built for {name} does not parse: {text}"))?;
    let ev = evaluate(resolver, &name, &record).await;
    tree_warnings(&ev, &mut warnings);
    let over = ev.dns_lookups > LOOKUP_LIMIT;
    let flat = if over {
        warnings.push(format!(
            "the record takes {} dns lookups, the limit is {LOOKUP_LIMIT}: receivers return permerror and spf fails for all mail",
            ev.dns_lookups
        ));
        flatten(resolver, &name, &record, &ev).await
    } else {
        None
    };
    if ev.void_lookups > VOID_LIMIT {
        warnings.push(format!(
            "{} void lookups, the limit is {VOID_LIMIT}: receivers return permerror",
            ev.void_lookups
        ));
    }
    if text.len() > 450 {
        warnings.push(format!(
            "the record is {} bytes: over 450 the dns answer may not fit 512 bytes",
            text.len()
        ));
    }
    let (added, removed, unchanged) = diff(&words[1..], &current.terms);
    let report = Report {
        domain: &name,
        text: &text,
        terms: &terms,
        all: &all,
        phase: &phase,
        ev: &ev,
        flat: flat.as_ref(),
        published: &current,
        added,
        removed,
        unchanged,
        warnings,
        sender_count: inventory.senders.len(),
    };
    let mut out = std::io::stdout().lock();
    let written = match global.format {
        Format::Json => serde_json::to_writer_pretty(&mut out, &report.json())
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out)),
        Format::Text => report.text(&mut out),
        other => bail!("spf build prints text or json, not {other:?}"),
    };
    match written.and_then(|()| out.flush()) {
        // A reader that stopped early (`| head`) is no failure.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e.into()),
        _ => {}
    }
    let within = !over && ev.void_lookups <= VOID_LIMIT;
    Ok(if within { EXIT_OK } else { EXIT_FINDINGS })
}

struct Report<'a> {
    domain: &'a str,
    text: &'a str,
    terms: &'a [BuiltTerm],
    all: &'a str,
    phase: &'a PhaseChoice,
    ev: &'a Evaluation,
    flat: Option<&'a authwarden_checker_spf::Flattened>,
    published: &'a Published,
    added: Vec<String>,
    removed: Vec<String>,
    unchanged: Vec<String>,
    warnings: Vec<String>,
    sender_count: usize,
}

impl Report<'_> {
    /// The terms kept because the published record authorizes the domain's
    /// own hosts with them.
    fn kept(&self) -> Vec<&str> {
        self.terms
            .iter()
            .filter(|t| t.senders.iter().any(|s| s == PUBLISHED_OWN_HOSTS))
            .map(|t| t.term.as_str())
            .collect()
    }

    fn json(&self) -> Value {
        let flat = self.flat.map(|f| {
            json!({
                "record": f.record,
                "strings": txt_strings(&f.record),
                "dns_lookups": f.dns_lookups,
                "within_limit": f.within_limit(),
                "replaced": f.replaced.iter().map(|(t, n)| json!({"term": t, "dns_lookups": n})).collect::<Vec<_>>(),
                "kept": f.kept.iter().map(|(t, why)| json!({"term": t, "reason": why})).collect::<Vec<_>>(),
                "warning": REFRESH_WARNING,
            })
        });
        json!({
            "domain": self.domain,
            "record": self.text,
            "strings": txt_strings(self.text),
            "bytes": self.text.len(),
            "all": self.all,
            "phase": {
                "rollout": self.phase.rollout.as_str(),
                "source": self.phase.source,
                "dmarc_name": self.phase.dmarc.as_ref().map(|d| d.record_name.as_str()),
                "dmarc_record": self.phase.dmarc.as_ref().map(|d| d.record.as_str()),
                "dmarc_phase": self.phase.dmarc.as_ref().map(|d| d.phase.describe()),
                "reason": self.phase.why,
            },
            "terms": self.terms.iter().map(|t| json!({"term": t.term, "senders": t.senders})).collect::<Vec<_>>(),
            "dns_lookups": self.ev.dns_lookups,
            "void_lookups": self.ev.void_lookups,
            "within_limits": self.ev.dns_lookups <= LOOKUP_LIMIT && self.ev.void_lookups <= VOID_LIMIT,
            "tree": tree_json(&self.ev.tree),
            "flattened": flat,
            "published": {"status": self.published.status, "record": self.published.record},
            "kept_from_published": self.kept(),
            "diff": {"added": self.added, "removed": self.removed, "unchanged": self.unchanged},
            "warnings": self.warnings,
        })
    }

    fn text(&self, out: &mut impl Write) -> std::io::Result<()> {
        writeln!(
            out,
            "spf record for {}, built from {} sender{} of its inventory:",
            self.domain,
            self.sender_count,
            if self.sender_count == 1 { "" } else { "s" }
        )?;
        writeln!(out)?;
        writeln!(out, "  {}. TXT {}", self.domain, quoted(self.text))?;
        writeln!(out)?;
        writeln!(out, "{}: {}", self.all, self.phase.why)?;
        writeln!(
            out,
            "lookups: {}/{LOOKUP_LIMIT} dns, {}/{VOID_LIMIT} void",
            self.ev.dns_lookups, self.ev.void_lookups
        )?;
        let tree = tree_json(&self.ev.tree);
        if let Some(nodes) = tree.as_array().filter(|n| !n.is_empty()) {
            write_tree(out, nodes, "  ")?;
        }
        writeln!(out, "terms and the senders they authorise:")?;
        for t in self.terms {
            writeln!(out, "  {}  ← {}", t.term, t.senders.join(", "))?;
        }
        let kept = self.kept();
        if !kept.is_empty() {
            writeln!(
                out,
                "kept from the published record: {} (the domain's own hosts, which the inventory of sending services does not list)",
                kept.join(" ")
            )?;
        }
        if let Some(f) = self.flat {
            writeln!(out)?;
            let replaced: Vec<String> = f
                .replaced
                .iter()
                .map(|(t, n)| format!("{t} ({n})"))
                .collect();
            writeln!(
                out,
                "flattened alternative ({} lookup{}{}), replacing {}:",
                f.dns_lookups,
                if f.dns_lookups == 1 { "" } else { "s" },
                if f.within_limit() {
                    ""
                } else {
                    ", still over the limit"
                },
                replaced.join(", ")
            )?;
            writeln!(out, "  {}. TXT {}", self.domain, quoted(&f.record))?;
            for (t, why) in &f.kept {
                writeln!(out, "  kept {t}: {why}")?;
            }
            writeln!(out, "  warning: {REFRESH_WARNING}")?;
        }
        writeln!(out)?;
        match (self.published.status, &self.published.record) {
            ("found", Some(r)) => {
                writeln!(out, "published: \"{r}\"")?;
                if self.added.is_empty() && self.removed.is_empty() {
                    writeln!(out, "  = the same terms: nothing to change")?;
                }
                for t in &self.added {
                    writeln!(out, "  + {t}")?;
                }
                for t in &self.removed {
                    writeln!(out, "  - {t}")?;
                }
                if !self.unchanged.is_empty()
                    && (!self.added.is_empty() || !self.removed.is_empty())
                {
                    writeln!(out, "  = {} term(s) unchanged", self.unchanged.len())?;
                }
            }
            ("missing", _) => writeln!(out, "published: no spf record: publish the one above")?,
            ("multiple", Some(r)) => writeln!(
                out,
                "published: several spf records ({r}): replace them all with the one above"
            )?,
            _ => writeln!(out, "published: unknown, the txt lookup failed")?,
        }
        if !self.warnings.is_empty() {
            writeln!(out)?;
            for w in &self.warnings {
                writeln!(out, "warning: {w}")?;
            }
        }
        Ok(())
    }
}

/// The record as zone-file character-strings (split at 255 bytes).
fn quoted(record: &str) -> String {
    txt_strings(record)
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Writes an SPF lookup tree (the `tree` of the spf facts) like a `tree`
/// listing, each term with its cost (itself and everything below it).
pub fn write_tree(out: &mut impl Write, nodes: &[Value], indent: &str) -> std::io::Result<()> {
    fn walk(
        out: &mut dyn Write,
        nodes: &[Value],
        indent: &str,
        prefix: &str,
    ) -> std::io::Result<()> {
        for (i, n) in nodes.iter().enumerate() {
            let last = i + 1 == nodes.len();
            let term = n.get("term").and_then(Value::as_str).unwrap_or("?");
            let lookups = n.get("dns_lookups").and_then(Value::as_u64).unwrap_or(0);
            let voids = n.get("void_lookups").and_then(Value::as_u64).unwrap_or(0);
            let mut cost = format!("{lookups} lookup{}", if lookups == 1 { "" } else { "s" });
            if voids > 0 {
                cost.push_str(&format!(", {voids} void"));
            }
            if n.get("macro").and_then(Value::as_bool) == Some(true) {
                cost.push_str(", macro: not followed");
            }
            if let Some(p) = n.get("problem").and_then(Value::as_str) {
                cost.push_str(&format!(", {p}"));
            }
            writeln!(
                out,
                "{indent}{prefix}{}{term}  ({cost})",
                if last { "└── " } else { "├── " }
            )?;
            if let Some(children) = n.get("children").and_then(Value::as_array) {
                let next = format!("{prefix}{}", if last { "    " } else { "│   " });
                walk(out, children, indent, &next)?;
            }
        }
        Ok(())
    }
    walk(out, nodes, indent, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_renders_costs_and_branches() {
        let tree = json!([
            {"term": "include:_spf.a.example", "dns_lookups": 3, "void_lookups": 1, "children": [
                {"term": "a:x.a.example", "dns_lookups": 1, "void_lookups": 1},
                {"term": "include:n.a.example", "dns_lookups": 1, "void_lookups": 0, "problem": "loop"}
            ]},
            {"term": "mx", "dns_lookups": 1, "void_lookups": 0}
        ]);
        let mut out = Vec::new();
        write_tree(&mut out, tree.as_array().unwrap(), "  ").unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "  ├── include:_spf.a.example  (3 lookups, 1 void)\n\
             \x20 │   ├── a:x.a.example  (1 lookup, 1 void)\n\
             \x20 │   └── include:n.a.example  (1 lookup, loop)\n\
             \x20 └── mx  (1 lookup)\n"
        );
    }

    #[test]
    fn diff_ignores_case_and_the_default_qualifier() {
        let built = vec![
            "ip4:192.0.2.0/24".to_string(),
            "include:_spf.google.com".into(),
            "-all".into(),
        ];
        let published = vec![
            "+IP4:192.0.2.0/24".to_string(),
            "include:old.example".into(),
            "~all".into(),
        ];
        let (added, removed, unchanged) = diff(&built, &published);
        assert_eq!(added, ["include:_spf.google.com", "-all"]);
        assert_eq!(removed, ["include:old.example", "~all"]);
        assert_eq!(unchanged, ["ip4:192.0.2.0/24"]);
    }
}
