//! The report of one sweep folder: each summary metric against the swept parameter with
//! its 95% confidence band, cost against throttling with the Pareto front, the points'
//! SLO results and the experiment file.

use crate::html::{significant, Cell, Page};
use crate::plots::{self, colour, percent, usd, Format, Panel, Point, Reduced, Scatter, Series, XAxis};
use crate::report::{drawn, Built, Plot};
use crate::tables::{self, parse_number, Input, TextTable};
use crate::ReportError;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The metric columns of `sweep.csv`, in the order `kinesim sweep` writes them (after
/// the swept values and the seed; `slo_passed` comes last). `kinesim sweep` writes its
/// header from this list, so the report reads what the sweep wrote.
pub const SWEEP_METRICS: &[&str] = &[
    "offered_records",
    "accepted_records",
    "write_throttled_records",
    "write_throttle_rate",
    "dropped_records",
    "shards_open_max",
    "reshard_operations",
    "cost_usd_total",
    "cost_usd_per_month",
    // Over every consumer (points may have different consumers): the sum, or the worst.
    "consumers_read_records",
    "consumers_read_throttled_calls",
    "consumers_expired_unread_records",
    "consumers_iterator_age_ms_max",
];

/// One metric at one point: mean and 95% interval over the replications.
#[derive(Clone, Copy, Debug)]
struct Stat {
    mean: f64,
    low: f64,
    high: f64,
    replications: f64,
}

struct SweepPoint {
    index: u64,
    values: Vec<String>,
    stats: BTreeMap<String, Stat>,
}

struct SweepData {
    keys: Vec<String>,
    metrics: Vec<String>,
    points: Vec<SweepPoint>,
    /// Where the numbers come from.
    source: &'static str,
    baseline: bool,
}

fn number(cell: Option<&String>) -> f64 {
    cell.and_then(|c| parse_number(c)).unwrap_or(f64::NAN)
}

/// From `sweep_summary.csv`: swept keys sit between `point` and `metric`.
fn from_summary(table: &TextTable) -> Option<SweepData> {
    let metric_at = table.column("metric")?;
    let point_at = table.column("point")?;
    let (mean_at, low_at, high_at) = (table.column("mean")?, table.column("ci95_low"), table.column("ci95_high"));
    let replications_at = table.column("replications");
    let keys: Vec<String> = table.header[point_at + 1..metric_at].to_vec();
    let mut metrics: Vec<String> = Vec::new();
    let mut points: BTreeMap<u64, SweepPoint> = BTreeMap::new();
    for row in &table.rows {
        let index = row.get(point_at).and_then(|p| p.parse::<u64>().ok())?;
        let metric = row.get(metric_at)?.clone();
        if !metrics.contains(&metric) {
            metrics.push(metric.clone());
        }
        let point = points.entry(index).or_insert_with(|| SweepPoint {
            index,
            values: row[point_at + 1..metric_at].to_vec(),
            stats: BTreeMap::new(),
        });
        let stat = Stat {
            mean: number(row.get(mean_at)),
            low: low_at.map(|c| number(row.get(c))).unwrap_or(f64::NAN),
            high: high_at.map(|c| number(row.get(c))).unwrap_or(f64::NAN),
            replications: replications_at.map(|c| number(row.get(c))).unwrap_or(f64::NAN),
        };
        point.stats.insert(metric, stat);
    }
    Some(SweepData {
        keys,
        metrics,
        points: points.into_values().collect(),
        source: "sweep_summary.csv",
        baseline: table.column("diff_mean").is_some(),
    })
}

/// From `sweep.csv` alone: means over the replications, no intervals.
fn from_runs(table: &TextTable) -> Option<SweepData> {
    let point_at = table.column("point")?;
    let seed_at = table.column("seed").unwrap_or(point_at);
    let first_metric = (seed_at + 1..table.header.len())
        .find(|&c| SWEEP_METRICS.contains(&table.header[c].as_str()) || table.header[c] == "slo_passed")?;
    let keys: Vec<String> = table.header[seed_at + 1..first_metric].to_vec();
    let metrics: Vec<String> = table.header[first_metric..].to_vec();
    struct Sums {
        values: Vec<String>,
        sum: Vec<f64>,
        count: Vec<usize>,
    }
    let mut sums: BTreeMap<u64, Sums> = BTreeMap::new();
    for row in &table.rows {
        let index = row.get(point_at).and_then(|p| p.parse::<u64>().ok())?;
        let entry = sums.entry(index).or_insert_with(|| Sums {
            values: row[seed_at + 1..first_metric].to_vec(),
            sum: vec![0.0; metrics.len()],
            count: vec![0; metrics.len()],
        });
        for m in 0..metrics.len() {
            let value = number(row.get(first_metric + m));
            if value.is_finite() {
                entry.sum[m] += value;
                entry.count[m] += 1;
            }
        }
    }
    let points = sums
        .into_iter()
        .map(|(index, Sums { values, sum, count })| {
            let stats = metrics
                .iter()
                .enumerate()
                .map(|(m, name)| {
                    let mean = if count[m] > 0 { sum[m] / count[m] as f64 } else { f64::NAN };
                    let name = if name == "slo_passed" { "slo_passed_fraction".to_string() } else { name.clone() };
                    (name, Stat { mean, low: f64::NAN, high: f64::NAN, replications: count[m] as f64 })
                })
                .collect();
            SweepPoint { index, values, stats }
        })
        .collect();
    let metrics =
        metrics.into_iter().map(|m| if m == "slo_passed" { "slo_passed_fraction".into() } else { m }).collect();
    Some(SweepData {
        keys,
        metrics,
        points,
        source: "sweep.csv (means only: sweep_summary.csv is absent)",
        baseline: false,
    })
}

fn metric_format(metric: &str) -> Format {
    if metric.contains("rate") || metric.contains("fraction") {
        Format::Percent
    } else if metric.contains("usd") {
        Format::Usd
    } else {
        Format::Count
    }
}

fn metric_title(metric: &str) -> String {
    let (base, unit) = match metric.strip_suffix("_ms_max") {
        Some(base) => (format!("{base}_max"), " (ms)"),
        None => (metric.to_string(), ""),
    };
    let text = base.replace('_', " ").replace("usd", "USD") + unit;
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().collect::<String>() + chars.as_str(),
        None => text,
    }
}

fn file_for(metric: &str) -> String {
    let clean: String =
        metric.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect();
    format!("sweep_{clean}.svg")
}

/// The axis the metrics are drawn against: the first swept key whose values are all
/// numbers, else the first key as categories.
struct Layout {
    x_key: usize,
    numeric: bool,
    categories: Vec<String>,
    /// Per point: its line (group) and its x.
    group_of: Vec<usize>,
    x_of: Vec<f64>,
    groups: Vec<String>,
}

fn layout(data: &SweepData) -> Layout {
    let numeric_key = (0..data.keys.len())
        .find(|&k| data.points.iter().all(|p| p.values.get(k).and_then(|v| v.trim().parse::<f64>().ok()).is_some()));
    let x_key = numeric_key.unwrap_or(0);
    let numeric = numeric_key.is_some();
    let mut categories: Vec<String> = Vec::new();
    let mut groups: Vec<String> = Vec::new();
    let mut group_of = Vec::new();
    let mut x_of = Vec::new();
    let others: Vec<usize> = (0..data.keys.len()).filter(|&k| k != x_key).collect();
    for point in &data.points {
        let value = point.values.get(x_key).cloned().unwrap_or_default();
        let x = if numeric {
            value.trim().parse::<f64>().unwrap_or(f64::NAN)
        } else {
            match categories.iter().position(|c| *c == value) {
                Some(i) => i as f64,
                None => {
                    categories.push(value);
                    (categories.len() - 1) as f64
                }
            }
        };
        let label = if others.is_empty() {
            "mean".to_string()
        } else if others.len() == 1 {
            point.values.get(others[0]).cloned().unwrap_or_default()
        } else {
            others
                .iter()
                .map(|&k| format!("{}={}", data.keys[k], point.values.get(k).map(String::as_str).unwrap_or("")))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let group = match groups.iter().position(|g| *g == label) {
            Some(g) => g,
            None => {
                groups.push(label);
                groups.len() - 1
            }
        };
        group_of.push(group);
        x_of.push(x);
    }
    Layout { x_key, numeric, categories, group_of, x_of, groups }
}

fn x_axis(data: &SweepData, layout: &Layout) -> XAxis {
    let desc = data.keys.get(layout.x_key).cloned().unwrap_or_else(|| "point".into());
    if !layout.numeric {
        return XAxis { desc, start: 0.0, end: 0.0, format: Format::Plain, categories: layout.categories.clone() };
    }
    let finite = layout.x_of.iter().copied().filter(|x| x.is_finite());
    let (low, high) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), x| (l.min(x), h.max(x)));
    let (low, high) = if low.is_finite() { (low, high) } else { (0.0, 1.0) };
    let pad = if high > low { (high - low) * 0.04 } else { 1.0 };
    XAxis { desc, start: low - pad, end: high + pad, format: Format::Count, categories: Vec::new() }
}

fn metric_plot(
    folder: &Path,
    data: &SweepData,
    layout: &Layout,
    metric: &str,
) -> Result<Result<Plot, String>, ReportError> {
    let file = file_for(metric);
    let stats: Vec<Option<Stat>> = data.points.iter().map(|p| p.stats.get(metric).copied()).collect();
    let means: Vec<f64> = stats.iter().map(|s| s.map(|s| s.mean).unwrap_or(f64::NAN)).collect();
    if means.iter().all(|m| !m.is_finite()) {
        return Ok(Err("no values".into()));
    }
    if means.iter().all(|m| !m.is_finite() || *m == 0.0) {
        return Ok(Err("zero at every point".into()));
    }
    let format = metric_format(metric);
    let mut panel = Panel::new(metric.to_string(), format, 400);
    for (g, label) in layout.groups.iter().enumerate() {
        let mut members: Vec<usize> = (0..data.points.len()).filter(|&i| layout.group_of[i] == g).collect();
        members.sort_by(|&a, &b| layout.x_of[a].total_cmp(&layout.x_of[b]).then(a.cmp(&b)));
        // Over categories, groups sit side by side around each category.
        let offset = if layout.numeric {
            0.0
        } else {
            (g as f64 - (layout.groups.len() as f64 - 1.0) / 2.0) * (0.6 / layout.groups.len() as f64)
        };
        let line: Vec<(f64, f64)> = members.iter().map(|&i| (layout.x_of[i] + offset, means[i])).collect();
        let band: Vec<(f64, f64, f64)> = members
            .iter()
            .map(|&i| {
                let s = stats[i];
                (layout.x_of[i] + offset, s.map(|s| s.low).unwrap_or(f64::NAN), s.map(|s| s.high).unwrap_or(f64::NAN))
            })
            .collect();
        let has_band = band.iter().any(|b| b.1.is_finite() && b.2.is_finite());
        let mut series =
            Series::new(label.clone(), colour(g), Reduced { line, band: if has_band { band } else { Vec::new() } });
        series.dots = true;
        series.connect = layout.numeric;
        series.whiskers = !layout.numeric;
        panel.series.push(series);
    }
    let title = metric_title(metric);
    let svg = drawn(folder, &file, plots::panels_chart(&title, &x_axis(data, layout), &[panel], &[]))?;
    let others: Vec<&str> =
        (0..data.keys.len()).filter(|&k| k != layout.x_key).map(|k| data.keys[k].as_str()).collect();
    let mut caption = format!("Mean of {metric} over the replications at each point ({})", data.source);
    if data.source == "sweep_summary.csv" {
        caption.push_str(if layout.numeric {
            ", with its 95% confidence interval as a band"
        } else {
            ", with its 95% confidence interval as a vertical bar"
        });
    }
    caption.push('.');
    if !others.is_empty() {
        caption.push_str(&format!(" One line per value of {}.", others.join(", ")));
    }
    Ok(Ok(Plot { file, title, caption, svg }))
}

fn point_label(data: &SweepData, point: &SweepPoint) -> String {
    if data.keys.len() == 1 {
        point.values.first().cloned().unwrap_or_default()
    } else {
        point.values.join(", ")
    }
}

fn pareto_plot(folder: &Path, data: &SweepData, layout: &Layout) -> Result<Result<Plot, String>, ReportError> {
    let file = "sweep_pareto.svg".to_string();
    let value = |p: &SweepPoint, m: &str| p.stats.get(m).map(|s| s.mean).unwrap_or(f64::NAN);
    let points: Vec<Point> = data
        .points
        .iter()
        .enumerate()
        .map(|(i, p)| Point {
            x: value(p, "write_throttle_rate"),
            y: value(p, "cost_usd_per_month"),
            group: layout.group_of[i],
            label: point_label(data, p),
        })
        .collect();
    if points.iter().all(|p| !p.x.is_finite() || !p.y.is_finite()) {
        return Ok(Err("no point has both write_throttle_rate and cost_usd_per_month".into()));
    }
    let title = "Cost against write throttling";
    let spec = Scatter {
        title: title.into(),
        x_desc: "write throttle rate (mean)".into(),
        x_format: Format::Percent,
        y_desc: "USD per month (mean)".into(),
        y_format: Format::Usd,
        groups: layout.groups.clone(),
        points,
    };
    let svg = drawn(folder, &file, plots::scatter(&spec))?;
    let caption = format!(
        "Each point is one grid point's mean over its replications ({}). Circled and joined: the Pareto front, \
         the points no other point beats on both cost and throttling; labels give their swept values.",
        data.source
    );
    Ok(Ok(Plot { file, title: title.into(), caption, svg }))
}

fn read_manifest(folder: &Path) -> Result<Vec<(String, String)>, ReportError> {
    let text = tables::read_optional_text(&folder.join("sweep_manifest.txt"))?.unwrap_or_default();
    Ok(text
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect())
}

/// The experiment file named in the manifest (absolute, or relative to the folder).
fn experiment_path(folder: &Path, manifest: &[(String, String)]) -> Option<PathBuf> {
    let value = manifest.iter().find(|(k, _)| k == "experiment").map(|(_, v)| v.clone())?;
    let path = PathBuf::from(&value);
    if path.is_absolute() {
        Some(path)
    } else {
        Some(folder.join(path))
    }
}

/// Renders the plots and page of the sweep in `folder`.
pub fn build(folder: &Path) -> Result<Built, ReportError> {
    let summary = tables::read_text(&folder.join("sweep_summary.csv"))?;
    let runs = tables::read_text(&folder.join("sweep.csv"))?;
    let manifest = read_manifest(folder)?;
    let mut skipped = Vec::new();
    let data = match (&summary, &runs) {
        (Input::Ready(table), _) => from_summary(table),
        (Input::Skip(why), Input::Ready(table)) => {
            skipped.push(format!("confidence bands: {why}"));
            from_runs(table)
        }
        (Input::Skip(a), Input::Skip(b)) => {
            skipped.push(format!("every plot: {a} and {b}"));
            None
        }
    };
    let mut plots = Vec::new();
    if let Some(data) = &data {
        let layout = layout(data);
        for metric in &data.metrics {
            match metric_plot(folder, data, &layout, metric)? {
                Ok(plot) => plots.push(plot),
                Err(why) => skipped.push(format!("{}: {metric} is {why}", file_for(metric))),
            }
        }
        match pareto_plot(folder, data, &layout)? {
            Ok(plot) => plots.push(plot),
            Err(why) => skipped.push(format!("sweep_pareto.svg: {why}")),
        }
    } else if !skipped.iter().any(|s| s.starts_with("every plot")) {
        skipped.push("every plot: the sweep tables lack the point and metric columns".into());
    }
    let experiment = match experiment_path(folder, &manifest) {
        Some(path) => tables::read_optional_text(&path)?.map(|text| (path, text)),
        None => None,
    };
    let experiment = match experiment {
        Some(found) => Some(found),
        None => {
            let local = folder.join("experiment.toml");
            tables::read_optional_text(&local)?.map(|text| (local, text))
        }
    };
    let html = page(folder, data.as_ref(), &manifest, &plots, &skipped, experiment.as_ref());
    Ok(Built { plots, skipped, html })
}

fn page(
    folder: &Path,
    data: Option<&SweepData>,
    manifest: &[(String, String)],
    plots: &[Plot],
    skipped: &[String],
    experiment: Option<&(PathBuf, String)>,
) -> String {
    let name = experiment
        .and_then(|(_, text)| {
            text.lines().find_map(|line| {
                let (key, value) = line.split_once('=')?;
                (key.trim() == "name").then(|| value.trim().trim_matches('"').to_string())
            })
        })
        .or_else(|| folder.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "sweep".into());
    let mut page = Page::new(&format!("kinesim sweep report: {name}"));
    page.heading(1, "", &format!("Sweep report: {name}"));
    let meta: Vec<String> =
        manifest.iter().filter(|(k, _)| k != "experiment").map(|(k, v)| format!("{k} {v}")).collect();
    page.paragraph("meta", &meta.join(" · "));
    page.raw(
        "<nav><a href=\"#summary\">Summary</a><a href=\"#slo\">SLO results</a><a href=\"#plots\">Plots</a>\
         <a href=\"#experiment\">Experiment</a></nav>",
    );
    page.heading(2, "summary", "Summary");
    match data {
        None => page.paragraph("lead", "Neither sweep_summary.csv nor sweep.csv could be used."),
        Some(data) => {
            let replications = data
                .points
                .iter()
                .flat_map(|p| p.stats.values().map(|s| s.replications))
                .filter(|r| r.is_finite())
                .fold(0.0, f64::max);
            let mut lead = format!(
                "{} grid points × {} replications over {}.",
                data.points.len(),
                plots::trim(replications, 0),
                if data.keys.is_empty() { "no swept key".to_string() } else { data.keys.join(", ") }
            );
            let value = |p: &SweepPoint, m: &str| p.stats.get(m).map(|s| s.mean).unwrap_or(f64::NAN);
            let passing: Vec<&SweepPoint> =
                data.points.iter().filter(|p| value(p, "slo_passed_fraction") >= 1.0 - 1e-9).collect();
            if data.metrics.iter().any(|m| m == "slo_passed_fraction") {
                lead.push_str(&format!(
                    " {} of {} points met every SLO in every replication.",
                    passing.len(),
                    data.points.len()
                ));
                if let Some(cheapest) = passing
                    .iter()
                    .filter(|p| value(p, "cost_usd_per_month").is_finite())
                    .min_by(|a, b| value(a, "cost_usd_per_month").total_cmp(&value(b, "cost_usd_per_month")))
                {
                    lead.push_str(&format!(
                        " The cheapest of them: {} at {} a month.",
                        point_label(data, cheapest),
                        usd(value(cheapest, "cost_usd_per_month"))
                    ));
                }
            }
            if data.baseline {
                lead.push_str(" sweep_summary.csv also holds paired differences against the baseline point.");
            }
            page.paragraph("lead", &lead);
            page.heading(2, "slo", "SLO results");
            points_table(&mut page, data);
        }
    }
    page.heading(2, "plots", "Plots");
    for plot in plots {
        let id = format!("plot-{}", plot.file.trim_end_matches(".svg"));
        page.heading(3, "", &plot.title);
        page.figure(&id, &plot.svg, &plot.caption, &format!("plots/{}", plot.file));
    }
    if !skipped.is_empty() {
        page.paragraph("", "Not drawn:");
        page.list("skipped", skipped);
    }
    page.heading(2, "experiment", "Experiment");
    match experiment {
        Some((path, text)) => {
            page.paragraph("meta", &format!("{}", path.display()));
            page.pre("experiment-text", text);
        }
        None => page.paragraph(
            "",
            "The experiment file named in sweep_manifest.txt is not there any more (and the folder has no experiment.toml).",
        ),
    }
    page.finish()
}

/// Per point: swept values, throttling, cost and how many replications met the SLOs.
fn points_table(page: &mut Page, data: &SweepData) {
    let mut header: Vec<&str> = vec!["point"];
    header.extend(data.keys.iter().map(String::as_str));
    header.extend(["replications", "write throttle rate", "USD per month", "SLOs met"]);
    let rows: Vec<Vec<Cell>> = data
        .points
        .iter()
        .map(|p| {
            let mut row = vec![Cell::num(p.index.to_string())];
            row.extend(p.values.iter().map(|v| Cell::text(v.clone())));
            let stat = |m: &str| p.stats.get(m).copied();
            let replications = p.stats.values().map(|s| s.replications).find(|r| r.is_finite()).unwrap_or(f64::NAN);
            row.push(Cell::num(plots::trim(replications, 0)));
            row.push(Cell::num(match stat("write_throttle_rate") {
                Some(s) if s.low.is_finite() => {
                    format!("{} ({} – {})", percent(s.mean), percent(s.low), percent(s.high))
                }
                Some(s) => percent(s.mean),
                None => "–".into(),
            }));
            row.push(Cell::num(stat("cost_usd_per_month").map(|s| usd(s.mean)).unwrap_or_else(|| "–".into())));
            row.push(match stat("slo_passed_fraction") {
                Some(s) if s.mean >= 1.0 - 1e-9 => Cell::class("pass (all)", "pass"),
                Some(s) if s.mean.is_finite() => Cell::class(format!("FAIL ({} passed)", percent(s.mean)), "fail"),
                _ => Cell::text("–"),
            });
            row
        })
        .collect();
    page.table("slo", &header, &rows);
    page.paragraph(
        "meta",
        &format!(
            "Throttle rate: mean (95% confidence interval). SLOs met: the share of replications whose [[expect]] \
             objectives all passed. Numbers from {}; {} metrics in all.",
            data.source,
            significant(data.metrics.len() as f64)
        ),
    );
}
