//! Parse-tree nodes. Their `Display` output is Go's `Node.String()`, which
//! appears in error messages such as `executing "" at <.State.Pid>: ...`.

use std::fmt::{self, Display, Formatter, Write as _};

use crate::strconv::quote;

/// Byte offset of a node in the template source.
pub(crate) type Pos = usize;

/// A sequence of nodes (a template body or a branch of a control action).
#[derive(Debug, Clone)]
pub(crate) struct ListNode {
    pub nodes: Vec<Node>,
}

/// Nodes that appear in lists. `End` and `Else` exist only while parsing.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Text {
        pos: Pos,
        text: String,
    },
    Action {
        pos: Pos,
        pipe: PipeNode,
    },
    If(BranchNode),
    Range(BranchNode),
    With(BranchNode),
    Template {
        pos: Pos,
        name: String,
        pipe: Option<PipeNode>,
    },
    Break {
        pos: Pos,
    },
    Continue {
        pos: Pos,
    },
    End {
        pos: Pos,
    },
    Else {
        pos: Pos,
    },
}

/// The shared shape of `if`, `range` and `with`.
#[derive(Debug, Clone)]
pub(crate) struct BranchNode {
    pub pos: Pos,
    pub pipe: PipeNode,
    pub list: ListNode,
    pub else_list: Option<ListNode>,
}

/// `$x, $y := cmd | cmd`: optional declarations and a chain of commands.
#[derive(Debug, Clone)]
pub(crate) struct PipeNode {
    pub pos: Pos,
    pub is_assign: bool,
    pub decl: Vec<String>,
    pub cmds: Vec<CommandNode>,
}

/// One command: an operand followed by its arguments.
#[derive(Debug, Clone)]
pub(crate) struct CommandNode {
    pub pos: Pos,
    pub args: Vec<Arg>,
}

/// Operands of commands.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Identifier {
        pos: Pos,
        name: String,
    },
    Dot {
        pos: Pos,
    },
    Nil {
        pos: Pos,
    },
    /// `.A.B`: the identifiers without dots.
    Field {
        pos: Pos,
        ident: Vec<String>,
    },
    /// `$x.A`: the first identifier includes the '$'.
    Variable {
        pos: Pos,
        ident: Vec<String>,
    },
    /// `(pipe).A.B`
    Chain {
        pos: Pos,
        node: Box<Arg>,
        field: Vec<String>,
    },
    Bool {
        pos: Pos,
        val: bool,
    },
    Number(Box<NumberNode>),
    /// `quoted` is the literal as written, `text` its value.
    String {
        pos: Pos,
        quoted: String,
        text: String,
    },
    Pipe(Box<PipeNode>),
}

/// A numeric constant with every interpretation Go's parser found valid.
#[derive(Debug, Clone, Default)]
pub(crate) struct NumberNode {
    pub pos: Pos,
    pub is_int: bool,
    pub is_uint: bool,
    pub is_float: bool,
    pub is_complex: bool,
    pub int: i64,
    pub uint: u64,
    pub float: f64,
    pub complex: (f64, f64),
    pub text: String,
}

impl Node {
    pub(crate) fn pos(&self) -> Pos {
        match self {
            Node::Text { pos, .. }
            | Node::Action { pos, .. }
            | Node::Template { pos, .. }
            | Node::Break { pos }
            | Node::Continue { pos }
            | Node::End { pos }
            | Node::Else { pos } => *pos,
            Node::If(b) | Node::Range(b) | Node::With(b) => b.pos,
        }
    }

    /// Go's `parse.IsEmptyTree` for one node.
    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Node::Text { text, .. } => text.trim().is_empty(),
            _ => false,
        }
    }
}

impl ListNode {
    pub(crate) fn is_empty_tree(&self) -> bool {
        self.nodes.iter().all(Node::is_empty)
    }
}

impl Arg {
    pub(crate) fn pos(&self) -> Pos {
        match self {
            Arg::Identifier { pos, .. }
            | Arg::Dot { pos }
            | Arg::Nil { pos }
            | Arg::Field { pos, .. }
            | Arg::Variable { pos, .. }
            | Arg::Chain { pos, .. }
            | Arg::Bool { pos, .. }
            | Arg::String { pos, .. } => *pos,
            Arg::Number(n) => n.pos,
            Arg::Pipe(p) => p.pos,
        }
    }
}

impl Display for ListNode {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.nodes.iter().try_for_each(|n| n.fmt(f))
    }
}

fn branch(f: &mut Formatter<'_>, name: &str, b: &BranchNode) -> fmt::Result {
    write!(f, "{{{{{name} {}}}}}{}", b.pipe, b.list)?;
    if let Some(e) = &b.else_list {
        write!(f, "{{{{else}}}}{e}")?;
    }
    f.write_str("{{end}}")
}

impl Display for Node {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Node::Text { text, .. } => f.write_str(text),
            Node::Action { pipe, .. } => write!(f, "{{{{{pipe}}}}}"),
            Node::If(b) => branch(f, "if", b),
            Node::Range(b) => branch(f, "range", b),
            Node::With(b) => branch(f, "with", b),
            Node::Template { name, pipe, .. } => match pipe {
                Some(p) => write!(f, "{{{{template {} {p}}}}}", quote(name, false)),
                None => write!(f, "{{{{template {}}}}}", quote(name, false)),
            },
            Node::Break { .. } => f.write_str("{{break}}"),
            Node::Continue { .. } => f.write_str("{{continue}}"),
            Node::End { .. } => f.write_str("{{end}}"),
            Node::Else { .. } => f.write_str("{{else}}"),
        }
    }
}

impl Display for PipeNode {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            f.write_str(&self.decl.join(", "))?;
            f.write_str(if self.is_assign { " = " } else { " := " })?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            c.fmt(f)?;
        }
        Ok(())
    }
}

impl Display for CommandNode {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_char(' ')?;
            }
            match a {
                Arg::Pipe(p) => write!(f, "({p})")?,
                a => a.fmt(f)?,
            }
        }
        Ok(())
    }
}

impl Display for Arg {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Identifier { name, .. } => f.write_str(name),
            Arg::Dot { .. } => f.write_char('.'),
            Arg::Nil { .. } => f.write_str("nil"),
            Arg::Field { ident, .. } => ident.iter().try_for_each(|i| write!(f, ".{i}")),
            Arg::Variable { ident, .. } => f.write_str(&ident.join(".")),
            Arg::Chain { node, field, .. } => {
                match node.as_ref() {
                    Arg::Pipe(p) => write!(f, "({p})")?,
                    n => n.fmt(f)?,
                }
                field.iter().try_for_each(|i| write!(f, ".{i}"))
            }
            Arg::Bool { val, .. } => write!(f, "{val}"),
            Arg::Number(n) => f.write_str(&n.text),
            Arg::String { quoted, .. } => f.write_str(quoted),
            Arg::Pipe(p) => p.fmt(f),
        }
    }
}
