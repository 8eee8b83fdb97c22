//! Values of settings in docker's syntaxes: log driver options, sizes,
//! ulimits.

use std::collections::BTreeMap;

use berth_engine::LogDriver;

use super::ConfigError;

/// The log driver with its options, validated as docker's drivers do.
pub(super) fn log_driver(
    name: Option<&str>,
    opts: &BTreeMap<String, String>,
) -> Result<LogDriver, ConfigError> {
    let name = name.unwrap_or("json-file");
    let allowed: &[&str] = match name {
        "json-file" => &["max-size", "max-file"],
        "local" | "none" => &[],
        other => return Err(ConfigError::LogDriver(other.to_string())),
    };
    if let Some(key) = opts.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ConfigError::LogOpt {
            driver: name.to_string(),
            key: key.clone(),
        });
    }
    Ok(match name {
        "json-file" => {
            let max_size = opts
                .get("max-size")
                .map(|s| parse_size(s).ok_or_else(|| ConfigError::MaxSize(s.clone())))
                .transpose()?;
            let max_file = match opts.get("max-file") {
                Some(s) => s
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| ConfigError::MaxFile(s.clone()))?,
                None => 1,
            };
            if max_file > 1 && max_size.is_none() {
                return Err(ConfigError::MaxFileWithoutMaxSize);
            }
            LogDriver::JsonFile { max_size, max_file }
        }
        "local" => LogDriver::Local,
        _ => LogDriver::None,
    })
}

/// docker's units.RAMInBytes: a number with an optional binary suffix
/// (b, k, kb, kib, m, g, t, p; case-insensitive). Zero or less is refused.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let num: f64 = num.parse().ok()?;
    let unit = unit.trim().to_ascii_lowercase();
    let unit = unit.trim_end_matches("ib").trim_end_matches('b');
    let mult: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        "p" => 1 << 50,
        _ => return None,
    };
    let bytes = num * mult as f64;
    (bytes >= 1.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// `NAME=SOFT[:HARD]`, docker's ulimit flag syntax.
pub(super) fn parse_ulimit(spec: &str) -> Result<(String, i64, i64), ConfigError> {
    let bad = |reason| ConfigError::Ulimit {
        value: spec.to_string(),
        reason,
    };
    let (name, limits) = spec
        .split_once('=')
        .ok_or(bad("expected NAME=SOFT[:HARD]"))?;
    let (soft, hard) = match limits.split_once(':') {
        Some((s, h)) => (s, h),
        None => (limits, limits),
    };
    let soft: i64 = soft
        .parse()
        .map_err(|_| bad("the soft limit is not a number"))?;
    let hard: i64 = hard
        .parse()
        .map_err(|_| bad("the hard limit is not a number"))?;
    check_ulimit(name, soft, hard, spec)?;
    Ok((name.to_string(), soft, hard))
}

pub(super) fn check_ulimit(
    name: &str,
    soft: i64,
    hard: i64,
    spec: &str,
) -> Result<(), ConfigError> {
    let bad = |reason| ConfigError::Ulimit {
        value: spec.to_string(),
        reason,
    };
    if !berth_engine::oci::ULIMIT_NAMES.contains(&name) {
        return Err(bad("unknown ulimit type"));
    }
    // -1 means unlimited, as in docker.
    if hard != -1 && soft > hard {
        return Err(bad("the soft limit is greater than the hard limit"));
    }
    Ok(())
}
