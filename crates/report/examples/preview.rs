//! Renders a report context with a template folder, to look at the result.
//!
//! `cargo run -p authwarden-report --example preview -- OUT_DIR [TEMPLATES] [CONTEXT_JSON]`
//! writes `OUT_DIR/{monthly,quarterly,annual}.{html,txt}` and `OUT_DIR/trend.png`
//! (the HTML refers to the chart by its `cid:`, so `trend.png` is also
//! linked in place of it for viewing in a browser).

use std::path::PathBuf;

use authwarden_api::Cadence;
use authwarden_report::{trend_chart_png, DomainTrend, Renderer, ReportContext};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(
        args.next()
            .ok_or("usage: preview OUT_DIR [TEMPLATES] [CONTEXT_JSON]")?,
    );
    let renderer = match args.next() {
        Some(dir) => Renderer::from_dir(dir.as_ref())?,
        None => Renderer::builtin()?,
    };
    let base: ReportContext = match args.next() {
        Some(path) => serde_json::from_str(&std::fs::read_to_string(path)?)?,
        None => ReportContext::sample(Cadence::Monthly),
    };
    std::fs::create_dir_all(&out)?;
    for job in Cadence::ALL {
        let mut ctx = base.clone();
        ctx.job = job;
        ctx.is_audit = job == Cadence::Annual;
        let r = renderer.render(&ctx)?;
        let html = match &ctx.chart {
            Some(c) => r.html.replace(&format!("cid:{}", c.cid), "trend.png"),
            None => r.html,
        };
        std::fs::write(out.join(format!("{job}.html")), html)?;
        std::fs::write(
            out.join(format!("{job}.txt")),
            format!("Subject: {}\n\n{}", r.subject, r.text),
        )?;
    }
    let trends: Vec<DomainTrend> = base
        .domains
        .iter()
        .enumerate()
        .map(|(d, s)| DomainTrend {
            domain: s.domain.clone(),
            points: (0..6u32)
                .map(|m| {
                    (
                        format!("2026-{:02}", m + 6),
                        (d as u32 + m) % 3,
                        (d as u32 * 2 + 5 - m) % 4,
                    )
                })
                .collect(),
        })
        .collect();
    std::fs::write(out.join("trend.png"), trend_chart_png(&trends, 592, 300)?)?;
    println!("wrote {}", out.display());
    Ok(())
}
