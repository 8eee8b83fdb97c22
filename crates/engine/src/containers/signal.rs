//! Signal names as the Engine API takes them (`kill?signal=`, `StopSignal`).

use std::str::FromStr;

use nix::sys::signal::Signal;

use super::Error;

/// The real-time signal range as docker numbers it (glibc keeps 32 and 33
/// for itself, so `RTMIN` is 34; signal(7)).
const RTMIN: i32 = 34;
const RTMAX: i32 = 64;

/// Parses a signal: a number, or a name with or without `SIG`, any case
/// (`9`, `KILL`, `sigterm`, `RTMIN+3`). Zero and unknown names are
/// `Invalid signal: VALUE` (docker's words).
pub fn parse_signal(value: &str) -> Result<i32, Error> {
    let invalid = || Error::InvalidSignal {
        value: value.to_string(),
    };
    if let Ok(n) = value.parse::<i32>() {
        return if n > 0 && n <= RTMAX {
            Ok(n)
        } else {
            Err(invalid())
        };
    }
    let upper = value.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    let rt = |base: i32, off: &str, sign: i32| -> Option<i32> {
        let n: i32 = off.parse().ok()?;
        let s = base + sign * n;
        (RTMIN..=RTMAX).contains(&s).then_some(s)
    };
    let n = match name {
        "RTMIN" => Some(RTMIN),
        "RTMAX" => Some(RTMAX),
        // Linux aliases Go's table has and nix does not.
        "CLD" => Some(Signal::SIGCHLD as i32),
        "POLL" => Some(Signal::SIGIO as i32),
        _ => {
            if let Some(off) = name.strip_prefix("RTMIN+") {
                rt(RTMIN, off, 1)
            } else if let Some(off) = name.strip_prefix("RTMAX-") {
                rt(RTMAX, off, -1)
            } else {
                Signal::from_str(&format!("SIG{name}"))
                    .ok()
                    .map(|s| s as i32)
            }
        }
    };
    n.ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("KILL").unwrap(), 9);
        assert_eq!(parse_signal("SIGTERM").unwrap(), 15);
        assert_eq!(parse_signal("sigusr1").unwrap(), 10);
        assert_eq!(parse_signal("hup").unwrap(), 1);
        assert_eq!(parse_signal("CLD").unwrap(), 17);
        assert_eq!(parse_signal("RTMIN").unwrap(), 34);
        assert_eq!(parse_signal("SIGRTMIN+3").unwrap(), 37);
        assert_eq!(parse_signal("RTMAX-1").unwrap(), 63);
        for bad in ["0", "-1", "65", "NOPE", "", "RTMIN+40"] {
            assert_eq!(
                parse_signal(bad).unwrap_err().to_string(),
                format!("Invalid signal: {bad}")
            );
        }
    }
}
