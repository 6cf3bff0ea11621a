//! What the facts and the mail evidence show, read once per domain and
//! shared by the profiles: the DMARC record (with a valid `p` and `rua`
//! told apart), SPF, the DKIM keys, the declared senders' alignment and the
//! aggregate-report totals.
//!
//! Each reading says what was seen in words, so that a rule's evidence names
//! it; an answer that was not seen is [`Seen::Unknown`], never a pass.

use authwarden_dmarc::facts::{DmarcFacts, RolloutFacts};
use authwarden_dmarc::{parse_record, Policy};
use authwarden_spf::{SpfFacts, LOOKUP_LIMIT, VOID_LIMIT};
use serde_json::{Map, Value};

use crate::{count, MailEvidence, ProfileInput};

/// A yes / no answer with what it rests on, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Seen {
    /// Seen to hold.
    Yes(String),
    /// Seen not to hold.
    No(String),
    /// Not seen either way.
    Unknown(String),
}

impl Seen {
    pub(crate) fn text(&self) -> &str {
        match self {
            Seen::Yes(t) | Seen::No(t) | Seen::Unknown(t) => t,
        }
    }
}

/// One DKIM selector of the `dkim` facts.
#[derive(Debug, Clone)]
pub(crate) struct Key {
    pub selector: String,
    /// `valid`, `revoked`, `malformed`, `undecodable`, `missing`, `failed`.
    pub status: String,
    pub key_type: Option<String>,
    pub key_bits: Option<u64>,
    pub key_age_days: Option<i64>,
    pub age_source: Option<String>,
}

impl Key {
    pub(crate) fn is_valid(&self) -> bool {
        self.status == "valid"
    }

    pub(crate) fn is_rsa(&self) -> bool {
        self.key_type.as_deref().unwrap_or("rsa") == "rsa"
    }

    /// `selector mh1 (rsa, 2048 bits)`.
    pub(crate) fn describe(&self) -> String {
        let kind = self.key_type.as_deref().unwrap_or("key type unknown");
        match self.key_bits {
            Some(bits) => format!("selector {} ({kind}, {bits} bits)", self.selector),
            None => format!("selector {} ({kind}, size unknown)", self.selector),
        }
    }
}

/// A declared sender (inventory) as the period's reports show it.
#[derive(Debug, Clone)]
pub(crate) struct Sender {
    pub source: String,
    pub messages: u64,
    pub aligned: u64,
    pub dkim_aligned: u64,
    pub spf_aligned: u64,
}

/// The DMARC record as receivers read it.
#[derive(Debug, Clone)]
pub(crate) enum Dmarc {
    /// No facts, or a lookup that did not complete.
    Unknown(String),
    /// No usable record (`missing`, `multiple`, `invalid`).
    None(String),
    /// A record starting with `v=DMARC1`.
    Found(DmarcRecordSeen),
}

/// A found DMARC record.
#[derive(Debug, Clone)]
pub(crate) struct DmarcRecordSeen {
    pub record: String,
    /// The valid `p`, `None` when `p` is missing or invalid.
    pub p: Option<Policy>,
    /// The invalid value of `p` as published (`rejct`).
    pub invalid_p: Option<String>,
    /// The policy applied to the domain (`sp` when inherited).
    pub applied: Option<Policy>,
    /// The valid aggregate report URIs.
    pub rua: Vec<String>,
    /// True when the record has a `rua` tag at all.
    pub rua_tag: bool,
    pub pct: Option<u8>,
    pub testing: bool,
    /// `domain` or `organizational`.
    pub source: Option<String>,
    pub record_domain: Option<String>,
    pub organizational_domain: Option<String>,
}

/// Everything the profiles read for one domain.
pub(crate) struct Facts<'a> {
    pub domain: &'a str,
    pub dmarc: Dmarc,
    pub spf: Option<SpfFacts>,
    /// `None` when the facts have no `dkim` key.
    pub keys: Option<Vec<Key>>,
    /// Declared senders with mail in the period; `None` without an inventory.
    pub senders: Option<Vec<Sender>>,
    pub rollout: Option<RolloutFacts>,
    pub mail: Option<&'a MailEvidence>,
}

fn typed<T: serde::de::DeserializeOwned>(facts: &Map<String, Value>, key: &str) -> Option<T> {
    facts
        .get(key)
        .filter(|v| !v.is_null())
        .and_then(|v| serde_json::from_value(v.clone()).ok())
}

impl<'a> Facts<'a> {
    pub(crate) fn read(input: &ProfileInput<'a>) -> Facts<'a> {
        let facts = input.facts;
        Facts {
            domain: input.domain,
            dmarc: read_dmarc(input.domain, typed(facts, "dmarc")),
            spf: typed(facts, "spf"),
            keys: facts.get("dkim").and_then(Value::as_array).map(|a| {
                a.iter()
                    .filter_map(Value::as_object)
                    .map(read_key)
                    .collect()
            }),
            senders: read_senders(facts.get("inventory")),
            rollout: typed(facts, "rollout"),
            mail: input.mail,
        }
    }

    /// The valid DKIM keys published in DNS.
    pub(crate) fn valid_keys(&self) -> Vec<&Key> {
        self.keys
            .iter()
            .flatten()
            .filter(|k| k.is_valid())
            .collect()
    }

    /// The mail evidence when it holds any message.
    pub(crate) fn mail_with_messages(&self) -> Option<&MailEvidence> {
        self.mail.filter(|m| m.messages > 0)
    }

    /// Whether the domain has a working SPF record.
    pub(crate) fn spf(&self) -> Seen {
        let Some(spf) = &self.spf else {
            return Seen::Unknown("no SPF facts for the domain".into());
        };
        let record = spf.record.as_deref().unwrap_or("");
        match spf.status.as_deref() {
            Some("found") => {
                let lookups = spf.dns_lookups.unwrap_or(0);
                let voids = spf.void_lookups.unwrap_or(0);
                if lookups > LOOKUP_LIMIT {
                    Seen::No(format!(
                        "the SPF record `{record}` needs {lookups} DNS lookups, over the limit of {LOOKUP_LIMIT}: receivers get a permerror"
                    ))
                } else if voids > VOID_LIMIT {
                    Seen::No(format!(
                        "the SPF record `{record}` has {voids} void lookups, over the limit of {VOID_LIMIT}: receivers get a permerror"
                    ))
                } else {
                    Seen::Yes(format!("SPF record `{record}`"))
                }
            }
            Some("missing") => Seen::No("no SPF record is published".into()),
            Some("multiple") => {
                Seen::No("several SPF records are published: receivers get a permerror".into())
            }
            Some("invalid") => Seen::No(format!("the SPF record `{record}` is invalid")),
            Some(other) => Seen::Unknown(format!("the SPF lookup ended {other}")),
            None => Seen::Unknown("the SPF facts have no status".into()),
        }
    }

    /// Whether the domain has DKIM: a valid key in DNS, or DKIM-aligned mail
    /// in the reports (a key at a selector that was not probed).
    /// Why no valid key is known: none found at the selectors probed, or
    /// the DKIM checker did not run in this job.
    pub(crate) fn no_key(&self) -> &'static str {
        if self.keys.is_none() {
            "the DKIM keys are not checked in this job (the DKIM checker runs in the quarterly and annual jobs)"
        } else {
            "no valid DKIM key was found at the selectors probed"
        }
    }

    pub(crate) fn dkim(&self) -> Seen {
        let valid = self.valid_keys();
        if !valid.is_empty() {
            let list: Vec<String> = valid.iter().map(|k| k.describe()).collect();
            return Seen::Yes(format!("valid DKIM key at {}", list.join(", ")));
        }
        let named: Vec<&str> = self
            .keys
            .iter()
            .flatten()
            .map(|k| k.selector.as_str())
            .collect();
        let none_at = if named.is_empty() {
            self.no_key().to_string()
        } else {
            format!(
                "no valid DKIM key at the selectors named ({})",
                named.join(", ")
            )
        };
        match self.mail_with_messages() {
            Some(m) if m.dkim_aligned > 0 => Seen::Yes(format!(
                "{} of {} messages in the reports are DKIM-aligned ({none_at})",
                count(m.dkim_aligned),
                count(m.messages)
            )),
            Some(m) => Seen::No(format!(
                "{none_at}, and none of the {} messages in the reports is DKIM-aligned",
                count(m.messages)
            )),
            None if self.keys.is_none() => Seen::Unknown("no DKIM facts for the domain".into()),
            None => Seen::Unknown(format!(
                "{none_at}; without aggregate reports the selectors in use are not known"
            )),
        }
    }

    /// Declared senders whose mail never passes `which` aligned
    /// (`spf_aligned`, `dkim_aligned` or `aligned`), as evidence lines.
    pub(crate) fn senders_without(&self, which: Alignment) -> Vec<String> {
        self.senders
            .iter()
            .flatten()
            .filter(|s| which.count(s) == 0)
            .map(|s| {
                format!(
                    "{}: 0 of {} messages {}",
                    s.source,
                    count(s.messages),
                    which.words()
                )
            })
            .collect()
    }

    /// Whether the domain publishes a DMARC record receivers apply, at
    /// least `p=none`.
    pub(crate) fn dmarc_published(&self) -> Seen {
        match &self.dmarc {
            Dmarc::Unknown(why) => Seen::Unknown(why.clone()),
            Dmarc::None(why) => Seen::No(why.clone()),
            Dmarc::Found(r) => match (r.p, &r.invalid_p, r.rua.is_empty()) {
                (Some(p), _, _) => Seen::Yes(format!("DMARC record `{}`: p={p}", r.record)),
                (None, Some(bad), false) => Seen::Yes(format!(
                    "DMARC record `{}`: p={bad} is not a policy, so receivers treat the record as p=none (its rua is valid)",
                    r.record
                )),
                (None, None, false) => Seen::Yes(format!(
                    "DMARC record `{}` has no p, so receivers treat it as p=none (its rua is valid)",
                    r.record
                )),
                (None, bad, true) => Seen::No(format!(
                    "DMARC record `{}` has {} and no valid rua: receivers apply no DMARC at all",
                    r.record,
                    bad.as_ref()
                        .map(|b| format!("p={b}, which is not a policy,"))
                        .unwrap_or_else(|| "no p".into())
                )),
            },
        }
    }

    /// Whether the domain's mail is aligned with SPF or DKIM (DMARC pass).
    pub(crate) fn alignment(&self) -> Seen {
        if let Some(senders) = self.senders.as_ref().filter(|s| !s.is_empty()) {
            let mut failing = self.senders_without(Alignment::Either);
            for f in self.rollout.iter().flat_map(|r| &r.failing_sources) {
                if !senders
                    .iter()
                    .any(|s| s.source == f.source && s.aligned == 0)
                {
                    failing.push(format!(
                        "{}: {} of {} messages fail DMARC",
                        f.source,
                        count(f.failing),
                        count(f.messages)
                    ));
                }
            }
            if !failing.is_empty() {
                return Seen::No(format!(
                    "declared senders not aligned: {}",
                    failing.join("; ")
                ));
            }
            let list: Vec<String> = senders
                .iter()
                .map(|s| format!("{} {} of {}", s.source, count(s.aligned), count(s.messages)))
                .collect();
            return Seen::Yes(format!(
                "every declared sender passes DMARC aligned: {}",
                list.join(", ")
            ));
        }
        match self.mail {
            None => Seen::Unknown("no aggregate reports for the period".into()),
            Some(m) if m.messages == 0 => {
                Seen::Unknown("no messages in the aggregate reports of the period".into())
            }
            Some(m) if m.dmarc_pass == 0 => Seen::No(format!(
                "none of the {} messages in the reports passed DMARC (aligned SPF or DKIM)",
                count(m.messages)
            )),
            Some(m) if m.dmarc_pass >= m.messages => Seen::Yes(format!(
                "all {} messages in the reports passed DMARC",
                count(m.messages)
            )),
            Some(m) => Seen::Unknown(format!(
                "{} of {} messages ({}) passed DMARC; without a sender inventory the failing rest cannot be told from forwarded or spoofed mail",
                count(m.dmarc_pass),
                count(m.messages),
                percent(m.dmarc_pass, m.messages)
            )),
        }
    }
}

/// Which aligned count of a sender.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Alignment {
    Spf,
    Dkim,
    Either,
}

impl Alignment {
    fn count(self, s: &Sender) -> u64 {
        match self {
            Alignment::Spf => s.spf_aligned,
            Alignment::Dkim => s.dkim_aligned,
            Alignment::Either => s.aligned,
        }
    }

    fn words(self) -> &'static str {
        match self {
            Alignment::Spf => "pass SPF aligned with the domain",
            Alignment::Dkim => "carry a DKIM signature aligned with the domain",
            Alignment::Either => "aligned with SPF or DKIM",
        }
    }
}

/// `45.6%`.
pub(crate) fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "0%".into();
    }
    format!("{:.1}%", part as f64 * 100.0 / whole as f64)
}

fn read_dmarc(domain: &str, facts: Option<DmarcFacts>) -> Dmarc {
    let Some(f) = facts else {
        return Dmarc::Unknown("no DMARC facts for the domain".into());
    };
    let org = f
        .organizational_domain
        .clone()
        .unwrap_or_else(|| domain.to_string());
    match f.status.as_deref() {
        Some("found") => {}
        Some("missing") => {
            let at = if org == domain {
                format!("_dmarc.{domain}")
            } else {
                format!("_dmarc.{domain} or _dmarc.{org}")
            };
            return Dmarc::None(format!("no DMARC record at {at}"));
        }
        Some("multiple") => {
            return Dmarc::None(
                "several DMARC records are published at one name: receivers discard them all"
                    .into(),
            )
        }
        Some("invalid") => {
            return Dmarc::None(format!(
                "the DMARC record `{}` is not usable",
                f.record.as_deref().unwrap_or("")
            ))
        }
        Some(other) => return Dmarc::Unknown(format!("the DMARC lookup ended {other}")),
        None => return Dmarc::Unknown("the DMARC facts have no status".into()),
    }
    let record = f.record.clone().unwrap_or_default();
    let parsed = parse_record(&record).ok();
    let invalid_p = parsed
        .as_ref()
        .and_then(|p| p.invalid_policy())
        .map(str::to_string);
    let p = match &parsed {
        Some(parsed) if invalid_p.is_none() => parsed.record.policy,
        Some(_) => None,
        // A record the parser does not take: trust the checker's reading.
        None => f.policy,
    };
    let rua_tag = parsed
        .as_ref()
        .map(|p| p.record.tags.iter().any(|t| t.name == "rua"))
        .unwrap_or_else(|| record.contains("rua="));
    Dmarc::Found(DmarcRecordSeen {
        record,
        p,
        invalid_p,
        applied: f.policy,
        rua: f.rua.clone().unwrap_or_default(),
        rua_tag,
        pct: f.pct,
        testing: f.testing.unwrap_or(false),
        source: f.source.clone(),
        record_domain: f.record_domain.clone(),
        organizational_domain: f.organizational_domain.clone(),
    })
}

fn read_key(o: &Map<String, Value>) -> Key {
    let s = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
    Key {
        selector: s("selector").unwrap_or_else(|| "?".into()),
        status: s("status").unwrap_or_else(|| {
            if o.get("found").and_then(Value::as_bool) == Some(true) {
                "valid".into()
            } else {
                "missing".into()
            }
        }),
        key_type: s("key_type"),
        key_bits: o.get("key_bits").and_then(Value::as_u64),
        key_age_days: o.get("key_age_days").and_then(Value::as_i64),
        age_source: s("age_source"),
    }
}

fn read_senders(inventory: Option<&Value>) -> Option<Vec<Sender>> {
    let inv = inventory?.as_object()?;
    if inv.get("configured").and_then(Value::as_bool) == Some(false) {
        return None;
    }
    let seen = inv.get("seen")?.as_array()?;
    let n = |o: &Map<String, Value>, k: &str| o.get(k).and_then(Value::as_u64).unwrap_or(0);
    Some(
        seen.iter()
            .filter_map(Value::as_object)
            .filter(|o| o.get("inventory").and_then(Value::as_bool) == Some(true))
            .map(|o| Sender {
                source: o
                    .get("source")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_string(),
                messages: n(o, "messages"),
                aligned: n(o, "aligned"),
                dkim_aligned: n(o, "dkim_aligned"),
                spf_aligned: n(o, "spf_aligned"),
            })
            .filter(|s| s.messages > 0)
            .collect(),
    )
}
