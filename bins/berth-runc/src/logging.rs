//! Logging as runc does it, because callers parse it.
//!
//! Without `--log`, messages go to stderr as logrus text lines
//! (`time="…" level=error msg="…"`). With `--log FILE`, they are appended to
//! the file in `--log-format` (text or json, `{"level","msg","time"}`; the
//! containerd shim reads the last error line from it), and a fatal error is
//! also printed to stderr as a bare line.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::{Mutex, OnceLock};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Warning,
    Error,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

struct Logger {
    file: Option<Mutex<File>>,
    format: Format,
    debug: bool,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Sets up logging once, from the global flags. An unopenable log file is
/// reported on stderr and logging falls back to stderr.
pub fn init(path: Option<&std::path::Path>, format: Format, debug: bool) {
    let file = path.and_then(
        |p| match OpenOptions::new().create(true).append(true).open(p) {
            Ok(f) => Some(Mutex::new(f)),
            Err(e) => {
                eprintln!("open log file {}: {e}", p.display());
                None
            }
        },
    );
    let _ = LOGGER.set(Logger {
        file,
        format,
        debug,
    });
}

fn line(level: Level, msg: &str, format: Format) -> String {
    let time = jiff::Timestamp::now().to_string();
    match format {
        Format::Json => {
            let mut s =
                serde_json::json!({"level": level.name(), "msg": msg, "time": time}).to_string();
            s.push('\n');
            s
        }
        Format::Text => format!("time={:?} level={} msg={:?}\n", time, level.name(), msg),
    }
}

pub fn log(level: Level, msg: &str) {
    let Some(l) = LOGGER.get() else {
        eprint!("{}", line(level, msg, Format::Text));
        return;
    };
    if level == Level::Debug && !l.debug {
        return;
    }
    match &l.file {
        Some(f) => {
            if let Ok(mut f) = f.lock() {
                let _ = f.write_all(line(level, msg, l.format).as_bytes());
            }
        }
        None => eprint!("{}", line(level, msg, l.format)),
    }
}

/// Logs a fatal error; with a log file, also prints it bare on stderr.
pub fn fatal(msg: &str) {
    log(Level::Error, msg);
    if LOGGER.get().is_some_and(|l| l.file.is_some()) {
        eprintln!("{msg}");
    }
}

pub fn warn(msg: &str) {
    log(Level::Warning, msg);
}
