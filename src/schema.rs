//! `kinesim schema`: a JSON Schema of the experiment file, generated from the serde
//! types that load it (`raw`), for editors with TOML schema support (Even Better TOML /
//! taplo). It describes shape (keys, types, kinds); bounds and cross-field rules are
//! checked when the file is loaded.
//!
//! The types whose serde form is hand-written (durations, sizes, `rate`, `record_size`,
//! `kind` tables) get hand-written schemas here that follow their visitors.

use crate::raw::*;
use schemars::gen::SchemaGenerator;
use schemars::schema::{InstanceType, Metadata, ObjectValidation, Schema, SchemaObject, SubschemaValidation};
use schemars::JsonSchema;

/// The experiment file's schema as JSON.
pub fn experiment_schema() -> serde_json::Value {
    let mut schema = schemars::schema_for!(RawExperiment);
    schema.schema.metadata().title = Some("kinesim experiment".into());
    schema.schema.metadata().description =
        Some("An experiment file of kinesim, the simulator of Amazon Kinesis Data Streams (README.md, docs/).".into());
    serde_json::to_value(schema).expect("a schema serialises")
}

fn described(mut schema: SchemaObject, description: &str) -> Schema {
    schema.metadata = Some(Box::new(Metadata { description: Some(description.into()), ..Default::default() }));
    Schema::Object(schema)
}

fn typed(instance: InstanceType) -> SchemaObject {
    SchemaObject { instance_type: Some(instance.into()), ..Default::default() }
}

fn any_of(schemas: Vec<Schema>) -> SchemaObject {
    SchemaObject {
        subschemas: Some(Box::new(SubschemaValidation { any_of: Some(schemas), ..Default::default() })),
        ..Default::default()
    }
}

fn string_pattern(pattern: &str) -> SchemaObject {
    let mut schema = typed(InstanceType::String);
    schema.string().pattern = Some(pattern.into());
    schema
}

impl JsonSchema for Duration {
    fn schema_name() -> String {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        described(
            string_pattern(r"^\s*[0-9]+(\.[0-9]+)?\s*(ns|us|ms|s|m|h|d)\s*$"),
            "a duration such as \"250ms\", \"90s\", \"15m\", \"24h\" or \"30d\"",
        )
    }
}

impl JsonSchema for Size {
    fn schema_name() -> String {
        "Size".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let mut bytes = typed(InstanceType::Integer);
        bytes.number().minimum = Some(0.0);
        let text = string_pattern(r"^\s*[0-9]+(\.[0-9]+)?\s*(B|KB|KiB|MB|MiB|GB|GiB)?\s*$");
        described(any_of(vec![bytes.into(), text.into()]), "bytes: an integer, or a string such as \"25KiB\"")
    }
}

impl JsonSchema for Rate {
    fn schema_name() -> String {
        "Rate".into()
    }
    fn json_schema(gen: &mut SchemaGenerator) -> Schema {
        let mut number = typed(InstanceType::Number);
        number.number().minimum = Some(0.0);
        let shapes = gen.subschema_for::<Tagged<RawRateShape>>();
        described(any_of(vec![number.into(), shapes]), "records per second in total, or a rate shape table")
    }
}

impl JsonSchema for RecordSize {
    fn schema_name() -> String {
        "RecordSize".into()
    }
    fn json_schema(gen: &mut SchemaGenerator) -> Schema {
        let fixed = gen.subschema_for::<Size>();
        let shapes = gen.subschema_for::<Tagged<RawSizeShape>>();
        described(any_of(vec![fixed, shapes]), "data blob bytes, or a size distribution table")
    }
}

impl JsonSchema for RawFunctionDuration {
    fn schema_name() -> String {
        "FunctionDuration".into()
    }
    fn json_schema(gen: &mut SchemaGenerator) -> Schema {
        let duration = gen.subschema_for::<Duration>();
        let mut parts = typed(InstanceType::Object);
        let object = parts.object();
        object.properties.insert("fixed".into(), gen.subschema_for::<Duration>());
        object.properties.insert("per_record".into(), gen.subschema_for::<Duration>());
        object.additional_properties = Some(Box::new(Schema::Bool(false)));
        described(any_of(vec![duration, parts.into()]), "one duration, or { fixed, per_record }")
    }
}

impl<T: JsonSchema> JsonSchema for Tagged<T> {
    fn schema_name() -> String {
        format!("Kind_{}", T::schema_name())
    }
    fn json_schema(gen: &mut SchemaGenerator) -> Schema {
        let (tables, _) = kind_tables::<T>(gen);
        Schema::Object(any_of(tables))
    }
}

impl<T: JsonSchema> JsonSchema for KindOrTable<T> {
    fn schema_name() -> String {
        format!("KindOrTable_{}", T::schema_name())
    }
    fn json_schema(gen: &mut SchemaGenerator) -> Schema {
        let (mut tables, names) = kind_tables::<T>(gen);
        let mut alone = typed(InstanceType::String);
        alone.enum_values = Some(names.into_iter().map(serde_json::Value::String).collect());
        tables.insert(0, alone.into());
        Schema::Object(any_of(tables))
    }
}

/// The `{ kind = "name", ... }` tables of an externally tagged enum's variants (as
/// `raw::tagged` reads them), and the names of the kinds that may stand alone.
fn kind_tables<T: JsonSchema>(gen: &mut SchemaGenerator) -> (Vec<Schema>, Vec<String>) {
    let mut enum_schema = match T::json_schema(gen) {
        Schema::Object(object) => object,
        Schema::Bool(_) => SchemaObject::default(),
    };
    let variants: Vec<Schema> = enum_schema
        .subschemas
        .take()
        .and_then(|s| s.one_of.or(s.any_of))
        .unwrap_or_else(|| vec![Schema::Object(enum_schema.clone())]);
    let mut tables = Vec::new();
    let mut alone = Vec::new();
    for variant in variants {
        let Schema::Object(mut variant) = variant else { continue };
        if let Some(names) = variant.enum_values.take() {
            for name in names.iter().filter_map(|n| n.as_str()) {
                alone.push(name.to_string());
                tables.push(kind_table(name, ObjectValidation::default()).into());
            }
            continue;
        }
        let Some(object) = variant.object.take() else { continue };
        for (name, inner) in object.properties {
            let inner = match inner {
                Schema::Object(mut inner) => inner.object.take().map(|o| *o).unwrap_or_default(),
                Schema::Bool(_) => ObjectValidation::default(),
            };
            // A struct variant whose keys are all optional may also stand alone.
            if inner.required.is_empty() {
                alone.push(name.clone());
            }
            tables.push(kind_table(&name, inner).into());
        }
    }
    (tables, alone)
}

fn kind_table(name: &str, mut inner: ObjectValidation) -> SchemaObject {
    let mut kind = typed(InstanceType::String);
    kind.const_value = Some(serde_json::Value::String(name.into()));
    inner.properties.insert("kind".into(), kind.into());
    inner.required.insert("kind".into());
    inner.additional_properties = Some(Box::new(Schema::Bool(false)));
    SchemaObject {
        instance_type: Some(InstanceType::Object.into()),
        object: Some(Box::new(inner)),
        ..Default::default()
    }
}
