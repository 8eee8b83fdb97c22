//! Go's `fmt.Sprint`, `Sprintln` and `Sprintf` over template values.
//!
//! Flags, width, precision, `*` and `[n]` argument indexes, the per-type
//! verbs and the error annotations (`%!d(string=x)`, `%!d(MISSING)`,
//! `%!(EXTRA int=2)`, `%!(NOVERB)`, `%!d(BADINDEX)`) follow Go's `fmt`
//! package; maps print as `map[k:v]` in key order, lists as `[a b]`.

use crate::strconv::{can_backquote, format_float, quote, quote_rune};
use crate::value::{ListKind, Value};

const LDIGITS: &[u8; 17] = b"0123456789abcdefx";
const UDIGITS: &[u8; 17] = b"0123456789ABCDEFX";

#[derive(Default, Clone, Copy)]
struct Flags {
    wid: usize,
    prec: usize,
    wid_present: bool,
    prec_present: bool,
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    sharp_v: bool,
}

#[derive(Default)]
struct Printer {
    buf: String,
    f: Flags,
}

/// `fmt.Sprint`: spaces between operands when neither side is a string.
pub(crate) fn sprint(args: &[Value]) -> String {
    let mut p = Printer::default();
    let mut prev_string = false;
    for (i, a) in args.iter().enumerate() {
        let is_string = matches!(a, Value::Str(_));
        if i > 0 && !is_string && !prev_string {
            p.buf.push(' ');
        }
        p.print_arg(a, 'v');
        prev_string = is_string;
    }
    p.buf
}

/// `fmt.Sprintln`: always spaces between operands, then a newline.
pub(crate) fn sprintln(args: &[Value]) -> String {
    let mut p = Printer::default();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            p.buf.push(' ');
        }
        p.print_arg(a, 'v');
    }
    p.buf.push('\n');
    p.buf
}

/// `fmt.Sprint` of one value with the `%v` verb.
pub(crate) fn sprint_v(v: &Value) -> String {
    sprint(std::slice::from_ref(v))
}

/// `fmt.Sprintf(format, args...)` with the verb applied to a single value,
/// as Go's `%s`-formatting of a `reflect.Value` in error messages.
pub(crate) fn sprint_verb(v: &Value, verb: char) -> String {
    let mut p = Printer::default();
    p.print_arg(v, verb);
    p.buf
}

/// Numbers above this are refused as widths and precisions (Go's `tooLarge`).
const TOO_LARGE: usize = 1_000_000;

/// Parses a decimal at `i`; returns (value, present, new index).
fn parse_num(s: &[u8], mut i: usize, end: usize) -> (usize, bool, usize) {
    if i >= end {
        return (0, false, i);
    }
    let mut num = 0usize;
    let mut present = false;
    while i < end && s[i].is_ascii_digit() {
        num = num * 10 + usize::from(s[i] - b'0');
        if num > TOO_LARGE {
            return (0, false, end);
        }
        present = true;
        i += 1;
    }
    (num, present, i)
}

/// `fmt.Sprintf`.
pub(crate) fn sprintf(format: &str, args: &[Value]) -> String {
    let mut p = Printer::default();
    let s = format.as_bytes();
    let end = s.len();
    let mut arg_num = 0usize;
    let mut reordered = false;
    let mut i = 0usize;
    'outer: while i < end {
        let mut good_arg_num = true;
        let lasti = i;
        while i < end && s[i] != b'%' {
            i += 1;
        }
        if i > lasti {
            p.buf.push_str(&format[lasti..i]);
        }
        if i >= end {
            break;
        }
        i += 1; // the '%'
        p.f = Flags::default();
        while i < end {
            match s[i] {
                b'#' => p.f.sharp = true,
                // Zero padding only applies to the left.
                b'0' => p.f.zero = !p.f.minus,
                b'+' => p.f.plus = true,
                b'-' => {
                    p.f.minus = true;
                    p.f.zero = false;
                }
                b' ' => p.f.space = true,
                c if c.is_ascii_lowercase() && arg_num < args.len() => {
                    // Fast path: flags followed directly by a simple verb.
                    if c == b'v' {
                        p.f.sharp_v = p.f.sharp;
                        p.f.sharp = false;
                        p.f.plus = false;
                    }
                    p.print_arg(&args[arg_num], c as char);
                    arg_num += 1;
                    i += 1;
                    continue 'outer;
                }
                _ => break,
            }
            i += 1;
        }

        let mut after_index;
        (arg_num, i, after_index) =
            arg_number(s, arg_num, i, args.len(), &mut reordered, &mut good_arg_num);

        if i < end && s[i] == b'*' {
            i += 1;
            let (n, ok, next) = int_from_arg(args, arg_num);
            arg_num = next;
            p.f.wid_present = ok;
            if !ok {
                p.buf.push_str("%!(BADWIDTH)");
            }
            if n < 0 {
                p.f.minus = true;
                p.f.zero = false;
            }
            p.f.wid = n.unsigned_abs() as usize;
            after_index = false;
        } else {
            let (n, ok, next) = parse_num(s, i, end);
            p.f.wid = n;
            p.f.wid_present = ok;
            i = next;
            if after_index && ok {
                good_arg_num = false;
            }
        }

        if i + 1 < end && s[i] == b'.' {
            i += 1;
            if after_index {
                good_arg_num = false;
            }
            (arg_num, i, after_index) =
                arg_number(s, arg_num, i, args.len(), &mut reordered, &mut good_arg_num);
            if i < end && s[i] == b'*' {
                i += 1;
                let (n, ok, next) = int_from_arg(args, arg_num);
                arg_num = next;
                p.f.prec_present = ok && n >= 0;
                p.f.prec = if n >= 0 { n as usize } else { 0 };
                if !ok {
                    p.buf.push_str("%!(BADPREC)");
                }
                after_index = false;
            } else {
                let (n, ok, next) = parse_num(s, i, end);
                i = next;
                p.f.prec = if ok { n } else { 0 };
                p.f.prec_present = true;
            }
        }

        if !after_index {
            (arg_num, i, _) =
                arg_number(s, arg_num, i, args.len(), &mut reordered, &mut good_arg_num);
        }

        if i >= end {
            p.buf.push_str("%!(NOVERB)");
            break;
        }
        let verb = format[i..].chars().next().unwrap_or('\u{fffd}');
        i += verb.len_utf8();

        match verb {
            '%' => p.buf.push('%'),
            _ if !good_arg_num => p.bad_arg(verb, "BADINDEX"),
            _ if arg_num >= args.len() => p.bad_arg(verb, "MISSING"),
            _ => {
                if verb == 'v' {
                    p.f.sharp_v = p.f.sharp;
                    p.f.sharp = false;
                    p.f.plus = false;
                }
                p.print_arg(&args[arg_num], verb);
                arg_num += 1;
            }
        }
    }
    if !reordered && arg_num < args.len() {
        p.f = Flags::default();
        p.buf.push_str("%!(EXTRA ");
        for (k, a) in args[arg_num..].iter().enumerate() {
            if k > 0 {
                p.buf.push_str(", ");
            }
            if a.is_nil() {
                p.buf.push_str("<nil>");
            } else {
                p.buf.push_str(a.type_name());
                p.buf.push('=');
                p.print_arg(a, 'v');
            }
        }
        p.buf.push(')');
    }
    p.buf
}

/// An explicit `[n]` argument index at `i`, if any.
fn arg_number(
    s: &[u8],
    arg_num: usize,
    i: usize,
    num_args: usize,
    reordered: &mut bool,
    good: &mut bool,
) -> (usize, usize, bool) {
    if i >= s.len() || s[i] != b'[' {
        return (arg_num, i, false);
    }
    *reordered = true;
    let rest = &s[i..];
    let (index, wid, ok) = match rest.iter().position(|&c| c == b']') {
        Some(close) if rest.len() >= 3 => {
            let (n, present, next) = parse_num(rest, 1, close);
            if !present || next != close {
                (0, close + 1, false)
            } else {
                (n as isize - 1, close + 1, true)
            }
        }
        _ => (0, 1, false),
    };
    if ok && index >= 0 && (index as usize) < num_args {
        return (index as usize, i + wid, true);
    }
    *good = false;
    (arg_num, i + wid, ok)
}

/// A `*` width or precision taken from an int argument.
fn int_from_arg(args: &[Value], arg_num: usize) -> (i64, bool, usize) {
    let Some(a) = args.get(arg_num) else {
        return (0, false, arg_num);
    };
    let (n, ok) = match a {
        Value::Int(i) => (*i, true),
        Value::Uint(u, _) => match i64::try_from(*u) {
            Ok(i) => (i, true),
            Err(_) => (0, false),
        },
        _ => (0, false),
    };
    if n.unsigned_abs() > TOO_LARGE as u64 {
        return (0, false, arg_num + 1);
    }
    (n, ok, arg_num + 1)
}

impl Printer {
    fn bad_arg(&mut self, verb: char, what: &str) {
        self.buf.push_str("%!");
        self.buf.push(verb);
        self.buf.push('(');
        self.buf.push_str(what);
        self.buf.push(')');
    }

    fn write_padding(&mut self, n: usize) {
        let c = if self.f.zero { '0' } else { ' ' };
        self.buf.extend(std::iter::repeat_n(c, n));
    }

    /// Appends `s` padded to the width (counted in characters).
    fn pad(&mut self, s: &str) {
        if !self.f.wid_present || self.f.wid == 0 {
            self.buf.push_str(s);
            return;
        }
        let width = self.f.wid.saturating_sub(s.chars().count());
        if self.f.minus {
            self.buf.push_str(s);
            self.write_padding(width);
        } else {
            self.write_padding(width);
            self.buf.push_str(s);
        }
    }

    fn truncate<'a>(&self, s: &'a str) -> &'a str {
        if self.f.prec_present {
            if let Some((i, _)) = s.char_indices().nth(self.f.prec) {
                return &s[..i];
            }
        }
        s
    }

    fn bad_verb(&mut self, verb: char, v: &Value) {
        self.buf.push_str("%!");
        self.buf.push(verb);
        self.buf.push('(');
        if v.is_nil() {
            self.buf.push_str("<nil>");
        } else {
            self.buf.push_str(v.type_name());
            self.buf.push('=');
            self.print_value(v, 'v', 0);
        }
        self.buf.push(')');
    }

    /// A top-level operand: nil operands print "<nil>" only for %v and %T.
    fn print_arg(&mut self, arg: &Value, verb: char) {
        if arg.is_nil() {
            match verb {
                'T' | 'v' => self.pad("<nil>"),
                _ => self.bad_verb(verb, &Value::Invalid),
            }
            return;
        }
        match verb {
            'T' => {
                let t = arg.type_name();
                self.fmt_s(t);
            }
            'p' => self.bad_verb(verb, arg),
            _ => self.print_value(arg, verb, 0),
        }
    }

    fn print_value(&mut self, v: &Value, verb: char, depth: usize) {
        match v {
            Value::Invalid => {
                if depth == 0 {
                    self.buf.push_str("<invalid reflect.Value>");
                } else if verb == 'v' {
                    self.buf.push_str("<nil>");
                } else {
                    self.bad_verb(verb, v);
                }
            }
            Value::Nil => {
                if self.f.sharp_v {
                    self.buf.push_str("interface {}(nil)");
                } else {
                    self.buf.push_str("<nil>");
                }
            }
            Value::TypedNil(n) => self.buf.push_str(match n {
                crate::Nil::Pointer => "<nil>",
                crate::Nil::Slice => "[]",
                crate::Nil::Map => "map[]",
            }),
            Value::Bool(b) => match verb {
                't' | 'v' => self.pad(if *b { "true" } else { "false" }),
                _ => self.bad_verb(verb, v),
            },
            Value::Int(i) => self.fmt_integer_verb(*i as u64, true, verb, v),
            Value::Uint(u, _) => self.fmt_integer_verb(*u, false, verb, v),
            Value::Float(x) => self.fmt_float_verb(*x, verb, v),
            Value::Complex(re, im) => match verb {
                'v' | 'b' | 'g' | 'G' | 'x' | 'X' | 'f' | 'F' | 'e' | 'E' => {
                    let old_plus = self.f.plus;
                    self.buf.push('(');
                    self.fmt_float_verb(*re, verb, v);
                    self.f.plus = true;
                    self.fmt_float_verb(*im, verb, v);
                    self.buf.push_str("i)");
                    self.f.plus = old_plus;
                }
                _ => self.bad_verb(verb, v),
            },
            Value::Str(s) => match verb {
                'v' if self.f.sharp_v => self.fmt_q(s),
                'v' | 's' => self.fmt_s(s),
                'x' => self.fmt_sx(s, LDIGITS),
                'X' => self.fmt_sx(s, UDIGITS),
                'q' => self.fmt_q(s),
                _ => self.bad_verb(verb, v),
            },
            // fmt prefers a String method for the verbs that print strings.
            Value::Custom(c) => match &c.text {
                Some(t) if matches!(verb, 'v' | 's' | 'q' | 'x' | 'X') && !self.f.sharp_v => {
                    self.print_value(&Value::Str(t.clone()), verb, depth)
                }
                _ => self.print_value(&c.value, verb, depth),
            },
            Value::Struct(m) => {
                // fmt's `{field1 field2}` (`%+v` and `%#v` detail left out).
                self.buf.push('{');
                for (i, (_, e)) in m.entries().enumerate() {
                    if i > 0 {
                        self.buf.push(' ');
                    }
                    self.print_value(e, verb, depth + 1);
                }
                self.buf.push('}');
            }
            Value::Map(m) => {
                if self.f.sharp_v {
                    self.buf.push_str(v.type_name());
                    self.buf.push('{');
                } else {
                    self.buf.push_str("map[");
                }
                for (i, (k, e)) in m.sorted().enumerate() {
                    if i > 0 {
                        self.buf.push_str(if self.f.sharp_v { ", " } else { " " });
                    }
                    self.print_value(&Value::Str(k.clone()), verb, depth + 1);
                    self.buf.push(':');
                    self.print_value(e, verb, depth + 1);
                }
                self.buf.push(if self.f.sharp_v { '}' } else { ']' });
            }
            Value::List(l, kind) => {
                if self.f.sharp_v {
                    self.buf.push_str(if *kind == ListKind::Str {
                        "[]string"
                    } else {
                        "[]interface {}"
                    });
                    self.buf.push('{');
                } else {
                    self.buf.push('[');
                }
                for (i, e) in l.iter().enumerate() {
                    if i > 0 {
                        self.buf.push_str(if self.f.sharp_v { ", " } else { " " });
                    }
                    self.print_value(e, verb, depth + 1);
                }
                self.buf.push(if self.f.sharp_v { '}' } else { ']' });
            }
        }
    }

    fn fmt_integer_verb(&mut self, u: u64, signed: bool, verb: char, v: &Value) {
        match verb {
            'v' if self.f.sharp_v && !signed => {
                let sharp = self.f.sharp;
                self.f.sharp = true;
                self.fmt_integer(u, 16, signed, verb, LDIGITS);
                self.f.sharp = sharp;
            }
            'v' | 'd' => self.fmt_integer(u, 10, signed, verb, LDIGITS),
            'b' => self.fmt_integer(u, 2, signed, verb, LDIGITS),
            'o' | 'O' => self.fmt_integer(u, 8, signed, verb, LDIGITS),
            'x' => self.fmt_integer(u, 16, signed, verb, LDIGITS),
            'X' => self.fmt_integer(u, 16, signed, verb, UDIGITS),
            'c' => {
                let r = rune(u);
                self.pad(r.encode_utf8(&mut [0; 4]));
            }
            'q' => {
                let q = quote_rune(rune(u), self.f.plus);
                self.pad(&q);
            }
            'U' => self.fmt_unicode(u),
            _ => self.bad_verb(verb, v),
        }
    }

    fn fmt_integer(&mut self, mut u: u64, base: u64, signed: bool, verb: char, digits: &[u8; 17]) {
        let negative = signed && (u as i64) < 0;
        if negative {
            u = u.wrapping_neg();
        }
        let mut prec = 0usize;
        if self.f.prec_present {
            prec = self.f.prec;
            // Precision 0 and value 0 print nothing but the padding.
            if prec == 0 && u == 0 {
                let old = self.f.zero;
                self.f.zero = false;
                self.write_padding(self.f.wid);
                self.f.zero = old;
                return;
            }
        } else if self.f.zero && !self.f.minus && self.f.wid_present {
            prec = self.f.wid;
            if negative || self.f.plus || self.f.space {
                prec = prec.saturating_sub(1);
            }
        }
        let mut out: Vec<u8> = Vec::new();
        loop {
            out.push(digits[(u % base) as usize]);
            u /= base;
            if u == 0 {
                break;
            }
        }
        while out.len() < prec {
            out.push(b'0');
        }
        if self.f.sharp {
            match base {
                2 => out.extend_from_slice(b"b0"),
                8 if out.last() != Some(&b'0') => out.push(b'0'),
                16 => {
                    out.push(digits[16]);
                    out.push(b'0');
                }
                _ => {}
            }
        }
        if verb == 'O' {
            out.extend_from_slice(b"o0");
        }
        if negative {
            out.push(b'-');
        } else if self.f.plus {
            out.push(b'+');
        } else if self.f.space {
            out.push(b' ');
        }
        out.reverse();
        let s = String::from_utf8_lossy(&out).into_owned();
        let old = self.f.zero;
        self.f.zero = false;
        self.pad(&s);
        self.f.zero = old;
    }

    fn fmt_unicode(&mut self, mut u: u64) {
        let mut prec = 4usize;
        if self.f.prec_present && self.f.prec > 4 {
            prec = self.f.prec;
        }
        let mut tail = String::new();
        if self.f.sharp && u <= 0x10FFFF {
            if let Some(c) = char::from_u32(u as u32).filter(|&c| crate::strconv::is_print(c)) {
                tail = format!(" '{c}'");
            }
        }
        let mut hex: Vec<u8> = Vec::new();
        loop {
            hex.push(UDIGITS[(u & 0xF) as usize]);
            u >>= 4;
            if u == 0 {
                break;
            }
        }
        while hex.len() < prec {
            hex.push(b'0');
        }
        hex.extend_from_slice(b"+U");
        hex.reverse();
        let s = format!("{}{tail}", String::from_utf8_lossy(&hex));
        let old = self.f.zero;
        self.f.zero = false;
        self.pad(&s);
        self.f.zero = old;
    }

    fn fmt_s(&mut self, s: &str) {
        let s = self.truncate(s).to_string();
        self.pad(&s);
    }

    fn fmt_q(&mut self, s: &str) {
        let s = self.truncate(s);
        let quoted = if self.f.sharp && can_backquote(s) {
            format!("`{s}`")
        } else {
            quote(s, self.f.plus)
        };
        self.pad(&quoted);
    }

    fn fmt_sx(&mut self, s: &str, digits: &[u8; 17]) {
        let b = s.as_bytes();
        let mut length = b.len();
        if self.f.prec_present && self.f.prec < length {
            length = self.f.prec;
        }
        let mut width = 2 * length;
        if width > 0 {
            if self.f.space {
                if self.f.sharp {
                    width *= 2;
                }
                width += length - 1;
            } else if self.f.sharp {
                width += 2;
            }
        } else {
            if self.f.wid_present {
                self.write_padding(self.f.wid);
            }
            return;
        }
        if self.f.wid_present && self.f.wid > width && !self.f.minus {
            self.write_padding(self.f.wid - width);
        }
        if self.f.sharp {
            self.buf.push('0');
            self.buf.push(digits[16] as char);
        }
        for (i, &c) in b[..length].iter().enumerate() {
            if self.f.space && i > 0 {
                self.buf.push(' ');
                if self.f.sharp {
                    self.buf.push('0');
                    self.buf.push(digits[16] as char);
                }
            }
            self.buf.push(digits[usize::from(c >> 4)] as char);
            self.buf.push(digits[usize::from(c & 0xF)] as char);
        }
        if self.f.wid_present && self.f.wid > width && self.f.minus {
            self.write_padding(self.f.wid - width);
        }
    }

    fn fmt_float_verb(&mut self, x: f64, verb: char, v: &Value) {
        match verb {
            'v' => self.fmt_float(x, b'g', -1),
            'b' | 'g' | 'G' | 'x' | 'X' => self.fmt_float(x, verb as u8, -1),
            'f' | 'e' | 'E' => self.fmt_float(x, verb as u8, 6),
            'F' => self.fmt_float(x, b'f', 6),
            _ => self.bad_verb(verb, v),
        }
    }

    fn fmt_float(&mut self, v: f64, verb: u8, mut prec: i32) {
        if self.f.prec_present {
            prec = self.f.prec.min(i32::MAX as usize) as i32;
        }
        let raw = format_float(v, verb, prec);
        // Reserve a sign position like Go does.
        let mut num: Vec<u8> = if raw.starts_with('-') || raw.starts_with('+') {
            raw.into_bytes()
        } else {
            let mut n = vec![b'+'];
            n.extend_from_slice(raw.as_bytes());
            n
        };
        if self.f.space && num[0] == b'+' && !self.f.plus {
            num[0] = b' ';
        }
        if num.get(1).is_some_and(|&c| c == b'I' || c == b'N') {
            let old = self.f.zero;
            self.f.zero = false;
            if num[1] == b'N' && !self.f.space && !self.f.plus {
                num.remove(0);
            }
            self.pad(&String::from_utf8_lossy(&num));
            self.f.zero = old;
            return;
        }
        if self.f.sharp && verb != b'b' {
            let mut digits: i64 = 0;
            if matches!(verb, b'v' | b'g' | b'G' | b'x' | b'X') {
                digits = i64::from(prec);
                if digits == -1 {
                    digits = 6;
                }
            }
            let mut tail: Vec<u8> = Vec::new();
            let mut has_point = false;
            let mut saw_nonzero = false;
            let hex = matches!(verb, b'x' | b'X');
            let mut k = 1;
            while k < num.len() {
                match num[k] {
                    b'.' => has_point = true,
                    b'p' | b'P' => {
                        tail = num.split_off(k);
                        break;
                    }
                    b'e' | b'E' if !hex => {
                        tail = num.split_off(k);
                        break;
                    }
                    c => {
                        // Count significant digits after the first non-zero one.
                        if c != b'0' {
                            saw_nonzero = true;
                        }
                        if saw_nonzero {
                            digits -= 1;
                        }
                    }
                }
                k += 1;
            }
            if !has_point {
                if num.len() == 2 && num[1] == b'0' {
                    digits -= 1;
                }
                num.push(b'.');
            }
            while digits > 0 {
                num.push(b'0');
                digits -= 1;
            }
            num.extend_from_slice(&tail);
        }
        let s = String::from_utf8_lossy(&num).into_owned();
        if self.f.plus || num[0] != b'+' {
            if self.f.zero && !self.f.minus && self.f.wid_present && self.f.wid > num.len() {
                self.buf.push(num[0] as char);
                self.write_padding(self.f.wid - num.len());
                self.buf.push_str(&s[1..]);
                return;
            }
            self.pad(&s);
            return;
        }
        self.pad(&s[1..]);
    }
}

/// Go's rune conversion for %c and %q: invalid code points become U+FFFD.
fn rune(u: u64) -> char {
    u32::try_from(u)
        .ok()
        .and_then(char::from_u32)
        .unwrap_or('\u{fffd}')
}

#[cfg(test)]
#[path = "fmt_tests.rs"]
mod tests;
