//! The JSON message stream of pull, push, build, load and import: a sequence of
//! [`JsonMessage`] objects, each followed by `\r\n` as dockerd writes them. The HTTP status
//! is 200 from the start, so failures travel in-band as a final error message.

use serde::{Deserialize, Serialize};

use crate::de::{is_empty_str, is_zero_i64};

/// What dockerd ends each message with.
pub const LINE_END: &str = "\r\n";

/// One message of the stream (Go `jsonmessage.JSONMessage`; every field is omitempty).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JsonMessage {
    /// Raw text (build output; `Loaded image: busybox:latest\n` from load).
    #[serde(skip_serializing_if = "is_empty_str")]
    pub stream: String,
    /// A status line (`Pulling fs layer`; the new image ID from import).
    #[serde(skip_serializing_if = "is_empty_str")]
    pub status: String,
    #[serde(rename = "progressDetail", skip_serializing_if = "Option::is_none")]
    pub progress_detail: Option<ProgressDetail>,
    /// The rendered progress bar (`[==>   ]  1.2MB/3.4MB`).
    #[serde(rename = "progress", skip_serializing_if = "is_empty_str")]
    pub progress: String,
    /// What the line is about (a layer's short ID); the CLI keeps one line per ID.
    #[serde(skip_serializing_if = "is_empty_str")]
    pub id: String,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub from: String,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub time: i64,
    #[serde(rename = "timeNano", skip_serializing_if = "is_zero_i64")]
    pub time_nano: i64,
    #[serde(rename = "errorDetail", skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<ErrorDetail>,
    /// The error's message again (older clients read this one).
    #[serde(rename = "error", skip_serializing_if = "is_empty_str")]
    pub error: String,
    /// Out-of-band data (`{"ID":"sha256:..."}` after a build, `{Tag,Digest,Size}` after a push).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aux: Option<serde_json::Value>,
}

/// Progress counters of a [`JsonMessage`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProgressDetail {
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub current: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub total: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub start: i64,
    #[serde(rename = "hidecounts", skip_serializing_if = "crate::de::is_false")]
    pub hide_counts: bool,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub units: String,
}

/// The error of a failed operation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorDetail {
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub code: i64,
    #[serde(skip_serializing_if = "is_empty_str")]
    pub message: String,
}

impl JsonMessage {
    /// A status line, optionally about an object `id` (empty for none).
    pub fn status(id: impl Into<String>, status: impl Into<String>) -> JsonMessage {
        JsonMessage {
            id: id.into(),
            status: status.into(),
            ..Default::default()
        }
    }

    /// A progress update of `id`: `action` (`Downloading`, `Extracting`) with
    /// `current` of `total` bytes (`total` <= 0 when unknown). Renders the bar as
    /// dockerd does.
    pub fn progress(
        id: impl Into<String>,
        action: impl Into<String>,
        current: i64,
        total: i64,
    ) -> JsonMessage {
        let detail = ProgressDetail {
            current,
            total,
            ..Default::default()
        };
        JsonMessage {
            id: id.into(),
            status: action.into(),
            progress: render_progress(&detail),
            progress_detail: Some(detail),
            ..Default::default()
        }
    }

    /// Raw text for the client to print as is (build steps, `Loaded image: ...` of
    /// load); include the newline.
    pub fn stream(text: impl Into<String>) -> JsonMessage {
        JsonMessage {
            stream: text.into(),
            ..Default::default()
        }
    }

    /// Out-of-band data.
    pub fn aux(value: serde_json::Value) -> JsonMessage {
        JsonMessage {
            aux: Some(value),
            ..Default::default()
        }
    }

    /// An error ending the stream: sets both `errorDetail` and `error`, as dockerd does.
    pub fn error(message: impl Into<String>) -> JsonMessage {
        let message = message.into();
        JsonMessage {
            error_detail: Some(ErrorDetail {
                code: 0,
                message: message.clone(),
            }),
            error: message,
            ..Default::default()
        }
    }

    /// The message as one line of the stream: compact JSON followed by [`LINE_END`].
    pub fn to_line(&self) -> String {
        // A struct of strings, integers and a JSON value always serializes.
        let mut s = serde_json::to_string(self).unwrap_or_default();
        s.push_str(LINE_END);
        s
    }
}

/// Renders a progress bar as dockerd does for a stream that is not a terminal (width 200):
/// `[====>    ]  1.2MB/3.4MB`, or only the count when the total is unknown.
pub fn render_progress(p: &ProgressDetail) -> String {
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
    // Go truncates the float percentage to an int, then halves it (50 bar columns).
    let half = ((p.current as f64 / p.total as f64 * 100.0) as i64 / 2).min(50);
    let bar = format!(
        "[{}>{}] ",
        "=".repeat(half.max(0) as usize),
        " ".repeat((50 - half).max(0) as usize)
    );
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
    bar + &numbers
}

/// A size in decimal units with 4 significant digits (`4.261MB`, `512B`), like the
/// `HumanSize` dockerd and the CLI use.
pub fn human_size(size: f64) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut size = size;
    let mut i = 0;
    while size >= 1000.0 && i < UNITS.len() - 1 {
        size /= 1000.0;
        i += 1;
    }
    format!("{}{}", format_g4(size), UNITS[i])
}

/// Go's `%.4g` for values in [0, 1000): 4 significant digits, trailing zeros removed.
fn format_g4(v: f64) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    // The exponent after rounding to 4 significant digits decides the decimals.
    let sci = format!("{v:.3e}");
    let exp: i32 = sci
        .split_once('e')
        .and_then(|(_, e)| e.parse().ok())
        .unwrap_or(0);
    if !(-4..4).contains(&exp) {
        let (mantissa, _) = sci.split_once('e').unwrap_or((&sci, ""));
        let mantissa = trim_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    let decimals = (3 - exp) as usize;
    trim_zeros(&format!("{v:.decimals$}")).to_string()
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn constructors_write_dockerd_lines() {
        assert_eq!(
            JsonMessage::stream("Loaded image: busybox:latest\n").to_line(),
            // As dockerd 20.10.24 answers POST /images/load?quiet=0.
            "{\"stream\":\"Loaded image: busybox:latest\\n\"}\r\n"
        );
        assert_eq!(
            JsonMessage::status("a1b2c3", "Pull complete").to_line(),
            "{\"status\":\"Pull complete\",\"id\":\"a1b2c3\"}\r\n"
        );
        assert_eq!(
            JsonMessage::stream("Step 1/3 : FROM busybox\n").to_line(),
            "{\"stream\":\"Step 1/3 : FROM busybox\\n\"}\r\n"
        );
        assert_eq!(
            JsonMessage::aux(json!({"ID": "sha256:ab"})).to_line(),
            "{\"aux\":{\"ID\":\"sha256:ab\"}}\r\n"
        );
        assert_eq!(
            JsonMessage::error("no space left on device").to_line(),
            "{\"errorDetail\":{\"message\":\"no space left on device\"},\"error\":\"no space left on device\"}\r\n"
        );
        let p = JsonMessage::progress("a1b2c3", "Downloading", 1_000_000, 2_000_000);
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(
            v,
            json!({"status": "Downloading", "progressDetail": {"current": 1000000, "total": 2000000},
                   "progress": format!("[{}>{}]      1MB/2MB", "=".repeat(25), " ".repeat(25)),
                   "id": "a1b2c3"})
        );
    }

    #[test]
    fn progress_renders_like_go() {
        let d = |current, total| ProgressDetail {
            current,
            total,
            ..Default::default()
        };
        assert_eq!(render_progress(&d(0, 0)), "");
        assert_eq!(render_progress(&d(1536, 0)), " 1.536kB");
        assert_eq!(
            render_progress(&d(3, 4)),
            format!("[{}>{}]       3B/4B", "=".repeat(37), " ".repeat(13))
        );
        // A current beyond the total shows only the current count and a full bar.
        assert_eq!(
            render_progress(&d(5, 4)),
            format!("[{}>]       5B", "=".repeat(50))
        );
        let units = ProgressDetail {
            current: 2,
            total: 10,
            units: "files".into(),
            ..d(0, 0)
        };
        assert_eq!(
            render_progress(&units),
            format!("[{}>{}] 2/10 files", "=".repeat(10), " ".repeat(40))
        );
    }

    #[test]
    fn human_size_matches_go_units() {
        assert_eq!(human_size(0.0), "0B");
        assert_eq!(human_size(512.0), "512B");
        assert_eq!(human_size(1000.0), "1kB");
        assert_eq!(human_size(4_261_550.0), "4.262MB");
        assert_eq!(human_size(1_234_567_890.0), "1.235GB");
        assert_eq!(human_size(999_950.0), "1000kB");
        assert_eq!(human_size(12_300.0), "12.3kB");
        assert_eq!(human_size(0.5), "0.5B");
    }

    #[test]
    fn messages_read_back() {
        let m = JsonMessage::error("boom");
        let back: JsonMessage = serde_json::from_str(m.to_line().trim_end()).unwrap();
        assert_eq!(back, m);
        let cli: JsonMessage = serde_json::from_str(
            r#"{"status":"Extracting","progressDetail":{"current":32768,"total":2221242},"progress":"[>   ]","id":"9ad63333ebc9"}"#,
        )
        .unwrap();
        assert_eq!(cli.progress_detail.unwrap().total, 2_221_242);
    }
}
