//! The experiment file as written: serde types mirroring the TOML, unknown keys rejected.
//!
//! These types only describe shape (which keys, which types). Meaning and bounds are
//! checked when they are converted into a validated spec (`experiment.rs`); the
//! `#[schemars(...)]` attributes copy the fixed bounds into `kinesim schema` for editors
//! (`schema.rs`) and change nothing in loading. Values
//! that may be written as a number or a table (`rate`, `record_size`) or as a string or a
//! table (`arrivals`, `api`, `retry`) have their own visitors so serde's messages stay
//! precise ("expected a duration such as ...") instead of "did not match any variant".

use kinesim_sim::{parse_duration, parse_size, SimDuration};
use serde::de::{self, value::MapAccessDeserializer, DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::marker::PhantomData;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawExperiment {
    #[schemars(with = "Option<crate::schema::Name>")]
    pub name: Option<String>,
    pub seed: Option<u64>,
    pub duration: Duration,
    #[schemars(with = "Option<crate::schema::Rfc3339>")]
    #[serde(default, deserialize_with = "time_text")]
    pub start: Option<String>,
    #[schemars(with = "Option<crate::schema::Fidelity>")]
    pub fidelity: Option<String>,
    pub step: Option<Duration>,
    #[schemars(with = "Option<crate::schema::DurationOrOff>")]
    pub coast: Option<String>,
    pub metrics_period: Option<Duration>,
    pub output: Option<RawOutput>,
    pub stream: RawStream,
    #[serde(default)]
    pub producers: Vec<RawProducer>,
    #[serde(default)]
    pub consumers: Vec<RawConsumer>,
    #[serde(default)]
    pub actions: Vec<RawAction>,
    #[serde(default)]
    pub expect: Vec<RawExpect>,
    pub policy: Option<RawPolicy>,
    pub pricing: Option<RawPricing>,
    /// `[sweep]`, used by `kinesim sweep` (checked by `crate::sweep`).
    #[schemars(with = "Option<crate::schema::Sweep>")]
    pub sweep: Option<toml::Value>,
}

/// The `[pricing]` table: where the rates come from and how time is billed.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPricing {
    pub file: Option<String>,
    #[schemars(with = "Option<crate::schema::Proration>")]
    pub proration: Option<String>,
    pub advantage_other_in_bytes_per_s: Option<Size>,
    pub advantage_other_out_bytes_per_s: Option<Size>,
}

/// The `[policy]` table.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    #[schemars(with = "crate::schema::PolicyKind")]
    pub kind: String,
    #[schemars(with = "Option<crate::schema::AboveZero>")]
    pub up_threshold: Option<f64>,
    #[schemars(with = "Option<crate::schema::NotNegative>")]
    pub down_threshold: Option<f64>,
    pub period: Option<Duration>,
    pub publish_delay: Option<Duration>,
    #[schemars(with = "Option<crate::schema::AboveZeroAtMostHundred>")]
    pub threshold_pct: Option<f64>,
    #[schemars(with = "Option<crate::schema::AboveZeroAtMostHundred>")]
    pub target_pct: Option<f64>,
    /// `target_tracking`: the shapes of its two alarms (unverified, scaling-policies §1.3).
    #[schemars(range(min = 1, max = "kinesim_models::policy::ALARM_DATAPOINTS_MAX"))]
    pub out_datapoints: Option<u64>,
    #[schemars(range(min = 1, max = "kinesim_models::policy::ALARM_DATAPOINTS_MAX"))]
    pub in_datapoints: Option<u64>,
    #[schemars(with = "Option<crate::schema::AboveZeroAtMostOne>")]
    pub in_ratio: Option<f64>,
    #[schemars(range(min = 1, max = "kinesim_models::spec::SHARDS_MAX"))]
    pub min_shards: Option<u64>,
    #[schemars(range(min = 1, max = "kinesim_models::spec::SHARDS_MAX"))]
    pub max_shards: Option<u64>,
    pub cooldown: Option<Duration>,
    pub schedule: Option<Vec<(Duration, u64)>>,
    pub repeat: Option<Duration>,
    pub scale_down_min_iter_age: Option<Duration>,
    /// `external`: the program and its arguments, and the wait for each answer.
    #[schemars(length(min = 1))]
    pub command: Option<Vec<String>>,
    pub timeout: Option<Duration>,
    /// `scaling_utils`: the tool's JSON file, the monitor to use, and the reading of
    /// its two undocumented behaviours.
    pub config: Option<String>,
    pub stream_name: Option<String>,
    #[schemars(with = "Option<crate::schema::PolicyFidelity>")]
    pub fidelity: Option<String>,
}

/// One `[[expect]]` entry.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    #[schemars(with = "crate::schema::Metric")]
    pub metric: String,
    pub consumer: Option<String>,
    pub producer: Option<String>,
    pub max: Option<f64>,
    pub min: Option<f64>,
    #[schemars(with = "Option<crate::schema::AboveZeroAtMostOne>")]
    pub fraction: Option<f64>,
}

/// One `[[actions]]` entry: a kind and its keys, checked by the validator per kind.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAction {
    pub at: Duration,
    #[schemars(with = "crate::schema::ActionKind")]
    pub kind: String,
    #[schemars(with = "Option<crate::schema::ShardId>")]
    pub shard: Option<String>,
    #[schemars(with = "Option<crate::schema::SplitAt>")]
    pub hash_key: Option<String>,
    #[schemars(with = "Option<crate::schema::ShardId>")]
    pub adjacent_shard: Option<String>,
    #[schemars(range(min = 1, max = 10000))]
    pub target_shards: Option<u64>,
    pub retention: Option<Duration>,
    pub producer: Option<String>,
    pub length: Option<Duration>,
    #[schemars(with = "Option<crate::schema::AboveZero>")]
    pub catch_up_rate: Option<f64>,
    #[schemars(with = "Option<crate::schema::CapacityMode>")]
    pub mode: Option<String>,
    #[schemars(range(min = 0, max = "kinesim_models::on_demand::WARM_MIBPS_MAX"))]
    pub mibps: Option<u64>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawOutput {
    #[schemars(with = "Option<crate::schema::DurationOrOff>")]
    pub shards: Option<String>,
    #[schemars(with = "Option<crate::schema::DurationOrOff>")]
    pub consumers: Option<String>,
    #[schemars(range(min = 0, max = 1000))]
    pub hot_keys: Option<u64>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStream {
    #[schemars(with = "Option<crate::schema::CapacityMode>")]
    pub mode: Option<String>,
    #[schemars(range(min = 1, max = "kinesim_models::spec::SHARDS_MAX"))]
    pub shards: Option<u64>,
    pub retention: Option<Duration>,
    pub max_record_size: Option<Size>,
    pub propagation_delay: Option<Duration>,
    pub reshard_duration: Option<Duration>,
    pub write_limit: Option<RawWriteLimit>,
    pub read_limit: Option<RawReadLimit>,
    pub on_demand: Option<RawOnDemand>,
    /// Server-side encryption: "none" (default) or "kms".
    #[schemars(with = "Option<crate::schema::Encryption>")]
    pub encryption: Option<String>,
}

/// `[stream.on_demand]`: the on-demand controller's parameters.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawOnDemand {
    pub split_bytes_per_s: Option<Size>,
    #[schemars(range(min = 1, max = 1000))]
    pub split_records_per_s: Option<u64>,
    pub evaluation_period: Option<Duration>,
    pub split_delay: Option<Duration>,
    /// A duration, or "off".
    #[schemars(with = "Option<crate::schema::DurationOrOff>")]
    pub scale_down_after: Option<String>,
    #[schemars(range(min = 1, max = 10000))]
    pub shards_min: Option<u64>,
    pub warm_duration: Option<Duration>,
    #[schemars(range(min = 0, max = "kinesim_models::on_demand::WARM_MIBPS_MAX"))]
    pub warm_throughput_mibps: Option<u64>,
    #[schemars(range(min = 1, max = 10240))]
    pub write_max_mibps: Option<u64>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawWriteLimit {
    #[schemars(with = "Option<crate::schema::Enforcement>")]
    pub enforcement: Option<String>,
    pub bucket_depth: Option<Duration>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawReadLimit {
    pub bucket_depth: Option<Size>,
    pub overdraft: Option<Size>,
    pub throttled_calls_count: Option<bool>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawProducer {
    #[schemars(with = "crate::schema::Name")]
    pub name: String,
    pub rate: Rate,
    #[schemars(range(min = 1, max = 100000))]
    pub instances: Option<u64>,
    pub arrivals: Option<KindOrTable<RawArrivals>>,
    pub record_size: Option<RecordSize>,
    pub keys: Option<Tagged<RawKeys>>,
    pub api: Option<KindOrTable<RawApi>>,
    pub retry: Option<KindOrTable<RawRetry>>,
    pub back_pressure: Option<RawBackPressure>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBackPressure {
    #[schemars(range(min = 1, max = 1000000000))]
    pub buffer: Option<u64>,
    #[schemars(with = "Option<crate::schema::WhenFull>")]
    pub when_full: Option<String>,
    #[schemars(range(min = 1, max = 10000))]
    pub max_in_flight: Option<u64>,
    pub request_latency: Option<Duration>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RawRateShape {
    Constant {
        #[schemars(with = "crate::schema::RecordsPerSecond")]
        rate: f64,
    },
    Steps {
        steps: Vec<(Duration, f64)>,
    },
    Ramp {
        #[schemars(with = "crate::schema::RecordsPerSecond")]
        from: f64,
        #[schemars(with = "crate::schema::RecordsPerSecond")]
        to: f64,
        start: Duration,
        end: Duration,
    },
    Diurnal {
        #[schemars(with = "crate::schema::RecordsPerSecond")]
        mean: f64,
        #[schemars(with = "crate::schema::ZeroToOne")]
        amplitude: f64,
        period: Option<Duration>,
        peak_at: Option<Duration>,
    },
    Bursts {
        #[schemars(with = "crate::schema::RecordsPerSecond")]
        base: f64,
        #[schemars(with = "crate::schema::RecordsPerSecond")]
        peak: f64,
        every: Duration,
        length: Duration,
        first: Option<Duration>,
    },
    Trace {
        file: String,
        period: Option<Duration>,
    },
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RawArrivals {
    Poisson,
    Uniform,
    Bursty {
        #[schemars(with = "Option<crate::schema::AboveZeroAtMostTen>")]
        cv: Option<f64>,
        period: Option<Duration>,
    },
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RawSizeShape {
    Fixed {
        size: Size,
    },
    Uniform {
        min: Size,
        max: Size,
    },
    Lognormal {
        median: Size,
        #[schemars(with = "crate::schema::AboveZeroAtMostFive")]
        sigma: f64,
        min: Option<Size>,
        max: Option<Size>,
    },
    Empirical {
        table: Vec<(Size, f64)>,
    },
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RawKeys {
    Uniform {
        #[schemars(range(min = 1, max = "kinesim_models::spec::NAMED_KEYS_MAX"))]
        count: u64,
        #[schemars(length(max = 255))]
        prefix: Option<String>,
        first: Option<u64>,
        #[schemars(range(min = 1, max = 1000))]
        salt: Option<u64>,
        #[schemars(range(min = 1))]
        salted: Option<u64>,
    },
    Zipf {
        #[schemars(range(min = 1, max = "kinesim_models::spec::NAMED_KEYS_MAX"))]
        count: u64,
        #[schemars(with = "crate::schema::AboveZeroAtMostTen")]
        exponent: f64,
        #[schemars(length(max = 255))]
        prefix: Option<String>,
        first: Option<u64>,
        #[schemars(range(min = 1, max = 1000))]
        salt: Option<u64>,
        #[schemars(range(min = 1))]
        salted: Option<u64>,
    },
    Hot {
        #[schemars(range(min = 1, max = "kinesim_models::spec::NAMED_KEYS_MAX"))]
        count: u64,
        #[schemars(range(min = 1))]
        hot: Option<u64>,
        #[schemars(with = "crate::schema::AboveZeroAtMostOne")]
        share: f64,
        #[schemars(length(max = 255))]
        prefix: Option<String>,
        first: Option<u64>,
        #[schemars(range(min = 1, max = 1000))]
        salt: Option<u64>,
        #[schemars(range(min = 1))]
        salted: Option<u64>,
    },
    Random {
        #[schemars(range(min = 1, max = 256))]
        key_bytes: Option<u64>,
    },
    Explicit {
        #[schemars(with = "crate::schema::HashKey")]
        hash_key: String,
        #[schemars(length(min = 1, max = 256))]
        partition_key: Option<String>,
    },
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RawApi {
    PutRecord,
    PutRecords {
        #[schemars(range(min = 1, max = 500))]
        max_records: Option<u64>,
        max_bytes: Option<Size>,
        linger: Option<Duration>,
    },
    Kpl {
        aggregation: Option<bool>,
        aggregation_max_bytes: Option<Size>,
        #[schemars(range(min = 1))]
        aggregation_max_count: Option<u64>,
        #[schemars(range(min = 1, max = 500))]
        collection_max_records: Option<u64>,
        collection_max_bytes: Option<Size>,
        max_buffered_time: Option<Duration>,
        record_ttl: Option<Duration>,
        #[schemars(range(min = 1, max = 10000))]
        rate_limit_pct: Option<u64>,
    },
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RawRetry {
    None,
    Exponential {
        base: Duration,
        cap: Duration,
        #[schemars(range(min = 1, max = "kinesim_models::spec::RETRY_ATTEMPTS_MAX"))]
        max_attempts: u64,
        #[schemars(with = "Option<crate::schema::Jitter>")]
        jitter: Option<String>,
    },
    SdkStandard {
        #[schemars(range(min = 1, max = "kinesim_models::spec::RETRY_ATTEMPTS_MAX"))]
        max_attempts: Option<u64>,
    },
    Kpl,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawConsumer {
    #[schemars(with = "crate::schema::Name")]
    pub name: String,
    #[schemars(with = "crate::schema::ConsumerKind")]
    pub kind: String,
    #[schemars(with = "Option<crate::schema::StartPosition>")]
    pub start: Option<String>,
    #[schemars(with = "Option<crate::schema::DurationOrRfc3339>")]
    #[serde(default, deserialize_with = "time_text")]
    pub timestamp: Option<String>,
    pub join: Option<Duration>,
    pub poll_interval: Option<Duration>,
    pub poll_jitter: Option<Duration>,
    #[schemars(range(min = 1, max = 10000))]
    pub max_records: Option<u64>,
    pub max_bytes: Option<Size>,
    pub push_latency: Option<Duration>,
    pub processing: Option<RawProcessing>,
    #[schemars(with = "Option<crate::schema::Retrieval>")]
    pub retrieval: Option<String>,
    #[schemars(range(min = 1, max = 10000))]
    pub batch_size: Option<u64>,
    #[schemars(range(min = 1, max = 10))]
    pub parallelization_factor: Option<u64>,
    #[schemars(range(min = 1, max = 10000))]
    pub max_concurrency: Option<u64>,
    pub function_duration: Option<RawFunctionDuration>,
    #[schemars(with = "Option<crate::schema::ZeroToOne>")]
    pub error_rate: Option<f64>,
    #[schemars(range(min = -1, max = 10000))]
    pub max_retry_attempts: Option<i64>,
    pub max_record_age: Option<Duration>,
    #[schemars(range(min = 1, max = 10000))]
    pub workers: Option<u64>,
    #[schemars(range(min = 1, max = 3))]
    pub kcl_version: Option<u64>,
    pub failover_time: Option<Duration>,
    pub checkpoint_interval: Option<Duration>,
    pub failures: Option<Vec<(Duration, u64)>>,
    #[schemars(length(max = 10000))]
    pub joins: Option<Vec<Duration>>,
    pub batching_window: Option<Duration>,
    #[schemars(with = "Option<crate::schema::ZeroToOne>")]
    pub poison_rate: Option<f64>,
    pub bisect_on_error: Option<bool>,
    pub buffer_size: Option<Size>,
    pub buffer_interval: Option<Duration>,
    pub delivery_latency: Option<Duration>,
}

/// `processing` of a polling or fan-out consumer: a rate, or a per-batch duration.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawProcessing {
    #[schemars(with = "Option<crate::schema::RecordsPerSecondAboveZero>")]
    pub records_per_second: Option<f64>,
    pub fixed: Option<Duration>,
    pub per_record: Option<Duration>,
}

/// Lambda's `function_duration`: one duration, or `{ fixed, per_record }`.
#[derive(Debug)]
pub struct RawFunctionDuration {
    pub fixed: Option<Duration>,
    pub per_record: Option<Duration>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct FunctionDurationParts {
    fixed: Option<Duration>,
    per_record: Option<Duration>,
}

impl<'de> Deserialize<'de> for RawFunctionDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PartsVisitor;
        impl<'de> Visitor<'de> for PartsVisitor {
            type Value = RawFunctionDuration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as \"200ms\", or a table { fixed = \"50ms\", per_record = \"1ms\" }")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<RawFunctionDuration, E> {
                let fixed = parse_duration(text).map_err(E::custom)?;
                Ok(RawFunctionDuration { fixed: Some(Duration(fixed)), per_record: None })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawFunctionDuration, A::Error> {
                let parts = FunctionDurationParts::deserialize(MapAccessDeserializer::new(map))?;
                Ok(RawFunctionDuration { fixed: parts.fixed, per_record: parts.per_record })
            }
        }
        deserializer.deserialize_any(PartsVisitor)
    }
}

/// A duration written as a string such as `"90s"`.
#[derive(Copy, Clone, Debug)]
pub struct Duration(pub SimDuration);

/// A time as text, written quoted (`"2026-03-02T13:59:00Z"`) or as a bare TOML datetime
/// (`2026-03-02T13:59:00Z`): both read the same, so a user who leaves out the quotes gets
/// what they meant rather than a type error. The loader then checks the text.
fn time_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    struct TimeText;
    impl<'de> Visitor<'de> for TimeText {
        type Value = String;

        fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
            formatter.write_str("a time such as \"2026-03-02T13:59:00Z\"")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<String, E> {
            Ok(text.to_string())
        }

        fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<String, M::Error> {
            // The TOML parser hands a bare datetime over as a one-entry map.
            let datetime = toml::value::Datetime::deserialize(MapAccessDeserializer::new(map))?;
            Ok(datetime.to_string())
        }
    }
    deserializer.deserialize_any(TimeText).map(Some)
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;
        impl Visitor<'_> for DurationVisitor {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration string such as \"90s\", \"15m\", \"24h\" or \"250ms\"")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
                parse_duration(text).map(Duration).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(DurationVisitor)
    }
}

/// A byte size: an integer, or a string such as `"25KiB"`.
#[derive(Copy, Clone, Debug)]
pub struct Size(pub u64);

struct SizeVisitor;

impl Visitor<'_> for SizeVisitor {
    type Value = Size;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a size in bytes: an integer, or a string such as \"25KiB\" or \"1MiB\"")
    }
    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Size, E> {
        u64::try_from(value).map(Size).map_err(|_| E::custom(format!("a size cannot be negative, got {value}")))
    }
    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Size, E> {
        Ok(Size(value))
    }
    fn visit_str<E: de::Error>(self, text: &str) -> Result<Size, E> {
        parse_size(text).map(Size).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SizeVisitor)
    }
}

/// `rate`: records per second as a number, or a shape table.
#[derive(Debug)]
pub enum Rate {
    Constant(f64),
    Shape(RawRateShape),
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RateVisitor;
        impl<'de> Visitor<'de> for RateVisitor {
            type Value = Rate;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "records per second (a number) or a table such as { kind = \"steps\", steps = [[\"0s\", 1000]] }",
                )
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Rate, E> {
                Ok(Rate::Constant(value as f64))
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Rate, E> {
                Ok(Rate::Constant(value as f64))
            }
            fn visit_f64<E: de::Error>(self, value: f64) -> Result<Rate, E> {
                Ok(Rate::Constant(value))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Rate, A::Error> {
                tagged(map).map(Rate::Shape)
            }
        }
        deserializer.deserialize_any(RateVisitor)
    }
}

/// `record_size`: bytes (integer or size string), or a distribution table.
#[derive(Debug)]
pub enum RecordSize {
    Fixed(u64),
    Shape(RawSizeShape),
}

impl<'de> Deserialize<'de> for RecordSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RecordSizeVisitor;
        impl<'de> Visitor<'de> for RecordSizeVisitor {
            type Value = RecordSize;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("bytes (such as 1024 or \"1KiB\") or a table such as { kind = \"lognormal\", median = 1024, sigma = 0.5 }")
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<RecordSize, E> {
                SizeVisitor.visit_i64(value).map(|s| RecordSize::Fixed(s.0))
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<RecordSize, E> {
                Ok(RecordSize::Fixed(value))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<RecordSize, E> {
                SizeVisitor.visit_str(text).map(|s| RecordSize::Fixed(s.0))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RecordSize, A::Error> {
                tagged(map).map(RecordSize::Shape)
            }
        }
        deserializer.deserialize_any(RecordSizeVisitor)
    }
}

/// A kind written alone as a string (`"poisson"`) or as a table with a `kind` key.
#[derive(Debug)]
pub struct KindOrTable<T>(pub T);

impl<'de, T: DeserializeOwned> Deserialize<'de> for KindOrTable<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KindVisitor<T>(PhantomData<T>);
        impl<'de, T: DeserializeOwned> Visitor<'de> for KindVisitor<T> {
            type Value = KindOrTable<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a kind name (a string) or a table with a `kind` key")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<KindOrTable<T>, E> {
                deserialize_kind(text.to_string(), toml::Table::new()).map(KindOrTable)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<KindOrTable<T>, A::Error> {
                tagged(map).map(KindOrTable)
            }
        }
        deserializer.deserialize_any(KindVisitor(PhantomData))
    }
}

/// A table with a `kind` key, such as `keys = { kind = "zipf", count = 100, exponent = 1.1 }`.
#[derive(Debug)]
pub struct Tagged<T>(pub T);

impl<'de, T: DeserializeOwned> Deserialize<'de> for Tagged<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TaggedVisitor<T>(PhantomData<T>);
        impl<'de, T: DeserializeOwned> Visitor<'de> for TaggedVisitor<T> {
            type Value = Tagged<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table with a `kind` key")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Tagged<T>, A::Error> {
                tagged(map).map(Tagged)
            }
        }
        deserializer.deserialize_map(TaggedVisitor(PhantomData))
    }
}

/// Marks the key path inside a tagged table in an error message, so the loader can
/// name `producers[0].keys.count` rather than `producers[0].keys`.
pub const INNER_PATH_MARK: char = '\u{1}';

/// Reads a `{ kind = "name", ... }` table into the enum variant `name` (an externally
/// tagged serde enum). serde's own internally tagged enums buffer the table and lose
/// the path of a bad field; turning the table into `{ name = { ... } }` first keeps it,
/// and the inner path travels in the error message behind [`INNER_PATH_MARK`].
fn tagged<'de, A: MapAccess<'de>, T: DeserializeOwned>(map: A) -> Result<T, A::Error> {
    let mut table = toml::Table::deserialize(MapAccessDeserializer::new(map))?;
    let kind = match table.remove("kind") {
        Some(toml::Value::String(kind)) => kind,
        Some(_) => return Err(de::Error::custom("`kind` must be a string")),
        None => return Err(de::Error::custom("missing field `kind`")),
    };
    deserialize_kind(kind, table)
}

/// Deserializes the variant `kind` of `T` from the rest of its table.
fn deserialize_kind<T: DeserializeOwned, E: de::Error>(kind: String, table: toml::Table) -> Result<T, E> {
    let as_struct = |kind: String, table: toml::Table| {
        let value = toml::Value::Table(toml::Table::from_iter([(kind, toml::Value::Table(table))]));
        serde_path_to_error::deserialize::<_, T>(value)
    };
    let result = if table.is_empty() {
        // A kind alone is a unit variant, or a struct variant whose keys all have
        // defaults: try the first, then the second.
        serde_path_to_error::deserialize::<_, T>(toml::Value::String(kind.clone()))
            .or_else(|_| as_struct(kind.clone(), table))
    } else {
        as_struct(kind.clone(), table)
    };
    result.map_err(|error| {
        let message = error.inner().to_string();
        let message = if message.contains("expected unit variant") || message.contains("expected empty table") {
            format!("kind `{kind}` takes no other keys")
        } else {
            message
        };
        de::Error::custom(format!("{INNER_PATH_MARK}{}{INNER_PATH_MARK}{message}", inner_path(error.path())))
    })
}

/// The path below a tagged table, without the variant segment.
fn inner_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut text = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => text.push_str(&format!("[{index}]")),
            Segment::Map { key } => {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(key);
            }
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    text
}
