//! Execution of parsed templates over JSON data.
//!
//! This follows Go's `text/template` evaluator step by step (`walk`,
//! `evalPipeline`, `evalCommand`, `evalField`, `evalCall`, `evalArg`,
//! `validateType`), including which node an error message names: the
//! evaluator tracks the node it is "at", exactly like Go's `state.at`.
//! Map lookups of missing keys yield "<no value>" (Go's default
//! `missingkey` option, which docker uses).

use crate::funcs::{self, Func, ParamTy};
use crate::node::{Arg, BranchNode, CommandNode, ListNode, Node, NumberNode, PipeNode};
use crate::strconv::quote;
use crate::value::{ListKind, Value};
use crate::{ExecError, MissingKey, Template};

/// Deepest `{{template}}` recursion. Go allows 100000 on its growable
/// stacks; a fixed native stack needs a lower bound.
pub(crate) const MAX_EXEC_DEPTH: usize = 200;

/// Bound on nested lists and pipelines being evaluated at once (template
/// calls times the nesting inside them), which keeps recursion within a
/// small native stack. Reported like Go's template depth limit.
const MAX_NEST: usize = 700;

type R<T> = Result<T, ExecError>;

/// The dot or a variable. `boxed` records that the value sits in an
/// `interface{}` slot (an element of a JSON map or list), which only
/// changes the type named in "can't evaluate field" errors.
#[derive(Clone, Debug)]
struct Cell {
    v: Value,
    boxed: bool,
}

impl Cell {
    fn plain(v: Value) -> Cell {
        Cell { v, boxed: false }
    }
}

#[derive(Clone, Copy)]
enum At<'t> {
    None,
    Node(&'t Node),
    Pipe(&'t PipeNode),
    Cmd(&'t CommandNode),
    Arg(&'t Arg),
}

#[derive(PartialEq, Eq)]
enum Flow {
    Normal,
    Break,
    Continue,
}

pub(crate) struct State<'t, 'o> {
    tmpl: &'t Template,
    name: &'t str,
    out: &'o mut String,
    vars: Vec<(String, Cell)>,
    at: At<'t>,
    depth: usize,
    nest: usize,
    header: bool,
}

/// Runs the top-level template of `tmpl` with `data` as dot.
pub(crate) fn execute(tmpl: &Template, data: Value, out: &mut String, header: bool) -> R<()> {
    let root = Cell::plain(data);
    let mut s = State {
        tmpl,
        name: &tmpl.name,
        out,
        vars: vec![("$".to_string(), root.clone())],
        at: At::None,
        depth: 0,
        nest: 0,
        header,
    };
    let Some(list) = tmpl.trees.get(&tmpl.name) else {
        return s.errorf(format_args!(
            "{} is an incomplete or empty template",
            quote(&tmpl.name, false)
        ));
    };
    s.walk_list(&root, list).map(|_| ())
}

impl<'t> State<'t, '_> {
    fn errorf<T>(&self, msg: impl std::fmt::Display) -> R<T> {
        let (pos, context) = match self.at {
            At::None => {
                return Err(ExecError {
                    message: format!("template: {}: {msg}", self.name),
                });
            }
            At::Node(n) => (n.pos(), n.to_string()),
            At::Pipe(p) => (p.pos, p.to_string()),
            At::Cmd(c) => (c.pos, c.to_string()),
            At::Arg(a) => (a.pos(), a.to_string()),
        };
        let text = &self.tmpl.text[..pos.min(self.tmpl.text.len())];
        let line = 1 + text.matches('\n').count();
        let col = match text.rfind('\n') {
            Some(nl) => pos - (nl + 1),
            None => pos,
        };
        Err(ExecError {
            message: format!(
                "template: {}:{line}:{col}: executing {} at <{context}>: {msg}",
                self.tmpl.name,
                quote(self.name, false)
            ),
        })
    }

    fn var_value(&self, name: &str) -> R<Cell> {
        match self.vars.iter().rev().find(|(n, _)| n == name) {
            Some((_, c)) => Ok(c.clone()),
            None => self.errorf(format_args!("undefined variable: {name}")),
        }
    }

    fn set_var(&mut self, name: &str, c: Cell) -> R<()> {
        match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            Some(slot) => {
                slot.1 = c;
                Ok(())
            }
            None => self.errorf(format_args!("undefined variable: {name}")),
        }
    }

    fn set_top_var(&mut self, n: usize, c: Cell) {
        let len = self.vars.len();
        if let Some(slot) = len.checked_sub(n).and_then(|i| self.vars.get_mut(i)) {
            slot.1 = c;
        }
    }

    fn enter(&mut self) -> R<()> {
        if self.nest >= MAX_NEST {
            return self.errorf(format_args!(
                "exceeded maximum template depth ({MAX_EXEC_DEPTH})"
            ));
        }
        self.nest += 1;
        Ok(())
    }

    fn walk_list(&mut self, dot: &Cell, list: &'t ListNode) -> R<Flow> {
        self.enter()?;
        for n in &list.nodes {
            let flow = self.walk(dot, n)?;
            if flow != Flow::Normal {
                self.nest -= 1;
                return Ok(flow);
            }
        }
        self.nest -= 1;
        Ok(Flow::Normal)
    }

    fn walk(&mut self, dot: &Cell, node: &'t Node) -> R<Flow> {
        self.at = At::Node(node);
        match node {
            Node::Action { pipe, .. } => {
                // Declared variables persist until the enclosing end.
                let val = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    self.at = At::Node(node);
                    match val {
                        Value::Invalid => self.out.push_str("<no value>"),
                        v => self.out.push_str(&crate::fmt::sprint_v(&v)),
                    }
                }
            }
            Node::Break { .. } => return Ok(Flow::Break),
            Node::Continue { .. } => return Ok(Flow::Continue),
            Node::If(b) => return self.walk_if_or_with(false, dot, b),
            Node::With(b) => return self.walk_if_or_with(true, dot, b),
            Node::Range(b) => return self.walk_range(dot, node, b),
            Node::Template { name, pipe, .. } => {
                self.walk_template(dot, node, name, pipe.as_ref())?
            }
            Node::Text { text, .. } => self.out.push_str(text),
            Node::End { .. } | Node::Else { .. } => {
                return self.errorf(format_args!("unknown node: {node}"));
            }
        }
        Ok(Flow::Normal)
    }

    fn walk_if_or_with(&mut self, with: bool, dot: &Cell, b: &'t BranchNode) -> R<Flow> {
        let mark = self.vars.len();
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let flow = if val.truth() {
            if with {
                self.walk_list(&Cell::plain(val), &b.list)?
            } else {
                self.walk_list(dot, &b.list)?
            }
        } else if let Some(e) = &b.else_list {
            self.walk_list(dot, e)?
        } else {
            Flow::Normal
        };
        self.vars.truncate(mark);
        Ok(flow)
    }

    fn walk_range(&mut self, dot: &Cell, node: &'t Node, r: &'t BranchNode) -> R<Flow> {
        self.at = At::Node(node);
        let outer = self.vars.len();
        let val = self.eval_pipeline(dot, &r.pipe)?;
        // Variables declared in the body are popped after each iteration.
        let mark = self.vars.len();
        let mut ran = false;
        match &val {
            Value::List(l, kind) if !l.is_empty() => {
                ran = true;
                for (i, e) in l.iter().enumerate() {
                    let elem = Cell {
                        v: e.clone(),
                        boxed: *kind == ListKind::Any,
                    };
                    if self.one_iteration(r, mark, Cell::plain(Value::Int(i as i64)), elem)? {
                        break;
                    }
                }
            }
            Value::Map(m) if m.len() > 0 => {
                ran = true;
                for (k, v) in m.sorted() {
                    let key = Cell::plain(Value::Str(k.clone()));
                    if self.one_iteration(
                        r,
                        mark,
                        key,
                        Cell {
                            v: v.clone(),
                            boxed: true,
                        },
                    )? {
                        break;
                    }
                }
            }
            Value::Int(_) | Value::Uint(..) => {
                if r.pipe.decl.len() > 1 {
                    return self.errorf(format_args!(
                        "can't use {} to iterate over more than one variable",
                        crate::fmt::sprint_v(&val)
                    ));
                }
                let n = match val {
                    Value::Int(i) => u64::try_from(i).unwrap_or(0),
                    Value::Uint(u, _) => u,
                    _ => 0,
                };
                for i in 0..n {
                    ran = true;
                    let elem = match val {
                        Value::Uint(_, k) => Value::Uint(i, k),
                        _ => Value::Int(i as i64),
                    };
                    if self.one_iteration(
                        r,
                        mark,
                        Cell::plain(Value::Invalid),
                        Cell::plain(elem),
                    )? {
                        break;
                    }
                }
            }
            // A nil slice or map has nothing to iterate over.
            Value::List(..)
            | Value::Map(_)
            | Value::Invalid
            | Value::TypedNil(crate::Nil::Slice | crate::Nil::Map) => {}
            v => {
                return self.errorf(format_args!(
                    "range can't iterate over {}",
                    crate::fmt::sprint_v(v)
                ));
            }
        }
        if !ran {
            if let Some(e) = &r.else_list {
                if self.walk_list(dot, e)? != Flow::Normal {
                    // break/continue cannot appear outside the range body.
                }
            }
        }
        self.vars.truncate(outer);
        Ok(Flow::Normal)
    }

    /// Runs the range body once; returns true on `{{break}}`.
    fn one_iteration(
        &mut self,
        r: &'t BranchNode,
        mark: usize,
        index: Cell,
        elem: Cell,
    ) -> R<bool> {
        let decl = &r.pipe.decl;
        if !decl.is_empty() {
            if r.pipe.is_assign {
                let first = if decl.len() > 1 {
                    index.clone()
                } else {
                    elem.clone()
                };
                self.set_var(&decl[0], first)?;
            } else {
                self.set_top_var(1, elem.clone());
            }
        }
        if decl.len() > 1 {
            if r.pipe.is_assign {
                self.set_var(&decl[1], elem.clone())?;
            } else {
                self.set_top_var(2, index);
            }
        }
        let flow = self.walk_list(&elem, &r.list)?;
        self.vars.truncate(mark);
        Ok(flow == Flow::Break)
    }

    fn walk_template(
        &mut self,
        dot: &Cell,
        node: &'t Node,
        name: &'t str,
        pipe: Option<&'t PipeNode>,
    ) -> R<()> {
        self.at = At::Node(node);
        let Some(tree) = self.tmpl.trees.get(name) else {
            return self.errorf(format_args!("template {} not defined", quote(name, false)));
        };
        if self.depth >= MAX_EXEC_DEPTH {
            return self.errorf(format_args!(
                "exceeded maximum template depth ({MAX_EXEC_DEPTH})"
            ));
        }
        let new_dot = match pipe {
            Some(p) => self.eval_pipeline(dot, p)?,
            None => Value::Invalid,
        };
        let new_dot = Cell::plain(new_dot);
        // No dynamic scoping: the callee sees only its own "$".
        let vars = std::mem::replace(&mut self.vars, vec![("$".to_string(), new_dot.clone())]);
        let saved_name = std::mem::replace(&mut self.name, name);
        self.depth += 1;
        let r = self.walk_list(&new_dot, tree);
        self.depth -= 1;
        self.name = saved_name;
        self.vars = vars;
        r.map(|_| ())
    }

    fn eval_pipeline(&mut self, dot: &Cell, pipe: &'t PipeNode) -> R<Value> {
        self.at = At::Pipe(pipe);
        self.enter()?;
        let mut value: Option<Value> = None;
        for cmd in &pipe.cmds {
            // An interface{} result is replaced by what it holds.
            value = Some(self.eval_command(dot, cmd, value)?.unbox());
        }
        self.nest -= 1;
        let value = value.unwrap_or(Value::Invalid);
        for name in &pipe.decl {
            if pipe.is_assign {
                self.set_var(name, Cell::plain(value.clone()))?;
            } else {
                self.vars.push((name.clone(), Cell::plain(value.clone())));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, args: &[Arg], fin: &Option<Value>) -> R<()> {
        if args.len() > 1 || fin.is_some() {
            return self.errorf(format_args!(
                "can't give argument to non-function {}",
                args[0]
            ));
        }
        Ok(())
    }

    fn eval_command(&mut self, dot: &Cell, cmd: &'t CommandNode, fin: Option<Value>) -> R<Value> {
        let Some(first) = cmd.args.first() else {
            return self.errorf("empty command");
        };
        match first {
            Arg::Field { .. } => return self.eval_field_node(dot, first, &cmd.args, fin),
            Arg::Chain { .. } => return self.eval_chain_node(dot, first, &cmd.args, fin),
            Arg::Identifier { name, .. } => {
                return self.eval_function(dot, first, name, At::Cmd(cmd), &cmd.args[1..], fin);
            }
            Arg::Pipe(p) => {
                self.not_a_function(&cmd.args, &fin)?;
                return self.eval_pipeline(dot, p);
            }
            Arg::Variable { .. } => return self.eval_variable_node(dot, first, &cmd.args, fin),
            _ => {}
        }
        self.at = At::Arg(first);
        self.not_a_function(&cmd.args, &fin)?;
        match first {
            Arg::Bool { val, .. } => Ok(Value::Bool(*val)),
            Arg::Dot { .. } => Ok(dot.v.clone()),
            Arg::Nil { .. } => self.errorf("nil is not a command"),
            Arg::Number(n) => self.ideal_constant(first, n),
            Arg::String { text, .. } => Ok(Value::str(text)),
            _ => self.errorf(format_args!(
                "can't evaluate command {}",
                quote(&first.to_string(), false)
            )),
        }
    }

    /// A number constant where no type is known: its syntax decides.
    fn ideal_constant(&mut self, arg: &'t Arg, n: &NumberNode) -> R<Value> {
        self.at = At::Arg(arg);
        let t = n.text.as_bytes();
        let hex_int =
            t.len() > 2 && t[0] == b'0' && t[1] | 0x20 == b'x' && !n.text.contains(['p', 'P']);
        let rune_int = t.first() == Some(&b'\'');
        if n.is_complex {
            return Ok(Value::Complex(n.complex.0, n.complex.1));
        }
        if n.is_float && !hex_int && !rune_int && n.text.contains(['.', 'e', 'E', 'p', 'P']) {
            return Ok(Value::Float(n.float));
        }
        if n.is_int {
            return Ok(Value::Int(n.int));
        }
        if n.is_uint {
            return self.errorf(format_args!("{} overflows int", n.text));
        }
        Ok(Value::Invalid)
    }

    fn eval_field_node(
        &mut self,
        dot: &Cell,
        field: &'t Arg,
        args: &'t [Arg],
        fin: Option<Value>,
    ) -> R<Value> {
        self.at = At::Arg(field);
        let Arg::Field { ident, .. } = field else {
            return self.errorf("internal error: not a field");
        };
        self.eval_field_chain(dot.clone(), ident, args, fin)
    }

    fn eval_chain_node(
        &mut self,
        dot: &Cell,
        chain: &'t Arg,
        args: &'t [Arg],
        fin: Option<Value>,
    ) -> R<Value> {
        self.at = At::Arg(chain);
        let Arg::Chain { node, field, .. } = chain else {
            return self.errorf("internal error: not a chain");
        };
        if field.is_empty() {
            return self.errorf("internal error: no fields in evalChainNode");
        }
        if matches!(node.as_ref(), Arg::Nil { .. }) {
            return self.errorf(format_args!("indirection through explicit nil in {chain}"));
        }
        // Go leaves the error position at the last node the receiver's
        // evaluation visited.
        let recv = self.eval_arg(dot, ParamTy::Untyped, node)?;
        self.eval_field_chain(Cell::plain(recv), field, args, fin)
    }

    fn eval_variable_node(
        &mut self,
        dot: &Cell,
        var: &'t Arg,
        args: &'t [Arg],
        fin: Option<Value>,
    ) -> R<Value> {
        self.at = At::Arg(var);
        let Arg::Variable { ident, .. } = var else {
            return self.errorf("internal error: not a variable");
        };
        let _ = dot;
        let value = self.var_value(&ident[0])?;
        if ident.len() == 1 {
            self.not_a_function(args, &fin)?;
            return Ok(value.v);
        }
        self.eval_field_chain(value, &ident[1..], args, fin)
    }

    fn eval_field_chain(
        &mut self,
        mut recv: Cell,
        ident: &[String],
        args: &[Arg],
        fin: Option<Value>,
    ) -> R<Value> {
        let n = ident.len();
        for name in &ident[..n.saturating_sub(1)] {
            recv = Cell {
                v: self.eval_field(name, &[], &None, &recv)?,
                boxed: true,
            };
        }
        match ident.last() {
            Some(last) => self.eval_field(last, args, &fin, &recv),
            None => Ok(recv.v),
        }
    }

    fn eval_field(
        &mut self,
        name: &str,
        args: &[Arg],
        fin: &Option<Value>,
        recv: &Cell,
    ) -> R<Value> {
        let strict = self.tmpl.missing_key == MissingKey::Error;
        match &recv.v {
            Value::Invalid if strict => self.errorf(format_args!(
                "nil data; no entry for key {}",
                quote(name, false)
            )),
            Value::Invalid => Ok(Value::Invalid),
            Value::Nil => self.errorf(format_args!("nil pointer evaluating interface {{}}.{name}")),
            Value::TypedNil(_) => self.errorf(format_args!("nil pointer evaluating {name}")),
            Value::Struct(m) => {
                if args.len() > 1 || fin.is_some() {
                    return self.errorf(format_args!("{name} is not a method but has arguments"));
                }
                match m.field(name) {
                    Some(v) => Ok(v.clone()),
                    None => self.errorf(format_args!("can't evaluate field {name} in type struct")),
                }
            }
            Value::Custom(c) => {
                let inner = Cell::plain(c.value.clone());
                self.eval_field(name, args, fin, &inner)
            }
            Value::Map(m) => {
                if args.len() > 1 || fin.is_some() {
                    return self.errorf(format_args!("{name} is not a method but has arguments"));
                }
                match m.get(name) {
                    Some(v) => Ok(v.clone()),
                    None if strict => self.errorf(format_args!(
                        "map has no entry for key {}",
                        quote(name, false)
                    )),
                    None => Ok(Value::Invalid),
                }
            }
            v => {
                let typ = if recv.boxed {
                    "interface {}"
                } else {
                    v.type_name()
                };
                self.errorf(format_args!("can't evaluate field {name} in type {typ}"))
            }
        }
    }

    fn eval_function(
        &mut self,
        dot: &Cell,
        ident: &'t Arg,
        name: &str,
        node: At<'t>,
        args: &'t [Arg],
        fin: Option<Value>,
    ) -> R<Value> {
        self.at = At::Arg(ident);
        let Some(f) = funcs::lookup(name, &self.tmpl.funcs, self.header) else {
            return self.errorf(format_args!(
                "{} is not a defined function",
                quote(name, false)
            ));
        };
        self.eval_call(dot, &f, node, name, args, fin)
    }

    fn eval_call(
        &mut self,
        dot: &Cell,
        f: &Func,
        node: At<'t>,
        name: &str,
        args: &'t [Arg],
        fin: Option<Value>,
    ) -> R<Value> {
        let (params, variadic) = f.signature();
        let num_in = args.len() + usize::from(fin.is_some());
        let mut num_fixed = args.len();
        if variadic.is_some() {
            num_fixed = params.len();
            if num_in < num_fixed {
                return self.errorf(format_args!(
                    "wrong number of args for {name}: want at least {} got {}",
                    params.len(),
                    args.len()
                ));
            }
        } else if num_in != params.len() {
            return self.errorf(format_args!(
                "wrong number of args for {name}: want {} got {num_in}",
                params.len()
            ));
        }
        if let Some(is_or) = f.short_circuit() {
            // and/or stop at the first argument that decides the result.
            let mut v = Value::Invalid;
            for a in args {
                v = self.eval_arg(dot, ParamTy::Value, a)?;
                if v.clone().unbox().truth() == is_or {
                    return Ok(v);
                }
            }
            if let Some(fv) = fin {
                v = self.validate_type(fv, ParamTy::Value)?;
            }
            return Ok(v);
        }
        let mut argv = Vec::with_capacity(num_in);
        for (i, a) in args.iter().enumerate() {
            let ty = if i < num_fixed {
                params[i]
            } else {
                variadic.unwrap_or(ParamTy::Any)
            };
            argv.push(self.eval_arg(dot, ty, a)?);
        }
        if let Some(fv) = fin {
            let ty = match variadic {
                Some(vt) if num_in > num_fixed => vt,
                _ => params[num_in - 1],
            };
            argv.push(self.validate_type(fv, ty)?);
        }
        let callee = match (args.first(), f.is_call()) {
            (Some(a), true) => a.to_string(),
            _ => String::new(),
        };
        match f.call(argv, &callee) {
            Ok(v) => Ok(v),
            Err(e) => {
                self.at = node;
                self.errorf(format_args!("error calling {name}: {e}"))
            }
        }
    }

    /// Go's `validateType`: checks a value against a parameter type.
    fn validate_type(&self, v: Value, ty: ParamTy) -> R<Value> {
        let want = match ty {
            ParamTy::Untyped | ParamTy::Value => return Ok(v),
            ParamTy::Any => return Ok(v.unbox()),
            ParamTy::Str if matches!(v, Value::Str(_)) => return Ok(v),
            ParamTy::Int if matches!(v, Value::Int(_)) => return Ok(v),
            ParamTy::StrList => match v {
                Value::Invalid => return Ok(Value::List(Vec::new().into(), ListKind::Str)),
                Value::List(_, ListKind::Str) => return Ok(v),
                // JSON arrays of strings stand in for docker's []string fields.
                Value::List(ref l, ListKind::Any)
                    if l.iter().all(|e| matches!(e, Value::Str(_))) =>
                {
                    return Ok(Value::List(l.clone(), ListKind::Str));
                }
                _ => "[]string",
            },
            ParamTy::Str => "string",
            ParamTy::Int => "int",
        };
        if matches!(v, Value::Invalid) {
            return self.errorf(format_args!("invalid value; expected {want}"));
        }
        self.errorf(format_args!(
            "wrong type for value; expected {want}; got {}",
            v.type_name()
        ))
    }

    fn eval_arg(&mut self, dot: &Cell, ty: ParamTy, arg: &'t Arg) -> R<Value> {
        self.at = At::Arg(arg);
        let v = match arg {
            Arg::Dot { .. } => dot.v.clone(),
            Arg::Nil { .. } => {
                return match ty {
                    ParamTy::Any | ParamTy::Value | ParamTy::Untyped => Ok(Value::Invalid),
                    ParamTy::StrList => Ok(Value::List(Vec::new().into(), ListKind::Str)),
                    ParamTy::Str => self.errorf("cannot assign nil to string"),
                    ParamTy::Int => self.errorf("cannot assign nil to int"),
                };
            }
            Arg::Field { .. } => self.eval_field_node(dot, arg, std::slice::from_ref(arg), None)?,
            Arg::Variable { .. } => self.eval_variable_node(dot, arg, &[], None)?,
            Arg::Pipe(p) => self.eval_pipeline(dot, p)?,
            Arg::Identifier { name, .. } => {
                self.eval_function(dot, arg, name, At::Arg(arg), &[], None)?
            }
            Arg::Chain { .. } => self.eval_chain_node(dot, arg, &[], None)?,
            Arg::Bool { val, .. } => match ty {
                ParamTy::Any | ParamTy::Value | ParamTy::Untyped => return Ok(Value::Bool(*val)),
                _ => return self.literal_mismatch(ty, arg),
            },
            Arg::String { text, .. } => match ty {
                ParamTy::Any | ParamTy::Value | ParamTy::Untyped | ParamTy::Str => {
                    return Ok(Value::str(text));
                }
                _ => return self.literal_mismatch(ty, arg),
            },
            Arg::Number(n) => match ty {
                ParamTy::Any | ParamTy::Value | ParamTy::Untyped => {
                    return self.ideal_constant(arg, n);
                }
                ParamTy::Int if n.is_int => return Ok(Value::Int(n.int)),
                _ => return self.literal_mismatch(ty, arg),
            },
        };
        self.validate_type(v, ty)
    }

    fn literal_mismatch<T>(&self, ty: ParamTy, arg: &Arg) -> R<T> {
        match ty {
            ParamTy::Str => self.errorf(format_args!("expected string; found {arg}")),
            ParamTy::Int => self.errorf(format_args!("expected integer; found {arg}")),
            _ => self.errorf(format_args!("can't handle {arg} for arg of type []string")),
        }
    }
}
