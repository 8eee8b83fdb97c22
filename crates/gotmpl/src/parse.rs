//! Recursive-descent parser producing the trees of a template set.
//!
//! The grammar, the three-token lookahead and every error text follow Go's
//! `text/template/parse` so that a bad `--format` gets the same message
//! docker prints (`template: :1: function "foo" not defined`). Errors carry
//! the line of the most recently lexed token, as Go's do.

use std::collections::BTreeMap;

use crate::ParseError;
use crate::lex::{Item, ItemType, Lexer};
use crate::node::{Arg, BranchNode, CommandNode, ListNode, Node, NumberNode, PipeNode, Pos};
use crate::strconv::{self, Unquoted, quote};

/// Deepest nesting of parentheses and control actions accepted. Go allows
/// 10000 parenthesized levels on a growable stack; ours is fixed, so the
/// limit is lower and also covers nested `if`/`range`/`with`.
const MAX_DEPTH: usize = 300;

type Result<T> = std::result::Result<T, ParseError>;

/// Parses `text` into a map from template name to body: the top-level
/// template under `name`, plus every `define`d and `block` template.
pub(crate) fn parse(
    name: &str,
    text: &str,
    has_function: &dyn Fn(&str) -> bool,
) -> Result<BTreeMap<String, ListNode>> {
    let mut p = Parser {
        name,
        lex: Lexer::new(text, !has_function("break"), !has_function("continue")),
        token: std::array::from_fn(|_| Item {
            typ: ItemType::Eof,
            pos: 0,
            val: String::new(),
            line: 0,
        }),
        peek_count: 0,
        vars: vec!["$".into()],
        has_function,
        range_depth: 0,
        depth: 0,
        action_line: 0,
        trees: BTreeMap::new(),
    };
    let root = p.parse_top()?;
    p.add(name.to_string(), root)?;
    Ok(p.trees)
}

struct Parser<'s, 'f> {
    name: &'s str,
    lex: Lexer<'s>,
    token: [Item; 3],
    peek_count: usize,
    vars: Vec<String>,
    has_function: &'f dyn Fn(&str) -> bool,
    range_depth: usize,
    depth: usize,
    action_line: usize,
    trees: BTreeMap<String, ListNode>,
}

fn is(n: &Node, end: bool) -> bool {
    matches!(
        (n, end),
        (Node::End { .. }, true) | (Node::Else { .. }, false)
    )
}

impl Parser<'_, '_> {
    fn next(&mut self) -> Item {
        if self.peek_count > 0 {
            self.peek_count -= 1;
        } else {
            self.token[0] = self.lex.next_item();
        }
        self.token[self.peek_count].clone()
    }

    fn backup(&mut self) {
        self.peek_count += 1;
    }

    fn backup2(&mut self, t1: Item) {
        self.token[1] = t1;
        self.peek_count = 2;
    }

    fn backup3(&mut self, t2: Item, t1: Item) {
        self.token[1] = t1;
        self.token[2] = t2;
        self.peek_count = 3;
    }

    fn peek(&mut self) -> Item {
        if self.peek_count > 0 {
            return self.token[self.peek_count - 1].clone();
        }
        self.peek_count = 1;
        self.token[0] = self.lex.next_item();
        self.token[0].clone()
    }

    fn next_non_space(&mut self) -> Item {
        loop {
            let t = self.next();
            if t.typ != ItemType::Space {
                return t;
            }
        }
    }

    fn peek_non_space(&mut self) -> Item {
        let t = self.next_non_space();
        self.backup();
        t
    }

    fn errorf<T>(&self, msg: impl std::fmt::Display) -> Result<T> {
        Err(ParseError {
            message: format!("template: {}:{}: {}", self.name, self.token[0].line, msg),
        })
    }

    fn expect(&mut self, expected: ItemType, context: &str) -> Result<Item> {
        let t = self.next_non_space();
        if t.typ != expected {
            return self.unexpected(&t, context);
        }
        Ok(t)
    }

    fn unexpected<T>(&self, token: &Item, context: &str) -> Result<T> {
        if token.typ == ItemType::Error {
            let mut extra = String::new();
            if self.action_line != 0 && self.action_line != token.line {
                extra = format!(" in action started at {}:{}", self.name, self.action_line);
                if token.val.ends_with(" action") {
                    extra = extra[" in action".len()..].to_string();
                }
            }
            return self.errorf(format_args!("{token}{extra}"));
        }
        self.errorf(format_args!("unexpected {token} in {context}"))
    }

    /// Records a template body; a second non-empty body for a name is an error.
    fn add(&mut self, name: String, root: ListNode) -> Result<()> {
        match self.trees.get(&name) {
            Some(existing) if !existing.is_empty_tree() => {
                if !root.is_empty_tree() {
                    return self.errorf(format_args!(
                        "template: multiple definition of template {}",
                        quote(&name, false)
                    ));
                }
            }
            _ => {
                self.trees.insert(name, root);
            }
        }
        Ok(())
    }

    fn parse_top(&mut self) -> Result<ListNode> {
        let mut root = ListNode { nodes: Vec::new() };
        while self.peek().typ != ItemType::Eof {
            if self.peek().typ == ItemType::LeftDelim {
                let delim = self.next();
                if self.next_non_space().typ == ItemType::Define {
                    self.parse_definition()?;
                    continue;
                }
                self.backup2(delim);
            }
            let n = self.text_or_action()?;
            if matches!(n, Node::End { .. } | Node::Else { .. }) {
                return self.errorf(format_args!("unexpected {n}"));
            }
            root.nodes.push(n);
        }
        Ok(root)
    }

    /// Parses the body of a nested template with fresh variable scope.
    fn nested_body(&mut self, context: &str) -> Result<ListNode> {
        let vars = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let range_depth = std::mem::replace(&mut self.range_depth, 0);
        let (root, end) = self.item_list()?;
        if !is(&end, true) {
            return self.errorf(format_args!("unexpected {end} in {context}"));
        }
        self.vars = vars;
        self.range_depth = range_depth;
        Ok(root)
    }

    fn parse_definition(&mut self) -> Result<()> {
        const CONTEXT: &str = "define clause";
        let t = self.next_non_space();
        if !matches!(t.typ, ItemType::String | ItemType::RawString) {
            return self.unexpected(&t, CONTEXT);
        }
        let name = self.unquote(&t.val)?;
        self.expect(ItemType::RightDelim, CONTEXT)?;
        let root = self.nested_body(CONTEXT)?;
        self.add(name, root)
    }

    fn item_list(&mut self) -> Result<(ListNode, Node)> {
        self.peek_non_space();
        let mut list = ListNode { nodes: Vec::new() };
        while self.peek_non_space().typ != ItemType::Eof {
            let n = self.text_or_action()?;
            if matches!(n, Node::End { .. } | Node::Else { .. }) {
                return Ok((list, n));
            }
            list.nodes.push(n);
        }
        self.errorf("unexpected EOF")
    }

    fn text_or_action(&mut self) -> Result<Node> {
        let t = self.next_non_space();
        match t.typ {
            ItemType::Text => Ok(Node::Text {
                pos: t.pos,
                text: t.val,
            }),
            ItemType::LeftDelim => {
                self.action_line = t.line;
                let r = self.action();
                self.action_line = 0;
                r
            }
            _ => self.unexpected(&t, "input"),
        }
    }

    fn action(&mut self) -> Result<Node> {
        let t = self.next_non_space();
        match t.typ {
            ItemType::Block => return self.block_control(),
            ItemType::Break | ItemType::Continue => return self.break_control(&t),
            ItemType::Else => return self.else_control(),
            ItemType::End => {
                let end = self.expect(ItemType::RightDelim, "end")?;
                return Ok(Node::End { pos: end.pos });
            }
            ItemType::If | ItemType::Range | ItemType::With => return self.control(t.typ),
            ItemType::Template => return self.template_control(),
            _ => {}
        }
        self.backup();
        let pos = self.peek().pos;
        Ok(Node::Action {
            pos,
            pipe: self.pipeline("command", ItemType::RightDelim)?,
        })
    }

    fn break_control(&mut self, kw: &Item) -> Result<Node> {
        let name = if kw.typ == ItemType::Break {
            "break"
        } else {
            "continue"
        };
        let t = self.next_non_space();
        if t.typ != ItemType::RightDelim {
            return self.unexpected(&t, &format!("{{{{{name}}}}}"));
        }
        if self.range_depth == 0 {
            return self.errorf(format_args!("{{{{{name}}}}} outside {{{{range}}}}"));
        }
        Ok(if kw.typ == ItemType::Break {
            Node::Break { pos: kw.pos }
        } else {
            Node::Continue { pos: kw.pos }
        })
    }

    fn else_control(&mut self) -> Result<Node> {
        let peek = self.peek_non_space();
        // "{{else if" and "{{else with" leave the keyword pending.
        if matches!(peek.typ, ItemType::If | ItemType::With) {
            return Ok(Node::Else { pos: peek.pos });
        }
        let t = self.expect(ItemType::RightDelim, "else")?;
        Ok(Node::Else { pos: t.pos })
    }

    /// `if`, `range` and `with`, including `else if`/`else with` chains.
    fn control(&mut self, kw: ItemType) -> Result<Node> {
        let context = match kw {
            ItemType::If => "if",
            ItemType::Range => "range",
            _ => "with",
        };
        if self.depth >= MAX_DEPTH {
            return self.errorf("max expression depth exceeded");
        }
        self.depth += 1;
        let vars_len = self.vars.len();
        let pipe = self.pipeline(context, ItemType::RightDelim)?;
        if kw == ItemType::Range {
            self.range_depth += 1;
        }
        let (list, next) = self.item_list()?;
        if kw == ItemType::Range {
            self.range_depth -= 1;
        }
        let mut else_list = None;
        if let Node::Else { .. } = next {
            let chained = self.peek().typ;
            if kw != ItemType::Range && chained == kw {
                self.next();
                let inner = self.control(kw)?;
                else_list = Some(ListNode { nodes: vec![inner] });
            } else {
                let (l, end) = self.item_list()?;
                if !is(&end, true) {
                    return self.errorf(format_args!("expected end; found {end}"));
                }
                else_list = Some(l);
            }
        }
        self.vars.truncate(vars_len);
        self.depth -= 1;
        let b = BranchNode {
            pos: pipe.pos,
            pipe,
            list,
            else_list,
        };
        Ok(match kw {
            ItemType::If => Node::If(b),
            ItemType::Range => Node::Range(b),
            _ => Node::With(b),
        })
    }

    fn template_name(&mut self, t: &Item, context: &str) -> Result<String> {
        match t.typ {
            ItemType::String | ItemType::RawString => self.unquote(&t.val),
            _ => self.unexpected(t, context),
        }
    }

    fn block_control(&mut self) -> Result<Node> {
        const CONTEXT: &str = "block clause";
        let t = self.next_non_space();
        let name = self.template_name(&t, CONTEXT)?;
        let pipe = self.pipeline(CONTEXT, ItemType::RightDelim)?;
        let root = self.nested_body(CONTEXT)?;
        self.add(name.clone(), root)?;
        Ok(Node::Template {
            pos: t.pos,
            name,
            pipe: Some(pipe),
        })
    }

    fn template_control(&mut self) -> Result<Node> {
        const CONTEXT: &str = "template clause";
        let t = self.next_non_space();
        let name = self.template_name(&t, CONTEXT)?;
        let mut pipe = None;
        if self.next_non_space().typ != ItemType::RightDelim {
            self.backup();
            pipe = Some(self.pipeline(CONTEXT, ItemType::RightDelim)?);
        }
        Ok(Node::Template {
            pos: t.pos,
            name,
            pipe,
        })
    }

    fn pipeline(&mut self, context: &str, end: ItemType) -> Result<PipeNode> {
        let start = self.peek_non_space();
        let mut pipe = PipeNode {
            pos: start.pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        loop {
            let v = self.peek_non_space();
            if v.typ != ItemType::Variable {
                break;
            }
            self.next();
            // "$x foo" versus "$x := foo": look past the variable.
            let after = self.peek();
            let next = self.peek_non_space();
            match next.typ {
                ItemType::Assign | ItemType::Declare => {
                    pipe.is_assign = next.typ == ItemType::Assign;
                    self.next_non_space();
                    pipe.decl.push(v.val.clone());
                    self.vars.push(v.val);
                }
                ItemType::Char if next.val == "," => {
                    self.next_non_space();
                    pipe.decl.push(v.val.clone());
                    self.vars.push(v.val);
                    if context == "range" && pipe.decl.len() < 2 {
                        match self.peek_non_space().typ {
                            ItemType::Variable | ItemType::RightDelim | ItemType::RightParen => {
                                continue;
                            }
                            _ => return self.errorf("range can only initialize variables"),
                        }
                    }
                    return self.errorf(format_args!("too many declarations in {context}"));
                }
                _ if after.typ == ItemType::Space => self.backup3(v, after),
                _ => self.backup2(v),
            }
            break;
        }
        loop {
            let t = self.next_non_space();
            if t.typ == end {
                self.check_pipeline(&pipe, context)?;
                return Ok(pipe);
            }
            match t.typ {
                ItemType::Bool
                | ItemType::CharConstant
                | ItemType::Complex
                | ItemType::Dot
                | ItemType::Field
                | ItemType::Identifier
                | ItemType::Number
                | ItemType::Nil
                | ItemType::RawString
                | ItemType::String
                | ItemType::Variable
                | ItemType::LeftParen => {
                    self.backup();
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return self.unexpected(&t, context),
            }
        }
    }

    fn check_pipeline(&self, pipe: &PipeNode, context: &str) -> Result<()> {
        if pipe.cmds.is_empty() {
            return self.errorf(format_args!("missing value for {context}"));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args.first(),
                Some(
                    Arg::Bool { .. }
                        | Arg::Dot { .. }
                        | Arg::Nil { .. }
                        | Arg::Number(_)
                        | Arg::String { .. }
                )
            ) {
                return self.errorf(format_args!(
                    "non executable command in pipeline stage {}",
                    i + 1
                ));
            }
        }
        Ok(())
    }

    fn command(&mut self) -> Result<CommandNode> {
        let mut cmd = CommandNode {
            pos: self.peek_non_space().pos,
            args: Vec::new(),
        };
        loop {
            self.peek_non_space();
            if let Some(op) = self.operand()? {
                cmd.args.push(op);
            }
            let t = self.next();
            match t.typ {
                ItemType::Space => continue,
                ItemType::RightDelim | ItemType::RightParen => self.backup(),
                ItemType::Pipe => {}
                _ => return self.unexpected(&t, "operand"),
            }
            break;
        }
        if cmd.args.is_empty() {
            return self.errorf("empty command");
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> Result<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().typ != ItemType::Field {
            return Ok(Some(node));
        }
        let pos = self.peek().pos;
        let mut fields = Vec::new();
        while self.peek().typ == ItemType::Field {
            fields.push(self.next().val[1..].to_string());
        }
        Ok(Some(match node {
            Arg::Field { mut ident, .. } => {
                ident.extend(fields);
                Arg::Field { pos, ident }
            }
            Arg::Variable { mut ident, .. } => {
                ident.extend(fields);
                Arg::Variable { pos, ident }
            }
            Arg::Bool { .. }
            | Arg::String { .. }
            | Arg::Number(_)
            | Arg::Nil { .. }
            | Arg::Dot { .. } => {
                return self.errorf(format_args!(
                    "unexpected . after term {}",
                    quote(&node.to_string(), false)
                ));
            }
            node => Arg::Chain {
                pos,
                node: Box::new(node),
                field: fields,
            },
        }))
    }

    fn term(&mut self) -> Result<Option<Arg>> {
        let t = self.next_non_space();
        let pos = t.pos;
        Ok(Some(match t.typ {
            ItemType::Identifier => {
                if !(self.has_function)(&t.val) {
                    return self.errorf(format_args!(
                        "function {} not defined",
                        quote(&t.val, false)
                    ));
                }
                Arg::Identifier { pos, name: t.val }
            }
            ItemType::Dot => Arg::Dot { pos },
            ItemType::Nil => Arg::Nil { pos },
            ItemType::Variable => {
                let ident: Vec<String> = t.val.split('.').map(String::from).collect();
                if !self.vars.iter().any(|v| *v == ident[0]) {
                    return self.errorf(format_args!(
                        "undefined variable {}",
                        quote(&ident[0], false)
                    ));
                }
                Arg::Variable { pos, ident }
            }
            ItemType::Field => Arg::Field {
                pos,
                ident: t.val[1..].split('.').map(String::from).collect(),
            },
            ItemType::Bool => Arg::Bool {
                pos,
                val: t.val == "true",
            },
            ItemType::CharConstant | ItemType::Complex | ItemType::Number => {
                Arg::Number(Box::new(self.number(pos, &t.val, t.typ)?))
            }
            ItemType::LeftParen => {
                if self.depth >= MAX_DEPTH {
                    return self.errorf("max expression depth exceeded");
                }
                self.depth += 1;
                let p = self.pipeline("parenthesized pipeline", ItemType::RightParen)?;
                self.depth -= 1;
                Arg::Pipe(Box::new(p))
            }
            ItemType::String | ItemType::RawString => {
                let text = self.unquote(&t.val)?;
                Arg::String {
                    pos,
                    quoted: t.val,
                    text,
                }
            }
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }

    fn unquote(&self, s: &str) -> Result<String> {
        match strconv::unquote(s) {
            Ok(v) => Ok(v),
            Err(_) => self.errorf("invalid syntax"),
        }
    }

    /// Go's `newNumber`: records every type the literal can represent.
    fn number(&self, pos: Pos, text: &str, typ: ItemType) -> Result<NumberNode> {
        let mut n = NumberNode {
            pos,
            text: text.to_string(),
            ..NumberNode::default()
        };
        match typ {
            ItemType::CharConstant => {
                let (u, tail) = match strconv::unquote_char(&text[1..], '\'') {
                    Ok(v) => v,
                    Err(_) => return self.errorf("invalid syntax"),
                };
                if tail != "'" {
                    return self.errorf(format_args!("malformed character constant: {text}"));
                }
                let r = match u {
                    Unquoted::Char(c) => c as u32,
                    Unquoted::Byte(b) => u32::from(b),
                };
                n.is_int = true;
                n.int = i64::from(r);
                n.is_uint = true;
                n.uint = u64::from(r);
                n.is_float = true;
                n.float = f64::from(r);
                return Ok(n);
            }
            ItemType::Complex => {
                let Some((re, im)) = split_complex(text) else {
                    return self.errorf(format_args!(
                        "illegal number syntax: {}",
                        quote(text, false)
                    ));
                };
                n.is_complex = true;
                n.complex = (re, im);
                simplify_complex(&mut n);
                return Ok(n);
            }
            _ => {}
        }
        if let Some(im) = text.strip_suffix('i') {
            if let Ok(f) = strconv::parse_float(im) {
                n.is_complex = true;
                n.complex = (0.0, f);
                simplify_complex(&mut n);
                return Ok(n);
            }
        }
        let u = strconv::parse_uint(text);
        if let Ok(u) = u {
            n.is_uint = true;
            n.uint = u;
        }
        if let Ok(i) = strconv::parse_int(text) {
            n.is_int = true;
            n.int = i;
            if i == 0 {
                n.is_uint = true;
                n.uint = 0;
            }
        }
        if n.is_int {
            n.is_float = true;
            n.float = n.int as f64;
        } else if n.is_uint {
            n.is_float = true;
            n.float = n.uint as f64;
        } else if let Ok(f) = strconv::parse_float(text) {
            // Parsed as a float but looks like an integer: too big for int.
            if !text.contains(['.', 'e', 'E', 'p', 'P']) {
                return self.errorf(format_args!("integer overflow: {}", quote(text, false)));
            }
            n.is_float = true;
            n.float = f;
            set_integral(&mut n, f);
        }
        if !n.is_int && !n.is_uint && !n.is_float {
            return self.errorf(format_args!(
                "illegal number syntax: {}",
                quote(text, false)
            ));
        }
        Ok(n)
    }
}

/// Marks a float constant as int/uint when it is integral and in range.
fn set_integral(n: &mut NumberNode, f: f64) {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if !n.is_int && f.fract() == 0.0 && (-TWO_63..TWO_63).contains(&f) {
        n.is_int = true;
        n.int = f as i64;
    }
    if !n.is_uint && f.fract() == 0.0 && (0.0..2.0 * TWO_63).contains(&f) {
        n.is_uint = true;
        n.uint = f as u64;
    }
}

fn simplify_complex(n: &mut NumberNode) {
    n.is_float = n.complex.1 == 0.0;
    if n.is_float {
        n.float = n.complex.0;
        set_integral(n, n.float);
    }
}

/// Splits "1+2i" into its parts.
fn split_complex(text: &str) -> Option<(f64, f64)> {
    let body = text.strip_suffix('i')?;
    let b = body.as_bytes();
    let split = (1..b.len())
        .rev()
        .find(|&i| matches!(b[i], b'+' | b'-') && !matches!(b[i - 1] | 0x20, b'e' | b'p'))?;
    let re = strconv::parse_float(&body[..split]).ok()?;
    let im = strconv::parse_float(&body[split..]).ok()?;
    Some((re, im))
}
