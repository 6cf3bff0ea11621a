//! The charts: errors and warnings over the last runs ([`trend_chart_png`]),
//! the share of messages that pass DMARC alignment over recent weeks
//! ([`pass_rate_chart_png`]) and each domain's DMARC rollout phase over time
//! ([`phase_timeline_png`]), as PNGs for the mail's inline images.
//!
//! Lines, markers and swatches are drawn with plotters' bitmap backend into
//! a buffer; the text is then drawn into the same buffer with `ab_glyph` and
//! the DejaVu Sans font bundled in `assets/`, and the buffer is encoded with
//! the `png` crate. Neither building nor running needs a system font library.
//!
//! Text is not left to plotters: its `ab_glyph` font backend (0.3.7) places
//! each glyph without its left side bearing, so `2026-10` came out as
//! `2026-1 0`.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use chrono::{Datelike, NaiveDate};

use ab_glyph::{point, Font, FontRef, PxScale, ScaleFont};
use plotters::coord::ranged1d::{AsRangedCoord, SegmentedCoord};
use plotters::coord::types::RangedCoordu32;
use plotters::coord::Shift;
use plotters::prelude::*;

use authwarden_dmarc::{DomainPhase, Policy};

use crate::RenderError;

/// One domain's findings over the last runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainTrend {
    /// The domain.
    pub domain: String,
    /// `(period label, errors, warnings)` per run. Periods of all domains are
    /// put in the order of their labels, which for authwarden's labels
    /// (`2026-11`, `2026-Q3`, `2026`) is the order in time.
    pub points: Vec<(String, u32, u32)>,
}

/// Up to this many domains get a line each; above it the chart shows the
/// total and the worst [`TOP_DOMAINS`].
const MAX_DOMAINS: usize = 8;
const TOP_DOMAINS: usize = 5;

static FONT_DATA: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Tableau 10: distinguishable, and readable on white.
const PALETTE: [RGBColor; 8] = [
    RGBColor(0x4e, 0x79, 0xa7),
    RGBColor(0xf2, 0x8e, 0x2b),
    RGBColor(0xe1, 0x57, 0x59),
    RGBColor(0x59, 0xa1, 0x4f),
    RGBColor(0xb0, 0x7a, 0xa1),
    RGBColor(0x76, 0xb7, 0xb2),
    RGBColor(0x9c, 0x75, 0x5f),
    RGBColor(0xed, 0xc9, 0x48),
];
const TOTAL_COLOUR: RGBColor = RGBColor(0x22, 0x22, 0x22);
const TEXT: RGBColor = RGBColor(0x37, 0x41, 0x51);
const AXIS: RGBColor = RGBColor(0x9c, 0xa3, 0xaf);
const GRID: RGBColor = RGBColor(0xe5, 0xe7, 0xeb);

/// The rollout phases: blue while monitoring, orange at quarantine, red at
/// reject (the palette's first three), grey without a record.
const MONITOR: RGBColor = RGBColor(0x4e, 0x79, 0xa7);
const QUARANTINE: RGBColor = RGBColor(0xf2, 0x8e, 0x2b);
const REJECT: RGBColor = RGBColor(0xe1, 0x57, 0x59);
const NO_RECORD: RGBColor = RGBColor(0xb8, 0xbe, 0xc6);

/// One line of a chart over periods: a domain, or all domains together.
struct Line<V> {
    label: String,
    colour: RGBColor,
    /// Per period index; `None` where there is nothing to draw.
    values: Vec<Option<V>>,
}

/// One line pair of the trend chart (errors solid, warnings dashed): errors
/// and warnings per run.
type Series = Line<(u32, u32)>;

/// Draws errors (solid lines, filled markers) and warnings (dashed lines,
/// hollow markers) per run as a PNG of `width` × `height` pixels.
///
/// With up to 8 domains each gets its own colour; with more, the chart shows
/// the total across all domains plus the 5 domains with the most errors (then
/// warnings) in the latest run. A single run gives markers without lines;
/// no runs at all gives a chart that says so. Text and lines scale with the
/// width: for sharp text on high-density screens, draw at twice the size the
/// mail shows (e.g. 1184 × 600 for a 592 pixel wide image).
pub fn trend_chart_png(
    trends: &[DomainTrend],
    width: u32,
    height: u32,
) -> Result<Vec<u8>, RenderError> {
    check_size(width, height)?;
    let periods: Vec<&str> = trends
        .iter()
        .flat_map(|t| t.points.iter().map(|p| p.0.as_str()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let series = select_series(trends, &periods);
    render_png(width, height, |root, text| {
        draw(root, text, &periods, &series)
    })
}

/// Refuses sizes too small to draw in or absurdly large.
fn check_size(width: u32, height: u32) -> Result<(), RenderError> {
    if !(240..=4000).contains(&width) || !(160..=4000).contains(&height) {
        return Err(RenderError::Chart(format!(
            "size {width}x{height} is outside 240x160 to 4000x4000"
        )));
    }
    Ok(())
}

/// The steps every chart shares: a white canvas of `width` × `height`
/// pixels, `draw` for everything but the text, then the text it returns
/// drawn with the bundled font, then the PNG encoding.
fn render_png(
    width: u32,
    height: u32,
    draw: impl FnOnce(&Area<'_>, &Typesetter<'_>) -> DrawResult<Vec<Label>>,
) -> Result<Vec<u8>, RenderError> {
    let font = FontRef::try_from_slice(FONT_DATA)
        .map_err(|e| RenderError::Chart(format!("the bundled font does not load: {e}")))?;
    let text = Typesetter {
        font: &font,
        // Large enough to stay legible when a phone shows the image at about
        // half its width.
        size: (width as f32 / 34.0).clamp(12.0, 48.0),
    };
    let mut buf = vec![0u8; width as usize * height as usize * 3];
    let labels = {
        let root = BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area();
        let drawn = root
            .fill(&WHITE)
            .map_err(Into::into)
            .and_then(|()| draw(&root, &text));
        let labels = drawn.map_err(|e| RenderError::Chart(e.to_string()))?;
        root.present()
            .map_err(|e| RenderError::Chart(e.to_string()))?;
        labels
    };
    let mut canvas = Canvas {
        buf: &mut buf,
        width,
        height,
    };
    for label in &labels {
        text.draw(&mut canvas, label);
    }
    encode_png(&buf, width, height)
}

/// The lines to draw: every domain, or the total plus the worst domains.
fn select_series(trends: &[DomainTrend], periods: &[&str]) -> Vec<Series> {
    let index: BTreeMap<&str, usize> = periods.iter().enumerate().map(|(i, p)| (*p, i)).collect();
    let domains = trends.iter().map(|t| {
        let mut v = vec![None; periods.len()];
        for (period, e, w) in &t.points {
            v[index[period.as_str()]] = Some((*e, *w));
        }
        (t.domain.as_str(), v)
    });
    // Worst first: the latest run's errors, then its warnings, then all runs'.
    let key = |v: &[Option<(u32, u32)>]| {
        let latest = v.iter().rev().flatten().next().copied().unwrap_or((0, 0));
        let all: u64 = v.iter().flatten().map(|(e, w)| u64::from(*e + *w)).sum();
        (latest.0, latest.1, all)
    };
    select_lines(
        domains.collect(),
        |(te, tw), (e, w)| (te + e, tw + w),
        |a, b| key(b).cmp(&key(a)),
    )
}

/// The lines for `domains` (name and values per period): up to
/// [`MAX_DOMAINS`], each domain in a colour of its own; above, all domains
/// together (their values summed with `add`) plus the [`TOP_DOMAINS`] that
/// `worse` puts first.
fn select_lines<V: Copy + Default>(
    mut domains: Vec<(&str, Vec<Option<V>>)>,
    add: impl Fn(V, V) -> V,
    worse: impl Fn(&[Option<V>], &[Option<V>]) -> std::cmp::Ordering,
) -> Vec<Line<V>> {
    if domains.len() <= MAX_DOMAINS {
        return domains
            .into_iter()
            .zip(PALETTE.iter().cycle())
            .map(|((domain, values), c)| Line {
                label: domain.to_string(),
                colour: *c,
                values,
            })
            .collect();
    }
    let mut total = vec![None; domains[0].1.len()];
    for (_, values) in &domains {
        for (slot, v) in total.iter_mut().zip(values) {
            if let Some(v) = v {
                *slot = Some(add(slot.unwrap_or_default(), *v));
            }
        }
    }
    let all = format!("all {} domains", domains.len());
    domains.sort_by(|a, b| worse(&a.1, &b.1).then(a.0.cmp(b.0)));
    let mut lines = vec![Line {
        label: all,
        colour: TOTAL_COLOUR,
        values: total,
    }];
    lines.extend(domains.into_iter().take(TOP_DOMAINS).zip(PALETTE).map(
        |((domain, values), colour)| Line {
            label: domain.to_string(),
            colour,
            values,
        },
    ));
    lines
}

type DrawResult<T> = Result<T, Box<dyn std::error::Error>>;
type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Draws everything but the text; returns the text to draw, in pixels of
/// the whole image.
fn draw(
    root: &Area<'_>,
    text: &Typesetter<'_>,
    periods: &[&str],
    series: &[Series],
) -> DrawResult<Vec<Label>> {
    if periods.is_empty() {
        return Ok(vec![note(root, "no runs yet")]);
    }
    let h = root.dim_in_pixel().1 as i32;
    let stroke = stroke_width(root);

    let mut entries: Vec<(String, Key)> = series
        .iter()
        .map(|s| (s.label.clone(), Key::Series(s.colour)))
        .collect();
    entries.push(("errors".into(), Key::Errors));
    entries.push(("warnings".into(), Key::Warnings));
    let (legend_layout, plot, legend_top) = split_legend(root, text, &mut entries);

    // The y axis: integer ticks at a round step, head-room above the top point.
    let y_max = series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .map(|(e, w)| (*e).max(*w))
        .max()
        .unwrap_or(0);
    // As many ticks as fit the plot's height, at most 6.
    let plot_h = h - legend_layout.height - text.unit(1.6) - text.unit(2.9);
    let max_ticks = (plot_h / text.unit(1.5)).clamp(2, 6) as u32;
    let step = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]
        .into_iter()
        .find(|s| y_max / s + 2 <= max_ticks)
        .unwrap_or_else(|| y_max.div_ceil(max_ticks - 1).max(1));
    let y_top = (y_max / step + 1) * step;
    let ticks: Vec<(u32, String)> = (0..=y_top / step)
        .map(|i| (i * step, (i * step).to_string()))
        .collect();

    let mut labels = Vec::new();
    let frame = Frame {
        periods,
        ticks: &ticks,
        title: "findings",
        caption: "run",
    };
    let (mut chart, _) = frame.draw(root, &plot, text, &mut labels)?;

    // The series: warnings first, so that errors are drawn on top.
    let marker = stroke + 2;
    for s in series {
        let warnings = points(&s.values, |v| v.1);
        let errors = points(&s.values, |v| v.0);
        let colour = s.colour;
        chart.draw_series(DashedLineSeries::new(
            warnings.clone(),
            stroke as i32 * 3,
            stroke as i32 * 2,
            colour.stroke_width(stroke),
        ))?;
        chart.draw_series(
            warnings
                .iter()
                .map(|p| Circle::new(p.clone(), marker, WHITE.filled())),
        )?;
        chart.draw_series(
            warnings
                .iter()
                .map(|p| Circle::new(p.clone(), marker, colour.stroke_width(2))),
        )?;
        chart.draw_series(LineSeries::new(errors.clone(), colour.stroke_width(stroke)))?;
        chart.draw_series(
            errors
                .iter()
                .map(|p| Circle::new(p.clone(), marker, colour.filled())),
        )?;
    }

    legend_layout.draw(root, text, &entries, legend_top, stroke, &mut labels)?;
    Ok(labels)
}

/// A short text in the middle of an empty chart.
fn note(root: &Area<'_>, message: &str) -> Label {
    let (w, h) = root.dim_in_pixel();
    Label::new(
        message,
        (w as i32 / 2, h as i32 / 2),
        Align::Center,
        Align::Center,
    )
}

/// The width of lines, growing with the image.
fn stroke_width(root: &Area<'_>) -> u32 {
    (root.dim_in_pixel().0 / 300).clamp(2, 8)
}

/// Lays out the legend for `entries` (shortening their names where needed)
/// and splits its room off the bottom of `root`; returns the layout, the
/// area left for the plot and the legend's top.
fn split_legend<'a>(
    root: &Area<'a>,
    text: &Typesetter<'_>,
    entries: &mut [(String, Key)],
) -> (Legend, Area<'a>, i32) {
    let (width, height) = root.dim_in_pixel();
    let layout = Legend::layout(text, entries, width as i32, height as i32);
    let (plot, legend) = root.split_vertically(height.saturating_sub(layout.height as u32));
    let top = legend.get_base_pixel().1;
    (layout, plot, top)
}

/// A chart over periods (the trend and pass-rate charts): its periods along
/// x, its y ticks (value and label, lowest first) and the text at the axes.
struct Frame<'a, V> {
    periods: &'a [&'a str],
    ticks: &'a [(V, String)],
    /// Above the y axis.
    title: &'a str,
    /// Under the period labels.
    caption: &'a str,
}

type PeriodChart<'a, 'b, Y> =
    ChartContext<'a, BitMapBackend<'b>, Cartesian2d<SegmentedCoord<RangedCoordu32>, Y>>;

impl<V: Copy> Frame<'_, V> {
    /// Sets up the plot in `plot`, from the lowest tick to the highest, and
    /// draws its frame: a grid line at each tick (the lowest is the x axis)
    /// with its label, the y axis with the title, the period labels (every
    /// k-th so that they do not collide, always the latest) and the caption.
    /// Returns the chart for the data and the width of one period in pixels.
    fn draw<'a, 'b>(
        &self,
        root: &Area<'b>,
        plot: &'a Area<'b>,
        text: &Typesetter<'_>,
        labels: &mut Vec<Label>,
    ) -> DrawResult<(
        PeriodChart<'a, 'b, <Range<V> as AsRangedCoord>::CoordDescType>,
        i32,
    )>
    where
        Range<V>: AsRangedCoord<Value = V>,
    {
        let unit = |f: f32| text.unit(f);
        let (periods, ticks) = (self.periods, self.ticks);
        let (lowest, highest) = (ticks[0].0, ticks[ticks.len() - 1].0);
        let y_area = ticks.iter().map(|t| text.width(&t.1)).max().unwrap_or(0) + unit(0.8);
        let last = periods.len() as u32 - 1;
        let chart = ChartBuilder::on(plot)
            .margin_top(unit(1.6))
            .margin_right(unit(1.2))
            .margin_left(unit(0.4))
            .x_label_area_size(unit(2.9))
            .y_label_area_size(y_area)
            // plotters' integer ranges include their end.
            .build_cartesian_2d((0..last).into_segmented(), lowest..highest)?;
        let (x_range, y_range) = chart.plotting_area().get_pixel_range();
        let (left, right, top, bottom) = (x_range.start, x_range.end, y_range.start, y_range.end);
        let at = |i: u32, v: V| chart.backend_coord(&(SegmentValue::CenterOf(i), v));

        for (i, (t, label)) in ticks.iter().enumerate() {
            let y = at(0, *t).1;
            let style = if i == 0 { AXIS } else { GRID };
            root.draw(&PathElement::new(
                vec![(left, y), (right, y)],
                style.stroke_width(1),
            ))?;
            labels.push(Label::new(
                label.clone(),
                (left - unit(0.4), y),
                Align::End,
                Align::Center,
            ));
        }
        root.draw(&PathElement::new(
            vec![(left, top), (left, bottom)],
            AXIS.stroke_width(1),
        ))?;
        labels.push(Label::new(
            self.title,
            (left - y_area + unit(0.2), top - unit(0.9)),
            Align::Start,
            Align::Center,
        ));
        let label_w = periods.iter().map(|p| text.width(p)).max().unwrap_or(1) + unit(1.0);
        let slot = ((right - left) / periods.len() as i32).max(1);
        let every = ((label_w + slot - 1) / slot).max(1) as usize;
        for (i, period) in periods.iter().enumerate() {
            let (x, y) = at(i as u32, lowest);
            if (periods.len() - 1 - i).is_multiple_of(every) {
                root.draw(&PathElement::new(
                    vec![(x, y), (x, y + unit(0.3))],
                    AXIS.stroke_width(1),
                ))?;
                labels.push(Label::new(
                    *period,
                    (x, y + unit(0.5)),
                    Align::Center,
                    Align::Start,
                ));
            }
        }
        labels.push(Label::new(
            self.caption,
            ((left + right) / 2, bottom + unit(1.7)),
            Align::Center,
            Align::Start,
        ));
        Ok((chart, slot))
    }
}

/// One legend entry's symbol.
enum Key {
    /// A series: its colour as a thick bar.
    Series(RGBColor),
    /// The line style of errors, in grey.
    Errors,
    /// The line style of warnings, in grey.
    Warnings,
    /// A phase swatch filled to part of its height: `pct` below 100.
    Partial(RGBColor),
    /// A hatched grey swatch: testing mode.
    Hatched,
}

/// Where the legend goes: below the plot, centred, in rows of `cols`.
struct Legend {
    cols: i32,
    col_w: i32,
    height: i32,
}

impl Legend {
    /// As many columns (up to 4) as fit with no name shortened; failing
    /// that, the fewest columns (so the least shortening) that keep the
    /// legend within two fifths of the height. Shortens the names of
    /// `entries` where needed.
    fn layout(text: &Typesetter<'_>, entries: &mut [(String, Key)], w: i32, h: i32) -> Legend {
        let unit = |f: f32| text.unit(f);
        let swatch = unit(2.2);
        let line_h = unit(1.5);
        let n = entries.len() as i32;
        let mut layout = (
            1,
            w,
            entries.iter().map(|e| e.0.clone()).collect::<Vec<_>>(),
            0,
        );
        let full = |cols: i32| {
            let space = (w - unit(1.0)) / cols - swatch - unit(2.0);
            entries.iter().all(|e| text.width(&e.0) <= space)
        };
        let rows_h = |cols: i32| (n + cols - 1) / cols * line_h + unit(0.6);
        let widest_first = (1..=n.min(4))
            .rev()
            .find(|&c| full(c))
            .filter(|&c| rows_h(c) <= h * 2 / 5);
        let tries: Vec<i32> = match widest_first {
            Some(c) => vec![c],
            None => (1..=n.min(4)).collect(),
        };
        for cols in tries {
            let space = (w - unit(1.0)) / cols - swatch - unit(2.0);
            let names: Vec<String> = entries.iter().map(|e| text.fit(&e.0, space)).collect();
            let widest = names.iter().map(|l| text.width(l)).max().unwrap_or(0);
            let legend_h = rows_h(cols);
            layout = (
                cols,
                swatch + unit(0.5) + widest + unit(1.5),
                names,
                legend_h,
            );
            if legend_h <= h * 2 / 5 {
                break;
            }
        }
        let (cols, col_w, names, height) = layout;
        for (entry, name) in entries.iter_mut().zip(names) {
            entry.0 = name;
        }
        Legend {
            cols,
            col_w,
            height,
        }
    }

    /// Draws the symbols from `legend_top` down and adds the names to `labels`.
    fn draw(
        &self,
        root: &Area<'_>,
        text: &Typesetter<'_>,
        entries: &[(String, Key)],
        legend_top: i32,
        stroke: u32,
        labels: &mut Vec<Label>,
    ) -> DrawResult<()> {
        let unit = |f: f32| text.unit(f);
        let (swatch, line_h) = (unit(2.2), unit(1.5));
        let marker = stroke + 2;
        let (w, _) = root.dim_in_pixel();
        let (cols, col_w) = (self.cols, self.col_w);
        let x0 = (w as i32 - cols * col_w + unit(1.5)) / 2;
        for (i, (label, key)) in entries.iter().enumerate() {
            let (row, col) = (i as i32 / cols, i as i32 % cols);
            let x = x0 + col * col_w;
            let y = legend_top + unit(0.3) + row * line_h + line_h / 2;
            let s = stroke as i32;
            match key {
                Key::Series(c) => root.draw(&Rectangle::new(
                    [(x, y - s - 2), (x + swatch, y + s + 2)],
                    c.filled(),
                ))?,
                Key::Errors => {
                    root.draw(&PathElement::new(
                        vec![(x, y), (x + swatch, y)],
                        TEXT.stroke_width(stroke),
                    ))?;
                    root.draw(&Circle::new((x + swatch / 2, y), marker, TEXT.filled()))?;
                }
                Key::Warnings => {
                    let dash = swatch / 4;
                    for (a, b) in [(x, x + dash), (x + swatch - dash, x + swatch)] {
                        root.draw(&PathElement::new(
                            vec![(a, y), (b, y)],
                            TEXT.stroke_width(stroke),
                        ))?;
                    }
                    root.draw(&Circle::new((x + swatch / 2, y), marker, WHITE.filled()))?;
                    root.draw(&Circle::new(
                        (x + swatch / 2, y),
                        marker,
                        TEXT.stroke_width(2),
                    ))?;
                }
                Key::Partial(c) => {
                    let half = unit(0.5);
                    root.draw(&Rectangle::new(
                        [(x, y - half), (x + swatch, y + half)],
                        tint(*c).filled(),
                    ))?;
                    root.draw(&Rectangle::new(
                        [(x, y), (x + swatch, y + half)],
                        c.filled(),
                    ))?;
                }
                Key::Hatched => {
                    let half = unit(0.5);
                    let rect = (x, y - half, x + swatch, y + half);
                    root.draw(&Rectangle::new(
                        [(rect.0, rect.1), (rect.2, rect.3)],
                        NO_RECORD.filled(),
                    ))?;
                    hatch(root, rect, unit(0.45).max(4))?;
                }
            }
            labels.push(Label::new(
                label.clone(),
                (x + swatch + unit(0.5), y),
                Align::Start,
                Align::Center,
            ));
        }
        Ok(())
    }
}

/// One domain's pass rate over time, for [`pass_rate_chart_png`].
#[derive(Debug, Clone, PartialEq)]
pub struct PassRateSeries {
    /// The domain.
    pub domain: String,
    /// `(label, messages, pass)` per day or week, e.g.
    /// `("2026-11-02", 1200.0, 1150.0)`. Labels of all domains are put in
    /// their text order, which for ISO dates is the order in time; a domain
    /// without messages at a label gets a gap there.
    pub points: Vec<(String, f64, f64)>,
}

/// Draws the share of messages that passed (SPF and DKIM aligned), in
/// percent, per day or week as a PNG of `width` × `height` pixels, with
/// `caption` under the time axis (e.g. `week starting`).
///
/// Like [`trend_chart_png`]: with up to 8 domains each gets a line; with
/// more, the chart shows all domains together plus the 5 with the lowest
/// pass rate over the whole window. A domain with a gap gets separate line
/// pieces; a lone point shows as a marker. The axis starts below the lowest
/// point (see `rate_axis`). No points at all gives a chart
/// that says so.
pub fn pass_rate_chart_png(
    series: &[PassRateSeries],
    caption: &str,
    width: u32,
    height: u32,
) -> Result<Vec<u8>, RenderError> {
    check_size(width, height)?;
    let labels: Vec<&str> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0.as_str()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let lines = select_rate_lines(series, &labels);
    render_png(width, height, |root, text| {
        draw_rates(
            root,
            text,
            &labels,
            &lines,
            caption,
            "messages with SPF and DKIM aligned",
        )
    })
}

/// Draws the share of SMTP sessions that negotiated TLS as the policy asks
/// (from TLS reports, RFC 8460), in percent, per day or week: the machinery
/// of [`pass_rate_chart_png`], with `points` as `(label, sessions,
/// successful)` and one series per domain (or domain and policy type).
pub fn tls_success_chart_png(
    series: &[PassRateSeries],
    caption: &str,
    width: u32,
    height: u32,
) -> Result<Vec<u8>, RenderError> {
    check_size(width, height)?;
    let labels: Vec<&str> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0.as_str()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let lines = select_rate_lines(series, &labels);
    render_png(width, height, |root, text| {
        draw_rates(
            root,
            text,
            &labels,
            &lines,
            caption,
            "SMTP sessions with TLS as the policy asks",
        )
    })
}

/// A pass-rate line: `(messages, pass)` per label index, `None` where there
/// were no messages.
type RateLine = Line<(f64, f64)>;

/// The lines to draw: every domain, or all together plus the lowest.
fn select_rate_lines(series: &[PassRateSeries], labels: &[&str]) -> Vec<RateLine> {
    let index: BTreeMap<&str, usize> = labels.iter().enumerate().map(|(i, l)| (*l, i)).collect();
    let domains = series.iter().map(|s| {
        let mut v = vec![None; labels.len()];
        for (label, messages, pass) in &s.points {
            if *messages > 0.0 {
                let slot: &mut (f64, f64) = v[index[label.as_str()]].get_or_insert((0.0, 0.0));
                slot.0 += messages;
                slot.1 += pass;
            }
        }
        (s.domain.as_str(), v)
    });
    // Lowest pass rate over the window first.
    let rate = |v: &[Option<(f64, f64)>]| {
        let (m, p) = v
            .iter()
            .flatten()
            .fold((0.0, 0.0), |(m, p), (vm, vp)| (m + vm, p + vp));
        if m > 0.0 {
            p / m
        } else {
            1.0
        }
    };
    select_lines(
        domains.collect(),
        |(tm, tp), (m, p)| (tm + m, tp + p),
        |a, b| rate(a).total_cmp(&rate(b)),
    )
}

/// The bottom of the pass-rate axis and its tick step, in percent, for the
/// lowest rate drawn: 2 points of room below it, rounded down to 10; 0 (in
/// steps of 25) when that would be 40 or less.
fn rate_axis(lowest: f64) -> (u32, u32) {
    let bottom = ((lowest - 2.0) / 10.0).floor() * 10.0;
    match bottom.clamp(0.0, 90.0) as u32 {
        b if b <= 40 => (0, 25),
        b if b >= 80 => (b, 5),
        b => (b, 10),
    }
}

/// Draws the pass-rate chart but its text; returns the text to draw.
fn draw_rates(
    root: &Area<'_>,
    text: &Typesetter<'_>,
    periods: &[&str],
    lines: &[RateLine],
    caption: &str,
    title: &'static str,
) -> DrawResult<Vec<Label>> {
    if periods.is_empty() {
        return Ok(vec![note(root, "no reports yet")]);
    }
    let stroke = stroke_width(root);
    let mut entries: Vec<(String, Key)> = lines
        .iter()
        .map(|l| (l.label.clone(), Key::Series(l.colour)))
        .collect();
    let (legend_layout, plot, legend_top) = split_legend(root, text, &mut entries);

    // Pass rates sit near the top: start the axis below the lowest point so
    // that a drop from 98% to 90% shows, at 0% when a point is under 50%.
    let lowest = lines
        .iter()
        .flat_map(|l| l.values.iter().flatten())
        .filter(|(m, _)| *m > 0.0)
        .map(|(m, p)| p / m * 100.0)
        .fold(100.0f64, f64::min);
    let (y_min, step) = rate_axis(lowest);
    let ticks: Vec<(f64, String)> = (y_min..=100)
        .step_by(step as usize)
        .map(|t| (f64::from(t), format!("{t}%")))
        .collect();

    let mut labels = Vec::new();
    let frame = Frame {
        periods,
        ticks: &ticks,
        title,
        caption,
    };
    let (mut chart, slot) = frame.draw(root, &plot, text, &mut labels)?;

    // Markers only where they do not crowd the line.
    let marker = (stroke + 2) as i32;
    let show_markers = slot >= marker * 4;
    for line in lines {
        let colour = line.colour;
        let mut pieces: Vec<Vec<(SegmentValue<u32>, f64)>> = vec![Vec::new()];
        for (i, v) in line.values.iter().enumerate() {
            match v {
                Some((m, p)) if *m > 0.0 => {
                    let rate = (p / m * 100.0).clamp(f64::from(y_min), 100.0);
                    if let Some(piece) = pieces.last_mut() {
                        piece.push((SegmentValue::CenterOf(i as u32), rate));
                    }
                }
                _ => pieces.push(Vec::new()),
            }
        }
        for piece in pieces.iter().filter(|p| !p.is_empty()) {
            chart.draw_series(LineSeries::new(piece.clone(), colour.stroke_width(stroke)))?;
            if show_markers || piece.len() == 1 {
                chart.draw_series(
                    piece
                        .iter()
                        .map(|p| Circle::new(p.clone(), marker, colour.filled())),
                )?;
            }
        }
    }

    legend_layout.draw(root, text, &entries, legend_top, stroke, &mut labels)?;
    Ok(labels)
}

/// The series' points for one of errors / warnings, skipping missing runs.
fn points(
    values: &[Option<(u32, u32)>],
    pick: impl Fn((u32, u32)) -> u32,
) -> Vec<(SegmentValue<u32>, u32)> {
    values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (SegmentValue::CenterOf(i as u32), pick(v))))
        .collect()
}

/// One domain's row in [`phase_timeline_png`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseRow {
    /// The domain.
    pub domain: String,
    /// `(first day, phase)`, oldest first: each phase lasts until the next
    /// one begins or the window ends. Before the first, the row is empty
    /// (not yet checked).
    pub phases: Vec<(NaiveDate, DomainPhase)>,
}

/// Draws one row per domain with its DMARC rollout phases as coloured
/// segments over the days `from` to `until` (both included), as a PNG of
/// `width` × `height` pixels.
///
/// Monitoring (`p=none`) is blue, quarantine orange, reject red, no record
/// grey; below `pct=100` only that share of the bar's height is filled (the
/// rest is a lighter shade) and the pct is written in the segment where it
/// fits; testing mode (`t=y`) is hatched. Months are marked on the time axis;
/// a legend explains the colours. No rows gives a chart that says so. The
/// output depends only on the arguments.
pub fn phase_timeline_png(
    rows: &[PhaseRow],
    from: NaiveDate,
    until: NaiveDate,
    width: u32,
    height: u32,
) -> Result<Vec<u8>, RenderError> {
    check_size(width, height)?;
    if until < from {
        return Err(RenderError::Chart(format!(
            "the window ends ({until}) before it starts ({from})"
        )));
    }
    render_png(width, height, |root, text| {
        draw_timeline(root, text, rows, from, until)
    })
}

/// The colour of a policy.
fn phase_colour(phase: &DomainPhase) -> RGBColor {
    match phase.phase().map(|p| p.policy) {
        None => NO_RECORD,
        Some(Policy::None) => MONITOR,
        Some(Policy::Quarantine) => QUARANTINE,
        Some(Policy::Reject) => REJECT,
    }
}

/// `c` mixed with two thirds white: the unfilled part of a partial bar.
fn tint(c: RGBColor) -> RGBColor {
    let mix = |v: u8| ((u16::from(v) + 2 * 255) / 3) as u8;
    RGBColor(mix(c.0), mix(c.1), mix(c.2))
}

/// White 45° stripes over the rectangle `(left, top, right, bottom)`,
/// `gap` pixels apart, clipped to it.
fn hatch(root: &Area<'_>, (x0, y0, x1, y1): (i32, i32, i32, i32), gap: i32) -> DrawResult<()> {
    let h = y1 - y0;
    let mut a = x0 - h;
    while a < x1 {
        // The stripe runs from (a, y1) up and right: (a + t, y1 - t).
        let t0 = (x0 - a).max(0);
        let t1 = (x1 - a).min(h);
        if t1 > t0 {
            root.draw(&PathElement::new(
                vec![(a + t0, y1 - t0), (a + t1, y1 - t1)],
                WHITE.stroke_width(2),
            ))?;
        }
        a += gap.max(3);
    }
    Ok(())
}

/// Draws the timeline but its text; returns the text to draw.
fn draw_timeline(
    root: &Area<'_>,
    text: &Typesetter<'_>,
    rows: &[PhaseRow],
    from: NaiveDate,
    until: NaiveDate,
) -> DrawResult<Vec<Label>> {
    if rows.is_empty() {
        return Ok(vec![note(root, "no rollout history yet")]);
    }
    let (width, height) = root.dim_in_pixel();
    let (w, h) = (width as i32, height as i32);
    let mut labels = Vec::new();
    let unit = |f: f32| text.unit(f);

    let mut entries: Vec<(String, Key)> = vec![
        ("monitor (p=none)".into(), Key::Series(MONITOR)),
        ("quarantine".into(), Key::Series(QUARANTINE)),
        ("reject".into(), Key::Series(REJECT)),
        ("no record".into(), Key::Series(NO_RECORD)),
        ("pct below 100".into(), Key::Partial(QUARANTINE)),
        ("testing (t=y)".into(), Key::Hatched),
    ];
    let legend_layout = Legend::layout(text, &mut entries, w, h);
    let legend_top = h - legend_layout.height;

    // Domain names on the left, shortened to at most a third of the width.
    let names: Vec<String> = rows.iter().map(|r| text.fit(&r.domain, w / 3)).collect();
    let name_w = names.iter().map(|n| text.width(n)).max().unwrap_or(0);
    let left = unit(0.4) + name_w + unit(0.6);
    let right = w - unit(1.2);
    let top = unit(0.8);
    let bottom = (legend_top - unit(2.4)).max(top + rows.len() as i32);
    let row_h = (bottom - top) as f64 / rows.len() as f64;
    let band = (row_h * 0.7).max(1.0);

    // Days from `from`; the last day ends at `right`.
    let days = (until - from).num_days() + 1;
    let x_of = |d: NaiveDate| {
        let n = (d - from).num_days().clamp(0, days);
        left + ((right - left) as i64 * n / days) as i32
    };

    // Month starts: a grid line each, a label where they do not collide.
    let mut months = Vec::new();
    let mut m = NaiveDate::from_ymd_opt(from.year(), from.month(), 1).unwrap_or(from);
    while m <= until {
        if m >= from {
            months.push(m);
        }
        m = m
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(NaiveDate::MAX);
    }
    for &m in &months {
        let x = x_of(m);
        root.draw(&PathElement::new(
            vec![(x, top), (x, bottom)],
            GRID.stroke_width(1),
        ))?;
    }
    // Labels start at their month; one too close to the right edge to fit
    // is left out rather than pushed onto its neighbour.
    let ticks: Vec<(NaiveDate, String)> = if months.is_empty() {
        vec![(from, from.format("%Y-%m-%d").to_string())]
    } else {
        months
            .iter()
            .map(|m| (*m, m.format("%Y-%m").to_string()))
            .filter(|(m, label)| x_of(*m) + text.width(label) <= w)
            .collect()
    };
    let label_w = ticks.iter().map(|t| text.width(&t.1)).max().unwrap_or(1) + unit(1.0);
    let spacing = ((right - left) as f64 * 30.4 / days as f64).max(1.0) as i32;
    let every = ((label_w + spacing - 1) / spacing).max(1) as usize;
    for (i, (day, label)) in ticks.iter().enumerate() {
        if (ticks.len() - 1 - i).is_multiple_of(every) {
            let x = x_of(*day);
            root.draw(&PathElement::new(
                vec![(x, bottom), (x, bottom + unit(0.3))],
                AXIS.stroke_width(1),
            ))?;
            labels.push(Label::new(
                label.clone(),
                (x, bottom + unit(0.5)),
                Align::Start,
                Align::Start,
            ));
        }
    }
    root.draw(&PathElement::new(
        vec![(left, bottom), (right, bottom)],
        AXIS.stroke_width(1),
    ))?;

    for (r, (row, name)) in rows.iter().zip(&names).enumerate() {
        let centre = top as f64 + row_h * (r as f64 + 0.5);
        let (y0, y1) = (
            (centre - band / 2.0).round() as i32,
            (centre + band / 2.0).round() as i32,
        );
        labels.push(Label::new(
            name.clone(),
            (left - unit(0.6), centre.round() as i32),
            Align::End,
            Align::Center,
        ));
        for (i, (start, phase)) in row.phases.iter().enumerate() {
            let end = row
                .phases
                .get(i + 1)
                .map(|p| p.0)
                .unwrap_or(until + chrono::Days::new(1));
            let (x0, x1) = (
                x_of((*start).max(from)),
                x_of(end.min(until + chrono::Days::new(1))),
            );
            if x1 <= x0 {
                continue;
            }
            let colour = phase_colour(phase);
            // The pct is drawn for quarantine and reject only.
            let (enforcing, pct, testing) = match phase.phase() {
                Some(p) if p.policy != Policy::None => (true, p.pct.min(100), p.testing),
                Some(p) => (false, 100, p.testing),
                None => (false, 100, false),
            };
            if pct < 100 {
                root.draw(&Rectangle::new([(x0, y0), (x1, y1)], tint(colour).filled()))?;
            }
            let filled_top = y1 - ((y1 - y0) as f64 * f64::from(pct) / 100.0).round() as i32;
            if filled_top < y1 {
                root.draw(&Rectangle::new(
                    [(x0, filled_top), (x1, y1)],
                    colour.filled(),
                ))?;
            }
            if testing {
                hatch(root, (x0, y0, x1, y1), unit(0.45).max(4))?;
            }
            if i > 0 && x0 > left {
                root.draw(&PathElement::new(
                    vec![(x0, y0), (x0, y1)],
                    WHITE.stroke_width(2),
                ))?;
            }
            let pct_label = format!("{pct}%");
            if enforcing
                && x1 - x0 > text.width(&pct_label) + unit(0.8)
                && (y1 - y0) as f32 > text.size * 1.1
            {
                labels.push(Label::new(
                    pct_label,
                    (x0 + unit(0.4), centre.round() as i32),
                    Align::Start,
                    Align::Center,
                ));
            }
        }
    }

    legend_layout.draw(root, text, &entries, legend_top, 2, &mut labels)?;
    Ok(labels)
}

/// Where a label's anchor point is: at its start, centre or end.
#[derive(Debug, Clone, Copy)]
enum Align {
    Start,
    Center,
    End,
}

/// A piece of text to draw at an anchor point.
#[derive(Debug)]
struct Label {
    text: String,
    at: (i32, i32),
    horizontal: Align,
    vertical: Align,
}

impl Label {
    fn new(text: impl Into<String>, at: (i32, i32), horizontal: Align, vertical: Align) -> Label {
        Label {
            text: text.into(),
            at,
            horizontal,
            vertical,
        }
    }
}

/// The RGB buffer of the image.
struct Canvas<'a> {
    buf: &'a mut [u8],
    width: u32,
    height: u32,
}

impl Canvas<'_> {
    /// Blends `colour` over the pixel with the given coverage.
    fn blend(&mut self, x: i32, y: i32, colour: RGBColor, coverage: f32) {
        if x < 0 || y < 0 || x >= self.width as i32 || y >= self.height as i32 {
            return;
        }
        let i = (y as usize * self.width as usize + x as usize) * 3;
        let a = coverage.clamp(0.0, 1.0);
        for (c, v) in [colour.0, colour.1, colour.2].into_iter().enumerate() {
            let old = f32::from(self.buf[i + c]);
            self.buf[i + c] = (old + (f32::from(v) - old) * a).round() as u8;
        }
    }
}

/// Measures and draws text in the bundled font at one size.
struct Typesetter<'f> {
    font: &'f FontRef<'f>,
    size: f32,
}

impl Typesetter<'_> {
    /// `f` times the text size, in whole pixels: the unit of the layout.
    fn unit(&self, f: f32) -> i32 {
        (self.size * f).round() as i32
    }

    fn scaled(&self) -> ab_glyph::PxScaleFont<&FontRef<'_>> {
        self.font.as_scaled(PxScale::from(self.size))
    }

    /// The advance width of `text` in pixels.
    fn width(&self, text: &str) -> i32 {
        let font = self.scaled();
        let mut w = 0.0;
        let mut prev = None;
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(p) = prev {
                w += font.kern(p, id);
            }
            w += font.h_advance(id);
            prev = Some(id);
        }
        w.ceil() as i32
    }

    /// `text`, shortened in the middle with `…` until it is at most `max`
    /// pixels wide; both ends stay, since either may tell domains apart
    /// (`mail.example.com`, `example.co.uk`).
    fn fit(&self, text: &str, max: i32) -> String {
        if self.width(text) <= max {
            return text.to_string();
        }
        let chars: Vec<char> = text.chars().collect();
        for keep in (1..chars.len()).rev() {
            let head: String = chars[..keep.div_ceil(2)].iter().collect();
            let tail: String = chars[chars.len() - keep / 2..].iter().collect();
            let s = format!("{head}…{tail}");
            if self.width(&s) <= max {
                return s;
            }
        }
        "…".to_string()
    }

    fn draw(&self, canvas: &mut Canvas<'_>, label: &Label) {
        let font = self.scaled();
        let width = self.width(&label.text) as f32;
        let x = label.at.0 as f32
            - match label.horizontal {
                Align::Start => 0.0,
                Align::Center => width / 2.0,
                Align::End => width,
            };
        // Keep labels at the edges (the latest run's) inside the image.
        let x = x.clamp(0.0, (canvas.width as f32 - width).max(0.0));
        // The baseline, placing the line box (ascent to descent) at the anchor.
        let (ascent, descent) = (font.ascent(), font.descent());
        let baseline = label.at.1 as f32
            + match label.vertical {
                Align::Start => ascent,
                Align::Center => (ascent + descent) / 2.0,
                Align::End => descent,
            };
        let mut caret = x;
        let mut prev = None;
        for c in label.text.chars() {
            let id = font.glyph_id(c);
            if let Some(p) = prev {
                caret += font.kern(p, id);
            }
            prev = Some(id);
            let glyph = id.with_scale_and_position(font.scale, point(caret, baseline));
            caret += font.h_advance(id);
            if let Some(outline) = self.font.outline_glyph(glyph) {
                let bounds = outline.px_bounds();
                let (bx, by) = (bounds.min.x as i32, bounds.min.y as i32);
                outline.draw(|gx, gy, coverage| {
                    canvas.blend(bx + gx as i32, by + gy as i32, TEXT, coverage)
                });
            }
        }
    }
}

fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, RenderError> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let err = |e: png::EncodingError| RenderError::Chart(format!("PNG encoding: {e}"));
    let mut writer = encoder.write_header().map_err(err)?;
    writer.write_image_data(rgb).map_err(err)?;
    writer.finish().map_err(err)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trend(domain: &str, points: &[(&str, u32, u32)]) -> DomainTrend {
        DomainTrend {
            domain: domain.into(),
            points: points
                .iter()
                .map(|(p, e, w)| (p.to_string(), *e, *w))
                .collect(),
        }
    }

    #[test]
    fn few_domains_get_a_line_each_on_shared_periods() {
        let trends = [
            trend("a.example", &[("2026-02", 1, 0), ("2026-01", 2, 1)]),
            trend("b.example", &[("2026-03", 0, 4)]),
        ];
        let periods = ["2026-01", "2026-02", "2026-03"];
        let series = select_series(&trends, &periods);
        assert_eq!(series.len(), 2);
        assert_eq!(series[0].values, [Some((2, 1)), Some((1, 0)), None]);
        assert_eq!(series[1].values, [None, None, Some((0, 4))]);
    }

    #[test]
    fn many_domains_give_the_total_and_the_five_worst() {
        let trends: Vec<_> = (0..10u32)
            .map(|d| {
                trend(
                    &format!("d{d}.example"),
                    &[("2026-01", 9 - d, d), ("2026-02", d % 4, 1)],
                )
            })
            .collect();
        let series = select_series(&trends, &["2026-01", "2026-02"]);
        let labels: Vec<_> = series.iter().map(|s| s.label.as_str()).collect();
        // Latest errors: d3 and d7 have 3, d2 and d6 have 2, then d1 / d5 / d9 with 1.
        assert_eq!(
            labels,
            [
                "all 10 domains",
                "d3.example",
                "d7.example",
                "d2.example",
                "d6.example",
                "d1.example"
            ]
        );
        assert_eq!(series[0].values, [Some((45, 45)), Some((13, 10))]);
    }

    #[test]
    fn the_rate_axis_starts_below_the_lowest_point() {
        assert_eq!(rate_axis(100.0), (90, 5));
        assert_eq!(rate_axis(91.5), (80, 5));
        assert_eq!(rate_axis(75.0), (70, 10));
        assert_eq!(rate_axis(52.0), (50, 10));
        assert_eq!(rate_axis(45.0), (0, 25));
        assert_eq!(rate_axis(0.0), (0, 25));
    }

    #[test]
    fn many_domains_give_all_together_and_the_five_lowest_pass_rates() {
        let series: Vec<_> = (0..10u32)
            .map(|d| PassRateSeries {
                domain: format!("d{d}.example"),
                points: vec![
                    ("2026-11-02".into(), 100.0, f64::from(90 + d)),
                    ("2026-11-09".into(), 0.0, 0.0),
                ],
            })
            .collect();
        let lines = select_rate_lines(&series, &["2026-11-02", "2026-11-09"]);
        let labels: Vec<_> = lines.iter().map(|l| l.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "all 10 domains",
                "d0.example",
                "d1.example",
                "d2.example",
                "d3.example",
                "d4.example"
            ]
        );
        assert_eq!(lines[0].values, [Some((1000.0, 945.0)), None]);
    }
}
