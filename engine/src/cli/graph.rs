//! `weft graph [FILE] [--format mermaid|dot] [--run ID]`: draw a process definition; with `--run`, the
//! definition that instance is pinned to, marked with the path it took (steps invoked and edges fired,
//! with counts, from its history).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use weft_definitions::graph::{Format, Taken};
use weft_definitions::tree::{DefinitionTree, load_tree, read_file};

use super::store::StoreArgs;
use super::{EXIT_BAD_INPUT, fail};
use crate::load::process_pin;
use crate::runner::HistoryRecord;
use crate::store::{InstanceInfo, Store};

// Arguments of `weft graph`.
#[derive(Args)]
pub struct GraphArgs {
    /// The process definition (YAML); with `--run`, the instance's pinned definition is drawn instead.
    #[arg(required_unless_present = "run")]
    file: Option<PathBuf>,
    /// `mermaid` (a flowchart for Markdown) or `dot` (Graphviz).
    #[arg(long, value_enum, default_value = "mermaid")]
    format: GraphFormat,
    /// Mark the path process instance ID took: each step it invoked and each edge it fired, with counts.
    #[arg(long, value_name = "ID")]
    run: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
}

/// `weft graph --format`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum GraphFormat {
    /// A Mermaid flowchart.
    Mermaid,
    /// A Graphviz digraph.
    Dot,
}

/// Print the graph; a definition with problems is refused, listing them.
pub(super) fn graph(args: GraphArgs) -> Result<ExitCode, ExitCode> {
    let format = match args.format {
        GraphFormat::Mermaid => Format::Mermaid,
        GraphFormat::Dot => Format::Dot,
    };
    let (tree, taken) = match &args.run {
        Some(id) => {
            let store = args.store.open()?;
            let info = store.load(id).map_err(|e| fail(EXIT_BAD_INPUT, e.to_string()))?.info;
            let tree = pinned_tree(&*store, &info)?;
            if let Some(file) = &args.file
                && std::fs::read_to_string(file).ok().as_deref() != Some(tree.text.as_str())
            {
                eprintln!(
                    "warning: instance \"{id}\" is pinned to another text than {}; drawn is the definition it ran",
                    file.display()
                );
            }
            (tree, Some(taken(&*store, id)?))
        }
        None => {
            let file = args.file.as_deref().unwrap_or(Path::new(""));
            let text = std::fs::read_to_string(file)
                .map_err(|e| fail(EXIT_BAD_INPUT, format!("cannot read {}: {e}", file.display())))?;
            (load_tree(file, text, &mut read_file).map_err(|e| fail(EXIT_BAD_INPUT, e.to_string()))?, None)
        }
    };
    print!("{}", weft_definitions::graph::render(&tree, format, taken.as_ref()));
    Ok(ExitCode::SUCCESS)
}

/// The definition tree instance `info` is pinned to, sub-processes included, from the store's blobs.
fn pinned_tree(store: &dyn Store, info: &InstanceInfo) -> Result<DefinitionTree, ExitCode> {
    let blob = |digest: &str| -> Result<String, String> {
        let bytes = store.blob(digest).map_err(|e| e.to_string())?;
        let bytes = bytes.ok_or_else(|| format!("the store lacks the blob {digest}"))?;
        String::from_utf8(bytes).map_err(|_| format!("the blob {digest} is not UTF-8 text"))
    };
    let text = blob(&info.definition_digest).map_err(|e| fail(EXIT_BAD_INPUT, e))?;
    let mut read = |key: &str, _path: &Path| {
        let pin = process_pin(key);
        let digest = info.components.iter().find(|(k, _)| *k == pin).map(|(_, d)| d.as_str());
        blob(digest.ok_or_else(|| format!("the run has no pinned definition for sub-process \"{key}\""))?)
    };
    load_tree(Path::new(&info.definition_file), text, &mut read).map_err(|e| fail(EXIT_BAD_INPUT, e.to_string()))
}

/// The steps instance `id` invoked and the edges it fired, counted over its history.
fn taken(store: &dyn Store, id: &str) -> Result<Taken, ExitCode> {
    let mut taken = Taken::default();
    let counted = crate::store::each_history(store, id, |entry| {
        match entry.record {
            HistoryRecord::Invoked { step, .. } => *taken.invoked.entry(step).or_default() += 1,
            HistoryRecord::Fired { edges } => {
                for edge in edges {
                    *taken.fired.entry(edge.to_string()).or_default() += 1;
                }
            }
            HistoryRecord::AwaitClosed { event, timed_out: true } => {
                *taken.fired.entry(weft_definitions::graph::timeout_path(&event)).or_default() += 1;
            }
            _ => {}
        }
        true
    });
    counted.map_err(|e| fail(EXIT_BAD_INPUT, e.to_string()))?;
    Ok(taken)
}
