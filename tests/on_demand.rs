//! On-demand capacity: AWS's service-side splitting (models/src/on_demand.rs,
//! reference/kinesis-facts.md §7.1), mode switches and warm throughput.

mod common;

/// A new on-demand stream taking 2 MiB/s of 1 KiB records from the start, stepping to
/// `after_mib_per_s` at 30 minutes. Evenly spaced arrivals over many keys keep the
/// per-second load on each shard close to its mean, so throttling means capacity.
fn step_from_2_mib_per_s(after_mib_per_s: u64, extra: &str) -> String {
    let rate = |mib: u64| mib * 1024;
    format!(
        r#"
        seed = 5
        duration = "75m"
        [stream]
        mode = "on_demand"
        {extra}
        [[producers]]
        name = "p"
        rate = {{ kind = "steps", steps = [["0s", {}], ["30m", {}]] }}
        arrivals = "uniform"
        record_size = 1000
        keys = {{ kind = "uniform", count = 100000 }}
        api = {{ kind = "put_records", max_records = 500, linger = "20ms" }}
        retry = {{ kind = "none" }}
        "#,
        rate(2),
        rate(after_mib_per_s),
    )
}

fn throttled_in(rows: &[kinesim_models::metrics::StreamRow], from_min: f64, to_min: f64) -> u64 {
    rows.iter()
        .filter(|r| r.time_s >= from_min * 60.0 && r.time_s < to_min * 60.0)
        .map(|r| r.write_throttled_records)
        .sum()
}

#[test]
fn a_new_stream_starts_with_four_shards_and_splits_those_above_500_kib_per_s() {
    let (_, rows) = common::run_toml(&step_from_2_mib_per_s(2, ""));
    assert_eq!(rows.stream[0].shards_open, 4);
    // 2 MiB/s over 4 shards is 512 KiB/s each (plus keys): above the threshold from the
    // first minute, so each splits at 1 min (first measurement) + 15 min (split delay).
    let splits: Vec<f64> = rows.events.iter().filter(|e| e.kind == "split_shard").map(|e| e.time_s).collect();
    assert_eq!(splits, vec![960.0; 4]);
    assert_eq!(rows.stream.last().unwrap().shards_open, 8, "256 KiB/s per shard is below the threshold");
}

#[test]
fn a_step_from_2_to_3_5_mib_per_s_is_not_throttled() {
    let (result, rows) = common::run_toml(&step_from_2_mib_per_s(0, "").replace(r#"["30m", 0]"#, r#"["30m", 3584]"#));
    assert_eq!(result.summary.write_throttled_records, 0);
    assert!(rows.stream.iter().any(|r| r.shards_open == 8));
}

#[test]
fn a_step_from_2_to_12_mib_per_s_throttles_until_the_splits_catch_up() {
    let (result, rows) = common::run_toml(&step_from_2_mib_per_s(12, ""));
    assert!(result.summary.write_throttled_records > 0);
    // 8 shards (after the first splits) give 8 MiB/s: 12 MiB/s throttles from 30 min.
    assert_eq!(throttled_in(&rows.stream, 0.0, 30.0), 0);
    let during = throttled_in(&rows.stream, 30.0, 46.0);
    // A third of the offered 12 MiB/s is refused for 16 minutes.
    let offered_per_min = 12 * 1024 * 60;
    assert!(during > 15 * offered_per_min / 4, "throttled {during}");
    // Recovery: the first measurement after the step (31 min) sees every shard above
    // 500 KiB/s; each splits 15 min (split_delay) later, at 46 min: 16 shards, 16 MiB/s.
    let splits: Vec<f64> = rows.events.iter().filter(|e| e.kind == "split_shard").map(|e| e.time_s).collect();
    assert_eq!(&splits[4..12], &[46.0 * 60.0; 8]);
    assert_eq!(throttled_in(&rows.stream, 46.0, 75.0), 0);
    assert!(rows.stream.iter().filter(|r| r.time_s >= 46.0 * 60.0).all(|r| r.shards_open >= 16));
}

#[test]
fn a_shorter_split_delay_shortens_the_throttling() {
    let slow = common::run_toml(&step_from_2_mib_per_s(12, "")).0.summary.write_throttled_records;
    let extra = "[stream.on_demand]\nsplit_delay = \"5m\"";
    let (fast, rows) = common::run_toml(&step_from_2_mib_per_s(12, extra));
    assert!(fast.summary.write_throttled_records * 2 < slow, "{} vs {slow}", fast.summary.write_throttled_records);
    assert_eq!(throttled_in(&rows.stream, 36.0, 75.0), 0, "31 min + 5 min");
}

#[test]
fn a_hot_key_keeps_throttling_on_demand() {
    let text = r#"
        seed = 3
        duration = "40m"
        [stream]
        mode = "on_demand"
        [[producers]]
        name = "p"
        rate = 1500
        arrivals = "uniform"
        record_size = 1000
        keys = { kind = "hot", count = 1000, share = 0.9 }
        retry = { kind = "none" }
        "#;
    let (result, rows) = common::run_toml(text);
    // 1,350 records/s of one key: the key's shard splits, but one child still gets all of them.
    assert!(rows.events.iter().any(|e| e.kind == "split_shard"));
    assert!(throttled_in(&rows.stream, 30.0, 40.0) > 300 * 60 * 9, "{}", result.summary.write_throttled_records);
}

#[test]
fn mode_switches_are_limited_to_two_per_day_and_keep_the_shards() {
    let mut text = step_from_2_mib_per_s(2, "").replace("mode = \"on_demand\"", "mode = \"provisioned\"\nshards = 6");
    for (minute, mode) in [(5, "on_demand"), (10, "provisioned"), (15, "on_demand")] {
        text.push_str(&format!("[[actions]]\nat = \"{minute}m\"\nkind = \"set_mode\"\nmode = \"{mode}\"\n"));
    }
    text.push_str("[[actions]]\nat = \"6m\"\nkind = \"split_shard\"\nshard = \"shardId-000000000000\"\n");
    let (_, rows) = common::run_toml(&text);
    let kinds: Vec<(&str, f64)> = rows
        .events
        .iter()
        .filter(|e| e.kind.starts_with("mode") || e.kind.starts_with("set_mode") || e.kind.starts_with("split"))
        .map(|e| (e.kind.as_str(), e.time_s))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("mode_switched", 305.0),
            ("split_shard_rejected", 360.0),
            ("mode_switched", 605.0),
            ("set_mode_rejected", 900.0),
        ]
    );
    let switched = rows.events.iter().find(|e| e.kind == "mode_switched").unwrap();
    assert!(switched.detail.contains("with 6 open shards"), "{}", switched.detail);
}

/// On-demand Advantage rests on an account commitment of at least 24 h: leaving it
/// sooner is refused (AWS defers the disable to `EarliestAllowedEndAt`, facts §7.2), so the
/// stream keeps Advantage rates and its commitment's shortfall is billed to the end.
#[test]
fn on_demand_advantage_lasts_at_least_a_day() {
    let mut text = step_from_2_mib_per_s(2, "");
    for (minute, mode) in [(30, "on_demand_advantage"), (90, "on_demand")] {
        text.push_str(&format!("[[actions]]\nat = \"{minute}m\"\nkind = \"set_mode\"\nmode = \"{mode}\"\n"));
    }
    let text = text.replace("duration = \"75m\"", "duration = \"2h\"");
    let (result, rows) = common::run_toml(&text);
    let modes: Vec<(&str, f64, &str)> = rows
        .events
        .iter()
        .filter(|e| e.kind.starts_with("mode") || e.kind.starts_with("set_mode"))
        .map(|e| (e.kind.as_str(), e.time_s, e.detail.as_str()))
        .collect();
    assert_eq!(modes.len(), 2, "{modes:?}");
    assert_eq!((modes[0].0, modes[0].1), ("mode_switched", 1805.0));
    assert_eq!((modes[1].0, modes[1].1), ("set_mode_rejected", 5400.0));
    assert!(modes[1].2.contains("it can end at 88205 s (EarliestAllowedEndAt)"), "{}", modes[1].2);
    assert!(result.summary.cost.advantage_shortfall_usd > 0.0);
}

#[test]
fn warm_throughput_pre_scales_an_advantage_stream() {
    let text = step_from_2_mib_per_s(12, "").replace("mode = \"on_demand\"", "mode = \"on_demand_advantage\"")
        + "[[actions]]\nat = \"10m\"\nkind = \"warm_throughput\"\nmibps = 16\n";
    let (result, rows) = common::run_toml(&text);
    let ready = rows.events.iter().find(|e| e.kind == "warm_throughput_ready").expect("ready");
    assert_eq!(ready.time_s, 900.0, "called at 10 min, ready after the default 5 min");
    assert!(rows.stream.iter().filter(|r| r.time_s >= 900.0).all(|r| r.shards_open >= 16));
    assert_eq!(result.summary.write_throttled_records, 0, "16 MiB/s ready before the 12 MiB/s step");
    let plain = step_from_2_mib_per_s(2, "") + "[[actions]]\nat = \"10m\"\nkind = \"warm_throughput\"\nmibps = 16\n";
    let (_, rows) = common::run_toml(&plain);
    let rejected = rows.events.iter().find(|e| e.kind == "warm_throughput_rejected").expect("rejected");
    assert!(rejected.detail.contains("on_demand_advantage"), "{}", rejected.detail);
}

#[test]
fn on_demand_advantage_registers_up_to_50_fan_out_consumers() {
    let stream = |mode: &str, consumers: usize| {
        let mut text =
            format!("duration = \"1m\"\n[stream]\nmode = \"{mode}\"\n[[producers]]\nname = \"p\"\nrate = 10\n");
        for index in 0..consumers {
            text.push_str(&format!("[[consumers]]\nname = \"c{index}\"\nkind = \"efo\"\n"));
        }
        kinesim::parse(std::path::Path::new("fan-out.toml"), &text)
    };
    assert!(stream("on_demand_advantage", 50).is_ok());
    assert!(stream("on_demand", 21).unwrap_err().to_string().contains("at most 20"));
    let error = stream("on_demand_advantage", 51).unwrap_err().to_string();
    assert!(error.contains("consumers[50].kind") && error.contains("at most 50"), "{error}");
}

/// A stream row describes its period: splits the controller makes at a period's end
/// show in the next row, and the row's mean utilisation is over the shards that were
/// open. (The row before each split showed the shards after it, and half the load.)
#[test]
fn a_split_at_a_periods_end_belongs_to_the_next_row() {
    let (_, rows) = common::run_toml(
        r#"
        seed = 1
        duration = "50m"
        [stream]
        shards = 2
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
        "#,
    );
    let split_s =
        rows.events.iter().find(|e| e.kind == "split_shard").map(|e| e.time_s).expect("the controller splits");
    for row in &rows.stream {
        let expected = if row.time_s < split_s { 2 } else { 4 };
        assert_eq!(row.shards_open, expected, "row at {} s (split at {split_s} s)", row.time_s);
        if row.time_s < split_s && row.time_s >= 1_860.0 {
            assert!(row.utilisation_mean > 0.9, "2 MB/s on 2 shards at {} s: {}", row.time_s, row.utilisation_mean);
        }
    }
}

/// An on-demand stream's write ceiling holds for the stream, not only for its split
/// count: 12 MB/s offered to a stream capped at 4 MiB/s is accepted at 4 MiB/s and the
/// rest throttled, however many shards it has. (Each of its 8 shards took its 1 MiB/s:
/// 7.9 MiB/s were accepted.)
#[test]
fn the_on_demand_write_ceiling_caps_the_stream() {
    let (_, rows) = common::run_toml(
        r#"
        seed = 1
        duration = "30m"
        [stream]
        mode = "on_demand"
        [stream.on_demand]
        write_max_mibps = 4
        split_delay = "1m"
        [[producers]]
        name = "p"
        rate = 12000
        arrivals = "uniform"
        record_size = 1000
        keys = { kind = "random" }
        "#,
    );
    for row in rows.stream.iter().filter(|row| row.time_s >= 600.0) {
        let mib_per_s = row.incoming_bytes as f64 / 60.0 / (1u64 << 20) as f64;
        assert!(mib_per_s <= 4.0 + 1e-9, "{mib_per_s} MiB/s at {} s", row.time_s);
        assert!(mib_per_s > 3.9, "{mib_per_s} MiB/s at {} s", row.time_s);
        assert!(row.write_throttled_records > 0);
    }
}

/// The ceiling weighs what the shards could take, not what they are offered: a hot key
/// offered 20 MB/s on one shard, which that shard refuses past 1 MiB/s anyway, does not
/// squeeze the other shards under a 4 MiB/s ceiling the stream never reaches. (Cut by
/// the raw offer, the spread producer got 15% of its records through, not 76%.)
#[test]
fn a_hot_shards_excess_does_not_squeeze_the_others_under_the_ceiling() {
    let (result, _) = common::run_toml(
        r#"
        seed = 4
        duration = "3m"
        [stream]
        mode = "on_demand"
        on_demand = { write_max_mibps = 4 }
        [[producers]]
        name = "spread"
        rate = 2500
        record_size = 1000
        keys = { kind = "uniform", count = 100000 }
        [[producers]]
        name = "hot"
        rate = 20000
        record_size = 1000
        keys = { kind = "uniform", count = 1 }
        "#,
    );
    let spread = result.summary.producers.iter().find(|p| p.name == "spread").unwrap();
    let share = spread.totals.accepted_records as f64 / spread.totals.attempted_records as f64;
    assert!(share > 0.7, "{share} of the spread producer's attempts accepted");
}
