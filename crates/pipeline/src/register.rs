//! The annual as-built register: per domain what is published (DMARC, SPF
//! with its lookup tree, DKIM selectors with key type, size, first seen and
//! age, MX, report destinations), the sender inventory with owners and
//! purposes, the DMARC phase history of the year and what changed in it.
//! It is a section of the annual audit and its own files, `as-built.md`
//! and `as-built.html`, to keep in a wiki or a repository.

use authwarden_engine::RunOutcome;
use authwarden_report::{AsBuiltDomain, Fact, FindingRow, RolloutTimeline};
use serde_json::Value;

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn list(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().filter_map(text).collect())
        .unwrap_or_default()
}

/// The register of every domain of `outcome`; `rollout` gives the phase
/// history of the year, `resolved` the findings fixed since the last audit.
pub fn register(
    outcome: &RunOutcome,
    rollout: Option<&RolloutTimeline>,
    resolved: &[FindingRow],
) -> Vec<AsBuiltDomain> {
    outcome
        .domains
        .iter()
        .map(|d| {
            let f = &d.facts;
            let mut records = Vec::new();
            let dmarc = f.get("dmarc").cloned().unwrap_or(Value::Null);
            records.push(Fact::new(
                "DMARC",
                text(&dmarc["record"]).unwrap_or_else(|| "none published".into()),
            ));
            let rua = list(&dmarc["rua"]);
            if !rua.is_empty() {
                records.push(Fact::new("Aggregate reports to", rua.join(", ")));
            }
            let ruf = list(&dmarc["ruf"]);
            if !ruf.is_empty() {
                records.push(Fact::new("Failure reports to", ruf.join(", ")));
            }
            let spf = f.get("spf").cloned().unwrap_or(Value::Null);
            records.push(Fact::new(
                "SPF",
                text(&spf["record"]).unwrap_or_else(|| "none published".into()),
            ));
            if let Some(n) = spf["dns_lookups"].as_u64() {
                let tree: Vec<String> = spf["tree"]
                    .as_array()
                    .map(|t| {
                        t.iter()
                            .filter_map(|n| {
                                let n_lookups = n["dns_lookups"].as_u64().unwrap_or(0);
                                Some(format!(
                                    "{} ({n_lookups} {})",
                                    n["term"].as_str()?,
                                    if n_lookups == 1 { "lookup" } else { "lookups" }
                                ))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                records.push(Fact::new(
                    "SPF lookups",
                    format!("{n} of 10: {}", tree.join(", ")),
                ));
            }
            match f.get("dkim").and_then(Value::as_array) {
                Some(selectors) => {
                    for s in selectors.iter().filter(|s| s["found"] == true) {
                        let name = s["selector"].as_str().unwrap_or("?");
                        let mut parts = vec![s["key_type"].as_str().unwrap_or("key").to_string()];
                        if let Some(bits) = s["key_bits"].as_u64() {
                            parts.push(format!("{bits} bits"));
                        }
                        if let Some(first) = s["first_seen"].as_str() {
                            parts.push(format!("first seen {first}"));
                        }
                        if let Some(age) = s["key_age_days"].as_u64() {
                            parts.push(format!("{age} days old"));
                        }
                        if let Some(by) = s["managed_by"].as_str() {
                            parts.push(format!("managed by {by}"));
                        }
                        records.push(Fact::new(
                            format!("DKIM {name}._domainkey"),
                            parts.join(", "),
                        ));
                    }
                    if !selectors.iter().any(|s| s["found"] == true) {
                        records.push(Fact::new("DKIM", "no key found at the selectors probed"));
                    }
                }
                None => records.push(Fact::new("DKIM", "not checked in this job")),
            }
            let mx = f.get("parked").map(|p| list(&p["mx"]));
            records.push(Fact::new(
                "MX",
                match mx {
                    None => "not checked in this job".to_string(),
                    Some(mx) if mx.is_empty() => "none".to_string(),
                    Some(mx) => mx.join(", "),
                },
            ));
            // Transport security: the MTA-STS record and policy, and where
            // TLS reports go (the mx checker's facts take over the MX line
            // when present).
            if let Some(sts) = f.get("mta_sts") {
                let value = match (&sts["present"], sts["policy"].is_object()) {
                    (Value::Bool(false), _) => "none published".to_string(),
                    (Value::Bool(true), true) => format!(
                        "{} (mode {}, max_age {} s, mx {})",
                        text(&sts["record"]).unwrap_or_default(),
                        sts["policy"]["mode"].as_str().unwrap_or("?"),
                        sts["policy"]["max_age"].as_u64().unwrap_or(0),
                        list(&sts["policy"]["mx"]).join(", ")
                    ),
                    (Value::Bool(true), false) => format!(
                        "{} (no valid policy at {})",
                        text(&sts["record"]).unwrap_or_default(),
                        text(&sts["policy_url"]).unwrap_or_default()
                    ),
                    _ => "not checked (the lookup failed)".to_string(),
                };
                records.push(Fact::new("MTA-STS", value));
            }
            if let Some(rpt) = f.get("tls_rpt") {
                let rua = list(&rpt["rua"]);
                records.push(Fact::new(
                    "TLS reports to",
                    if rua.is_empty() {
                        "none (no TLS-RPT record)".to_string()
                    } else {
                        rua.join(", ")
                    },
                ));
            }
            let senders: Vec<String> = f
                .get("inventory")
                .and_then(|i| i["declared"].as_array())
                .map(|list| {
                    list.iter()
                        .map(|s| {
                            let name = s["source"].as_str().unwrap_or("?");
                            let owner = s["owner"].as_str().unwrap_or("no owner named");
                            let purpose = s["purpose"].as_str().unwrap_or("no purpose named");
                            format!("{name}: owner {owner}, purpose {purpose}")
                        })
                        .collect()
                })
                .unwrap_or_default();
            let mut changes = Vec::new();
            if let Some(r) = rollout.and_then(|r| r.domains.iter().find(|x| x.domain == d.domain)) {
                for c in &r.changes {
                    changes.push(match &c.from {
                        Some(from) => format!("{}: DMARC {} → {}", c.date, from, c.to),
                        None => format!("{}: DMARC {} (first seen)", c.date, c.to),
                    });
                }
            }
            if let Some(selectors) = f.get("dkim").and_then(Value::as_array) {
                for s in selectors {
                    for r in s["rotations"].as_array().into_iter().flatten() {
                        if let Some(day) = r["date"].as_str().or(r["at"].as_str()) {
                            changes.push(format!(
                                "{day}: DKIM key of {} rotated",
                                s["selector"].as_str().unwrap_or("?")
                            ));
                        }
                    }
                }
            }
            for r in resolved.iter().filter(|r| r.domain == d.domain) {
                changes.push(format!("fixed: {} {} ({})", r.code, r.name, r.subject));
            }
            AsBuiltDomain {
                domain: d.domain.clone(),
                records,
                senders,
                phases: rollout
                    .and_then(|r| r.domains.iter().find(|x| x.domain == d.domain))
                    .map(|r| format!("{}, since {}", r.phase, r.since))
                    .unwrap_or_else(|| "no phase history".into()),
                changes,
            }
        })
        .collect()
}

/// Markdown: one section per domain. Values are put in code spans (records)
/// or escaped, so that nothing in them becomes Markdown.
pub fn markdown(period: &str, generated: &str, domains: &[AsBuiltDomain]) -> String {
    let esc = |s: &str| {
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            if "\\`*_[]<>#!|".contains(c) {
                out.push('\\');
            }
            if c.is_control() {
                out.push(' ');
            } else {
                out.push(c);
            }
        }
        out
    };
    // In a table cell a `|` ends the cell even inside a code span.
    let code = |s: &str| {
        format!(
            "`` {} ``",
            s.replace('`', "'")
                .replace(['\n', '\r'], " ")
                .replace('|', "\\|")
        )
    };
    let mut md = format!(
        "# Email authentication: as built, {period}\n\nGenerated by authwarden on {}.\n",
        esc(generated)
    );
    for d in domains {
        md.push_str(&format!(
            "\n## {}\n\n| record | value |\n| --- | --- |\n",
            esc(&d.domain)
        ));
        for f in &d.records {
            md.push_str(&format!("| {} | {} |\n", esc(&f.label), code(&f.value)));
        }
        md.push_str(&format!("\nDMARC phase: {}\n", esc(&d.phases)));
        md.push_str("\nSenders (inventory):\n\n");
        if d.senders.is_empty() {
            md.push_str("- none declared\n");
        }
        for s in &d.senders {
            md.push_str(&format!("- {}\n", esc(s)));
        }
        md.push_str("\nChanged in the year:\n\n");
        if d.changes.is_empty() {
            md.push_str("- nothing recorded\n");
        }
        for c in &d.changes {
            md.push_str(&format!("- {}\n", esc(c)));
        }
    }
    md
}

/// A standalone HTML page of the same register, every value escaped.
pub fn html(period: &str, generated: &str, domains: &[AsBuiltDomain]) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;")
    };
    let mut h = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Email authentication: as built, {p}</title>\
         <style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;color:#111827}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #e5e7eb;padding:4px 8px;text-align:left;vertical-align:top}}code{{word-break:break-all}}</style>\
         </head><body>\n<h1>Email authentication: as built, {p}</h1>\n<p>Generated by authwarden on {g}.</p>\n",
        p = esc(period),
        g = esc(generated)
    );
    for d in domains {
        h.push_str(&format!(
            "<h2>{}</h2>\n<table><tr><th>record</th><th>value</th></tr>\n",
            esc(&d.domain)
        ));
        for f in &d.records {
            h.push_str(&format!(
                "<tr><td>{}</td><td><code>{}</code></td></tr>\n",
                esc(&f.label),
                esc(&f.value)
            ));
        }
        h.push_str(&format!(
            "</table>\n<p>DMARC phase: {}</p>\n",
            esc(&d.phases)
        ));
        h.push_str("<h3>Senders (inventory)</h3>\n<ul>\n");
        if d.senders.is_empty() {
            h.push_str("<li>none declared</li>\n");
        }
        for s in &d.senders {
            h.push_str(&format!("<li>{}</li>\n", esc(s)));
        }
        h.push_str("</ul>\n<h3>Changed in the year</h3>\n<ul>\n");
        if d.changes.is_empty() {
            h.push_str("<li>nothing recorded</li>\n");
        }
        for c in &d.changes {
            h.push_str(&format!("<li>{}</li>\n", esc(c)));
        }
        h.push_str("</ul>\n");
    }
    h.push_str("</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_values_stay_text() {
        let d = AsBuiltDomain {
            domain: "<b>x</b>.example".into(),
            records: vec![Fact::new(
                "DMARC",
                "v=DMARC1; p=none` | [click](http://evil)",
            )],
            senders: vec!["[a](http://evil): owner <i>it</i>".into()],
            phases: "none".into(),
            changes: vec![],
        };
        let md = markdown("2026", "2027-01-01", std::slice::from_ref(&d));
        assert!(!md.contains("[a](http"), "{md}");
        assert!(md.contains("\\[a\\](http"), "{md}");
        assert!(
            md.contains("`` v=DMARC1; p=none' \\| [click](http://evil) ``"),
            "{md}"
        );
        let page = html("2026", "2027-01-01", &[d]);
        assert!(!page.contains("<b>x</b>"), "{page}");
        assert!(page.contains("&lt;b&gt;x&lt;/b&gt;.example"), "{page}");
    }
}
