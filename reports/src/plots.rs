//! Chart primitives on plotters' SVG backend: time series panels (a mean line and a
//! min–max band when downsampled), event lanes, stacked and grouped bars, horizontal
//! share bars, a heatmap and a scatter with its Pareto front.
//!
//! Text is SVG `<text>` in a generic font family, so nothing needs fonts installed. The
//! palette is Okabe-Ito (safe for the common colour-vision deficiencies), the heatmap
//! uses ten viridis steps. Output depends only on the inputs: the same data gives the
//! same bytes. Elements that can be numerous (heatmap cells, event ticks) are written as
//! a few compact `<path>` elements per colour instead of one element each, so a
//! 200 x 200 heatmap stays a few hundred kilobytes.

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::fmt::Write as _;

/// The font family of every text element: generic, resolved by the viewer.
pub const FONT: &str = "sans-serif";
/// Width of every plot, pixels.
pub const WIDTH: u32 = 960;
/// At most this many points per time series; longer series are reduced per bucket.
pub const MAX_POINTS: usize = 1000;

const TITLE_SIZE: f64 = 22.0;
const LABEL_SIZE: f64 = 15.0;
const DESC_SIZE: f64 = 16.0;
/// What plotters' SVG backend writes as `font-size` is the style size / 1.24.
const PX_PER_SIZE: f64 = 1.0 / 1.24;

/// Okabe-Ito, ordered so that the first colours read well as lines on white.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(230, 159, 0),   // orange
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(240, 228, 66),  // yellow
    RGBColor(0, 0, 0),       // black
];
pub const BLUE: RGBColor = PALETTE[0];
pub const ORANGE: RGBColor = PALETTE[1];
pub const GREEN: RGBColor = PALETTE[2];
pub const VERMILLION: RGBColor = PALETTE[3];
pub const PURPLE: RGBColor = PALETTE[4];
pub const SKY: RGBColor = PALETTE[5];
pub const YELLOW: RGBColor = PALETTE[6];
pub const INK: RGBColor = RGBColor(0, 0, 0);
pub const GREY: RGBColor = RGBColor(136, 136, 136);
pub const LIGHT_GREY: RGBColor = RGBColor(204, 204, 204);
const GRID_BOLD: RGBColor = RGBColor(208, 208, 208);
const NO_DATA: RGBColor = RGBColor(240, 240, 240);

/// Ten steps of viridis, low to high.
pub const VIRIDIS: [RGBColor; 10] = [
    RGBColor(0x44, 0x01, 0x54),
    RGBColor(0x48, 0x28, 0x78),
    RGBColor(0x3E, 0x4A, 0x89),
    RGBColor(0x31, 0x68, 0x8E),
    RGBColor(0x26, 0x82, 0x8E),
    RGBColor(0x1F, 0x9E, 0x89),
    RGBColor(0x35, 0xB7, 0x79),
    RGBColor(0x6D, 0xCD, 0x59),
    RGBColor(0xB4, 0xDE, 0x2C),
    RGBColor(0xFD, 0xE7, 0x25),
];

/// The `i`-th colour of the palette, cycling.
pub fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

fn hex(colour: RGBColor) -> String {
    format!("#{:02X}{:02X}{:02X}", colour.0, colour.1, colour.2)
}

/// A failed drawing; the caller names the file.
#[derive(Debug)]
pub struct PlotError(pub String);

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for PlotError {
    fn from(error: DrawingAreaErrorKind<E>) -> Self {
        PlotError(error.to_string())
    }
}

pub type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

// ---------------------------------------------------------------------------------------
// Numbers on axes and in labels.

/// How the values of an axis are written.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Format {
    /// Counts and rates: 950, 1.5k, 2M, 3.2G.
    Count,
    /// A fraction written as a percentage: 0.25 is 25%.
    Percent,
    /// Dollars: $0.05, $1.2k.
    Usd,
    /// A plain number with up to three decimals.
    Plain,
}

/// Writes `value` with at most `decimals` decimals, trailing zeros removed.
pub fn trim(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    let text = if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_string() } else { text };
    if text == "-0" {
        "0".into()
    } else {
        text
    }
}

/// 1500 is "1.5k", 2000000 "2M"; below a thousand the number itself.
pub fn si(value: f64) -> String {
    let magnitude = value.abs();
    let (scaled, suffix) = if magnitude >= 1e12 {
        (value / 1e12, "T")
    } else if magnitude >= 1e9 {
        (value / 1e9, "G")
    } else if magnitude >= 1e6 {
        (value / 1e6, "M")
    } else if magnitude >= 1e3 {
        (value / 1e3, "k")
    } else {
        (value, "")
    };
    let decimals = if scaled.abs() >= 100.0 {
        0
    } else if scaled.abs() >= 10.0 {
        1
    } else if suffix.is_empty() && scaled.abs() < 1.0 {
        3
    } else {
        2
    };
    format!("{}{suffix}", trim(scaled, decimals))
}

pub fn percent(fraction: f64) -> String {
    let value = fraction * 100.0;
    let decimals = if value == 0.0 || value.abs() >= 10.0 {
        0
    } else if value.abs() >= 1.0 {
        1
    } else if value.abs() >= 0.01 {
        2
    } else {
        4
    };
    format!("{}%", trim(value, decimals))
}

pub fn usd(value: f64) -> String {
    if value.abs() >= 1000.0 {
        format!("${}", si(value))
    } else if value.abs() >= 1.0 || value == 0.0 {
        format!("${}", trim(value, 2))
    } else {
        format!("${}", trim(value, 4))
    }
}

impl Format {
    pub fn write(self, value: f64) -> String {
        match self {
            Format::Count => si(value),
            Format::Percent => percent(value),
            Format::Usd => usd(value),
            Format::Plain => trim(value, 3),
        }
    }
}

/// A time axis in the unit that fits the run length.
#[derive(Clone, Debug)]
pub struct TimeAxis {
    /// Seconds per unit.
    pub unit_s: f64,
    pub unit: &'static str,
    /// The axis spans `[0, end]`, in the unit.
    pub end: f64,
}

impl TimeAxis {
    pub fn for_duration(duration_s: f64) -> TimeAxis {
        let duration_s = if duration_s.is_finite() && duration_s > 0.0 { duration_s } else { 60.0 };
        let (unit_s, unit) = if duration_s <= 300.0 {
            (1.0, "s")
        } else if duration_s <= 3.0 * 3600.0 {
            (60.0, "min")
        } else if duration_s <= 72.0 * 3600.0 {
            (3600.0, "h")
        } else {
            (86400.0, "days")
        };
        TimeAxis { unit_s, unit, end: duration_s / unit_s }
    }

    /// Seconds to axis units.
    pub fn at(&self, seconds: f64) -> f64 {
        seconds / self.unit_s
    }

    pub fn desc(&self) -> String {
        format!("time ({})", self.unit)
    }
}

// ---------------------------------------------------------------------------------------
// Downsampling.

/// A series reduced to at most `max` points: per bucket of consecutive points, the mean
/// (the line) and the minimum and maximum (the band). Shorter series pass unchanged.
pub struct Reduced {
    pub line: Vec<(f64, f64)>,
    pub band: Vec<(f64, f64, f64)>,
}

pub fn reduce(points: &[(f64, f64)], max: usize) -> Reduced {
    if points.len() <= max {
        return Reduced { line: points.to_vec(), band: Vec::new() };
    }
    let per_bucket = points.len().div_ceil(max.max(1));
    let mut line = Vec::with_capacity(max);
    let mut band = Vec::with_capacity(max);
    for bucket in points.chunks(per_bucket) {
        let x = (bucket[0].0 + bucket[bucket.len() - 1].0) / 2.0;
        let (mut sum, mut n, mut low, mut high) = (0.0, 0usize, f64::INFINITY, f64::NEG_INFINITY);
        for &(_, y) in bucket {
            if y.is_finite() {
                sum += y;
                n += 1;
                low = low.min(y);
                high = high.max(y);
            }
        }
        if n == 0 {
            line.push((x, f64::NAN));
            band.push((x, f64::NAN, f64::NAN));
        } else {
            line.push((x, sum / n as f64));
            band.push((x, low, high));
        }
    }
    Reduced { line, band }
}

/// The runs of finite points, so a missing value leaves a gap instead of a dive to zero.
fn segments(points: &[(f64, f64)]) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current = Vec::new();
    for &(x, y) in points {
        if x.is_finite() && y.is_finite() {
            current.push((x, y));
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn band_segments(band: &[(f64, f64, f64)]) -> Vec<Vec<(f64, f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64, f64)>> = Vec::new();
    let mut current = Vec::new();
    for &(x, low, high) in band {
        if x.is_finite() && low.is_finite() && high.is_finite() {
            current.push((x, low, high));
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

// ---------------------------------------------------------------------------------------
// Documents and legends.

/// Height of a document's caption band (see [`caption`]).
const CAPTION_HEIGHT: u32 = 34;

/// A document with a caption and a legend above a plot area `plot_height` high; `draw`
/// gets the plot area.
fn with_legend<F>(title: &str, entries: &[LegendEntry], plot_height: u32, draw: F) -> Result<String, PlotError>
where
    F: FnOnce(&Area<'_>) -> Result<(), PlotError>,
{
    let height = CAPTION_HEIGHT + legend_height(entries, WIDTH) + plot_height;
    document((WIDTH, height), title, |root, _| {
        let area = caption(root, title)?;
        let area = legend(&area, entries)?;
        draw(&area)
    })
}

/// One boxed legend entry per labelled, coloured series.
fn box_entries<T>(series: &[(String, RGBColor, T)]) -> Vec<LegendEntry> {
    series.iter().map(|(label, colour, _)| LegendEntry::new(label.clone(), *colour, Key::Box)).collect()
}

/// Draws one SVG document: `draw` gets the root area and an overlay of raw SVG elements
/// (already escaped) placed on top of what plotters drew.
pub fn document<F>(size: (u32, u32), title: &str, draw: F) -> Result<String, PlotError>
where
    F: FnOnce(&Area<'_>, &mut String) -> Result<(), PlotError>,
{
    let mut text = String::new();
    let mut overlay = String::new();
    {
        let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root, &mut overlay)?;
        root.present()?;
    }
    if let Some(end) = text.rfind("</svg>") {
        text.insert_str(end, &overlay);
    }
    // An accessible name right after the opening tag.
    if let Some(open_end) = text.find(">\n") {
        text.insert_str(open_end + 2, &format!("<title>{}</title>\n", escape(title)));
    }
    Ok(text)
}

/// Escapes text for XML and HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

fn font(size: f64) -> TextStyle<'static> {
    (FONT, size).into_font().into()
}

/// Approximate width of `text` in pixels at a plotters font `size`.
fn text_width(text: &str, size: f64) -> i32 {
    (text.chars().count() as f64 * size * PX_PER_SIZE * 0.6).ceil() as i32
}

/// How a legend entry is drawn.
#[derive(Clone, Copy, Debug)]
pub enum Key {
    Line,
    Dashed,
    Box,
    Dot,
}

#[derive(Clone, Debug)]
pub struct LegendEntry {
    pub label: String,
    pub colour: RGBColor,
    pub key: Key,
}

impl LegendEntry {
    pub fn new(label: impl Into<String>, colour: RGBColor, key: Key) -> LegendEntry {
        LegendEntry { label: label.into(), colour, key }
    }
}

const LEGEND_ROW: i32 = 22;

/// The legend's entries laid out in rows across `width`: (row, x) per entry.
fn legend_layout(entries: &[LegendEntry], width: i32, left: i32) -> (Vec<(i32, i32)>, i32) {
    let mut places = Vec::with_capacity(entries.len());
    let (mut row, mut x) = (0, left);
    for entry in entries {
        let w = 34 + text_width(&entry.label, LABEL_SIZE) + 18;
        if x > left && x + w > width - 10 {
            row += 1;
            x = left;
        }
        places.push((row, x));
        x += w;
    }
    let rows = if entries.is_empty() { 0 } else { row + 1 };
    (places, rows)
}

/// Height a legend of `entries` needs across `width`.
pub fn legend_height(entries: &[LegendEntry], width: u32) -> u32 {
    let (_, rows) = legend_layout(entries, width as i32, 80);
    if rows == 0 {
        0
    } else {
        (rows * LEGEND_ROW + 8) as u32
    }
}

/// Draws a horizontal legend at the top of `area`; returns the area below it.
pub fn legend<'a>(area: &Area<'a>, entries: &[LegendEntry]) -> Result<Area<'a>, PlotError> {
    let (width, _) = area.dim_in_pixel();
    let height = legend_height(entries, width);
    if height == 0 {
        return Ok(area.clone());
    }
    let (top, rest) = area.split_vertically(height);
    let (places, _) = legend_layout(entries, width as i32, 80);
    for (entry, &(row, x)) in entries.iter().zip(&places) {
        let y = 4 + row * LEGEND_ROW + LEGEND_ROW / 2;
        match entry.key {
            Key::Line => top.draw(&PathElement::new(vec![(x, y), (x + 26, y)], entry.colour.stroke_width(3)))?,
            Key::Dashed => {
                top.draw(&PathElement::new(vec![(x, y), (x + 9, y)], entry.colour.stroke_width(2)))?;
                top.draw(&PathElement::new(vec![(x + 17, y), (x + 26, y)], entry.colour.stroke_width(2)))?;
            }
            Key::Box => top.draw(&Rectangle::new([(x + 4, y - 7), (x + 22, y + 7)], entry.colour.filled()))?,
            Key::Dot => top.draw(&Circle::new((x + 13, y), 5, entry.colour.filled()))?,
        }
        top.draw(&Text::new(
            entry.label.clone(),
            (x + 34, y),
            font(LABEL_SIZE).pos(Pos::new(HPos::Left, VPos::Center)).color(&INK),
        ))?;
    }
    Ok(rest)
}

/// The caption across the top of `area`; returns the area below it.
fn caption<'a>(area: &Area<'a>, title: &str) -> Result<Area<'a>, PlotError> {
    let (top, rest) = area.split_vertically(CAPTION_HEIGHT);
    top.draw(&Text::new(title.to_string(), (14, 20), font(TITLE_SIZE).pos(Pos::new(HPos::Left, VPos::Center))))?;
    Ok(rest)
}

fn mesh_style<'a, 'b>(
    chart: &mut Chart<'a, 'b>,
    x_desc: &str,
    y_desc: &str,
    x_format: &dyn Fn(&f64) -> String,
    y_format: &dyn Fn(&f64) -> String,
    y_labels: usize,
) -> Result<(), PlotError> {
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(GRID_BOLD)
        .axis_style(GREY)
        .x_labels(10)
        .y_labels(y_labels)
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(x_format)
        .y_label_formatter(y_format)
        .label_style(font(LABEL_SIZE))
        .axis_desc_style(font(DESC_SIZE))
        .draw()?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Time series.

/// One line of a panel, with an optional min–max band.
#[derive(Clone, Debug)]
pub struct Series {
    pub label: String,
    pub colour: RGBColor,
    pub line: Vec<(f64, f64)>,
    pub band: Vec<(f64, f64, f64)>,
    pub width: u32,
    pub dashed: bool,
    /// Mark each point with a dot (sparse series such as sweep points).
    pub dots: bool,
    /// Join the points with a line (not for points over categories).
    pub connect: bool,
    /// Draw the band as a vertical interval at each point instead of an area.
    pub whiskers: bool,
}

impl Series {
    pub fn new(label: impl Into<String>, colour: RGBColor, reduced: Reduced) -> Series {
        Series {
            label: label.into(),
            colour,
            line: reduced.line,
            band: reduced.band,
            width: 2,
            dashed: false,
            dots: false,
            connect: true,
            whiskers: false,
        }
    }

    pub fn legend_entry(&self) -> LegendEntry {
        let key = if !self.connect {
            Key::Dot
        } else if self.dashed {
            Key::Dashed
        } else {
            Key::Line
        };
        LegendEntry::new(self.label.clone(), self.colour, key)
    }
}

/// A horizontal reference line (a limit) with its label at the right end.
#[derive(Clone, Debug)]
pub struct Reference {
    pub value: f64,
    pub label: String,
}

/// One chart of lines over a shared x axis.
#[derive(Clone, Debug)]
pub struct Panel {
    pub y_desc: String,
    pub format: Format,
    pub series: Vec<Series>,
    pub references: Vec<Reference>,
    /// The y axis reaches at least this far.
    pub y_min_top: f64,
    pub height: u32,
}

impl Panel {
    pub fn new(y_desc: impl Into<String>, format: Format, height: u32) -> Panel {
        Panel { y_desc: y_desc.into(), format, series: Vec::new(), references: Vec::new(), y_min_top: 0.0, height }
    }

    fn y_range(&self) -> (f64, f64) {
        let mut low: f64 = 0.0;
        let mut high = self.y_min_top;
        for series in &self.series {
            for &(_, y) in &series.line {
                if y.is_finite() {
                    low = low.min(y);
                    high = high.max(y);
                }
            }
            for &(_, a, b) in &series.band {
                if a.is_finite() && b.is_finite() {
                    low = low.min(a);
                    high = high.max(b);
                }
            }
        }
        for reference in &self.references {
            high = high.max(reference.value);
        }
        if high <= low {
            high = low + 1.0;
        }
        (low, high + (high - low) * 0.06)
    }
}

/// X axis of a panel chart: numeric with a unit, or categories at 0, 1, 2, ...
#[derive(Clone, Debug)]
pub struct XAxis {
    pub desc: String,
    pub start: f64,
    pub end: f64,
    pub format: Format,
    pub categories: Vec<String>,
}

impl XAxis {
    pub fn time(axis: &TimeAxis) -> XAxis {
        XAxis { desc: axis.desc(), start: 0.0, end: axis.end, format: Format::Plain, categories: Vec::new() }
    }
}

const Y_LABEL_AREA: u32 = 78;

fn draw_panel(area: &Area<'_>, x: &XAxis, panel: &Panel) -> Result<(), PlotError> {
    let entries: Vec<LegendEntry> = panel.series.iter().map(Series::legend_entry).collect();
    let area = legend(area, &entries)?;
    let (y_low, y_high) = panel.y_range();
    let categorical = !x.categories.is_empty();
    let (x_start, x_end) = if categorical { (-0.5, x.categories.len() as f64 - 0.5) } else { (x.start, x.end) };
    let x_end = if x_end > x_start { x_end } else { x_start + 1.0 };
    let mut chart = ChartBuilder::on(&area)
        .margin_left(8)
        .margin_right(24)
        .margin_top(6)
        .x_label_area_size(48)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(x_start..x_end, y_low..y_high)?;
    let y_format = move |v: &f64| panel.format.write(*v);
    let categories = x.categories.clone();
    let x_format = move |v: &f64| {
        if categorical {
            let i = v.round();
            if (v - i).abs() < 1e-9 && i >= 0.0 && (i as usize) < categories.len() {
                categories[i as usize].clone()
            } else {
                String::new()
            }
        } else {
            x.format.write(*v)
        }
    };
    let y_labels = (panel.height / 45).clamp(4, 10) as usize;
    if categorical {
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID_BOLD)
            .axis_style(GREY)
            .x_labels(x.categories.len() + 1)
            .y_labels(y_labels)
            .x_desc(x.desc.as_str())
            .y_desc(panel.y_desc.as_str())
            .x_label_formatter(&x_format)
            .y_label_formatter(&y_format)
            .label_style(font(LABEL_SIZE))
            .axis_desc_style(font(DESC_SIZE))
            .disable_x_mesh()
            .draw()?;
    } else {
        mesh_style(&mut chart, &x.desc, &panel.y_desc, &x_format, &y_format, y_labels)?;
    }
    for series in panel.series.iter().filter(|s| !s.whiskers) {
        for band in band_segments(&series.band) {
            let mut points: Vec<(f64, f64)> = band.iter().map(|&(x, _, high)| (x, high)).collect();
            points.extend(band.iter().rev().map(|&(x, low, _)| (x, low)));
            chart.draw_series(std::iter::once(Polygon::new(points, series.colour.mix(0.22).filled())))?;
        }
    }
    for reference in &panel.references {
        let style = INK.mix(0.7).stroke_width(1);
        chart.draw_series(DashedLineSeries::new(
            vec![(x_start, reference.value), (x_end, reference.value)],
            6,
            4,
            style,
        ))?;
        let (px, py) = chart.backend_coord(&(x_end, reference.value));
        let base = area.get_base_pixel();
        area.draw(&Text::new(
            reference.label.clone(),
            (px - 4 - base.0, py - 3 - base.1),
            font(LABEL_SIZE).pos(Pos::new(HPos::Right, VPos::Bottom)).color(&INK.mix(0.8)),
        ))?;
    }
    for series in &panel.series {
        let style = series.colour.stroke_width(series.width);
        if series.whiskers {
            for &(x, low, high) in series.band.iter().filter(|b| b.0.is_finite() && b.1.is_finite() && b.2.is_finite())
            {
                chart.draw_series(LineSeries::new(vec![(x, low), (x, high)], series.colour.stroke_width(2)))?;
            }
        }
        for segment in segments(&series.line) {
            if series.connect && series.dashed {
                chart.draw_series(DashedLineSeries::new(segment.clone(), 8, 5, style))?;
            } else if series.connect {
                chart.draw_series(LineSeries::new(segment.clone(), style))?;
            }
            if series.dots {
                chart.draw_series(segment.iter().map(|&p| Circle::new(p, 4, series.colour.filled())))?;
            }
        }
    }
    Ok(())
}

/// Rows of event ticks under a time chart: (lane label, colour, times in axis units).
#[derive(Clone, Debug)]
pub struct Lane {
    pub label: String,
    pub colour: RGBColor,
    pub times: Vec<f64>,
}

const LANE_HEIGHT: u32 = 40;

fn draw_lanes(area: &Area<'_>, x: &XAxis, lanes: &[Lane], overlay: &mut String) -> Result<(), PlotError> {
    let n = lanes.len() as f64;
    let mut chart = ChartBuilder::on(area)
        .margin_left(8)
        .margin_right(24)
        .margin_top(4)
        .x_label_area_size(48)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(x.start..x.end.max(x.start + 1.0), -0.5..(n - 0.5))?;
    let x_format = |v: &f64| x.format.write(*v);
    let empty = |_: &f64| String::new();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(GRID_BOLD)
        .axis_style(GREY)
        .x_labels(10)
        .y_labels(0)
        .x_desc(x.desc.as_str())
        .x_label_formatter(&x_format)
        .y_label_formatter(&empty)
        .label_style(font(LABEL_SIZE))
        .axis_desc_style(font(DESC_SIZE))
        .draw()?;
    let base = area.get_base_pixel();
    for (i, lane) in lanes.iter().enumerate() {
        let row = n - 1.0 - i as f64;
        let (left, label_top) = chart.backend_coord(&(x.start, row + 0.46));
        let (_, top) = chart.backend_coord(&(x.start, row + 0.04));
        let (_, bottom) = chart.backend_coord(&(x.start, row - 0.42));
        // The label sits above the lane's ticks, inside the chart's left edge.
        let label = format!("{} ({})", lane.label, lane.times.len());
        area.draw(&Text::new(
            label,
            (left + 4 - base.0, label_top - base.1),
            font(14.0).pos(Pos::new(HPos::Left, VPos::Top)).color(&INK.mix(0.85)),
        ))?;
        // One tick per pixel column: a month of per-minute decisions stays small.
        let mut columns: Vec<i32> = lane
            .times
            .iter()
            .filter(|t| t.is_finite() && **t >= x.start && **t <= x.end)
            .map(|&t| chart.backend_coord(&(t, row)).0)
            .collect();
        columns.sort_unstable();
        columns.dedup();
        if columns.is_empty() {
            continue;
        }
        let mut d = String::with_capacity(columns.len() * 12);
        let height = (bottom - top).max(2);
        for column in columns {
            let _ = write!(d, "M{column} {top}v{height}");
        }
        let _ = writeln!(overlay, "<path fill=\"none\" stroke=\"{}\" stroke-width=\"2\" d=\"{d}\"/>", hex(lane.colour));
    }
    Ok(())
}

/// A chart of stacked panels over one x axis, with optional event lanes below.
pub fn panels_chart(title: &str, x: &XAxis, panels: &[Panel], lanes: &[Lane]) -> Result<String, PlotError> {
    let legend_rows: u32 = panels
        .iter()
        .map(|p| legend_height(&p.series.iter().map(Series::legend_entry).collect::<Vec<_>>(), WIDTH))
        .sum();
    let lanes_height = if lanes.is_empty() { 0 } else { lanes.len() as u32 * LANE_HEIGHT + 62 };
    let height = CAPTION_HEIGHT + panels.iter().map(|p| p.height).sum::<u32>() + legend_rows + lanes_height;
    document((WIDTH, height), title, |root, overlay| {
        let mut area = caption(root, title)?;
        for panel in panels {
            let own = legend_height(&panel.series.iter().map(Series::legend_entry).collect::<Vec<_>>(), WIDTH);
            let (top, rest) = area.split_vertically(panel.height + own);
            draw_panel(&top, x, panel)?;
            area = rest;
        }
        if !lanes.is_empty() {
            draw_lanes(&area, x, lanes, overlay)?;
        }
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------
// Bars.

/// Stacked vertical bars: each slot spans `[left, right)` on the x axis; each layer
/// gives one value per slot.
#[derive(Clone, Debug)]
pub struct Stacked {
    pub title: String,
    pub x: XAxis,
    pub y_desc: String,
    pub format: Format,
    pub slots: Vec<(f64, f64)>,
    pub layers: Vec<(String, RGBColor, Vec<f64>)>,
    pub references: Vec<Reference>,
    pub height: u32,
}

pub fn stacked_bars(spec: &Stacked) -> Result<String, PlotError> {
    with_legend(&spec.title, &box_entries(&spec.layers), spec.height, |area| {
        let mut top: f64 = 0.0;
        for slot in 0..spec.slots.len() {
            let sum: f64 = spec.layers.iter().map(|(_, _, v)| v[slot].max(0.0)).filter(|v| v.is_finite()).sum();
            top = top.max(sum);
        }
        for reference in &spec.references {
            top = top.max(reference.value);
        }
        let top = if top > 0.0 { top * 1.08 } else { 1.0 };
        let categorical = !spec.x.categories.is_empty();
        let (x_start, x_end) =
            if categorical { (-0.5, spec.x.categories.len() as f64 - 0.5) } else { (spec.x.start, spec.x.end) };
        let x_end = if x_end > x_start { x_end } else { x_start + 1.0 };
        let mut chart = ChartBuilder::on(area)
            .margin_left(8)
            .margin_right(24)
            .margin_top(6)
            .x_label_area_size(48)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(x_start..x_end, 0.0..top)?;
        let categories = spec.x.categories.clone();
        let x_format = move |v: &f64| {
            if categorical {
                let i = v.round();
                if (v - i).abs() < 1e-9 && i >= 0.0 && (i as usize) < categories.len() {
                    categories[i as usize].clone()
                } else {
                    String::new()
                }
            } else {
                spec.x.format.write(*v)
            }
        };
        let y_format = |v: &f64| spec.format.write(*v);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID_BOLD)
            .axis_style(GREY)
            .x_labels(if categorical { spec.x.categories.len() + 1 } else { 10 })
            .y_labels(6)
            .x_desc(spec.x.desc.as_str())
            .y_desc(spec.y_desc.as_str())
            .x_label_formatter(&x_format)
            .y_label_formatter(&y_format)
            .label_style(font(LABEL_SIZE))
            .axis_desc_style(font(DESC_SIZE))
            .draw()?;
        let mut base = vec![0.0; spec.slots.len()];
        for (_, colour, values) in &spec.layers {
            let mut bars = Vec::new();
            for (slot, &(left, right)) in spec.slots.iter().enumerate() {
                let value = values[slot];
                if !value.is_finite() || value <= 0.0 {
                    continue;
                }
                bars.push(Rectangle::new([(left, base[slot]), (right, base[slot] + value)], colour.filled()));
                base[slot] += value;
            }
            chart.draw_series(bars)?;
        }
        for reference in &spec.references {
            chart.draw_series(DashedLineSeries::new(
                vec![(x_start, reference.value), (x_end, reference.value)],
                6,
                4,
                INK.mix(0.7).stroke_width(1),
            ))?;
            let (px, py) = chart.backend_coord(&(x_end, reference.value));
            let base = area.get_base_pixel();
            area.draw(&Text::new(
                reference.label.clone(),
                (px - 4 - base.0, py - 3 - base.1),
                font(LABEL_SIZE).pos(Pos::new(HPos::Right, VPos::Bottom)).color(&INK.mix(0.8)),
            ))?;
        }
        Ok(())
    })
}

/// Grouped vertical bars: per category, one bar per group.
#[derive(Clone, Debug)]
pub struct Grouped {
    pub title: String,
    pub x_desc: String,
    pub categories: Vec<String>,
    pub y_desc: String,
    pub format: Format,
    pub groups: Vec<(String, RGBColor, Vec<f64>)>,
    pub height: u32,
}

pub fn grouped_bars(spec: &Grouped) -> Result<String, PlotError> {
    with_legend(&spec.title, &box_entries(&spec.groups), spec.height, |area| {
        let top =
            spec.groups.iter().flat_map(|(_, _, v)| v.iter().copied()).filter(|v| v.is_finite()).fold(0.0f64, f64::max);
        let top = if top > 0.0 { top * 1.1 } else { 1.0 };
        let n = spec.categories.len() as f64;
        let mut chart = ChartBuilder::on(area)
            .margin_left(8)
            .margin_right(24)
            .margin_top(6)
            .x_label_area_size(48)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(-0.5..(n - 0.5).max(0.5), 0.0..top)?;
        let x_format = |v: &f64| {
            let i = v.round();
            if (v - i).abs() < 1e-9 && i >= 0.0 && (i as usize) < spec.categories.len() {
                spec.categories[i as usize].clone()
            } else {
                String::new()
            }
        };
        let y_format = |v: &f64| spec.format.write(*v);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID_BOLD)
            .axis_style(GREY)
            .x_labels(spec.categories.len() + 1)
            .y_labels(6)
            .x_desc(spec.x_desc.as_str())
            .y_desc(spec.y_desc.as_str())
            .x_label_formatter(&x_format)
            .y_label_formatter(&y_format)
            .label_style(font(LABEL_SIZE))
            .axis_desc_style(font(DESC_SIZE))
            .draw()?;
        let groups = spec.groups.len().max(1) as f64;
        let width = 0.8 / groups;
        for (g, (_, colour, values)) in spec.groups.iter().enumerate() {
            let bars = values.iter().enumerate().filter(|(_, v)| v.is_finite()).map(|(i, &v)| {
                let left = i as f64 - 0.4 + g as f64 * width;
                Rectangle::new([(left + width * 0.08, 0.0), (left + width * 0.92, v)], colour.filled())
            });
            chart.draw_series(bars)?;
        }
        Ok(())
    })
}

/// Horizontal bars of shares (0 to 1) stacked per row, rows labelled at the left,
/// optional text inside the first segment of each row.
#[derive(Clone, Debug)]
pub struct ShareBars {
    pub title: String,
    pub x_desc: String,
    pub rows: Vec<String>,
    /// (label, colour, share per row)
    pub layers: Vec<(String, RGBColor, Vec<f64>)>,
    /// Text inside the first layer's segment of each row (drawn when it fits).
    pub first_text: Vec<String>,
}

pub fn share_bars(spec: &ShareBars) -> Result<String, PlotError> {
    let row_height = 26;
    let label_area = spec.rows.iter().map(|r| text_width(r, LABEL_SIZE)).max().unwrap_or(40).clamp(40, 320) as u32 + 16;
    let plot_height = 70 + spec.rows.len() as u32 * row_height;
    with_legend(&spec.title, &box_entries(&spec.layers), plot_height, |area| {
        let n = spec.rows.len() as f64;
        let mut chart = ChartBuilder::on(area)
            .margin_left(8)
            .margin_right(24)
            .margin_top(6)
            .x_label_area_size(48)
            .y_label_area_size(label_area)
            .build_cartesian_2d(0.0..1.0, -0.5..(n - 0.5).max(0.5))?;
        let x_format = |v: &f64| percent(*v);
        let rows = spec.rows.clone();
        let y_format = move |v: &f64| {
            let i = v.round();
            let row = n - 1.0 - i;
            if (v - i).abs() < 1e-9 && row >= 0.0 && (row as usize) < rows.len() {
                rows[row as usize].clone()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID_BOLD)
            .axis_style(GREY)
            .x_labels(11)
            .y_labels(spec.rows.len() + 1)
            .x_desc(spec.x_desc.as_str())
            .x_label_formatter(&x_format)
            .y_label_formatter(&y_format)
            .label_style(font(LABEL_SIZE))
            .axis_desc_style(font(DESC_SIZE))
            .draw()?;
        let mut base = vec![0.0; spec.rows.len()];
        for (_, colour, shares) in &spec.layers {
            let mut bars = Vec::new();
            for (row, &share) in shares.iter().enumerate() {
                if !share.is_finite() || share <= 0.0 {
                    continue;
                }
                let y = n - 1.0 - row as f64;
                let end = (base[row] + share).min(1.0);
                bars.push(Rectangle::new([(base[row], y - 0.36), (end, y + 0.36)], colour.filled()));
                base[row] = end;
            }
            chart.draw_series(bars)?;
        }
        if let Some((_, _, first)) = spec.layers.first() {
            for (row, text) in spec.first_text.iter().enumerate() {
                let share = first.get(row).copied().unwrap_or(0.0);
                let y = n - 1.0 - row as f64;
                let (left, centre) = chart.backend_coord(&(0.0, y));
                let (right, _) = chart.backend_coord(&(share.max(0.0), y));
                if text.is_empty() || text_width(text, 13.0) + 10 > right - left {
                    continue;
                }
                let base = area.get_base_pixel();
                area.draw(&Text::new(
                    text.clone(),
                    (left + 5 - base.0, centre - base.1),
                    font(13.0).pos(Pos::new(HPos::Left, VPos::Center)).color(&WHITE),
                ))?;
            }
        }
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------
// Heatmap.

/// Values on a grid: `values[row][column]`, NaN where there is no data. Columns span
/// `column_edges[c]..column_edges[c + 1]` on the x axis; row 0 is drawn at the bottom.
#[derive(Clone, Debug)]
pub struct Heatmap {
    pub title: String,
    pub x: XAxis,
    pub y_desc: String,
    pub row_labels: Vec<String>,
    pub column_edges: Vec<f64>,
    pub values: Vec<Vec<f64>>,
    /// The value the top colour starts at (the scale runs from 0 in ten steps).
    pub scale_max: f64,
    pub scale_format: Format,
    pub no_data_label: String,
}

fn level(value: f64, scale_max: f64) -> usize {
    let level = (value / scale_max * VIRIDIS.len() as f64).floor();
    if level.is_nan() || level < 0.0 {
        0
    } else {
        (level as usize).min(VIRIDIS.len() - 1)
    }
}

pub fn heatmap(spec: &Heatmap) -> Result<String, PlotError> {
    let rows = spec.row_labels.len();
    let plot_height = (rows as u32 * 4).clamp(240, 640);
    let height = CAPTION_HEIGHT + plot_height + 60;
    document((WIDTH, height), &spec.title, |root, overlay| {
        let area = caption(root, &spec.title)?;
        let (main, key) = area.split_horizontally(WIDTH - 150);
        let n = rows as f64;
        let mut chart = ChartBuilder::on(&main)
            .margin_left(8)
            .margin_right(12)
            .margin_top(6)
            .x_label_area_size(48)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(spec.x.start..spec.x.end.max(spec.x.start + 1e-9), -0.5..(n - 0.5).max(0.5))?;
        let x_format = |v: &f64| spec.x.format.write(*v);
        let labels = spec.row_labels.clone();
        let y_format = move |v: &f64| {
            let i = v.round();
            if (v - i).abs() < 1e-9 && i >= 0.0 && (i as usize) < labels.len() {
                labels[i as usize].clone()
            } else {
                String::new()
            }
        };
        chart.plotting_area().fill(&NO_DATA)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .axis_style(GREY)
            .x_labels(10)
            .y_labels(12)
            .x_desc(spec.x.desc.as_str())
            .y_desc(spec.y_desc.as_str())
            .x_label_formatter(&x_format)
            .y_label_formatter(&y_format)
            .label_style(font(LABEL_SIZE))
            .axis_desc_style(font(DESC_SIZE))
            .draw()?;
        // Pixel edges of the columns and rows, then one path per colour with runs of
        // equal colour along each row merged.
        let xs: Vec<i32> = spec.column_edges.iter().map(|&x| chart.backend_coord(&(x, 0.0)).0).collect();
        let ys: Vec<i32> = (0..=rows).map(|r| chart.backend_coord(&(0.0, r as f64 - 0.5)).1).collect();
        let mut paths = vec![String::new(); VIRIDIS.len()];
        for (r, row) in spec.values.iter().enumerate() {
            let (bottom, top) = (ys[r], ys[r + 1]);
            let h = (bottom - top).max(1);
            let mut c = 0;
            while c < row.len() {
                if !row[c].is_finite() {
                    c += 1;
                    continue;
                }
                let l = level(row[c], spec.scale_max);
                let start = c;
                while c + 1 < row.len() && row[c + 1].is_finite() && level(row[c + 1], spec.scale_max) == l {
                    c += 1;
                }
                let (x0, x1) = (xs[start], xs[c + 1]);
                let w = (x1 - x0).max(1);
                let _ = write!(paths[l], "M{x0} {top}h{w}v{h}h-{w}z");
                c += 1;
            }
        }
        for (l, d) in paths.iter().enumerate() {
            if !d.is_empty() {
                let _ = writeln!(overlay, "<path fill=\"{}\" d=\"{d}\"/>", hex(VIRIDIS[l]));
            }
        }
        // The colour key.
        let step = spec.scale_max / VIRIDIS.len() as f64;
        key.draw(&Text::new("colour key", (10, 14), font(LABEL_SIZE).pos(Pos::new(HPos::Left, VPos::Center))))?;
        for l in (0..VIRIDIS.len()).rev() {
            let y = 28 + (VIRIDIS.len() - 1 - l) as i32 * 22;
            key.draw(&Rectangle::new([(10, y), (34, y + 18)], VIRIDIS[l].filled()))?;
            let low = spec.scale_format.write(step * l as f64);
            let label = if l + 1 == VIRIDIS.len() {
                format!("≥ {low}")
            } else {
                format!("{low} – {}", spec.scale_format.write(step * (l + 1) as f64))
            };
            key.draw(&Text::new(label, (40, y + 9), font(14.0).pos(Pos::new(HPos::Left, VPos::Center))))?;
        }
        let y = 28 + VIRIDIS.len() as i32 * 22 + 6;
        key.draw(&Rectangle::new([(10, y), (34, y + 18)], NO_DATA.filled()))?;
        key.draw(&Rectangle::new([(10, y), (34, y + 18)], LIGHT_GREY.stroke_width(1)))?;
        key.draw(&Text::new(
            spec.no_data_label.clone(),
            (40, y + 9),
            font(14.0).pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------
// Scatter with a Pareto front.

/// One point of a scatter.
#[derive(Clone, Debug)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub group: usize,
    pub label: String,
}

#[derive(Clone, Debug)]
pub struct Scatter {
    pub title: String,
    pub x_desc: String,
    pub x_format: Format,
    pub y_desc: String,
    pub y_format: Format,
    pub groups: Vec<String>,
    pub points: Vec<Point>,
}

/// Indices of the points no other point beats on both axes (lower is better on both),
/// ordered by x.
pub fn pareto_front(points: &[(f64, f64)]) -> Vec<usize> {
    let mut order: Vec<usize> =
        (0..points.len()).filter(|&i| points[i].0.is_finite() && points[i].1.is_finite()).collect();
    order.sort_by(|&a, &b| {
        points[a].0.total_cmp(&points[b].0).then(points[a].1.total_cmp(&points[b].1)).then(a.cmp(&b))
    });
    let mut front = Vec::new();
    let mut best_y = f64::INFINITY;
    for i in order {
        if points[i].1 < best_y {
            best_y = points[i].1;
            front.push(i);
        }
    }
    front
}

pub fn scatter(spec: &Scatter) -> Result<String, PlotError> {
    let mut entries: Vec<LegendEntry> =
        spec.groups.iter().enumerate().map(|(g, label)| LegendEntry::new(label.clone(), colour(g), Key::Dot)).collect();
    entries.push(LegendEntry::new("Pareto front (no point is cheaper and throttles less)", INK, Key::Line));
    let coordinates: Vec<(f64, f64)> = spec.points.iter().map(|p| (p.x, p.y)).collect();
    let front = pareto_front(&coordinates);
    with_legend(&spec.title, &entries, 520, |area| {
        let finite = || spec.points.iter().filter(|p| p.x.is_finite() && p.y.is_finite());
        let x_max = finite().map(|p| p.x).fold(0.0f64, f64::max);
        let y_max = finite().map(|p| p.y).fold(0.0f64, f64::max);
        let x_min = finite().map(|p| p.x).fold(0.0f64, f64::min);
        let y_min = finite().map(|p| p.y).fold(y_max, f64::min);
        let x_span = if x_max > x_min { x_max - x_min } else { 1.0 };
        let y_span = if y_max > y_min { y_max - y_min } else { 1.0 };
        let mut chart = ChartBuilder::on(area)
            .margin_left(8)
            .margin_right(24)
            .margin_top(6)
            .x_label_area_size(48)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(
                (x_min - x_span * 0.04)..(x_max + x_span * 0.12),
                (y_min - y_span * 0.04)..(y_max + y_span * 0.08),
            )?;
        let x_format = |v: &f64| spec.x_format.write(*v);
        let y_format = |v: &f64| spec.y_format.write(*v);
        mesh_style(&mut chart, &spec.x_desc, &spec.y_desc, &x_format, &y_format, 8)?;
        let line: Vec<(f64, f64)> = front.iter().map(|&i| coordinates[i]).collect();
        chart.draw_series(LineSeries::new(line, INK.stroke_width(2)))?;
        for point in finite() {
            chart.draw_series(std::iter::once(Circle::new((point.x, point.y), 5, colour(point.group).filled())))?;
        }
        let base = area.get_base_pixel();
        // Labels of the front: the first place around the point that overlaps no label
        // placed before it.
        let mut placed: Vec<(i32, i32, i32, i32)> = Vec::new();
        let height = (13.0 * PX_PER_SIZE).ceil() as i32 + 2;
        for &i in &front {
            let point = &spec.points[i];
            chart.draw_series(std::iter::once(Circle::new((point.x, point.y), 8, INK.stroke_width(2))))?;
            let (px, py) = chart.backend_coord(&(point.x, point.y));
            let width = text_width(&point.label, 13.0);
            let candidates =
                [(11, -9, true, true), (11, 9, true, false), (-11, -9, false, true), (-11, 9, false, false)];
            let boxed = |(dx, dy, right, above): (i32, i32, bool, bool)| {
                let x0 = if right { px + dx } else { px + dx - width };
                let y0 = if above { py + dy - height } else { py + dy };
                (x0, y0, x0 + width, y0 + height)
            };
            let overlaps =
                |b: &(i32, i32, i32, i32)| placed.iter().any(|p| b.0 < p.2 && p.0 < b.2 && b.1 < p.3 && p.1 < b.3);
            let mut choice = candidates[0];
            for (k, &candidate) in candidates.iter().enumerate() {
                if !overlaps(&boxed(candidate)) {
                    choice = candidate;
                    break;
                }
                // All four taken: stack above the first place.
                if k + 1 == candidates.len() {
                    let mut dy = -9;
                    while overlaps(&boxed((11, dy, true, true))) && dy > -200 {
                        dy -= height;
                    }
                    choice = (11, dy, true, true);
                }
            }
            placed.push(boxed(choice));
            let (dx, dy, right, above) = choice;
            let anchor =
                Pos::new(if right { HPos::Left } else { HPos::Right }, if above { VPos::Bottom } else { VPos::Top });
            area.draw(&Text::new(
                point.label.clone(),
                (px + dx - base.0, py + dy - base.1),
                font(13.0).pos(anchor).color(&INK),
            ))?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(si(0.0), "0");
        assert_eq!(si(950.0), "950");
        assert_eq!(si(1500.0), "1.5k");
        assert_eq!(si(2_000_000.0), "2M");
        assert_eq!(si(1.0e6 + 1.0), "1M");
        assert_eq!(si(0.30000000000000004), "0.3");
        assert_eq!(percent(0.25), "25%");
        assert_eq!(percent(0.001), "0.1%");
        assert_eq!(usd(0.05), "$0.05");
        assert_eq!(usd(223.92656268), "$223.93");
    }

    #[test]
    fn reduce_keeps_short_series_and_bounds_long_ones() {
        let short: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, i as f64)).collect();
        assert_eq!(reduce(&short, 1000).line.len(), 10);
        let long: Vec<(f64, f64)> = (0..43_200).map(|i| (i as f64, (i % 7) as f64)).collect();
        let reduced = reduce(&long, 1000);
        assert!(reduced.line.len() <= 1000);
        assert_eq!(reduced.band.len(), reduced.line.len());
        assert!(reduced.band.iter().all(|&(_, low, high)| low == 0.0 && high == 6.0));
    }

    #[test]
    fn pareto_front_keeps_undominated_points() {
        let points = [(0.0, 10.0), (0.1, 5.0), (0.2, 6.0), (0.5, 1.0), (0.0, 12.0)];
        assert_eq!(pareto_front(&points), vec![0, 1, 3]);
    }
}
