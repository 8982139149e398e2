//! `kinesim schema`: the JSON Schema editors use accepts every example experiment and
//! rejects the structural mistakes of the malformed corpus (unknown keys, wrong types,
//! unknown kinds). Bounds and cross-field rules are the loader's job, not the schema's.

mod common;

use serde_json::Value;

/// A small validator for the subset of JSON Schema the generator emits: `$ref` into
/// `definitions`, `type`, `properties`, `required`, `additionalProperties`, `enum`,
/// `const`, `anyOf`/`oneOf`/`allOf`, `items` (one schema or a tuple), `minimum`.
fn valid(schema: &Value, root: &Value, value: &Value) -> bool {
    let Some(object) = schema.as_object() else { return schema.as_bool().unwrap_or(true) };
    if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
        let name = reference.trim_start_matches("#/definitions/");
        return valid(&root["definitions"][name], root, value);
    }
    if let Some(types) = object.get("type") {
        let types: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let matches = |t: &str| match t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            _ => true,
        };
        if !types.iter().any(|t| matches(t)) {
            return false;
        }
    }
    if let Some(values) = object.get("enum").and_then(Value::as_array) {
        if !values.contains(value) {
            return false;
        }
    }
    if let Some(constant) = object.get("const") {
        if constant != value {
            return false;
        }
    }
    if let (Some(minimum), Some(number)) = (object.get("minimum").and_then(Value::as_f64), value.as_f64()) {
        if number < minimum {
            return false;
        }
    }
    for (key, all) in [("anyOf", false), ("oneOf", false), ("allOf", true)] {
        if let Some(list) = object.get(key).and_then(Value::as_array) {
            let passed = list.iter().filter(|s| valid(s, root, value)).count();
            if (all && passed != list.len()) || (!all && passed == 0) {
                return false;
            }
        }
    }
    if let Some(map) = value.as_object() {
        let properties = object.get("properties").and_then(Value::as_object);
        if let Some(required) = object.get("required").and_then(Value::as_array) {
            if required.iter().filter_map(Value::as_str).any(|key| !map.contains_key(key)) {
                return false;
            }
        }
        for (key, item) in map {
            let closed = object.get("additionalProperties") == Some(&Value::Bool(false));
            match properties.and_then(|p| p.get(key)) {
                Some(sub) if !valid(sub, root, item) => return false,
                None if closed => return false,
                _ => {}
            }
        }
    }
    if let (Some(items), Some(list)) = (object.get("items"), value.as_array()) {
        match items {
            Value::Array(tuple) => {
                if tuple.len() != list.len() || tuple.iter().zip(list).any(|(s, v)| !valid(s, root, v)) {
                    return false;
                }
            }
            schema => {
                if list.iter().any(|v| !valid(schema, root, v)) {
                    return false;
                }
            }
        }
    }
    true
}

fn schema() -> Value {
    let output = common::kinesim().arg("schema").output().unwrap();
    assert!(output.status.success());
    serde_json::from_slice(&output.stdout).expect("kinesim schema prints JSON")
}

fn toml_files(folder: &str) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(folder))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

fn as_json(path: &std::path::Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    let table: toml::Table = text.parse().ok()?;
    serde_json::to_value(table).ok()
}

#[test]
fn the_schema_accepts_every_example() {
    let schema = schema();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    let mut checked = 0;
    for folder in ["experiments", "experiments/policies", "experiments/sweeps"] {
        for path in toml_files(folder) {
            let value = as_json(&path).unwrap();
            assert!(valid(&schema, &schema, &value), "{} does not match the schema", path.display());
            checked += 1;
        }
    }
    assert!(checked > 40, "{checked}");
}

/// The malformed files whose mistake is one of shape (the loader's message says
/// "unknown field", "unknown variant", "invalid type" or "expected"): the schema flags
/// them too, so an editor shows them before a run.
#[test]
fn the_schema_rejects_structural_mistakes() {
    let schema = schema();
    let mut rejected = 0;
    for path in toml_files("tests/data/malformed") {
        let Some(value) = as_json(&path) else { continue };
        let output = common::kinesim().arg("validate").arg(&path).output().unwrap();
        let message = String::from_utf8_lossy(&output.stderr).to_string();
        let structural = ["unknown field", "unknown variant", "unknown kind", "invalid type", "missing field"];
        if structural.iter().any(|s| message.contains(s)) {
            assert!(!valid(&schema, &schema, &value), "{} passes the schema: {message}", path.display());
            rejected += 1;
        }
    }
    assert!(rejected >= 5, "{rejected} structural cases");
}
