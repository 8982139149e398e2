//! `kinesim plan`: a bounded, reproducible search whose recommendation passes `check`.

mod common;

/// On a diurnal day AWS's formula (average rate) answers 3 shards, which throttles at
/// the peak; plan recommends more, explains why, and its recommended.toml passes
/// `kinesim check`.
#[test]
fn plan_recommends_a_set_up_that_check_passes() {
    let out = common::scratch("plan-diurnal");
    let output = common::kinesim().args(["plan", "experiments/plan-diurnal.toml", "--out"]).arg(&out).output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("AWS's sizing formula: 3 shards"), "{stdout}");
    let formula_row = stdout.lines().find(|l| l.contains("provisioned, 3 shards")).expect("the formula's answer ran");
    assert!(formula_row.contains("fails write_throttle_rate"), "{formula_row}");
    let recommended = stdout.lines().find(|l| l.contains("recommended:")).expect("a recommendation");
    assert!(recommended.contains("provisioned, 6 shards"), "{recommended}");
    assert!(stdout.contains("bursts: traffic peaks at 5400 records/s"), "{stdout}");
    assert!(stdout.contains("the verdict holds"), "{stdout}");

    let plan_csv = std::fs::read_to_string(out.join("plan.csv")).unwrap();
    assert!(plan_csv.lines().count() >= 10, "{plan_csv}");
    let check_out = common::scratch("plan-diurnal-check");
    let check = common::kinesim().arg("check").arg(out.join("recommended.toml")).arg("--out").arg(&check_out).output();
    let check = check.unwrap();
    assert_eq!(check.status.code(), Some(0), "{}", String::from_utf8_lossy(&check.stdout));

    // Reproducible: the same plan again prints the same table.
    let again = common::kinesim().args(["plan", "experiments/plan-diurnal.toml", "--out"]).arg(&out).output().unwrap();
    assert_eq!(String::from_utf8(again.stdout).unwrap(), stdout);
}

/// The flags describe a steady workload; the plan then compares against the formula,
/// which here asks for more shards than needed (it rounds each record up to a whole
/// KiB and charges fan-out consumers to the shared read limit).
#[test]
fn plan_from_flags() {
    let out = common::scratch("plan-flags");
    let output = common::kinesim()
        .args(["plan", "--rate", "3000", "--record-size", "1KiB", "--consumers", "1", "--fan-out", "2", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(out.join("workload.toml").exists() && out.join("recommended.toml").exists());
    assert!(stdout.contains("rounds each"), "{stdout}");
    // The workload has no [[expect]]: the objectives the plan judged by are written into
    // recommended.toml, so `kinesim check` on it checks them (one per consumer for age).
    let check_out = out.join("check");
    let check = common::kinesim().arg("check").arg(out.join("recommended.toml")).arg("--out").arg(&check_out).output();
    let check = check.unwrap();
    let table = String::from_utf8(check.stdout).unwrap();
    assert_eq!(check.status.code(), Some(0), "{table}");
    for line in ["write_throttle_rate        stream", "dropped_records            stream"] {
        assert!(table.contains(line), "{table}");
    }
    assert_eq!(table.matches("iterator_age_ms_max").count(), 3, "{table}");
    assert_eq!(table.matches(" pass").count(), 5, "{table}");
    let bad = common::kinesim().args(["plan", "--rate", "-5"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
