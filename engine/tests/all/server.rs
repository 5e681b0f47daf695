//! A `weft serve` child process for the tests: started on a loopback port, its standard output (the
//! published events) read as it comes so that it never blocks, stopped with SIGTERM or killed with
//! SIGKILL, and killed when dropped (a failing test leaves no server behind).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::thread::JoinHandle;

use serde_json::Value;

use crate::{command, wait_for};

/// A running `weft serve`.
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    agent: ureq::Agent,
    stdout: Option<JoinHandle<String>>,
    /// What it has written to stderr but its address.
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

/// How to start a server: the definition, the store, the address and extra environment.
#[derive(Clone)]
pub struct Launch {
    /// The definition file deployed and served (none when empty: the store's deployments are served).
    pub file: String,
    /// The store.
    pub store: PathBuf,
    /// `--listen`.
    pub listen: String,
    /// Extra environment.
    pub env: Vec<(String, String)>,
    /// `--workers`.
    pub workers: usize,
    /// More arguments.
    pub extra: Vec<String>,
}

impl Launch {
    /// `file` served from `store` on a free loopback port by 2 workers, with `env`.
    pub fn new(file: &str, store: &Path, env: &[(&str, &str)]) -> Launch {
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Launch {
            file: file.to_owned(),
            store: store.to_owned(),
            listen: "127.0.0.1:0".into(),
            env,
            workers: 2,
            extra: vec![],
        }
    }

    /// Start it.
    pub fn start(&self) -> Server {
        let workers = self.workers.to_string();
        let mut args = vec!["serve", "--listen", &self.listen, "--workers", &workers];
        if !self.file.is_empty() {
            args.push(&self.file);
        }
        args.extend(self.extra.iter().map(String::as_str));
        let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut child =
            command(&self.store, &args, &env).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        // What it deployed comes first, then the address.
        let mut said = String::new();
        let base = loop {
            let mut line = String::new();
            if stderr.read_line(&mut line).unwrap() == 0 {
                panic!("the server stopped before it listened: {said}");
            }
            match line.trim().strip_prefix("weft serve: listening on ") {
                Some(base) => break base.to_owned(),
                None => said.push_str(&line),
            }
        };
        let log = std::sync::Arc::new(std::sync::Mutex::new(said));
        let written = log.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            while stderr.read_line(&mut line).is_ok_and(|n| n > 0) {
                written.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        let mut out = child.stdout.take().unwrap();
        let stdout = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = out.read_to_string(&mut text);
            text
        });
        let agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        Server { child: Some(child), base, agent, stdout: Some(stdout), log }
    }
}

impl Server {
    /// `weft serve` of the definition `file` on a free loopback port, with `env`.
    pub fn serving(file: &str, store: &Path, env: &[(&str, &str)]) -> Server {
        Launch::new(file, store, env).start()
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.base.rsplit(':').next().and_then(|p| p.parse().ok()).expect("a port")
    }

    /// POST `body` to `path` with `headers`: the status and the JSON answer.
    pub fn post(&self, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
        let (status, _, body) = self.post_with_headers(path, headers, body);
        (status, body)
    }

    /// POST `body` to `path` with `headers`: the status, the answer's headers and its JSON.
    pub fn post_with_headers(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, ureq::http::HeaderMap, Value) {
        let mut request = self.agent.post(format!("{}{path}", self.base));
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let mut response = request.send(body).unwrap();
        let status = response.status().as_u16();
        let answer_headers = response.headers().clone();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        (status, answer_headers, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// GET `path`: the status and the JSON answer.
    pub fn get(&self, path: &str) -> (u16, Value) {
        let mut response = self.agent.get(format!("{}{path}", self.base)).call().unwrap();
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// A structured-mode CloudEvent posted to `path`.
    pub fn structured(&self, path: &str, event: &Value, headers: &[(&str, &str)]) -> (u16, Value) {
        let mut all = vec![("content-type", "application/cloudevents+json")];
        all.extend_from_slice(headers);
        self.post(path, &all, &event.to_string())
    }

    /// What it has written on stderr so far, but the line with its address.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The processor time it has used so far, user and system, in clock ticks (`/proc/PID/stat`).
    pub fn cpu_ticks(&self) -> u64 {
        let pid = self.child.as_ref().expect("running").id();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        // After the command name in parentheses: state is field 3, utime 14 and stime 15.
        let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    }

    /// The summary of instance `id`.
    pub fn status(&self, id: &str) -> Value {
        self.get(&format!("/instances/{id}")).1
    }

    /// Wait until instance `id` has status `status`.
    pub fn wait_status(&self, id: &str, status: &str) {
        wait_for(&format!("{id} {status}"), || self.status(id)["status"] == status);
    }

    /// Stop it with SIGTERM: its exit status and what it printed on stdout.
    pub fn stop(mut self) -> (ExitStatus, String) {
        let child = self.child.take().expect("running");
        std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        self.finish(child)
    }

    /// Kill it with SIGKILL: what it printed on stdout.
    pub fn kill(mut self) -> String {
        let mut child = self.child.take().expect("running");
        child.kill().unwrap();
        self.finish(child).1
    }

    /// Wait for `child` to exit and for its output.
    fn finish(&mut self, mut child: Child) -> (ExitStatus, String) {
        let status = child.wait().unwrap();
        (status, self.stdout.take().map(|t| t.join().unwrap()).unwrap_or_default())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
