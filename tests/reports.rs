//! Reports: `plots/*.svg` and `report.html` rendered from run and sweep folders written
//! by the `kinesim` binary (and from synthetic folders for size and speed).

mod common;

use kinesim_reports::report::{detect, render_report, render_run_report, render_sweep_report, FolderKind, ReportFiles};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Instant;

// ---------------------------------------------------------------------------------------
// Folders.

/// Runs `experiments/<name>.toml` once per test binary; tests copy the folder before
/// rendering into it.
fn example_run(cell: &'static OnceLock<common::Scratch>, name: &str) -> &'static Path {
    cell.get_or_init(|| {
        let folder = common::scratch(&format!("report-source-{name}"));
        let output = common::kinesim()
            .arg("run")
            .arg(format!("experiments/{name}.toml"))
            .arg("--out")
            .arg(&folder)
            .arg("--quiet")
            .output()
            .unwrap();
        assert!(output.status.success(), "{name}: {}", String::from_utf8_lossy(&output.stderr));
        folder
    })
}

static HOT_KEY: OnceLock<common::Scratch> = OnceLock::new();
static POLLING: OnceLock<common::Scratch> = OnceLock::new();
static AUTOSCALER: OnceLock<common::Scratch> = OnceLock::new();
static SWEEP: OnceLock<common::Scratch> = OnceLock::new();

fn hot_key() -> &'static Path {
    example_run(&HOT_KEY, "hot-key")
}

/// A fresh copy of `source`'s files in a folder of the test's own.
fn copy_of(source: &Path, test: &str) -> common::Scratch {
    let folder = common::scratch(test);
    for entry in std::fs::read_dir(source).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, folder.join(path.file_name().unwrap())).unwrap();
        }
    }
    folder
}

fn experiment_text(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("experiments/{name}.toml"))).unwrap()
}

const SWEEP_TOML: &str = r#"
name = "report-sweep"
seed = 5
duration = "3m"
[output]
shards = "off"
consumers = "off"
[stream]
shards = 2
[[producers]]
name = "web"
rate = 2500
keys = { kind = "uniform", count = 1000 }
retry = { kind = "exponential", base = "100ms", cap = "2s", max_attempts = 4, jitter = "full" }
[[expect]]
metric = "write_throttle_rate"
max = 0.01
[sweep]
replications = 3
[sweep.grid]
"producers.web.keys" = [
    { label = "uniform", kind = "uniform", count = 1000 },
    { label = "zipf-1.2", kind = "zipf", count = 1000, exponent = 1.2 },
]
"stream.shards" = [2, 3, 4]
"#;

/// A sweep folder written by `kinesim sweep`, with the experiment file still in place.
fn sweep_folder() -> &'static Path {
    SWEEP.get_or_init(|| {
        let folder = common::scratch("report-source-sweep");
        let file = folder.join("report-sweep.toml");
        std::fs::write(&file, SWEEP_TOML).unwrap();
        let out = folder.into_path_of("out");
        let output = common::kinesim().arg("sweep").arg(&file).arg("--out").arg(&out).arg("--quiet").output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        out
    })
}

// ---------------------------------------------------------------------------------------
// Checks.

/// Checks that `text` is one balanced element tree (no XML library: tags are matched by
/// name, comments and declarations skipped, `void` elements need no end tag). Returns
/// the root element's name.
fn check_balanced(text: &str, void: &[&str], what: &str) -> String {
    let mut stack: Vec<String> = Vec::new();
    let mut root = None;
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        rest = &rest[start..];
        if rest.starts_with("<!--") {
            let end = rest.find("-->").unwrap_or_else(|| panic!("{what}: unclosed comment"));
            rest = &rest[end + 3..];
            continue;
        }
        let end = rest.find('>').unwrap_or_else(|| panic!("{what}: unclosed tag"));
        let tag = &rest[1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('!') || tag.starts_with('?') {
            continue;
        }
        assert!(!tag.contains('<'), "{what}: '<' inside a tag: {tag}");
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack.pop().unwrap_or_else(|| panic!("{what}: </{name}> closes nothing"));
            assert_eq!(open, name.trim(), "{what}: <{open}> closed by </{name}>");
            continue;
        }
        let name: String = tag.chars().take_while(|c| !c.is_whitespace() && *c != '/').collect();
        assert!(!name.is_empty(), "{what}: empty tag");
        if stack.is_empty() {
            assert!(root.is_none(), "{what}: a second root element <{name}>");
            root = Some(name.clone());
        }
        if !tag.ends_with('/') && !void.contains(&name.as_str()) {
            stack.push(name);
        }
        // Raw text inside elements must not hold a bare '<' (checked by the next find)
        // nor an unescaped '&' that starts no entity.
    }
    assert!(stack.is_empty(), "{what}: unclosed elements {stack:?}");
    root.unwrap_or_else(|| panic!("{what}: no element"))
}

fn check_svg(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let what = path.display().to_string();
    assert!(text.starts_with("<svg"), "{what} does not start with <svg");
    assert!(text.trim_end().ends_with("</svg>"), "{what} does not end with </svg>");
    assert_eq!(check_balanced(&text, &[], &what), "svg");
    text
}

/// The `<text>` contents of an SVG document.
fn svg_texts(svg: &str) -> Vec<String> {
    let mut texts = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find("<text") {
        rest = &rest[start..];
        let open_end = rest.find('>').unwrap();
        let close = rest.find("</text>").unwrap();
        texts.push(rest[open_end + 1..close].trim().to_string());
        rest = &rest[close..];
    }
    texts
}

fn has_text(svg: &str, wanted: &str) -> bool {
    svg_texts(svg).iter().any(|t| t.contains(wanted))
}

/// Values of `name="..."` attributes in the tags of `text` (not in its text content).
fn attribute_values(text: &str, name: &str) -> Vec<String> {
    text.split('<').skip(1).flat_map(|tag| tag_attribute_values(tag.split('>').next().unwrap_or(""), name)).collect()
}

fn tag_attribute_values(tag: &str, name: &str) -> Vec<String> {
    let mut values = Vec::new();
    let pattern = format!(" {name}=");
    let mut rest = tag;
    while let Some(at) = rest.find(&pattern) {
        rest = &rest[at + pattern.len()..];
        let quote = rest.chars().next().unwrap();
        if quote == '"' || quote == '\'' {
            let end = rest[1..].find(quote).unwrap();
            values.push(rest[1..1 + end].to_string());
            rest = &rest[1 + end..];
        } else {
            let end = rest.find(|c: char| c.is_whitespace() || c == '>').unwrap_or(rest.len());
            values.push(rest[..end].to_string());
        }
    }
    values
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

fn plot_names(files: &ReportFiles) -> Vec<String> {
    files.plots.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect()
}

const HTML_VOID: &[&str] = &["meta", "link", "br", "hr", "img", "input", "wbr", "col", "area", "base", "source"];

/// report.html: balanced, no script, every src/href either an anchor on the page or a
/// file in the folder that exists.
fn check_self_contained(folder: &Path, html: &str) {
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(check_balanced(html, HTML_VOID, "report.html"), "html");
    let lower = html.to_ascii_lowercase();
    for banned in ["<script", "<link", "<iframe", "<object", "<embed", "@import", "url(", "@font-face"] {
        assert!(!lower.contains(banned), "report.html contains {banned}");
    }
    let mut references = attribute_values(html, "src");
    references.extend(attribute_values(html, "href"));
    references.extend(attribute_values(html, "xlink:href"));
    for reference in references {
        if let Some(anchor) = reference.strip_prefix('#') {
            assert!(html.contains(&format!("id=\"{anchor}\"")), "anchor #{anchor} names no element");
            continue;
        }
        assert!(!reference.contains(':') && !reference.starts_with('/'), "report.html points outside: {reference}");
        assert!(!reference.split('/').any(|part| part == ".."), "report.html points outside: {reference}");
        assert!(folder.join(&reference).is_file(), "report.html points at a missing file: {reference}");
    }
}

// ---------------------------------------------------------------------------------------
// Runs.

const RUN_PLOTS: &[&str] = &[
    "throughput.svg",
    "throttle_rate.svg",
    "shards.svg",
    "shard_utilisation.svg",
    "hot_keys.svg",
    "consumer_bandwidth.svg",
    "iterator_age.svg",
    "consumer_latency.svg",
    "cost.svg",
];

#[test]
fn run_report_draws_every_plot_as_well_formed_svg() {
    let folder = copy_of(hot_key(), "report-run-plots");
    let files = render_run_report(&folder, Some(&experiment_text("hot-key"))).unwrap();
    assert_eq!(plot_names(&files), RUN_PLOTS, "skipped: {:?}", files.skipped);
    assert!(files.skipped.is_empty());
    assert_eq!(files.report, folder.join("report.html"));
    assert_eq!(files.files().len(), RUN_PLOTS.len() + 1);
    for path in &files.plots {
        assert!(path.starts_with(folder.join("plots")));
        check_svg(path);
    }
    let on_disk: Vec<String> = {
        let mut names: Vec<String> = std::fs::read_dir(folder.join("plots"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let mut expected: Vec<String> = RUN_PLOTS.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(on_disk, expected, "plots/ holds exactly the plots written, no temporary files");

    let svg = |name: &str| std::fs::read_to_string(folder.join("plots").join(name)).unwrap();
    let throughput = svg("throughput.svg");
    for label in ["offered", "accepted", "capacity", "per-second peak"] {
        assert!(has_text(&throughput, label), "throughput.svg has no legend label {label}");
    }
    assert!(has_text(&svg("throttle_rate.svg"), "write throttle rate"));
    assert!(has_text(&svg("hot_keys.svg"), "tenant-1"), "the heaviest key is named");
    assert!(has_text(&svg("hot_keys.svg"), "heaviest key"));
    let heatmap = svg("shard_utilisation.svg");
    assert!(heatmap.contains("<path fill=\"#"), "heatmap cells are drawn");
    assert!(has_text(&heatmap, "not open") && has_text(&heatmap, "≥ 90%"), "the colour key is drawn");
    assert!(has_text(&svg("consumer_bandwidth.svg"), "billing"));
    assert!(has_text(&svg("iterator_age.svg"), "billing"));
    let latency = svg("consumer_latency.svg");
    for label in ["billing", "p50", "p99", "max"] {
        assert!(has_text(&latency, label), "consumer_latency.svg has no {label}");
    }
    let cost = svg("cost.svg");
    assert!(has_text(&cost, "shard_hours") && has_text(&cost, "put_payload_units"));
    // Axis ticks read as numbers people write: no exponents, no long fractions.
    for path in &files.plots {
        for text in svg_texts(&std::fs::read_to_string(path).unwrap()) {
            assert!(!text.contains("e+") && !text.contains("e-0"), "{}: tick {text}", path.display());
            assert!(!text.contains("0000000"), "{}: tick {text}", path.display());
        }
    }
}

#[test]
fn consumer_plots_name_every_consumer() {
    let folder = copy_of(example_run(&POLLING, "polling-contention"), "report-consumers");
    let files = render_run_report(&folder, None).unwrap();
    let names = plot_names(&files);
    for plot in ["consumer_bandwidth.svg", "iterator_age.svg", "consumer_latency.svg"] {
        assert!(names.iter().any(|n| n == plot), "{plot} missing; skipped: {:?}", files.skipped);
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("summary.json")).unwrap()).unwrap();
    let consumers: Vec<String> = summary["consumers"].as_object().unwrap().keys().cloned().collect();
    assert_eq!(consumers.len(), 6);
    for plot in ["consumer_bandwidth.svg", "iterator_age.svg", "consumer_latency.svg"] {
        let svg = check_svg(&folder.join("plots").join(plot));
        for consumer in &consumers {
            assert!(has_text(&svg, consumer), "{plot} does not name {consumer}");
        }
    }
    let bandwidth = std::fs::read_to_string(folder.join("plots/consumer_bandwidth.svg")).unwrap();
    assert!(has_text(&bandwidth, "2 MiB/s"), "the shared read limit is marked");
    // One stacked layer per consumer: a filled rectangle in each consumer's colour.
    let fills: std::collections::BTreeSet<String> =
        attribute_values(&bandwidth, "fill").into_iter().filter(|f| f.starts_with('#')).collect();
    assert!(fills.len() >= consumers.len(), "{fills:?}");
}

#[test]
fn report_html_is_self_contained_with_the_slo_table_and_the_experiment() {
    let folder = copy_of(hot_key(), "report-html");
    let experiment = experiment_text("hot-key");
    let files = render_run_report(&folder, Some(&experiment)).unwrap();
    let html = std::fs::read_to_string(&files.report).unwrap();
    check_self_contained(&folder, &html);
    // Every plot is inlined.
    for path in &files.plots {
        let svg = std::fs::read_to_string(path).unwrap();
        assert!(html.contains(svg.trim_end()), "{} is not inlined", path.display());
    }
    // The SLO table: the failed throttle objective with value, bound and margin.
    let slo = &html[html.find("<table class=\"slo\">").expect("an SLO table")..];
    let slo = &slo[..slo.find("</table>").unwrap()];
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("summary.json")).unwrap()).unwrap();
    let throttle_rate = format!("{:.6}", summary["write_throttle_rate"].as_f64().unwrap());
    for cell in ["result", "value", "bound", "margin", "write_throttle_rate", "FAIL", "≤ 0.01", &throttle_rate] {
        assert!(slo.contains(cell), "the SLO table lacks {cell}");
    }
    // Totals and cost from summary.json, numbers grouped by thousands.
    let offered = summary["offered_records"].as_u64().unwrap().to_string();
    let mut grouped = String::new();
    for (i, c) in offered.chars().enumerate() {
        if i > 0 && (offered.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    assert!(html.contains(&format!(">{grouped}<")), "offered records {grouped}");
    assert!(html.contains("per month"));
    // The experiment file itself, escaped.
    assert!(html.contains(&escape(&experiment)), "the experiment text is shown");
    assert!(experiment.contains('"'), "the check covers escaping");
}

#[test]
fn experiment_text_is_escaped_not_interpreted() {
    let folder = copy_of(hot_key(), "report-escape");
    let hostile = "name = \"x\"\n# </pre><script>alert('x')</script><img src=\"http://example.com/a.png\"> & done\n";
    let files = render_run_report(&folder, Some(hostile)).unwrap();
    let html = std::fs::read_to_string(files.report).unwrap();
    assert!(!html.contains("<script>") && !html.contains("<img"));
    assert!(html.contains("&lt;/pre&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(html.contains("&amp; done"));
    check_self_contained(&folder, &html);
}

#[test]
fn plots_need_no_fonts() {
    let folder = copy_of(hot_key(), "report-fonts");
    let files = render_run_report(&folder, None).unwrap();
    for path in &files.plots {
        let svg = std::fs::read_to_string(path).unwrap();
        assert!(svg.contains("<text"), "{}: text is SVG text", path.display());
        for family in attribute_values(&svg, "font-family") {
            assert!(["sans-serif", "serif", "monospace"].contains(&family.as_str()), "{}: {family}", path.display());
        }
        for banned in ["<image", "@font-face", "data:", "<font", "<glyph"] {
            assert!(!svg.contains(banned), "{}: {banned}", path.display());
        }
    }
}

#[test]
fn the_same_folder_gives_the_same_bytes() {
    let first = copy_of(hot_key(), "report-same-1");
    let second = copy_of(hot_key(), "report-same-2");
    let text = experiment_text("hot-key");
    render_run_report(&first, Some(&text)).unwrap();
    render_run_report(&second, Some(&text)).unwrap();
    let before = (common::folder_bytes(&first.join("plots")), std::fs::read(first.join("report.html")).unwrap());
    assert_eq!(before.0, common::folder_bytes(&second.join("plots")));
    assert!(before.1 == std::fs::read(second.join("report.html")).unwrap(), "report.html differs");
    // Rendering again over the previous render changes nothing either.
    render_run_report(&first, Some(&text)).unwrap();
    assert_eq!(before.0, common::folder_bytes(&first.join("plots")));
    assert!(before.1 == std::fs::read(first.join("report.html")).unwrap());
}

#[test]
fn absent_or_empty_inputs_skip_their_plots() {
    let folder = copy_of(hot_key(), "report-absent");
    render_run_report(&folder, None).unwrap();
    assert!(folder.join("plots/shard_utilisation.svg").is_file());
    std::fs::remove_file(folder.join("shards.csv")).unwrap();
    std::fs::remove_file(folder.join("consumers.csv")).unwrap();
    std::fs::write(folder.join("hot_keys.csv"), "shard_id,rank,partition_key,producer,hash_key,offered_records,share_of_shard,share_of_stream,shard_share_of_stream,split_hash_key\n").unwrap();
    std::fs::write(folder.join("cost.csv"), "").unwrap();
    let files = render_run_report(&folder, None).unwrap();
    let names = plot_names(&files);
    for gone in ["shard_utilisation.svg", "hot_keys.svg", "consumer_bandwidth.svg", "cost.svg"] {
        assert!(!names.iter().any(|n| n == gone), "{gone} drawn without its input");
        assert!(files.skipped.iter().any(|s| s.starts_with(gone)), "{gone} not listed as skipped: {:?}", files.skipped);
        assert!(!folder.join("plots").join(gone).exists(), "a stale {gone} is left from the first render");
    }
    for kept in ["throughput.svg", "throttle_rate.svg", "shards.svg", "iterator_age.svg", "consumer_latency.svg"] {
        assert!(names.iter().any(|n| n == kept), "{kept} missing: {:?}", files.skipped);
    }
    let html = std::fs::read_to_string(&files.report).unwrap();
    assert!(html.contains("shards.csv is absent") && html.contains("consumers.csv is absent"));
    check_self_contained(&folder, &html);

    // Without summary.json or any table but stream.csv the report still renders.
    for name in ["summary.json", "events.csv", "hot_keys.csv", "cost.csv"] {
        std::fs::remove_file(folder.join(name)).unwrap();
    }
    let files = render_run_report(&folder, None).unwrap();
    assert!(plot_names(&files).contains(&"throughput.svg".to_string()));
    let html = std::fs::read_to_string(&files.report).unwrap();
    assert!(html.contains("summary.json is absent"));
    check_self_contained(&folder, &html);
}

#[test]
fn a_malformed_table_is_an_error_naming_the_file() {
    let folder = copy_of(hot_key(), "report-malformed");
    // `kinesim run` already wrote a report: only a new one would show the render's result.
    let _ = std::fs::remove_file(folder.join("report.html"));
    let stream = std::fs::read_to_string(folder.join("stream.csv")).unwrap();
    let mut lines: Vec<String> = stream.lines().map(str::to_string).collect();
    let mut fields: Vec<&str> = lines[3].split(',').collect();
    fields[1] = "eight";
    lines[3] = fields.join(",");
    std::fs::write(folder.join("stream.csv"), lines.join("\n") + "\n").unwrap();
    let error = render_run_report(&folder, None).unwrap_err().to_string();
    assert!(error.contains("stream.csv") && error.contains("line 4") && error.contains("eight"), "{error}");
    assert!(!folder.join("report.html").exists(), "no report from a failed render");
}

#[test]
fn reshards_and_policy_decisions_are_marked() {
    let folder = copy_of(example_run(&AUTOSCALER, "autoscaler-diurnal"), "report-autoscaler");
    let files = render_run_report(&folder, None).unwrap();
    let shards = check_svg(&folder.join("plots/shards.svg"));
    assert!(has_text(&shards, "open shards"));
    let events = std::fs::read_to_string(folder.join("events.csv")).unwrap();
    let count = |kind: &str| events.lines().filter(|l| l.split(',').nth(1) == Some(kind)).count();
    let reshards = count("update_shard_count") + count("split_shard") + count("merge_shards");
    assert!(reshards > 0, "the example reshards");
    assert!(has_text(&shards, &format!("reshards ({reshards})")), "{:?}", svg_texts(&shards));
    assert!(has_text(&shards, "policy: scale (") && has_text(&shards, "policy: hold ("));
    assert!(shards.contains("<path fill=\"none\" stroke="), "event ticks are drawn");
    // No shards.csv and no consumers in this example: those plots are skipped, not failed.
    assert!(files.skipped.iter().any(|s| s.starts_with("shard_utilisation.svg")));
    let html = std::fs::read_to_string(&files.report).unwrap();
    assert!(html.contains("update_shard_count"));
    check_self_contained(&folder, &html);
}

// ---------------------------------------------------------------------------------------
// Sweeps.

#[test]
fn sweep_report_plots_metrics_with_bands_and_the_pareto_front() {
    let folder = copy_of(sweep_folder(), "report-sweep");
    let files = render_sweep_report(&folder).unwrap();
    let names = plot_names(&files);
    for plot in ["sweep_write_throttle_rate.svg", "sweep_cost_usd_per_month.svg", "sweep_pareto.svg"] {
        assert!(names.iter().any(|n| n == plot), "{plot} missing: {names:?} {:?}", files.skipped);
    }
    for path in &files.plots {
        check_svg(path);
    }
    let throttle = std::fs::read_to_string(folder.join("plots/sweep_write_throttle_rate.svg")).unwrap();
    for label in ["uniform", "zipf-1.2", "stream.shards"] {
        assert!(has_text(&throttle, label), "no {label} in the throttle plot");
    }
    assert!(throttle.contains("<polygon"), "a confidence band is drawn");
    let pareto = std::fs::read_to_string(folder.join("plots/sweep_pareto.svg")).unwrap();
    assert!(has_text(&pareto, "Pareto front"));
    assert!(has_text(&pareto, "uniform, "), "front points are labelled with their swept values");
    let html = std::fs::read_to_string(&files.report).unwrap();
    check_self_contained(&folder, &html);
    assert!(html.contains("<table class=\"slo\">") && html.contains("SLOs met"));
    assert!(html.contains(&escape(SWEEP_TOML)), "the experiment named in sweep_manifest.txt is shown");
    assert!(html.contains("Sweep report: report-sweep"));
    // Same input, same bytes.
    let before = common::folder_bytes(&folder.join("plots"));
    let again = copy_of(sweep_folder(), "report-sweep-again");
    render_sweep_report(&again).unwrap();
    assert_eq!(before, common::folder_bytes(&again.join("plots")));
}

#[test]
fn render_report_tells_runs_from_sweeps() {
    let run = copy_of(hot_key(), "report-detect-run");
    std::fs::write(run.join("experiment.toml"), "name = \"from-the-folder\"\n").unwrap();
    assert_eq!(detect(&run).unwrap(), FolderKind::Run);
    let files = render_report(&run).unwrap();
    let html = std::fs::read_to_string(&files.report).unwrap();
    assert!(html.contains("Run report: hot-key"));
    assert!(html.contains("name = &quot;from-the-folder&quot;"), "experiment.toml in the folder is shown");

    let sweep = copy_of(sweep_folder(), "report-detect-sweep");
    assert_eq!(detect(&sweep).unwrap(), FolderKind::Sweep);
    let files = render_report(&sweep).unwrap();
    assert!(plot_names(&files).contains(&"sweep_pareto.svg".to_string()));

    let empty = common::scratch("report-detect-empty");
    assert!(render_report(&empty).is_err());
    assert!(!empty.join("report.html").exists());
}

// ---------------------------------------------------------------------------------------
// Large runs.

/// A small deterministic generator for synthetic data.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Writes a run folder directly: `periods` stream rows of `period_s`, `shards` shards
/// with a row each per `shard_period_s`, two consumers on every shard, hourly cost and
/// policy decisions, and a summary.
fn synthetic_run(folder: &Path, duration_s: u64, period_s: u64, shards: u64, shard_period_s: u64) {
    let mut noise = Noise(0x9E37_79B9_7F4A_7C15);
    let diurnal = |t: f64| 0.55 + 0.35 * (t / 86_400.0 * std::f64::consts::TAU).sin();
    let mut stream = String::from(
        "time_s,shards_open,offered_records,attempted_records,incoming_records,incoming_bytes,write_throttled_records,\
         dropped_records,put_requests,in_flight_records,utilisation_mean,utilisation_peak,demand_peak,read_records,\
         read_bytes,read_throttled_calls,iterator_age_ms_max,expired_unread_records\n",
    );
    for period in 0..duration_s / period_s {
        let t = (period * period_s) as f64;
        let load = diurnal(t) + 0.05 * noise.next();
        let offered = (load * shards as f64 * 1000.0 * period_s as f64) as u64;
        let throttled = if load > 0.85 { offered / 20 } else { 0 };
        let accepted = offered - throttled / 2;
        let _ = writeln!(
            stream,
            "{t},{shards},{offered},{},{accepted},{},{throttled},{},{},{},{load:.6},{:.6},{:.6},{accepted},{},0,{:.3},0",
            offered + throttled,
            accepted * 1000,
            throttled / 10,
            offered / 400,
            throttled / 3,
            (load * 1.3).min(1.0),
            load * 1.4,
            accepted * 1000,
            200.0 + 800.0 * noise.next(),
        );
    }
    std::fs::write(folder.join("stream.csv"), stream).unwrap();

    let mut shard_rows = String::from(
        "time_s,shard_id,incoming_records,incoming_bytes,write_throttled_records,utilisation_mean,utilisation_peak,\
         demand_peak,read_records,read_bytes,read_throttled_calls,iterator_age_ms_max\n",
    );
    let mut consumer_rows = String::from(
        "time_s,consumer,shard_id,read_records,read_bytes,get_records_calls,read_throttled_calls,iterator_age_ms_max,\
         expired_unread_records,backlog_records,latency_ms_p50,latency_ms_p99,latency_ms_max\n",
    );
    for period in 0..duration_s / shard_period_s {
        let t = (period * shard_period_s) as f64;
        for shard in 0..shards {
            let skew = 0.6 + 0.8 * (shard as f64 / shards as f64);
            let u = (diurnal(t) * skew * (0.9 + 0.2 * noise.next())).min(1.0);
            let records = (u * 1000.0 * shard_period_s as f64) as u64;
            let _ = writeln!(
                shard_rows,
                "{t},shardId-{shard:012},{records},{},0,{u:.6},{:.6},{:.6},{records},{},0,{:.3}",
                records * 1000,
                (u * 1.2).min(1.0),
                u * 1.3,
                records * 1000,
                100.0 + 900.0 * noise.next()
            );
            for (c, consumer) in ["analytics", "archiver"].iter().enumerate() {
                let share = if c == 0 { 0.6 } else { 0.4 };
                let read = (records as f64 * share) as u64;
                let _ = writeln!(
                    consumer_rows,
                    "{t},{consumer},shardId-{shard:012},{read},{},{},0,{:.3},0,{},{:.3},{:.3},{:.3}",
                    read * 1000,
                    shard_period_s,
                    200.0 + 5000.0 * noise.next(),
                    (noise.next() * 100.0) as u64,
                    300.0 + 100.0 * noise.next(),
                    900.0 + 500.0 * noise.next(),
                    2000.0 + 1000.0 * noise.next()
                );
            }
        }
    }
    std::fs::write(folder.join("shards.csv"), shard_rows).unwrap();
    std::fs::write(folder.join("consumers.csv"), consumer_rows).unwrap();

    let mut events = String::from("time_s,kind,subject,detail\n");
    let _ = writeln!(events, "0,run_started,stream,seed=1 shards={shards} mode=provisioned");
    let mut cost = String::from("time_s,component,usd\n");
    for hour in 0..duration_s / 3600 {
        let t = hour * 3600;
        let _ = writeln!(events, "{t},policy_decision,alarm_double_halve,\"hold at {shards}: newest utilisation 0.5\"");
        if hour % 97 == 50 {
            let _ = writeln!(events, "{t},update_shard_count_rejected,stream,\"would exceed the daily limit\"");
        }
        let _ = writeln!(cost, "{t},shard_hours,{}", shards as f64 * 0.015);
        let _ = writeln!(cost, "{t},put_payload_units,{:.8}", 0.05 * shards as f64 * diurnal(t as f64));
        let _ = writeln!(cost, "{t},efo_data,{:.8}", 0.01 * noise.next());
    }
    let _ = writeln!(events, "{duration_s},run_finished,stream,done");
    std::fs::write(folder.join("events.csv"), events).unwrap();
    std::fs::write(folder.join("cost.csv"), cost).unwrap();

    let mut hot = String::from(
        "shard_id,rank,partition_key,producer,hash_key,offered_records,share_of_shard,share_of_stream,\
         shard_share_of_stream,split_hash_key\n",
    );
    for shard in 0..shards {
        for rank in 1..=10u64 {
            let share = 0.3 / rank as f64;
            let _ = writeln!(
                hot,
                "shardId-{shard:012},{rank},key-{shard}-{rank},web,{},{},{share:.6},{:.6},{:.6},",
                shard * 1000 + rank,
                1000 * rank,
                share / shards as f64,
                1.0 / shards as f64
            );
        }
    }
    std::fs::write(folder.join("hot_keys.csv"), hot).unwrap();
    let summary = serde_json::json!({
        "kinesim_version": "0.1.0",
        "schema_version": 1,
        "name": "synthetic",
        "seed": 1,
        "duration_s": duration_s as f64,
        "offered_records": 1_000_000_000u64,
        "accepted_records": 990_000_000u64,
        "write_throttle_rate": 0.004,
        "dropped_records": 1000,
        "shards_open_max": shards,
        "reshard_operations": 0,
        "cost_usd_total": 1234.5,
        "cost_usd_per_month": 1250.0,
        "cost_usd": { "shard_hours": 1000.0, "put_payload_units": 234.5 },
        "slo_results": [
            { "metric": "write_throttle_rate", "scope": "stream", "value": 0.004, "max": 0.01, "min": null, "passed": true, "margin": 0.006 },
            { "metric": "iterator_age_ms_max", "scope": "analytics", "value": 5200.0, "max": 5000.0, "min": null, "passed": false, "margin": -200.0 }
        ],
        "producers": {},
        "consumers": {
            "analytics": { "read_records": 1, "latency_ms_p50": 350.0, "latency_ms_p99": 1200.0, "latency_ms_max": 3000.0 },
            "archiver": { "read_records": 1, "latency_ms_p50": 340.0, "latency_ms_p99": 1100.0, "latency_ms_max": 2900.0 }
        }
    });
    std::fs::write(folder.join("summary.json"), serde_json::to_string_pretty(&summary).unwrap()).unwrap();
}

/// The number of points of each `<polyline>` (a line; bands are polygons of twice the
/// buckets, lower and upper edge).
fn polyline_lengths(svg: &str) -> Vec<usize> {
    svg.lines()
        .filter(|line| line.starts_with("<polyline"))
        .flat_map(|line| attribute_values(line, "points"))
        .map(|p| p.split_whitespace().count())
        .collect()
}

#[test]
fn long_runs_are_downsampled() {
    // Two days of one-minute periods (2,880 points per series) and 260 shards in
    // ten-minute rows: series come down to at most 1,000 points, the heatmap to at most
    // 200 columns and 200 rows.
    let folder = common::scratch("report-downsampled");
    synthetic_run(&folder, 2 * 86_400, 60, 260, 600);
    let files = render_run_report(&folder, None).unwrap();
    assert_eq!(plot_names(&files), RUN_PLOTS, "{:?}", files.skipped);
    for path in &files.plots {
        let svg = check_svg(path);
        for length in polyline_lengths(&svg) {
            assert!(length <= 1000, "{}: a line of {length} points", path.display());
        }
    }
    let throughput = std::fs::read_to_string(folder.join("plots/throughput.svg")).unwrap();
    assert!(throughput.contains("<polygon"), "min–max bands for the reduced series");
    let heatmap = std::fs::read_to_string(folder.join("plots/shard_utilisation.svg")).unwrap();
    let (mut columns, mut rows) = (std::collections::BTreeSet::new(), std::collections::BTreeSet::new());
    for d in attribute_values(&heatmap, "d") {
        for cell in d.split('M').filter(|c| !c.is_empty()) {
            let (x, rest) = cell.split_once(' ').unwrap();
            let y: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '-').collect();
            columns.insert(x.parse::<i32>().unwrap());
            rows.insert(y.parse::<i32>().unwrap());
        }
    }
    assert!(rows.len() <= 200 && rows.len() >= 100, "{} heatmap rows", rows.len());
    assert!(columns.len() <= 200, "{} heatmap column starts", columns.len());
    let html = std::fs::read_to_string(&files.report).unwrap();
    assert!(html.contains("at most 1000 points"), "the page says the series were reduced");
    check_self_contained(&folder, &html);
}

/// `cargo test --test reports -- --ignored --nocapture large_run_report_benchmark`: renders a
/// synthetic 30-day run of 200 shards with hourly rows and prints the time and sizes.
#[test]
#[ignore]
fn large_run_report_benchmark() {
    let folder = common::scratch("report-benchmark");
    let start = Instant::now();
    synthetic_run(&folder, 30 * 86_400, 3600, 200, 3600);
    let written = start.elapsed().as_secs_f64();
    let input: u64 = std::fs::read_dir(&folder).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum();
    let start = Instant::now();
    let files = render_run_report(&folder, None).unwrap();
    let seconds = start.elapsed().as_secs_f64();
    let html = std::fs::metadata(&files.report).unwrap().len();
    let plots: u64 = files.plots.iter().map(|p| std::fs::metadata(p).unwrap().len()).sum();
    println!(
        "30 days x 200 shards, hourly: input {:.1} MB written in {written:.2} s; render_run_report {seconds:.2} s; \
         report.html {:.2} MB; {} plots, {:.2} MB",
        input as f64 / 1e6,
        html as f64 / 1e6,
        files.plots.len(),
        plots as f64 / 1e6
    );
    assert_eq!(plot_names(&files), RUN_PLOTS, "{:?}", files.skipped);
    assert!(seconds < 10.0, "render took {seconds:.2} s");
    assert!(html < 5_000_000, "report.html is {html} bytes");
}

/// A run that ends inside a metrics period ends with a shorter one: the throughput plot
/// takes its rate over that length. 1,500 records/s for 90 s with 1-minute periods is a
/// flat line. (The last 30 s were divided by 60: the line fell to 750 records/s.)
#[test]
fn throughput_of_a_short_last_period_is_over_its_length() {
    let folder = common::scratch("report-short-last-period");
    let experiment = folder.join("short.toml");
    std::fs::write(
        &experiment,
        "name = \"short\"\nseed = 1\nduration = \"90s\"\n[stream]\nshards = 2\n[[producers]]\nname = \"p\"\nrate = 1500\narrivals = \"uniform\"\nrecord_size = 500\nkeys = { kind = \"random\" }\n",
    )
    .unwrap();
    let output = common::kinesim()
        .arg("run")
        .arg(&experiment)
        .arg("--out")
        .arg(folder.join("out"))
        .arg("--quiet")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let svg = std::fs::read_to_string(folder.join("out/plots/throughput.svg")).unwrap();
    // The offered line is the one drawn 4 wide; its points are "x,y x,y".
    let offered = svg
        .split("<polyline")
        .find(|tag| tag.contains("stroke-width=\"4\""))
        .and_then(|tag| tag.split("points=\"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .expect("an offered line");
    let heights: Vec<&str> = offered.split_whitespace().filter_map(|point| point.split(',').nth(1)).collect();
    assert_eq!(heights.len(), 2, "{offered}");
    assert_eq!(heights[0], heights[1], "the offered rate is flat: {offered}");
}
