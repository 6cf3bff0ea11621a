//! The report model: owned strings and enums with `Unknown(String)` fallbacks,
//! so that whatever a reporter sends survives into the data.

use serde::{Serialize, Serializer};

/// `str::trim`, with a shortcut for the usual value that starts and ends
/// with a visible ASCII character: the parser trims every field, and the
/// general Unicode-aware trim is a measurable part of parsing.
#[inline]
pub(crate) fn trim(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(a), Some(b)) if a.is_ascii_graphic() && b.is_ascii_graphic() => s,
        _ => s.trim(),
    }
}

/// The longest domain name (RFC 1035), in bytes.
pub(crate) const MAX_DOMAIN_BYTES: usize = 253;

/// Whether `s` can be kept as a domain-like field: at most 253 bytes and no
/// control or bidi characters. Checked byte-wise for the usual ASCII value.
#[inline]
pub(crate) fn is_plausible_domain(s: &str) -> bool {
    s.len() <= MAX_DOMAIN_BYTES
        && if s.is_ascii() {
            s.bytes().all(|b| (0x20..0x7f).contains(&b))
        } else {
            !s.chars().any(crate::label::is_unsafe_char)
        }
}

/// A domain-like field of a record (`header_from`, `envelope_from`,
/// `envelope_to`, the DKIM and SPF domains) as kept: verbatim when
/// plausible, else escaped (`\u{1b}`) and cut to 253 bytes with an
/// ellipsis, so it can be stored and printed; such a value matches no real
/// domain, so the record is still counted and classified (as unaligned).
pub(crate) fn domain_field(s: &str) -> String {
    if is_plausible_domain(s) {
        return s.to_owned();
    }
    let mut out = crate::label::display_safe(s, usize::MAX).into_owned();
    if out.len() > MAX_DOMAIN_BYTES {
        let mut cut = MAX_DOMAIN_BYTES - '…'.len_utf8();
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

/// Declares a string enum that parses case-insensitively (ignoring
/// surrounding whitespace), keeps unknown values verbatim and serialises as
/// its canonical lower-case spelling.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $canon:literal $(| $alias:literal)* ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value outside the schema, kept as the reporter wrote it.
            Unknown(String),
        }

        impl $name {
            /// Parses a value; case and surrounding whitespace are ignored.
            /// Returns `None` for an empty value.
            pub fn parse(raw: &str) -> Option<Self> {
                let v = trim(raw);
                if v.is_empty() {
                    return None;
                }
                $(
                    if v.eq_ignore_ascii_case($canon) $(|| v.eq_ignore_ascii_case($alias))* {
                        return Some(Self::$variant);
                    }
                )+
                Some(Self::Unknown(v.to_owned()))
            }

            /// The canonical spelling (or the raw value for `Unknown`).
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $canon, )+
                    Self::Unknown(v) => v,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// DKIM/SPF identifier alignment mode (`adkim`, `aspf`).
    Alignment {
        /// `r`: organizational-domain match.
        Relaxed => "r" | "relaxed",
        /// `s`: exact match.
        Strict => "s" | "strict",
    }
}

string_enum! {
    /// A published policy (`p`, `sp`, `np`) or an applied disposition.
    Disposition {
        /// `none`: monitor only.
        None => "none",
        /// `quarantine`.
        Quarantine => "quarantine",
        /// `reject`.
        Reject => "reject",
        /// `pass`: RFC 9990 disposition for a message that passed DMARC.
        Pass => "pass",
    }
}

string_enum! {
    /// The DMARC verdict for DKIM or SPF in `policy_evaluated`.
    DmarcResult {
        /// Aligned and passing.
        Pass => "pass",
        /// Not aligned or not passing.
        Fail => "fail",
    }
}

string_enum! {
    /// A DKIM result in `auth_results`.
    DkimResult {
        /// No signature.
        None => "none",
        /// Valid signature.
        Pass => "pass",
        /// Invalid signature.
        Fail => "fail",
        /// Rejected by local policy.
        Policy => "policy",
        /// Neutral.
        Neutral => "neutral",
        /// Temporary error.
        TempError => "temperror" | "temp_error",
        /// Permanent error.
        PermError => "permerror" | "perm_error",
    }
}

string_enum! {
    /// An SPF result in `auth_results`.
    SpfResult {
        /// No SPF record.
        None => "none",
        /// Neutral (`?all`).
        Neutral => "neutral",
        /// Authorised.
        Pass => "pass",
        /// Not authorised (`-all`).
        Fail => "fail" | "hardfail",
        /// Weakly not authorised (`~all`).
        SoftFail => "softfail",
        /// Temporary error.
        TempError => "temperror" | "temp_error",
        /// Permanent error.
        PermError => "permerror" | "perm_error",
    }
}

string_enum! {
    /// Which identity SPF checked.
    SpfScope {
        /// The MAIL FROM (envelope) identity.
        Mfrom => "mfrom",
        /// The HELO identity.
        Helo => "helo",
    }
}

string_enum! {
    /// Why the receiver applied a disposition other than the published policy.
    PolicyOverride {
        /// Forwarded mail.
        Forwarded => "forwarded",
        /// Excluded by `pct`.
        SampledOut => "sampled_out",
        /// From a trusted forwarder.
        TrustedForwarder => "trusted_forwarder",
        /// From a mailing list.
        MailingList => "mailing_list",
        /// Receiver's local policy (often ARC).
        LocalPolicy => "local_policy",
        /// Other reason, see the comment.
        Other => "other",
    }
}

string_enum! {
    /// RFC 9990 `testing` flag (`t=` tag).
    Testing {
        /// `y`: policy in test mode.
        Yes => "y",
        /// `n`: policy enforced.
        No => "n",
    }
}

string_enum! {
    /// RFC 9990 policy discovery method.
    DiscoveryMethod {
        /// Public Suffix List (RFC 7489).
        Psl => "psl",
        /// DNS tree walk (RFC 9990).
        Treewalk => "treewalk",
    }
}

/// The reporting period, in Unix seconds, exactly as the reporter sent it
/// (it may span more than a day).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DateRange {
    /// Start of the period.
    pub begin: i64,
    /// End of the period.
    pub end: i64,
}

/// `<report_metadata>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReportMetadata {
    /// The reporting organisation (may be empty in broken reports).
    pub org_name: String,
    /// Contact address of the reporter.
    pub email: String,
    /// The reporter's identifier of this report.
    pub report_id: String,
    /// Further contact information.
    pub extra_contact_info: Option<String>,
    /// The reporting period.
    pub date_range: DateRange,
    /// `<error>` entries.
    pub errors: Vec<String>,
    /// RFC 9990 `<generator>`: the software that made the report.
    pub generator: Option<String>,
}

/// `<policy_published>`: the DMARC record the reporter found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PolicyPublished {
    /// The domain whose policy was applied.
    pub domain: String,
    /// DKIM alignment mode.
    pub adkim: Option<Alignment>,
    /// SPF alignment mode.
    pub aspf: Option<Alignment>,
    /// Policy for the domain.
    pub p: Option<Disposition>,
    /// Policy for subdomains.
    pub sp: Option<Disposition>,
    /// RFC 9990 policy for non-existent subdomains.
    pub np: Option<Disposition>,
    /// Sampling percentage (RFC 7489); `None` when absent or not a number.
    pub pct: Option<u8>,
    /// Failure reporting options, verbatim.
    pub fo: Option<String>,
    /// RFC 9990 test mode.
    pub testing: Option<Testing>,
    /// RFC 9990 policy discovery method.
    pub discovery_method: Option<DiscoveryMethod>,
}

/// A `<reason>` under `policy_evaluated`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OverrideReason {
    /// The reason type.
    #[serde(rename = "type")]
    pub kind: PolicyOverride,
    /// Free-text comment.
    pub comment: Option<String>,
}

/// `<policy_evaluated>`: what the receiver concluded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PolicyEvaluated {
    /// The applied disposition.
    pub disposition: Option<Disposition>,
    /// DMARC verdict for DKIM.
    pub dkim: Option<DmarcResult>,
    /// DMARC verdict for SPF.
    pub spf: Option<DmarcResult>,
    /// Override reasons; an empty `<reason/>` adds nothing.
    pub reasons: Vec<OverrideReason>,
}

/// `<identifiers>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Identifiers {
    /// RFC5322.From domain.
    pub header_from: String,
    /// RFC5321.MailFrom domain.
    pub envelope_from: Option<String>,
    /// RFC5321.RcptTo domain.
    pub envelope_to: Option<String>,
}

/// One `<dkim>` entry of `<auth_results>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DkimAuthResult {
    /// The `d=` domain.
    pub domain: String,
    /// The `s=` selector.
    pub selector: Option<String>,
    /// The verification result.
    pub result: Option<DkimResult>,
    /// Free-text detail.
    pub human_result: Option<String>,
}

/// One `<spf>` entry of `<auth_results>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SpfAuthResult {
    /// The checked domain.
    pub domain: String,
    /// Which identity was checked.
    pub scope: Option<SpfScope>,
    /// The SPF result.
    pub result: Option<SpfResult>,
    /// Free-text detail (RFC 9990).
    pub human_result: Option<String>,
}

/// `<auth_results>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AuthResults {
    /// DKIM results, one per signature.
    pub dkim: Vec<DkimAuthResult>,
    /// SPF results.
    pub spf: Vec<SpfAuthResult>,
}

/// Records the parser refused because their content is not valid: a
/// `source_ip` that is not an IPv4 or IPv6 address. They are not handed
/// out (so never filed as if valid), but counted here so the loss shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RejectedRecords {
    /// How many records were refused.
    pub records: u64,
    /// The messages they counted (saturating).
    pub messages: u64,
    /// Why, for the first few (at most [`RejectedRecords::MAX_REASONS`]),
    /// with quoted content escaped.
    pub reasons: Vec<String>,
}

impl RejectedRecords {
    /// The most reasons kept.
    pub const MAX_REASONS: usize = 5;

    /// Counts one refused record of `count` messages.
    pub(crate) fn add(&mut self, count: u64, reason: String) {
        self.records += 1;
        self.messages = self.messages.saturating_add(count);
        if self.reasons.len() < Self::MAX_REASONS {
            self.reasons.push(reason);
        }
    }

    /// Whether none was refused.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }
}

/// One `<record>`: a source IP and what happened to its messages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Record {
    /// The sending IP, trimmed but otherwise verbatim; the parser hands out
    /// only records whose `source_ip` is an IP address ([`Record::ip`]),
    /// the others are counted in [`ReportHeader::rejected`].
    pub source_ip: String,
    /// Number of messages.
    pub count: u64,
    /// The receiver's evaluation.
    pub policy_evaluated: PolicyEvaluated,
    /// Identifiers of the messages.
    pub identifiers: Identifiers,
    /// Raw authentication results.
    pub auth_results: AuthResults,
}

impl Record {
    /// The source IP, when it is a valid address.
    pub fn ip(&self) -> Option<std::net::IpAddr> {
        self.source_ip.parse().ok()
    }
}

/// Everything in a report except its records: what a streaming consumer
/// receives alongside each record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReportHeader {
    /// `<version>` (RFC 9990 and some RFC 7489 reporters).
    pub version: Option<String>,
    /// The XML namespace of `<feedback>`, e.g. `urn:ietf:params:xml:ns:dmarc-2.0`.
    pub namespace: Option<String>,
    /// `<report_metadata>`.
    pub metadata: ReportMetadata,
    /// `<policy_published>`.
    pub policy_published: PolicyPublished,
    /// The records refused so far for invalid content (complete when the
    /// parse returns).
    pub rejected: RejectedRecords,
}

/// A whole parsed aggregate report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AggregateReport {
    /// `<version>`.
    pub version: Option<String>,
    /// The XML namespace of `<feedback>`.
    pub namespace: Option<String>,
    /// `<report_metadata>`.
    pub metadata: ReportMetadata,
    /// `<policy_published>`.
    pub policy_published: PolicyPublished,
    /// The records, in document order.
    pub records: Vec<Record>,
    /// The records refused for invalid content; see [`RejectedRecords`].
    pub rejected: RejectedRecords,
}

impl AggregateReport {
    /// Joins a header with its records.
    pub fn from_parts(header: ReportHeader, records: Vec<Record>) -> Self {
        Self {
            version: header.version,
            namespace: header.namespace,
            metadata: header.metadata,
            policy_published: header.policy_published,
            records,
            rejected: header.rejected,
        }
    }

    /// Total messages: the sum of every record's count, saturating at
    /// `u64::MAX` (counts come from the report, and a hostile one can add up
    /// past it).
    pub fn message_count(&self) -> u64 {
        self.records
            .iter()
            .fold(0u64, |sum, r| sum.saturating_add(r.count))
    }
}
