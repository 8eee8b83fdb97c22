//! The history texts of the classic builder (`docker history`'s CREATED
//! BY column), which use Go's `%q` and `%v` formats.

use std::time::Duration;

/// Go's `strconv.Quote` of a string.
pub fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `%q` of a `[]string`: `["a" "b"]`.
pub fn go_quote_list(v: &[String]) -> String {
    let items: Vec<String> = v.iter().map(|s| go_quote(s)).collect();
    format!("[{}]", items.join(" "))
}

/// `%v` of a `[]string`: `[a b]`.
pub fn go_list(v: &[String]) -> String {
    format!("[{}]", v.join(" "))
}

/// Go's `time.Duration.String()`: `0s`, `1.5s`, `1m30s`, `2h0m0s`,
/// `100ms`.
pub fn go_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    let frac = |v: u128, unit: u128, suffix: &str| {
        let whole = v / unit;
        let rest = v % unit;
        if rest == 0 {
            return format!("{whole}{suffix}");
        }
        let digits = unit.to_string().len() - 1;
        let s = format!("{rest:0digits$}");
        format!("{whole}.{}{suffix}", s.trim_end_matches('0'))
    };
    if ns < 1_000_000 {
        return frac(ns, 1_000, "µs");
    }
    if ns < 1_000_000_000 {
        return frac(ns, 1_000_000, "ms");
    }
    let secs = ns / 1_000_000_000;
    let sub = ns % 1_000_000_000;
    let s_part = frac((secs % 60) * 1_000_000_000 + sub, 1_000_000_000, "s");
    let mins = secs / 60;
    if mins == 0 {
        return s_part;
    }
    let h = mins / 60;
    let m = mins % 60;
    if h == 0 {
        format!("{m}m{s_part}")
    } else {
        format!("{h}h{m}m{s_part}")
    }
}

/// `%q` of an `int`: a Go rune literal (`'\x03'`, `'a'`).
pub fn go_quote_rune(n: i64) -> String {
    match u32::try_from(n).ok().and_then(char::from_u32) {
        Some(c) if !c.is_control() && c != '\'' && c != '\\' => format!("'{c}'"),
        Some('\'') => "'\\''".into(),
        Some('\\') => "'\\\\'".into(),
        Some('\n') => "'\\n'".into(),
        Some('\t') => "'\\t'".into(),
        Some(c) if (c as u32) < 0x100 => format!("'\\x{:02x}'", c as u32),
        Some(c) => format!("'\\u{:04x}'", c as u32),
        None => format!("%!q(int={n})"),
    }
}

/// The classic builder's text of a config-only step:
/// `/bin/sh -c #(nop)  CMD ["sh"]` (the shell, then `#(nop) ` and the
/// comment as separate words).
pub fn nop(shell: &[String], comment: &str) -> String {
    let mut v = shell.to_vec();
    v.push("#(nop) ".into());
    v.push(comment.into());
    v.join(" ")
}

/// The text of a step whose comment is one word with `#(nop) ` (WORKDIR,
/// COPY, ADD): `/bin/sh -c #(nop) WORKDIR /app`.
pub fn nop_one(shell: &[String], comment: &str) -> String {
    let mut v = shell.to_vec();
    v.push(format!("#(nop) {comment}"));
    v.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn formats_match_dockerd() {
        let sh = s(&["/bin/sh", "-c"]);
        assert_eq!(
            nop(
                &sh,
                &format!("CMD {}", go_quote_list(&s(&["-c", "echo hi"])))
            ),
            r#"/bin/sh -c #(nop)  CMD ["-c" "echo hi"]"#
        );
        assert_eq!(
            nop(&sh, &format!("SHELL {}", go_list(&sh))),
            "/bin/sh -c #(nop)  SHELL [/bin/sh -c]"
        );
        assert_eq!(
            nop_one(&sh, "WORKDIR /app"),
            "/bin/sh -c #(nop) WORKDIR /app"
        );
        assert_eq!(go_quote("a\"b\n"), r#""a\"b\n""#);
    }

    #[test]
    fn durations_and_runes() {
        assert_eq!(go_duration(Duration::ZERO), "0s");
        assert_eq!(go_duration(Duration::from_secs(5)), "5s");
        assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_duration(Duration::from_secs(7200)), "2h0m0s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_millis(100)), "100ms");
        assert_eq!(go_quote_rune(0), r"'\x00'");
        assert_eq!(go_quote_rune(3), r"'\x03'");
        assert_eq!(go_quote_rune(65), "'A'");
    }
}
