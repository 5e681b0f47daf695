//! `weft graph`: the true topology of a process definition as a Mermaid flowchart or a Graphviz dot
//! digraph. Every step, input event, edge (with its event, condition, delay), all-of group, `stop`,
//! await (with its timeout path) and the error handler is drawn as declared; nothing is added (SK's
//! Mermaid export always draws Start → first step and last step → End, whatever the graph is).
//!
//! Both formats are written from one list of nodes and arrows, so they show the same graph.

use std::fmt::Write;

use crate::model::{EdgeSource, ProcessDefinition, Target};

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
}

struct Arrow {
    from: String,
    to: String,
    label: String,
}

/// The graph of `def` in `format`, ending with a newline.
pub fn render(def: &ProcessDefinition, format: Format) -> String {
    let graph = Graph::of(def);
    match format {
        Format::Mermaid => graph.mermaid(),
        Format::Dot => graph.dot(&def.name),
    }
}

#[derive(Default)]
struct Graph {
    nodes: Vec<Node>,
    arrows: Vec<Arrow>,
}

impl Graph {
    fn of(def: &ProcessDefinition) -> Graph {
        let mut g = Graph::default();
        for (i, step) in def.steps.iter().enumerate() {
            g.nodes.push(Node { id: format!("s{i}"), label: step.id.clone(), shape: Shape::Step });
        }
        let step_node = |id: &str| {
            def.steps
                .iter()
                .position(|s| s.id == id)
                .map_or_else(|| format!("missing_{}", sanitize(id)), |i| format!("s{i}"))
        };
        for (i, input) in def.inputs.iter().enumerate() {
            let node = format!("in{i}");
            g.nodes.push(Node { id: node.clone(), label: input.event.clone(), shape: Shape::Input });
            g.targets(&node, String::new(), &input.to, &step_node, &format!("in{i}"));
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
                    g.targets(&step_node(&from.step), label, &edge.to, &step_node, &format!("e{i}"));
                }
                None if !edge.all_of.is_empty() => {
                    let gate = format!("all{i}");
                    g.nodes.push(Node { id: gate.clone(), label: "all of".into(), shape: Shape::Gate });
                    for member in &edge.all_of {
                        g.arrows.push(Arrow {
                            from: step_node(&member.step),
                            to: gate.clone(),
                            label: source_label(member),
                        });
                    }
                    g.targets(&gate, String::new(), &edge.to, &step_node, &format!("e{i}"));
                }
                None => {}
            }
        }
        if !def.on_error.is_empty() {
            g.nodes.push(Node { id: "onerror".into(), label: "any unhandled error".into(), shape: Shape::Input });
            g.targets("onerror", String::new(), &def.on_error, &step_node, "err");
        }
        g
    }

    /// Arrows from node `from`, labelled `label`, to each of `targets`; nodes for `stop` and awaits are
    /// named after `scope` so that each is drawn where it is declared.
    fn targets(
        &mut self,
        from: &str,
        label: String,
        targets: &[Target],
        step_node: &dyn Fn(&str) -> String,
        scope: &str,
    ) {
        for (j, target) in targets.iter().enumerate() {
            match target {
                Target::Stop(_) => {
                    let stop = format!("{scope}_stop{j}");
                    self.nodes.push(Node { id: stop.clone(), label: "stop".into(), shape: Shape::Stop });
                    self.arrows.push(Arrow { from: from.into(), to: stop, label: label.clone() });
                }
                Target::Function(t) => {
                    let mut to_label = label.clone();
                    let slot: Vec<&str> =
                        [t.function.as_deref(), t.parameter.as_deref()].into_iter().flatten().collect();
                    if !slot.is_empty() {
                        to_label = join(&to_label, &format!("→ {}", slot.join(".")));
                    }
                    if let Some(delay) = &t.delay {
                        to_label = join(&to_label, &format!("after {}", delay.0));
                    }
                    self.arrows.push(Arrow { from: from.into(), to: step_node(&t.step), label: to_label });
                }
                Target::Topic(t) => {
                    let topic = format!("{scope}_topic{j}");
                    self.nodes.push(Node {
                        id: topic.clone(),
                        label: format!("topic {}", t.topic),
                        shape: Shape::Input,
                    });
                    self.arrows.push(Arrow { from: from.into(), to: topic, label: label.clone() });
                }
                Target::Await(a) => {
                    let gate = format!("{scope}_await{j}");
                    let timeout = a.timeout.as_ref().map(|t| format!(" (timeout {})", t.0)).unwrap_or_default();
                    self.nodes.push(Node {
                        id: gate.clone(),
                        label: format!("await {}{timeout}", a.event),
                        shape: Shape::Gate,
                    });
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
        for n in &self.nodes {
            let text = mermaid_text(&n.label);
            let _ = match n.shape {
                Shape::Step => writeln!(out, "  {}[\"{text}\"]", n.id),
                Shape::Input => writeln!(out, "  {}([\"{text}\"])", n.id),
                Shape::Stop => writeln!(out, "  {}((\"{text}\"))", n.id),
                Shape::Gate => writeln!(out, "  {}{{{{\"{text}\"}}}}", n.id),
            };
        }
        for a in &self.arrows {
            let _ = if a.label.is_empty() {
                writeln!(out, "  {} --> {}", a.from, a.to)
            } else {
                writeln!(out, "  {} -- \"{}\" --> {}", a.from, mermaid_text(&a.label), a.to)
            };
        }
        out
    }

    fn dot(&self, name: &str) -> String {
        let mut out = format!("digraph {} {{\n  rankdir=LR;\n", dot_text(name));
        for n in &self.nodes {
            let shape = match n.shape {
                Shape::Step => "box",
                Shape::Input => "ellipse",
                Shape::Stop => "doublecircle",
                Shape::Gate => "hexagon",
            };
            let _ = writeln!(out, "  {} [label={}, shape={shape}];", n.id, dot_text(&n.label));
        }
        for a in &self.arrows {
            let _ = writeln!(out, "  {} -> {} [label={}];", a.from, a.to, dot_text(&a.label));
        }
        out.push_str("}\n");
        out
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
