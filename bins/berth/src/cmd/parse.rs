//! Parsers of docker's flag values: sizes (`512m`), Go durations (`1m30s`), CPU counts,
//! port specs (`127.0.0.1:8080:80/tcp`), `--mount` CSV, env files and key=value lists.
//! Each error is worded like docker's (the caller adds the flag's name).

use std::collections::BTreeMap;

use berth_client::types::container::{
    BindOptions, DeviceRequest, Mount, PortBinding, ThrottleDevice, TmpfsOptions, Ulimit,
    VolumeDriver, VolumeOptions, WeightDevice,
};

/// docker's `RAMInBytes`: a number with an optional binary unit (`k`, `m`, `g`, `t`,
/// `p`, optionally followed by `i` and/or `b`).
pub fn ram_in_bytes(s: &str) -> Result<i64, String> {
    let err = || format!("invalid size: '{s}'");
    let t = s.trim_end_matches(['b', 'B']);
    let t = t.trim_end_matches(['i', 'I']);
    let (num, mult) = match t.chars().last() {
        Some(c) if c.is_ascii_alphabetic() => {
            let m: i64 = match c.to_ascii_lowercase() {
                'k' => 1 << 10,
                'm' => 1 << 20,
                'g' => 1 << 30,
                't' => 1 << 40,
                'p' => 1 << 50,
                _ => return Err(err()),
            };
            (t[..t.len() - 1].trim_end(), m)
        }
        _ => (t.trim_end(), 1),
    };
    // A bare `i`/`b` suffix without a unit letter is not a size.
    if num.is_empty() || !num.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        return Err(err());
    }
    if t.len() != s.len() && mult == 1 && !s.ends_with(['b', 'B']) {
        return Err(err());
    }
    let v: f64 = num.parse().map_err(|_| err())?;
    Ok((v * mult as f64) as i64)
}

/// `PATH:VALUE` of the block IO flags, the path under `/dev/` (docker's
/// `opts/throttledevice.go` and `weightdevice.go`).
fn device_value(s: &str) -> Result<(&str, &str), String> {
    let Some((path, value)) = s.split_once(':').filter(|(_, v)| !v.contains(':')) else {
        return Err(format!("bad format: {s}"));
    };
    if !path.starts_with("/dev/") {
        return Err(format!("bad format for device path: {s}"));
    }
    Ok((path, value))
}

/// `--blkio-weight-device /dev/sda:200`: a weight of 10 to 1000, or 0.
pub fn weight_device(s: &str) -> Result<WeightDevice, String> {
    let (path, value) = device_value(s)?;
    let err = || format!("invalid weight for device: {s}");
    let weight: u16 = value.parse().map_err(|_| err())?;
    if weight > 0 && !(10..=1000).contains(&weight) {
        return Err(err());
    }
    Ok(WeightDevice {
        path: path.to_string(),
        weight,
    })
}

/// `--device-read-bps /dev/sda:1mb` (and `--device-write-bps`): a size per second.
pub fn throttle_bps_device(s: &str) -> Result<ThrottleDevice, String> {
    let (path, value) = device_value(s)?;
    let rate = ram_in_bytes(value)
        .ok()
        .and_then(|r| u64::try_from(r).ok())
        .ok_or_else(|| format!("invalid rate for device: {s}. The correct format is <device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb"))?;
    Ok(ThrottleDevice {
        path: path.to_string(),
        rate,
    })
}

/// `--device-read-iops /dev/sda:1000` (and `--device-write-iops`): operations per
/// second.
pub fn throttle_iops_device(s: &str) -> Result<ThrottleDevice, String> {
    let (path, value) = device_value(s)?;
    let rate = value.parse().map_err(|_| {
        format!("invalid rate for device: {s}. The correct format is <device-path>:<number>. Number must be a positive integer")
    })?;
    Ok(ThrottleDevice {
        path: path.to_string(),
        rate,
    })
}

/// `--memory-swap`: `-1` (unlimited) or a size.
pub fn mem_swap_bytes(s: &str) -> Result<i64, String> {
    if s == "-1" { Ok(-1) } else { ram_in_bytes(s) }
}

/// `--cpus`: a decimal number of CPUs as nano-CPUs.
pub fn nano_cpus(s: &str) -> Result<i64, String> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty()
        || !int.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return Err(format!("failed to parse {s} as a rational number"));
    }
    let frac_t = frac.trim_end_matches('0');
    if frac_t.len() > 9 {
        return Err("value is too precise".to_string());
    }
    let i: i64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| "value is too large".to_string())?
    };
    let f: i64 = format!("{frac_t:0<9}").parse().unwrap_or(0);
    i.checked_mul(1_000_000_000)
        .and_then(|v| v.checked_add(f))
        .ok_or_else(|| "value is too large".to_string())
}

/// Go's `time.ParseDuration`, in nanoseconds.
pub fn go_duration(s: &str) -> Result<i64, String> {
    let err = || format!("time: invalid duration \"{s}\"");
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(err());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("time: missing unit in duration \"{s}\""))?;
        let num: f64 = rest[..end].parse().map_err(|_| err())?;
        rest = &rest[end..];
        let uend = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..uend] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            u => return Err(format!("time: unknown unit \"{u}\" in duration \"{s}\"")),
        };
        total += num * unit;
        rest = &rest[uend..];
    }
    let v = total as i64;
    Ok(if neg { -v } else { v })
}

/// `--ulimit name=soft[:hard]`.
pub fn ulimit(s: &str) -> Result<Ulimit, String> {
    let (name, limits) = s
        .split_once('=')
        .ok_or_else(|| format!("invalid ulimit argument: {s}"))?;
    let (soft, hard) = match limits.split_once(':') {
        Some((a, b)) => (a, b),
        None => (limits, limits),
    };
    let p = |v: &str| {
        v.parse::<i64>()
            .map_err(|_| format!("invalid ulimit argument: {s}"))
    };
    let (soft, hard) = (p(soft)?, p(hard)?);
    if soft > hard {
        return Err(format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        ));
    }
    Ok(Ulimit {
        name: name.to_string(),
        soft,
        hard,
    })
}

/// Exposed ports and bindings of `-p` values (docker's `nat.ParsePortSpecs`).
pub type PortSpecs = (
    BTreeMap<String, berth_client::types::de::Empty>,
    BTreeMap<String, Option<Vec<PortBinding>>>,
);

/// Parses `-p` values: `[ip:][hostPort:]containerPort[/proto]` with ranges.
pub fn port_specs(specs: &[String]) -> Result<PortSpecs, String> {
    let mut exposed = BTreeMap::new();
    let mut bindings: BTreeMap<String, Option<Vec<PortBinding>>> = BTreeMap::new();
    for spec in specs {
        let (rest, proto) = match spec.rsplit_once('/') {
            Some((r, p)) => (r, p.to_string()),
            None => (spec.as_str(), "tcp".to_string()),
        };
        if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
            return Err(format!("invalid proto: {proto}"));
        }
        // The IP may be bracketed IPv6 with colons inside.
        let (ip, rest) = if let Some(r) = rest.strip_prefix('[') {
            let (ip, after) = r
                .split_once(']')
                .ok_or_else(|| format!("invalid IP address: {spec}"))?;
            (ip.to_string(), after.strip_prefix(':').unwrap_or(after))
        } else {
            let parts: Vec<&str> = rest.split(':').collect();
            match parts.len() {
                3 => (parts[0].to_string(), &rest[parts[0].len() + 1..]),
                _ => (String::new(), rest),
            }
        };
        let (host, container) = match rest.split_once(':') {
            Some((h, c)) => (h, c),
            None => ("", rest),
        };
        if container.is_empty() {
            return Err(format!("no port specified: {spec}<empty>"));
        }
        let (c0, c1) =
            port_range(container).map_err(|_| format!("invalid containerPort: {container}"))?;
        let host_range = if host.is_empty() {
            None
        } else {
            Some(port_range(host).map_err(|_| format!("invalid hostPort: {host}"))?)
        };
        if let Some((h0, h1)) = host_range {
            if h1 - h0 != c1 - c0 && h0 != h1 {
                return Err(format!(
                    "invalid ranges specified for container and host Ports: {container} and {host}"
                ));
            }
        }
        for (i, cp) in (c0..=c1).enumerate() {
            let key = format!("{cp}/{proto}");
            exposed.insert(key.clone(), berth_client::types::de::Empty {});
            let host_port = match host_range {
                None => String::new(),
                Some((h0, h1)) if h0 == h1 && c0 != c1 => h0.to_string(),
                Some((h0, h1)) if h0 != h1 && c0 == c1 => format!("{h0}-{h1}"),
                Some((h0, _)) => (h0 + i as u32).to_string(),
            };
            bindings
                .entry(key)
                .or_default()
                .get_or_insert_with(Vec::new)
                .push(PortBinding {
                    host_ip: ip.clone(),
                    host_port,
                });
        }
    }
    Ok((exposed, bindings))
}

/// `80` or `8000-8010`.
pub fn port_range(s: &str) -> Result<(u32, u32), String> {
    let p = |v: &str| v.parse::<u32>().ok().filter(|n| *n <= 65535).ok_or(());
    let r = match s.split_once('-') {
        Some((a, b)) => (p(a), p(b)),
        None => (p(s), p(s)),
    };
    match r {
        (Ok(a), Ok(b)) if a <= b => Ok((a, b)),
        _ => Err(format!("invalid port range: {s}")),
    }
}

/// `--mount type=bind,source=/a,target=/b,readonly`.
pub fn mount(s: &str) -> Result<Mount, String> {
    let mut m = Mount {
        r#type: "volume".to_string(),
        ..Default::default()
    };
    let mut vol = VolumeOptions::default();
    let mut bind = BindOptions::default();
    let mut tmpfs = TmpfsOptions::default();
    for field in s.split(',') {
        let (k, v) = match field.split_once('=') {
            Some((k, v)) => (k.trim().to_lowercase(), Some(v.trim())),
            None => (field.trim().to_lowercase(), None),
        };
        let truthy = |v: Option<&str>| -> Result<bool, String> {
            match v {
                None | Some("1") | Some("true") => Ok(true),
                Some("0") | Some("false") => Ok(false),
                Some(x) => Err(format!("invalid value for {k}: {x}")),
            }
        };
        let need = |v: Option<&str>| {
            v.map(str::to_string)
                .ok_or_else(|| format!("invalid field '{field}' must be a key=value pair"))
        };
        match k.as_str() {
            "type" => m.r#type = need(v)?,
            "source" | "src" => m.source = need(v)?,
            "target" | "dst" | "destination" => m.target = need(v)?,
            "readonly" | "ro" => m.read_only = truthy(v)?,
            "consistency" => m.consistency = need(v)?,
            "bind-propagation" => bind.propagation = need(v)?,
            "bind-nonrecursive" => bind.non_recursive = truthy(v)?,
            "volume-nocopy" => vol.no_copy = truthy(v)?,
            "volume-driver" => {
                vol.driver_config
                    .get_or_insert_with(VolumeDriver::default)
                    .name = need(v)?
            }
            "volume-opt" => {
                let kv = need(v)?;
                let (a, b) = kv.split_once('=').unwrap_or((&kv, ""));
                vol.driver_config
                    .get_or_insert_with(VolumeDriver::default)
                    .options
                    .get_or_insert_with(BTreeMap::new)
                    .insert(a.to_string(), b.to_string());
            }
            "volume-label" => {
                let kv = need(v)?;
                let (a, b) = kv.split_once('=').unwrap_or((&kv, ""));
                vol.labels
                    .get_or_insert_with(BTreeMap::new)
                    .insert(a.to_string(), b.to_string());
            }
            "tmpfs-size" => tmpfs.size_bytes = ram_in_bytes(&need(v)?)?,
            "tmpfs-mode" => {
                tmpfs.mode = u64::from_str_radix(&need(v)?, 8)
                    .map_err(|_| format!("invalid value for {k}: {}", v.unwrap_or("")))?
            }
            _ => return Err(format!("unexpected key '{k}' in '{field}'")),
        }
    }
    if m.target.is_empty() {
        return Err("target is required".to_string());
    }
    match m.r#type.as_str() {
        "bind" if bind != BindOptions::default() => m.bind_options = Some(bind),
        "volume" if vol != VolumeOptions::default() => m.volume_options = Some(vol),
        "tmpfs" if tmpfs != TmpfsOptions::default() => m.tmpfs_options = Some(tmpfs),
        _ => {}
    }
    Ok(m)
}

/// The lines of an env or label file: `KEY=value`, or `KEY` alone (taken from the
/// environment when `lookup` is set and the variable exists); `#` comments and blank
/// lines skipped.
pub fn kv_file(path: &str, lookup: bool) -> Result<Vec<String>, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("open {path}: {}", io_text(&e)))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some((k, v)) => {
                if k.is_empty() || k.contains(char::is_whitespace) {
                    return Err(format!(
                        "variable '{k}' contains whitespaces (line {} of {path})",
                        n + 1
                    ));
                }
                out.push(format!("{k}={v}"));
            }
            None if lookup => match std::env::var(line.trim_end()) {
                Ok(v) => out.push(format!("{}={v}", line.trim_end())),
                Err(_) => out.push(line.trim_end().to_string()),
            },
            None => out.push(line.trim_end().to_string()),
        }
    }
    Ok(out)
}

/// `-e KEY`: the value of `KEY` in the environment, if it has one.
pub fn env_value(s: &str) -> String {
    if s.contains('=') {
        return s.to_string();
    }
    match std::env::var(s) {
        Ok(v) => format!("{s}={v}"),
        Err(_) => s.to_string(),
    }
}

/// `k=v` items as a map (`k` alone maps to an empty value).
pub fn kv_map(items: &[String]) -> BTreeMap<String, String> {
    items
        .iter()
        .map(|s| match s.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (s.clone(), String::new()),
        })
        .collect()
}

/// One `--gpus` value as docker's `GpuOpts.Set` reads it: a CSV record of `all` or a
/// count, or of `driver=`, `count=`, `device=` (IDs), `capabilities=` (`gpu` is
/// added) and `options=` (itself CSV of `k=v`). Without a count or device IDs the
/// count is 1; the capabilities default to `[[gpu]]`.
pub fn gpu_request(value: &str) -> Result<DeviceRequest, String> {
    // Go's csv reader finds no record in an empty input.
    if value.is_empty() {
        return Err("EOF".into());
    }
    let count = |s: &str| -> Result<i64, String> {
        if s == "all" {
            return Ok(-1);
        }
        s.parse::<i64>().map_err(|e| {
            let why = if matches!(
                e.kind(),
                std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow
            ) {
                "value out of range"
            } else {
                "invalid syntax"
            };
            format!("invalid count ({s}): value must be either \"all\" or an integer: {why}")
        })
    };
    let mut req = DeviceRequest::default();
    let mut seen = std::collections::BTreeSet::new();
    for field in super::netopts::csv_fields(value)? {
        let (key, val) = match field.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (field.as_str(), None),
        };
        if !seen.insert(key.to_string()) {
            return Err(format!(
                "gpu request key '{key}' can be specified only once"
            ));
        }
        let Some(val) = val else {
            seen.insert("count".to_string());
            req.count = count(key)?;
            continue;
        };
        match key {
            "driver" => req.driver = val.to_string(),
            "count" => req.count = count(val)?,
            "device" => req.device_ids = Some(val.split(',').map(str::to_string).collect()),
            "capabilities" => {
                let mut caps: Vec<String> = val.split(',').map(str::to_string).collect();
                caps.push("gpu".into());
                req.capabilities = Some(vec![caps]);
            }
            "options" => {
                let fields = if val.is_empty() {
                    return Err("failed to read gpu options: EOF".into());
                } else {
                    super::netopts::csv_fields(val)
                        .map_err(|e| format!("failed to read gpu options: {e}"))?
                };
                req.options = Some(kv_map(&fields));
            }
            _ => return Err(format!("unexpected key '{key}' in '{field}'")),
        }
    }
    if !seen.contains("count") && req.device_ids.is_none() {
        req.count = 1;
    }
    req.options.get_or_insert_with(BTreeMap::new);
    req.capabilities
        .get_or_insert_with(|| vec![vec!["gpu".into()]]);
    Ok(req)
}

/// Go's `strconv.ParseBool`, for boolean flags whose `--flag=false` must be seen (a
/// flag given at all can matter, as `--tlsverify` does).
pub fn go_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!("strconv.ParseBool: parsing {s:?}: invalid syntax")),
    }
}

/// An I/O error as Go words it (`no such file or directory`).
pub fn io_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_lowercase(),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpu_requests_as_docker_reads_them() {
        let all = gpu_request("all").unwrap();
        assert_eq!(all.count, -1);
        assert_eq!(all.capabilities, Some(vec![vec!["gpu".to_string()]]));
        assert_eq!(all.options, Some(BTreeMap::new()));
        assert_eq!(all.device_ids, None);
        assert_eq!(gpu_request("driver=nvidia").unwrap().count, 1);
        let r = gpu_request("\"device=1,2\",\"capabilities=compute,utility\"").unwrap();
        assert_eq!(r.count, 0);
        assert_eq!(r.device_ids, Some(vec!["1".to_string(), "2".to_string()]));
        assert_eq!(
            r.capabilities,
            Some(vec![vec![
                "compute".to_string(),
                "utility".to_string(),
                "gpu".to_string()
            ]])
        );
        let r = gpu_request("count=2,\"options=a=b,c\"").unwrap();
        assert_eq!(r.count, 2);
        assert_eq!(
            r.options,
            Some(BTreeMap::from([
                ("a".to_string(), "b".to_string()),
                ("c".to_string(), String::new())
            ]))
        );
        assert_eq!(
            gpu_request("2,count=3").unwrap_err(),
            "gpu request key 'count' can be specified only once"
        );
        assert_eq!(
            gpu_request("two").unwrap_err(),
            "invalid count (two): value must be either \"all\" or an integer: invalid syntax"
        );
        assert_eq!(
            gpu_request("foo=bar").unwrap_err(),
            "unexpected key 'foo' in 'foo=bar'"
        );
        assert_eq!(gpu_request("").unwrap_err(), "EOF");
    }

    #[test]
    fn bools_are_go_bools() {
        assert_eq!(go_bool("T"), Ok(true));
        assert_eq!(go_bool("0"), Ok(false));
        assert_eq!(
            go_bool("yes").unwrap_err(),
            "strconv.ParseBool: parsing \"yes\": invalid syntax"
        );
    }

    #[test]
    fn sizes_are_binary() {
        assert_eq!(ram_in_bytes("512m").unwrap(), 512 << 20);
        assert_eq!(ram_in_bytes("1g").unwrap(), 1 << 30);
        assert_eq!(ram_in_bytes("1.5k").unwrap(), 1536);
        assert_eq!(ram_in_bytes("100").unwrap(), 100);
        assert_eq!(ram_in_bytes("64MiB").unwrap(), 64 << 20);
        assert_eq!(ram_in_bytes("10b").unwrap(), 10);
        assert_eq!(ram_in_bytes("x").unwrap_err(), "invalid size: 'x'");
        assert!(ram_in_bytes("5q").is_err() && ram_in_bytes("").is_err());
        assert_eq!(mem_swap_bytes("-1").unwrap(), -1);
    }

    #[test]
    fn cpus_and_durations() {
        assert_eq!(nano_cpus("1.5").unwrap(), 1_500_000_000);
        assert_eq!(nano_cpus("0.001").unwrap(), 1_000_000);
        assert!(nano_cpus("0.0000000001").is_err() && nano_cpus("a").is_err());
        assert_eq!(go_duration("1m30s").unwrap(), 90_000_000_000);
        assert_eq!(go_duration("500ms").unwrap(), 500_000_000);
        assert_eq!(go_duration("0").unwrap(), 0);
        assert!(go_duration("10").is_err() && go_duration("1x").is_err());
    }

    #[test]
    fn port_specs_follow_nat() {
        let (e, b) = port_specs(&[
            "8080:80".into(),
            "127.0.0.1:53:53/udp".into(),
            "9000".into(),
        ])
        .unwrap();
        assert_eq!(
            e.keys().collect::<Vec<_>>(),
            ["53/udp", "80/tcp", "9000/tcp"]
        );
        let p80 = b["80/tcp"].as_ref().unwrap();
        assert_eq!(
            (p80[0].host_ip.as_str(), p80[0].host_port.as_str()),
            ("", "8080")
        );
        assert_eq!(b["53/udp"].as_ref().unwrap()[0].host_ip, "127.0.0.1");
        assert_eq!(b["9000/tcp"].as_ref().unwrap()[0].host_port, "");
        let (_, b) = port_specs(&["8000-8001:80-81".into()]).unwrap();
        assert_eq!(b["81/tcp"].as_ref().unwrap()[0].host_port, "8001");
        assert!(port_specs(&["x:80".into()]).is_err());
        assert!(port_specs(&["80/foo".into()]).is_err());
    }

    #[test]
    fn mounts_and_ulimits() {
        let m = mount("type=bind,source=/a,target=/b,readonly,bind-propagation=rshared").unwrap();
        assert_eq!(
            (m.r#type.as_str(), m.source.as_str(), m.target.as_str()),
            ("bind", "/a", "/b")
        );
        assert!(m.read_only);
        assert_eq!(m.bind_options.unwrap().propagation, "rshared");
        assert_eq!(
            mount("type=tmpfs,dst=/t,tmpfs-size=1m")
                .unwrap()
                .tmpfs_options
                .unwrap()
                .size_bytes,
            1 << 20
        );
        assert!(mount("type=bind,source=/a").is_err());
        assert!(mount("target=/b,bogus=1").is_err());
        let u = ulimit("nofile=1024:2048").unwrap();
        assert_eq!((u.soft, u.hard), (1024, 2048));
        assert_eq!(ulimit("nproc=10").unwrap().hard, 10);
        assert!(ulimit("nofile=9:1").is_err());
    }

    #[test]
    fn block_io_devices_like_docker() {
        assert_eq!(
            weight_device("/dev/sda:200").unwrap(),
            WeightDevice {
                path: "/dev/sda".into(),
                weight: 200
            }
        );
        assert_eq!(weight_device("/dev/sda:0").unwrap().weight, 0);
        assert_eq!(
            weight_device("/dev/sda:5").unwrap_err(),
            "invalid weight for device: /dev/sda:5"
        );
        assert_eq!(
            weight_device("sda:5").unwrap_err(),
            "bad format for device path: sda:5"
        );
        assert_eq!(weight_device("x").unwrap_err(), "bad format: x");
        assert_eq!(throttle_bps_device("/dev/sda:1mb").unwrap().rate, 1 << 20);
        assert!(
            throttle_bps_device("/dev/sda:x")
                .unwrap_err()
                .starts_with("invalid rate for device: /dev/sda:x. The correct format is <device-path>:<number>[<unit>].")
        );
        assert_eq!(throttle_iops_device("/dev/sda:1000").unwrap().rate, 1000);
        assert!(throttle_iops_device("/dev/sda:1k").is_err());
    }
}
