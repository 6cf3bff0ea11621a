//! The `dmarc-policy` checker: discovery, then one finding per problem with a
//! suggested record built from the current one, and the facts.

use std::collections::BTreeSet;

use authwarden_api::domain::organizational_domain;
use authwarden_api::plan::{Change, DmarcEditKind, FindingRef, Proposal, Publisher};
use authwarden_api::serde_json::{self, Value};
use authwarden_api::{
    async_trait, Cadence, CheckContext, CheckOutput, Checker, CheckerInfo, CodeInfo, DomainTarget,
    Finding, ReportFact,
};

use authwarden_dmarc::{
    authorization_name, check_authorization, discover, parse_record_bytes, Authorization,
    Discovery, DiscoveryOutcome, DmarcFacts, DmarcRecord, FoundRecord, IssueKind, ParsedRecord,
    Phase, Policy, RecordSource, ReportUri, SyntaxIssue,
};

use crate::codes::*;

/// The checker id.
pub const CHECKER_ID: &str = "dmarc-policy";

static INFO: CheckerInfo = CheckerInfo {
    id: CHECKER_ID,
    summary: "checks the dmarc record: presence, syntax, policy strength and report destinations",
    cadences: &[Cadence::Monthly, Cadence::Annual],
    codes: CODES,
    facts_key: "dmarc",
};

/// Checks a domain's DMARC record (RFC 7489, RFC 9989): that exactly one is
/// published (or inherited from the organizational domain), that it parses,
/// how strong the policy is, and that aggregate reports can arrive.
///
/// Its facts (key `dmarc`) always have the same keys, null where unknown:
/// `status` (`found`, `missing`, `multiple`, `invalid`, `incomplete`),
/// `record` (as published), `source` (`domain` or `organizational`),
/// `record_domain`, `organizational_domain`, `policy` (the policy applied to
/// the checked domain: the organizational record's `sp`, else `p`, when
/// inherited), `subdomain_policy` and `nonexistent_subdomain_policy` (with
/// defaults applied), `pct`, `testing` (`t=y`), `rua` and `ruf` (URIs
/// without size limits), `adkim`, `aspf`, `fo` (e.g. `1:d`), `ri`,
/// `strictness` (`policy` one step weaker under `t=y` or `pct=0`) and
/// `phase` (`none`, `quarantine pct 25`, `reject pct 100`, with ` (testing)`
/// appended under `t=y`).
#[derive(Debug, Default, Clone, Copy)]
pub struct DmarcPolicy;

#[async_trait]
impl Checker for DmarcPolicy {
    fn info(&self) -> &CheckerInfo {
        &INFO
    }

    /// No settings: a key in `[checkers.<id>]` (besides `enabled` and
    /// `jobs`) or in the domain's table is a mistake the config reports.
    fn settings_spec(&self) -> Option<&'static authwarden_api::SettingsSpec> {
        Some(&authwarden_api::SettingsSpec::NONE)
    }

    async fn check(&self, ctx: &CheckContext, target: &DomainTarget) -> CheckOutput {
        let discovery = discover(&*ctx.resolver, &target.name).await;
        let mut run = Run {
            domain: discovery.domain.clone(),
            findings: Vec::new(),
            proposals: Vec::new(),
        };
        for lookalike in &discovery.lookalikes {
            let finding = Finding::new(
                CHECKER_ID,
                &DMARC_SYNTAX_ERROR,
                &run.domain,
                format!(
                    "txt record at {} does not start with `v=DMARC1`, receivers ignore it",
                    lookalike.name
                ),
            )
            .subject(&lookalike.name)
            .help(format!(
                "put `v=DMARC1` first and delete any other dmarc record at that name: {}",
                publish(&lookalike.name, &lookalike_fix(&lookalike.text))
            ))
            .evidence("record", lookalike.text.as_str());
            // The edit: the string receivers ignore goes; its tags become the
            // record at that name unless a valid record is published there
            // (that one is what receivers apply, and stays as it is).
            let fixed = lookalike_fix(&lookalike.text);
            run.propose(
                Change::RemoveTxt {
                    name: lookalike.name.clone(),
                    value: Some(lookalike.text.clone()),
                },
                "receivers ignore a txt record that does not start with v=DMARC1",
                &finding,
            );
            let valid_there = match &discovery.outcome {
                DiscoveryOutcome::Found(found) => found.name() == lookalike.name,
                DiscoveryOutcome::Multiple { .. } => true,
                _ => false,
            };
            if !valid_there {
                run.propose(
                    dmarc_tags(
                        &lookalike.name,
                        tag_pairs(&fixed),
                        Vec::new(),
                        DmarcEditKind::Fix,
                    ),
                    "the same tags, with v=DMARC1 first",
                    &finding,
                );
            }
            run.push(finding);
        }
        let facts = match &discovery.outcome {
            DiscoveryOutcome::Failed { name, failure } => {
                run.push(incomplete(&run.domain, name, &failure.to_string()));
                empty_facts("incomplete", &discovery)
            }
            DiscoveryOutcome::Missing => {
                run.missing(&discovery);
                empty_facts("missing", &discovery)
            }
            DiscoveryOutcome::Multiple {
                source,
                domain,
                records,
            } => {
                run.multiple(domain, records);
                let mut facts = empty_facts("multiple", &discovery);
                facts.source = Some(source.as_str().into());
                facts.record_domain = Some(domain.clone());
                facts
            }
            DiscoveryOutcome::Found(found) => match &found.parsed {
                Ok(parsed) => {
                    run.analyze(ctx, found, parsed).await;
                    found_facts(&discovery, found, parsed)
                }
                Err(issues) => {
                    let fixed = with_placeholder_rua(
                        DmarcRecord {
                            policy: Some(Policy::None),
                            ..DmarcRecord::default()
                        },
                        &found.domain,
                    );
                    let edit = dmarc_tags(
                        &found.name(),
                        tag_pairs(&fixed.record.to_txt()),
                        Vec::new(),
                        DmarcEditKind::Fix,
                    );
                    let fixed = format!(
                        "{}{}",
                        publish(&found.name(), &fixed.record.to_txt()),
                        fixed.note
                    );
                    let start = run.findings.len();
                    for issue in issues {
                        run.syntax(found, issue, &fixed, None);
                    }
                    let resolves = run.findings[start..].iter().map(FindingRef::to).collect();
                    run.proposals.push(Proposal::new(
                        edit,
                        "receivers ignore the record: start again from a monitoring record",
                        resolves,
                    ));
                    let mut facts = empty_facts("invalid", &discovery);
                    facts.record = Some(found.text.clone());
                    facts.source = Some(found.source.as_str().into());
                    facts.record_domain = Some(found.domain.clone());
                    facts
                }
            },
        };
        if let Some(f) = unauthenticated_reports(ctx, &run.domain) {
            run.push(f);
        }
        CheckOutput {
            findings: run.findings,
            proposals: run.proposals,
            facts: Some(serde_json::to_value(&facts).expect("dmarc facts serialise")),
        }
    }

    /// The phase and the record.
    fn report_facts(&self, facts: &Value) -> Vec<ReportFact> {
        let Ok(dmarc) = serde_json::from_value::<DmarcFacts>(facts.clone()) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if let Some(phase) = &dmarc.phase {
            out.push(ReportFact::new("DMARC phase", phase.as_str()));
        }
        out.push(ReportFact::new(
            "DMARC record",
            dmarc.record.as_deref().unwrap_or("none published"),
        ));
        out
    }
}

/// Collects the findings for one domain.
struct Run {
    domain: String,
    findings: Vec<Finding>,
    proposals: Vec<Proposal>,
}

impl Run {
    fn push(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    /// Proposes `change` as the resolution of `finding`.
    fn propose(&mut self, change: Change, reason: &str, finding: &Finding) {
        self.proposals
            .push(Proposal::new(change, reason, vec![FindingRef::to(finding)]));
    }

    /// Proposes removing a weaker `sp` at `name` so that subdomains inherit
    /// `p`, as the resolution of `finding`.
    fn propose_sp_removal(&mut self, name: &str, finding: &Finding) {
        self.propose(
            dmarc_tags(
                name,
                Vec::new(),
                vec!["sp".into()],
                DmarcEditKind::Strengthen,
            ),
            "subdomains inherit p once sp is gone",
            finding,
        );
    }

    fn finding(&self, code: &CodeInfo, subject: &str, message: String) -> Finding {
        Finding::new(CHECKER_ID, code, &self.domain, message).subject(subject)
    }

    fn missing(&mut self, discovery: &Discovery) {
        let org = &discovery.organizational_domain;
        let message = if discovery.queried.len() > 1 {
            format!(
                "no dmarc record at _dmarc.{} nor at the organizational domain's _dmarc.{org}",
                self.domain
            )
        } else {
            format!("no dmarc record at _dmarc.{}", self.domain)
        };
        let record = with_placeholder_rua(
            DmarcRecord {
                policy: Some(Policy::None),
                ..DmarcRecord::default()
            },
            org,
        );
        let own_name = format!("_dmarc.{}", self.domain);
        let help = if let Some(lookalike) = discovery.lookalikes.iter().find(|l| l.name == own_name)
        {
            format!(
                "receivers ignore the txt record at {own_name} because it does not start with `v=DMARC1`: {}",
                publish(&own_name, &lookalike_fix(&lookalike.text))
            )
        } else {
            let where_ = if *org == self.domain {
                String::new()
            } else {
                format!(
                    " at the organizational domain, which also covers {},",
                    self.domain
                )
            };
            format!(
                "publish a monitoring record{where_} and read the aggregate reports: {}{}",
                publish(&format!("_dmarc.{org}"), &record.record.to_txt()),
                record.note
            )
        };
        let finding = self
            .finding(
                &DMARC_RECORD_MISSING,
                &format!("_dmarc.{}", self.domain),
                message,
            )
            .help(help)
            .evidence("queried", discovery.queried.clone());
        if let Some(lookalike) = discovery.lookalikes.iter().find(|l| l.name == own_name) {
            // The lookalike's own finding carries the edit; it resolves
            // this one too.
            let fixed = lookalike_fix(&lookalike.text);
            self.propose(
                dmarc_tags(&own_name, tag_pairs(&fixed), Vec::new(), DmarcEditKind::Fix),
                "the same tags, with v=DMARC1 first",
                &finding,
            );
        } else {
            self.propose(
                dmarc_tags(
                    &format!("_dmarc.{org}"),
                    tag_pairs(&record.record.to_txt()),
                    Vec::new(),
                    DmarcEditKind::Fix,
                ),
                &format!("start with a monitoring record{}", record.note),
                &finding,
            );
        }
        self.push(finding);
    }

    fn multiple(&mut self, domain: &str, records: &[Vec<u8>]) {
        let name = format!("_dmarc.{domain}");
        let texts: Vec<String> = records
            .iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect();
        // Suggest keeping the strongest of the records that parse, repaired.
        let best_index = records
            .iter()
            .enumerate()
            .filter_map(|(i, b)| parse_record_bytes(b).ok().map(|p| (i, p)))
            .max_by_key(|(_, p)| {
                (
                    p.record.effective_policy(),
                    std::cmp::Reverse(p.issues.len()),
                )
            })
            .map(|(i, _)| i);
        let best = best_index
            .and_then(|i| parse_record_bytes(&records[i]).ok())
            .map(|p| p.repaired());
        let help = match best {
            Some(record) => format!(
                "merge them into one record and delete the others, so that only this one remains: {}",
                publish(&name, &record.to_txt())
            ),
            None => "merge them into one record and delete the others".to_string(),
        };
        let finding = self
            .finding(
                &DMARC_MULTIPLE_RECORDS,
                &name,
                format!(
                    "{} dmarc records at {name}, receivers ignore all of them",
                    records.len()
                ),
            )
            .help(help)
            .evidence("count", records.len())
            .evidence("records", texts.clone());
        // Keep the strongest record (its own problems are findings of the
        // next run), delete the others.
        for (i, text) in texts.iter().enumerate() {
            if Some(i) != best_index.or(Some(0)) {
                self.propose(
                    Change::RemoveTxt {
                        name: name.clone(),
                        value: Some(text.clone()),
                    },
                    "receivers ignore every record at a name with more than one",
                    &finding,
                );
            }
        }
        self.push(finding);
    }

    /// A syntax finding; with `record` (the record as parsed), also the
    /// tag edit that fixes this one issue.
    fn syntax(
        &mut self,
        found: &FoundRecord,
        issue: &SyntaxIssue,
        publish_fixed: &str,
        record: Option<&DmarcRecord>,
    ) {
        let code = match issue.kind {
            IssueKind::UnknownTag => &DMARC_UNKNOWN_TAG,
            IssueKind::MissingPolicy => &DMARC_POLICY_MISSING,
            _ => &DMARC_SYNTAX_ERROR,
        };
        let name = found.name();
        let what = match issue.kind {
            IssueKind::MissingPolicy => {
                "add `p=none` to keep monitoring, or a stricter policy once the aggregate reports are clean"
            }
            IssueKind::UnknownTag if issue.suggestion.is_some() => "rename the tag",
            IssueKind::UnknownTag => "remove the tag",
            _ => "correct the record",
        };
        let mut finding = self
            .finding(code, &name, issue.message.clone())
            .help(format!("{what}: {publish_fixed}"))
            .evidence("kind", serde_kind(issue.kind));
        if let Some(tag) = &issue.tag {
            finding = finding.evidence("tag", tag.as_str());
        }
        if let Some(value) = &issue.value {
            finding = finding.evidence("value", value.as_str());
        }
        if let Some(suggestion) = &issue.suggestion {
            finding = finding.evidence("suggestion", suggestion.as_str());
        }
        if let Some(offset) = issue.offset {
            finding = finding.evidence("offset", offset);
        }
        finding = finding.evidence("record", found.text.as_str());
        if let Some(record) = record {
            let (set, remove, reason) = issue_edit(issue, record);
            self.propose(
                dmarc_tags(&name, set, remove, DmarcEditKind::Fix),
                &reason,
                &finding,
            );
        }
        self.push(finding);
    }

    async fn analyze(&mut self, ctx: &CheckContext, found: &FoundRecord, parsed: &ParsedRecord) {
        let record = &parsed.record;
        let name = found.name();
        // Ask about external destinations first: every suggested record
        // leaves out the destinations known not to work, so that the help of
        // each finding is a record that fixes all of them at once.
        let external = external_destinations(ctx, found, record).await;
        let mut base = parsed.repaired();
        for (tag, uri) in tagged_uris(record) {
            let unauthorized = external
                .iter()
                .any(|e| e.uri == *uri && e.tag == tag && e.answer.is_some());
            if !uri.is_mailto() || unauthorized {
                remove_uri(&mut base, tag, uri);
            }
        }
        let base = with_placeholder_rua(base, &found.domain);
        let publish_base = format!("{}{}", publish(&name, &base.record.to_txt()), base.note);
        let base = &base.record;
        let publish_here = |r: &DmarcRecord| publish(&name, &r.to_txt());

        for issue in &parsed.issues {
            self.syntax(found, issue, &publish_base, Some(&parsed.repaired()));
        }

        let (applied, tag) = applied_policy(found.source, record);
        let inherited = match found.source {
            RecordSource::Domain => String::new(),
            RecordSource::Organizational => format!(" (inherited from {name})"),
        };
        // A missing or invalid `p` already has its finding, which says that
        // receivers fall back to none; its fix is the typo's correction.
        let p_broken = tag == "p" && record.policy.is_none();
        if applied == Policy::None && !p_broken {
            let mut next = base.clone();
            let mut drop_sp = false;
            let what = if tag == "sp" && base.effective_policy() > Policy::None {
                drop_sp = true;
                next.subdomain_policy = None;
                format!(
                    "remove sp so that subdomains inherit p={}, or give {} a record of its own",
                    base.effective_policy(),
                    self.domain
                )
            } else {
                next.policy = Some(Policy::Quarantine);
                next.subdomain_policy = None;
                next.pct = Some(10);
                "once the aggregate reports show that all legitimate mail passes dmarc, enforce on a share of failing mail and raise pct step by step".to_string()
            };
            let finding = self
                .finding(
                    &DMARC_POLICY_NONE,
                    &name,
                    format!("dmarc policy is none{inherited}: failing mail is delivered as usual, monitoring only"),
                )
                .help(format!("{what}: {}", publish_here(&next)))
                .evidence("tag", tag)
                .evidence("value", "none")
                .evidence("source", found.source.as_str());
            // The step from p=none is the rollout advisor's proposal (it
            // knows whether the reports are clean); removing a weaker sp is
            // not a step of its ramp.
            if drop_sp {
                self.propose_sp_removal(&name, &finding);
            }
            self.push(finding);
        } else if applied > Policy::None {
            let pct = record.effective_pct();
            if pct < 100 {
                let mut next = base.clone();
                let step = [10u8, 25, 50, 100]
                    .into_iter()
                    .find(|s| *s > pct)
                    .unwrap_or(100);
                next.pct = (step < 100).then_some(step);
                let finding = self
                    .finding(
                        &DMARC_PARTIAL_POLICY,
                        &name,
                        format!(
                            "policy {applied} applies to only {pct}% of failing mail{inherited}, the rest gets {}",
                            applied.weaker()
                        ),
                    )
                    .help(format!(
                        "raise pct step by step while the aggregate reports stay clean; next step: {}",
                        publish_here(&next)
                    ))
                    .evidence("tag", "pct")
                    .evidence("value", pct)
                    .evidence("policy", applied.as_str());
                self.push(finding);
            }
            if record.is_testing() {
                let mut next = base.clone();
                next.testing = None;
                let finding = self
                    .finding(
                        &DMARC_TESTING_MODE,
                        &name,
                        format!(
                            "record is in testing mode (t=y){inherited}: rfc 9989 receivers apply {} instead of {applied}",
                            applied.weaker()
                        ),
                    )
                    .help(format!(
                        "when the aggregate reports show that legitimate mail passes, leave testing mode: {}",
                        publish_here(&next)
                    ))
                    .evidence("tag", "t")
                    .evidence("value", "y")
                    .evidence("policy", applied.as_str())
                    .evidence("applied", applied.weaker().as_str());
                self.push(finding);
            }
        }

        let p = record.effective_policy();
        if let Some(sp) = record.subdomain_policy.filter(|sp| *sp < p) {
            let mut next = base.clone();
            next.subdomain_policy = None;
            let applies = match found.source {
                RecordSource::Domain => String::new(),
                RecordSource::Organizational => format!(", and {} inherits it", self.domain),
            };
            let finding = self
                .finding(
                    &DMARC_SUBDOMAIN_POLICY_WEAKER,
                    &name,
                    format!("subdomain policy sp={sp} is weaker than p={p}{applies}"),
                )
                .help(format!(
                    "remove sp so that subdomains inherit p={p} (give subdomains that still need monitoring a record of their own): {}",
                    publish_here(&next)
                ))
                .evidence("sp", sp.as_str())
                .evidence("p", p.as_str());
            self.propose_sp_removal(&name, &finding);
            self.push(finding);
        }
        if let Some(np) = record.nonexistent_subdomain_policy.filter(|np| *np < p) {
            let mut next = base.clone();
            next.nonexistent_subdomain_policy = None;
            let (what, edit) = if next.effective_nonexistent_subdomain_policy() < p {
                next.nonexistent_subdomain_policy = Some(Policy::Reject);
                (
                    "set np=reject",
                    dmarc_tags(
                        &name,
                        vec![("np".into(), "reject".into())],
                        Vec::new(),
                        DmarcEditKind::Strengthen,
                    ),
                )
            } else {
                (
                    "remove np so that non-existent subdomains follow p",
                    dmarc_tags(
                        &name,
                        Vec::new(),
                        vec!["np".into()],
                        DmarcEditKind::Strengthen,
                    ),
                )
            };
            let finding = self
                .finding(
                    &DMARC_NONEXISTENT_POLICY_WEAKER,
                    &name,
                    format!("non-existent subdomain policy np={np} is weaker than p={p}"),
                )
                .help(format!(
                    "names that do not exist send no legitimate mail; {what}: {}",
                    publish_here(&next)
                ))
                .evidence("np", np.as_str())
                .evidence("p", p.as_str());
            self.propose(
                edit,
                "names that do not exist send no legitimate mail",
                &finding,
            );
            self.push(finding);
        }

        if record.rua.is_empty() {
            let message = if record.tags.iter().any(|t| t.name == "rua") {
                "rua has no valid uri, so no aggregate reports arrive"
            } else {
                "record asks for no aggregate reports (no rua)"
            };
            let finding = self
                .finding(&DMARC_NO_AGGREGATE_REPORTS, &name, message.to_string())
                .help(format!(
                    "add a rua address whose mailbox is read: {publish_base}"
                ))
                .evidence("tag", "rua");
            let rua = format!("mailto:dmarc-reports@{}", found.domain);
            self.propose(
                dmarc_tags(&name, vec![("rua".into(), rua)], Vec::new(), DmarcEditKind::Fix),
                &format!(
                    "aggregate reports show who sends as the domain (replace dmarc-reports@{} with a mailbox that is read)",
                    found.domain
                ),
                &finding,
            );
            self.push(finding);
        } else if record.rua.len() > 2 {
            let mut next = base.clone();
            next.rua.truncate(2);
            let finding = self
                .finding(
                    &DMARC_TOO_MANY_REPORT_URIS,
                    &name,
                    format!(
                        "rua lists {} uris, many receivers send to the first two only",
                        record.rua.len()
                    ),
                )
                .help(format!(
                    "keep at most two destinations that work and forward from there: {}",
                    publish_here(&next)
                ))
                .evidence("count", record.rua.len())
                .evidence("limit", 2)
                .evidence("uris", uri_strings(&record.rua));
            self.propose(
                dmarc_tags(
                    &name,
                    vec![("rua".into(), uri_list(&next.rua))],
                    Vec::new(),
                    DmarcEditKind::Fix,
                ),
                "many receivers send to the first two destinations only",
                &finding,
            );
            self.push(finding);
        }

        for (tag, uri) in tagged_uris(record).filter(|(_, u)| !u.is_mailto()) {
            let finding = self
                .finding(
                    &DMARC_REPORT_URI_NOT_MAILTO,
                    &name,
                    format!(
                        "{tag} uri `{}` is not a mailto: uri, receivers send nothing there",
                        uri.uri
                    ),
                )
                .help(format!(
                    "replace it with a mailto: address or remove it: {publish_base}"
                ))
                .evidence("tag", tag)
                .evidence("uri", uri.uri.as_str())
                .evidence("scheme", uri.scheme());
            let mut left: Vec<ReportUri> = if tag == "rua" {
                record.rua.clone()
            } else {
                record.ruf.clone()
            };
            left.retain(|u| u != uri);
            let edit = if left.is_empty() {
                dmarc_tags(&name, Vec::new(), vec![tag.into()], DmarcEditKind::Fix)
            } else {
                dmarc_tags(
                    &name,
                    vec![(tag.into(), uri_list(&left))],
                    Vec::new(),
                    DmarcEditKind::Fix,
                )
            };
            self.propose(
                edit,
                "receivers send reports to mailto: uris only",
                &finding,
            );
            self.push(finding);
        }

        if !record.ruf.is_empty() {
            let mut next = base.clone();
            next.ruf.clear();
            let finding = self
                .finding(
                    &DMARC_FAILURE_REPORTS_REQUESTED,
                    &name,
                    "record asks for failure reports (ruf): few receivers send them and they contain personal data".to_string(),
                )
                .help(format!(
                    "keep ruf only if someone reads and protects the mailbox they arrive in (authwarden keeps only their metadata), otherwise: {}",
                    publish_here(&next)
                ))
                .evidence("tag", "ruf")
                .evidence("uris", uri_strings(&record.ruf));
            // Whether to keep ruf is the domain owner's choice, not a fix:
            // no proposal, so the plan never removes it on its own.
            self.push(finding);
        }

        let mut failed_names = BTreeSet::new();
        for dest in &external {
            let auth_name = authorization_name(&found.domain, &dest.host);
            match (&dest.answer, &dest.failure) {
                (Some(answer), _) => {
                    let finding = self
                        .finding(
                            &DMARC_EXTERNAL_REPORTS_UNAUTHORIZED,
                            &auth_name,
                            format!(
                                "{} reports for {} to {} will be dropped: {} has not authorized them",
                                dest.tag,
                                found.domain,
                                dest.uri.mailto_address().unwrap_or(&dest.uri.uri),
                                dest.host
                            ),
                        )
                        .help(format!(
                            "ask the operator of {} to publish TXT {auth_name} \"v=DMARC1\", or send the reports to your own domain: {publish_base}",
                            dest.host
                        ))
                        .evidence("tag", dest.tag)
                        .evidence("uri", dest.uri.uri.as_str())
                        .evidence("host", dest.host.as_str())
                        .evidence("authorization_record", auth_name.as_str())
                        .evidence("answer", *answer);
                    self.propose(
                        Change::PublishTxt {
                            name: auth_name.clone(),
                            value: "v=DMARC1".into(),
                            publisher: Publisher::Other(organizational_domain(&dest.host)),
                            replace: false,
                        },
                        &format!(
                            "{} drops reports for {} until it authorizes them",
                            dest.host, found.domain
                        ),
                        &finding,
                    );
                    self.push(finding);
                }
                (None, Some(failure)) => {
                    // One incomplete finding per name, not per uri.
                    if failed_names.insert(auth_name.clone()) {
                        self.push(incomplete(&self.domain, &auth_name, failure));
                    }
                }
                (None, None) => {}
            }
        }
    }
}

/// A report destination in another organizational domain and what its
/// authorization lookup said.
struct ExternalDestination {
    tag: &'static str,
    uri: ReportUri,
    host: String,
    /// Why it is not authorized, when it is not.
    answer: Option<&'static str>,
    /// The DNS failure, when the lookup failed.
    failure: Option<String>,
}

/// Looks up the authorization of every `mailto:` destination outside the
/// record's organizational domain (RFC 7489 section 7.1).
async fn external_destinations(
    ctx: &CheckContext,
    found: &FoundRecord,
    record: &DmarcRecord,
) -> Vec<ExternalDestination> {
    let own_org = organizational_domain(&found.domain);
    let mut out = Vec::new();
    for (tag, uri) in tagged_uris(record) {
        let Some(host) = uri.mailto_host() else {
            continue;
        };
        if organizational_domain(&host) == own_org {
            continue;
        }
        let (answer, failure) =
            match check_authorization(&*ctx.resolver, &found.domain, &host).await {
                Authorization::Authorized => (None, None),
                Authorization::Failed(failure) => (None, Some(failure.to_string())),
                Authorization::NxDomain => (Some("nxdomain"), None),
                Authorization::NoRecord => (Some("no txt record starting with v=DMARC1"), None),
            };
        out.push(ExternalDestination {
            tag,
            uri: uri.clone(),
            host,
            answer,
            failure,
        });
    }
    out
}

/// The policy that applies to the checked domain and the tag it comes from.
fn applied_policy(source: RecordSource, record: &DmarcRecord) -> (Policy, &'static str) {
    let tag = match (source, record.subdomain_policy) {
        (RecordSource::Organizational, Some(_)) => "sp",
        _ => "p",
    };
    (record.applied_policy(source), tag)
}

/// How far back [`DMARC_REPORTS_NOT_AUTHENTICATED`] looks.
const REPORT_WINDOW_DAYS: i64 = 31;

/// How many reports the finding's evidence names.
const REPORTS_SHOWN: usize = 5;

/// DMARC017: the aggregate reports about `domain` of the last 31 days whose
/// carrying message the reporter did not authenticate (rows of the history,
/// `report_auth` = `not-authenticated`), one finding naming the first few.
fn unauthenticated_reports(ctx: &CheckContext, domain: &str) -> Option<Finding> {
    use authwarden_api::reports::{report_auth, AggregateSourceExt};
    let source = ctx.extensions.get::<AggregateSourceExt>()?;
    let now = ctx.clock.now();
    let since = now - chrono::Duration::days(REPORT_WINDOW_DAYS);
    let rows = source.0.rows(domain, since, now);
    // One entry per report: (org_name, report_id) → (detail, source).
    let mut flagged: std::collections::BTreeMap<(String, String), (String, String)> =
        std::collections::BTreeMap::new();
    let mut reports = BTreeSet::new();
    for r in &rows {
        reports.insert((r.org_name.as_str(), r.report_id.as_str()));
        if r.report_auth.as_deref() == Some(report_auth::NOT_AUTHENTICATED) {
            flagged
                .entry((r.org_name.clone(), r.report_id.clone()))
                .or_insert_with(|| {
                    (
                        r.report_auth_detail.clone().unwrap_or_default(),
                        r.source.clone(),
                    )
                });
        }
    }
    if flagged.is_empty() {
        return None;
    }
    let reporters: BTreeSet<&str> = flagged.keys().map(|(o, _)| o.as_str()).collect();
    let n = flagged.len();
    let mut f = Finding::new(
        CHECKER_ID,
        &DMARC_REPORTS_NOT_AUTHENTICATED,
        domain,
        format!(
            "{n} of the {} aggregate reports about {domain} in the last {REPORT_WINDOW_DAYS} days came in mail that the reporter ({}) did not authenticate: their figures may be forged",
            reports.len(),
            reporters.into_iter().collect::<Vec<_>>().join(", ")
        ),
    )
    .help("look at the reports in the evidence; delete forged ones from the history and set `[ingest] require_authenticated = true` to refuse such reports (see `authwarden explain DMARC017`)")
    .evidence("reports", n.to_string());
    for (i, ((org, id), (detail, source))) in flagged.iter().take(REPORTS_SHOWN).enumerate() {
        f = f.evidence(
            &format!("report {}", i + 1),
            format!("{org} {id} ({source}): {detail}"),
        );
    }
    Some(f)
}

fn incomplete(domain: &str, name: &str, failure: &str) -> Finding {
    Finding::new(
        CHECKER_ID,
        &DMARC_CHECK_INCOMPLETE,
        domain,
        format!("dmarc check incomplete: txt lookup of {name} failed ({failure})"),
    )
    .subject(name)
    .help(format!(
        "run the check again; if it keeps failing, check that every authoritative name server of the zone answers TXT queries for {name}"
    ))
    .evidence("query", name)
    .evidence("type", "TXT")
    .evidence("failure", failure)
}

/// `publish TXT <name> "<record>"`.
fn publish(name: &str, record: &str) -> String {
    format!("publish TXT {name} \"{record}\"")
}

/// A suggested record and a note to append to the help when it contains a
/// placeholder address.
struct Suggested {
    record: DmarcRecord,
    note: String,
}

impl Suggested {
    fn plain(record: DmarcRecord) -> Self {
        Suggested {
            record,
            note: String::new(),
        }
    }
}

/// Adds a placeholder `rua` when the record has none.
fn with_placeholder_rua(mut record: DmarcRecord, domain: &str) -> Suggested {
    if !record.rua.is_empty() {
        return Suggested::plain(record);
    }
    let address = format!("dmarc-reports@{domain}");
    record.rua.push(ReportUri {
        uri: format!("mailto:{address}"),
        max_size: None,
    });
    Suggested {
        record,
        note: format!(" (replace {address} with a mailbox that is read)"),
    }
}

fn tagged_uris(record: &DmarcRecord) -> impl Iterator<Item = (&'static str, &ReportUri)> {
    record
        .rua
        .iter()
        .map(|u| ("rua", u))
        .chain(record.ruf.iter().map(|u| ("ruf", u)))
}

fn remove_uri(record: &mut DmarcRecord, tag: &str, uri: &ReportUri) {
    let list = if tag == "rua" {
        &mut record.rua
    } else {
        &mut record.ruf
    };
    list.retain(|u| u != uri);
}

fn uri_strings(uris: &[ReportUri]) -> Vec<String> {
    uris.iter().map(ReportUri::to_string).collect()
}

fn serde_kind(kind: IssueKind) -> Value {
    authwarden_api::serde_json::to_value(kind).unwrap_or(Value::Null)
}

/// Suggests a fix for a TXT string that mentions `v=DMARC1` too late: the
/// same tags with the version moved to the front.
fn lookalike_fix(text: &str) -> String {
    let parts: Vec<&str> = text
        .split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .filter(|p| {
            !p.split_once('=')
                .is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case("v"))
        })
        .collect();
    let mut record = DmarcRecord::new();
    for part in parts {
        if let Some((name, value)) = part.split_once('=') {
            let _ = record.set_tag(name, value);
        }
    }
    record.to_txt()
}

/// A [`Change::DmarcTags`].
fn dmarc_tags(
    name: &str,
    set: Vec<(String, String)>,
    remove: Vec<String>,
    kind: DmarcEditKind,
) -> Change {
    Change::DmarcTags {
        name: name.to_string(),
        set,
        remove,
        kind,
    }
}

/// The tags of a record's text after `v=DMARC1`, as (tag, value).
fn tag_pairs(text: &str) -> Vec<(String, String)> {
    text.split(';')
        .filter_map(|p| p.split_once('='))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .filter(|(n, _)| n != "v")
        .collect()
}

/// `mailto:a@x,mailto:b@y`: a `rua` or `ruf` value.
fn uri_list(uris: &[ReportUri]) -> String {
    uri_strings(uris).join(",")
}

/// The tag edit that fixes one syntax issue of a parsed record, with its
/// reason. `repaired` is [`ParsedRecord::repaired`]: where the issue is not
/// one tag's, its tags are set as they are there.
fn issue_edit(
    issue: &SyntaxIssue,
    repaired: &DmarcRecord,
) -> (Vec<(String, String)>, Vec<String>, String) {
    let tag = issue.tag.clone().unwrap_or_default();
    match (issue.kind, issue.suggestion.as_deref()) {
        (IssueKind::MissingPolicy, _) => (
            vec![("p".into(), "none".into())],
            Vec::new(),
            "receivers need a p tag; none keeps monitoring and the rollout advisor takes it from there".into(),
        ),
        // An invalid policy: what receivers apply today, spelled right;
        // the step to the policy the typo meant is the rollout advisor's.
        (IssueKind::InvalidValue, _) if tag == "p" => (
            vec![("p".into(), "none".into())],
            Vec::new(),
            format!(
                "receivers treat p={} as p=none; the rollout advisor proposes the stricter policy when the reports are clean",
                issue.value.as_deref().unwrap_or("")
            ),
        ),
        (IssueKind::InvalidValue, _) if tag == "sp" || tag == "np" => (
            Vec::new(),
            vec![tag.clone()],
            format!("receivers ignore the invalid {tag} and apply p"),
        ),
        (IssueKind::InvalidValue, Some(s)) => (
            vec![(tag.clone(), s.to_string())],
            Vec::new(),
            format!("{tag}={s} is the valid value nearest to what is written"),
        ),
        (IssueKind::InvalidValue, None) | (IssueKind::UnknownTag, None) if !tag.is_empty() => (
            Vec::new(),
            vec![tag.clone()],
            format!("receivers ignore the {tag} tag as written"),
        ),
        (IssueKind::UnknownTag, Some(s)) => (
            vec![(s.to_string(), issue.value.clone().unwrap_or_default())],
            vec![tag.clone()],
            format!("`{tag}` is a typo of `{s}`"),
        ),
        _ => (
            tag_pairs(&repaired.to_txt()),
            Vec::new(),
            "every tag written as receivers read it".into(),
        ),
    }
}

/// The facts with every field null, for a domain without a usable record.
fn empty_facts(status: &str, discovery: &Discovery) -> DmarcFacts {
    DmarcFacts::without_record(status, &discovery.organizational_domain)
}

/// The facts for a found record. `policy` is the policy applied to the
/// checked domain (the organizational record's `sp` when inherited);
/// `strictness` is that policy one step weaker when `t=y` or `pct=0`;
/// `phase` is the rollout stage, e.g. `quarantine pct 25 (testing)`.
fn found_facts(discovery: &Discovery, found: &FoundRecord, parsed: &ParsedRecord) -> DmarcFacts {
    let record = &parsed.record;
    let phase = Phase::of(record, found.source);
    // An invalid `p` is read as none, and the phase says why.
    let described = match parsed.invalid_policy() {
        Some(value)
            if found.source == RecordSource::Domain || record.subdomain_policy.is_none() =>
        {
            format!("{} (invalid p={value})", phase.describe())
        }
        _ => phase.describe(),
    };
    let fo: Vec<&str> = record.effective_fo().iter().map(|o| o.as_str()).collect();
    DmarcFacts {
        status: Some("found".into()),
        record: Some(found.text.clone()),
        source: Some(found.source.as_str().into()),
        record_domain: Some(found.domain.clone()),
        organizational_domain: Some(discovery.organizational_domain.clone()),
        policy: Some(phase.policy),
        subdomain_policy: Some(record.effective_subdomain_policy()),
        nonexistent_subdomain_policy: Some(record.effective_nonexistent_subdomain_policy()),
        pct: Some(phase.pct),
        testing: Some(phase.testing),
        rua: Some(record.rua.iter().map(|u| u.uri.clone()).collect()),
        ruf: Some(record.ruf.iter().map(|u| u.uri.clone()).collect()),
        adkim: Some(record.effective_adkim().as_str().into()),
        aspf: Some(record.effective_aspf().as_str().into()),
        fo: Some(fo.join(":")),
        ri: Some(record.effective_ri()),
        strictness: Some(phase.strictness()),
        phase: Some(described),
    }
}
