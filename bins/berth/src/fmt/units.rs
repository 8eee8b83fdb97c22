//! Sizes and durations as docker prints them (the `go-units` package): decimal sizes
//! with Go's `%g` formatting (`5.37MB`, `1e+03B`), binary sizes for memory
//! (`1.5MiB`), and the human durations of `CREATED` columns (`About an hour`).

use std::time::Duration;

const DECIMAL: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
const BINARY: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

/// go-units `HumanSizeWithPrecision`: decimal units, `precision` significant digits.
pub fn human_size_prec(size: f64, precision: usize) -> String {
    custom_size(size, 1000.0, &DECIMAL, precision)
}

/// go-units `HumanSize` (4 significant digits).
pub fn human_size(size: f64) -> String {
    human_size_prec(size, 4)
}

/// go-units `BytesSize`: binary units, 4 significant digits.
pub fn bytes_size(size: f64) -> String {
    custom_size(size, 1024.0, &BINARY, 4)
}

fn custom_size(mut size: f64, base: f64, units: &[&str], precision: usize) -> String {
    let mut i = 0;
    while size >= base && i < units.len() - 1 {
        size /= base;
        i += 1;
    }
    format!("{}{}", go_g(size, precision), units[i])
}

/// Go's `%.<p>g`: `p` significant digits, exponent form when the exponent is below
/// -4 or at least `p`, trailing zeros dropped.
pub fn go_g(v: f64, p: usize) -> String {
    let p = p.max(1);
    if v == 0.0 {
        return "0".to_string();
    }
    if !v.is_finite() {
        return if v.is_nan() {
            "NaN".into()
        } else if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let e = format!("{:.*e}", p - 1, v);
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= p as i32 {
        let mant = trim_zeros(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        trim_zeros(&format!("{v:.decimals$}")).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// go-units `HumanDuration`.
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    let seconds = secs as i64;
    if seconds < 1 {
        return "Less than a second".into();
    }
    if seconds == 1 {
        return "1 second".into();
    }
    if seconds < 60 {
        return format!("{seconds} seconds");
    }
    let minutes = (secs / 60.0) as i64;
    if minutes == 1 {
        return "About a minute".into();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    let hours = (secs / 3600.0).round() as i64;
    if hours == 1 {
        return "About an hour".into();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", (secs / 3600.0) as i64 / 24 / 365)
}

/// `HumanDuration(now - unix_seconds) + " ago"`, as the `CREATED` columns print it.
pub fn ago(unix_seconds: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let d = (now - unix_seconds as f64).max(0.0);
    format!("{} ago", human_duration(Duration::from_secs_f64(d)))
}

/// Go's `time.Unix(s, 0).String()` in the local zone: `2006-01-02 15:04:05 -0700 MST`.
pub fn go_time_string(unix_seconds: i64) -> String {
    let Ok(ts) = jiff::Timestamp::from_second(unix_seconds) else {
        return String::new();
    };
    let z = ts.to_zoned_datetime(jiff::tz::TimeZone::system());
    z.strftime("%Y-%m-%d %H:%M:%S %z %Z").to_string()
}

/// RFC 3339 in the local zone (`2006-01-02T15:04:05Z07:00`), as `docker history`
/// prints `CreatedAt`.
pub fn rfc3339_local(unix_seconds: i64) -> String {
    let Ok(ts) = jiff::Timestamp::from_second(unix_seconds) else {
        return String::new();
    };
    let z = ts.to_zoned_datetime(jiff::tz::TimeZone::system());
    if z.offset().seconds() == 0 {
        z.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_go_units() {
        assert_eq!(human_size_prec(5_370_000.0, 3), "5.37MB");
        assert_eq!(human_size_prec(2_028_000.0, 3), "2.03MB");
        assert_eq!(human_size(2_028_000.0), "2.028MB");
        assert_eq!(human_size_prec(0.0, 3), "0B");
        assert_eq!(human_size_prec(999.9, 3), "1e+03B");
        assert_eq!(human_size_prec(1_200_000_000.0, 3), "1.2GB");
        assert_eq!(human_size_prec(512.0, 3), "512B");
        assert_eq!(human_size_prec(4096.0, 3), "4.1kB");
        assert_eq!(bytes_size(1_572_864.0), "1.5MiB");
        assert_eq!(go_g(0.0001234, 3), "0.000123");
        assert_eq!(go_g(0.00001234, 3), "1.23e-05");
    }

    #[test]
    fn durations_match_go_units() {
        let s = Duration::from_secs;
        assert_eq!(
            human_duration(Duration::from_millis(300)),
            "Less than a second"
        );
        assert_eq!(human_duration(s(1)), "1 second");
        assert_eq!(human_duration(s(59)), "59 seconds");
        assert_eq!(human_duration(s(60)), "About a minute");
        assert_eq!(human_duration(s(150)), "2 minutes");
        assert_eq!(human_duration(s(3600)), "About an hour");
        assert_eq!(human_duration(s(5400)), "2 hours");
        assert_eq!(human_duration(s(3 * 86400)), "3 days");
        assert_eq!(human_duration(s(20 * 86400)), "2 weeks");
        assert_eq!(human_duration(s(90 * 86400)), "3 months");
        assert_eq!(human_duration(s(800 * 86400)), "2 years");
    }
}

/// The order of fvbommel's `sortorder.NaturalLess`, which docker sorts names by:
/// digit runs compare as numbers (leading zeros ignored, then fewer zeros first) and
/// sort before other bytes; other bytes compare as bytes.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (x, y) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < x.len() && j < y.len() {
        let (dx, dy) = (x[i].is_ascii_digit(), y[j].is_ascii_digit());
        if dx != dy {
            return if dx {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        if !dx {
            if x[i] != y[j] {
                return x[i].cmp(&y[j]);
            }
            i += 1;
            j += 1;
            continue;
        }
        while i < x.len() && x[i] == b'0' {
            i += 1;
        }
        while j < y.len() && y[j] == b'0' {
            j += 1;
        }
        let (nz_i, nz_j) = (i, j);
        while i < x.len() && x[i].is_ascii_digit() {
            i += 1;
        }
        while j < y.len() && y[j].is_ascii_digit() {
            j += 1;
        }
        let ord = (i - nz_i)
            .cmp(&(j - nz_j))
            .then_with(|| x[nz_i..i].cmp(&y[nz_j..j]))
            .then_with(|| nz_i.cmp(&nz_j));
        if ord != Ordering::Equal {
            return ord;
        }
    }
    x.len().cmp(&y.len())
}

#[cfg(test)]
mod natural_tests {
    use super::natural_cmp;
    use std::cmp::Ordering::*;

    #[test]
    fn numbers_compare_as_numbers() {
        assert_eq!(natural_cmp("76f1", "512b"), Less);
        assert_eq!(natural_cmp("a2", "a10"), Less);
        assert_eq!(natural_cmp("1x", "ax"), Less);
        assert_eq!(natural_cmp("bv", "bv2"), Less);
        assert_eq!(natural_cmp("a01", "a1"), Greater);
        assert_eq!(natural_cmp("same", "same"), Equal);
    }
}
