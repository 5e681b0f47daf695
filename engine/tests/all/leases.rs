//! One driver at a time, by leases (docs/durability.md, "One driver at a time"): a live holder is never
//! taken over, wherever it runs (another PID namespace of the same host name, as two containers of one pod
//! are); a holder killed without letting go is taken over once its lease runs out; an in-memory run,
//! renewing nothing, outlasts its lease.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::service::Service;
use crate::{command, command_under, definition, text, wait_for, weft_in};

/// A service whose first `/slow` call answers after `hang`, the others at once; and a process whose one
/// step calls it (with its invocation id as the idempotency key).
fn slow_process(dir: &std::path::Path, hang: Duration) -> (Service, String) {
    let service = Service::first_call_waits(hang);
    let file = definition(
        dir,
        "slow",
        &format!(
            "name: slow\nversion: 1.0.0\nsteps:\n  - id: payer\n    component: '{{steps}}/payer.wasm'\n{}\
             inputs:\n  - event: Start\n    to: [{{ step: payer }}]\n",
            service.grant("/slow")
        ),
    );
    (service, file)
}

fn keys(service: &Service) -> Vec<String> {
    service.requests().iter().map(|r| r.header("idempotency-key").unwrap_or_default().to_owned()).collect()
}

/// `weft` killed mid-call leaves its lease behind: the next `weft resume` waits for it to run out (it is not
/// renewed any more), takes the instance over and re-runs the call with the same key.
#[test]
fn a_killed_holder_is_taken_over_once_its_lease_runs_out() {
    let dir = tempfile::tempdir().unwrap();
    let (service, file) = slow_process(dir.path(), Duration::from_secs(60));
    let store = dir.path().join("store.db");
    let lease = [("WEFT_LEASE", "1s")];
    let mut holder = command(&store, &["run", &file, "--event", "Start", "--data", "{}", "--instance-id", "k"], &lease)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the call", || !service.requests().is_empty());
    holder.kill().unwrap();
    holder.wait().unwrap();
    let started = Instant::now();
    let out = weft_in(&store, &["resume", "k"], &lease);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(started.elapsed() >= Duration::from_millis(300), "waited for the lease: {:?}", started.elapsed());
    assert!(text(&out.stderr).contains("completed"), "{}", text(&out.stderr));
    assert_eq!(keys(&service), ["k:payer:1", "k:payer:1"]);
}

/// A holder in another PID namespace with the same host name (its pid may be anything, even this
/// process's) is alive as long as it renews its lease: a second driver is refused, and only the holder
/// ever calls the service.
#[test]
fn a_live_holder_in_another_pid_namespace_is_never_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let (service, file) = slow_process(dir.path(), Duration::from_secs(5));
    let store = dir.path().join("store.db");
    // A period long enough that a loaded machine still renews in time (three times per period).
    let lease = [("WEFT_LEASE", "1500ms")];
    let isolated = std::process::Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .status()
        .is_ok_and(|s| s.success());
    let wrapper: &[&str] = if isolated { &["unshare", "--pid", "--fork", "--mount-proc"] } else { &[] };
    if !isolated {
        eprintln!("unshare --pid is not permitted here: the holder runs in this PID namespace");
    }
    let args = ["run", &file, "--event", "Start", "--data", "{}", "--instance-id", "n"];
    let holder =
        command_under(wrapper, &store, &args, &lease).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    wait_for("the call", || !service.requests().is_empty());
    // Well past one lease period: the holder renews its lease all along.
    for _ in 0..3 {
        let second = weft_in(&store, &["resume", "n"], &lease);
        assert_eq!(second.status.code(), Some(2), "{}", text(&second.stderr));
        assert!(text(&second.stderr).contains("\"n\" is held by weft pid"), "{}", text(&second.stderr));
        std::thread::sleep(Duration::from_millis(800));
    }
    let done = holder.wait_with_output().unwrap();
    assert!(done.status.success(), "{}", text(&done.stderr));
    assert!(text(&done.stderr).contains("completed"), "{}", text(&done.stderr));
    assert_eq!(keys(&service), ["n:payer:1"], "only the holder called, once");
}

/// `weft run --in-memory` renews no lease (docs/durability.md, "One driver at a time"): a run whose
/// outside call outlasts its lease many times over still commits and completes, the call made once.
#[test]
fn an_in_memory_run_outlasting_its_unrenewed_lease_completes() {
    let dir = tempfile::tempdir().unwrap();
    let (service, file) = slow_process(dir.path(), Duration::from_secs(1));
    let store = dir.path().join("store.db");
    let args = ["run", &file, "--event", "Start", "--data", "{}", "--instance-id", "m", "--in-memory"];
    let started = Instant::now();
    let out = weft_in(&store, &args, &[("WEFT_LEASE", "50ms")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(started.elapsed() >= Duration::from_secs(1), "the call outlasted the lease: {:?}", started.elapsed());
    assert!(text(&out.stderr).contains("completed"), "{}", text(&out.stderr));
    assert_eq!(keys(&service), ["m:payer:1"], "called once");
    assert!(!store.exists(), "nothing was written to a store");
}
