//! `weft graph`: the true topology of a process definition as a Mermaid flowchart or a Graphviz dot
//! digraph. Every step, input event, edge (with its event, condition, delay), all-of group, `stop`,
//! await (with its timeout path), map and the error handler is drawn as declared, and each sub-process
//! as a nested subgraph holding its own graph; nothing is added (SK's Mermaid export always draws Start →
//! first step and last step → End, whatever the graph is).
//!
//! Node ids: `s<i>` for step `i`, `in<i>` for input event `i`, `all<i>` for the all-of group of edge
//! `i`; inside the sub-process of step `i` the same, prefixed `s<i>_`. A sub-process step's subgraph is
//! `sub<i>`, and its node `s<i>` inside it is where the sub-process's public events leave it.
//!
//! Both formats are written from one list of nodes and arrows, so they show the same graph.
//!
//! Given the path a run took ([`Taken`], from its history), the steps it invoked and the arrows of the
//! edges it fired are marked, each with its count (`(×3)`): green and bold in both formats.

use std::collections::HashMap;
use std::fmt::Write;

use crate::model::{EdgeSource, FunctionTarget, ProcessDefinition, StepKind, Target};
use crate::tree::DefinitionTree;

/// The output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A Mermaid `flowchart LR` (renders on GitHub and in most Markdown viewers).
    Mermaid,
    /// A Graphviz `digraph` (`dot -Tsvg`).
    Dot,
}

/// The kind of a node, which decides its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// A step: a box.
    Step,
    /// An input event, an external topic, or the error handler's source: a stadium / ellipse.
    Input,
    /// `stop`: a circle.
    Stop,
    /// An await or an all-of group: a hexagon.
    Gate,
}

struct Node {
    id: String,
    label: String,
    shape: Shape,
    /// The subgraph it is drawn in (`None` at the top).
    parent: Option<usize>,
    /// For a step: its id in a run (`kyc/score` inside the sub-process `kyc`).
    step: Option<String>,
    /// Whether it is a sub-process's input event, which passes on whatever arrives at it.
    relay: bool,
}

/// A sub-process's box.
struct Subgraph {
    id: String,
    label: String,
    parent: Option<usize>,
}

struct Arrow {
    from: String,
    to: String,
    label: String,
    /// The edge it draws, as a run's history names it (`edges/3`, `kyc/inputs/0`).
    edge: Option<String>,
}

/// The path a run took, from its history: how many times each step was invoked, by step id as in the run
/// (`kyc/score`), and how many times each edge fired, by its path (`edges/3`, `kyc/edges/1`, `inputs/0`,
/// `edges/5/allOf/1`, `onError`; see the history's `fired` records), an await's timeout path by
/// [`timeout_path`] (the history's `await_closed` records that say `timed_out`: by the awaited event, as
/// they name it; only a process, not a sub-process, awaits).
#[derive(Debug, Clone, Default)]
pub struct Taken {
    /// Invocations by step id.
    pub invoked: HashMap<String, u64>,
    /// Firings by edge path.
    pub fired: HashMap<String, u64>,
}

/// The key in [`Taken::fired`] of the timeout paths of the awaits of `event`: `timeout/<event>`.
pub fn timeout_path(event: &str) -> String {
    format!("timeout/{event}")
}

/// The colour of what a run took.
const TAKEN_COLOUR: &str = "#2b8a3e";
/// The fill of a step a run invoked.
const TAKEN_FILL: &str = "#d3f9d8";

/// The graph of the process in `tree` (its sub-processes nested) in `format`, ending with a newline;
/// with `taken`, the path a run took is marked on it.
pub fn render(tree: &DefinitionTree, format: Format, taken: Option<&Taken>) -> String {
    let mut graph = Graph::default();
    graph.add(tree, "", "", None);
    let counts = taken.map(|t| graph.mark(t)).unwrap_or_default();
    match format {
        Format::Mermaid => graph.mermaid(&counts),
        Format::Dot => graph.dot(&tree.loaded.definition.name, &counts),
    }
}

/// What a run took, per node and per arrow (same order as the graph's), 0 for what it did not.
#[derive(Default)]
struct Counts {
    nodes: Vec<u64>,
    arrows: Vec<u64>,
}

impl Counts {
    fn node(&self, i: usize) -> u64 {
        self.nodes.get(i).copied().unwrap_or(0)
    }
    fn arrow(&self, i: usize) -> u64 {
        self.arrows.get(i).copied().unwrap_or(0)
    }
}

/// `text` with a count, when there is one: `Again (×4)`, or `×4` alone.
fn counted(text: &str, count: u64) -> String {
    match (count, text.is_empty()) {
        (0, _) => text.to_string(),
        (_, true) => format!("×{count}"),
        _ => format!("{text} (×{count})"),
    }
}

#[derive(Default)]
struct Graph {
    nodes: Vec<Node>,
    arrows: Vec<Arrow>,
    subgraphs: Vec<Subgraph>,
    /// The subgraph nodes are added to now.
    current: Option<usize>,
}

/// Where a target lands: the step's node, or for a sub-process the node of the input event it names.
fn target_node(def: &ProcessDefinition, tree: &DefinitionTree, prefix: &str, t: &FunctionTarget) -> String {
    let Some(i) = def.steps.iter().position(|s| s.id == t.step) else {
        return format!("{prefix}missing_{}", sanitize(&t.step));
    };
    match (def.steps[i].kind(), tree.child(i)) {
        (Some(StepKind::Process(_)), Some(child)) => {
            let inputs = &child.loaded.definition.inputs;
            let k = match &t.event {
                Some(e) => inputs.iter().position(|input| input.event == *e),
                None => (inputs.len() == 1).then_some(0),
            };
            k.map_or_else(|| format!("{prefix}s{i}"), |k| format!("{prefix}s{i}_in{k}"))
        }
        _ => format!("{prefix}s{i}"),
    }
}

impl Graph {
    fn node(&mut self, id: String, label: String, shape: Shape) {
        self.nodes.push(Node { id, label, shape, parent: self.current, step: None, relay: false });
    }

    fn step_node(&mut self, id: String, label: String, step: String) {
        self.nodes.push(Node { id, label, shape: Shape::Step, parent: self.current, step: Some(step), relay: false });
    }

    /// Add the graph of `tree`, its node ids prefixed with `prefix`, its step ids and edge paths (as a
    /// run names them) with `path` (`kyc/` inside the sub-process `kyc`).
    fn add(&mut self, tree: &DefinitionTree, prefix: &str, path: &str, parent: Option<usize>) {
        let def = &tree.loaded.definition;
        self.current = parent;
        for (i, step) in def.steps.iter().enumerate() {
            let id = format!("{prefix}s{i}");
            let run_id = format!("{path}{}", step.id);
            match (step.kind(), tree.child(i)) {
                (Some(StepKind::Process(file)), Some(child)) => {
                    let label = format!("{}: process {file}", step.id);
                    self.subgraphs.push(Subgraph { id: format!("{prefix}sub{i}"), label, parent });
                    let sub = Some(self.subgraphs.len() - 1);
                    self.add(child, &format!("{id}_"), &format!("{run_id}/"), sub);
                    self.current = sub;
                    self.node(id, format!("{} public events", step.id), Shape::Input);
                    self.current = parent;
                }
                (Some(StepKind::Map(map)), _) => {
                    let over = map.component.as_deref().or(map.process.as_deref()).unwrap_or_default();
                    self.step_node(id, format!("{}: map over {over}", step.id), run_id);
                }
                _ => self.step_node(id, step.id.clone(), run_id),
            }
        }
        let g = self;
        let step_node = |t: &FunctionTarget| target_node(def, tree, prefix, t);
        let source_node = |id: &str| {
            def.steps
                .iter()
                .position(|s| s.id == id)
                .map_or_else(|| format!("{prefix}missing_{}", sanitize(id)), |i| format!("{prefix}s{i}"))
        };
        for (i, input) in def.inputs.iter().enumerate() {
            let node = format!("{prefix}in{i}");
            g.node(node.clone(), input.event.clone(), Shape::Input);
            // A sub-process's inputs are reached through its parent's edges, which a run records.
            g.nodes.last_mut().expect("just added").relay = !prefix.is_empty();
            let edge = Some(format!("{path}inputs/{i}"));
            g.targets(&node, String::new(), &input.to, &step_node, &node, edge);
        }
        for (i, edge) in def.edges.iter().enumerate() {
            let mut label = String::new();
            if let Some(when) = &edge.when {
                label = format!("when {when}");
            } else if edge.default {
                label = "default".into();
            }
            match &edge.from {
                Some(from) => {
                    let label = join(&source_label(from), &label);
                    let (source, scope) = (source_node(&from.step), format!("{prefix}e{i}"));
                    g.targets(&source, label, &edge.to, &step_node, &scope, Some(format!("{path}edges/{i}")));
                }
                None if !edge.all_of.is_empty() => {
                    let gate = format!("{prefix}all{i}");
                    g.node(gate.clone(), "all of".into(), Shape::Gate);
                    for (m, member) in edge.all_of.iter().enumerate() {
                        g.arrows.push(Arrow {
                            from: source_node(&member.step),
                            to: gate.clone(),
                            label: source_label(member),
                            edge: Some(format!("{path}edges/{i}/allOf/{m}")),
                        });
                    }
                    let (scope, fired) = (format!("{prefix}e{i}"), Some(format!("{path}edges/{i}")));
                    g.targets(&gate, String::new(), &edge.to, &step_node, &scope, fired);
                }
                None => {}
            }
        }
        if !def.on_error.is_empty() {
            let node = format!("{prefix}onerror");
            g.node(node.clone(), "any unhandled error".into(), Shape::Input);
            let edge = Some(format!("{path}onError"));
            g.targets(&node, String::new(), &def.on_error, &step_node, &format!("{prefix}err"), edge);
        }
    }

    /// Arrows from node `from`, labelled `label`, to each of `targets`, drawing the edge `edge` (as a
    /// run's history names it); nodes for `stop` and awaits are named after `scope` so that each is drawn
    /// where it is declared.
    fn targets(
        &mut self,
        from: &str,
        label: String,
        targets: &[Target],
        step_node: &dyn Fn(&FunctionTarget) -> String,
        scope: &str,
        edge: Option<String>,
    ) {
        let arrow = |to: String, label: String| Arrow { from: from.into(), to, label, edge: edge.clone() };
        for (j, target) in targets.iter().enumerate() {
            match target {
                Target::Stop(_) => {
                    let stop = format!("{scope}_stop{j}");
                    self.node(stop.clone(), "stop".into(), Shape::Stop);
                    self.arrows.push(arrow(stop, label.clone()));
                }
                Target::Function(t) => {
                    let mut to_label = label.clone();
                    let slot: Vec<&str> = [t.event.as_deref(), t.function.as_deref(), t.parameter.as_deref()]
                        .into_iter()
                        .flatten()
                        .collect();
                    if !slot.is_empty() {
                        to_label = join(&to_label, &format!("→ {}", slot.join(".")));
                    }
                    if let Some(delay) = &t.delay {
                        to_label = join(&to_label, &format!("after {}", delay.0));
                    }
                    self.arrows.push(arrow(step_node(t), to_label));
                }
                Target::Topic(t) => {
                    let topic = format!("{scope}_topic{j}");
                    self.node(topic.clone(), format!("topic {}", t.topic), Shape::Input);
                    self.arrows.push(arrow(topic, label.clone()));
                }
                Target::Await(a) => {
                    let gate = format!("{scope}_await{j}");
                    let timeout = a.timeout.as_ref().map(|t| format!(" (timeout {})", t.0)).unwrap_or_default();
                    self.node(gate.clone(), format!("await {}{timeout}", a.event), Shape::Gate);
                    self.arrows.push(arrow(gate.clone(), label.clone()));
                    if !a.on_timeout.is_empty() {
                        let timed_out = Some(timeout_path(&a.event));
                        self.targets(&gate, "on timeout".into(), &a.on_timeout, step_node, &gate.clone(), timed_out);
                    }
                }
            }
        }
    }

    /// How many times the run took each node and arrow: steps by their invocations, arrows by their
    /// edge's firings; an arrow out of a sub-process's input event as often as arrows into it were taken.
    fn mark(&self, taken: &Taken) -> Counts {
        let nodes = self.nodes.iter().map(|n| n.step.as_ref().and_then(|s| taken.invoked.get(s)).copied().unwrap_or(0));
        let mut counts = Counts {
            nodes: nodes.collect(),
            arrows: self
                .arrows
                .iter()
                .map(|a| a.edge.as_ref().and_then(|e| taken.fired.get(e)).copied().unwrap_or(0))
                .collect(),
        };
        // Relays pass on what arrives; nested relays need one round per level.
        for _ in 0..=crate::tree::MAX_NESTING {
            let mut changed = false;
            for relay in self.nodes.iter().filter(|n| n.relay) {
                let arrived: u64 =
                    self.arrows.iter().zip(&counts.arrows).filter(|(a, _)| a.to == relay.id).map(|(_, c)| c).sum();
                for (a, count) in self.arrows.iter().zip(counts.arrows.iter_mut()) {
                    if a.from == relay.id && *count != arrived {
                        *count = arrived;
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        counts
    }

    fn mermaid(&self, counts: &Counts) -> String {
        let mut out = String::from("flowchart LR\n");
        self.mermaid_nodes(None, 1, counts, &mut out);
        let mut taken = Vec::new();
        for (k, a) in self.arrows.iter().enumerate() {
            let label = counted(&a.label, counts.arrow(k));
            let _ = if label.is_empty() {
                writeln!(out, "  {} --> {}", a.from, a.to)
            } else {
                writeln!(out, "  {} -- \"{}\" --> {}", a.from, mermaid_text(&label), a.to)
            };
            if counts.arrow(k) > 0 {
                taken.push(k.to_string());
            }
        }
        if !taken.is_empty() {
            let _ = writeln!(out, "  linkStyle {} stroke:{TAKEN_COLOUR},stroke-width:3px", taken.join(","));
        }
        let invoked: Vec<&str> =
            self.nodes.iter().enumerate().filter(|(i, _)| counts.node(*i) > 0).map(|(_, n)| n.id.as_str()).collect();
        if !invoked.is_empty() {
            let _ = writeln!(out, "  classDef taken fill:{TAKEN_FILL},stroke:{TAKEN_COLOUR},stroke-width:2px");
            let _ = writeln!(out, "  class {} taken", invoked.join(","));
        }
        out
    }

    /// The nodes and subgraphs directly inside `parent`, indented `depth` levels.
    fn mermaid_nodes(&self, parent: Option<usize>, depth: usize, counts: &Counts, out: &mut String) {
        let open = |sub: &Subgraph| format!("subgraph {}[\"{}\"]", sub.id, mermaid_text(&sub.label));
        let node = |i: usize, n: &Node| {
            let text = mermaid_text(&counted(&n.label, counts.node(i)));
            match n.shape {
                Shape::Step => format!("{}[\"{text}\"]", n.id),
                Shape::Input => format!("{}([\"{text}\"])", n.id),
                Shape::Stop => format!("{}((\"{text}\"))", n.id),
                Shape::Gate => format!("{}{{{{\"{text}\"}}}}", n.id),
            }
        };
        self.nest(parent, depth, out, &open, "end", &node);
    }

    /// Write the subgraphs directly inside `parent` (each `open`ed, its inside, then `close`), then its
    /// nodes (each as `node` says), one per line, indented `depth` levels.
    fn nest(
        &self,
        parent: Option<usize>,
        depth: usize,
        out: &mut String,
        open: &dyn Fn(&Subgraph) -> String,
        close: &str,
        node: &dyn Fn(usize, &Node) -> String,
    ) {
        let pad = "  ".repeat(depth);
        for (k, sub) in self.subgraphs.iter().enumerate().filter(|(_, s)| s.parent == parent) {
            let _ = writeln!(out, "{pad}{}", open(sub));
            self.nest(Some(k), depth + 1, out, open, close, node);
            let _ = writeln!(out, "{pad}{close}");
        }
        for (i, n) in self.nodes.iter().enumerate().filter(|(_, n)| n.parent == parent) {
            let _ = writeln!(out, "{pad}{}", node(i, n));
        }
    }

    fn dot(&self, name: &str, counts: &Counts) -> String {
        let mut out = format!("digraph {} {{\n  rankdir=LR;\n", dot_text(name));
        self.dot_nodes(None, 1, counts, &mut out);
        for (k, a) in self.arrows.iter().enumerate() {
            let label = dot_text(&counted(&a.label, counts.arrow(k)));
            let style =
                if counts.arrow(k) > 0 { format!(", color=\"{TAKEN_COLOUR}\", penwidth=2.5") } else { String::new() };
            let _ = writeln!(out, "  {} -> {} [label={label}{style}];", a.from, a.to);
        }
        out.push_str("}\n");
        out
    }

    /// The nodes and clusters directly inside `parent`, indented `depth` levels.
    fn dot_nodes(&self, parent: Option<usize>, depth: usize, counts: &Counts, out: &mut String) {
        let open = |sub: &Subgraph| format!("subgraph cluster_{} {{ label={};", sub.id, dot_text(&sub.label));
        let node = |i: usize, n: &Node| {
            let shape = match n.shape {
                Shape::Step => "box",
                Shape::Input => "ellipse",
                Shape::Stop => "doublecircle",
                Shape::Gate => "hexagon",
            };
            let style = if counts.node(i) > 0 {
                format!(", style=filled, fillcolor=\"{TAKEN_FILL}\", color=\"{TAKEN_COLOUR}\"")
            } else {
                String::new()
            };
            format!("{} [label={}, shape={shape}{style}];", n.id, dot_text(&counted(&n.label, counts.node(i))))
        };
        self.nest(parent, depth, out, &open, "}", &node);
    }
}

/// `event`, `result f` or `error f` of a source.
fn source_label(from: &EdgeSource) -> String {
    match (&from.event, &from.result, &from.error) {
        (Some(e), _, _) => e.clone(),
        (_, Some(f), _) => format!("result {f}"),
        (_, _, Some(f)) => format!("error {f}"),
        _ => String::new(),
    }
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.into(),
        (_, true) => a.into(),
        _ => format!("{a}, {b}"),
    }
}

/// A node id made of what Mermaid and dot accept unquoted.
fn sanitize(id: &str) -> String {
    id.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect()
}

/// Text inside Mermaid's double quotes: `"` is written `#quot;`.
fn mermaid_text(s: &str) -> String {
    s.replace('"', "#quot;")
}

/// A dot string literal.
fn dot_text(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}
