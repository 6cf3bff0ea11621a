//! The quarterly authentication test's results as checkers read them: for
//! each sender of a domain's inventory, whether its newest test message of
//! the period passed DMARC at a real verification (`authwarden verify`'s
//! machinery), failed and why, or never arrived.
//!
//! The host verifies the test messages (it links the verification library;
//! checkers do not) and adds the results to the run's extensions as
//! [`AuthTestResultsExt`]; the `auth-test` checker turns them into findings.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// One sender's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SenderTest {
    /// The domain (lower-case).
    pub domain: String,
    /// The inventory's name for the sender.
    pub sender: String,
    /// `pass`, `fail` or `missing`.
    pub status: String,
    /// Why it failed, or what is missing, in words.
    pub reason: Option<String>,
    /// The message verified (its file name).
    pub message: Option<String>,
    /// The message's `Date`, Unix seconds.
    pub date: Option<i64>,
}

/// The results of the run's period, when the run tested.
#[derive(Debug, Clone)]
pub struct AuthTestResultsExt {
    /// Where test messages are read from, for the help texts.
    pub source: String,
    /// The results, every domain's.
    pub results: Arc<Vec<SenderTest>>,
    /// For the annual job: the quarterly jobs' results of the year, kept in
    /// the history, as (period, results), oldest first.
    pub quarters: Arc<Vec<(String, Vec<SenderTest>)>>,
}

impl AuthTestResultsExt {
    /// The results of `domain`.
    pub fn of(&self, domain: &str) -> Vec<&SenderTest> {
        let domain = crate::dns::normalize_name(domain);
        self.results.iter().filter(|r| r.domain == domain).collect()
    }
}
