//! `docs/reference.md` documents exactly the keys of the experiment file: every property
//! path of the JSON Schema that `kinesim schema` prints has one row, every row names a
//! path of the schema, and every row says where its default comes from. The metrics
//! `[[expect]]` may name are listed per scope as the loader allows them.
//!
//! A row is a markdown table line whose first cell is the backticked key path:
//!
//! ```text
//! | `stream.shards` | meaning | type | default | allowed | unit | source |
//! ```
//!
//! Paths are written as the loader names keys in errors, with `[]` for every entry of
//! a list (`producers[].rate`). Keys of the kinds of a `kind` table (`rate`, `keys`,
//! ...) share their parent's path: `producers[].keys.count` is the `count` of
//! `uniform`, `zipf` and `hot` keys.

mod common;

use kinesim_models::slo::{
    CONSUMER_METRICS, CONSUMER_PERIOD_METRICS, PRODUCER_METRICS, STREAM_METRICS, STREAM_PERIOD_METRICS,
};
use serde_json::Value;
use std::collections::BTreeSet;

const REFERENCE: &str = "docs/reference.md";

/// The columns of a row, in order.
const COLUMNS: [&str; 7] = ["key", "meaning", "type", "default", "allowed", "unit", "source"];

fn schema() -> Value {
    let output = common::kinesim().arg("schema").output().unwrap();
    assert!(output.status.success());
    serde_json::from_slice(&output.stdout).expect("kinesim schema prints JSON")
}

fn reference() -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(REFERENCE)).unwrap()
}

/// Every property path of `schema`: `$ref`s followed, the branches of `anyOf`, `oneOf`
/// and `allOf` merged under one path, list items as `path[]`. Tuples (`[time, rate]`)
/// and free-form tables (`sweep.grid`'s key paths) are leaves.
fn schema_paths(root: &Value) -> BTreeSet<String> {
    fn walk(root: &Value, node: &Value, path: &str, paths: &mut BTreeSet<String>, depth: usize) {
        assert!(depth < 32, "the schema nests too deep at {path}");
        let Some(object) = node.as_object() else { return };
        if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
            let name = reference.trim_start_matches("#/definitions/");
            let target = &root["definitions"][name];
            assert!(!target.is_null(), "{path}: {reference} is not in the schema's definitions");
            return walk(root, target, path, paths, depth + 1);
        }
        for key in ["anyOf", "oneOf", "allOf"] {
            for branch in object.get(key).and_then(Value::as_array).into_iter().flatten() {
                walk(root, branch, path, paths, depth + 1);
            }
        }
        for (name, property) in object.get("properties").and_then(Value::as_object).into_iter().flatten() {
            let child = if path.is_empty() { name.clone() } else { format!("{path}.{name}") };
            paths.insert(child.clone());
            walk(root, property, &child, paths, depth + 1);
        }
        if let Some(items) = object.get("items").filter(|items| items.is_object()) {
            walk(root, items, &format!("{path}[]"), paths, depth + 1);
        }
    }
    let mut paths = BTreeSet::new();
    walk(root, root, "", &mut paths, 0);
    paths
}

/// The rows of the reference: (line number, cells). A cell holds no `|`.
fn rows(text: &str) -> Vec<(usize, Vec<String>)> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| line.starts_with("| `"))
        .map(|(index, line)| {
            let inner = line.trim().strip_prefix('|').and_then(|l| l.strip_suffix('|'));
            let inner = inner.unwrap_or_else(|| panic!("{REFERENCE}:{}: a row starts and ends with |", index + 1));
            (index + 1, inner.split('|').map(|cell| cell.trim().to_string()).collect())
        })
        .collect()
}

/// The key path of a row: its first cell without the backticks.
fn key_of(line: usize, cells: &[String]) -> String {
    let key = cells[0].strip_prefix('`').and_then(|c| c.strip_suffix('`'));
    let key = key.unwrap_or_else(|| panic!("{REFERENCE}:{line}: the first cell is one backticked key path"));
    assert!(!key.contains('`') && !key.contains(' '), "{REFERENCE}:{line}: `{key}` is not one key path");
    key.to_string()
}

#[test]
fn the_reference_documents_every_key_of_the_schema_and_no_other() {
    let documented: Vec<(usize, String)> =
        rows(&reference()).iter().map(|(line, cells)| (*line, key_of(*line, cells))).collect();
    let mut seen = BTreeSet::new();
    for (line, key) in &documented {
        assert!(seen.insert(key.clone()), "{REFERENCE}:{line}: `{key}` is documented twice");
    }
    let schema = schema_paths(&schema());
    assert!(schema.len() > 150, "only {} paths found in the schema", schema.len());
    let missing: Vec<&String> = schema.difference(&seen).collect();
    let unknown: Vec<&String> = seen.difference(&schema).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "{REFERENCE} is out of step with `kinesim schema`:\n  keys without a row: {missing:?}\n  rows for keys that do not exist: {unknown:?}"
    );
}

#[test]
fn every_row_has_its_columns_and_a_source() {
    let text = reference();
    let header = format!("| {} |", COLUMNS.join(" | "));
    let tables = text.lines().filter(|line| line.starts_with("| key |")).count();
    assert_eq!(text.lines().filter(|line| *line == header).count(), tables, "every table's header is {header}");
    let rows = rows(&text);
    assert!(!rows.is_empty());
    for (line, cells) in &rows {
        let key = key_of(*line, cells);
        assert_eq!(
            cells.len(),
            COLUMNS.len(),
            "{REFERENCE}:{line}: `{key}` has {} cells, not {COLUMNS:?}",
            cells.len()
        );
        for (column, cell) in COLUMNS.iter().zip(cells) {
            assert!(!cell.is_empty(), "{REFERENCE}:{line}: `{key}` has an empty {column} cell");
        }
        let source = &cells[COLUMNS.len() - 1];
        let cited = ["kinesis-facts.md §", "kinesis-pricing.md §", "scaling-policies.md §", "model.md §"]
            .iter()
            .any(|document| source.contains(document));
        assert!(
            cited || source.contains("**assumption**") || source.contains("kinesim setting"),
            "{REFERENCE}:{line}: `{key}`'s source cites no section of the reference notes, is not marked **assumption** and is not a kinesim setting: {source}"
        );
    }
}

/// The metric names of a bullet of the list under `[[expect]]`, before and after
/// "with `fraction`:".
fn bullet_metrics(text: &str, bullet: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let start = text.find(&format!("\n- {bullet}")).unwrap_or_else(|| panic!("{REFERENCE}: no bullet `- {bullet}`"));
    let rest = &text[start + 3..];
    let end = rest.find("\n- ").into_iter().chain(rest.find("\n\n")).min().unwrap_or(rest.len());
    let item = &rest[..end];
    let names = |part: &str| -> BTreeSet<String> {
        part.split('`').skip(1).step_by(2).map(str::to_string).collect::<BTreeSet<String>>()
    };
    let (_, metrics) = item.split_once("): ").or_else(|| item.split_once(": ")).unwrap();
    match metrics.split_once("with `fraction`:") {
        Some((whole, periods)) => (names(whole), names(periods)),
        None => (names(metrics), BTreeSet::new()),
    }
}

#[test]
fn the_reference_lists_the_metrics_each_scope_allows() {
    let text = reference();
    let set = |list: &[&str]| list.iter().map(|m| m.to_string()).collect::<BTreeSet<String>>();
    assert_eq!(bullet_metrics(&text, "stream"), (set(STREAM_METRICS), set(STREAM_PERIOD_METRICS)));
    assert_eq!(bullet_metrics(&text, "a consumer"), (set(CONSUMER_METRICS), set(CONSUMER_PERIOD_METRICS)));
    assert_eq!(bullet_metrics(&text, "a producer"), (set(PRODUCER_METRICS), BTreeSet::new()));
}
