//! The finding codes of the `rollout-advisor` checker.

use authwarden_api::{declare_codes, Severity};

declare_codes! {
    /// The domain is ready for the next step of its DMARC rollout.
    ///
    /// ## What it checks
    /// The phase of the published DMARC record (`p=none`, `p=quarantine` or
    /// `p=reject`, with `pct` or the RFC 9989 `t=y`), the weeks spent in it
    /// (from `<history>/rollout-advisor/phases.json`) and the aligned pass
    /// rate of legitimate mail (sources in the domain's inventory) over the
    /// last four weeks of aggregate reports. Ready means: the pass rate is
    /// at least `pass_rate` (98% by default), and the phase is old enough
    /// (`p=none` at least `monitor_weeks`, 4; later steps `step_weeks`, 2).
    /// ## Why it matters
    /// Every week at a weaker policy than the mail allows leaves spoofed mail
    /// delivered; the ramp none → quarantine 10% → 25% → 50% → 100% → reject
    /// 10% → 100% moves as fast as the legitimate mail allows, no faster.
    /// ## How to fix
    /// Publish the record given in the help (and in the facts'
    /// `next_record`): the current record with only `p`, `pct` or `t` changed.
    pub ROLL_NEXT_STEP = ("ROLL001", "rollout-ready-for-next-step", Severity::Note);

    /// The rollout holds: legitimate mail is not ready for a stricter policy.
    ///
    /// ## What it checks
    /// The same readiness as ROLL001; the finding lists why the domain holds:
    /// the pass rate below the threshold, each legitimate source still
    /// failing DMARC with its volume and what to fix, each declared sender
    /// DNS authorized (its mail passed in the window, or an earlier run saw
    /// it authorized; kept in `<history>/rollout-advisor/phases.json`) but
    /// no longer authorizes (no SPF include or range, no DKIM key: the
    /// inventory-drift checker reports the same sender as DRIFT007), or too
    /// few weeks in the phase. A sender that lost its authorization holds
    /// the rollout whatever the pass rate, until it is authorized again or
    /// removed from the inventory: its next messages fail.
    /// ## Why it matters
    /// A stricter policy now would quarantine or reject the organisation's
    /// own mail from the failing sources.
    /// ## How to fix
    /// Fix the listed sources (the `inventory-drift` findings give the exact
    /// SPF or DKIM change for each), then wait for a month of clean reports.
    pub ROLL_HOLD = ("ROLL002", "rollout-hold", Severity::Note);

    /// The rollout stalled: ready for the next step for longer than the
    /// stall limit.
    ///
    /// ## What it checks
    /// A domain that is ready (ROLL001) and has stayed in its phase for
    /// more than `stall_weeks` (8 by default) without reaching `p=reject`.
    /// ## Why it matters
    /// A rollout that stops at `p=none` or a partial `pct` protects little:
    /// the mail is ready, only the record change is missing.
    /// ## How to fix
    /// Publish the record given in the help, or document why the domain
    /// stays (and silence the code for it in `[levels]`).
    pub ROLL_STALLED = ("ROLL003", "rollout-stalled", Severity::Warning);

    /// The rollout advice could not be computed completely.
    ///
    /// ## What it checks
    /// Whether the DMARC record and the phase history could be read. A DNS
    /// failure leaves the phase unknown; an unusable phase history leaves
    /// the weeks in the phase unknown.
    /// ## Why it matters
    /// Advice based on a guess would be wrong; none is given.
    /// ## How to fix
    /// Retry the run; if it persists, check the domain's name servers or the
    /// history folder named in the evidence.
    pub ROLL_INCOMPLETE = ("ROLL004", "rollout-check-incomplete", Severity::Warning);

    /// `[checkers.rollout-advisor]` cannot be used as written.
    ///
    /// ## What it checks
    /// The keys `pass_rate` (0 to 1, default 0.98), `stall_weeks` (default
    /// 8), `monitor_weeks` (default 4), `step_weeks` (default 2) and
    /// `window_days` (default 28).
    /// ## Why it matters
    /// The defaults are used instead of what was meant.
    /// ## How to fix
    /// Correct the section as the message says.
    pub ROLL_CONFIG_INVALID = ("ROLL005", "rollout-config-invalid", Severity::Error);
}
