//! `kinesim sweep` and `merge`: the same bytes for any thread count, partition split or
//! interruption; parts that do not belong together are refused.

mod common;

use std::path::{Path, PathBuf};

const SWEEP: &str = r#"
name = "small-sweep"
seed = 9
duration = "3m"
[output]
shards = "off"
consumers = "off"
[stream]
shards = 2
[[producers]]
name = "web"
rate = 1500
keys = { kind = "zipf", count = 1000, exponent = 1.0 }
retry = { kind = "exponential", base = "100ms", cap = "2s", max_attempts = 4, jitter = "full" }
[[consumers]]
name = "reader"
kind = "polling"
[[expect]]
metric = "write_throttle_rate"
max = 0.01
[sweep]
replications = 3
baseline = { "stream.shards" = 2 }
[sweep.grid]
"stream.shards" = [1, 2, 3]
"producers.web.rate" = [1000, 2000]
"#;

fn experiment(name: &str) -> common::Scratch {
    let path = common::scratch(name).into_path_of("sweep.toml");
    std::fs::write(&path, SWEEP).unwrap();
    path
}

fn sweep(file: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    common::kinesim().arg("sweep").arg(file).arg("--out").arg(out).arg("--quiet").args(extra).output().unwrap()
}

fn outputs(folder: &Path) -> (Vec<u8>, Vec<u8>) {
    (std::fs::read(folder.join("sweep.csv")).unwrap(), std::fs::read(folder.join("sweep_summary.csv")).unwrap())
}

#[test]
fn thread_counts_give_byte_identical_results() {
    let file = experiment("sweep-threads");
    let folder = file.parent().unwrap();
    for threads in ["1", "2"] {
        let output = sweep(&file, &folder.join(threads), &["--threads", threads]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    let one = outputs(&folder.join("1"));
    assert!(one == outputs(&folder.join("2")), "--threads 1 and 2 differ");
    let csv = String::from_utf8(one.0).unwrap();
    assert_eq!(csv.lines().count(), 1 + 6 * 3, "a row per point and replication");
    assert!(csv.lines().next().unwrap().starts_with("point,replication,seed,stream.shards,producers.web.rate,"));
    // Replications differ by seed; points share them.
    let seeds: Vec<&str> = csv.lines().skip(1).map(|l| l.split(',').nth(2).unwrap()).collect();
    assert_eq!(&seeds[..6], ["9", "10", "11", "9", "10", "11"]);
    let summary = String::from_utf8(one.1).unwrap();
    assert!(summary.lines().next().unwrap().contains("mean,sd,ci95_low,ci95_high,diff_mean"), "{summary}");
    let baseline_row = summary.lines().find(|l| l.starts_with("2,2,1000,write_throttle_rate,")).unwrap();
    assert!(baseline_row.ends_with(",0,0,0"), "the baseline's difference from itself: {baseline_row}");
}

#[test]
fn partitions_merged_equal_the_whole_sweep() {
    let file = experiment("sweep-partitions");
    let folder = file.parent().unwrap();
    assert!(sweep(&file, &folder.join("whole"), &[]).status.success());
    let parts: Vec<PathBuf> = (0..3).map(|i| folder.join(format!("part-{i}"))).collect();
    for (index, part) in parts.iter().enumerate() {
        let output = sweep(&file, part, &["--partition", &format!("{index}/3")]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        assert!(!part.join("sweep.csv").exists(), "a part alone is not a result");
    }
    let merged = folder.join("merged");
    let output = common::kinesim().arg("merge").args(&parts).arg("--out").arg(&merged).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(outputs(&merged) == outputs(&folder.join("whole")), "merged parts differ from the whole sweep");

    // Refused: a part missing, a part given twice, a part of another experiment.
    let merge = |parts: &[PathBuf]| {
        let output = common::kinesim().arg("merge").args(parts).arg("--out").arg(folder.join("bad")).output().unwrap();
        (output.status.code(), String::from_utf8(output.stderr).unwrap())
    };
    let (code, message) = merge(&parts[..2]);
    assert_eq!(code, Some(2));
    assert!(message.contains("incomplete"), "{message}");
    let (code, message) = merge(&[parts[0].clone(), parts[0].clone(), parts[1].clone(), parts[2].clone()]);
    assert_eq!(code, Some(2));
    assert!(message.contains("overlap"), "{message}");
    let other = experiment("sweep-other");
    std::fs::write(&other, SWEEP.replace("seed = 9", "seed = 10")).unwrap();
    let foreign = other.parent().unwrap().join("part-0");
    assert!(sweep(&other, &foreign, &["--partition", "0/3"]).status.success());
    let (code, message) = merge(&[foreign, parts[1].clone(), parts[2].clone()]);
    assert_eq!(code, Some(2));
    assert!(message.contains("experiment_sha256"), "{message}");

    // Damaged parts are refused with one line and exit 2, and nothing is published.
    // `damage` is done to the second part, or to every part with `every`.
    let damaged_parts = |name: &str, every: bool, damage: &dyn Fn(&Path)| {
        let copies: Vec<PathBuf> = parts.iter().map(|part| folder.join(name).join(part.file_name().unwrap())).collect();
        for (part, copy) in parts.iter().zip(&copies) {
            std::fs::create_dir_all(copy.join("jobs")).unwrap();
            for entry in std::fs::read_dir(part).unwrap().chain(std::fs::read_dir(part.join("jobs")).unwrap()) {
                let path = entry.unwrap().path();
                if path.is_file() {
                    let relative = path.strip_prefix(part).unwrap();
                    std::fs::copy(&path, copy.join(relative)).unwrap();
                }
            }
        }
        for copy in if every { &copies[..] } else { &copies[1..2] } {
            damage(copy);
        }
        let out = folder.join(name).join("merged");
        let output = common::kinesim().arg("merge").args(&copies).arg("--out").arg(&out).output().unwrap();
        let message = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(2), "{name}: {message}");
        assert_eq!(message.lines().count(), 1, "{name}: {message}");
        assert!(!out.join("sweep.csv").exists(), "{name}: a damaged merge published sweep.csv");
        message
    };
    let damaged = |name: &str, damage: &dyn Fn(&Path)| damaged_parts(name, false, damage);
    let first_job = |part: &Path| {
        let mut jobs: Vec<PathBuf> = std::fs::read_dir(part.join("jobs")).unwrap().map(|e| e.unwrap().path()).collect();
        jobs.sort();
        jobs.remove(0)
    };
    let message = damaged("row-missing", &|part| {
        let job = first_job(part);
        let header = std::fs::read_to_string(&job).unwrap().lines().next().unwrap().to_string();
        std::fs::write(job, header + "\n").unwrap();
    });
    assert!(message.contains("a header and one row"), "{message}");
    let message = damaged("row-ragged", &|part| {
        let job = first_job(part);
        let text = std::fs::read_to_string(&job).unwrap();
        std::fs::write(job, text.trim_end().to_string() + ",extra\n").unwrap();
    });
    assert!(message.contains("as many fields"), "{message}");
    let message = damaged("metric-not-a-number", &|part| {
        let job = first_job(part);
        let text = std::fs::read_to_string(&job).unwrap();
        let mut fields: Vec<&str> = text.trim_end().rsplitn(3, ',').collect();
        fields[1] = "abc";
        fields.reverse();
        std::fs::write(job, fields.join(",") + "\n").unwrap();
    });
    assert!(message.contains("must be a finite number, not `abc`"), "{message}");
    let message = damaged("slo-not-a-flag", &|part| {
        let job = first_job(part);
        let text = std::fs::read_to_string(&job).unwrap();
        let (rest, _) = text.trim_end().rsplit_once(',').unwrap();
        std::fs::write(job, format!("{rest},yes\n")).unwrap();
    });
    assert!(message.contains("column `slo_passed`: must be `true` or `false`"), "{message}");
    for (name, jobs) in [("jobs-zero", "0"), ("jobs-huge", "999999999999999999")] {
        let message = damaged_parts(name, true, &|part| {
            let manifest = part.join("sweep_manifest.txt");
            let text = std::fs::read_to_string(&manifest).unwrap();
            let text: Vec<String> = text
                .lines()
                .map(|line| if line.starts_with("jobs=") { format!("jobs={jobs}") } else { line.to_string() })
                .collect();
            std::fs::write(&manifest, text.join("\n") + "\n").unwrap();
        });
        assert!(message.contains("key `jobs`"), "{name}: {message}");
    }
    let message = damaged("no-jobs-folder", &|part| std::fs::remove_dir_all(part.join("jobs")).unwrap());
    assert!(message.contains("no jobs/ folder"), "{message}");
}

/// A bad `[sweep]` section is refused by `kinesim validate` and `kinesim sweep` alike,
/// with exit 2 and one line naming the key: a grid whose point count passes 2^64 (it
/// once wrapped to a small number), a key path in both the grid and the zip, an empty
/// baseline, a grid over the sweep's own settings.
#[test]
fn bad_sweep_sections_are_refused_by_validate_and_sweep() {
    let folder = common::scratch("sweep-bad-sections");
    let base = SWEEP.split("[sweep]").next().unwrap();
    let list = |count: usize| format!("[{}]", (1..=count).map(|i| i.to_string()).collect::<Vec<_>>().join(", "));
    let huge_grid = format!(
        "[sweep.grid]\n\"seed\" = {0}\n\"stream.shards\" = {0}\n\"producers.web.instances\" = {0}\n\"producers.web.rate\" = {0}\n\"consumers.reader.max_records\" = {0}\n",
        list(8192)
    );
    let cases = [
        ("huge", huge_grid, "key `sweep`", "at most 1000000"),
        (
            "grid-and-zip",
            "[sweep.grid]\n\"stream.shards\" = [1, 2]\n[sweep.zip]\n\"stream.shards\" = [3, 4]\n".to_string(),
            "sweep.zip.\"stream.shards\"",
            "also in [sweep.grid]",
        ),
        (
            "empty-baseline",
            "[sweep]\nbaseline = {}\n[sweep.grid]\n\"stream.shards\" = [1, 2]\n".to_string(),
            "sweep.baseline",
            "at least one",
        ),
        (
            "own-settings",
            "[sweep.grid]\n\"sweep.replications\" = [1, 2]\n".to_string(),
            "sweep.grid.\"sweep.replications\"",
            "not the [sweep] section's own",
        ),
    ];
    for (name, section, key, text) in cases {
        let file = folder.join(format!("{name}.toml"));
        std::fs::write(&file, format!("{base}{section}")).unwrap();
        let outputs = [
            ("validate", common::kinesim().arg("validate").arg(&file).output().unwrap()),
            ("sweep", sweep(&file, &folder.join(name), &[])),
        ];
        for (command, output) in outputs {
            let message = String::from_utf8(output.stderr).unwrap();
            assert_eq!(output.status.code(), Some(2), "{command} {name}: {message}");
            assert_eq!(message.lines().count(), 1, "{command} {name}: {message}");
            assert!(message.contains(key) && message.contains(text), "{command} {name}: {message}");
        }
    }
}

/// A sweep killed mid-way leaves no sweep.csv; resumed, it runs only the missing jobs
/// and gives the bytes of an uninterrupted sweep.
#[test]
fn a_killed_sweep_resumes_to_the_same_bytes() {
    let file = experiment("sweep-kill");
    let folder = file.parent().unwrap();
    let long = SWEEP.replace("duration = \"3m\"", "duration = \"2h\"");
    std::fs::write(&file, &long).unwrap();
    assert!(sweep(&file, &folder.join("whole"), &[]).status.success());
    let out = folder.join("killed");
    let mut child = common::kinesim()
        .arg("sweep")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .args(["--quiet", "--threads", "1"])
        .spawn()
        .unwrap();
    let jobs = out.join("jobs");
    let started = std::time::Instant::now();
    let done = || {
        std::fs::read_dir(&jobs)
            .map(|d| d.filter_map(Result::ok).filter(|e| e.file_name().to_string_lossy().ends_with(".csv")).count())
            .unwrap_or(0)
    };
    while done() < 2 && started.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let finished = done();
    assert!(finished < 18, "killed before the end ({finished} jobs done)");
    assert!(!out.join("sweep.csv").exists(), "no result that looks complete");
    let output = common::kinesim().arg("sweep").arg(&file).arg("--out").arg(&out).arg("--resume").output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains(&format!("{} run now", 18 - finished)), "only the missing jobs run: {stdout}");
    assert!(outputs(&out) == outputs(&folder.join("whole")), "the resumed sweep differs");
}

#[test]
fn example_sweeps_run() {
    for name in ["shard-count", "consumers"] {
        let out = common::scratch(&format!("example-sweep-{name}"));
        let output = common::kinesim()
            .args(["sweep", &format!("experiments/sweeps/{name}.toml"), "--quiet", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(output.status.success(), "{name}: {}", String::from_utf8_lossy(&output.stderr));
        assert!(out.join("sweep_summary.csv").exists());
    }
}

#[test]
fn a_sweep_point_that_is_not_a_valid_experiment_is_named() {
    let file = experiment("sweep-invalid");
    std::fs::write(&file, SWEEP.replace("[1, 2, 3]", "[2, 0, 3]")).unwrap();
    let output = sweep(&file, &file.parent().unwrap().join("out"), &[]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("stream.shards") && stderr.contains("stream.shards = 0"), "{stderr}");
}

#[test]
fn run_folders_only_when_asked_and_the_same_rows() {
    let file = experiment("sweep-runs");
    let folder = file.parent().unwrap();
    assert!(sweep(&file, &folder.join("plain"), &[]).status.success());
    assert!(!folder.join("plain/runs").exists());
    let output = sweep(&file, &folder.join("detail"), &["--runs"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(folder.join("detail/runs/point-00005-rep-0002/summary.json").exists());
    assert!(outputs(&folder.join("plain")) == outputs(&folder.join("detail")));
}

/// deploy/slurm-sweep.sh as Slurm would run it (two array tasks), then merged.
#[test]
fn the_slurm_array_script_runs_partitions_that_merge() {
    let file = experiment("sweep-slurm");
    let folder = file.parent().unwrap();
    assert!(sweep(&file, &folder.join("whole"), &[]).status.success());
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_kinesim")).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    for index in 0..2 {
        let status = std::process::Command::new("bash")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/slurm-sweep.sh"))
            .arg(&file)
            .arg(folder.join("results"))
            .env("PATH", &path)
            .env("SLURM_ARRAY_TASK_COUNT", "2")
            .env("SLURM_ARRAY_TASK_ID", index.to_string())
            .env("SLURM_CPUS_PER_TASK", "1")
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    }
    let parts: Vec<PathBuf> = (0..2).map(|i| folder.join(format!("results/part-{i}"))).collect();
    let merged = folder.join("merged");
    let output = common::kinesim().arg("merge").args(&parts).arg("--out").arg(&merged).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(outputs(&merged) == outputs(&folder.join("whole")));
}

/// `--resume` continues the same sweep only: after the experiment is edited, the jobs
/// already in the folder are from the old file, and resuming is refused (exit 2) rather
/// than publishing them under the new file's hash.
#[test]
fn resuming_an_edited_sweep_is_refused() {
    let file = experiment("sweep-edited");
    let folder = file.parent().unwrap();
    std::fs::write(&file, SWEEP).unwrap();
    let out = folder.join("out");
    assert!(sweep(&file, &out, &[]).status.success());
    std::fs::write(&file, SWEEP.replace("seed = ", "# edited\nseed = ")).unwrap();
    let output = common::kinesim().arg("sweep").arg(&file).arg("--out").arg(&out).arg("--resume").output().unwrap();
    let message = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(message.contains("experiment_sha256") && message.contains("--resume"), "{message}");
    assert_eq!(message.lines().count(), 1, "{message}");
}
