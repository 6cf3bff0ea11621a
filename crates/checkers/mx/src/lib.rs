//! The `mx` checker of authwarden: the MX records of a domain and the hosts
//! they name.
//!
//! [`Mx`] looks up MX at the domain and reports a missing MX (senders fall
//! back to the address records, RFC 5321 section 5.1), a null MX mixed with
//! other records (RFC 7505), exchanges that are IP literals, aliases
//! (RFC 2181 section 10.3) or hosts without an address, and addresses
//! without forward-confirmed reverse DNS. At most [`MAX_HOSTS`] hosts and
//! [`MAX_ADDRESSES`] addresses per host are examined. A failed lookup is a
//! "check incomplete" finding naming it, never a false error.
//!
//! Whether a parked domain has a null MX is the parked-domain checker's
//! PARK003; a null MX alone is fine here.
#![deny(missing_docs)]

pub mod codes;

use std::net::IpAddr;

use authwarden_api::serde_json::{json, Value};
use authwarden_api::{
    async_trait, Cadence, CheckContext, CheckOutput, Checker, CheckerInfo, DnsAnswer, DnsOutcome,
    DomainTarget, Finding, Rdata, RecordType, ReportFact, SettingsSpec,
};

pub use codes::CODES;
use codes::*;

/// The checker id, also its config section `[checkers.mx]`.
pub const CHECKER_ID: &str = "mx";
/// At most this many MX hosts (in preference order) are examined.
pub const MAX_HOSTS: usize = 10;
/// At most this many addresses per MX host are examined.
pub const MAX_ADDRESSES: usize = 4;

static INFO: CheckerInfo = CheckerInfo {
    id: CHECKER_ID,
    summary: "checks the mx records: missing, null mx mixed, ip literals, cnames, hosts without address, fcrdns",
    cadences: &[Cadence::Monthly, Cadence::Quarterly, Cadence::Annual],
    codes: CODES,
    facts_key: "mx",
};

/// The `mx` checker. It has no settings.
///
/// Its facts (key `mx`): `null_mx` (bool), `hosts` (each with `exchange`,
/// `preference`, `addresses`, `cname` and `fcrdns`, a list of `address`,
/// `ptr`, `confirmed`; `confirmed` is null when a lookup failed),
/// `hosts_total` and `capped` (true when hosts or addresses were left out).
/// `hosts` is null when the MX lookup failed.
#[derive(Debug, Default, Clone, Copy)]
pub struct Mx;

fn finding(code: &'static authwarden_api::CodeInfo, domain: &str, message: String) -> Finding {
    Finding::new(CHECKER_ID, code, domain, message)
}

/// MX007 for a failed lookup, `None` when it answered.
fn incomplete(domain: &str, answer: &DnsAnswer, skipped: &str) -> Option<Finding> {
    let failure = answer.failure()?;
    Some(
        finding(
            &MX_CHECK_INCOMPLETE,
            domain,
            format!(
                "the {} lookup of {} failed ({failure}), so {skipped} was not checked",
                answer.rtype.as_str().to_ascii_lowercase(),
                answer.name
            ),
        )
        .help(format!(
            "check that the name servers answer for {}, then run `authwarden check {domain}` again",
            answer.name
        ))
        .failed_lookup(answer),
    )
}

/// The reverse-DNS name of an address.
pub fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut labels = Vec::with_capacity(32);
            for byte in v6.octets().iter().rev() {
                labels.push(format!("{:x}", byte & 0x0f));
                labels.push(format!("{:x}", byte >> 4));
            }
            format!("{}.ip6.arpa", labels.join("."))
        }
    }
}

fn addresses(answer: &DnsAnswer) -> Vec<IpAddr> {
    answer
        .records()
        .iter()
        .filter_map(|r| match r {
            Rdata::A(a) => Some(IpAddr::V4(*a)),
            Rdata::Aaaa(a) => Some(IpAddr::V6(*a)),
            _ => None,
        })
        .collect()
}

fn ip_literal(exchange: &str) -> Option<IpAddr> {
    exchange
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// The evidence that says what was left out.
fn cap_note(examined: usize, total: usize, what: &str) -> Option<String> {
    (total > examined).then(|| format!("{examined} of {total} {what} examined"))
}

/// `[checkers.mx] starttls_probe`: off by default, the one check that opens
/// outbound SMTP connections.
static SETTINGS: SettingsSpec = SettingsSpec {
    checker: &[authwarden_api::SettingKey {
        name: "starttls_probe",
        kind: authwarden_api::SettingKind::Bool,
    }],
    domain: &[],
};

struct Ctx<'a> {
    ctx: &'a CheckContext,
    probe: Option<std::sync::Arc<dyn authwarden_api::starttls::StarttlsProbe>>,
    domain: &'a str,
    findings: Vec<Finding>,
    hosts_cap: Option<String>,
}

impl Ctx<'_> {
    fn push(&mut self, mut f: Finding) {
        if let Some(cap) = &self.hosts_cap {
            f = f.evidence("capped", cap.as_str());
        }
        self.findings.push(f);
    }

    async fn query(&self, name: &str, rtype: RecordType) -> DnsAnswer {
        self.ctx.resolver.query(name, rtype).await
    }

    /// The fcrdns entry of one address.
    async fn fcrdns(&mut self, exchange: &str, ip: IpAddr) -> Value {
        let rname = reverse_name(ip);
        let ptr = self.query(&rname, RecordType::PTR).await;
        if let Some(f) = incomplete(
            self.domain,
            &ptr,
            &format!("the reverse dns of {ip} ({exchange})"),
        ) {
            self.push(f);
            return json!({"address": ip.to_string(), "ptr": null, "confirmed": null});
        }
        let names: Vec<String> = ptr
            .records()
            .iter()
            .filter_map(|r| match r {
                Rdata::Ptr(n) => Some(authwarden_api::dns::normalize_name(n)),
                _ => None,
            })
            .collect();
        let rtype = if ip.is_ipv4() {
            RecordType::A
        } else {
            RecordType::AAAA
        };
        let mut confirmed = false;
        let mut failed = None;
        let mut forward = Vec::new();
        for name in names.iter().take(MAX_ADDRESSES) {
            let answer = self.query(name, rtype).await;
            if answer.failure().is_some() {
                failed = Some(answer);
                continue;
            }
            let found = addresses(&answer);
            confirmed |= found.contains(&ip);
            forward.extend(found.iter().map(IpAddr::to_string));
        }
        let ptr_text = (!names.is_empty()).then(|| names.join(", "));
        if !confirmed {
            if let Some(answer) = failed {
                let f = incomplete(
                    self.domain,
                    &answer,
                    &format!("the reverse dns of {ip} ({exchange})"),
                );
                self.push(f.expect("a failed answer"));
                return json!({"address": ip.to_string(), "ptr": ptr_text, "confirmed": null});
            }
            let message = match &ptr_text {
                None => format!("the mx address {ip} of {exchange} has no ptr record"),
                Some(p) => format!(
                    "the mx address {ip} of {exchange} has the ptr name {p}, which does not resolve back to {ip}"
                ),
            };
            let f = finding(&MX_FCRDNS, self.domain, message)
                .subject(ip.to_string())
                .help(format!(
                    "have the owner of the address set `{rname}. PTR {exchange}.` and keep `{exchange}. {rtype} {ip}`"
                ))
                .evidence("exchange", exchange)
                .evidence("address", ip.to_string())
                .evidence("reverse_name", rname.as_str())
                .evidence("ptr", ptr_text.clone())
                .evidence("ptr_addresses", forward);
            self.push(f);
        }
        json!({"address": ip.to_string(), "ptr": ptr_text, "confirmed": confirmed})
    }

    /// Checks one MX host and returns its facts.
    async fn host(&mut self, preference: u16, exchange: &str) -> Value {
        let mut facts = json!({
            "exchange": exchange,
            "preference": preference,
            "addresses": [],
            "cname": null,
            "fcrdns": [],
        });
        if let Some(ip) = ip_literal(exchange) {
            let f = finding(
                &MX_IP_LITERAL,
                self.domain,
                format!(
                    "the mx record `{preference} {exchange}` names an ip address, not a host name"
                ),
            )
            .subject(exchange)
            .help(format!(
                "publish `mail.{d}. {t} {ip}` and `{d}. MX {preference} mail.{d}.` instead",
                d = self.domain,
                t = if ip.is_ipv4() { "A" } else { "AAAA" }
            ))
            .evidence("exchange", exchange)
            .evidence("preference", preference);
            self.push(f);
            return facts;
        }
        let a = self.query(exchange, RecordType::A).await;
        let aaaa = self.query(exchange, RecordType::AAAA).await;
        let what = format!("the address of mx host {exchange}");
        let mut failed = false;
        for answer in [&a, &aaaa] {
            if let Some(f) = incomplete(self.domain, answer, &what) {
                self.push(f);
                failed = true;
            }
        }
        let cname = [&a, &aaaa]
            .iter()
            .find(|x| !x.cname_chain.is_empty())
            .map(|x| x.canonical_name().to_string());
        if let Some(target) = &cname {
            facts["cname"] = target.as_str().into();
            let f = finding(
                &MX_CNAME,
                self.domain,
                format!("the mx host {exchange} is an alias (cname) of {target}"),
            )
            .subject(exchange)
            .help(format!(
                "point the mx at the canonical name: `{}. MX {preference} {target}.`",
                self.domain
            ))
            .evidence("exchange", exchange)
            .evidence(
                "cname_chain",
                a.cname_chain
                    .clone()
                    .into_iter()
                    .chain(aaaa.cname_chain.clone())
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect::<Vec<_>>(),
            );
            self.push(f);
        }
        let mut ips = addresses(&a);
        ips.extend(addresses(&aaaa));
        facts["addresses"] = ips.iter().map(IpAddr::to_string).collect::<Vec<_>>().into();
        if ips.is_empty() {
            if !failed {
                let f = finding(
                    &MX_NO_ADDRESS,
                    self.domain,
                    format!("the mx host {exchange} has no a and no aaaa record, so mail cannot be delivered to it"),
                )
                .subject(exchange)
                .help(format!(
                    "publish the address of {exchange} (`{exchange}. A ...`) or remove `{}. MX {preference} {exchange}.`",
                    self.domain
                ))
                .evidence("exchange", exchange)
                .evidence("preference", preference)
                .evidence("a", outcome_text(&a))
                .evidence("aaaa", outcome_text(&aaaa));
                self.push(f);
            }
            return facts;
        }
        let cap = cap_note(
            MAX_ADDRESSES.min(ips.len()),
            ips.len(),
            &format!("addresses of {exchange}"),
        );
        let mut fcrdns = Vec::new();
        for ip in ips.iter().take(MAX_ADDRESSES) {
            let before = self.findings.len();
            fcrdns.push(self.fcrdns(exchange, *ip).await);
            if let Some(cap) = &cap {
                for f in &mut self.findings[before..] {
                    f.evidence
                        .insert("addresses_capped".into(), cap.as_str().into());
                }
            }
        }
        facts["fcrdns"] = fcrdns.into();
        if cap.is_some() {
            facts["addresses_capped"] = true.into();
        }
        if let Some(probe) = self.probe.clone() {
            facts["starttls"] = self.starttls(probe.as_ref(), exchange, ips[0]).await;
        }
        facts
    }

    /// The STARTTLS probe of the host's first address, and its finding.
    async fn starttls(
        &mut self,
        probe: &dyn authwarden_api::starttls::StarttlsProbe,
        exchange: &str,
        ip: IpAddr,
    ) -> Value {
        use authwarden_api::starttls::StarttlsOutcome as O;
        let outcome = probe.probe(exchange, ip).await;
        let (facts, f) = match &outcome {
            O::Secure { version } => (json!({"address": ip.to_string(), "result": "secure", "version": version}), None),
            O::NotOffered => (
                json!({"address": ip.to_string(), "result": "not-offered"}),
                Some(
                    finding(&MX_STARTTLS_MISSING, self.domain, format!("the mx host {exchange} ({ip}) does not offer STARTTLS: mail to it travels in plain text"))
                        .help(format!("enable TLS on {exchange} with a certificate for that name")),
                ),
            ),
            O::Refused(reply) => (
                json!({"address": ip.to_string(), "result": "refused", "detail": reply}),
                Some(
                    finding(&MX_STARTTLS_FAILED, self.domain, format!("the mx host {exchange} ({ip}) offers STARTTLS but refuses it: {reply}"))
                        .help(format!("check the TLS settings and logs of {exchange}")),
                ),
            ),
            O::TlsFailed { kind, detail } => {
                let code = if kind.is_certificate() { &MX_STARTTLS_CERT } else { &MX_STARTTLS_FAILED };
                let what = match kind {
                    authwarden_api::https::HttpsFailureKind::CertificateExpired => "its certificate has expired",
                    authwarden_api::https::HttpsFailureKind::CertificateName => "its certificate is not valid for that name",
                    authwarden_api::https::HttpsFailureKind::CertificateUntrusted => "its certificate does not chain to a trusted CA",
                    _ => "the TLS handshake fails",
                };
                (
                    json!({"address": ip.to_string(), "result": kind.as_str(), "detail": detail}),
                    Some(
                        finding(code, self.domain, format!("STARTTLS with the mx host {exchange} ({ip}): {what}"))
                            .help(format!("install a certificate from a public CA for {exchange} and renew it automatically"))
                            .evidence("error", detail.as_str()),
                    ),
                )
            }
            O::Unreachable { kind, detail } => (
                json!({"address": ip.to_string(), "result": kind.as_str(), "detail": detail}),
                Some(
                    finding(&MX_CHECK_INCOMPLETE, self.domain, format!("the STARTTLS probe of {exchange} ({ip}) got no SMTP answer: {detail}"))
                        .help("outbound connections to port 25 may be blocked where authwarden runs; run the probe from a host that may connect, or turn `starttls_probe` off"),
                ),
            ),
        };
        if let Some(f) = f {
            self.push(
                f.subject(exchange)
                    .evidence("exchange", exchange)
                    .evidence("address", ip.to_string()),
            );
        }
        facts
    }
}

fn outcome_text(answer: &DnsAnswer) -> &'static str {
    match answer.outcome {
        DnsOutcome::NxDomain => "nxdomain",
        DnsOutcome::NoData => "no data",
        DnsOutcome::Records(_) => "no address",
        DnsOutcome::Failed(_) => "failed",
    }
}

#[async_trait]
impl Checker for Mx {
    fn info(&self) -> &CheckerInfo {
        &INFO
    }

    fn settings_spec(&self) -> Option<&'static SettingsSpec> {
        Some(&SETTINGS)
    }

    fn report_facts(&self, facts: &Value) -> Vec<ReportFact> {
        if facts.get("null_mx").and_then(Value::as_bool) == Some(true) {
            return vec![ReportFact::new("MX", "null MX: receives no mail")];
        }
        let Some(hosts) = facts.get("hosts").and_then(Value::as_array) else {
            return Vec::new();
        };
        if hosts.is_empty() {
            return vec![ReportFact::new("MX", "none (address fallback)")];
        }
        let shown: Vec<String> = hosts
            .iter()
            .map(|h| {
                format!(
                    "{} {}",
                    h.get("preference").and_then(Value::as_u64).unwrap_or(0),
                    h.get("exchange").and_then(Value::as_str).unwrap_or("")
                )
            })
            .collect();
        vec![ReportFact::new("MX", shown.join(", "))]
    }

    async fn check(&self, ctx: &CheckContext, target: &DomainTarget) -> CheckOutput {
        let domain = target.name.as_str();
        let mx = ctx.resolver.query(domain, RecordType::MX).await;
        let probe = (ctx.config.get("starttls_probe").and_then(Value::as_bool) == Some(true))
            .then(|| {
                ctx.extensions
                    .get::<authwarden_api::starttls::StarttlsProbeExt>()
            })
            .flatten()
            .map(|p| p.0.clone());
        let mut run = Ctx {
            ctx,
            probe,
            domain,
            findings: Vec::new(),
            hosts_cap: None,
        };
        if let Some(f) = incomplete(domain, &mx, "the domain's mail hosts") {
            return CheckOutput {
                findings: vec![f],
                facts: Some(json!({"null_mx": null, "hosts": null})),
                proposals: Vec::new(),
            };
        }
        let mut records: Vec<(u16, String)> = mx
            .records()
            .iter()
            .filter_map(|r| match r {
                Rdata::Mx {
                    preference,
                    exchange,
                } => Some((*preference, authwarden_api::dns::normalize_name(exchange))),
                _ => None,
            })
            .collect();
        records.sort();
        records.dedup();
        let nulls = records.iter().filter(|(_, e)| e.is_empty()).count();
        let null_mx = nulls == 1 && records.len() == 1;
        if records.is_empty() {
            let a = run.query(domain, RecordType::A).await;
            let aaaa = run.query(domain, RecordType::AAAA).await;
            let mut fallback = Vec::new();
            let mut failed = false;
            for answer in [&a, &aaaa] {
                match incomplete(domain, answer, "the address fallback") {
                    Some(f) => {
                        failed = true;
                        run.push(f);
                    }
                    None => fallback.extend(addresses(answer).iter().map(IpAddr::to_string)),
                }
            }
            let message = if fallback.is_empty() && !failed {
                "the domain publishes no mx record and has no address, so mail to it cannot be delivered".to_string()
            } else {
                "the domain publishes no mx record, so senders deliver to its address records"
                    .to_string()
            };
            let f = finding(&MX_MISSING, domain, message)
                .help(format!(
                    "publish its mail hosts (`{domain}. MX 10 mail.{domain}.`) or, if it receives no mail, a null mx: `{domain}. MX 0 .`"
                ))
                .evidence("mx", outcome_text(&mx))
                .evidence("fallback_addresses", fallback);
            run.push(f);
        } else if nulls > 0 && records.len() > nulls {
            let shown: Vec<String> = records
                .iter()
                .map(|(p, e)| {
                    if e.is_empty() {
                        format!("{p} .")
                    } else {
                        format!("{p} {e}")
                    }
                })
                .collect();
            let f = finding(
                &MX_NULL_MIXED,
                domain,
                "the domain mixes a null mx (`0 .`) with other mx records, which rfc 7505 forbids".to_string(),
            )
            .help(format!(
                "if {domain} receives mail, delete `{domain}. MX 0 .`; if it does not, delete the other mx records"
            ))
            .evidence("mx", shown);
            run.push(f);
        }
        let real: Vec<(u16, String)> = records
            .iter()
            .filter(|(_, e)| !e.is_empty())
            .cloned()
            .collect();
        run.hosts_cap = cap_note(MAX_HOSTS.min(real.len()), real.len(), "mx hosts");
        let mut hosts = Vec::new();
        for (preference, exchange) in real.iter().take(MAX_HOSTS) {
            hosts.push(run.host(*preference, exchange).await);
        }
        let capped =
            run.hosts_cap.is_some() || hosts.iter().any(|h| h.get("addresses_capped").is_some());
        CheckOutput {
            findings: run.findings,
            facts: Some(json!({
                "null_mx": null_mx,
                "hosts": hosts,
                "hosts_total": real.len(),
                "capped": capped,
            })),
            proposals: Vec::new(),
        }
    }
}
