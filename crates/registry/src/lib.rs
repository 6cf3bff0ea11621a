//! The registry: the explicit list of checkers a build of authwarden runs.
//!
//! Built-in checkers are listed in [`builtin`], one line and one Cargo feature
//! each. An organisation that builds its own binary starts from
//! [`Registry::builtin`] and adds its private checkers with [`Registry::with`].
#![deny(missing_docs)]

use std::sync::Arc;

use authwarden_api::{Checker, CheckerInfo, CodeInfo};

/// The DKIM checker crate, for hosts that add its services to a run
/// (`ObservedSelectorsExt`, the selectors seen in aggregate reports).
#[cfg(feature = "dkim")]
pub use authwarden_checker_dkim;

/// The built-in checkers, in the order their findings are reported.
pub fn builtin() -> Vec<Arc<dyn Checker>> {
    vec![
        #[cfg(feature = "dmarc-policy")]
        Arc::new(authwarden_checker_dmarc_policy::DmarcPolicy),
        #[cfg(feature = "spf")]
        Arc::new(authwarden_checker_spf::Spf),
        #[cfg(feature = "dkim")]
        Arc::new(authwarden_checker_dkim::Dkim),
        #[cfg(feature = "parked-domain")]
        Arc::new(authwarden_checker_parked_domain::ParkedDomain),
        #[cfg(feature = "inventory-drift")]
        Arc::new(authwarden_checker_inventory_drift::InventoryDrift),
        #[cfg(feature = "rollout-advisor")]
        Arc::new(authwarden_checker_rollout_advisor::RolloutAdvisor),
        #[cfg(feature = "auth-test")]
        Arc::new(authwarden_checker_auth_test::AuthTest),
        #[cfg(feature = "tls-rpt")]
        Arc::new(authwarden_checker_tls_rpt::TlsRpt),
        #[cfg(feature = "mx")]
        Arc::new(authwarden_checker_mx::Mx),
        #[cfg(feature = "mta-sts")]
        Arc::new(authwarden_checker_mta_sts::MtaSts),
    ]
}

/// Who reports the codes of the host itself, in [`host_codes`].
pub const EXTERNAL_OWNER: &str = "external checkers";

/// The codes the host reports itself, whatever checkers a build has:
/// ENGINE001 (a checker crashed or ran out of time) and EXT001 (an external
/// checker failed), with who reports them (`engine`, `external checkers`).
pub fn host_codes() -> Vec<(&'static str, &'static CodeInfo)> {
    authwarden_engine::CODES
        .iter()
        .map(|c| (authwarden_engine::ENGINE_ID, c))
        .chain(
            authwarden_external::CODES
                .iter()
                .map(|c| (EXTERNAL_OWNER, c)),
        )
        .collect()
}

/// A set of checkers with lookups over their codes.
#[derive(Clone, Default)]
pub struct Registry {
    checkers: Vec<Arc<dyn Checker>>,
}

/// Where a code was declared.
#[derive(Debug, Clone, Copy)]
pub struct CodeEntry {
    /// The checker that emits it.
    pub checker: &'static CheckerInfo,
    /// The code.
    pub code: &'static CodeInfo,
}

impl Registry {
    /// The built-in checkers of this build.
    pub fn builtin() -> Self {
        Registry {
            checkers: builtin(),
        }
    }

    /// An empty registry.
    pub fn empty() -> Self {
        Registry::default()
    }

    /// Adds a checker (e.g. an organisation's private one).
    pub fn with(mut self, checker: Arc<dyn Checker>) -> Self {
        self.checkers.push(checker);
        self
    }

    /// All checkers, in registration order.
    pub fn checkers(&self) -> &[Arc<dyn Checker>] {
        &self.checkers
    }

    /// The checker with this id.
    pub fn checker(&self, id: &str) -> Option<&Arc<dyn Checker>> {
        self.checkers.iter().find(|c| c.info().id == id)
    }

    /// Every code of every checker.
    pub fn codes(&self) -> Vec<(&CheckerInfo, &CodeInfo)> {
        self.checkers
            .iter()
            .flat_map(|c| {
                let info = c.info();
                info.codes.iter().map(move |code| (info, code))
            })
            .collect()
    }

    /// Every code a run of this registry can report: each checker's, then
    /// the host's ([`host_codes`]), with the id of who reports it. The one
    /// list that `checkers`, `explain` and config validation read.
    pub fn all_codes(&self) -> Vec<(&str, &CodeInfo)> {
        let mut all: Vec<(&str, &CodeInfo)> = self
            .codes()
            .into_iter()
            .map(|(info, code)| (info.id, code))
            .collect();
        all.extend(host_codes());
        all
    }

    /// Finds a code by its code (`DMARC001`) or name (`dmarc-record-missing`), case-insensitively.
    pub fn find_code(&self, code_or_name: &str) -> Option<(&CheckerInfo, &CodeInfo)> {
        let wanted = code_or_name.trim();
        self.codes().into_iter().find(|(_, c)| {
            c.code.eq_ignore_ascii_case(wanted) || c.name.eq_ignore_ascii_case(wanted)
        })
    }

    /// Checks the invariants every registry must keep: ids, codes, names and
    /// facts keys unique; codes like `ABC123`; names kebab-case; every code
    /// documented with the three sections. Returns every violation.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut ids = std::collections::BTreeSet::new();
        let mut facts = std::collections::BTreeSet::new();
        let mut codes = std::collections::BTreeMap::new();
        let mut names = std::collections::BTreeMap::new();
        // The host's own codes are taken first: a checker may not reuse them.
        for (owner, code) in host_codes() {
            codes.insert(code.code, owner);
            names.insert(code.name, owner);
        }
        for checker in &self.checkers {
            let info = checker.info();
            if !ids.insert(info.id) {
                problems.push(format!("checker id `{}` is registered twice", info.id));
            }
            if !is_kebab(info.id) {
                problems.push(format!("checker id `{}` is not kebab-case", info.id));
            }
            if !facts.insert(info.facts_key) {
                problems.push(format!(
                    "facts key `{}` of `{}` is used by another checker",
                    info.facts_key, info.id
                ));
            }
            if info.summary.trim().is_empty() {
                problems.push(format!("checker `{}` has no summary", info.id));
            }
            if info.codes.is_empty() {
                problems.push(format!("checker `{}` declares no codes", info.id));
            }
            for code in info.codes {
                if let Some(other) = codes.insert(code.code, info.id) {
                    problems.push(format!(
                        "code {} is declared by both `{other}` and `{}`",
                        code.code, info.id
                    ));
                }
                if let Some(other) = names.insert(code.name, info.id) {
                    problems.push(format!(
                        "name {} is declared by both `{other}` and `{}`",
                        code.name, info.id
                    ));
                }
                if !is_code(code.code) {
                    problems.push(format!(
                        "code `{}` is not upper-case letters followed by three digits",
                        code.code
                    ));
                }
                if !is_kebab(code.name) {
                    problems.push(format!("name `{}` is not kebab-case", code.name));
                }
                let docs = code.parsed_docs();
                for (section, text) in [
                    ("summary", &docs.summary),
                    ("What it checks", &docs.what),
                    ("Why it matters", &docs.why),
                    ("How to fix", &docs.fix),
                ] {
                    if text.trim().is_empty() {
                        problems.push(format!("code {} has no `{section}` docs", code.code));
                    }
                }
            }
        }
        problems
    }
}

use authwarden_api::names::{is_code, is_kebab_case as is_kebab};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_registry_keeps_its_invariants() {
        let registry = Registry::builtin();
        assert!(!registry.checkers().is_empty());
        let problems = registry.validate();
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn codes_are_found_by_code_and_name() {
        let registry = Registry::builtin();
        for (_, code) in registry.codes() {
            assert_eq!(registry.find_code(code.code).unwrap().1.code, code.code);
            assert_eq!(registry.find_code(code.name).unwrap().1.code, code.code);
            assert_eq!(
                registry
                    .find_code(&code.code.to_ascii_lowercase())
                    .unwrap()
                    .1
                    .code,
                code.code
            );
        }
    }

    #[test]
    fn shape_helpers() {
        assert!(is_code("DMARC001"));
        assert!(!is_code("dmarc001"));
        assert!(!is_code("D001"));
        assert!(is_kebab("dmarc-record-missing"));
        assert!(!is_kebab("Dmarc"));
    }
}
