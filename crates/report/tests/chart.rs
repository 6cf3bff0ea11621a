//! The charts are PNGs of the requested size for any number of runs,
//! days or weeks.

use authwarden_report::{
    pass_rate_chart_png, trend_chart_png, DomainTrend, PassRateSeries, RenderError,
};

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
