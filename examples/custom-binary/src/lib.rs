//! A private checker, the kind an organisation keeps in its own crate: every
//! domain must say which team owns it in a TXT record at its apex,
//! `acme-owner=<team>`, so that whoever reads a finding knows whom to ask.
//!
//! `src/main.rs` builds an `authwarden` with it; nothing else is needed.
#![deny(missing_docs)]

use authwarden_api::serde_json::json;
use authwarden_api::{
    async_trait, declare_codes, Cadence, CheckContext, CheckOutput, Checker, CheckerInfo,
    DomainTarget, Finding, RecordType, Severity,
};

/// The checker id.
pub const CHECKER_ID: &str = "acme-owner";

declare_codes! {
    /// The domain does not name its owning team.
    ///
    /// ## What it checks
    /// Looks up TXT at the domain for a string `acme-owner=<team>`.
    ///
    /// ## Why it matters
    /// ACME policy: every domain has an owner who is asked when it has a
    /// finding. A domain nobody owns is one nobody fixes.
    ///
    /// ## How to fix
    /// Publish `example.org. TXT "acme-owner=<team>"` with the team's name.
    pub OWNER_MISSING = ("ACME001", "acme-owner-missing", Severity::Warning);

    /// The owner lookup failed, so the domain's owner is unknown.
    ///
    /// ## What it checks
    /// Reported when the TXT lookup fails instead of answering.
    ///
    /// ## Why it matters
    /// The result is unknown.
    ///
    /// ## How to fix
    /// Check the domain's name servers, then run the check again.
    pub OWNER_INCOMPLETE = ("ACME002", "acme-owner-check-incomplete", Severity::Warning);
}

static INFO: CheckerInfo = CheckerInfo {
    id: CHECKER_ID,
    summary: "checks that every domain names its owning team (acme-owner=<team>)",
    cadences: &[Cadence::Monthly],
    codes: CODES,
    facts_key: "acme_owner",
};

/// The private checker: a TXT `acme-owner=<team>` at every domain.
#[derive(Debug, Default, Clone, Copy)]
pub struct OwnerTag;

#[async_trait]
impl Checker for OwnerTag {
    fn info(&self) -> &CheckerInfo {
        &INFO
    }

    async fn check(&self, ctx: &CheckContext, target: &DomainTarget) -> CheckOutput {
        let domain = &target.name;
        let answer = ctx.resolver.query(domain, RecordType::TXT).await;
        if let Some(failure) = answer.failure() {
            return CheckOutput {
                findings: vec![Finding::new(
                    CHECKER_ID,
                    &OWNER_INCOMPLETE,
                    domain,
                    format!("the txt lookup of {domain} failed: {failure}"),
                )],
                facts: None,
                ..Default::default()
            };
        }
        let owner = answer
            .txt()
            .into_iter()
            .find_map(|t| t.strip_prefix("acme-owner=").map(str::to_string));
        let findings = match &owner {
            Some(_) => Vec::new(),
            None => vec![Finding::new(
                CHECKER_ID,
                &OWNER_MISSING,
                domain,
                "the domain does not name its owning team",
            )
            .help(format!("publish `{domain}. TXT \"acme-owner=<team>\"`"))],
        };
        CheckOutput {
            findings,
            facts: Some(json!({ "owner": owner })),
            ..Default::default()
        }
    }
}
