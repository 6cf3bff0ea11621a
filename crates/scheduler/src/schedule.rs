//! Cron schedules evaluated on the wall clock of a time zone.
//!
//! Cron expressions use the `cron` crate's syntax, with seconds:
//! `sec min hour day-of-month month day-of-week [year]`. Their times are local
//! wall-clock times in the configured time zone (`0 0 6 1 * *` in
//! `Europe/Berlin` is 05:00 UTC in winter and 04:00 UTC in summer).
//!
//! # DST transitions
//!
//! One rule covers both kinds of transition: **a slot fires at the first
//! instant at which the local wall clock reads the slot's time or later.**
//!
//! - *Gap* (spring forward, e.g. Berlin on 2026-03-29 goes from 02:00 CET to
//!   03:00 CEST): a slot that does not exist that day, such as 02:30, fires
//!   at the jump itself, 03:00 CEST (01:00 UTC), like Vixie cron does. Several
//!   slots inside one gap fire once, together.
//! - *Overlap* (fall back, e.g. Berlin on 2026-10-25 goes from 03:00 CEST back
//!   to 02:00 CET): a slot that occurs twice, such as 02:30, fires once, at its
//!   first occurrence (02:30 CEST, 00:30 UTC), never again at 02:30 CET.
//!
//! The `cron` crate itself skips slots in a gap and yields both occurrences in
//! an overlap; this module therefore iterates the schedule on naive wall-clock
//! time and maps each slot to an instant with the rule above. The mapping never
//! decreases, so "next slot after" and "latest slot before" stay well defined.

use std::str::FromStr;

use authwarden_api::Cadence;
use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use cron::Schedule;

use crate::SchedulerError;

/// The cron expression a job uses unless config gives another: 06:00 local
/// time on the 1st of the month (monthly), of January, April, July and October
/// (quarterly), and of January (annual).
pub fn default_cron(c: Cadence) -> &'static str {
    match c {
        Cadence::Monthly => "0 0 6 1 * *",
        Cadence::Quarterly => "0 0 6 1 1,4,7,10 *",
        Cadence::Annual => "0 0 6 1 1 *",
    }
}

/// Parses a cron expression (with seconds, see the module docs).
///
/// The error repeats the expression, says what is wrong and where, and shows
/// the expected shape; 5-field crontab lines get a hint to add the seconds.
pub fn parse_cron(expr: &str) -> Result<Schedule, SchedulerError> {
    let expr = expr.trim();
    let invalid = |reason: String| SchedulerError::InvalidCron {
        expr: expr.to_string(),
        reason,
    };
    let fields = expr.split_whitespace().count();
    if !(6..=7).contains(&fields) {
        let mut reason = format!("it has {fields} fields");
        if fields == 5 {
            reason.push_str(
                " like a crontab line: prepend the seconds (`0 6 1 * *` becomes `0 0 6 1 * *`)",
            );
        }
        return Err(invalid(reason));
    }
    Schedule::from_str(expr).map_err(|e| invalid(describe_cron_error(&e.to_string())))
}

/// Turns the `cron` crate's three-line message (expression, caret, reason)
/// into one line.
fn describe_cron_error(raw: &str) -> String {
    let lines: Vec<&str> = raw.lines().collect();
    let column = lines
        .iter()
        .find(|l| l.trim() == "^")
        .and_then(|l| l.find('^'))
        .map(|c| c + 1);
    let what = lines
        .last()
        .map(|l| l.trim().trim_end_matches('.').to_string())
        .filter(|l| !l.is_empty() && l != "^" && lines.len() > 1)
        .unwrap_or_else(|| "unexpected input".to_string());
    match column {
        Some(c) => format!("at column {c}: {what}"),
        None => what,
    }
}

/// The next firing of `schedule` strictly after `after`, with the
/// expression's times read as wall-clock times in `tz` (DST handling: see the
/// module docs). `None` when the schedule has no further slot (only possible
/// with a year field).
pub fn next_fire(schedule: &Schedule, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    // Slots at or before the wall-clock time of `after` map to instants at or
    // before `after`, so starting there loses nothing; the filter drops slots
    // that map back into the past (the second pass through an overlap).
    let start = after.with_timezone(&tz).naive_local().and_utc();
    schedule
        .after(&start)
        .map(|slot| wall_to_instant(tz, slot.naive_utc()))
        .find(|&t| t > after)
}

/// The slot to catch up: the most recent slot in `(last_completed, now]`, if
/// any. However many slots were missed, this is one slot, the latest.
///
/// With no `last_completed` (first start, or the state file was deleted) there
/// is nothing to catch up: the job waits for its next slot. Catching up then
/// would send every job's report at once on a fresh install, or after someone
/// removed the state file, which is rarely wanted; `authwarden run <job>`
/// runs one by hand.
pub fn missed_run(
    schedule: &Schedule,
    tz: Tz,
    last_completed: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let last = last_completed?;
    if last >= now {
        return None;
    }
    latest_at_or_before(schedule, tz, now).filter(|&t| t > last)
}

/// The latest slot whose instant is at or before `now`.
fn latest_at_or_before(schedule: &Schedule, tz: Tz, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    // The wall clock may have read a later time than it reads now: after a
    // fall-back, slots up to the pre-transition time have already fired. Start
    // the backward walk above that high-water mark.
    let margin = fall_back_margin(tz, now);
    let wall_now = now.with_timezone(&tz).naive_local();
    // `rev()` yields slots strictly before `start` when it is a whole second.
    let start = wall_now
        .with_nanosecond(0)?
        .and_utc()
        .checked_add_signed(margin + Duration::seconds(1))?;
    schedule
        .after(&start)
        .rev()
        .map(|slot| wall_to_instant(tz, slot.naive_utc()))
        .find(|&t| t <= now)
}

/// How far the wall clock was ahead of its current reading during the last few
/// hours (non-zero only shortly after a fall-back transition).
fn fall_back_margin(tz: Tz, now: DateTime<Utc>) -> Duration {
    let offset_at = |t: DateTime<Utc>| {
        i64::from(
            tz.offset_from_utc_datetime(&t.naive_utc())
                .fix()
                .local_minus_utc(),
        )
    };
    let current = offset_at(now);
    // No zone has an overlap longer than a few hours; sample every 15 minutes.
    let highest = (1..=16)
        .filter_map(|k| now.checked_sub_signed(Duration::minutes(15 * k)))
        .map(offset_at)
        .max()
        .unwrap_or(current);
    Duration::seconds((highest - current).max(0))
}

/// The first instant at which the wall clock in `tz` reads `wall` or later.
fn wall_to_instant(tz: Tz, wall: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&wall) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        LocalResult::None => end_of_gap(tz, wall),
    }
}

/// For a wall-clock time inside a gap: the instant of the jump over it.
fn end_of_gap(tz: Tz, wall: NaiveDateTime) -> DateTime<Utc> {
    let target = wall.and_utc().timestamp();
    let wall_secs = |u: i64| {
        let at = DateTime::from_timestamp(u, 0).unwrap_or(DateTime::<Utc>::MIN_UTC);
        u + i64::from(
            tz.offset_from_utc_datetime(&at.naive_utc())
                .fix()
                .local_minus_utc(),
        )
    };
    // UTC offsets stay within ±26 h, so the wall clock reads before `wall` at
    // `lo` and after it at `hi`; bisect to the second (tz transitions fall on
    // whole seconds).
    let (mut lo, mut hi) = (target - 26 * 3600, target + 26 * 3600);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if wall_secs(mid) >= target {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    DateTime::from_timestamp(hi, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Berlin;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn sched(expr: &str) -> Schedule {
        parse_cron(expr).unwrap()
    }

    fn default(c: Cadence) -> Schedule {
        sched(default_cron(c))
    }

    #[test]
    fn defaults_parse_and_fire_on_the_first_at_six() {
        for c in Cadence::ALL {
            let s = default(c);
            let next = next_fire(&s, Tz::UTC, utc("2026-05-15T00:00:00Z")).unwrap();
            assert_eq!(next.format("%d %H:%M:%S").to_string(), "01 06:00:00", "{c}");
        }
    }

    #[test]
    fn monthly_from_month_end() {
        let s = default(Cadence::Monthly);
        assert_eq!(
            next_fire(&s, Tz::UTC, utc("2026-01-31T12:00:00Z")),
            Some(utc("2026-02-01T06:00:00Z"))
        );
    }

    #[test]
    fn monthly_across_leap_day_and_a_custom_leap_day_schedule() {
        let after = utc("2028-02-28T23:00:00Z");
        assert_eq!(
            next_fire(&default(Cadence::Monthly), Tz::UTC, after),
            Some(utc("2028-03-01T06:00:00Z"))
        );
        let leap = sched("0 0 6 29 2 *");
        assert_eq!(
            next_fire(&leap, Tz::UTC, after),
            Some(utc("2028-02-29T06:00:00Z"))
        );
        // The next one is four years later.
        assert_eq!(
            next_fire(&leap, Tz::UTC, utc("2028-02-29T06:00:00Z")),
            Some(utc("2032-02-29T06:00:00Z"))
        );
    }

    #[test]
    fn quarterly_rolls_into_next_year() {
        assert_eq!(
            next_fire(
                &default(Cadence::Quarterly),
                Tz::UTC,
                utc("2026-11-28T00:00:00Z")
            ),
            Some(utc("2027-01-01T06:00:00Z"))
        );
        assert_eq!(
            next_fire(
                &default(Cadence::Quarterly),
                Tz::UTC,
                utc("2027-01-01T06:00:00Z")
            ),
            Some(utc("2027-04-01T06:00:00Z"))
        );
    }

    #[test]
    fn annual() {
        let s = default(Cadence::Annual);
        assert_eq!(
            next_fire(&s, Tz::UTC, utc("2026-01-01T05:59:59.5Z")),
            Some(utc("2026-01-01T06:00:00Z"))
        );
        assert_eq!(
            next_fire(&s, Tz::UTC, utc("2026-01-01T06:00:00Z")),
            Some(utc("2027-01-01T06:00:00Z"))
        );
    }

    #[test]
    fn berlin_wall_clock_is_five_utc_in_winter_and_four_in_summer() {
        let s = default(Cadence::Monthly);
        assert_eq!(
            next_fire(&s, Berlin, utc("2026-02-15T00:00:00Z")),
            Some(utc("2026-03-01T05:00:00Z"))
        );
        assert_eq!(
            next_fire(&s, Berlin, utc("2026-03-15T00:00:00Z")),
            Some(utc("2026-04-01T04:00:00Z"))
        );
        // The same expression in UTC.
        assert_eq!(
            next_fire(&s, Tz::UTC, utc("2026-03-15T00:00:00Z")),
            Some(utc("2026-04-01T06:00:00Z"))
        );
        // Strictly after: at 05:00 UTC on the 1st (06:00 Berlin) the next is
        // a month later.
        assert_eq!(
            next_fire(&s, Berlin, utc("2026-03-01T05:00:00Z")),
            Some(utc("2026-04-01T04:00:00Z"))
        );
    }

    #[test]
    fn spring_forward_gap_fires_at_the_jump() {
        // 2026-03-29 02:00 CET -> 03:00 CEST; 02:30 does not exist that day.
        let s = sched("0 30 2 * * *");
        let at_jump = utc("2026-03-29T01:00:00Z");
        assert_eq!(
            next_fire(&s, Berlin, utc("2026-03-28T12:00:00Z")),
            Some(at_jump)
        );
        assert_eq!(
            next_fire(&s, Berlin, at_jump),
            Some(utc("2026-03-30T00:30:00Z"))
        );
        // Every minute of the gap collapses into one firing at the jump.
        let every_minute_at_two = sched("0 * 2 * * *");
        assert_eq!(
            next_fire(&every_minute_at_two, Berlin, utc("2026-03-29T00:59:00Z")),
            Some(at_jump)
        );
        assert_eq!(
            next_fire(&every_minute_at_two, Berlin, at_jump),
            Some(utc("2026-03-30T00:00:00Z"))
        );
        // A missed run spanning the gap catches up that slot.
        assert_eq!(
            missed_run(
                &s,
                Berlin,
                Some(utc("2026-03-28T12:00:00Z")),
                utc("2026-03-29T09:00:00Z")
            ),
            Some(at_jump)
        );
    }

    #[test]
    fn fall_back_overlap_fires_once_at_the_first_occurrence() {
        // 2026-10-25 03:00 CEST -> 02:00 CET; 02:30 occurs at 00:30Z and 01:30Z.
        let s = sched("0 30 2 * * *");
        let first = utc("2026-10-25T00:30:00Z");
        let next_day = utc("2026-10-26T01:30:00Z");
        assert_eq!(
            next_fire(&s, Berlin, utc("2026-10-24T12:00:00Z")),
            Some(first)
        );
        assert_eq!(next_fire(&s, Berlin, first), Some(next_day));
        // From 02:10 CET, the second pass, 02:30 has already fired.
        assert_eq!(
            next_fire(&s, Berlin, utc("2026-10-25T01:10:00Z")),
            Some(next_day)
        );
        // ... and is still the latest slot for a catch-up.
        assert_eq!(
            missed_run(
                &s,
                Berlin,
                Some(utc("2026-10-24T12:00:00Z")),
                utc("2026-10-25T01:10:00Z")
            ),
            Some(first)
        );
    }

    #[test]
    fn missed_run_is_one_slot_the_latest() {
        let s = default(Cadence::Monthly);
        let now = utc("2026-03-15T12:00:00Z");
        assert_eq!(
            missed_run(&s, Tz::UTC, Some(utc("2026-01-01T06:05:00Z")), now),
            Some(utc("2026-03-01T06:00:00Z"))
        );
        assert_eq!(
            missed_run(&s, Tz::UTC, Some(utc("2026-03-01T06:10:00Z")), now),
            None
        );
        // A slot exactly at `now` counts; one exactly at `last` does not.
        assert_eq!(
            missed_run(
                &s,
                Tz::UTC,
                Some(utc("2026-02-01T06:00:00Z")),
                utc("2026-03-01T06:00:00Z")
            ),
            Some(utc("2026-03-01T06:00:00Z"))
        );
        assert_eq!(
            missed_run(
                &s,
                Tz::UTC,
                Some(utc("2026-03-01T06:00:00Z")),
                utc("2026-03-01T06:00:00Z")
            ),
            None
        );
        // First start: nothing to catch up.
        assert_eq!(missed_run(&s, Tz::UTC, None, now), None);
        // A last run in the future (clock skew) is no reason to run.
        assert_eq!(
            missed_run(&s, Tz::UTC, Some(utc("2027-01-01T00:00:00Z")), now),
            None
        );
    }

    #[test]
    fn missed_run_in_berlin() {
        let s = default(Cadence::Monthly);
        assert_eq!(
            missed_run(
                &s,
                Berlin,
                Some(utc("2026-01-01T05:00:00Z")),
                utc("2026-04-01T04:00:00Z")
            ),
            Some(utc("2026-04-01T04:00:00Z"))
        );
        assert_eq!(
            missed_run(
                &s,
                Berlin,
                Some(utc("2026-01-01T05:00:00Z")),
                utc("2026-04-01T03:59:59Z")
            ),
            Some(utc("2026-03-01T05:00:00Z"))
        );
    }

    #[test]
    fn parse_errors_name_the_expression_and_the_shape() {
        let e = parse_cron("0 6 1 * *").unwrap_err().to_string();
        assert!(
            e.starts_with("invalid cron expression `0 6 1 * *`: it has 5 fields like a crontab line: prepend the seconds"),
            "{e}"
        );
        let e = parse_cron("0 0 25 * * *").unwrap_err().to_string();
        assert!(
            e.starts_with("invalid cron expression `0 0 25 * * *`: at column 5: "),
            "{e}"
        );
        assert!(e.contains("'25' specified"), "{e}");
        assert!(e.contains("sec min hour"), "{e}");
        assert!(!e.contains('\n'), "{e}");
        let e = parse_cron("0 0 6 1 * * 2026 x").unwrap_err().to_string();
        assert!(e.contains(": it has 8 fields;"), "{e}");
        let e = parse_cron("0 0 6 1 * * x").unwrap_err().to_string();
        assert!(e.contains("at column"), "{e}");
    }

    #[test]
    fn finite_schedule_ends() {
        let s = sched("0 0 6 1 1 * 2026");
        assert_eq!(next_fire(&s, Tz::UTC, utc("2026-06-01T00:00:00Z")), None);
    }
}
