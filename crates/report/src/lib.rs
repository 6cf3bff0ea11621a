//! The reports of authwarden: the context the pipeline fills in
//! ([`ReportContext`]), rendering it to an HTML and a text part with the
//! handlebars templates of a folder ([`Renderer`]), and the charts attached
//! to the mail ([`trend_chart_png`], [`pass_rate_chart_png`],
//! [`phase_timeline_png`]).
//!
//! This crate knows nothing of polars or mail: the pipeline converts its
//! frames into these plain structs, and the mailer sends what comes out.
#![deny(missing_docs)]

mod chart;
mod context;
mod plan;
mod render;

/// The phase type of [`PhaseRow`]: the one of `authwarden-dmarc`.
pub use authwarden_dmarc::{DomainPhase, Phase, Policy};
pub use chart::{
    pass_rate_chart_png, phase_timeline_png, tls_success_chart_png, trend_chart_png, DomainTrend,
    PassRateSeries, PhaseRow,
};
pub use context::{
    percent, AsBuiltDomain, Chart, DataGap, DomainSection, DomainStatus, Fact, FailingSource,
    FailureDomain, FailureReports, FailureSourceLine, FindingRow, FindingStatus, FlaggedReport,
    MailDomain, MailSummary, NewSource, OverviewRow, PassedCheck, ProfileRule, ProfileTable,
    ReportAuthenticity, ReportContext, RolloutChange, RolloutDomain, RolloutTimeline, Summary,
    TlsDomain, TlsFailureLine, TlsPolicyLine, TlsReports, TlsTrendPoint,
};
pub use plan::{PlanSection, PlanStep};
pub use render::{RenderError, Rendered, Renderer};
