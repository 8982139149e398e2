//! The report of one run folder: its plots and its page, from the folder's CSV and JSON
//! files only.

use crate::html::{grouped, json_number, significant, Cell, Page};
use crate::plots::{
    self, colour, percent, reduce, usd, Format, Grouped, Heatmap, Lane, Panel, Reduced, Reference, Series, ShareBars,
    Stacked, TimeAxis, XAxis, BLUE, GREEN, INK, LIGHT_GREY, MAX_POINTS, ORANGE, PURPLE, SKY, VERMILLION, YELLOW,
};
use crate::report::{drawn, Built, Outcome, Plot};
use crate::tables::{self, shard_label, shard_number, Input, Table};
use crate::ReportError;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Heatmap columns and rows at most.
pub const HEATMAP_MAX: usize = 200;
/// Shards shown in the per-shard bar charts at most (the busiest).
const BARS_MAX: usize = 32;
/// Shards shown in the hot-key chart at most (the heaviest).
const HOT_SHARDS_MAX: usize = 20;
const MIB: f64 = 1024.0 * 1024.0;

/// What every plot of a run shares.
struct Run<'a> {
    folder: &'a Path,
    summary: Option<Value>,
    duration_s: f64,
    axis: TimeAxis,
    stream: Input<Table>,
    period_s: f64,
}

/// The smallest gap between consecutive distinct times: the table's period.
fn period_of(times: &[f64]) -> Option<f64> {
    let mut distinct: Vec<f64> = times.iter().copied().filter(|t| t.is_finite()).collect();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    distinct.windows(2).map(|w| w[1] - w[0]).filter(|d| *d > 0.0).min_by(f64::total_cmp)
}

fn distinct_sorted(times: &[f64]) -> Vec<f64> {
    let mut distinct: Vec<f64> = times.iter().copied().filter(|t| t.is_finite()).collect();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    distinct
}

/// "30 s", "30 min", "36 h", "30 days".
pub fn human_duration(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "–".into();
    }
    if seconds < 60.0 {
        format!("{} s", plots::trim(seconds, 3))
    } else if seconds < 3.0 * 3600.0 {
        format!("{} min", plots::trim(seconds / 60.0, 1))
    } else if seconds < 72.0 * 3600.0 {
        format!("{} h", plots::trim(seconds / 3600.0, 1))
    } else {
        format!("{} days", plots::trim(seconds / 86400.0, 1))
    }
}

/// A unit for milliseconds up to `max_ms`: (divisor, name).
fn ms_unit(max_ms: f64) -> (f64, &'static str) {
    if max_ms < 10_000.0 {
        (1.0, "ms")
    } else if max_ms < 600_000.0 {
        (1000.0, "s")
    } else if max_ms < 3.0 * 3_600_000.0 {
        (60_000.0, "min")
    } else {
        (3_600_000.0, "h")
    }
}

fn num(value: Option<&Value>) -> f64 {
    value.and_then(Value::as_f64).unwrap_or(f64::NAN)
}

/// A step function (value `values[i]` over `[starts[i], starts[i] + period)`) as the
/// points of its corners, or reduced when it changes too often to draw every step.
fn step(axis: &TimeAxis, starts: &[f64], period: f64, values: &[f64]) -> Reduced {
    let mut corners = Vec::new();
    let mut last = f64::NAN;
    for (i, (&t, &v)) in starts.iter().zip(values).enumerate() {
        if i == 0 {
            corners.push((axis.at(t), v));
        } else if v != last || !v.is_finite() {
            corners.push((axis.at(t), last));
            corners.push((axis.at(t), v));
        }
        last = v;
    }
    if let Some(&t) = starts.last() {
        corners.push((axis.at(t + period), last));
    }
    if corners.len() <= MAX_POINTS {
        return Reduced { line: corners, band: Vec::new() };
    }
    let midpoints: Vec<(f64, f64)> = starts.iter().zip(values).map(|(&t, &v)| (axis.at(t + period / 2.0), v)).collect();
    reduce(&midpoints, MAX_POINTS)
}

/// Values over periods as a line through the period midpoints, reduced when long.
fn line(axis: &TimeAxis, starts: &[f64], period: f64, values: impl Iterator<Item = f64>) -> Reduced {
    let points: Vec<(f64, f64)> = starts.iter().zip(values).map(|(&t, v)| (axis.at(t + period / 2.0), v)).collect();
    reduce(&points, MAX_POINTS)
}

fn ratio(numerator: f64, denominator: f64) -> f64 {
    if denominator > 0.0 {
        numerator / denominator
    } else {
        f64::NAN
    }
}

fn skip_stream(run: &Run) -> Option<String> {
    match &run.stream {
        Input::Ready(_) => None,
        Input::Skip(why) => Some(why.clone()),
    }
}

fn throughput(run: &Run) -> Result<Outcome, ReportError> {
    let file = "throughput.svg";
    if let Some(why) = skip_stream(run) {
        return Ok(Err(why));
    }
    let Input::Ready(stream) = &run.stream else { unreachable!() };
    let (t, p, axis) = (stream.num("time_s"), run.period_s, &run.axis);
    let mut rates = Panel::new("records/s", Format::Count, 360);
    // A run that ends inside a period ends with a shorter one: its rate is over its length.
    let lengths: Vec<f64> = t.iter().map(|&start| (run.duration_s - start).clamp(f64::MIN_POSITIVE, p)).collect();
    let per_s = |column: &str| -> Vec<f64> { stream.num(column).iter().zip(&lengths).map(|(v, s)| v / s).collect() };
    let offered = line(axis, t, p, per_s("offered_records").into_iter());
    let accepted = line(axis, t, p, per_s("incoming_records").into_iter());
    let capacity: Vec<f64> = stream.num("shards_open").iter().map(|s| s * 1000.0).collect();
    // Offered is drawn wider and first, so it shows around accepted where they agree.
    let mut offered = Series::new("offered", BLUE, offered);
    offered.width = 4;
    rates.series.push(offered);
    rates.series.push(Series::new("accepted", GREEN, accepted));
    let mut capacity = Series::new("capacity (open shards × 1,000 records/s)", INK, step(axis, t, p, &capacity));
    capacity.dashed = true;
    rates.series.push(capacity);
    let mut utilisation = Panel::new("write utilisation", Format::Percent, 220);
    utilisation.y_min_top = 1.0;
    let mut peak = Series::new(
        "per-second peak (busiest shard)",
        ORANGE,
        line(axis, t, p, stream.num("utilisation_peak").iter().copied()),
    );
    peak.width = 4;
    utilisation.series.push(peak);
    if stream.has("demand_peak") {
        let mut demand = Series::new(
            "per-second demand peak (attempts)",
            VERMILLION,
            line(axis, t, p, stream.num("demand_peak").iter().copied()),
        );
        demand.width = 1;
        utilisation.series.push(demand);
    }
    utilisation.series.push(Series::new(
        "period mean (stream)",
        BLUE,
        line(axis, t, p, stream.num("utilisation_mean").iter().copied()),
    ));
    utilisation.references.push(Reference { value: 1.0, label: "shard write limit".into() });
    let title = "Offered, accepted and capacity";
    let svg = drawn(run.folder, file, plots::panels_chart(title, &XAxis::time(axis), &[rates, utilisation], &[]))?;
    let caption = format!(
        "Records per second, mean over each {} period (stream.csv). Capacity counts 1,000 records/s per open shard; \
         the 1 MiB/s byte limit is not drawn. Lower panel: the highest per-second use of any shard's write limit \
         (accepted, and demand = attempts incl. retries), and the stream's mean use over the period.{}",
        human_duration(p),
        reduced_note(stream.rows)
    );
    Ok(Ok(Plot { file: file.into(), title: title.into(), caption, svg }))
}

fn reduced_note(rows: usize) -> String {
    if rows > MAX_POINTS {
        format!(
            " The {} periods are drawn as at most {MAX_POINTS} points: lines are bucket means, bands span the bucket's minimum to maximum.",
            grouped(rows as f64, 0)
        )
    } else {
        String::new()
    }
}

fn throttle_rate(run: &Run) -> Result<Outcome, ReportError> {
    let file = "throttle_rate.svg";
    if let Some(why) = skip_stream(run) {
        return Ok(Err(why));
    }
    let Input::Ready(stream) = &run.stream else { unreachable!() };
    let (t, p, axis) = (stream.num("time_s"), run.period_s, &run.axis);
    let throttled = stream.num("write_throttled_records");
    let attempted = stream.num("attempted_records");
    let mut panel = Panel::new("share of write attempts", Format::Percent, 320);
    panel.y_min_top = 0.01;
    let rate = (0..stream.rows).map(|i| ratio(throttled[i], attempted[i]));
    panel.series.push(Series::new("write throttle rate (throttled / attempted)", VERMILLION, line(axis, t, p, rate)));
    if stream.has("dropped_records") {
        let dropped = stream.num("dropped_records");
        let offered = stream.num("offered_records");
        let rate = (0..stream.rows).map(|i| ratio(dropped[i], offered[i]));
        panel.series.push(Series::new("dropped / offered", PURPLE, line(axis, t, p, rate)));
    }
    let title = "Write throttling";
    let svg = drawn(run.folder, file, plots::panels_chart(title, &XAxis::time(axis), &[panel], &[]))?;
    let caption = format!(
        "Per {} period: rejected write attempts over all attempts (first tries and retries), and records given up \
         over records offered.{}",
        human_duration(p),
        reduced_note(stream.rows)
    );
    Ok(Ok(Plot { file: file.into(), title: title.into(), caption, svg }))
}

const LANES: [(&str, plotters::style::RGBColor); 5] = [
    ("reshards", GREEN),
    ("policy: scale", ORANGE),
    ("policy: hold", LIGHT_GREY),
    ("refused calls", VERMILLION),
    ("other actions", PURPLE),
];

/// The lane of an event in the shards chart, or `None` for bookkeeping events.
fn lane_of(kind: &str, detail: &str) -> Option<usize> {
    match kind {
        "split_shard" | "merge_shards" | "update_shard_count" => Some(0),
        "policy_decision" if detail.starts_with("hold") => Some(2),
        "policy_decision" => Some(1),
        "policy_failed" => Some(3),
        kind if kind.ends_with("_rejected") => Some(3),
        "run_started" | "run_finished" | "reshard_started" => None,
        _ => Some(4),
    }
}

fn shards_plot(run: &Run, events: &Input<Table>) -> Result<Outcome, ReportError> {
    let file = "shards.svg";
    if let Some(why) = skip_stream(run) {
        return Ok(Err(why));
    }
    let Input::Ready(stream) = &run.stream else { unreachable!() };
    let (t, p, axis) = (stream.num("time_s"), run.period_s, &run.axis);
    let open = stream.num("shards_open");
    let mut panel = Panel::new("open shards", Format::Count, 260);
    panel.y_min_top = open.iter().copied().filter(|v| v.is_finite()).fold(1.0, f64::max) + 1.0;
    panel.series.push(Series::new("open shards", BLUE, step(axis, t, p, open)));
    let mut lanes: Vec<Lane> = LANES
        .iter()
        .map(|(label, colour)| Lane { label: (*label).into(), colour: *colour, times: Vec::new() })
        .collect();
    if let Input::Ready(events) = events {
        let (time, kind, detail) = (events.num("time_s"), events.text("kind"), events.text("detail"));
        for (i, &t) in time.iter().enumerate() {
            if let Some(lane) = lane_of(kind.get(i), detail.get(i)) {
                lanes[lane].times.push(axis.at(t));
            }
        }
    }
    lanes.retain(|lane| !lane.times.is_empty());
    let title = "Open shards and control-plane events";
    let svg = drawn(run.folder, file, plots::panels_chart(title, &XAxis::time(axis), &[panel], &lanes))?;
    let caption = if lanes.is_empty() {
        "Open shards per period (stream.csv). events.csv records no reshard, policy decision or other action."
            .to_string()
    } else {
        "Open shards per period (stream.csv); below, one tick per event from events.csv (count in brackets): completed \
         reshards, scaling-policy decisions that resized or held, calls AWS would refuse, and other actions (mode \
         switches, warm throughput, retention, outages, KCL workers)."
            .to_string()
    };
    Ok(Ok(Plot { file: file.into(), title: title.into(), caption, svg }))
}

/// Shard ids ordered by their number (then by text), with the row of each table index.
fn shard_order(ids: &[String]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by(|&a, &b| shard_number(&ids[a]).cmp(&shard_number(&ids[b])).then(ids[a].cmp(&ids[b])));
    order
}

/// When each shard was closed by a reshard, from events.csv: a split closes its parent,
/// a merge its two parents, an UpdateShardCount every shard numbered below its first new
/// shard. Closed shards keep rows in shards.csv (reads go on), so the heatmap needs this
/// to grey them out.
fn closing_times(events: &Input<Table>, ids: &[String]) -> BTreeMap<String, f64> {
    let mut closed: BTreeMap<String, f64> = BTreeMap::new();
    let Input::Ready(events) = events else { return closed };
    let (time, kind, subject, detail) =
        (events.num("time_s"), events.text("kind"), events.text("subject"), events.text("detail"));
    let mentioned = |text: &str| -> Vec<String> {
        text.split(|c: char| c.is_whitespace() || c == ',')
            .filter(|word| word.starts_with("shardId-"))
            .map(str::to_string)
            .collect()
    };
    for (i, &t) in time.iter().enumerate() {
        match kind.get(i) {
            "split_shard" => {
                closed.entry(subject.get(i).to_string()).or_insert(t);
            }
            "merge_shards" => {
                closed.entry(subject.get(i).to_string()).or_insert(t);
                if let Some(other) = mentioned(detail.get(i)).get(1) {
                    closed.entry(other.clone()).or_insert(t);
                }
            }
            "update_shard_count" => {
                let Some(first_new) = mentioned(detail.get(i)).first().and_then(|id| shard_number(id)) else {
                    continue;
                };
                for id in ids {
                    if shard_number(id).is_some_and(|n| n < first_new) {
                        closed.entry(id.clone()).or_insert(t);
                    }
                }
            }
            _ => {}
        }
    }
    closed
}

fn utilisation_heatmap(run: &Run, shards: &Input<Table>, events: &Input<Table>) -> Result<Outcome, ReportError> {
    let file = "shard_utilisation.svg";
    let shards = match shards {
        Input::Ready(table) => table,
        Input::Skip(why) => return Ok(Err(format!("{why} (output.shards = \"off\" leaves it out)"))),
    };
    let times = shards.num("time_s");
    let ids = shards.text("shard_id");
    let utilisation = shards.num("utilisation_mean");
    let distinct = distinct_sorted(times);
    if distinct.is_empty() {
        return Ok(Err("shards.csv has no times".into()));
    }
    let period = period_of(times).unwrap_or(run.period_s);
    let per_column = distinct.len().div_ceil(HEATMAP_MAX).max(1);
    let columns = distinct.len().div_ceil(per_column);
    let order = shard_order(&ids.values);
    let per_row = order.len().div_ceil(HEATMAP_MAX).max(1);
    let rows = order.len().div_ceil(per_row);
    let mut row_of = vec![0usize; ids.values.len()];
    for (position, &index) in order.iter().enumerate() {
        row_of[index] = position / per_row;
    }
    let closed = closing_times(events, &ids.values);
    let closed_at: Vec<f64> = ids.values.iter().map(|id| closed.get(id).copied().unwrap_or(f64::INFINITY)).collect();
    let mut values = vec![vec![f64::NAN; columns]; rows];
    for i in 0..shards.rows {
        let (t, u) = (times[i], utilisation[i]);
        if !t.is_finite() || !u.is_finite() || t >= closed_at[ids.index[i] as usize] {
            continue;
        }
        let Ok(position) = distinct.binary_search_by(|probe| probe.total_cmp(&t)) else { continue };
        let cell = &mut values[row_of[ids.index[i] as usize]][position / per_column];
        if cell.is_nan() || u > *cell {
            *cell = u;
        }
    }
    let axis = &run.axis;
    let mut column_edges: Vec<f64> = (0..columns).map(|c| axis.at(distinct[c * per_column])).collect();
    column_edges.push(axis.at(distinct[distinct.len() - 1] + period));
    let row_labels: Vec<String> = (0..rows)
        .map(|r| {
            let first = shard_label(&ids.values[order[r * per_row]]);
            if per_row == 1 {
                first
            } else {
                let last = shard_label(&ids.values[order[((r + 1) * per_row).min(order.len()) - 1]]);
                format!("{first}–{last}")
            }
        })
        .collect();
    let mut x = XAxis::time(axis);
    x.end = x.end.max(column_edges[columns]);
    let title = "Write utilisation per shard";
    let spec = Heatmap {
        title: title.into(),
        x,
        y_desc: "shard (number in shardId-…)".into(),
        row_labels,
        column_edges,
        values,
        scale_max: 1.0,
        scale_format: Format::Percent,
        no_data_label: "not open".into(),
    };
    let svg = drawn(run.folder, file, plots::heatmap(&spec))?;
    let mut caption = format!(
        "Mean use of each shard's write limit per {} period (shards.csv, {} shards); grey where the shard was not \
         open (before it was created, or after a reshard in events.csv closed it).",
        human_duration(period),
        order.len()
    );
    if per_column > 1 || per_row > 1 {
        caption.push_str(&format!(
            " Each cell is the highest value over {} period(s) × {} shard(s), so short hot spots stay visible.",
            per_column, per_row
        ));
    }
    Ok(Ok(Plot { file: file.into(), title: title.into(), caption, svg }))
}

fn hot_keys_plot(run: &Run, hot: &Input<Table>) -> Result<Outcome, ReportError> {
    let file = "hot_keys.svg";
    let hot = match hot {
        Input::Ready(table) => table,
        Input::Skip(why) => return Ok(Err(why.clone())),
    };
    let ids = hot.text("shard_id");
    let keys = hot.text("partition_key");
    let (rank, share, shard_share) = (hot.num("rank"), hot.num("share_of_shard"), hot.num("shard_share_of_stream"));
    // Per shard: its share of the stream and its keys (rank, share of the shard, row).
    struct HotShard {
        id: u32,
        stream_share: f64,
        keys: Vec<(f64, f64, usize)>,
    }
    let mut shards: BTreeMap<u32, HotShard> = BTreeMap::new();
    for i in 0..hot.rows {
        let id = ids.index[i];
        let entry = shards.entry(id).or_insert(HotShard { id, stream_share: 0.0, keys: Vec::new() });
        if shard_share[i].is_finite() {
            entry.stream_share = entry.stream_share.max(shard_share[i]);
        }
        entry.keys.push((rank[i], share[i], i));
    }
    let mut chosen: Vec<HotShard> = shards.into_values().collect();
    chosen.sort_by(|a, b| {
        b.stream_share
            .total_cmp(&a.stream_share)
            .then(shard_number(&ids.values[a.id as usize]).cmp(&shard_number(&ids.values[b.id as usize])))
    });
    let total_shards = chosen.len();
    chosen.truncate(HOT_SHARDS_MAX);
    const RANKS: usize = 5;
    let rank_colours = [VERMILLION, ORANGE, YELLOW, SKY, BLUE];
    let rank_labels = ["heaviest key", "2nd", "3rd", "4th", "5th"];
    let mut layers: Vec<(String, plotters::style::RGBColor, Vec<f64>)> =
        (0..RANKS).map(|r| (rank_labels[r].to_string(), rank_colours[r], vec![0.0; chosen.len()])).collect();
    layers.push((format!("other keys (and keys below rank {RANKS})"), LIGHT_GREY, vec![0.0; chosen.len()]));
    let mut rows = Vec::new();
    let mut first_text = Vec::new();
    for (row, shard) in chosen.iter_mut().enumerate() {
        let keys_of = &mut shard.keys;
        keys_of.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut used = 0.0;
        for &(r, s, _) in keys_of.iter() {
            let r = r as usize;
            if (1..=RANKS).contains(&r) && s.is_finite() {
                layers[r - 1].2[row] = s;
                used += s;
            }
        }
        layers[RANKS].2[row] = (1.0 - used).max(0.0);
        rows.push(format!(
            "shard {} · {} of stream",
            shard_label(&ids.values[shard.id as usize]),
            percent(shard.stream_share)
        ));
        let top = keys_of.iter().find(|k| k.0 == 1.0).map(|k| keys.get(k.2).to_string()).unwrap_or_default();
        first_text.push(top);
    }
    let title = "Heaviest partition keys per shard";
    let spec = ShareBars {
        title: title.into(),
        x_desc: "share of the shard's offered records".into(),
        rows,
        layers,
        first_text,
    };
    let svg = drawn(run.folder, file, plots::share_bars(&spec))?;
    let mut caption = "Each bar is one shard's offered records, split into its heaviest keys by rank (hot_keys.csv); \
                       the heaviest key's name is written in its segment when it fits."
        .to_string();
    if total_shards > HOT_SHARDS_MAX {
        caption
            .push_str(&format!(" The {HOT_SHARDS_MAX} shards with the largest share of the stream of {total_shards}."));
    }
    Ok(Ok(Plot { file: file.into(), title: title.into(), caption, svg }))
}

fn consumer_bandwidth(run: &Run, consumers: &Input<Table>) -> Result<Outcome, ReportError> {
    let file = "consumer_bandwidth.svg";
    let table = match consumers {
        Input::Ready(table) => table,
        Input::Skip(why) => return Ok(Err(why.clone())),
    };
    let names = table.text("consumer");
    let ids = table.text("shard_id");
    let bytes = table.num("read_bytes");
    let mut per = vec![vec![0.0; ids.values.len()]; names.values.len()];
    let mut shard_total = vec![0.0; ids.values.len()];
    for i in 0..table.rows {
        if bytes[i].is_finite() {
            per[names.index[i] as usize][ids.index[i] as usize] += bytes[i];
            shard_total[ids.index[i] as usize] += bytes[i];
        }
    }
    // The busiest shards, shown in shard order.
    let mut busiest: Vec<usize> = (0..ids.values.len()).collect();
    busiest.sort_by(|&a, &b| shard_total[b].total_cmp(&shard_total[a]).then(a.cmp(&b)));
    busiest.truncate(BARS_MAX);
    let order = shard_order(&ids.values);
    let shown: Vec<usize> = order.into_iter().filter(|i| busiest.contains(i)).collect();
    let seconds = run.duration_s;
    let layers: Vec<(String, plotters::style::RGBColor, Vec<f64>)> = names
        .values
        .iter()
        .enumerate()
        .map(|(c, name)| (name.clone(), colour(c), shown.iter().map(|&s| per[c][s] / seconds / MIB).collect()))
        .collect();
    let spec = Stacked {
        title: "Read throughput per shard and consumer".into(),
        x: XAxis {
            desc: "shard (number in shardId-…)".into(),
            start: 0.0,
            end: 0.0,
            format: Format::Plain,
            categories: shown.iter().map(|&s| shard_label(&ids.values[s])).collect(),
        },
        y_desc: "MiB/s (mean over the run)".into(),
        format: Format::Plain,
        slots: (0..shown.len()).map(|i| (i as f64 - 0.38, i as f64 + 0.38)).collect(),
        layers,
        references: vec![Reference { value: 2.0, label: "2 MiB/s per-shard read limit".into() }],
        height: 400,
    };
    let svg = drawn(run.folder, file, plots::stacked_bars(&spec))?;
    let mut caption = format!(
        "Bytes each consumer read from each shard over the run ({}), as a mean rate (consumers.csv). GetRecords \
         consumers share a shard's 2 MiB/s; each enhanced fan-out consumer has its own 2 MiB/s.",
        human_duration(seconds)
    );
    if ids.values.len() > BARS_MAX {
        caption.push_str(&format!(" The {BARS_MAX} busiest of {} shards.", ids.values.len()));
    }
    Ok(Ok(Plot { file: file.into(), title: spec.title.clone(), caption, svg }))
}

fn consumer_names(summary: &Option<Value>) -> Option<Vec<String>> {
    summary.as_ref()?.get("consumers")?.as_object().map(|m| m.keys().cloned().collect())
}

fn iterator_age(run: &Run, consumers: &Input<Table>) -> Result<Outcome, ReportError> {
    let file = "iterator_age.svg";
    let axis = &run.axis;
    let mut series_points: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    let source;
    if let Input::Ready(table) = consumers {
        let names = table.text("consumer");
        let (times, age) = (table.num("time_s"), table.num("iterator_age_ms_max"));
        let distinct = distinct_sorted(times);
        let period = period_of(times).unwrap_or(run.period_s);
        let mut grid = vec![vec![f64::NAN; distinct.len()]; names.values.len()];
        for i in 0..table.rows {
            let Ok(position) = distinct.binary_search_by(|probe| probe.total_cmp(&times[i])) else { continue };
            let cell = &mut grid[names.index[i] as usize][position];
            if age[i].is_finite() && (cell.is_nan() || age[i] > *cell) {
                *cell = age[i];
            }
        }
        for (c, name) in names.values.iter().enumerate() {
            let points = distinct.iter().zip(&grid[c]).map(|(&t, &v)| (axis.at(t + period / 2.0), v)).collect();
            series_points.push((name.clone(), points));
        }
        source = "consumers.csv; the oldest over the consumer's shards per period";
    } else {
        if consumer_names(&run.summary).is_some_and(|names| names.is_empty()) {
            return Ok(Err("the run has no consumers".into()));
        }
        let Input::Ready(stream) = &run.stream else {
            return Ok(Err("neither consumers.csv nor stream.csv can be read".into()));
        };
        if !stream.has("iterator_age_ms_max") {
            return Ok(Err("stream.csv has no column iterator_age_ms_max".into()));
        }
        let (t, p) = (stream.num("time_s"), run.period_s);
        let points =
            t.iter().zip(stream.num("iterator_age_ms_max")).map(|(&t, &v)| (axis.at(t + p / 2.0), v)).collect();
        series_points.push(("all consumers (stream maximum)".into(), points));
        source = "stream.csv: consumers.csv is absent, so the oldest over all consumers";
    }
    let max =
        series_points.iter().flat_map(|(_, p)| p.iter().map(|q| q.1)).filter(|v| v.is_finite()).fold(0.0, f64::max);
    let (divisor, unit) = ms_unit(max);
    let mut panel = Panel::new(format!("iterator age ({unit})"), Format::Count, 340);
    let mut longest = 0;
    for (c, (name, points)) in series_points.into_iter().enumerate() {
        longest = longest.max(points.len());
        let scaled: Vec<(f64, f64)> = points.into_iter().map(|(x, v)| (x, v / divisor)).collect();
        panel.series.push(Series::new(name, colour(c), reduce(&scaled, MAX_POINTS)));
    }
    let title = "Iterator age per consumer";
    let svg = drawn(run.folder, file, plots::panels_chart(title, &XAxis::time(axis), &[panel], &[]))?;
    let caption = format!(
        "Age of the last record a read returned, the highest per period ({source}). A growing age means the \
         consumer falls behind; at the retention period records expire unread.{}",
        reduced_note(longest)
    );
    Ok(Ok(Plot { file: file.into(), title: title.into(), caption, svg }))
}

fn consumer_latency(run: &Run, consumers: &Input<Table>) -> Result<Outcome, ReportError> {
    let file = "consumer_latency.svg";
    let mut rows: Vec<(String, [f64; 3])> = Vec::new();
    let source;
    if let Some(map) = run.summary.as_ref().and_then(|s| s.get("consumers")).and_then(Value::as_object) {
        for (name, c) in map {
            rows.push((
                name.clone(),
                [num(c.get("latency_ms_p50")), num(c.get("latency_ms_p99")), num(c.get("latency_ms_max"))],
            ));
        }
        source = "summary.json, over every record each consumer processed";
    } else if let Input::Ready(table) = consumers {
        if !table.has("latency_ms_p50") {
            return Ok(Err("consumers.csv has no latency columns and summary.json is absent".into()));
        }
        let names = table.text("consumer");
        let read = table.num("read_records");
        let (p50, p99, max) = (table.num("latency_ms_p50"), table.num("latency_ms_p99"), table.num("latency_ms_max"));
        for (c, name) in names.values.iter().enumerate() {
            // Record-weighted median of the rows' medians, the highest p99 and maximum.
            let mut medians: Vec<(f64, f64)> = (0..table.rows)
                .filter(|&i| names.index[i] as usize == c && read[i] > 0.0 && p50[i].is_finite())
                .map(|i| (p50[i], read[i]))
                .collect();
            medians.sort_by(|a, b| a.0.total_cmp(&b.0));
            let total: f64 = medians.iter().map(|m| m.1).sum();
            let mut seen = 0.0;
            let mut median = f64::NAN;
            for (value, weight) in medians {
                seen += weight;
                if seen >= total / 2.0 {
                    median = value;
                    break;
                }
            }
            let highest = |column: &[f64]| {
                (0..table.rows)
                    .filter(|&i| names.index[i] as usize == c && column[i].is_finite())
                    .map(|i| column[i])
                    .fold(f64::NAN, f64::max)
            };
            rows.push((name.clone(), [median, highest(p99), highest(max)]));
        }
        source = "approximated from consumers.csv (summary.json is absent): the record-weighted median of the \
                  periods' medians, the highest p99 and maximum";
    } else {
        return Ok(Err("neither summary.json nor consumers.csv is present".into()));
    }
    if rows.is_empty() {
        return Ok(Err("the run has no consumers".into()));
    }
    let max = rows.iter().flat_map(|r| r.1).filter(|v| v.is_finite()).fold(0.0, f64::max);
    let (divisor, unit) = ms_unit(max);
    let stat = ["p50", "p99", "max"];
    let stat_colours = [SKY, BLUE, VERMILLION];
    let title = "End-to-end latency per consumer";
    let spec = Grouped {
        title: title.into(),
        x_desc: "consumer".into(),
        categories: rows.iter().map(|r| r.0.clone()).collect(),
        y_desc: format!("latency ({unit})"),
        format: Format::Count,
        groups: (0..3)
            .map(|k| (stat[k].to_string(), stat_colours[k], rows.iter().map(|r| r.1[k] / divisor).collect()))
            .collect(),
        height: 380,
    };
    let svg = drawn(run.folder, file, plots::grouped_bars(&spec))?;
    let caption = format!("Median, 99th percentile and maximum latency per consumer ({source}).");
    Ok(Ok(Plot { file: file.into(), title: title.into(), caption, svg }))
}

fn cost_plot(run: &Run, cost: &Input<Table>) -> Result<Outcome, ReportError> {
    let file = "cost.svg";
    let table = match cost {
        Input::Ready(table) => table,
        Input::Skip(why) => return Ok(Err(why.clone())),
    };
    let (times, dollars) = (table.num("time_s"), table.num("usd"));
    let components = table.text("component");
    let hours = distinct_sorted(times);
    if hours.is_empty() {
        return Ok(Err("cost.csv has no hours".into()));
    }
    let per_bar = hours.len().div_ceil(240).max(1);
    let bars = hours.len().div_ceil(per_bar);
    let mut values = vec![vec![0.0; bars]; components.values.len()];
    for i in 0..table.rows {
        let Ok(position) = hours.binary_search_by(|probe| probe.total_cmp(&times[i])) else { continue };
        if dollars[i].is_finite() {
            values[components.index[i] as usize][position / per_bar] += dollars[i] / per_bar as f64;
        }
    }
    let axis = &run.axis;
    let slots: Vec<(f64, f64)> = (0..bars)
        .map(|b| {
            let start = hours[b * per_bar];
            let width = 3600.0 * per_bar as f64;
            (axis.at(start + width * 0.06), axis.at(start + width * 0.94))
        })
        .collect();
    let mut x = XAxis::time(axis);
    x.end = x.end.max(slots.last().map(|s| s.1).unwrap_or(0.0));
    let total: f64 = dollars.iter().filter(|v| v.is_finite()).sum();
    let title = "Cost per hour by component";
    let spec = Stacked {
        title: title.into(),
        x,
        y_desc: "USD per hour".into(),
        format: Format::Usd,
        slots,
        layers: components
            .values
            .iter()
            .enumerate()
            .map(|(c, name)| (name.clone(), colour(c), values[c].clone()))
            .collect(),
        references: Vec::new(),
        height: 360,
    };
    let svg = drawn(run.folder, file, plots::stacked_bars(&spec))?;
    let mut caption = format!("Billed cost per hour and billing component (cost.csv); {} in all.", usd(total));
    if per_bar > 1 {
        caption.push_str(&format!(" Each bar is the mean hour of {per_bar} hours."));
    }
    Ok(Ok(Plot { file: file.into(), title: title.into(), caption, svg }))
}

/// Renders the plots and page of the run in `folder`.
pub fn build(folder: &Path, experiment_text: Option<&str>) -> Result<Built, ReportError> {
    let summary = tables::read_json(&folder.join("summary.json"))?;
    let stream = tables::read(
        &folder.join("stream.csv"),
        &[
            "time_s",
            "shards_open",
            "offered_records",
            "attempted_records",
            "incoming_records",
            "write_throttled_records",
            "utilisation_mean",
            "utilisation_peak",
        ],
        &[],
        &["dropped_records", "demand_peak", "iterator_age_ms_max"],
    )?;
    let shards = tables::read(&folder.join("shards.csv"), &["time_s", "utilisation_mean"], &["shard_id"], &[])?;
    let consumers = tables::read(
        &folder.join("consumers.csv"),
        &["time_s", "read_records", "read_bytes", "iterator_age_ms_max"],
        &["consumer", "shard_id"],
        &["latency_ms_p50", "latency_ms_p99", "latency_ms_max"],
    )?;
    let events = tables::read(&folder.join("events.csv"), &["time_s"], &["kind", "subject", "detail"], &[])?;
    let hot_keys = tables::read(
        &folder.join("hot_keys.csv"),
        &["rank", "share_of_shard", "share_of_stream", "shard_share_of_stream"],
        &["shard_id", "partition_key", "producer"],
        &[],
    )?;
    let cost = tables::read(&folder.join("cost.csv"), &["time_s", "usd"], &["component"], &[])?;

    let period_s = stream.ready().and_then(|s| period_of(s.num("time_s"))).unwrap_or(60.0);
    let end_of = |table: &Input<Table>| {
        table.ready().map(|t| t.num("time_s").iter().copied().filter(|v| v.is_finite()).fold(0.0, f64::max))
    };
    let duration_s = summary
        .as_ref()
        .and_then(|s| s.get("duration_s"))
        .and_then(Value::as_f64)
        .filter(|d| *d > 0.0)
        .or_else(|| end_of(&stream).map(|end| end + period_s))
        .unwrap_or(period_s);
    let run = Run { folder, summary, duration_s, axis: TimeAxis::for_duration(duration_s), stream, period_s };

    let mut plots = Vec::new();
    let mut skipped = Vec::new();
    let attempts: Vec<(&str, Result<Outcome, ReportError>)> = vec![
        ("throughput.svg", throughput(&run)),
        ("throttle_rate.svg", throttle_rate(&run)),
        ("shards.svg", shards_plot(&run, &events)),
        ("shard_utilisation.svg", utilisation_heatmap(&run, &shards, &events)),
        ("hot_keys.svg", hot_keys_plot(&run, &hot_keys)),
        ("consumer_bandwidth.svg", consumer_bandwidth(&run, &consumers)),
        ("iterator_age.svg", iterator_age(&run, &consumers)),
        ("consumer_latency.svg", consumer_latency(&run, &consumers)),
        ("cost.svg", cost_plot(&run, &cost)),
    ];
    for (file, attempt) in attempts {
        match attempt? {
            Ok(plot) => plots.push(plot),
            Err(why) => skipped.push(format!("{file}: {why}")),
        }
    }
    let html = page(&run, &plots, &skipped, &events, &hot_keys, experiment_text);
    Ok(Built { plots, skipped, html })
}

fn page(
    run: &Run,
    plots: &[Plot],
    skipped: &[String],
    events: &Input<Table>,
    hot_keys: &Input<Table>,
    experiment_text: Option<&str>,
) -> String {
    let summary = run.summary.as_ref();
    let get = |key: &str| summary.and_then(|s| s.get(key));
    let name = get("name")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| run.folder.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "run".into());
    let mut page = Page::new(&format!("kinesim run report: {name}"));
    page.heading(1, "", &format!("Run report: {name}"));
    let mut meta = vec![format!("duration {}", human_duration(run.duration_s))];
    if let Some(seed) = get("seed") {
        meta.push(format!("seed {seed}"));
    }
    if let Some(version) = get("kinesim_version").and_then(Value::as_str) {
        meta.push(format!("kinesim {version}"));
    }
    if let Some(sha) = get("experiment_sha256").and_then(Value::as_str) {
        meta.push(format!("experiment sha256 {sha}"));
    }
    page.paragraph("meta", &meta.join(" · "));
    page.raw(
        "<nav><a href=\"#summary\">Summary</a><a href=\"#slo\">SLO results</a><a href=\"#plots\">Plots</a>\
         <a href=\"#events\">Events</a><a href=\"#experiment\">Experiment</a></nav>",
    );

    page.heading(2, "summary", "Summary");
    match summary {
        None => page.paragraph(
            "lead",
            "summary.json is absent: the run did not complete, or the file was removed. The plots below use the CSV \
             tables that are present.",
        ),
        Some(s) => {
            page.paragraph("lead", &human_summary(s, run.duration_s));
            let totals = [
                ("records offered", "offered_records"),
                ("write attempts (retries included)", "attempted_records"),
                ("records accepted", "accepted_records"),
                ("write attempts throttled", "write_throttled_records"),
                ("records dropped", "dropped_records"),
                ("records expired in producers", "expired_records"),
                ("records in flight at the end", "in_flight_records_end"),
                ("bytes accepted", "incoming_bytes"),
                ("put requests", "put_requests"),
                ("open shards, most", "shards_open_max"),
                ("reshard operations", "reshard_operations"),
            ];
            let mut rows: Vec<Vec<Cell>> = Vec::new();
            for (label, key) in totals {
                if let Some(value) = s.get(key) {
                    rows.push(vec![Cell::text(label), Cell::num(json_number(value))]);
                }
            }
            if let Some(rate) = s.get("write_throttle_rate").and_then(Value::as_f64) {
                rows.insert(4.min(rows.len()), vec![Cell::text("write throttle rate"), Cell::num(percent(rate))]);
            }
            page.table("", &["quantity", "value"], &rows);
            page.heading(3, "cost", "Cost");
            let mut rows: Vec<Vec<Cell>> = Vec::new();
            if let Some(components) = s.get("cost_usd").and_then(Value::as_object) {
                for (component, value) in components {
                    rows.push(vec![Cell::text(component.clone()), Cell::num(usd(num(Some(value))))]);
                }
            }
            rows.push(vec![Cell::text("total for the run"), Cell::num(usd(num(s.get("cost_usd_total"))))]);
            rows.push(vec![
                Cell::text("per month at this rate (730 h)"),
                Cell::num(usd(num(s.get("cost_usd_per_month")))),
            ]);
            let shortfall = num(s.get("advantage_shortfall_usd"));
            if shortfall.is_finite() && shortfall.abs() > 0.0 {
                rows.push(vec![Cell::text("On-demand Advantage commitment shortfall"), Cell::num(usd(shortfall))]);
            }
            page.table("", &["component", "USD"], &rows);
            producers_table(&mut page, s);
            consumers_table(&mut page, s);
        }
    }

    page.heading(2, "slo", "SLO results");
    slo_table(&mut page, summary);

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
    hot_keys_table(&mut page, hot_keys);

    page.heading(2, "events", "Events");
    events_section(&mut page, events);

    page.heading(2, "experiment", "Experiment");
    match experiment_text {
        Some(text) => page.pre("experiment-text", text),
        None => page
            .paragraph("", "The experiment file was not given to the report (and the folder has no experiment.toml)."),
    }
    page.finish()
}

fn human_summary(s: &Value, duration_s: f64) -> String {
    let n = |key: &str| json_number(s.get(key).unwrap_or(&Value::Null));
    let mut text = format!(
        "Over {}, {} records were offered and {} accepted; {} of write attempts were throttled and {} records were dropped. ",
        human_duration(duration_s),
        n("offered_records"),
        n("accepted_records"),
        percent(num(s.get("write_throttle_rate"))),
        n("dropped_records"),
    );
    text.push_str(&format!(
        "Up to {} shards were open ({} reshard operations). The run cost {} ({} a month at this rate).",
        n("shards_open_max"),
        n("reshard_operations"),
        usd(num(s.get("cost_usd_total"))),
        usd(num(s.get("cost_usd_per_month"))),
    ));
    if let Some(results) = s.get("slo_results").and_then(Value::as_array) {
        if !results.is_empty() {
            let passed = results.iter().filter(|r| r.get("passed").and_then(Value::as_bool) == Some(true)).count();
            text.push_str(&format!(" SLOs: {passed} of {} passed.", results.len()));
        }
    }
    text
}

fn producers_table(page: &mut Page, s: &Value) {
    let Some(producers) = s.get("producers").and_then(Value::as_object) else { return };
    if producers.is_empty() {
        return;
    }
    page.heading(3, "producers", "Producers");
    let keys = [
        "offered_records",
        "accepted_records",
        "write_throttled_records",
        "dropped_records",
        "latency_ms_p50",
        "latency_ms_p99",
        "latency_ms_max",
    ];
    let rows: Vec<Vec<Cell>> = producers
        .iter()
        .map(|(name, p)| {
            let mut row = vec![Cell::text(name.clone())];
            row.extend(keys.iter().map(|k| Cell::num(json_number(p.get(*k).unwrap_or(&Value::Null)))));
            row
        })
        .collect();
    page.table(
        "",
        &[
            "producer",
            "offered",
            "accepted",
            "throttled attempts",
            "dropped",
            "latency p50 (ms)",
            "p99 (ms)",
            "max (ms)",
        ],
        &rows,
    );
}

fn consumers_table(page: &mut Page, s: &Value) {
    let Some(consumers) = s.get("consumers").and_then(Value::as_object) else { return };
    if consumers.is_empty() {
        return;
    }
    page.heading(3, "consumers", "Consumers");
    let keys = [
        "read_records",
        "iterator_age_ms_max",
        "expired_unread_records",
        "read_throttled_calls",
        "reprocessed_records",
        "latency_ms_p50",
        "latency_ms_p99",
        "latency_ms_max",
    ];
    let rows: Vec<Vec<Cell>> = consumers
        .iter()
        .map(|(name, c)| {
            let mut row = vec![Cell::text(name.clone())];
            row.extend(keys.iter().map(|k| Cell::num(json_number(c.get(*k).unwrap_or(&Value::Null)))));
            row
        })
        .collect();
    page.table(
        "",
        &[
            "consumer",
            "read",
            "iterator age max (ms)",
            "expired unread",
            "read throttled calls",
            "reprocessed",
            "latency p50 (ms)",
            "p99 (ms)",
            "max (ms)",
        ],
        &rows,
    );
}

/// The `[[expect]]` results: pass or fail, value, bound, margin.
fn slo_table(page: &mut Page, summary: Option<&Value>) {
    let results = summary.and_then(|s| s.get("slo_results")).and_then(Value::as_array);
    let Some(results) = results.filter(|r| !r.is_empty()) else {
        page.paragraph("", "No objectives: the experiment has no [[expect]] entries (or summary.json is absent).");
        return;
    };
    let rows: Vec<Vec<Cell>> = results
        .iter()
        .map(|r| {
            let passed = r.get("passed").and_then(Value::as_bool) == Some(true);
            let (min, max) = (num(r.get("min")), num(r.get("max")));
            let bound = match (min.is_finite(), max.is_finite()) {
                (true, true) => format!("≥ {} and ≤ {}", significant(min), significant(max)),
                (true, false) => format!("≥ {}", significant(min)),
                (false, true) => format!("≤ {}", significant(max)),
                (false, false) => "–".into(),
            };
            vec![
                if passed { Cell::class("pass", "pass") } else { Cell::class("FAIL", "fail") },
                Cell::text(r.get("metric").and_then(Value::as_str).unwrap_or("?")),
                Cell::text(r.get("scope").and_then(Value::as_str).unwrap_or("")),
                Cell::num(significant(num(r.get("value")))),
                Cell::num(bound),
                Cell::num(significant(num(r.get("margin")))),
            ]
        })
        .collect();
    page.table("slo", &["result", "metric", "scope", "value", "bound", "margin"], &rows);
    page.paragraph("meta", "Margin: how far the value is inside its bound (negative: outside).");
}

fn hot_keys_table(page: &mut Page, hot: &Input<Table>) {
    let Input::Ready(hot) = hot else { return };
    let share = hot.num("share_of_stream");
    let mut order: Vec<usize> = (0..hot.rows).filter(|&i| share[i].is_finite()).collect();
    order.sort_by(|&a, &b| share[b].total_cmp(&share[a]).then(a.cmp(&b)));
    order.truncate(10);
    if order.is_empty() {
        return;
    }
    let (ids, keys, producers) = (hot.text("shard_id"), hot.text("partition_key"), hot.text("producer"));
    let (rank, of_shard) = (hot.num("rank"), hot.num("share_of_shard"));
    let rows: Vec<Vec<Cell>> = order
        .iter()
        .map(|&i| {
            vec![
                Cell::text(keys.get(i)),
                Cell::text(producers.get(i)),
                Cell::text(ids.get(i)),
                Cell::num(plots::trim(rank[i], 0)),
                Cell::num(percent(of_shard[i])),
                Cell::num(percent(share[i])),
            ]
        })
        .collect();
    page.heading(3, "hot-keys", "Heaviest keys of the stream");
    page.table(
        "",
        &["partition key", "producer", "shard", "rank in shard", "share of shard", "share of stream"],
        &rows,
    );
}

const EVENT_ROWS: usize = 100;

fn events_section(page: &mut Page, events: &Input<Table>) {
    let events = match events {
        Input::Ready(events) => events,
        Input::Skip(why) => {
            page.paragraph("", &format!("No events: {why}."));
            return;
        }
    };
    let (time, kind, subject, detail) =
        (events.num("time_s"), events.text("kind"), events.text("subject"), events.text("detail"));
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for i in 0..events.rows {
        *counts.entry(kind.get(i)).or_default() += 1;
    }
    let rows: Vec<Vec<Cell>> =
        counts.iter().map(|(k, n)| vec![Cell::text(*k), Cell::num(grouped(*n as f64, 0))]).collect();
    page.table("", &["kind", "events"], &rows);
    let notable: Vec<usize> = (0..events.rows)
        .filter(|&i| !(kind.get(i) == "policy_decision" && detail.get(i).starts_with("hold")))
        .collect();
    let rows: Vec<Vec<Cell>> = notable
        .iter()
        .take(EVENT_ROWS)
        .map(|&i| {
            vec![
                Cell::num(plots::trim(time[i], 3)),
                Cell::text(kind.get(i)),
                Cell::text(subject.get(i)),
                Cell::text(detail.get(i)),
            ]
        })
        .collect();
    page.heading(3, "", "Events other than policy holds");
    page.table("", &["time (s)", "kind", "subject", "detail"], &rows);
    if notable.len() > EVENT_ROWS {
        page.paragraph("meta", &format!("The first {EVENT_ROWS} of {}; all are in events.csv.", notable.len()));
    }
}
