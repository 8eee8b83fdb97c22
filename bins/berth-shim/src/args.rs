//! The shim's command line.
//!
//! ```text
//! berth-shim --id ID --bundle DIR --state-dir DIR --runtime PATH [--runtime-arg ARG]...
//!     --runtime-root DIR [--log-path FILE --log-max-size BYTES --log-max-file N]
//!     [--terminal] [--stdin] [--stdin-once]
//! ```
//!
//! Only the daemon runs this binary, with the flags `ShimSpawn::args` of
//! berth-shim-proto builds, so the parser is small: `--flag value` or
//! `--flag=value`, every value flag at most once except `--runtime-arg`.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

/// The json-file log settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogOpts {
    pub path: PathBuf,
    /// 0: never rotate.
    pub max_size: u64,
    /// Files kept, the current one included; at least 1.
    pub max_file: u32,
}

/// A parsed, validated command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub id: String,
    pub bundle: PathBuf,
    pub state_dir: PathBuf,
    pub runtime: PathBuf,
    pub runtime_args: Vec<OsString>,
    pub runtime_root: PathBuf,
    pub log: Option<LogOpts>,
    pub terminal: bool,
    pub stdin: bool,
    pub stdin_once: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArgsError {
    #[error("unknown argument {0:?}")]
    Unknown(String),
    #[error("flag {0} needs a value")]
    MissingValue(&'static str),
    #[error("flag {0} takes no value")]
    UnexpectedValue(&'static str),
    #[error("flag {0} given twice")]
    Repeated(&'static str),
    #[error("missing required flag {0}")]
    Required(&'static str),
    #[error("invalid {flag} {value:?}: {reason}")]
    Invalid {
        flag: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("{0} needs --log-path")]
    NeedsLogPath(&'static str),
}

const VALUE_FLAGS: &[&str] = &[
    "--id",
    "--bundle",
    "--state-dir",
    "--runtime",
    "--runtime-arg",
    "--runtime-root",
    "--log-path",
    "--log-max-size",
    "--log-max-file",
];
const BOOL_FLAGS: &[&str] = &["--terminal", "--stdin", "--stdin-once"];

#[derive(Default)]
struct Raw {
    id: Option<OsString>,
    bundle: Option<OsString>,
    state_dir: Option<OsString>,
    runtime: Option<OsString>,
    runtime_args: Vec<OsString>,
    runtime_root: Option<OsString>,
    log_path: Option<OsString>,
    log_max_size: Option<OsString>,
    log_max_file: Option<OsString>,
    terminal: bool,
    stdin: bool,
    stdin_once: bool,
}

/// Parses the arguments after the program name.
pub fn parse(args: &[OsString]) -> Result<Config, ArgsError> {
    let mut raw = Raw::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let bytes = arg.as_encoded_bytes();
        let (name, inline) = match bytes.iter().position(|&b| b == b'=') {
            Some(eq) => (&bytes[..eq], Some(&bytes[eq + 1..])),
            None => (bytes, None),
        };
        let unknown = || ArgsError::Unknown(arg.to_string_lossy().into_owned());
        if let Some(flag) = BOOL_FLAGS.iter().find(|f| f.as_bytes() == name) {
            if inline.is_some() {
                return Err(ArgsError::UnexpectedValue(flag));
            }
            match *flag {
                "--terminal" => raw.terminal = true,
                "--stdin" => raw.stdin = true,
                _ => raw.stdin_once = true,
            }
            continue;
        }
        let flag = *VALUE_FLAGS
            .iter()
            .find(|f| f.as_bytes() == name)
            .ok_or_else(unknown)?;
        let value = match inline {
            // SAFETY: `inline` is a suffix of `arg`'s encoded bytes that
            // starts right after an ASCII '=', so it is a valid encoding
            // (OsStr::from_encoded_bytes_unchecked's contract).
            Some(v) => unsafe { OsStr::from_encoded_bytes_unchecked(v) }.to_owned(),
            None => it.next().ok_or(ArgsError::MissingValue(flag))?.clone(),
        };
        let slot = match flag {
            "--runtime-arg" => {
                raw.runtime_args.push(value);
                continue;
            }
            "--id" => &mut raw.id,
            "--bundle" => &mut raw.bundle,
            "--state-dir" => &mut raw.state_dir,
            "--runtime" => &mut raw.runtime,
            "--runtime-root" => &mut raw.runtime_root,
            "--log-path" => &mut raw.log_path,
            "--log-max-size" => &mut raw.log_max_size,
            _ => &mut raw.log_max_file,
        };
        if slot.replace(value).is_some() {
            return Err(ArgsError::Repeated(flag));
        }
    }
    validate(raw)
}

fn validate(raw: Raw) -> Result<Config, ArgsError> {
    let id = raw
        .id
        .ok_or(ArgsError::Required("--id"))?
        .into_string()
        .map_err(|v| invalid("--id", &v, "not UTF-8"))?;
    // runc's rule for container ids: ^[\w+-\.]+$, and no "." or "..".
    let id_ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-' | b'.'));
    if !id_ok {
        return Err(invalid(
            "--id",
            OsStr::new(&id),
            "must match [A-Za-z0-9_+.-]+",
        ));
    }
    let absolute = |flag: &'static str, v: Option<OsString>| -> Result<PathBuf, ArgsError> {
        let v = v.ok_or(ArgsError::Required(flag))?;
        let p = PathBuf::from(&v);
        if !p.is_absolute() {
            return Err(invalid(flag, &v, "must be an absolute path"));
        }
        Ok(p)
    };
    let bundle = absolute("--bundle", raw.bundle)?;
    let state_dir = absolute("--state-dir", raw.state_dir)?;
    let runtime_root = absolute("--runtime-root", raw.runtime_root)?;
    let runtime = raw.runtime.ok_or(ArgsError::Required("--runtime"))?;
    if runtime.is_empty() {
        return Err(invalid("--runtime", &runtime, "must not be empty"));
    }
    let log = match raw.log_path {
        None => {
            if raw.log_max_size.is_some() {
                return Err(ArgsError::NeedsLogPath("--log-max-size"));
            }
            if raw.log_max_file.is_some() {
                return Err(ArgsError::NeedsLogPath("--log-max-file"));
            }
            None
        }
        Some(path) => {
            let path = absolute("--log-path", Some(path))?;
            let max_size = match raw.log_max_size {
                None => 0,
                Some(v) => {
                    number(&v).ok_or_else(|| invalid("--log-max-size", &v, "not a byte count"))?
                }
            };
            let max_file = match raw.log_max_file {
                None => 1,
                Some(v) => number(&v)
                    .and_then(|n| u32::try_from(n).ok())
                    .filter(|&n| n >= 1)
                    .ok_or_else(|| invalid("--log-max-file", &v, "not a count of at least 1"))?,
            };
            Some(LogOpts {
                path,
                max_size,
                max_file,
            })
        }
    };
    if raw.stdin_once && !raw.stdin {
        return Err(invalid("--stdin-once", OsStr::new(""), "needs --stdin"));
    }
    Ok(Config {
        id,
        bundle,
        state_dir,
        runtime: PathBuf::from(runtime),
        runtime_args: raw.runtime_args,
        runtime_root,
        log,
        terminal: raw.terminal,
        stdin: raw.stdin,
        stdin_once: raw.stdin_once,
    })
}

fn number(v: &OsStr) -> Option<u64> {
    let s = v.to_str()?;
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn invalid(flag: &'static str, value: &OsStr, reason: &'static str) -> ArgsError {
    ArgsError::Invalid {
        flag,
        value: value.to_string_lossy().into_owned(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<OsString> {
        s.split_whitespace().map(OsString::from).collect()
    }

    const BASE: &str = "--id c1 --bundle /b --state-dir /s --runtime runc --runtime-root /r";

    #[test]
    fn full_command_line() {
        let c = parse(&args(&format!(
            "{BASE} --runtime-arg --debug --runtime-arg=--systemd-cgroup \
             --log-path=/l/x.log --log-max-size 1000 --log-max-file 3 --terminal --stdin --stdin-once"
        )))
        .unwrap();
        assert_eq!(c.id, "c1");
        assert_eq!(c.bundle, PathBuf::from("/b"));
        assert_eq!(c.runtime, PathBuf::from("runc"));
        assert_eq!(c.runtime_args, args("--debug --systemd-cgroup"));
        assert_eq!(
            c.log,
            Some(LogOpts {
                path: "/l/x.log".into(),
                max_size: 1000,
                max_file: 3
            })
        );
        assert!(c.terminal && c.stdin && c.stdin_once);
    }

    #[test]
    fn defaults_without_log_flags() {
        let c = parse(&args(BASE)).unwrap();
        assert_eq!(c.log, None);
        assert!(!c.terminal && !c.stdin && !c.stdin_once);
        let c = parse(&args(&format!("{BASE} --log-path /l"))).unwrap();
        assert_eq!(c.log.unwrap().max_file, 1);
    }

    #[test]
    fn bad_command_lines() {
        let cases = [
            ("--bundle /b", ArgsError::Required("--id")),
            (
                &format!("{BASE} --bogus") as &str,
                ArgsError::Unknown("--bogus".into()),
            ),
            (&format!("{BASE} --id c2"), ArgsError::Repeated("--id")),
            (
                &format!("{BASE} --state-dir"),
                ArgsError::MissingValue("--state-dir"),
            ),
            (
                &format!("{BASE} --terminal=1"),
                ArgsError::UnexpectedValue("--terminal"),
            ),
            (
                &format!("{BASE} --log-max-size 5"),
                ArgsError::NeedsLogPath("--log-max-size"),
            ),
        ];
        for (line, want) in cases {
            assert_eq!(parse(&args(line)).unwrap_err(), want, "{line}");
        }
        for line in [
            "--id a/b --bundle /b --state-dir /s --runtime runc --runtime-root /r",
            "--id .. --bundle /b --state-dir /s --runtime runc --runtime-root /r",
            "--id c --bundle b --state-dir /s --runtime runc --runtime-root /r",
            &format!("{BASE} --log-path /l --log-max-size 10m"),
            &format!("{BASE} --log-path /l --log-max-file 0"),
            &format!("{BASE} --stdin-once"),
        ] {
            assert!(
                matches!(parse(&args(line)), Err(ArgsError::Invalid { .. })),
                "{line}"
            );
        }
    }
}
