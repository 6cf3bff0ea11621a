//! The charts are PNGs of the requested size for any number of runs,
//! days, weeks or domains.

use authwarden_report::{
    pass_rate_chart_png, phase_timeline_png, trend_chart_png, DomainPhase, DomainTrend,
    PassRateSeries, Phase, PhaseRow, Policy, RenderError,
};
use chrono::NaiveDate;

/// Checks the signature and the IHDR chunk, then decodes the whole image;
/// returns its RGB pixels.
fn decode(png_bytes: &[u8], width: u32, height: u32) -> Vec<u8> {
    assert_eq!(&png_bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&png_bytes[12..16], b"IHDR", "first chunk is IHDR");
    let ihdr_w = u32::from_be_bytes(png_bytes[16..20].try_into().unwrap());
    let ihdr_h = u32::from_be_bytes(png_bytes[20..24].try_into().unwrap());
    assert_eq!((ihdr_w, ihdr_h), (width, height));

    let mut reader = png::Decoder::new(std::io::Cursor::new(png_bytes))
        .read_info()
        .unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((info.width, info.height), (width, height));
    assert_eq!(info.color_type, png::ColorType::Rgb);
    pixels.truncate(info.buffer_size());
    pixels
}

/// Pixels that are not white: lines, markers and text.
fn ink(pixels: &[u8]) -> usize {
    pixels
        .chunks(3)
        .filter(|p| p.iter().any(|c| *c < 200))
        .count()
}

#[test]
fn one_run() {
    let trends = [DomainTrend {
        domain: "example.com".into(),
        points: vec![("2026-11".into(), 2, 3)],
    }];
    let png = trend_chart_png(&trends, 592, 300).unwrap();
    let pixels = decode(&png, 592, 300);
    assert!(ink(&pixels) > 500, "the chart draws something");
}

#[test]
fn twelve_runs_of_ten_domains() {
    let trends: Vec<DomainTrend> = (0..10u32)
        .map(|d| DomainTrend {
            domain: format!("domain-{d}.example-with-a-long-name.com"),
            points: (1..=12u32)
                .map(|m| (format!("2026-{m:02}"), (d * m) % 7, (d + m) % 5))
                .collect(),
        })
        .collect();
    let png = trend_chart_png(&trends, 1184, 600).unwrap();
    let pixels = decode(&png, 1184, 600);
    assert!(ink(&pixels) > 5_000);
}

#[test]
fn no_runs_still_gives_an_image() {
    let png = trend_chart_png(&[], 400, 200).unwrap();
    decode(&png, 400, 200);
}

#[test]
fn absurd_sizes_are_refused() {
    for (w, h) in [(0, 0), (10, 300), (600, 10), (100_000, 300)] {
        let err = trend_chart_png(&[], w, h).unwrap_err();
        assert!(matches!(err, RenderError::Chart(_)), "{err:?}");
    }
}

/// Pixels close to a colour of the palette: the lines.
fn coloured(pixels: &[u8], rgb: (u8, u8, u8)) -> usize {
    pixels
        .chunks(3)
        .filter(|p| {
            p[0].abs_diff(rgb.0) < 12 && p[1].abs_diff(rgb.1) < 12 && p[2].abs_diff(rgb.2) < 12
        })
        .count()
}

fn weeks(domain: &str, n: usize, rate: impl Fn(usize) -> Option<f64>) -> PassRateSeries {
    PassRateSeries {
        domain: domain.into(),
        points: (0..n)
            .filter_map(|i| {
                rate(i).map(|r| {
                    (
                        format!("2026-{:02}-{:02}", 1 + i / 4, 1 + 7 * (i % 4)),
                        1000.0,
                        1000.0 * r,
                    )
                })
            })
            .collect(),
    }
}

#[test]
fn pass_rate_of_two_domains_over_26_weeks_with_a_gap() {
    let series = [
        weeks("example.com", 26, |i| Some(0.6 + 0.015 * i as f64)),
        weeks("example.org", 26, |i| (i % 9 != 4).then_some(0.99)),
    ];
    let png = pass_rate_chart_png(&series, "week starting", 1184, 560).unwrap();
    let pixels = decode(&png, 1184, 560);
    assert!(ink(&pixels) > 5_000);
    // Both lines are drawn, in the first two colours of the palette.
    assert!(coloured(&pixels, (0x4e, 0x79, 0xa7)) > 1_000, "example.com");
    assert!(coloured(&pixels, (0xf2, 0x8e, 0x2b)) > 1_000, "example.org");
}

#[test]
fn pass_rate_of_many_domains_one_day_and_none() {
    let many: Vec<_> = (0..12)
        .map(|d| weeks(&format!("d{d}.example"), 1, |_| Some(d as f64 / 12.0)))
        .collect();
    let png = pass_rate_chart_png(&many, "day", 592, 300).unwrap();
    assert!(ink(&decode(&png, 592, 300)) > 500);
    let png = pass_rate_chart_png(&[], "day", 400, 200).unwrap();
    decode(&png, 400, 200);
    assert!(matches!(
        pass_rate_chart_png(&[], "day", 10, 10),
        Err(RenderError::Chart(_))
    ));
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// The four states the timeline draws.
#[derive(Clone, Copy)]
enum TimelinePolicy {
    NoRecord,
    Monitor,
    Quarantine,
    Reject,
}

fn phase(policy: TimelinePolicy, pct: u8, testing: bool) -> DomainPhase {
    let policy = match policy {
        TimelinePolicy::NoRecord => return DomainPhase::NoRecord,
        TimelinePolicy::Monitor => Policy::None,
        TimelinePolicy::Quarantine => Policy::Quarantine,
        TimelinePolicy::Reject => Policy::Reject,
    };
    DomainPhase::Published(Phase::new(policy, pct, testing))
}

/// A year of rollout: one domain walking the whole ramp, one that lost its
/// record, one first seen late and one that never moved.
fn rollout_rows() -> Vec<PhaseRow> {
    use TimelinePolicy::*;
    vec![
        PhaseRow {
            domain: "example.com".into(),
            phases: vec![
                (date(2025, 12, 1), phase(Monitor, 100, false)),
                (date(2026, 2, 1), phase(Quarantine, 10, true)),
                (date(2026, 4, 1), phase(Quarantine, 25, false)),
                (date(2026, 6, 1), phase(Quarantine, 100, false)),
                (date(2026, 8, 1), phase(Reject, 100, false)),
            ],
        },
        PhaseRow {
            domain: "example.net".into(),
            phases: vec![
                (date(2025, 12, 1), phase(Monitor, 100, false)),
                (date(2026, 5, 1), phase(NoRecord, 100, false)),
            ],
        },
        PhaseRow {
            domain: "shop.example-subsidiary-with-a-long-name.co.uk".into(),
            phases: vec![(date(2026, 9, 14), phase(Reject, 50, true))],
        },
        PhaseRow {
            domain: "example.org".into(),
            phases: vec![(date(2024, 1, 1), phase(Reject, 100, false))],
        },
    ]
}

#[test]
fn phase_timeline_of_four_domains_over_a_year() {
    let rows = rollout_rows();
    let (from, until) = (date(2025, 12, 1), date(2026, 11, 30));
    let png = phase_timeline_png(&rows, from, until, 1184, 520).unwrap();
    let pixels = decode(&png, 1184, 520);
    assert!(ink(&pixels) > 20_000);
    // Every phase colour is drawn: monitor, quarantine, reject, no record.
    for (name, rgb) in [
        ("monitor", (0x4e, 0x79, 0xa7)),
        ("quarantine", (0xf2, 0x8e, 0x2b)),
        ("reject", (0xe1, 0x57, 0x59)),
        ("no record", (0xb8, 0xbe, 0xc6)),
    ] {
        assert!(coloured(&pixels, rgb) > 2_000, "{name}");
    }
    // The same input gives the same bytes.
    assert_eq!(
        png,
        phase_timeline_png(&rows, from, until, 1184, 520).unwrap()
    );
    // A phase drawn differently changes the image.
    let mut changed = rows.clone();
    if let DomainPhase::Published(p) = &mut changed[0].phases[1].1 {
        p.testing = false;
    }
    assert_ne!(
        png,
        phase_timeline_png(&changed, from, until, 1184, 520).unwrap()
    );
}

#[test]
fn phase_timeline_small_short_empty_and_refused() {
    let rows = rollout_rows();
    let png = phase_timeline_png(&rows, date(2026, 11, 1), date(2026, 11, 30), 400, 240).unwrap();
    assert!(ink(&decode(&png, 400, 240)) > 500);
    // One day, the window of a first run.
    let png = phase_timeline_png(&rows, date(2026, 11, 30), date(2026, 11, 30), 592, 300).unwrap();
    decode(&png, 592, 300);
    let png = phase_timeline_png(&[], date(2026, 1, 1), date(2026, 12, 31), 400, 200).unwrap();
    decode(&png, 400, 200);
    for (w, h, from, until) in [
        (10, 10, date(2026, 1, 1), date(2026, 12, 31)),
        (592, 300, date(2026, 12, 31), date(2026, 1, 1)),
    ] {
        assert!(matches!(
            phase_timeline_png(&rows, from, until, w, h),
            Err(RenderError::Chart(_))
        ));
    }
}
