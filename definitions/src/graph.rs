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
}

/// The graph of the process in `tree` (its sub-processes nested) in `format`, ending with a newline.
pub fn render(tree: &DefinitionTree, format: Format) -> String {
    let mut graph = Graph::default();
    graph.add(tree, "", None);
    match format {
        Format::Mermaid => graph.mermaid(),
        Format::Dot => graph.dot(&tree.loaded.definition.name),
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
        self.nodes.push(Node { id, label, shape, parent: self.current });
    }

    /// Add the graph of `tree`, its node ids prefixed with `prefix`.
    fn add(&mut self, tree: &DefinitionTree, prefix: &str, parent: Option<usize>) {
        let def = &tree.loaded.definition;
        self.current = parent;
        for (i, step) in def.steps.iter().enumerate() {
            let id = format!("{prefix}s{i}");
            match (step.kind(), tree.child(i)) {
                (Some(StepKind::Process(file)), Some(child)) => {
                    let label = format!("{}: process {file}", step.id);
                    self.subgraphs.push(Subgraph { id: format!("{prefix}sub{i}"), label, parent });
                    let sub = Some(self.subgraphs.len() - 1);
                    self.add(child, &format!("{id}_"), sub);
                    self.current = sub;
                    self.node(id, format!("{} public events", step.id), Shape::Input);
                    self.current = parent;
                }
                (Some(StepKind::Map(map)), _) => {
                    let over = map.component.as_deref().or(map.process.as_deref()).unwrap_or_default();
                    self.node(id, format!("{}: map over {over}", step.id), Shape::Step);
                }
                _ => self.node(id, step.id.clone(), Shape::Step),
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
            g.targets(&node, String::new(), &input.to, &step_node, &node);
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
                    g.targets(&source_node(&from.step), label, &edge.to, &step_node, &format!("{prefix}e{i}"));
                }
                None if !edge.all_of.is_empty() => {
                    let gate = format!("{prefix}all{i}");
                    g.node(gate.clone(), "all of".into(), Shape::Gate);
                    for member in &edge.all_of {
                        g.arrows.push(Arrow {
                            from: source_node(&member.step),
                            to: gate.clone(),
                            label: source_label(member),
                        });
                    }
                    g.targets(&gate, String::new(), &edge.to, &step_node, &format!("{prefix}e{i}"));
                }
                None => {}
            }
        }
        if !def.on_error.is_empty() {
            let node = format!("{prefix}onerror");
            g.node(node.clone(), "any unhandled error".into(), Shape::Input);
            g.targets(&node, String::new(), &def.on_error, &step_node, &format!("{prefix}err"));
        }
    }

    /// Arrows from node `from`, labelled `label`, to each of `targets`; nodes for `stop` and awaits are
    /// named after `scope` so that each is drawn where it is declared.
    fn targets(
        &mut self,
        from: &str,
        label: String,
        targets: &[Target],
        step_node: &dyn Fn(&FunctionTarget) -> String,
        scope: &str,
    ) {
        for (j, target) in targets.iter().enumerate() {
            match target {
                Target::Stop(_) => {
                    let stop = format!("{scope}_stop{j}");
                    self.node(stop.clone(), "stop".into(), Shape::Stop);
                    self.arrows.push(Arrow { from: from.into(), to: stop, label: label.clone() });
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
                    self.arrows.push(Arrow { from: from.into(), to: step_node(t), label: to_label });
                }
                Target::Topic(t) => {
                    let topic = format!("{scope}_topic{j}");
                    self.node(topic.clone(), format!("topic {}", t.topic), Shape::Input);
                    self.arrows.push(Arrow { from: from.into(), to: topic, label: label.clone() });
                }
                Target::Await(a) => {
                    let gate = format!("{scope}_await{j}");
                    let timeout = a.timeout.as_ref().map(|t| format!(" (timeout {})", t.0)).unwrap_or_default();
                    self.node(gate.clone(), format!("await {}{timeout}", a.event), Shape::Gate);
                    self.arrows.push(Arrow { from: from.into(), to: gate.clone(), label: label.clone() });
                    if !a.on_timeout.is_empty() {
                        self.targets(&gate, "on timeout".into(), &a.on_timeout, step_node, &gate.clone());
                    }
                }
            }
        }
    }

    fn mermaid(&self) -> String {
        let mut out = String::from("flowchart LR\n");
        self.mermaid_nodes(None, 1, &mut out);
        for a in &self.arrows {
            let _ = if a.label.is_empty() {
                writeln!(out, "  {} --> {}", a.from, a.to)
            } else {
                writeln!(out, "  {} -- \"{}\" --> {}", a.from, mermaid_text(&a.label), a.to)
            };
        }
        out
    }

    /// The nodes and subgraphs directly inside `parent`, indented `depth` levels.
    fn mermaid_nodes(&self, parent: Option<usize>, depth: usize, out: &mut String) {
        let open = |sub: &Subgraph| format!("subgraph {}[\"{}\"]", sub.id, mermaid_text(&sub.label));
        let node = |n: &Node| {
            let text = mermaid_text(&n.label);
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
        node: &dyn Fn(&Node) -> String,
    ) {
        let pad = "  ".repeat(depth);
        for (k, sub) in self.subgraphs.iter().enumerate().filter(|(_, s)| s.parent == parent) {
            let _ = writeln!(out, "{pad}{}", open(sub));
            self.nest(Some(k), depth + 1, out, open, close, node);
            let _ = writeln!(out, "{pad}{close}");
        }
        for n in self.nodes.iter().filter(|n| n.parent == parent) {
            let _ = writeln!(out, "{pad}{}", node(n));
        }
    }

    fn dot(&self, name: &str) -> String {
        let mut out = format!("digraph {} {{\n  rankdir=LR;\n", dot_text(name));
        self.dot_nodes(None, 1, &mut out);
        for a in &self.arrows {
            let _ = writeln!(out, "  {} -> {} [label={}];", a.from, a.to, dot_text(&a.label));
        }
        out.push_str("}\n");
        out
    }

    /// The nodes and clusters directly inside `parent`, indented `depth` levels.
    fn dot_nodes(&self, parent: Option<usize>, depth: usize, out: &mut String) {
        let open = |sub: &Subgraph| format!("subgraph cluster_{} {{ label={};", sub.id, dot_text(&sub.label));
        let node = |n: &Node| {
            let shape = match n.shape {
                Shape::Step => "box",
                Shape::Input => "ellipse",
                Shape::Stop => "doublecircle",
                Shape::Gate => "hexagon",
            };
            format!("{} [label={}, shape={shape}];", n.id, dot_text(&n.label))
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
