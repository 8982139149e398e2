//! Cost: a run's bill follows the shards that existed and the records accepted, and
//! `cost.csv` adds up to `summary.json` (arithmetic per dimension: models/src/cost.rs).

mod common;

use std::collections::BTreeMap;

fn csv_rows(path: &std::path::Path) -> Vec<BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|record| headers.iter().zip(record.unwrap().iter()).map(|(h, v)| (h.to_string(), v.to_string())).collect())
        .collect()
}

/// A week of a provisioned stream that is split once: the bill equals shard-hours x
/// $0.015 plus PUT payload units x $0.014 per million, both counted here from the
/// run's CSV files (the split's time from events.csv, accepted records from stream.csv).
#[test]
fn a_weeks_provisioned_bill_is_shard_hours_and_payload_units() {
    let folder = common::scratch("cost-week");
    let experiment = folder.join("week.toml");
    let text = r#"
        name = "week"
        duration = "7d"
        metrics_period = "1h"
        [output]
        shards = "off"
        consumers = "off"
        [stream]
        shards = 2
        [[producers]]
        name = "p"
        rate = 50
        record_size = 3000
        keys = { kind = "uniform", count = 100 }
        [[actions]]
        at = "72h"
        kind = "split_shard"
        shard = "shardId-000000000000"
        "#;
    std::fs::write(&experiment, text).unwrap();
    let out = folder.join("out");
    let status = common::kinesim().arg("run").arg(&experiment).arg("--quiet").arg("--out").arg(&out).status();
    assert!(status.unwrap().success());

    let events = csv_rows(&out.join("events.csv"));
    let split = events.iter().find(|e| e["kind"] == "split_shard").expect("split");
    let split_h: f64 = split["time_s"].parse::<f64>().unwrap() / 3600.0;
    assert_eq!(split_h, 72.0 + 5.0 / 3600.0, "called at 72 h, done 5 s later");
    // 2 shards until the split, then 3 (the parent closes, two children open).
    let shard_hours = 2.0 * split_h + 3.0 * (168.0 - split_h);
    let accepted: u64 =
        csv_rows(&out.join("stream.csv")).iter().map(|r| r["incoming_records"].parse::<u64>().unwrap()).sum();
    // 3,000-byte records with short keys: one 25 KiB payload unit each.
    let expected = shard_hours * 0.015 + accepted as f64 * 0.014 / 1e6;

    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let total = summary["cost_usd_total"].as_f64().unwrap();
    assert!((total - expected).abs() < 1e-6, "summary {total} vs {expected} from the CSVs");
    assert!((summary["cost_usd_per_month"].as_f64().unwrap() - total * 730.0 / 168.0).abs() < 1e-6);
    assert!((summary["cost_usd"]["shard_hours"].as_f64().unwrap() - shard_hours * 0.015).abs() < 1e-9);

    // cost.csv: one row per hour and component, adding up to the total.
    let costs = csv_rows(&out.join("cost.csv"));
    assert_eq!(costs.iter().filter(|r| r["component"] == "shard_hours").count(), 168);
    let sum: f64 = costs.iter().map(|r| r["usd"].parse::<f64>().unwrap()).sum();
    assert!((sum - total).abs() < 1e-5, "rows add up to {sum}, summary says {total}");
}

/// Extended retention is a flat rate per shard-hour while retention is above 24 h, on
/// top of the shard-hours; fan-out consumers add consumer-shard-hours and data.
#[test]
fn retention_and_fan_out_are_billed_per_shard_hour() {
    let text = r#"
        duration = "2h"
        [stream]
        shards = 4
        retention = "48h"
        [[producers]]
        name = "p"
        rate = 100
        record_size = 1000
        [[consumers]]
        name = "fan"
        kind = "efo"
        [[consumers]]
        name = "late-fan"
        kind = "efo"
        join = "90m"
        "#;
    let (result, rows) = common::run_toml(text);
    let components: BTreeMap<&str, f64> = result.summary.cost.components.iter().copied().collect();
    assert!((components["shard_hours"] - 8.0 * 0.015).abs() < 1e-9);
    assert!((components["extended_retention"] - 8.0 * 0.02).abs() < 1e-9);
    // A fan-out consumer is billed from when it registers (its join): 4 shards x (2 h
    // for the first, 30 min for the one joining at 90m).
    let consumer_shard_hours = 4.0 * (2.0 + 0.5);
    assert!((components["efo_consumer_shard_hours"] - consumer_shard_hours * 0.015).abs() < 1e-9);
    let read_bytes: u64 = result.summary.consumers.iter().map(|c| c.read_bytes).sum();
    assert!((components["efo_data"] - read_bytes as f64 / (1u64 << 30) as f64 * 0.013).abs() < 1e-9);
    assert_eq!(rows.costs.iter().filter(|r| r.time_s == 3600.0).count(), 5);
}

/// On-demand: stream-hours, ingest with each record rounded up to 1 KiB, and reads.
#[test]
fn on_demand_bills_stream_hours_and_rounded_ingest() {
    let text = r#"
        duration = "1h"
        [stream]
        mode = "on_demand"
        [[producers]]
        name = "p"
        rate = 100
        record_size = 1030
        keys = { kind = "uniform", count = 10 }
        [[consumers]]
        name = "poller"
        kind = "polling"
        "#;
    let (result, _) = common::run_toml(text);
    let components: BTreeMap<&str, f64> = result.summary.cost.components.iter().copied().collect();
    assert!((components["on_demand_stream_hours"] - 0.04).abs() < 1e-9);
    // 1,030 bytes of data plus a 5-byte key ("key-N") round up to 2 KiB.
    let ingest = result.summary.accepted_records as f64 * 2048.0 / (1u64 << 30) as f64 * 0.08;
    assert!((components["on_demand_data_in"] - ingest).abs() < 1e-9, "{components:?}");
    let out = result.summary.consumers[0].read_bytes as f64 / (1u64 << 30) as f64 * 0.04;
    assert!((components["on_demand_data_out"] - out).abs() < 1e-9);
}

/// A price file replaces the built-in rates: the negotiated example takes 10% off the
/// shard-hour.
#[test]
fn a_price_file_changes_the_rates() {
    let text = |pricing: &str| {
        format!("duration = \"1h\"\n{pricing}\n[stream]\nshards = 10\n[[producers]]\nname = \"p\"\nrate = 10\n")
    };
    let list = common::run_toml(&text("")).0.summary.cost;
    let file = "[pricing]\nfile = \"../experiments/pricing/negotiated-discount.toml\"";
    let discounted = common::run_toml(&text(file)).0.summary.cost;
    let shard_hours = |cost: &kinesim_models::engine::CostSummary| {
        cost.components.iter().find(|(name, _)| *name == "shard_hours").unwrap().1
    };
    assert!((shard_hours(&list) - 0.15).abs() < 1e-9);
    assert!((shard_hours(&discounted) - 0.135).abs() < 1e-9, "{discounted:?}");
}

/// Stepped mode bills each record rounded up on its own, as its size law gives, not a
/// step's records at their mean size (which was 11% high for on-demand ingest of 100-
/// and 2,000-byte records, and 33% low for PUT payload units of 1,000- and 30,000-byte
/// ones). Record mode, which meters every record, agrees within sampling noise. (40
/// records/s, so that nothing throttles: record mode's byte limit rejects large records
/// more often than small ones, which stepped mode does not model.)
#[test]
fn records_of_mixed_sizes_are_billed_each_rounded_up() {
    let run = |mode: &str, sizes: &str, fidelity: &str| {
        let (result, _) = common::run_toml(&format!(
            r#"
            seed = 3
            duration = "20m"
            fidelity = "{fidelity}"
            [stream]
            mode = "{mode}"
            shards = 2
            [[producers]]
            name = "p"
            rate = 40
            arrivals = "uniform"
            record_size = {{ kind = "empirical", table = {sizes} }}
            keys = {{ kind = "explicit", hash_key = "1", partition_key = "pk" }}
            "#
        ));
        let components: BTreeMap<&str, f64> = result.summary.cost.components.iter().copied().collect();
        (result.summary.accepted_records as f64, components)
    };
    // On-demand: 102 or 2,002 bytes with the key, billed as 1 or 2 KiB: 1.5 KiB a record.
    for fidelity in ["stepped", "record"] {
        let (records, components) = run("on_demand", "[[100, 1], [2000, 1]]", fidelity);
        let expected = records * 1536.0 / (1u64 << 30) as f64 * 0.08;
        let billed = components["on_demand_data_in"];
        assert!((billed - expected).abs() / expected < 0.02, "{fidelity}: {billed} against {expected}");
    }
    // The KPL without aggregation sends each record as it is: billed the same way.
    let (result, _) = common::run_toml(
        r#"
        seed = 3
        duration = "20m"
        [stream]
        mode = "on_demand"
        [[producers]]
        name = "p"
        rate = 40
        arrivals = "uniform"
        record_size = { kind = "empirical", table = [[100, 1], [2000, 1]] }
        keys = { kind = "explicit", hash_key = "1", partition_key = "pk" }
        api = { kind = "kpl", aggregation = false }
        "#,
    );
    let components: BTreeMap<&str, f64> = result.summary.cost.components.iter().copied().collect();
    let expected = result.summary.accepted_records as f64 * 1536.0 / (1u64 << 30) as f64 * 0.08;
    assert!((components["on_demand_data_in"] - expected).abs() / expected < 1e-3, "KPL without aggregation");
    // Provisioned: 1,002 or 30,002 bytes, 1 or 2 PUT payload units: 1.5 a record.
    for fidelity in ["stepped", "record"] {
        let (records, components) = run("provisioned", "[[1000, 1], [30000, 1]]", fidelity);
        let expected = records * 1.5 * 0.014 / 1e6;
        let billed = components["put_payload_units"];
        assert!((billed - expected).abs() / expected < 0.02, "{fidelity}: {billed} against {expected}");
    }
}

/// KPL aggregates are billed each rounded up: one instance flushing 600 records of 100
/// bytes a second makes a full aggregate (2 PUT payload units) and one of about 14 KB
/// (1 unit) each second, 1.5 units an aggregate. Billing them at their mean size
/// (about 35 KB, 2 units each) would be a third more.
#[test]
fn kpl_aggregates_are_billed_each_rounded_up() {
    let (result, rows) = common::run_toml(
        r#"
        seed = 3
        duration = "10m"
        [stream]
        shards = 1
        [[producers]]
        name = "kpl"
        rate = 600
        instances = 1
        record_size = 100
        keys = { kind = "uniform", count = 1000 }
        api = { kind = "kpl", max_buffered_time = "1s" }
        "#,
    );
    let incoming: f64 = rows.stream.iter().map(|row| row.incoming_records as f64).sum();
    assert_eq!(incoming, 1200.0, "two aggregates a second");
    let components: BTreeMap<&str, f64> = result.summary.cost.components.iter().copied().collect();
    let expected = incoming * 1.5 * 0.014 / 1e6;
    let billed = components["put_payload_units"];
    assert!((billed - expected).abs() / expected < 1e-3, "{billed} against {expected}");
}

/// A price file's region is written to the outputs: `cost_region` in summary.json.
#[test]
fn the_price_files_region_is_in_the_summary() {
    let prices = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/pricing/us-east-2.toml");
    let folder = common::scratch("cost-region");
    let experiment = folder.join("region.toml");
    let text = format!(
        "duration = \"10m\"\n[stream]\nshards = 1\n[[producers]]\nname = \"p\"\nrate = 10\n[pricing]\nfile = {:?}\n",
        prices.display().to_string()
    );
    std::fs::write(&experiment, text).unwrap();
    for (priced, region) in [(true, "us-east-2"), (false, "us-east-1")] {
        if !priced {
            let text = std::fs::read_to_string(&experiment).unwrap();
            std::fs::write(&experiment, &text[..text.find("[pricing]").unwrap()]).unwrap();
        }
        let out = folder.join(region);
        let status =
            common::kinesim().arg("run").arg(&experiment).args(["--quiet", "--no-plots", "--out"]).arg(&out).status();
        assert!(status.unwrap().success());
        let summary: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
        assert_eq!(summary["cost_region"], region);
    }
}

/// Stored bytes pass 24 h of age halfway, on average, through the hour after their own
/// hour's 24th: a day and an hour at 1 KiB/s on an on-demand stream with 48 h retention
/// holds the first hour's 3,686,400 bytes past 24 h for half an hour, 0.5 byte-hours per
/// byte, at $0.10 per GB-month (730 h). (Billed as the whole hour, it was twice that.)
#[test]
fn bytes_pass_24_hours_halfway_through_the_crossing_hour() {
    let (result, _) = common::run_toml(
        r#"
        duration = "25h"
        [output]
        shards = "off"
        consumers = "off"
        [stream]
        mode = "on_demand"
        retention = "48h"
        [[producers]]
        name = "p"
        rate = 1
        arrivals = "uniform"
        record_size = 1022
        keys = { kind = "explicit", hash_key = "1", partition_key = "pk" }
        "#,
    );
    let components: BTreeMap<&str, f64> = result.summary.cost.components.iter().copied().collect();
    let expected = 3_686_400.0 * 0.5 / (1u64 << 30) as f64 / 730.0 * 0.10;
    let billed = components["on_demand_extended_retention"];
    assert!((billed - expected).abs() / expected < 1e-3, "{billed} against {expected}");
}

/// Retention equal to an age limit keeps nothing past it: on-demand's default 24 h is
/// free beyond the stream hours, and 7 days of provisioned retention has no long-term
/// storage. (Passing the limit and expiring were weighed as if independent, which
/// billed a quarter of an hour of each hour's bytes.)
#[test]
fn retention_at_an_age_limit_stores_nothing_past_it() {
    for (stream, retention, duration, component) in [
        ("mode = \"on_demand\"", "24h", "30h", "on_demand_extended_retention"),
        ("shards = 1", "168h", "170h", "long_term_retention"),
    ] {
        let (result, _) = common::run_toml(&format!(
            r#"
            duration = "{duration}"
            metrics_period = "1h"
            [output]
            shards = "off"
            consumers = "off"
            [stream]
            {stream}
            retention = "{retention}"
            [[producers]]
            name = "p"
            rate = 1
            arrivals = "uniform"
            record_size = 1022
            keys = {{ kind = "explicit", hash_key = "1", partition_key = "pk" }}
            "#
        ));
        let components: BTreeMap<&str, f64> = result.summary.cost.components.iter().copied().collect();
        assert_eq!(components.get(component), None, "{stream} with {retention}: {components:?}");
    }
}

/// Per started hour, a shard is billed for the hours it was open while the stream was
/// provisioned: 2 shards in the first hour (provisioned for its first 30 minutes, then
/// on-demand, whose controller splits), 7 in the second (on-demand until 90 minutes).
/// (Shards opened while on-demand were billed too: 6 and 10.)
#[test]
fn started_shard_hours_count_provisioned_time_only() {
    let (_, rows) = common::run_toml(
        r#"
        seed = 1
        duration = "2h"
        [stream]
        shards = 2
        retention = "48h"
        [[producers]]
        name = "p"
        rate = 1000
        arrivals = "uniform"
        record_size = 2000
        keys = { kind = "uniform", count = 1000 }
        [[actions]]
        at = "30m"
        kind = "set_mode"
        mode = "on_demand"
        [[actions]]
        at = "90m"
        kind = "set_mode"
        mode = "provisioned"
        [pricing]
        proration = "per_started_hour"
        "#,
    );
    let usd = |time_s: f64, component: &str| {
        rows.costs.iter().find(|r| r.time_s == time_s && r.component == component).map(|r| r.usd).unwrap()
    };
    let shards_open_after_90m = f64::from(rows.stream.last().unwrap().shards_open);
    assert_eq!(shards_open_after_90m, 7.0, "the on-demand controller split to 7 shards");
    assert_eq!(usd(0.0, "shard_hours"), 2.0 * 0.015);
    assert_eq!(usd(0.0, "extended_retention"), 2.0 * 0.02);
    assert!((usd(3600.0, "shard_hours") - shards_open_after_90m * 0.015).abs() < 1e-12);
    assert!((usd(3600.0, "extended_retention") - shards_open_after_90m * 0.02).abs() < 1e-12);
}

/// Long-term retrieval is billed for the bytes of records more than 7 days old when
/// read: a replay joining at 175 h of a stream written at 10 records/s reads the first
/// 7 hours' records (and those it passes while catching up, about 2 minutes' worth more)
/// as older than 7 days. (Each call was classed by its newest record: the call that
/// straddled the line was billed as new data, 1.3% short here.)
#[test]
fn long_term_retrieval_counts_each_record_past_seven_days() {
    let (result, _) = common::run_toml(
        r#"
        seed = 2
        duration = "176h"
        metrics_period = "1h"
        [output]
        shards = "off"
        consumers = "off"
        [stream]
        shards = 1
        retention = "192h"
        [[producers]]
        name = "p"
        rate = 10
        arrivals = "uniform"
        record_size = 1000
        keys = { kind = "explicit", hash_key = "1", partition_key = "pk" }
        [[consumers]]
        name = "replay"
        kind = "polling"
        start = "trim_horizon"
        join = "175h"
        "#,
    );
    let components: BTreeMap<&str, f64> = result.summary.cost.components.iter().copied().collect();
    // 7 h and about 120 s of records (the reader passes the 7-day line after reading
    // them at 2 MiB/s), 1,002 bytes each with the key.
    let records = 10.0 * (7.0 * 3600.0 + 120.0);
    let expected = records * 1002.0 / (1u64 << 30) as f64 * 0.021;
    let billed = components["long_term_retrieval"];
    assert!((billed - expected).abs() / expected < 0.005, "{billed} against {expected}");
}

/// Per started hour, a fan-out consumer counts the shards open at some instant from its
/// `join` on: joining at 45 minutes, after a split at 30 closed one of 2 shards, it is
/// billed 3 consumer-shard-hours (the other parent and the two children), not the 4
/// shards the hour saw.
#[test]
fn a_fan_out_consumer_counts_the_shards_open_after_it_joined() {
    let (_, rows) = common::run_toml(
        r#"
        seed = 1
        duration = "1h"
        [stream]
        shards = 2
        [[producers]]
        name = "p"
        rate = 100
        keys = { kind = "random" }
        [[consumers]]
        name = "fan"
        kind = "efo"
        join = "45m"
        [[actions]]
        at = "30m"
        kind = "split_shard"
        shard = "shardId-000000000000"
        [pricing]
        proration = "per_started_hour"
        "#,
    );
    let usd = rows.costs.iter().find(|r| r.component == "efo_consumer_shard_hours").map(|r| r.usd).unwrap();
    assert!((usd - 3.0 * 0.015).abs() < 1e-12, "{usd}");
}
