//! The TLS-report section (SMTP TLS reports, RFC 8460) in both formats:
//! snapshots of the section, hostile names escaped and never links, the
//! chart by cid in the mail and by file on disk, and the plain sentence for
//! a domain without reports.

use authwarden_api::Cadence;
use authwarden_report::{Renderer, ReportContext, TlsReports};

fn renderer() -> Renderer {
    Renderer::builtin().unwrap()
}

fn context() -> ReportContext {
    let mut ctx = ReportContext::sample(Cadence::Monthly);
    ctx.tls = Some(TlsReports::sample());
    ctx
}

/// The TLS section of a rendered text report.
fn text_section(text: &str) -> String {
    let start = text.find("MAIL SENT TO YOUR DOMAINS OVER TLS").unwrap();
    let rest = &text[start..];
    let end = rest.find("\n=====").unwrap_or(rest.len());
    rest[..end].to_string()
}

fn html_section(html: &str) -> String {
    let start = html.find("Mail sent to your domains over TLS").unwrap();
    let rest = &html[start..];
    let end = rest.find("</td></tr>").unwrap();
    rest[..end].to_string()
}

#[test]
fn the_section_shows_sessions_failures_and_trend() {
    let r = renderer().render(&context()).unwrap();
    insta::assert_snapshot!("tls_section_txt", text_section(&r.text));
    insta::assert_snapshot!("tls_section_html", html_section(&r.html));
    for want in [
        "12,400",
        "2.1%",
        "0.4%",
        "certificate-expired",
        "192.0.2.10",
    ] {
        assert!(r.text.contains(want), "{want}");
    }
    assert!(r
        .text
        .contains("no TLS report in this period although the domain publishes TLS-RPT"));
    assert!(r.html.contains("src=\"cid:tls-chart@example\""));
    let file = renderer().render_html(&context().for_files()).unwrap();
    assert!(file.contains("src=\"tls-sessions.png\""));
}

#[test]
fn hostile_names_are_escaped_and_not_links() {
    let mut ctx = context();
    let tls = ctx.tls.as_mut().unwrap();
    tls.domains[0].by_mx[0].host = "<a href=\"https://evil.example/\">click</a>".into();
    tls.domains[0].by_mta[0].host = "http://evil.example/x".into();
    let r = renderer().render(&ctx).unwrap();
    let html = html_section(&r.html);
    assert!(!html.contains("<a href"), "{html}");
    assert!(html.contains("&lt;a href"));
    // No link text a mail client would recognise: every dot and colon is
    // followed by a zero-width space.
    assert!(!html.contains("evil.example"));
    assert!(html.contains("evil.\u{200b}example"));
    assert!(!html.contains("http://"));
    // The text keeps the name as it is, to be copied.
    assert!(r.text.contains("http://evil.example/x"));
}

#[test]
fn without_tls_reports_the_section_is_absent() {
    let mut ctx = context();
    ctx.tls = None;
    let r = renderer().render(&ctx).unwrap();
    assert!(!r.text.contains("OVER TLS"));
    assert!(!r.html.contains("over TLS"));
}
