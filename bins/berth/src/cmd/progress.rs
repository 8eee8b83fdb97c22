//! The JSON-message streams of pull, push, build, load and import, shown as the
//! docker CLI shows them (its `jsonmessage.DisplayJSONMessagesStream`).
//!
//! On a terminal every message with an ID and progress owns a line: the first one
//! for an ID adds a line at the bottom, later ones move the cursor up to it, erase
//! it, rewrite it (`status [=====>    ] 1.2MB/3.4MB 5s`) and move back down. A
//! message without progress starts a new block (the IDs above are forgotten, as
//! docker forgets them). Off a terminal progress updates are not printed at all:
//! only status lines (`id: Pull complete`), so the output is a plain log.
//!
//! An `aux` message is handed to the caller and not printed; an `errorDetail` ends
//! the stream with its message.

use std::collections::HashMap;
use std::io::Write;
use std::os::fd::AsFd;

use berth_client::types::jsonmessage::{JsonMessage, ProgressDetail};

use crate::fmt::units::human_size;

/// Where the messages go and how.
pub struct Renderer<W: Write> {
    out: W,
    tty: bool,
    /// Terminal width; the bar shows when it is over 110 columns.
    width: u16,
    /// The line of each ID in the current block, counted from its top.
    ids: HashMap<String, usize>,
    /// Unix time in nanoseconds, for the time left (fixed in tests).
    now: fn() -> i128,
}

/// The error a stream ended with (docker's `JSONError`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamError {
    pub code: i64,
    pub message: String,
}

fn now_nanos() -> i128 {
    jiff::Timestamp::now().as_nanosecond()
}

/// The width of the terminal on `fd`, 200 when it cannot be read (docker's default;
/// a terminal that reports 0 columns is taken at its word, as docker does).
pub fn width_of(fd: impl AsFd) -> u16 {
    rustix::termios::tcgetwinsize(fd)
        .map(|w| w.ws_col)
        .unwrap_or(200)
}

impl<W: Write> Renderer<W> {
    /// A renderer writing to `out`; `tty` with the terminal's `width`.
    pub fn new(out: W, tty: bool, width: u16) -> Renderer<W> {
        Renderer {
            out,
            tty,
            width,
            ids: HashMap::new(),
            now: now_nanos,
        }
    }

    /// Shows one message. An `errorDetail` is returned as the error (nothing is
    /// printed for it); `aux` goes to `aux`.
    pub fn show(
        &mut self,
        m: &JsonMessage,
        aux: &mut dyn FnMut(&serde_json::Value),
    ) -> Result<(), StreamError> {
        if let Some(a) = &m.aux {
            aux(a);
            return Ok(());
        }
        let mut buf = Vec::new();
        let mut diff = 0;
        if !m.id.is_empty() && (m.progress_detail.is_some() || !m.progress.is_empty()) {
            let line = match self.ids.get(&m.id) {
                Some(l) => *l,
                None => {
                    let l = self.ids.len();
                    self.ids.insert(m.id.clone(), l);
                    if self.tty {
                        buf.push(b'\n');
                    }
                    l
                }
            };
            diff = self.ids.len() - line;
            if self.tty && diff > 0 {
                buf.extend_from_slice(format!("\x1b[{diff}A").as_bytes());
            }
        } else {
            self.ids.clear();
        }
        let result = self.display(m, &mut buf);
        if !m.id.is_empty() && self.tty && diff > 0 {
            buf.extend_from_slice(format!("\x1b[{diff}B").as_bytes());
        }
        let _ = self.out.write_all(&buf);
        let _ = self.out.flush();
        result
    }

    /// docker's `JSONMessage.Display`.
    fn display(&self, m: &JsonMessage, out: &mut Vec<u8>) -> Result<(), StreamError> {
        if let Some(e) = &m.error_detail {
            return Err(StreamError {
                code: e.code,
                message: e.message.clone(),
            });
        }
        let mut endl = "";
        let bar = m.progress_detail.as_ref().map(|p| self.progress(p));
        if self.tty && m.stream.is_empty() && m.progress_detail.is_some() {
            out.extend_from_slice(b"\x1b[2K\r");
            endl = "\r";
        } else if bar.as_deref().is_some_and(|b| !b.is_empty()) {
            // No progress bars off a terminal.
            return Ok(());
        }
        let mut s = String::new();
        if m.time_nano != 0 {
            s.push_str(&format!("{} ", rfc3339_nano_fixed(i128::from(m.time_nano))));
        } else if m.time != 0 {
            s.push_str(&format!(
                "{} ",
                rfc3339_nano_fixed(i128::from(m.time) * 1_000_000_000)
            ));
        }
        if !m.id.is_empty() {
            s.push_str(&format!("{}: ", m.id));
        }
        if !m.from.is_empty() {
            s.push_str(&format!("(from {}) ", m.from));
        }
        match bar {
            Some(bar) if self.tty => s.push_str(&format!("{} {bar}{endl}", m.status)),
            _ if !m.progress.is_empty() => {
                s.push_str(&format!("{} {}{endl}", m.status, m.progress))
            }
            _ if !m.stream.is_empty() => s.push_str(&format!("{}{endl}", m.stream)),
            _ => s.push_str(&format!("{}{endl}\n", m.status)),
        }
        out.extend_from_slice(s.as_bytes());
        Ok(())
    }

    /// docker's `JSONProgress.String`: `[====>    ] 1.2MB/3.4MB 5s`.
    pub fn progress(&self, p: &ProgressDetail) -> String {
        progress_text(p, self.width, (self.now)())
    }
}

/// The progress text of `p` on a terminal `width` wide at `now` (Unix nanoseconds).
pub fn progress_text(p: &ProgressDetail, width: u16, now: i128) -> String {
    if p.current <= 0 && p.total <= 0 {
        return String::new();
    }
    if p.total <= 0 {
        return if p.units.is_empty() {
            format!("{:>8}", human_size(p.current as f64))
        } else {
            format!("{} {}", p.current, p.units)
        };
    }
    let percentage = ((p.current as f64 / p.total as f64 * 100.0) as i64 / 2).min(50);
    let mut bar = String::new();
    if width > 110 {
        let pct = usize::try_from(percentage.max(0)).unwrap_or(0);
        bar = format!("[{}>{}] ", "=".repeat(pct), " ".repeat(50 - pct.min(50)));
    }
    let numbers = if p.hide_counts {
        String::new()
    } else if p.units.is_empty() {
        let current = human_size(p.current as f64);
        if p.current > p.total {
            format!("{current:>8}")
        } else {
            format!("{current:>8}/{}", human_size(p.total as f64))
        }
    } else if p.current > p.total {
        format!("{} {}", p.current, p.units)
    } else {
        format!("{}/{} {}", p.current, p.total, p.units)
    };
    let mut left = String::new();
    if width > 50 && p.current > 0 && p.start > 0 && percentage < 50 {
        // Go's integer Duration arithmetic: nanoseconds per unit, times the units
        // to go, rounded to the second.
        let from_start = now - i128::from(p.start) * 1_000_000_000;
        let per_entry = from_start / i128::from(p.current);
        let ns = i128::from(p.total - p.current) * per_entry;
        left = format!(" {}", go_seconds(ns));
    }
    format!("{bar}{numbers}{left}")
}

/// Go's `Duration.Round(time.Second).String()` for `ns` nanoseconds.
fn go_seconds(ns: i128) -> String {
    // Round halves away from zero, as Duration.Round does.
    let secs = (ns.abs() + 500_000_000) / 1_000_000_000;
    if secs == 0 {
        return "0s".to_string();
    }
    let sign = if ns < 0 { "-" } else { "" };
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{sign}{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{sign}{m}m{s}s")
    } else {
        format!("{sign}{s}s")
    }
}

/// Go's `2006-01-02T15:04:05.000000000Z07:00` in local time.
fn rfc3339_nano_fixed(ns: i128) -> String {
    let Ok(ts) = jiff::Timestamp::from_nanosecond(ns) else {
        return String::new();
    };
    let z = ts.to_zoned_datetime(jiff::tz::TimeZone::system());
    let frac = format!(".{:09}", ns.rem_euclid(1_000_000_000));
    if z.offset().seconds() == 0 {
        format!("{}{frac}Z", z.strftime("%Y-%m-%dT%H:%M:%S"))
    } else {
        format!(
            "{}{frac}{}",
            z.strftime("%Y-%m-%dT%H:%M:%S"),
            z.strftime("%:z")
        )
    }
}

/// Reads the stream of `resp` and shows every message on `out` (a terminal when
/// `tty`), handing `aux` messages to `aux`. Ends with the stream's error, if any.
pub async fn display<W: Write>(
    resp: http::Response<hyper::body::Incoming>,
    path: &str,
    r: &mut Renderer<W>,
    aux: &mut dyn FnMut(&serde_json::Value),
) -> Result<(), crate::error::CliError> {
    let mut s = berth_client::stream::JsonStream::<JsonMessage>::new(resp, path);
    while let Some(m) = s.next().await? {
        r.show(&m, aux)
            .map_err(|e| crate::error::CliError::new(e.message))?;
    }
    Ok(())
}

/// Like [`display`], but a stream's own error (with its code) is returned apart
/// from a failure to read the stream: `Ok(Err(e))` ended the stream with `e`.
pub async fn display_raw<W: Write>(
    resp: http::Response<hyper::body::Incoming>,
    path: &str,
    r: &mut Renderer<W>,
    aux: &mut dyn FnMut(&serde_json::Value),
) -> Result<Result<(), StreamError>, crate::error::CliError> {
    let mut s = berth_client::stream::JsonStream::<JsonMessage>::new(resp, path);
    while let Some(m) = s.next().await? {
        if let Err(e) = r.show(&m, aux) {
            return Ok(Err(e));
        }
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(json: &str) -> JsonMessage {
        serde_json::from_str(json).unwrap()
    }

    fn render(tty: bool, msgs: &[&str]) -> String {
        let mut out = Vec::new();
        {
            let mut r = Renderer::new(&mut out, tty, 200);
            r.now = || 100 * 1_000_000_000;
            for m in msgs {
                let _ = r.show(&msg(m), &mut |_| {});
            }
        }
        String::from_utf8(out).unwrap()
    }

    const PULL: &[&str] = &[
        r#"{"status":"Pulling from t/busybox","id":"1"}"#,
        r#"{"status":"Pulling fs layer","progressDetail":{},"id":"aaa"}"#,
        r#"{"status":"Pulling fs layer","progressDetail":{},"id":"bbb"}"#,
        r#"{"status":"Downloading","progressDetail":{"current":500000,"total":1000000,"start":90},"progress":"[=>] x","id":"aaa"}"#,
        r#"{"status":"Pull complete","progressDetail":{},"id":"aaa"}"#,
        r#"{"status":"Digest: sha256:00"}"#,
    ];

    #[test]
    fn plain_output_drops_progress_updates() {
        assert_eq!(
            render(false, PULL),
            "1: Pulling from t/busybox\naaa: Pulling fs layer\nbbb: Pulling fs layer\n\
             aaa: Pull complete\nDigest: sha256:00\n"
        );
    }

    #[test]
    fn terminal_output_rewrites_each_layers_line() {
        let bar = format!("[{}>{}] ", "=".repeat(25), " ".repeat(25));
        let want = format!(
            "1: Pulling from t/busybox\n\
             \n\x1b[1A\x1b[2K\raaa: Pulling fs layer \r\x1b[1B\
             \n\x1b[1A\x1b[2K\rbbb: Pulling fs layer \r\x1b[1B\
             \x1b[2A\x1b[2K\raaa: Downloading {bar}   500kB/1MB 10s\r\x1b[2B\
             \x1b[2A\x1b[2K\raaa: Pull complete \r\x1b[2B\
             Digest: sha256:00\n"
        );
        assert_eq!(render(true, PULL), want);
    }

    #[test]
    fn progress_text_follows_docker() {
        let p = |current, total, start| ProgressDetail {
            current,
            total,
            start,
            ..ProgressDetail::default()
        };
        assert_eq!(progress_text(&p(0, 0, 0), 200, 0), "");
        assert_eq!(progress_text(&p(2048, 0, 0), 200, 0), " 2.048kB");
        assert_eq!(progress_text(&p(10, 5, 0), 80, 0), "     10B");
        assert_eq!(progress_text(&p(1, 4, 0), 80, 0), "      1B/4B");
        let units = ProgressDetail {
            current: 3,
            total: 9,
            units: "files".into(),
            ..ProgressDetail::default()
        };
        assert_eq!(progress_text(&units, 80, 0), "3/9 files");
        // Half done after 30 s: 30 s to go; 61 s shows as 1m1s.
        let t = 1000 * 1_000_000_000;
        assert_eq!(progress_text(&p(50, 100, 970), 80, t), "     50B/100B 30s");
        assert_eq!(go_seconds(61_400_000_000), "1m1s");
        assert_eq!(go_seconds(3_600_000_000_000), "1h0m0s");
    }

    #[test]
    fn errors_and_aux_are_not_printed() {
        let mut out = Vec::new();
        let mut seen = Vec::new();
        let mut r = Renderer::new(&mut out, false, 200);
        r.show(&msg(r#"{"aux":{"ID":"sha256:1"}}"#), &mut |a| {
            seen.push(a.clone())
        })
        .unwrap();
        let e = r
            .show(
                &msg(r#"{"errorDetail":{"code":2,"message":"boom"},"error":"boom"}"#),
                &mut |_| {},
            )
            .unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (2, "boom"));
        assert_eq!(seen.len(), 1);
        assert!(out.is_empty());
    }

    #[test]
    fn build_stream_lines_pass_through() {
        assert_eq!(
            render(false, &[r#"{"stream":"Step 1/2 : FROM busybox\n"}"#]),
            "Step 1/2 : FROM busybox\n"
        );
    }
}
