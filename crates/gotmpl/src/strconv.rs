//! The parts of Go's `strconv` the template language depends on: number
//! literal parsing (base prefixes, `_` separators), string and character
//! literal unquoting, `Quote`/`QuoteRune`, and `FormatFloat`.
//!
//! Float digits come from Rust's own formatter, which like Go's is exact:
//! shortest round-trip digits for precision -1, correctly rounded digits
//! otherwise. The layout rules around them (`%e` vs `%f` choice for `%g`,
//! two-digit exponents, "+Inf") are Go's.

/// Why a numeric literal was rejected (`strconv.ErrSyntax`/`ErrRange`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumError {
    Syntax,
    Range,
}

/// Go's `underscoreOK`: '_' may only separate digits (or follow a base prefix).
fn underscore_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let b = if !b.is_empty() && (b[0] == b'-' || b[0] == b'+') {
        &b[1..]
    } else {
        b
    };
    let mut saw = b'^';
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1] | 0x20, b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = b[1] | 0x20 == b'x';
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || (hex && (c | 0x20).is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// `strconv.ParseUint(s, 0, 64)`: no sign allowed.
pub(crate) fn parse_uint(s0: &str) -> Result<u64, NumError> {
    if s0.is_empty() {
        return Err(NumError::Syntax);
    }
    let mut s = s0.as_bytes();
    let mut base = 10u64;
    if s[0] == b'0' {
        if s.len() >= 3 && matches!(s[1] | 0x20, b'b' | b'o' | b'x') {
            base = match s[1] | 0x20 {
                b'b' => 2,
                b'o' => 8,
                _ => 16,
            };
            s = &s[2..];
        } else {
            base = 8;
            s = &s[1..];
        }
    }
    let mut n: u64 = 0;
    let mut underscores = false;
    let mut overflow = false;
    for &c in s {
        let d = match c {
            b'_' => {
                underscores = true;
                continue;
            }
            b'0'..=b'9' => u64::from(c - b'0'),
            b'a'..=b'z' => u64::from(c - b'a') + 10,
            b'A'..=b'Z' => u64::from(c - b'A') + 10,
            _ => return Err(NumError::Syntax),
        };
        if d >= base {
            return Err(NumError::Syntax);
        }
        match n.checked_mul(base).and_then(|m| m.checked_add(d)) {
            Some(m) => n = m,
            None => overflow = true,
        }
    }
    if underscores && !underscore_ok(s0) {
        return Err(NumError::Syntax);
    }
    if overflow {
        return Err(NumError::Range);
    }
    Ok(n)
}

/// `strconv.ParseInt(s, 0, 64)`.
pub(crate) fn parse_int(s: &str) -> Result<i64, NumError> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let u = parse_uint(body)?;
    if neg {
        if u > 1u64 << 63 {
            return Err(NumError::Range);
        }
        Ok((u as i64).wrapping_neg())
    } else {
        i64::try_from(u).map_err(|_| NumError::Range)
    }
}

/// `strconv.ParseFloat(s, 64)` for the literal forms the lexer produces.
pub(crate) fn parse_float(s: &str) -> Result<f64, NumError> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if body.contains('_') && !underscore_ok(s) {
        return Err(NumError::Syntax);
    }
    let clean: String = body.chars().filter(|&c| c != '_').collect();
    let v = if clean.len() > 2 && clean.as_bytes()[0] == b'0' && clean.as_bytes()[1] | 0x20 == b'x'
    {
        parse_hex_float(&clean[2..])?
    } else {
        // Rust's parser accepts words like "inf" and "nan": Go's literal
        // syntax does not, so insist on digits, '.', and an exponent.
        let ok = clean
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'));
        if !ok
            || !clean
                .bytes()
                .next()
                .is_some_and(|c| c.is_ascii_digit() || c == b'.')
        {
            return Err(NumError::Syntax);
        }
        clean.parse::<f64>().map_err(|_| NumError::Syntax)?
    };
    if v.is_infinite() {
        return Err(NumError::Range);
    }
    Ok(if neg { -v } else { v })
}

/// Hex mantissa with a mandatory binary exponent: "1.8p1".
fn parse_hex_float(s: &str) -> Result<f64, NumError> {
    let (mant, exp) = s.split_once(['p', 'P']).ok_or(NumError::Syntax)?;
    let exp: i32 = exp.parse().map_err(|_| NumError::Syntax)?;
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if int.is_empty() && frac.is_empty() {
        return Err(NumError::Syntax);
    }
    let mut v = 0f64;
    for c in int.chars().chain(frac.chars()) {
        v = v * 16.0 + f64::from(c.to_digit(16).ok_or(NumError::Syntax)?);
    }
    let scale = exp.saturating_sub(4 * frac.len() as i32);
    Ok(v * 2f64.powi(scale))
}

/// One unquoted element: a whole character, or a raw byte from `\x`/octal.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Unquoted {
    Char(char),
    Byte(u8),
}

/// `strconv.UnquoteChar`: decodes the first character or escape of `s`.
pub(crate) fn unquote_char(s: &str, quote: char) -> Result<(Unquoted, &str), NumError> {
    let mut chars = s.chars();
    let c = chars.next().ok_or(NumError::Syntax)?;
    if c == quote && (quote == '\'' || quote == '"') {
        return Err(NumError::Syntax);
    }
    if c != '\\' {
        return Ok((Unquoted::Char(c), chars.as_str()));
    }
    let c2 = chars.next().ok_or(NumError::Syntax)?;
    let rest = chars.as_str();
    let simple = match c2 {
        'a' => Some('\u{7}'),
        'b' => Some('\u{8}'),
        'f' => Some('\u{c}'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\u{b}'),
        '\\' => Some('\\'),
        '\'' | '"' if c2 == quote => Some(c2),
        _ => None,
    };
    if let Some(ch) = simple {
        return Ok((Unquoted::Char(ch), rest));
    }
    let hex_len = match c2 {
        'x' => 2,
        'u' => 4,
        'U' => 8,
        '0'..='7' => {
            let digits = rest.get(..2).ok_or(NumError::Syntax)?;
            let mut v = c2 as u32 - '0' as u32;
            for d in digits.chars() {
                v = v * 8 + d.to_digit(8).ok_or(NumError::Syntax)?;
            }
            let byte = u8::try_from(v).map_err(|_| NumError::Syntax)?;
            return Ok((Unquoted::Byte(byte), &rest[2..]));
        }
        _ => return Err(NumError::Syntax),
    };
    let digits = rest.get(..hex_len).ok_or(NumError::Syntax)?;
    let mut v: u32 = 0;
    for d in digits.chars() {
        v = v * 16 + d.to_digit(16).ok_or(NumError::Syntax)?;
    }
    let rest = &rest[hex_len..];
    if c2 == 'x' {
        return Ok((Unquoted::Byte(v as u8), rest));
    }
    char::from_u32(v)
        .map(|ch| (Unquoted::Char(ch), rest))
        .ok_or(NumError::Syntax)
}

/// `strconv.Unquote` for "..." and `...` literals. Raw bytes from `\x`
/// escapes that do not form UTF-8 become U+FFFD (Rust strings are UTF-8).
pub(crate) fn unquote(s: &str) -> Result<String, NumError> {
    if s.len() >= 2 && s.starts_with('`') && s.ends_with('`') {
        let body = &s[1..s.len() - 1];
        if body.contains('`') {
            return Err(NumError::Syntax);
        }
        return Ok(body.chars().filter(|&c| c != '\r').collect());
    }
    if s.len() < 2 || !s.starts_with('"') || !s.ends_with('"') {
        return Err(NumError::Syntax);
    }
    let mut rest = &s[1..s.len() - 1];
    if rest.contains('\n') {
        return Err(NumError::Syntax);
    }
    let mut bytes = Vec::with_capacity(rest.len());
    while !rest.is_empty() {
        let (u, tail) = unquote_char(rest, '"')?;
        match u {
            Unquoted::Char(c) => {
                let mut buf = [0u8; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            Unquoted::Byte(b) => bytes.push(b),
        }
        rest = tail;
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Go's `unicode.IsPrint`, approximated without the Unicode tables: all
/// characters except controls, non-ASCII spaces, format characters,
/// private-use characters and noncharacters.
pub(crate) fn is_print(r: char) -> bool {
    if r.is_ascii() {
        return (' '..='~').contains(&r);
    }
    if r.is_control() || r.is_whitespace() {
        return false;
    }
    let c = r as u32;
    let format_or_private = matches!(c,
        0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x8E2 | 0x180E
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F
        | 0xFEFF | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F
        | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F
        | 0xE000..=0xF8FF | 0xF0000..=0x10FFFF | 0xFDD0..=0xFDEF);
    !format_or_private && (c & 0xFFFE) != 0xFFFE
}

fn push_escaped(out: &mut String, r: char, quote: char, ascii_only: bool) {
    if r == quote || r == '\\' {
        out.push('\\');
        out.push(r);
        return;
    }
    if ascii_only {
        if r.is_ascii() && is_print(r) {
            out.push(r);
            return;
        }
    } else if is_print(r) {
        out.push(r);
        return;
    }
    match r {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        r if (r as u32) < 0x20 || r == '\u{7f}' => {
            out.push_str(&format!("\\x{:02x}", r as u32));
        }
        r if (r as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", r as u32)),
        r => out.push_str(&format!("\\U{:08x}", r as u32)),
    }
}

/// `strconv.Quote` (or `QuoteToASCII` when `ascii_only`).
pub(crate) fn quote(s: &str, ascii_only: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for r in s.chars() {
        push_escaped(&mut out, r, '"', ascii_only);
    }
    out.push('"');
    out
}

/// `strconv.QuoteRune` (or `QuoteRuneToASCII`).
pub(crate) fn quote_rune(r: char, ascii_only: bool) -> String {
    let mut out = String::from("'");
    push_escaped(&mut out, r, '\'', ascii_only);
    out.push('\'');
    out
}

/// `strconv.CanBackquote`.
pub(crate) fn can_backquote(s: &str) -> bool {
    s.chars().all(|r| {
        !(r == '`' || r == '\u{feff}' || r == '\u{7f}' || ((r as u32) < 0x20 && r != '\t'))
    })
}

/// Decimal digits of a non-negative float: value = 0.d1d2d3... x 10^dp.
struct Digits {
    d: Vec<u8>,
    dp: i32,
}

impl Digits {
    /// Parses Rust's `{:e}` output ("1.2345e3") into digits.
    fn from_exp(s: &str) -> Digits {
        let (mant, exp) = s.split_once('e').unwrap_or((s, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let mut d: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
        while d.last() == Some(&b'0') {
            d.pop();
        }
        if d.is_empty() {
            return Digits { d, dp: 0 };
        }
        Digits { d, dp: exp + 1 }
    }

    fn shortest(v: f64) -> Digits {
        Digits::from_exp(&format!("{v:e}"))
    }

    /// `n` significant digits, correctly rounded.
    fn significant(v: f64, n: usize) -> Digits {
        Digits::from_exp(&format!("{:.*e}", n.saturating_sub(1), v))
    }

    fn nd(&self) -> i32 {
        self.d.len() as i32
    }
}

/// `strconv.FormatFloat(v, fmt, prec, 64)` for fmt in b e E f F g G x X.
pub(crate) fn format_float(v: f64, fmt: u8, prec: i32) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let neg = v.is_sign_negative();
    let abs = v.abs();
    match fmt {
        b'b' | b'x' | b'X' => return format_binary(v, fmt, prec),
        b'f' | b'F' if prec >= 0 => {
            let body = format!("{:.*}", prec as usize, abs);
            return if neg { format!("-{body}") } else { body };
        }
        _ => {}
    }
    let shortest = prec < 0;
    let (digs, mut prec) = if shortest {
        let digs = Digits::shortest(abs);
        let p = match fmt {
            b'e' | b'E' => (digs.nd() - 1).max(0),
            b'f' | b'F' => (digs.nd() - digs.dp).max(0),
            _ => digs.nd(),
        };
        (digs, p)
    } else {
        match fmt {
            b'e' | b'E' => (Digits::significant(abs, prec as usize + 1), prec),
            _ => {
                let p = prec.max(1);
                (Digits::significant(abs, p as usize), p)
            }
        }
    };
    match fmt {
        b'e' | b'E' => fmt_e(neg, &digs, prec, fmt),
        b'f' | b'F' => fmt_f(neg, &digs, prec),
        _ => {
            let upper = fmt == b'G';
            let mut eprec = prec;
            if eprec > digs.nd() && digs.nd() >= digs.dp {
                eprec = digs.nd();
            }
            // Shortest formatting decides %e vs %f as if precision were 6.
            if shortest {
                eprec = 6;
            }
            let exp = digs.dp - 1;
            if exp < -4 || exp >= eprec {
                if prec > digs.nd() {
                    prec = digs.nd();
                }
                return fmt_e(neg, &digs, prec - 1, if upper { b'E' } else { b'e' });
            }
            if prec > digs.dp {
                prec = digs.nd();
            }
            fmt_f(neg, &digs, (prec - digs.dp).max(0))
        }
    }
}

fn fmt_e(neg: bool, digs: &Digits, prec: i32, fmt: u8) -> String {
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    out.push(digs.d.first().map_or('0', |&c| c as char));
    if prec > 0 {
        out.push('.');
        let m = digs.d.len().min(prec as usize + 1);
        for &c in digs.d.get(1..m).unwrap_or(&[]) {
            out.push(c as char);
        }
        for _ in m.max(1)..=prec as usize {
            out.push('0');
        }
    }
    out.push(fmt as char);
    let mut exp = if digs.d.is_empty() { 0 } else { digs.dp - 1 };
    if exp < 0 {
        out.push('-');
        exp = -exp;
    } else {
        out.push('+');
    }
    if exp < 10 {
        out.push('0');
    }
    out.push_str(&exp.to_string());
    out
}

fn fmt_f(neg: bool, digs: &Digits, prec: i32) -> String {
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if digs.dp > 0 {
        let m = digs.d.len().min(digs.dp as usize);
        for &c in &digs.d[..m] {
            out.push(c as char);
        }
        for _ in m..digs.dp as usize {
            out.push('0');
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            let j = digs.dp + i - 1;
            let c = if j >= 0 && j < digs.nd() {
                digs.d[j as usize] as char
            } else {
                '0'
            };
            out.push(c);
        }
    }
    out
}

/// Go's `%b` (decimal mantissa, binary exponent) and `%x` (hex mantissa).
fn format_binary(v: f64, fmt: u8, prec: i32) -> String {
    let bits = v.to_bits();
    let neg = bits >> 63 != 0;
    let mut exp = ((bits >> 52) & 0x7ff) as i32;
    let mut mant = bits & ((1u64 << 52) - 1);
    if exp == 0 {
        exp += 1;
    } else {
        mant |= 1u64 << 52;
    }
    exp -= 1023;
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if fmt == b'b' {
        out.push_str(&mant.to_string());
        out.push('p');
        let e = exp - 52;
        if e >= 0 {
            out.push('+');
        }
        out.push_str(&e.to_string());
        return out;
    }
    if mant == 0 {
        exp = 0;
    }
    mant <<= 60 - 52;
    while mant != 0 && mant & (1 << 60) == 0 {
        mant <<= 1;
        exp -= 1;
    }
    if (0..15).contains(&prec) {
        let shift = (prec * 4) as u32;
        let extra = (mant << shift) & ((1u64 << 60) - 1);
        mant >>= 60 - shift;
        if extra | (mant & 1) > 1 << 59 {
            mant += 1;
        }
        mant <<= 60 - shift;
        if mant & (1 << 61) != 0 {
            mant >>= 1;
            exp += 1;
        }
    }
    let hex: &[u8; 16] = if fmt == b'X' {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    out.push('0');
    out.push(fmt as char);
    out.push((b'0' + ((mant >> 60) & 1) as u8) as char);
    mant <<= 4;
    if prec < 0 && mant != 0 {
        out.push('.');
        while mant != 0 {
            out.push(hex[((mant >> 60) & 15) as usize] as char);
            mant <<= 4;
        }
    } else if prec > 0 {
        out.push('.');
        for _ in 0..prec {
            out.push(hex[((mant >> 60) & 15) as usize] as char);
            mant <<= 4;
        }
    }
    out.push(if fmt == b'X' { 'P' } else { 'p' });
    if exp < 0 {
        out.push('-');
        exp = -exp;
    } else {
        out.push('+');
    }
    if exp < 10 {
        out.push('0');
    }
    out.push_str(&exp.to_string());
    out
}

/// encoding/json's float rendering: shortest digits, `%f` unless the
/// magnitude is below 1e-6 or at least 1e21, and exponents without padding.
pub(crate) fn format_json_float(v: f64) -> String {
    let abs = v.abs();
    let fmt = if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        b'e'
    } else {
        b'f'
    };
    let mut s = format_float(v, fmt, -1);
    if fmt == b'e' {
        // "1e-07" becomes "1e-7".
        let n = s.len();
        let b = s.as_bytes();
        if n >= 4 && b[n - 4] == b'e' && b[n - 3] == b'-' && b[n - 2] == b'0' {
            s.remove(n - 2);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_layouts_match_go() {
        assert_eq!(format_float(1234567.0, b'g', -1), "1.234567e+06");
        assert_eq!(format_float(100000.0, b'g', -1), "100000");
        assert_eq!(format_float(1e-5, b'g', -1), "1e-05");
        assert_eq!(format_float(0.0, b'g', -1), "0");
        assert_eq!(format_float(-0.0, b'g', -1), "-0");
        assert_eq!(format_float(1.0, b'g', 3), "1");
        assert_eq!(format_float(1234.0, b'g', 3), "1.23e+03");
        assert_eq!(format_float(1234.5678, b'e', 6), "1.234568e+03");
        assert_eq!(format_float(0.000123, b'E', 6), "1.230000E-04");
        assert_eq!(format_float(2.5, b'f', 0), "2");
        assert_eq!(format_float(3.0, b'x', -1), "0x1.8p+01");
        assert_eq!(format_json_float(1e-7), "1e-7");
        assert_eq!(format_json_float(1e21), "1e+21");
        assert_eq!(format_json_float(0.000001), "0.000001");
    }

    #[test]
    fn integer_literals() {
        assert_eq!(parse_int("0x10"), Ok(16));
        assert_eq!(parse_int("017"), Ok(15));
        assert_eq!(parse_int("1_000"), Ok(1000));
        assert_eq!(parse_int("0b11"), Ok(3));
        assert_eq!(parse_int("-0"), Ok(0));
        assert_eq!(parse_int("08"), Err(NumError::Syntax));
        assert_eq!(parse_uint("99999999999999999999"), Err(NumError::Range));
        assert_eq!(parse_uint("-1"), Err(NumError::Syntax));
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("a\tb\"\u{1}é", false), "\"a\\tb\\\"\\x01é\"");
        assert_eq!(quote("é", true), "\"\\u00e9\"");
        assert_eq!(unquote("\"a\\x41\\u00e9\\101\"").unwrap(), "aAéA");
        assert!(unquote("\"\\q\"").is_err());
        assert_eq!(unquote("`a\r\nb`").unwrap(), "a\nb");
    }
}
