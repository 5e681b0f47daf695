//! Capabilities granted in the definition (docs/semantics.md, "Capabilities"), through `weft run` as a
//! user runs it: a Python and a JavaScript step call a loopback service with a granted secret, read a
//! config value and print; the account-opening example's Rust credit step asks the credit bureau. The
//! secret's value must appear nowhere the run writes: stdout, the log on stderr (at `-vv`, captured guest
//! output included), or the store's file. A host not on the allow-list and a secret not granted are
//! refused inside the guest, and the service sees no request.

use std::path::Path;

use credit_bureau::{KEY_VARIABLE, TEST_KEY};

use crate::{root, text, weft_in};

/// A process with `caller` (`tests/steps/<lang>-caller.wasm`) granted `capabilities` (YAML flow
/// mapping), its result and `Called` events and any error recorded publicly.
fn caller_process(dir: &Path, lang: &str, capabilities: &str) -> String {
    let steps = root().join("tests/steps");
    let yaml = format!(
        "name: caller\nversion: 1.0.0\nsteps:\n  - id: caller\n    component: '{steps}/{lang}-caller.wasm'\n    \
         capabilities: {capabilities}\n  - id: recorder\n    component: '{steps}/recorder.wasm'\n\
         inputs:\n  - event: Call\n    to: [{{ step: caller, function: call }}]\nedges:\n  \
         - from: {{ step: caller, event: call.OnResult }}\n    to: [{{ step: recorder }}]\n  \
         - from: {{ step: caller, event: Called }}\n    to: [{{ step: recorder }}]\nonError:\n  - step: recorder\n",
        steps = steps.display()
    );
    let path = dir.join(format!("{lang}.yaml"));
    std::fs::write(&path, yaml).unwrap();
    path.to_string_lossy().into_owned()
}

const GRANTED: &str = "{ http: { allow: ['http://127.0.0.1:PORT'], timeout: 2s }, \
                       config: { region: { env: WEFT_TEST_REGION } }, secrets: { apiKey: { env: CREDIT_BUREAU_KEY } } }";

/// `weft -vv run FILE --event Call` asking the caller to POST Ada's details to `url`, with the test key
/// and region in the environment: `(exit code, stdout, stderr)`, after checking that the key appears in
/// none of them nor in the store's files.
fn call(store_dir: &Path, file: &str, url: &str) -> (Option<i32>, String, String) {
    let store = store_dir.join("weft.db");
    let data = format!(r#"{{"url": "{url}", "person": {{"ssn": "123-45-6789", "name": "Ada Lovelace"}}}}"#);
    let args = ["-vv", "run", file, "--event", "Call", "--data", &data];
    let env = [(KEY_VARIABLE, TEST_KEY), ("WEFT_TEST_REGION", "eu-west")];
    let out = weft_in(&store, &args, &env);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_no_key(&stdout, &stderr, store_dir);
    (out.status.code(), stdout, stderr)
}

/// The test key is in neither output nor any file of the store's folder (database, WAL).
fn assert_no_key(stdout: &str, stderr: &str, store_dir: &Path) {
    assert!(!stdout.contains(TEST_KEY), "the secret is on stdout:\n{stdout}");
    assert!(!stderr.contains(TEST_KEY), "the secret is in the log:\n{stderr}");
    for entry in std::fs::read_dir(store_dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let found = bytes.windows(TEST_KEY.len()).any(|w| w == TEST_KEY.as_bytes());
        assert!(!found, "the secret is stored in {}", path.display());
    }
}

#[test]
fn python_and_javascript_steps_call_a_service_with_a_secret_that_appears_nowhere() {
    let bureau = credit_bureau::start("127.0.0.1:0", TEST_KEY).unwrap();
    let port = bureau.addr().port().to_string();
    let url = format!("http://127.0.0.1:{port}/v1/credit-reports");
    for (n, lang) in ["py", "js"].into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let file = caller_process(dir.path(), lang, &GRANTED.replace("PORT", &port));
        let (code, stdout, stderr) = call(dir.path(), &file, &url);
        assert_eq!(code, Some(0), "{lang}: {stderr}");
        assert_eq!(bureau.requests(), n as u64 + 1, "{lang}: the service was called once");
        // The result: the bureau's answer (so the key it was sent was right), the config value, and the
        // key the step returned, redacted.
        assert!(stdout.contains(r#""status":200"#) && stdout.contains(r#""latePayments24m":0"#), "{lang}: {stdout}");
        assert!(stdout.contains(r#""region":"eu-west""#), "{lang}: {stdout}");
        assert!(stdout.contains(r#""key":"[secret:apiKey]""#), "{lang}: {stdout}");
        // The event it emitted with the key, redacted, and its print (Python's to WASI stdout, captured;
        // JavaScript's `console.log` to the log interface), in the log and redacted.
        assert_eq!(stdout.matches("[secret:apiKey]").count(), 2, "{lang}: {stdout}");
        let printed = stderr.lines().find(|l| l.contains(&format!("calling {url} with key [secret:apiKey]")));
        let printed = printed.unwrap_or_else(|| panic!("{lang}: no printed line in {stderr}"));
        assert!(lang != "py" || printed.contains("stream=\"stdout\""), "{lang}: {printed}");
    }
}

#[test]
fn a_host_not_on_the_allow_list_is_refused_inside_the_guest() {
    let bureau = credit_bureau::start("127.0.0.1:0", TEST_KEY).unwrap();
    let url = format!("http://127.0.0.1:{}/v1/credit-reports", bureau.addr().port());
    for lang in ["py", "js"] {
        let dir = tempfile::tempdir().unwrap();
        let file = caller_process(dir.path(), lang, &GRANTED.replace("PORT", "1"));
        let (code, stdout, _) = call(dir.path(), &file, &url);
        assert_eq!(code, Some(0), "{lang}: the error handler takes the error");
        assert!(stdout.contains("HTTP request not allowed"), "{lang}: {stdout}");
        assert!(stdout.contains(&format!("127.0.0.1:{} is not on the allow-list", bureau.addr().port())), "{stdout}");
        assert!(stdout.contains("http://127.0.0.1:1"), "{lang}: the message lists what is allowed: {stdout}");
    }
    assert_eq!(bureau.requests(), 0, "nothing reached the service");
}

#[test]
fn a_secret_not_granted_cannot_be_read_and_no_http_without_a_grant() {
    let dir = tempfile::tempdir().unwrap();
    let url = "http://127.0.0.1:1/v1/credit-reports";
    let file = caller_process(dir.path(), "py", "{ config: { region: eu } }");
    let (code, stdout, _) = call(dir.path(), &file, url);
    assert_eq!(code, Some(0));
    assert!(stdout.contains(r#"the secret \"apiKey\" is not granted to step \"caller\""#), "{stdout}");
    let file = caller_process(dir.path(), "js", "{ secrets: { apiKey: { env: CREDIT_BUREAU_KEY } } }");
    let (code, stdout, _) = call(dir.path(), &file, url);
    assert_eq!(code, Some(0));
    assert!(stdout.contains(r#"step \"caller\" is not granted outbound HTTP"#), "{stdout}");
}

#[test]
fn the_credit_step_asks_the_bureau_with_its_key_which_appears_nowhere() {
    let bureau = credit_bureau::for_tests();
    let dir = tempfile::tempdir().unwrap();
    let before = bureau.requests();
    let data = "examples/account-opening/applicants/approved.json";
    let args =
        ["-vv", "run", "examples/account-opening/process.yaml", "--event", "NewApplication", "--data-file", data];
    let out = weft_in(&dir.path().join("weft.db"), &args, &[]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("\"AccountCreated\"") && stdout.contains("\"creditLimit\":2400"), "{stdout}");
    assert_eq!(bureau.requests(), before + 1);
    assert_no_key(&stdout, &stderr, dir.path());
}

#[test]
fn the_credit_step_is_refused_a_bureau_not_on_its_allow_list() {
    let bureau = credit_bureau::for_tests();
    let dir = tempfile::tempdir().unwrap();
    let credit = root().join("examples/account-opening/steps/credit.wasm");
    let recorder = root().join("tests/steps/recorder.wasm");
    let yaml = format!(
        "name: credit-only\nversion: 1.0.0\nsteps:\n  - id: credit\n    component: '{}'\n    capabilities:\n      \
         http: {{ allow: ['https://bureau.example.com'] }}\n      config: {{ bureauUrl: 'http://{}' }}\n      \
         secrets: {{ apiKey: {{ env: CREDIT_BUREAU_KEY }} }}\n  - id: recorder\n    component: '{}'\n\
         inputs:\n  - event: NewApplication\n    to: [{{ step: credit }}]\nonError:\n  - step: recorder\n",
        credit.display(),
        bureau.addr(),
        recorder.display()
    );
    let file = dir.path().join("credit.yaml");
    std::fs::write(&file, yaml).unwrap();
    let before = bureau.requests();
    let data = root().join("examples/account-opening/applicants/approved.json");
    let args = ["run", file.to_str().unwrap(), "--event", "NewApplication", "--data-file", data.to_str().unwrap()];
    let out = weft_in(&dir.path().join("weft.db"), &args, &[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        stdout.contains(&format!("http://{} is not on the allow-list (https://bureau.example.com:443)", bureau.addr())),
        "{stdout}"
    );
    assert_eq!(bureau.requests(), before, "nothing reached the bureau");
}

#[test]
fn a_secret_from_an_unset_variable_or_a_missing_file_is_a_load_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = caller_process(
        dir.path(),
        "py",
        "{ secrets: { apiKey: { env: WEFT_NO_SUCH_VARIABLE }, other: { file: nope.key } } }",
    );
    let out = weft_in(&dir.path().join("weft.db"), &["run", &file, "--event", "Call"], &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("/steps/0/capabilities/secrets/apiKey"), "{stderr}");
    assert!(stderr.contains("reads the environment variable WEFT_NO_SUCH_VARIABLE, which is not set"), "{stderr}");
    assert!(stderr.contains("the secret \"other\" of step \"caller\" cannot be read from"), "{stderr}");
}

/// What the granted HTTP interface does not do (docs/semantics.md, "Capabilities"): a redirect comes back
/// to the guest as it is, not followed to a host off the allow-list; a proxy named in the environment is
/// not used; a body past `maxResponseSize` is refused (`too-large`); and a call never outlasts what is left
/// of the invocation's own time limit, whatever the grant's timeout.
#[test]
fn a_step_s_http_call_follows_no_redirect_uses_no_proxy_and_keeps_to_its_bounds() {
    use std::time::{Duration, Instant};

    use crate::service::{Reply, Service};

    let elsewhere = Service::start(0, |_, _| Reply::status(200));
    let proxy = Service::start(0, |_, _| Reply::status(200));
    let target = elsewhere.url("/taken");
    let service = Service::start(0, move |_, request| match request.path.as_str() {
        "/moved" => Reply {
            status: 302,
            headers: vec![("Location", target.clone()), ("Content-Type", "application/json".into())],
            body: "{}".into(),
            delay: Duration::ZERO,
        },
        "/large" => Reply::json(&serde_json::json!({ "filler": "x".repeat(4096) }), Duration::ZERO),
        _ => Reply::json(&serde_json::json!({ "late": true }), Duration::from_secs(8)),
    });
    let dir = tempfile::tempdir().unwrap();
    let port = service.port();
    let grant = format!(
        "{{ http: {{ allow: ['http://127.0.0.1:{port}'], timeout: 20s, maxResponseSize: 1KiB }}, \
         config: {{ region: eu }}, secrets: {{ apiKey: {{ env: CREDIT_BUREAU_KEY }} }} }}"
    );
    let file = caller_process(dir.path(), "py", &grant);
    let limited = std::fs::read_to_string(&file)
        .unwrap()
        .replace("    capabilities:", "    limits: { timeout: 2s }\n    capabilities:");
    std::fs::write(&file, limited).unwrap();
    // No `NO_PROXY` inherited from the machine may exempt loopback from the proxy.
    let proxied = [
        ("HTTP_PROXY", proxy.url("")),
        ("http_proxy", proxy.url("")),
        ("ALL_PROXY", proxy.url("")),
        ("NO_PROXY", String::new()),
        ("no_proxy", String::new()),
    ];
    let run = |path: &str| {
        let data = format!(r#"{{"url": "{}", "person": {{"name": "Ada"}}}}"#, service.url(path));
        let store = dir.path().join(format!("{}.db", path.trim_start_matches('/')));
        let mut env: Vec<(&str, &str)> = proxied.iter().map(|(k, v)| (*k, v.as_str())).collect();
        env.push((KEY_VARIABLE, TEST_KEY));
        let since = Instant::now();
        let out = weft_in(&store, &["run", &file, "--event", "Call", "--data", &data], &env);
        assert_eq!(out.status.code(), Some(0), "{path}: {}", text(&out.stderr));
        (text(&out.stdout), since.elapsed())
    };

    let (moved, _) = run("/moved");
    assert!(moved.contains(r#""status":302"#), "the redirect came back as it is: {moved}");
    assert!(elsewhere.requests().is_empty(), "nothing followed it off the allow-list");

    let (large, _) = run("/large");
    assert!(
        large.contains("too-large") || large.contains("larger than 1KiB (capabilities.http.maxResponseSize)"),
        "{large}"
    );

    let (slow, took) = run("/slow");
    // The call's own timeout, set to what was left of the invocation's, or (on a loaded machine, when the
    // guest took long to reach the call) the invocation's deadline itself.
    let cut = ["what was left of the invocation's limits.timeout", "ran past its time limit of 2s (limits.timeout)"];
    assert!(cut.iter().any(|why| slow.contains(why)), "{slow}");
    assert!(took < Duration::from_secs(8), "the call was cut at the invocation's 2 s, not the service's 8 s: {took:?}");

    assert_eq!(service.requests().len(), 3, "each call went straight to the service");
    assert!(proxy.requests().is_empty(), "no request went through the proxy in the environment");
}

/// A secret is read by each command that runs supersteps, never stored (docs/semantics.md, "Secrets"): a
/// run started while the key file held a wrong key waits for `Call`; the right key is written to the file;
/// `weft send` of `Call` makes the JavaScript caller's request with the key read then (the bureau answers
/// 200, not 401), and the key is in no output and no file of the store.
#[test]
fn a_secret_is_read_again_by_the_command_that_resumes_a_run() {
    let bureau = credit_bureau::start("127.0.0.1:0", TEST_KEY).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (store_dir, key_dir) = (dir.path().join("store"), dir.path().join("keys"));
    std::fs::create_dir_all(&store_dir).unwrap();
    std::fs::create_dir_all(&key_dir).unwrap();
    let key = key_dir.join("bureau.key");
    std::fs::write(&key, "not-the-key\n").unwrap();
    let steps = root().join("tests/steps");
    let yaml = format!(
        "name: later-call\nversion: 1.0.0\nsteps:\n  - id: caller\n    component: '{steps}/js-caller.wasm'\n    \
         capabilities: {{ http: {{ allow: ['http://{addr}'] }}, secrets: {{ apiKey: {{ file: '{key}' }} }} }}\n  \
         - id: recorder\n    component: '{steps}/recorder.wasm'\n\
         inputs:\n  - event: Start\n    to: [{{ await: Call }}]\n  - event: Call\n    to: [{{ step: caller, function: call }}]\n\
         edges:\n  - from: {{ step: caller, event: call.OnResult }}\n    to: [{{ step: recorder }}]\n",
        steps = steps.display(),
        addr = bureau.addr(),
        key = key.display()
    );
    let file = dir.path().join("later-call.yaml");
    std::fs::write(&file, yaml).unwrap();
    let store = store_dir.join("weft.db");
    let start = ["run", file.to_str().unwrap(), "--event", "Start", "--data", "{}", "--instance-id", "k"];
    let out = weft_in(&store, &start, &[]);
    assert!(text(&out.stderr).contains("waiting"), "{}", text(&out.stderr));

    std::fs::write(&key, format!("{TEST_KEY}\n")).unwrap();
    let url = format!("http://{}/v1/credit-reports", bureau.addr());
    let data = format!(r#"{{"url": "{url}", "person": {{"ssn": "123-45-6789", "name": "Ada Lovelace"}}}}"#);
    let out = weft_in(&store, &["send", "k", "--event", "Call", "--data", &data], &[]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(bureau.requests(), 1);
    assert!(stdout.contains(r#""status":200"#) && stdout.contains(r#""key":"[secret:apiKey]""#), "{stdout}");
    assert_no_key(&stdout, &stderr, &store_dir);
}
