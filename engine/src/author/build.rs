//! `weft build`: step projects made into components, each language with the toolchain its SDK package
//! pins (cargo for Rust, componentize-py for Python, componentize-qjs for JavaScript).
//!
//! Rust steps of one cargo workspace are built by one cargo invocation; Python and JavaScript steps, which
//! take seconds each, are built two at a time (or one per core) and only when their folder or their SDK
//! changed since their component was written (cargo keeps its own account of what changed).

use std::path::{Path, PathBuf};

use super::{Language, StepProject, javascript, python, rust};

/// How to build.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Where the component goes, for a single step (default: beside its folder).
    pub output: Option<PathBuf>,
    /// Rebuild Python and JavaScript steps even when their component is newer than their files.
    pub force: bool,
}

/// What one build gave.
#[derive(Debug, Clone)]
pub struct Built {
    /// The step project.
    pub project: StepProject,
    /// Its component.
    pub output: PathBuf,
    /// Whether it was built now (false: it was up to date).
    pub rebuilt: bool,
}

/// The step projects `dir` names: itself if it is one, else each folder in it that is one (by name).
///
/// Errors: `dir` is not a folder, or neither it nor any folder in it is a step project.
pub fn find_steps(dir: &Path) -> Result<Vec<StepProject>, String> {
    if !dir.is_dir() {
        return Err(format!(
            "{}: not a folder (weft build takes a step's folder, or a folder of steps)",
            dir.display()
        ));
    }
    if let Some(language) = Language::of(dir) {
        return Ok(vec![StepProject { dir: dir.to_path_buf(), language }]);
    }
    let mut steps: Vec<StepProject> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: cannot read the folder: {e}", dir.display()))?
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .filter_map(|path| Language::of(&path).map(|language| StepProject { dir: path, language }))
        .collect();
    if steps.is_empty() {
        return Err(format!(
            "{}: not a step (no Cargo.toml, app.py or app.js) and no folder in it is one\n  hint: `weft new step NAME --lang rust|python|javascript` writes a step project",
            dir.display()
        ));
    }
    steps.sort_by(|a, b| a.dir.cmp(&b.dir));
    Ok(steps)
}

/// `steps` with each folder once (`weft build a a`, or `weft build . a` inside `a`'s parent, would
/// build one step twice at once into the same file).
pub fn distinct(steps: Vec<StepProject>) -> Vec<StepProject> {
    let mut seen = std::collections::HashSet::new();
    steps.into_iter().filter(|s| seen.insert(super::tools::canonical(&s.dir))).collect()
}

/// Build `steps`. Each step's problems are reported by its folder; the first error of a compiler is
/// given as the compiler wrote it.
///
/// Errors: every step that failed, one message each (the others are built).
pub fn build(steps: &[StepProject], options: &Options) -> Result<Vec<Built>, String> {
    if options.output.is_some() && steps.len() != 1 {
        return Err(format!("--output names one component, and {} steps were found", steps.len()));
    }
    let output = |step: &StepProject| options.output.clone().unwrap_or_else(|| step.default_output());
    let mut built = Vec::new();
    let mut errors = Vec::new();

    let crates: Vec<&StepProject> = steps.iter().filter(|s| s.language == Language::Rust).collect();
    if !crates.is_empty() {
        let outputs: Vec<PathBuf> = crates.iter().map(|s| output(s)).collect();
        match rust::build(&crates, &outputs) {
            Ok(()) => built.extend(crates.iter().zip(outputs).map(|(s, o)| Built {
                project: (*s).clone(),
                output: o,
                rebuilt: true,
            })),
            Err(e) => errors.push(e),
        }
    }

    let others: Vec<&StepProject> = steps.iter().filter(|s| s.language != Language::Rust).collect();
    let results = in_parallel(&others, |step| {
        let out = output(step);
        let rebuilt = if step.language == Language::Python {
            python::build(&step.dir, &out, options.force)
        } else {
            javascript::build(&step.dir, &out, options.force)
        }?;
        Ok(Built { project: (*step).clone(), output: out, rebuilt })
    });
    for result in results {
        match result {
            Ok(b) => built.push(b),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() { Ok(built) } else { Err(errors.join("\n\n")) }
}

/// `f` applied to each of `items`, on as many threads as the machine has cores (at most one per item),
/// results in the order of `items`.
fn in_parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map(usize::from).unwrap_or(2).min(items.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<R>>> = items.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let r = f(item);
                    *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
                }
            });
        }
    });
    results.into_iter().filter_map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner())).collect()
}
