//! The `external` policy's process side: `ProcessPolicy` driving the example autoscaler
//! and misbehaving programs, over the JSON-lines protocol of docs/external-policy.md.
//! The misbehaving programs are `sh -c` scripts, hence Unix only.
#![cfg(unix)]

use kinesim::external_policy::{Hello, ProcessPolicy};
use kinesim_models::policy::external::{ExternalDecider, ExternalFailure, Observation};
use kinesim_models::policy::MinuteDatapoint;
use std::path::Path;
use std::time::{Duration, Instant};

const MIB: u64 = 1024 * 1024;
const EXAMPLE: &str = env!("CARGO_BIN_EXE_kinesim-autoscaler-example");
const READY: &str = r#"echo '{"v":1,"type":"ready"}'"#;

fn hello(open_shards: u32) -> Hello {
    Hello {
        seed: 42,
        experiment: "external-test".into(),
        duration_s: 3600,
        stream_mode: "provisioned".into(),
        open_shards,
        publish_delay_s: 60,
        shard_write_records_per_s: 1000,
        shard_write_bytes_per_s: MIB,
    }
}

fn start(command: &[&str], timeout: Duration) -> Result<ProcessPolicy, ExternalFailure> {
    let command: Vec<String> = command.iter().map(|s| s.to_string()).collect();
    ProcessPolicy::start(&command, Path::new(env!("CARGO_MANIFEST_DIR")), &hello(4), timeout)
}

fn example(open_shards: u32) -> ProcessPolicy {
    ProcessPolicy::start(
        &[EXAMPLE.to_string()],
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &hello(open_shards),
        Duration::from_secs(5),
    )
    .expect("the example starts and answers ready")
}

/// A `sh -c` program; `script` runs after it has read the hello.
fn shell(script: &str, timeout: Duration) -> Result<ProcessPolicy, ExternalFailure> {
    start(&["sh", "-c", script], timeout)
}

fn minute(incoming_bytes: u64, incoming_records: u64) -> MinuteDatapoint {
    MinuteDatapoint {
        incoming_bytes,
        incoming_records,
        put_records_bytes: incoming_bytes,
        put_records_records: incoming_records,
        put_records_requests: incoming_records.div_ceil(500),
        ..MinuteDatapoint::default()
    }
}

fn observe(
    policy: &mut ProcessPolicy,
    now_s: u64,
    open_shards: u32,
    m: MinuteDatapoint,
) -> Result<Option<u32>, String> {
    let minutes = [(now_s - 60, m)];
    let observation = Observation { now_s, open_shards, updating: false, minutes: &minutes };
    policy.decide(&observation).map(|answer| answer.desired_shards).map_err(|e| e.0)
}

fn failure(result: Result<ProcessPolicy, ExternalFailure>) -> String {
    match result {
        Ok(_) => panic!("the program should have failed"),
        Err(error) => error.0,
    }
}

#[test]
fn example_handshakes_and_exits_cleanly() {
    let mut policy = example(2);
    let answer = policy
        .decide(&Observation { now_s: 60, open_shards: 2, updating: false, minutes: &[] })
        .expect("an answer without datapoints");
    assert_eq!(answer.desired_shards, None);
    assert_eq!(answer.note, "no datapoint yet");
    policy.finish().expect("the example exits 0 at the end");
    // Once finished, the policy refuses further questions instead of hanging.
    let again = policy.finish().unwrap_err().0;
    assert!(again.contains("after the end of the run"), "{again}");
}

#[test]
fn example_doubles_on_a_busy_minute() {
    let mut policy = example(4);
    // 50% of 4 shards' bytes: no change.
    assert_eq!(observe(&mut policy, 120, 4, minute(4 * 60 * MIB / 2, 1000)), Ok(None));
    // 90% of 4 shards' records: double.
    let decision = policy
        .decide(&Observation { now_s: 180, open_shards: 4, updating: false, minutes: &[(120, minute(1000, 216_000))] })
        .unwrap();
    assert_eq!(decision.desired_shards, Some(8));
    assert!(decision.note.starts_with("utilisation 90.0% of 4 shards"), "{}", decision.note);
    // Not while the stream is updating.
    let updating = Observation { now_s: 240, open_shards: 4, updating: true, minutes: &[(180, minute(0, 230_000))] };
    assert_eq!(policy.decide(&updating).unwrap().desired_shards, None);
    // Never beyond 10,000 shards.
    assert_eq!(observe(&mut policy, 300, 6000, minute(6000 * 60 * MIB, 0)), Ok(Some(10_000)));
    policy.finish().unwrap();
}

#[test]
fn example_halves_after_ten_idle_minutes() {
    let mut policy = example(8);
    for m in 1..10 {
        assert_eq!(observe(&mut policy, 60 * (m + 1), 8, minute(MIB, 10)), Ok(None), "minute {m}");
    }
    assert_eq!(observe(&mut policy, 660, 8, minute(MIB, 10)), Ok(Some(4)));
    // The quiet spell starts again after a resize.
    for m in 11..20 {
        assert_eq!(observe(&mut policy, 60 * (m + 1), 4, minute(0, 0)), Ok(None), "minute {m}");
    }
    assert_eq!(observe(&mut policy, 1260, 4, minute(0, 0)), Ok(Some(2)));
    policy.finish().unwrap();
}

#[test]
fn example_never_goes_below_one_shard() {
    let mut policy = example(1);
    for m in 1..=12 {
        assert_eq!(observe(&mut policy, 60 * (m + 1), 1, minute(0, 0)), Ok(None), "minute {m}");
    }
    policy.finish().unwrap();
}

#[test]
fn a_program_that_exits_at_once_reports_its_status() {
    let error = failure(shell("exit 1", Duration::from_secs(5)));
    assert!(error.starts_with("external policy `sh -c 'exit 1'` "), "{error}");
    assert!(error.ends_with("exited with status 1 before answering the hello at 0 s"), "{error}");
}

#[test]
fn a_program_that_exits_instead_of_answering_metrics_reports_its_status() {
    let mut policy = shell(&format!("read hello; {READY}; read metrics; exit 3"), Duration::from_secs(5)).unwrap();
    let error = observe(&mut policy, 600, 4, minute(0, 0)).unwrap_err();
    assert!(error.ends_with("exited with status 3 before answering the metrics at 600 s"), "{error}");
    // The failure is final.
    let again = observe(&mut policy, 660, 4, minute(0, 0)).unwrap_err();
    assert!(again.contains("exited with status 3"), "{again}");
}

#[test]
fn a_program_that_never_answers_is_killed_at_the_timeout() {
    let started = Instant::now();
    let error = failure(start(&["sleep", "30"], Duration::from_secs(1)));
    assert!(error.contains("did not answer the hello at 0 s within 1 s"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());

    let started = Instant::now();
    let mut policy = shell(&format!("read hello; {READY}; exec sleep 30"), Duration::from_secs(1)).unwrap();
    let error = observe(&mut policy, 600, 4, minute(0, 0)).unwrap_err();
    assert!(error.ends_with("did not answer the metrics at 600 s within 1 s (the policy's `timeout`)"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    let pid = policy.id();
    drop(policy);
    assert!(!Path::new(&format!("/proc/{pid}")).exists() || cfg!(not(target_os = "linux")), "{pid} still exists");
}

#[test]
fn a_program_that_does_not_exit_at_the_end_is_killed() {
    let started = Instant::now();
    let mut policy = shell(&format!("read hello; {READY}; exec sleep 30"), Duration::from_millis(500)).unwrap();
    let error = policy.finish().unwrap_err().0;
    assert!(error.ends_with("did not exit within 500 ms of the end at 3600 s (the policy's `timeout`)"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
}

#[test]
fn a_program_that_fails_at_the_end_is_an_error() {
    let mut policy = shell(&format!("read hello; {READY}; read end; exit 4"), Duration::from_secs(5)).unwrap();
    let error = policy.finish().unwrap_err().0;
    assert!(error.ends_with("exited with status 4 after the end at 3600 s"), "{error}");
}

#[test]
fn garbage_is_an_error() {
    let mut policy =
        shell(&format!("read hello; {READY}; read metrics; echo xyz; exec sleep 5"), Duration::from_secs(5)).unwrap();
    let started = Instant::now();
    let error = observe(&mut policy, 600, 4, minute(0, 0)).unwrap_err();
    assert!(
        error.ends_with(
            r#"answered the metrics at 600 s with `xyz` (expected a JSON object like {"v":1,"desired_shards":4})"#
        ),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(4), "took {:?}", started.elapsed());

    let error = failure(shell("read hello; echo ready", Duration::from_secs(5)));
    assert!(error.contains("answered the hello at 0 s with `ready` (expected a JSON object like"), "{error}");
}

#[test]
fn a_line_too_long_is_an_error() {
    let script = format!("read hello; {READY}; read metrics; head -c 2000000 /dev/zero | tr '\\0' x; echo");
    let mut policy = shell(&script, Duration::from_secs(5)).unwrap();
    let error = observe(&mut policy, 600, 4, minute(0, 0)).unwrap_err();
    assert!(error.ends_with("answered the metrics at 600 s with a line longer than 1048576 bytes"), "{error}");
}

#[test]
fn another_protocol_version_is_an_error() {
    let script = format!(r#"read hello; {READY}; read metrics; echo '{{"v":2,"desired_shards":4}}'; exec sleep 5"#);
    let mut policy = shell(&script, Duration::from_secs(5)).unwrap();
    let error = observe(&mut policy, 600, 4, minute(0, 0)).unwrap_err();
    assert!(
        error.contains(r#"answered the metrics at 600 s with protocol version 2 (kinesim speaks version 1"#),
        "{error}"
    );
    assert!(error.ends_with(r#"`{"v":2,"desired_shards":4}`"#), "{error}");
}

#[test]
fn zero_shards_is_an_error() {
    let script = format!(r#"read hello; {READY}; read metrics; echo '{{"v":1,"desired_shards":0}}'; exec sleep 5"#);
    let mut policy = shell(&script, Duration::from_secs(5)).unwrap();
    let error = observe(&mut policy, 600, 4, minute(0, 0)).unwrap_err();
    assert!(
        error.contains(
            "answered the metrics at 600 s with desired_shards 0 (expected null for no change or a whole number \
             from 1 to 10000)"
        ),
        "{error}"
    );
}

#[test]
fn an_extra_line_is_an_error() {
    let two = r#"echo '{"v":1,"desired_shards":null}'"#;
    let script = format!("read hello; {READY}; read metrics; {two}; {two}; read metrics; exec sleep 5");
    let mut policy = shell(&script, Duration::from_secs(5)).unwrap();
    assert_eq!(observe(&mut policy, 600, 4, minute(0, 0)), Ok(None));
    std::thread::sleep(Duration::from_millis(200));
    let error = observe(&mut policy, 660, 4, minute(0, 0)).unwrap_err();
    assert!(error.contains(r#"wrote `{"v":1,"desired_shards":null}` unasked, before the metrics at 660 s"#), "{error}");
}

#[test]
fn notes_reach_the_answer() {
    let answer = r#"echo '{"v":1,"type":"decision","desired_shards":6,"note":"from sh"}'"#;
    let mut policy =
        shell(&format!("read hello; {READY}; read metrics; {answer}; read end"), Duration::from_secs(5)).unwrap();
    let minutes = [(540, minute(0, 0))];
    let decision = policy.decide(&Observation { now_s: 600, open_shards: 4, updating: false, minutes: &minutes });
    let decision = decision.unwrap();
    assert_eq!((decision.desired_shards, decision.note.as_str()), (Some(6), "from sh"));
    policy.finish().unwrap();
}

#[test]
fn the_program_is_told_the_seed_and_runs_in_the_working_dir() {
    // The program answers ready only when the hello carries the seed and it runs in the
    // given folder (exiting 9 or 8 otherwise).
    let dir = std::env::temp_dir().join(format!("kinesim-external-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = format!(
        r#"read hello; case "$hello" in *'"seed":42,'*) ;; *) exit 9;; esac; [ "$(pwd -P)" = "$(cd {} && pwd -P)" ] || exit 8; {READY}; read end"#,
        dir.display()
    );
    let command = ["sh".to_string(), "-c".to_string(), script];
    let mut policy = ProcessPolicy::start(&command, &dir, &hello(1), Duration::from_secs(5)).unwrap();
    policy.finish().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_relative_program_is_found_from_the_working_dir() {
    let dir = std::env::temp_dir().join(format!("kinesim-external-rel-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    let program = dir.join("bin/policy.sh");
    std::fs::write(&program, format!("#!/bin/sh\nread hello\n{READY}\nread end\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut policy =
        ProcessPolicy::start(&["./bin/policy.sh".to_string()], &dir, &hello(1), Duration::from_secs(5)).unwrap();
    policy.finish().unwrap();

    let error = failure(ProcessPolicy::start(&["bin/missing.sh".to_string()], &dir, &hello(1), Duration::from_secs(5)));
    assert!(error.contains("`bin/missing.sh` could not be started: "), "{error}");
    assert!(error.contains(&format!("looked for {}", dir.join("bin/missing.sh").display())), "{error}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_program_cannot_be_started() {
    let error = failure(start(&["kinesim-no-such-policy", "--flag"], Duration::from_secs(5)));
    assert!(error.starts_with("external policy `kinesim-no-such-policy --flag` could not be started: "), "{error}");
    assert!(error.contains("No such file or directory"), "{error}");
    assert!(error.ends_with(" and on PATH)"), "{error}");

    let error = failure(start(&[], Duration::from_secs(5)));
    assert!(error.contains("the command is empty"), "{error}");
}
