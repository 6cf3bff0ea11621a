//! Run identity: the run id, the job and the period a run reports on.

use authwarden_api::Cadence;
use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// The job name of an ad-hoc `authwarden check` run.
pub const CHECK_JOB: &str = "check";

/// Who, when and what period: the identity of one run in the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunMeta {
    /// Unique per job, e.g. `20261201T060000000Z-monthly`; also the Parquet file name.
    pub run_id: String,
    /// `monthly`, `quarterly`, `annual` or `check`.
    pub job: String,
    /// The period the run reports on: `2026-11`, `2026-Q4`, `2026`, or a day
    /// `2026-12-01` for `check`. See [`covered_period`].
    pub period: String,
    /// When the run started. Kept to the millisecond in the history.
    pub started_at: DateTime<Utc>,
}

impl RunMeta {
    /// The identity of a run of `job` (`None` for an ad-hoc check) started at `at`.
    ///
    /// The run id is `YYYYMMDDTHHMMSSmmmZ-<job>` in UTC (to the millisecond, so two runs started in the same second stay two runs); the period is taken from
    /// `at` in its own time zone, so pass the time in the zone the schedule uses.
    pub fn new<Tz: TimeZone>(job: Option<Cadence>, at: DateTime<Tz>) -> RunMeta {
        let utc = at.with_timezone(&Utc);
        let (job_name, period) = match job {
            Some(cadence) => (cadence.as_str(), covered_period(cadence, at.clone())),
            None => (CHECK_JOB, at.date_naive().format("%Y-%m-%d").to_string()),
        };
        RunMeta {
            run_id: format!("{}-{job_name}", utc.format("%Y%m%dT%H%M%S%3fZ")),
            job: job_name.to_string(),
            period,
            started_at: truncate_to_millis(utc),
        }
    }

    /// The start time as RFC 3339 with milliseconds, e.g. `2026-12-01T06:00:00.000Z`.
    pub fn started_at_rfc3339(&self) -> String {
        self.started_at.to_rfc3339_opts(SecondsFormat::Millis, true)
    }
}

/// The period a run of `job` at `at` reports on, in `at`'s own time zone:
/// the last whole period before the one `at` is in, the period whose
/// aggregate reports the run summarizes. The monthly run on 1 December
/// reports `2026-11`, the quarterly run on 1 October `2026-Q3`, the annual
/// run on 1 January 2027 `2026`; a re-run later in the same month lands in
/// the same period. The report says when its checks ran (they see DNS as it
/// is then).
pub fn covered_period<Tz: TimeZone>(job: Cadence, at: DateTime<Tz>) -> String {
    job.covered_period(at.date_naive())
}

/// The period of `job` that `at` lies in, in `at`'s own time zone:
/// `2026-12`, `2026-Q4`, `2026` for 1 December 2026.
pub fn period_for<Tz: TimeZone>(job: Cadence, at: DateTime<Tz>) -> String {
    job.period_of(at.date_naive())
}

/// Drops sub-millisecond precision, which the history does not keep, so that
/// a [`RunMeta`] compares equal to the one read back.
pub(crate) fn truncate_to_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}
