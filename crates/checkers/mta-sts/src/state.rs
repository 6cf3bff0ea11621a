//! What the checker remembers of a domain's policy between jobs, in
//! `<history>/mta-sts/<domain>.json`: the id and policy last seen, since
//! when the policy is in `testing` mode, and an id under which the policy
//! changed (so the finding stays until the id changes).

use std::path::{Path, PathBuf};

use authwarden_api::serde_json;
use serde::{Deserialize, Serialize};

use crate::policy::Policy;

/// The parts of a policy senders cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// `mode`.
    pub mode: String,
    /// `max_age`.
    pub max_age: u64,
    /// `mx` patterns, sorted.
    pub mx: Vec<String>,
}

impl Seen {
    /// The cached parts of `policy`.
    pub fn of(policy: &Policy) -> Seen {
        let mut mx = policy.mx.clone();
        mx.sort();
        mx.dedup();
        Seen {
            mode: policy.mode.as_str().to_string(),
            max_age: policy.max_age,
            mx,
        }
    }

    /// One line: `mode enforce, max_age 604800, mx a, b`.
    pub fn describe(&self) -> String {
        format!(
            "mode {}, max_age {}, mx {}",
            self.mode,
            self.max_age,
            if self.mx.is_empty() {
                "none".to_string()
            } else {
                self.mx.join(", ")
            }
        )
    }
}

/// The state of one domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remembered {
    /// The record's id at the last job.
    pub id: String,
    /// The policy at the last job.
    pub policy: Seen,
    /// The date (`YYYY-MM-DD`) the policy was first seen in `testing` mode,
    /// while it still is.
    #[serde(default)]
    pub testing_since: Option<String>,
    /// The id under which the policy changed, and the policy before it.
    #[serde(default)]
    pub changed_under: Option<(String, Seen)>,
}

/// Where the state of `domain` lives under `data_dir`.
pub fn path(data_dir: &Path, domain: &str) -> PathBuf {
    data_dir.join("mta-sts").join(format!("{domain}.json"))
}

/// The state of `domain`, if a job remembered one (a damaged file counts as none).
pub fn load(data_dir: &Path, domain: &str) -> Option<Remembered> {
    let bytes = std::fs::read(path(data_dir, domain)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Writes the state of `domain` atomically.
pub fn save(data_dir: &Path, domain: &str, state: &Remembered) -> std::io::Result<()> {
    let path = path(data_dir, domain);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let bytes = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
    authwarden_api::fsutil::write_atomic(&path, &bytes)
}

/// The state after seeing `id` and `policy` on `today`, from `before`.
pub fn next(before: Option<&Remembered>, id: &str, policy: &Policy, today: &str) -> Remembered {
    let seen = Seen::of(policy);
    let testing_since = (seen.mode == "testing").then(|| {
        before
            .filter(|b| b.policy.mode == "testing")
            .and_then(|b| b.testing_since.clone())
            .unwrap_or_else(|| today.to_string())
    });
    let changed_under = match before {
        Some(b) if b.id == id && b.policy != seen => Some((id.to_string(), b.policy.clone())),
        Some(b) if b.id == id => b.changed_under.clone(),
        _ => None,
    };
    Remembered {
        id: id.to_string(),
        policy: seen,
        testing_since,
        changed_under,
    }
}
