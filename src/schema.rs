//! `kinesim schema`: a JSON Schema of the experiment file, generated from the serde
//! types that load it (`raw`), for editors with TOML schema support (Even Better TOML /
//! taplo). It describes shape (keys, types, kinds) and, where the loader has a fixed
//! range or form, that too (numeric bounds, the names of kinds and modes, the form of
//! durations, sizes, names and times), so an editor flags an out-of-range value as it is
//! typed. Cross-field rules, durations' and sizes' values, and the files an experiment
//! names are checked only when the file is loaded (`tests/schema.rs` lists each mistake
//! of the malformed corpus a schema cannot see, and why).
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
            string_pattern(&format!(r"^\s*{DURATION_PATTERN}\s*$")),
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
        // What `kinesim_sim::parse_size` reads: no space between the number and its unit.
        let text = string_pattern(r"^\s*[0-9]+(\.[0-9]+)?(B|KB|KiB|MB|MiB|GB|GiB)?\s*$");
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
        number.number().maximum = Some(1e9);
        let shapes = gen.subschema_for::<Tagged<RawRateShape>>();
        described(any_of(vec![number.into(), shapes]), "records per second in total, or a rate shape table")
    }
}

impl JsonSchema for RecordSize {
    fn schema_name() -> String {
        "RecordSize".into()
    }
    fn json_schema(gen: &mut SchemaGenerator) -> Schema {
        // A fixed size is at most 1 GiB (the loader's RECORD_SIZE_MAX).
        let mut bytes = typed(InstanceType::Integer);
        bytes.number().minimum = Some(0.0);
        bytes.number().maximum = Some((1u64 << 30) as f64);
        let text = string_pattern(r"^\s*[0-9]+(\.[0-9]+)?(B|KB|KiB|MB|MiB|GB|GiB)?\s*$");
        let shapes = gen.subschema_for::<Tagged<RawSizeShape>>();
        described(any_of(vec![bytes.into(), text.into(), shapes]), "data blob bytes, or a size distribution table")
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

// Bounds the loader checks (`experiment.rs`), written into the schema so that an editor
// flags an out-of-range value as it is typed. `raw.rs` names these types in
// `#[schemars(with = "Option<...>")]`; they only describe, the loader still decides.
// Each must accept everything the loader accepts: a schema stricter than the loader
// would flag valid files.

/// A marker type whose schema is a number within bounds.
macro_rules! number_schema {
    ($(#[$doc:meta])* $name:ident: $($bound:ident = $value:expr),+) => {
        $(#[$doc])*
        pub struct $name;
        impl JsonSchema for $name {
            fn schema_name() -> String {
                stringify!($name).into()
            }
            fn is_referenceable() -> bool {
                false
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                let mut schema = typed(InstanceType::Number);
                let number = schema.number();
                $(number.$bound = Some(f64::from($value));)+
                schema.into()
            }
        }
    };
}

/// A marker type whose schema is one of a list of strings.
macro_rules! strings_schema {
    ($(#[$doc:meta])* $name:ident: $values:expr) => {
        $(#[$doc])*
        pub struct $name;
        impl JsonSchema for $name {
            fn schema_name() -> String {
                stringify!($name).into()
            }
            fn is_referenceable() -> bool {
                false
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                let mut schema = typed(InstanceType::String);
                schema.enum_values = Some($values.iter().map(|v| serde_json::Value::from(*v)).collect());
                schema.into()
            }
        }
    };
}

/// A marker type whose schema is a string matching a pattern.
macro_rules! pattern_schema {
    ($(#[$doc:meta])* $name:ident: $pattern:expr, $description:expr) => {
        $(#[$doc])*
        pub struct $name;
        impl JsonSchema for $name {
            fn schema_name() -> String {
                stringify!($name).into()
            }
            fn is_referenceable() -> bool {
                false
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                described(string_pattern(&$pattern), $description)
            }
        }
    };
}

/// What `kinesim_sim::parse_duration` reads: digits, an optional fraction, a unit, no
/// space between them (surrounding spaces are trimmed).
const DURATION_PATTERN: &str = r"[0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h|d)";
/// What `crate::time::parse_rfc3339_nanos` reads up to the fraction of a second (it
/// also checks the day exists in its month), and the offset after it.
const RFC3339_SECOND: &str =
    r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt ]([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)";
const RFC3339_OFFSET: &str = r"([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])";

number_schema!(
    /// Above 0 and at most 1: a share or a fraction.
    AboveZeroAtMostOne: exclusive_minimum = 0, maximum = 1
);
number_schema!(
    /// From 0 to 1: a probability or a fraction.
    ZeroToOne: minimum = 0, maximum = 1
);
number_schema!(
    /// Above 0 and at most 5: a lognormal sigma.
    AboveZeroAtMostFive: exclusive_minimum = 0, maximum = 5
);
number_schema!(
    /// Above 0 and at most 10: a Zipf exponent, a coefficient of variation.
    AboveZeroAtMostTen: exclusive_minimum = 0, maximum = 10
);
number_schema!(
    /// Above 0 and at most 100: a percentage of capacity.
    AboveZeroAtMostHundred: exclusive_minimum = 0, maximum = 100
);
number_schema!(
    /// Above 0.
    AboveZero: exclusive_minimum = 0
);
number_schema!(
    /// At least 0.
    NotNegative: minimum = 0
);
number_schema!(
    /// Records per second: from 0 to 1e9.
    RecordsPerSecond: minimum = 0, maximum = 1e9
);
number_schema!(
    /// Records per second above 0, at most 1e9.
    RecordsPerSecondAboveZero: exclusive_minimum = 0, maximum = 1e9
);

strings_schema!(
    /// `fidelity`: batches per step, or every record on its own.
    Fidelity: ["stepped", "record"]
);
strings_schema!(
    /// `stream.mode` and the `mode` of a `set_mode` action.
    CapacityMode: ["provisioned", "on_demand", "on_demand_advantage"]
);
strings_schema!(
    /// `stream.encryption`.
    Encryption: ["none", "kms"]
);
strings_schema!(
    /// `stream.write_limit.enforcement`.
    Enforcement: ["fixed_window", "token_bucket"]
);
strings_schema!(
    /// `pricing.proration`.
    Proration: ["per_second", "per_started_hour"]
);
strings_schema!(
    /// `policy.kind`.
    PolicyKind: ["scaling_utils", "alarm_double_halve", "step", "target_tracking", "scheduled", "external"]
);
strings_schema!(
    /// `policy.fidelity` of `scaling_utils`.
    PolicyFidelity: ["as_implemented", "as_documented"]
);
strings_schema!(
    /// The `kind` of an action.
    ActionKind: crate::experiment::ACTION_KINDS
);
strings_schema!(
    /// `back_pressure.when_full`.
    WhenFull: ["block", "drop"]
);
strings_schema!(
    /// The `jitter` of an exponential retry.
    Jitter: ["full", "equal", "decorrelated"]
);
strings_schema!(
    /// A consumer's `kind`.
    ConsumerKind: ["polling", "efo", "lambda", "kcl", "firehose"]
);
strings_schema!(
    /// A consumer's `start`.
    StartPosition: ["latest", "trim_horizon", "at_timestamp"]
);
strings_schema!(
    /// How a Lambda or KCL consumer reads.
    Retrieval: ["polling", "efo"]
);

/// An `[[expect]]` metric: every metric of any scope (which ones a scope allows is a
/// cross-field rule, left to the loader).
pub struct Metric;

impl JsonSchema for Metric {
    fn schema_name() -> String {
        "Metric".into()
    }
    fn is_referenceable() -> bool {
        false
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        use kinesim_models::slo::*;
        let mut names: Vec<&str> =
            [STREAM_METRICS, CONSUMER_METRICS, PRODUCER_METRICS, STREAM_PERIOD_METRICS, CONSUMER_PERIOD_METRICS]
                .concat();
        names.sort_unstable();
        names.dedup();
        let mut schema = typed(InstanceType::String);
        schema.enum_values = Some(names.into_iter().map(serde_json::Value::from).collect());
        schema.into()
    }
}

pattern_schema!(
    /// The experiment's, a producer's or a consumer's name: it becomes a folder or file
    /// name, so 1 to 64 letters, digits, '-', '_' or '.', and neither "." nor "..".
    Name: r"^([A-Za-z0-9_-][A-Za-z0-9._-]{0,63}|\.([A-Za-z0-9_-][A-Za-z0-9._-]{0,62}|\.[A-Za-z0-9._-]{1,62}))$",
    "1 to 64 letters, digits, '-', '_' or '.' (not \".\" or \"..\")"
);
pattern_schema!(
    /// `start`: an RFC 3339 time on a whole second.
    Rfc3339: format!(r"^{RFC3339_SECOND}(\.0+)?{RFC3339_OFFSET}$"),
    "an RFC 3339 time on a whole second such as \"2026-03-02T00:00:00Z\""
);
pattern_schema!(
    /// A consumer's `timestamp`: a time from the run's start, or an RFC 3339 time.
    DurationOrRfc3339: format!(r"^(\s*{DURATION_PATTERN}\s*|{RFC3339_SECOND}(\.[0-9]{{1,9}}0*)?{RFC3339_OFFSET})$"),
    "a time from the run's start such as \"5m\", or an RFC 3339 time"
);
pattern_schema!(
    /// `output.shards`, `output.consumers`, `stream.on_demand.scale_down_after`.
    DurationOrOff: format!(r"^(\s*{DURATION_PATTERN}\s*|off)$"),
    "a duration such as \"1m\", or \"off\""
);
pattern_schema!(
    /// An explicit hash key: a decimal integer without leading zeros, up to 39 digits.
    HashKey: r"^(0|[1-9][0-9]{0,38})$",
    "a decimal hash key from 0 to 2^128-1"
);
pattern_schema!(
    /// Where a `split_shard` action splits.
    SplitAt: r"^(midpoint|balanced|0|[1-9][0-9]{0,38})$",
    "\"midpoint\", \"balanced\" or a decimal hash key"
);
pattern_schema!(
    /// A shard id as AWS prints it.
    ShardId: r"^shardId-[0-9]{12}$",
    "a shard id such as \"shardId-000000000001\""
);

/// `[sweep]` (read by `crate::sweep`): replications, a baseline point, and the grid and
/// zip tables of key paths with their lists of values.
pub struct Sweep;

impl JsonSchema for Sweep {
    fn schema_name() -> String {
        "Sweep".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let mut replications = typed(InstanceType::Integer);
        replications.number().minimum = Some(1.0);
        replications.number().maximum = Some(crate::sweep::REPLICATIONS_MAX as f64);
        let mut values = typed(InstanceType::Array);
        values.array().min_items = Some(1);
        values.array().max_items = Some(10_000);
        let paths = |description: &str| {
            let mut table = typed(InstanceType::Object);
            table.object().additional_properties = Some(Box::new(values.clone().into()));
            described(table, description)
        };
        let mut baseline = typed(InstanceType::Object);
        baseline.object().additional_properties = Some(Box::new(Schema::Bool(true)));
        let mut sweep = typed(InstanceType::Object);
        let object = sweep.object();
        object.properties.insert(
            "replications".into(),
            described(replications, "runs per point, with seeds seed, seed + 1, ... (default 1)"),
        );
        object.properties.insert(
            "baseline".into(),
            described(baseline, "the point others are compared with: key paths and one of their swept values"),
        );
        object.properties.insert("grid".into(), paths("key paths and their values: every combination"));
        object.properties.insert("zip".into(), paths("key paths whose lists of values vary together"));
        object.additional_properties = Some(Box::new(Schema::Bool(false)));
        described(sweep, "the grid `kinesim sweep` runs")
    }
}
