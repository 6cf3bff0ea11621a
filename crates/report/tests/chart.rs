//! The trend chart is a PNG of the requested size for any number of runs.

use authwarden_report::{trend_chart_png, DomainTrend, RenderError};

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
