//! `weft serve` shares its workers fairly: an instance that receives events without pause does not keep
//! one that received a single event, or one whose timer is due, from a worker.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How many instances get events without pause.
const HOT: usize = 6;

use serde_json::{Value, json};

use crate::definition;
use crate::server::{Launch, Server};

/// A process whose recorder takes `Go` events for ever: `Start` opens an await of `Go`, `Timed` one that
/// times out after 1 s (its timeout goes to the recorder too), and each recorded value opens it again.
fn looping(dir: &std::path::Path) -> String {
    definition(
        dir,
        "looping",
        "name: looping\nversion: 1.0.0\nsteps:\n  - id: recorder\n    component: '{steps}/recorder.wasm'\n\
         inputs:\n  - event: Start\n    to: [{ await: Go }]\n  \
         - event: Timed\n    to: [{ await: Go, timeout: 1s, onTimeout: [{ step: recorder }] }]\n  \
         - event: Go\n    to: [{ step: recorder }]\n\
         edges:\n  - from: { step: recorder, event: Recorded }\n    to: [{ await: Go }]\n",
    )
}

/// A CloudEvent of type `kind` with id `id` and `data`.
fn event(kind: &str, id: &str, data: Value) -> Value {
    json!({"specversion": "1.0", "id": id, "source": "/fairness", "type": kind, "data": data})
}

/// How many values instance `id`'s recorder holds.
fn recorded(server: &Server, id: &str) -> usize {
    let (_, summary) = server.get(&format!("/instances/{id}"));
    summary["states"]["recorder"]["seen"].as_array().map_or(0, Vec::len)
}

/// With one worker and slices of two supersteps, three senders post events as fast as they can to six
/// instances `A0`..`A5` (first in id order; each takes one event at a time, while it awaits one), so that
/// some of them are always ready again when a slice ends. Meanwhile `B`'s one event is taken and `T`'s 1 s
/// timeout fires, each within a few seconds (under two here), while the `A`s keep taking events: a slice
/// at a time, no instance keeps the workers from the others, nor do events from timers
/// (docs/serving.md, "Running instances").
#[test]
fn an_instance_flooded_with_events_does_not_keep_others_from_the_worker() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    let mut launch = Launch::new(&looping(dir.path()), &store, &[]);
    launch.workers = 1;
    launch.extra = vec!["--slice".into(), "2".into()];
    let server = launch.start();
    let hot: Vec<String> = (0..HOT).map(|n| format!("A{n}")).collect();
    for id in hot.iter().map(String::as_str).chain(["B"]) {
        let start = event("Start", &format!("start-{id}"), json!({}));
        assert_eq!(server.structured("/processes/looping/events", &start, &[("weft-instance-id", id)]).0, 202);
        server.wait_status(id, "waiting");
    }

    let stop = AtomicBool::new(false);
    let sent = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for sender in 0..3 {
            let (server, stop, sent, hot) = (&server, &stop, &sent, &hot);
            scope.spawn(move || {
                for n in 0.. {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let go = event("Go", &format!("go-{sender}-{n}"), json!(n));
                    // Refused (409) while the await is closed, between taking one and opening it again.
                    let to = &hot[(n + sender) % HOT];
                    let (status, answer) = server.structured(&format!("/instances/{to}/events"), &go, &[]);
                    assert!(status == 202 || status == 409, "{status} {answer}");
                    sent.fetch_add(usize::from(status == 202), Ordering::SeqCst);
                }
            });
        }
        let taken = || hot.iter().map(|id| recorded(&server, id)).sum::<usize>();
        crate::wait_for("the senders to get going", || taken() > 20);
        let timed = event("Timed", "start-T", json!("timed out"));
        assert_eq!(server.structured("/processes/looping/events", &timed, &[("weft-instance-id", "T")]).0, 202);
        let go = event("Go", "go-b", json!("b"));
        assert_eq!(server.structured("/instances/B/events", &go, &[]).0, 202);
        let since = Instant::now();
        let served = |id: &str| recorded(&server, id) == 1;
        while !(served("B") && served("T")) && since.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        stop.store(true, Ordering::SeqCst);
        assert!(served("B"), "B's one event was not taken in 10 s");
        assert!(served("T"), "T's timeout did not fire in 10 s");
    });
    let taken: usize = hot.iter().map(|id| recorded(&server, id)).sum();
    assert!(taken > 20 && taken < sent.into_inner(), "the As took {taken} events meanwhile, behind their senders");
    assert!(server.stop().0.success());
}
