//! Price files: Kinesis rates for another region, or negotiated ones, as a [`PriceTable`].
//!
//! A price file is flat TOML: `region`, an optional `base`, and rate keys named as the
//! fields of [`PriceTable`] (`shard_hour_usd = 0.015`). Two kinds of file, and nothing
//! in between, so that a rate is never taken from another region without the file saying
//! so:
//!
//! * Without `base`, the file is a complete table: every rate key must be present. This is
//!   the form for another region's list prices.
//! * With `base = "us-east-1"` (the only built-in table), the file starts from the
//!   built-in rates and lists only what differs: the form for a negotiated discount, or
//!   for a region that AWS prices as us-east-1 (us-east-2, pricing §8).
//!
//! Rates are USD from 0 to 1e6 per unit (0 makes a dimension free). The Advantage commitment
//! floors are bytes per second, an integer or a size string (`"25MiB"`). Unknown keys are
//! rejected, like everywhere else. Every error is one line naming the file, the key and
//! what is allowed.

use crate::error::LoadError;
use kinesim_models::cost::PriceTable;
use std::path::Path;
use toml::Value;

/// The only built-in table a file can start from.
pub const BASE_US_EAST_1: &str = "us-east-1";

/// Reads and validates a price file.
pub fn load_price_table(path: &Path) -> Result<PriceTable, LoadError> {
    let (_, text) = crate::experiment::read(path)?;
    parse_price_table(path, &text)
}

/// Validates price-file text as if read from `path`.
pub fn parse_price_table(path: &Path, text: &str) -> Result<PriceTable, LoadError> {
    let table: toml::Table = text.parse().map_err(|error: toml::de::Error| {
        let line = error.span().map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
        let message = format!("not valid TOML: {}", error.message().trim().replace('\n', " "));
        LoadError::Invalid { path: path.to_path_buf(), key: String::new(), line, message }
    })?;
    let err = |key: &str, message: String| LoadError::invalid(path, key, message);

    for key in table.keys() {
        if key != "region" && key != "base" && !KEYS.iter().any(|k| k.name == key) {
            let allowed: Vec<&str> = ["region", "base"].into_iter().chain(KEYS.iter().map(|k| k.name)).collect();
            return Err(err(key, format!("unknown key; allowed keys are {}", allowed.join(", "))));
        }
    }
    let region = match table.get("region") {
        None => {
            return Err(err("region", "missing: name the region these prices are for, such as \"eu-west-1\"".into()))
        }
        Some(Value::String(region)) if is_region_name(region) => region.clone(),
        Some(other) => {
            let allowed = "must be a region name such as \"eu-west-1\" (lowercase letters, digits and hyphens)";
            return Err(err("region", format!("{allowed}, got {}", shown(other))));
        }
    };
    let base = match table.get("base") {
        None => None,
        Some(Value::String(base)) if base == BASE_US_EAST_1 => Some(PriceTable::us_east_1()),
        Some(other) => {
            let allowed = "must be \"us-east-1\", the only built-in price table";
            return Err(err("base", format!("{allowed}, got {}", shown(other))));
        }
    };
    let has_base = base.is_some();
    // Without a base, every rate is set below: the built-in table only fills the struct.
    let mut prices = base.unwrap_or_else(PriceTable::us_east_1);
    prices.region = region;
    for key in &KEYS {
        match (table.get(key.name), has_base) {
            (Some(value), _) => key.set(&mut prices, value).map_err(|message| err(key.name, message))?,
            (None, true) => {}
            (None, false) => {
                let message = "missing: a file without `base` gives every rate; set `base = \"us-east-1\"` to \
                               start from the built-in us-east-1 rates and list only those that differ";
                return Err(err(key.name, message.into()));
            }
        }
    }
    Ok(prices)
}

fn is_region_name(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A rate key of the file and the field of [`PriceTable`] it sets.
struct Key {
    name: &'static str,
    field: Field,
}

enum Field {
    /// USD per the unit named, a finite number `>= 0`.
    Usd { per: &'static str, field: fn(&mut PriceTable) -> &mut f64 },
    /// Bytes per second, an integer or a size string.
    BytesPerS(fn(&mut PriceTable) -> &mut u64),
}

/// The highest price per unit accepted, in USD: far above any AWS price (cents per
/// unit), low enough that a month of a large stream still has a finite cost.
const PRICE_USD_MAX: f64 = 1e6;

impl Key {
    fn set(&self, prices: &mut PriceTable, value: &Value) -> Result<(), String> {
        match self.field {
            Field::Usd { per, field } => {
                let usd = match value {
                    Value::Integer(number) => Some(*number as f64),
                    Value::Float(number) => Some(*number),
                    _ => None,
                };
                match usd {
                    Some(usd) if (0.0..=PRICE_USD_MAX).contains(&usd) => *field(prices) = usd,
                    _ => {
                        return Err(format!(
                            "must be a number from 0 to {PRICE_USD_MAX:e} (USD per {per}), got {}",
                            shown(value)
                        ))
                    }
                }
            }
            Field::BytesPerS(field) => {
                let bytes = match value {
                    Value::Integer(number) => u64::try_from(*number).ok(),
                    Value::String(text) => kinesim_sim::parse_size(text).ok(),
                    _ => None,
                };
                match bytes {
                    Some(bytes) => *field(prices) = bytes,
                    None => {
                        let allowed = "must be bytes per second: an integer >= 0 or a size such as \"25MiB\"";
                        return Err(format!("{allowed}, got {}", shown(value)));
                    }
                }
            }
        }
        Ok(())
    }
}

const fn usd(name: &'static str, per: &'static str, field: fn(&mut PriceTable) -> &mut f64) -> Key {
    Key { name, field: Field::Usd { per, field } }
}

/// Every rate key, in the order of [`PriceTable`]'s fields.
const KEYS: [Key; 21] = [
    usd("shard_hour_usd", "shard-hour", |p| &mut p.shard_hour_usd),
    usd("put_payload_units_per_million_usd", "million PUT payload units", |p| &mut p.put_payload_units_per_million_usd),
    usd("extended_retention_shard_hour_usd", "shard-hour", |p| &mut p.extended_retention_shard_hour_usd),
    usd("long_term_retention_gb_month_usd", "GB-month", |p| &mut p.long_term_retention_gb_month_usd),
    usd("long_term_retrieval_gb_usd", "GB", |p| &mut p.long_term_retrieval_gb_usd),
    usd("efo_consumer_shard_hour_usd", "consumer-shard-hour", |p| &mut p.efo_consumer_shard_hour_usd),
    usd("efo_data_gb_usd", "GB", |p| &mut p.efo_data_gb_usd),
    usd("on_demand_stream_hour_usd", "stream-hour", |p| &mut p.on_demand_stream_hour_usd),
    usd("on_demand_data_in_gb_usd", "GB", |p| &mut p.on_demand_data_in_gb_usd),
    usd("on_demand_data_out_gb_usd", "GB", |p| &mut p.on_demand_data_out_gb_usd),
    usd("on_demand_efo_data_gb_usd", "GB", |p| &mut p.on_demand_efo_data_gb_usd),
    usd("on_demand_extended_retention_gb_month_usd", "GB-month", |p| &mut p.on_demand_extended_retention_gb_month_usd),
    usd("on_demand_long_term_retention_gb_month_usd", "GB-month", |p| {
        &mut p.on_demand_long_term_retention_gb_month_usd
    }),
    usd("advantage_data_in_gb_usd", "GB", |p| &mut p.advantage_data_in_gb_usd),
    usd("advantage_data_out_gb_usd", "GB", |p| &mut p.advantage_data_out_gb_usd),
    usd("advantage_efo_data_gb_usd", "GB", |p| &mut p.advantage_efo_data_gb_usd),
    usd("advantage_extended_retention_gb_month_usd", "GB-month", |p| &mut p.advantage_extended_retention_gb_month_usd),
    usd("advantage_long_term_retention_gb_month_usd", "GB-month", |p| {
        &mut p.advantage_long_term_retention_gb_month_usd
    }),
    Key {
        name: "advantage_commitment_in_bytes_per_s",
        field: Field::BytesPerS(|p| &mut p.advantage_commitment_in_bytes_per_s),
    },
    Key {
        name: "advantage_commitment_out_bytes_per_s",
        field: Field::BytesPerS(|p| &mut p.advantage_commitment_out_bytes_per_s),
    },
    usd("kms_requests_per_10k_usd", "10,000 KMS requests", |p| &mut p.kms_requests_per_10k_usd),
];

/// A TOML value as the user wrote it, for "got ..." in messages.
fn shown(value: &Value) -> String {
    match value {
        Value::String(text) => format!("{text:?}"),
        Value::Integer(number) => number.to_string(),
        Value::Float(number) => number.to_string(),
        Value::Boolean(flag) => flag.to_string(),
        Value::Datetime(_) => "a date-time".to_string(),
        Value::Array(_) => "an array".to_string(),
        Value::Table(_) => "a table".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn parse(text: &str) -> Result<PriceTable, String> {
        parse_price_table(Path::new("experiments/pricing/test.toml"), text).map_err(|error| error.to_string())
    }

    fn error(text: &str) -> String {
        let message = parse(text).expect_err("the file is rejected");
        assert!(!message.contains('\n'), "one line: {message}");
        message
    }

    /// A complete file: every rate key, at the built-in values but for the shard-hour.
    fn complete_file() -> String {
        let mut text = String::from("region = \"eu-west-1\"\n");
        for key in &KEYS {
            let value = match key.field {
                Field::Usd { .. } if key.name == "shard_hour_usd" => "0.0165".to_string(),
                Field::Usd { field, .. } => format!("{:?}", *field(&mut PriceTable::us_east_1())),
                Field::BytesPerS(_) => "\"25MiB\"".to_string(),
            };
            text.push_str(&format!("{} = {value}\n", key.name));
        }
        text
    }

    #[test]
    fn keys_cover_every_rate_of_the_table() {
        // Setting every key to a distinct value reaches every numeric field once.
        let mut prices = PriceTable::us_east_1();
        for (index, key) in KEYS.iter().enumerate() {
            let value = Value::Integer(1_000 + index as i64);
            key.set(&mut prices, &value).unwrap();
        }
        let debug = format!("{prices:?}");
        for index in 0..KEYS.len() {
            assert!(debug.contains(&format!("{}", 1_000 + index)), "{debug}");
        }
        // PriceTable's fields: the region and one per key.
        assert_eq!(debug.matches(": ").count(), 1 + KEYS.len(), "{debug}");
    }

    #[test]
    fn a_complete_file_needs_no_base() {
        let prices = parse(&complete_file()).unwrap();
        assert_eq!(prices.region, "eu-west-1");
        assert_eq!(prices.shard_hour_usd, 0.0165);
        assert_eq!(
            prices,
            PriceTable { region: "eu-west-1".into(), shard_hour_usd: 0.0165, ..PriceTable::us_east_1() }
        );
    }

    #[test]
    fn a_base_file_lists_only_what_differs() {
        let text = "region = \"us-east-1\"\nbase = \"us-east-1\"\nshard_hour_usd = 0.0135\nefo_data_gb_usd = 0\n\
                    advantage_commitment_in_bytes_per_s = 1048576\n";
        let prices = parse(text).unwrap();
        let expected = PriceTable {
            shard_hour_usd: 0.0135,
            efo_data_gb_usd: 0.0,
            advantage_commitment_in_bytes_per_s: 1_048_576,
            ..PriceTable::us_east_1()
        };
        assert_eq!(prices, expected);
        let relabelled = parse("region = \"us-east-2\"\nbase = \"us-east-1\"\n").unwrap();
        assert_eq!(relabelled, PriceTable { region: "us-east-2".into(), ..PriceTable::us_east_1() });
    }

    #[test]
    fn the_example_files_load() {
        let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("experiments/pricing");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
            .collect();
        files.sort();
        assert!(!files.is_empty());
        for file in files {
            load_price_table(&file).unwrap_or_else(|error| panic!("{error}"));
        }
    }

    #[test]
    fn the_negotiated_discount_example() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("experiments/pricing/negotiated-discount.toml");
        let prices = load_price_table(&path).unwrap();
        let expected = PriceTable {
            shard_hour_usd: 0.0135,
            put_payload_units_per_million_usd: 0.0126,
            efo_consumer_shard_hour_usd: 0.0135,
            efo_data_gb_usd: 0.0117,
            ..PriceTable::us_east_1()
        };
        assert_eq!(prices, expected);
    }

    #[test]
    fn negative_rate() {
        assert_eq!(
            error("region = \"eu-west-1\"\nbase = \"us-east-1\"\nshard_hour_usd = -1\n"),
            "experiments/pricing/test.toml: key `shard_hour_usd`: must be a number from 0 to 1e6 (USD per shard-hour), got -1"
        );
    }

    #[test]
    fn rate_not_a_finite_number() {
        let message = error("region = \"eu-west-1\"\nbase = \"us-east-1\"\nefo_data_gb_usd = nan\n");
        assert!(
            message.ends_with("key `efo_data_gb_usd`: must be a number from 0 to 1e6 (USD per GB), got NaN"),
            "{message}"
        );
        let message = error("region = \"eu-west-1\"\nbase = \"us-east-1\"\non_demand_stream_hour_usd = inf\n");
        assert!(message.ends_with("(USD per stream-hour), got inf"), "{message}");
        let message = error("region = \"eu-west-1\"\nbase = \"us-east-1\"\nkms_requests_per_10k_usd = \"0.03\"\n");
        assert!(message.ends_with("(USD per 10,000 KMS requests), got \"0.03\""), "{message}");
    }

    #[test]
    fn bad_commitment() {
        let message = error(
            "region = \"eu-west-1\"\nbase = \"us-east-1\"\nadvantage_commitment_out_bytes_per_s = \"25 parsecs\"\n",
        );
        assert!(
            message.ends_with(
                "key `advantage_commitment_out_bytes_per_s`: must be bytes per second: an integer >= 0 or a size \
                 such as \"25MiB\", got \"25 parsecs\""
            ),
            "{message}"
        );
        let message = error("region = \"eu-west-1\"\nbase = \"us-east-1\"\nadvantage_commitment_in_bytes_per_s = -5\n");
        assert!(message.ends_with("got -5"), "{message}");
    }

    #[test]
    fn unknown_key() {
        let message = error("region = \"eu-west-1\"\nbase = \"us-east-1\"\nshard_hour_us = 0.015\n");
        assert!(
            message.starts_with(
                "experiments/pricing/test.toml: key `shard_hour_us`: unknown key; allowed keys are region, base, \
                 shard_hour_usd, "
            ),
            "{message}"
        );
        let message = error("region = \"eu-west-1\"\nbase = \"us-east-1\"\n[rates]\nshard_hour_usd = 0.015\n");
        assert!(message.contains("key `rates`: unknown key"), "{message}");
    }

    #[test]
    fn missing_rate_without_base() {
        let text = complete_file().replace("efo_data_gb_usd = 0.013\n", "");
        assert_eq!(
            error(&text),
            "experiments/pricing/test.toml: key `efo_data_gb_usd`: missing: a file without `base` gives every rate; \
             set `base = \"us-east-1\"` to start from the built-in us-east-1 rates and list only those that differ"
        );
    }

    #[test]
    fn region_missing_or_malformed() {
        let message = error("base = \"us-east-1\"\n");
        assert!(message.starts_with("experiments/pricing/test.toml: key `region`: missing"), "{message}");
        let message = error("region = \"EU West\"\nbase = \"us-east-1\"\n");
        assert!(message.ends_with("(lowercase letters, digits and hyphens), got \"EU West\""), "{message}");
        let message = error("region = 1\nbase = \"us-east-1\"\n");
        assert!(message.ends_with("got 1"), "{message}");
    }

    #[test]
    fn unknown_base() {
        assert_eq!(
            error("region = \"eu-west-1\"\nbase = \"eu-west-1\"\n"),
            "experiments/pricing/test.toml: key `base`: must be \"us-east-1\", the only built-in price table, got \
             \"eu-west-1\""
        );
    }

    #[test]
    fn not_toml() {
        let message = error("region = \"eu-west-1\"\nshard_hour_usd = = 1\n");
        assert!(message.starts_with("experiments/pricing/test.toml:2: not valid TOML: "), "{message}");
    }

    #[test]
    fn missing_file() {
        let path = Path::new("experiments/pricing/no-such-region.toml");
        let message = load_price_table(path).unwrap_err().to_string();
        assert!(message.starts_with("experiments/pricing/no-such-region.toml: cannot read the file: "), "{message}");
        assert!(!message.contains('\n'), "{message}");
    }
}
