//! Times the way docker's CLI reads and prints them: `--since`/`--until` values
//! (docker's `GetTimestamp`: a Go duration before now, an RFC 3339-like time with or
//! without zone, a date, or a unix timestamp passed through) and the fixed-width
//! RFC 3339 time of event lines.

use jiff::ZonedDateTime as Zoned;
use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};

/// Go's `RFC3339NanoFixed` of a unix time in nanoseconds, in the local zone: nine
/// fraction digits always, `Z` for UTC.
pub fn rfc3339_nano_fixed(nanos: i128) -> String {
    let Ok(ts) = jiff::Timestamp::from_nanosecond(nanos) else {
        return String::new();
    };
    let z = ts.to_zoned_datetime(TimeZone::system());
    let offset = z.offset().seconds();
    let zone = if offset == 0 {
        "Z".to_string()
    } else {
        let sign = if offset < 0 { '-' } else { '+' };
        let a = offset.abs();
        format!("{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60)
    };
    format!(
        "{}.{:09}{zone}",
        z.strftime("%Y-%m-%dT%H:%M:%S"),
        z.subsec_nanosecond()
    )
}

/// One element of a Go layout.
#[derive(Clone, Copy)]
enum Elem {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Frac,
    Zone,
    Lit(&'static str),
}

impl Elem {
    fn text(self) -> &'static str {
        match self {
            Elem::Year => "2006",
            Elem::Month => "01",
            Elem::Day => "02",
            Elem::Hour => "15",
            Elem::Minute => "04",
            Elem::Second => "05",
            Elem::Frac => ".999999999",
            Elem::Zone => "Z07:00",
            Elem::Lit(s) => s,
        }
    }
}

/// Parsed fields of a time.
#[derive(Default)]
struct Fields {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    nanos: i64,
    offset: Option<i32>,
}

/// Takes `n` digits (exactly, or 1 to `n` when not `fixed`).
fn digits(v: &str, n: usize, fixed: bool) -> Option<(i64, &str)> {
    let len = v.bytes().take(n).take_while(u8::is_ascii_digit).count();
    if len == 0 || (fixed && len != n) {
        return None;
    }
    Some((v[..len].parse().ok()?, &v[len..]))
}

/// Go's `time.Parse` for the layouts `GetTimestamp` uses.
fn go_parse(layout: &[Elem], value: &str) -> Result<Fields, String> {
    let layout_text: String = layout.iter().map(|e| e.text()).collect();
    let fail = |rest: &str, e: Elem| {
        format!(
            "parsing time \"{value}\" as \"{layout_text}\": cannot parse \"{rest}\" as \"{}\"",
            e.text()
        )
    };
    let mut f = Fields::default();
    let mut v = value;
    for &e in layout {
        let parsed = match e {
            Elem::Lit(s) => v.strip_prefix(s).map(|r| (0, r)),
            Elem::Year => digits(v, 4, true),
            Elem::Month | Elem::Day | Elem::Minute | Elem::Second => digits(v, 2, true),
            Elem::Hour => digits(v, 2, false),
            Elem::Frac | Elem::Zone => None,
        };
        match e {
            Elem::Frac => {
                if let Some(r) = v.strip_prefix('.') {
                    let n = r.bytes().take_while(u8::is_ascii_digit).count();
                    let frac = &r[..n.min(9)];
                    f.nanos = format!("{frac:0<9}").parse().unwrap_or(0);
                    v = &r[n..];
                }
                continue;
            }
            Elem::Zone => {
                if let Some(r) = v.strip_prefix('Z') {
                    f.offset = Some(0);
                    v = r;
                } else {
                    let sign = match v.as_bytes().first() {
                        Some(b'+') => 1,
                        Some(b'-') => -1,
                        _ => return Err(fail(v, e)),
                    };
                    let b = v.as_bytes();
                    let ok = b.len() >= 6
                        && b[3] == b':'
                        && b[1..3].iter().chain(&b[4..6]).all(u8::is_ascii_digit);
                    if !ok {
                        return Err(fail(v, e));
                    }
                    let h: i32 = v[1..3].parse().unwrap_or(0);
                    let m: i32 = v[4..6].parse().unwrap_or(0);
                    f.offset = Some(sign * (h * 3600 + m * 60));
                    v = &v[6..];
                }
                continue;
            }
            _ => {}
        }
        let Some((n, rest)) = parsed else {
            return Err(fail(v, e));
        };
        match e {
            Elem::Year => f.year = n,
            Elem::Month => f.month = n,
            Elem::Day => f.day = n,
            Elem::Hour => f.hour = n,
            Elem::Minute => f.minute = n,
            Elem::Second => {
                f.second = n;
                // Go accepts a fraction after the seconds even when the layout has none.
                if let Some(r) = rest.strip_prefix('.') {
                    let k = r.bytes().take_while(u8::is_ascii_digit).count();
                    if k > 0 {
                        f.nanos = format!("{:0<9}", &r[..k.min(9)]).parse().unwrap_or(0);
                        v = &r[k..];
                        continue;
                    }
                }
            }
            _ => {}
        }
        v = rest;
    }
    if !v.is_empty() {
        return Err(format!("parsing time \"{value}\": extra text: \"{v}\""));
    }
    let range = |what: &str| format!("parsing time \"{value}\": {what} out of range");
    if !(1..=12).contains(&f.month) {
        return Err(range("month"));
    }
    if f.hour > 23 {
        return Err(range("hour"));
    }
    if f.minute > 59 {
        return Err(range("minute"));
    }
    if f.second > 59 {
        return Err(range("second"));
    }
    Ok(f)
}

fn layout_for(value: &str, in_location: bool) -> Vec<Elem> {
    use Elem::*;
    let date = [Year, Lit("-"), Month, Lit("-"), Day];
    let mut l: Vec<Elem> = date.to_vec();
    if value.contains('.') {
        l.extend([Lit("T"), Hour, Lit(":"), Minute, Lit(":"), Second, Frac]);
    } else if value.contains('T') {
        let mut colons = value.matches(':').count();
        if !in_location && !value.contains(['z', 'Z']) && colons > 0 {
            colons -= 1;
        }
        l.extend([Lit("T"), Hour]);
        if colons >= 1 {
            l.extend([Lit(":"), Minute]);
        }
        if colons >= 2 {
            l.extend([Lit(":"), Second]);
        }
    }
    if !in_location {
        l.push(Zone);
    }
    l
}

/// docker's `GetTimestamp(value, now)`: the value to send as `since`/`until`.
pub fn get_timestamp(value: &str, now: &Zoned) -> Result<String, String> {
    if value != "0" {
        if let Ok(ns) = super::parse::go_duration(value) {
            let t = now.timestamp().as_nanosecond() - ns as i128;
            return Ok(t.div_euclid(1_000_000_000).to_string());
        }
    }
    let in_location = !value.contains(['z', 'Z', '+']) && value.matches('-').count() != 3;
    let layout = layout_for(value, in_location);
    match go_parse(&layout, value) {
        Ok(f) => {
            let dt = DateTime::new(
                f.year as i16,
                f.month as i8,
                f.day as i8,
                f.hour as i8,
                f.minute as i8,
                f.second as i8,
                f.nanos as i32,
            )
            .map_err(|_| format!("parsing time \"{value}\": day out of range"))?;
            let offset = match f.offset {
                Some(s) => Offset::from_seconds(s).unwrap_or(Offset::UTC),
                None => now.offset(),
            };
            let ts = offset
                .to_timestamp(dt)
                .map_err(|e| format!("parsing time \"{value}\": {e}"))?;
            Ok(format!("{}.{:09}", ts.as_second(), ts.subsec_nanosecond()))
        }
        Err(e) => {
            if value.contains('-') {
                return Err(e);
            }
            let (s, n) = match value.split_once('.') {
                Some((s, n)) => (s, Some(n)),
                None => (value, None),
            };
            let ok = s.parse::<i64>().is_ok() && n.is_none_or(|n| n.parse::<i64>().is_ok());
            if !ok {
                return Err(format!(
                    "failed to parse value as time or duration: \"{value}\""
                ));
            }
            Ok(value.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Zoned {
        "2024-05-06T07:08:09Z"
            .parse::<jiff::Timestamp>()
            .unwrap()
            .to_zoned_datetime(TimeZone::UTC)
    }

    #[test]
    fn values_like_docker() {
        let n = now();
        assert_eq!(get_timestamp("1h", &n).unwrap(), "1714975689");
        assert_eq!(get_timestamp("1714975689", &n).unwrap(), "1714975689");
        assert_eq!(get_timestamp("0", &n).unwrap(), "0");
        assert_eq!(
            get_timestamp("2024-05-06", &n).unwrap(),
            "1714953600.000000000"
        );
        assert_eq!(
            get_timestamp("2024-05-06T01:02:03.5Z", &n).unwrap(),
            "1714957323.500000000"
        );
        assert_eq!(
            get_timestamp("2024-05-06T01:02+02:00", &n).unwrap(),
            "1714950120.000000000"
        );
        assert_eq!(
            get_timestamp("foo", &n).unwrap_err(),
            "failed to parse value as time or duration: \"foo\""
        );
        assert_eq!(
            get_timestamp("2024-05-0x", &n).unwrap_err(),
            "parsing time \"2024-05-0x\" as \"2006-01-02\": cannot parse \"0x\" as \"02\""
        );
        assert_eq!(
            get_timestamp("2024-13-01", &n).unwrap_err(),
            "parsing time \"2024-13-01\": month out of range"
        );
    }

    #[test]
    fn event_times_have_nine_digits() {
        let s = rfc3339_nano_fixed(1_714_975_689_000_000_500);
        assert!(s.contains(".000000500"), "{s}");
    }
}
