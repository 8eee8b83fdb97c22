//! The Go types docker v28's CLI decodes inspect answers into, as data: `docker
//! inspect --format` runs its template over the typed value first, so `{{json
//! .State}}` writes the struct's fields in declaration order, with the zero value of
//! a field the daemon did not send, without fields the type lacks, and without
//! empty `omitempty` fields; `{{.ID}}` names a Go field. [`reshape`] turns the
//! daemon's JSON into that typed value for the template engine.
//!
//! The types are those of the Engine API's Go module vendored by the docker CLI v28.2
//! (`api/types/container`, `network`, `mount`, `storage`); images are in
//! `goshape_image`, `version` and `info` in `goshape_system`.

use berth_gotmpl::{Data, Field as DataField, Nil};
use serde_json::Value;

/// A Go type, as far as its JSON encoding and its template view go.
#[derive(Debug)]
pub enum Shape {
    Str,
    /// Any integer type.
    Int,
    Bool,
    /// `time.Time` (its zero value encodes as `0001-01-01T00:00:00Z`): encoded as
    /// RFC 3339 with nanoseconds, printed by its `String` method.
    Time,
    /// `time.Duration`: encoded as integer nanoseconds, printed as `1m30s`.
    Duration,
    /// A type whose `MarshalJSON` encodes it through a `map[string]any`
    /// (`registry.ServiceConfig`): fields as `inner`'s, JSON keys sorted at every
    /// level.
    Sorted(&'static Shape),
    /// A pointer: `null` when absent.
    Ptr(&'static Shape),
    /// A slice: `null` when absent.
    List(&'static Shape),
    /// A fixed-size array of zeros when absent (`[2]uint`).
    Array(usize, &'static Shape),
    /// A map with string keys: `null` when absent, keys sorted.
    Map(&'static Shape),
    /// A struct: its fields in declaration order, the groups one after the other.
    Struct(&'static [&'static [Field]]),
    /// Something not modelled (`interface{}`, descriptors): the JSON as it came.
    Any,
}

/// A struct field.
#[derive(Debug)]
pub struct Field {
    /// The Go name templates use.
    pub go: &'static str,
    /// The JSON key.
    pub json: &'static str,
    pub shape: &'static Shape,
    /// `json:",omitempty"`.
    pub omit_empty: bool,
    /// An embedded struct (`go` is its type's name): its fields are read from the
    /// same JSON object, encoded inline, and reached from the outer struct.
    pub embedded: bool,
}

/// The JSON key of a field encoding/json never writes (`json:"-"`).
pub(crate) const NOT_ENCODED: &str = "-";

pub(crate) const fn f(name: &'static str, shape: &'static Shape) -> Field {
    Field {
        go: name,
        json: name,
        shape,
        omit_empty: false,
        embedded: false,
    }
}

/// An `omitempty` field.
pub(crate) const fn o(name: &'static str, shape: &'static Shape) -> Field {
    Field {
        omit_empty: true,
        ..f(name, shape)
    }
}

/// A field whose Go name differs from its JSON key.
pub(crate) const fn g(go: &'static str, json: &'static str, shape: &'static Shape) -> Field {
    Field {
        json,
        ..f(go, shape)
    }
}

/// An `omitempty` field whose Go name differs from its JSON key.
pub(crate) const fn og(go: &'static str, json: &'static str, shape: &'static Shape) -> Field {
    Field {
        json,
        ..o(go, shape)
    }
}

/// A field encoding/json never writes (`json:"-"`); templates still see it.
pub(crate) const fn n(name: &'static str, shape: &'static Shape) -> Field {
    Field {
        json: NOT_ENCODED,
        ..f(name, shape)
    }
}

/// An embedded struct (or pointer to one) of type `name`.
pub(crate) const fn e(name: &'static str, shape: &'static Shape) -> Field {
    Field {
        embedded: true,
        ..f(name, shape)
    }
}

use Shape::{Any, Bool, Duration, Int, Str, Time};

pub(crate) const STRS: &Shape = &Shape::List(&Str);
pub(crate) const STR_MAP: &Shape = &Shape::Map(&Str);
pub(crate) const EMPTY_STRUCT_MAP: &Shape = &Shape::Map(&Shape::Struct(&[]));
const PORT_MAP: &Shape = &Shape::Map(&Shape::List(&Shape::Struct(&[&[
    g("HostIP", "HostIp", &Str),
    f("HostPort", &Str),
]])));

const HEALTH_RESULT: &[Field] = &[
    f("Start", &Time),
    f("End", &Time),
    f("ExitCode", &Int),
    f("Output", &Str),
];

const HEALTH: &[Field] = &[
    f("Status", &Str),
    f("FailingStreak", &Int),
    f(
        "Log",
        &Shape::List(&Shape::Ptr(&Shape::Struct(&[HEALTH_RESULT]))),
    ),
];

const STATE: &[Field] = &[
    f("Status", &Str),
    f("Running", &Bool),
    f("Paused", &Bool),
    f("Restarting", &Bool),
    f("OOMKilled", &Bool),
    f("Dead", &Bool),
    f("Pid", &Int),
    f("ExitCode", &Int),
    f("Error", &Str),
    f("StartedAt", &Str),
    f("FinishedAt", &Str),
    o("Health", &Shape::Ptr(&Shape::Struct(&[HEALTH]))),
];

/// `container.HealthConfig` (also the image spec's `HealthcheckConfig`).
pub(crate) const HEALTH_CONFIG: &[Field] = &[
    o("Test", STRS),
    o("Interval", &Duration),
    o("Timeout", &Duration),
    o("StartPeriod", &Duration),
    o("StartInterval", &Duration),
    o("Retries", &Int),
];

/// `container.Config`.
pub(crate) const CONFIG: &[Field] = &[
    f("Hostname", &Str),
    f("Domainname", &Str),
    f("User", &Str),
    f("AttachStdin", &Bool),
    f("AttachStdout", &Bool),
    f("AttachStderr", &Bool),
    o("ExposedPorts", EMPTY_STRUCT_MAP),
    f("Tty", &Bool),
    f("OpenStdin", &Bool),
    f("StdinOnce", &Bool),
    f("Env", STRS),
    f("Cmd", STRS),
    o("Healthcheck", &Shape::Ptr(&Shape::Struct(&[HEALTH_CONFIG]))),
    o("ArgsEscaped", &Bool),
    f("Image", &Str),
    f("Volumes", EMPTY_STRUCT_MAP),
    f("WorkingDir", &Str),
    f("Entrypoint", STRS),
    o("NetworkDisabled", &Bool),
    o("MacAddress", &Str),
    f("OnBuild", STRS),
    f("Labels", STR_MAP),
    o("StopSignal", &Str),
    o("StopTimeout", &Shape::Ptr(&Int)),
    o("Shell", STRS),
];

const WEIGHT_DEVICES: &Shape = &Shape::List(&Shape::Ptr(&Shape::Struct(&[&[
    f("Path", &Str),
    f("Weight", &Int),
]])));

const THROTTLE_DEVICES: &Shape = &Shape::List(&Shape::Ptr(&Shape::Struct(&[&[
    f("Path", &Str),
    f("Rate", &Int),
]])));

const RESOURCES: &[Field] = &[
    g("CPUShares", "CpuShares", &Int),
    f("Memory", &Int),
    g("NanoCPUs", "NanoCpus", &Int),
    f("CgroupParent", &Str),
    f("BlkioWeight", &Int),
    f("BlkioWeightDevice", WEIGHT_DEVICES),
    f("BlkioDeviceReadBps", THROTTLE_DEVICES),
    f("BlkioDeviceWriteBps", THROTTLE_DEVICES),
    f("BlkioDeviceReadIOps", THROTTLE_DEVICES),
    f("BlkioDeviceWriteIOps", THROTTLE_DEVICES),
    g("CPUPeriod", "CpuPeriod", &Int),
    g("CPUQuota", "CpuQuota", &Int),
    g("CPURealtimePeriod", "CpuRealtimePeriod", &Int),
    g("CPURealtimeRuntime", "CpuRealtimeRuntime", &Int),
    f("CpusetCpus", &Str),
    f("CpusetMems", &Str),
    f(
        "Devices",
        &Shape::List(&Shape::Struct(&[&[
            f("PathOnHost", &Str),
            f("PathInContainer", &Str),
            f("CgroupPermissions", &Str),
        ]])),
    ),
    f("DeviceCgroupRules", STRS),
    f(
        "DeviceRequests",
        &Shape::List(&Shape::Struct(&[&[
            f("Driver", &Str),
            f("Count", &Int),
            g("DeviceIDs", "DeviceIDs", STRS),
            f("Capabilities", &Shape::List(STRS)),
            f("Options", STR_MAP),
        ]])),
    ),
    o("KernelMemory", &Int),
    o("KernelMemoryTCP", &Int),
    f("MemoryReservation", &Int),
    f("MemorySwap", &Int),
    f("MemorySwappiness", &Shape::Ptr(&Int)),
    f("OomKillDisable", &Shape::Ptr(&Bool)),
    f("PidsLimit", &Shape::Ptr(&Int)),
    f(
        "Ulimits",
        &Shape::List(&Shape::Ptr(&Shape::Struct(&[&[
            f("Name", &Str),
            f("Hard", &Int),
            f("Soft", &Int),
        ]]))),
    ),
    g("CPUCount", "CpuCount", &Int),
    g("CPUPercent", "CpuPercent", &Int),
    f("IOMaximumIOps", &Int),
    f("IOMaximumBandwidth", &Int),
];

const MOUNT: &[Field] = &[
    o("Type", &Str),
    o("Source", &Str),
    o("Target", &Str),
    o("ReadOnly", &Bool),
    o("Consistency", &Str),
    o(
        "BindOptions",
        &Shape::Ptr(&Shape::Struct(&[&[
            o("Propagation", &Str),
            o("NonRecursive", &Bool),
            o("CreateMountpoint", &Bool),
            o("ReadOnlyNonRecursive", &Bool),
            o("ReadOnlyForceRecursive", &Bool),
        ]])),
    ),
    o(
        "VolumeOptions",
        &Shape::Ptr(&Shape::Struct(&[&[
            o("NoCopy", &Bool),
            o("Labels", STR_MAP),
            o("Subpath", &Str),
            o(
                "DriverConfig",
                &Shape::Ptr(&Shape::Struct(&[&[o("Name", &Str), o("Options", STR_MAP)]])),
            ),
        ]])),
    ),
    o("ImageOptions", &Shape::Ptr(&Any)),
    o(
        "TmpfsOptions",
        &Shape::Ptr(&Shape::Struct(&[&[
            o("SizeBytes", &Int),
            o("Mode", &Int),
            o("Options", &Shape::List(STRS)),
        ]])),
    ),
    o("ClusterOptions", &Shape::Ptr(&Any)),
];

const HOST_CONFIG_HEAD: &[Field] = &[
    f("Binds", STRS),
    f("ContainerIDFile", &Str),
    f(
        "LogConfig",
        &Shape::Struct(&[&[f("Type", &Str), f("Config", STR_MAP)]]),
    ),
    f("NetworkMode", &Str),
    f("PortBindings", PORT_MAP),
    f(
        "RestartPolicy",
        &Shape::Struct(&[&[f("Name", &Str), f("MaximumRetryCount", &Int)]]),
    ),
    f("AutoRemove", &Bool),
    f("VolumeDriver", &Str),
    f("VolumesFrom", STRS),
    f("ConsoleSize", &Shape::Array(2, &Int)),
    o("Annotations", STR_MAP),
    f("CapAdd", STRS),
    f("CapDrop", STRS),
    f("CgroupnsMode", &Str),
    g("DNS", "Dns", STRS),
    g("DNSOptions", "DnsOptions", STRS),
    g("DNSSearch", "DnsSearch", STRS),
    f("ExtraHosts", STRS),
    f("GroupAdd", STRS),
    f("IpcMode", &Str),
    f("Cgroup", &Str),
    f("Links", STRS),
    f("OomScoreAdj", &Int),
    f("PidMode", &Str),
    f("Privileged", &Bool),
    f("PublishAllPorts", &Bool),
    f("ReadonlyRootfs", &Bool),
    f("SecurityOpt", STRS),
    o("StorageOpt", STR_MAP),
    o("Tmpfs", STR_MAP),
    f("UTSMode", &Str),
    f("UsernsMode", &Str),
    f("ShmSize", &Int),
    o("Sysctls", STR_MAP),
    o("Runtime", &Str),
    f("Isolation", &Str),
];

const HOST_CONFIG_TAIL: &[Field] = &[
    o("Mounts", &Shape::List(&Shape::Struct(&[MOUNT]))),
    f("MaskedPaths", STRS),
    f("ReadonlyPaths", STRS),
    o("Init", &Shape::Ptr(&Bool)),
];

const ADDRESSES: &Shape = &Shape::List(&Shape::Struct(&[&[f("Addr", &Str), f("PrefixLen", &Int)]]));

const ENDPOINT: &[Field] = &[
    g(
        "IPAMConfig",
        "IPAMConfig",
        &Shape::Ptr(&Shape::Struct(&[&[
            o("IPv4Address", &Str),
            o("IPv6Address", &Str),
            o("LinkLocalIPs", STRS),
        ]])),
    ),
    f("Links", STRS),
    f("Aliases", STRS),
    f("MacAddress", &Str),
    f("DriverOpts", STR_MAP),
    f("GwPriority", &Int),
    f("NetworkID", &Str),
    f("EndpointID", &Str),
    f("Gateway", &Str),
    f("IPAddress", &Str),
    f("IPPrefixLen", &Int),
    f("IPv6Gateway", &Str),
    f("GlobalIPv6Address", &Str),
    f("GlobalIPv6PrefixLen", &Int),
    f("DNSNames", STRS),
];

const NETWORK_SETTINGS: &[Field] = &[
    e(
        "NetworkSettingsBase",
        &Shape::Struct(&[NETWORK_SETTINGS_BASE]),
    ),
    e(
        "DefaultNetworkSettings",
        &Shape::Struct(&[DEFAULT_NETWORK_SETTINGS]),
    ),
    f(
        "Networks",
        &Shape::Map(&Shape::Ptr(&Shape::Struct(&[ENDPOINT]))),
    ),
];

const NETWORK_SETTINGS_BASE: &[Field] = &[
    f("Bridge", &Str),
    f("SandboxID", &Str),
    f("SandboxKey", &Str),
    f("Ports", PORT_MAP),
    f("HairpinMode", &Bool),
    f("LinkLocalIPv6Address", &Str),
    f("LinkLocalIPv6PrefixLen", &Int),
    f("SecondaryIPAddresses", ADDRESSES),
    f("SecondaryIPv6Addresses", ADDRESSES),
];

const DEFAULT_NETWORK_SETTINGS: &[Field] = &[
    f("EndpointID", &Str),
    f("Gateway", &Str),
    f("GlobalIPv6Address", &Str),
    f("GlobalIPv6PrefixLen", &Int),
    f("IPAddress", &Str),
    f("IPPrefixLen", &Int),
    f("IPv6Gateway", &Str),
    f("MacAddress", &Str),
];

const MOUNT_POINT: &[Field] = &[
    o("Type", &Str),
    o("Name", &Str),
    f("Source", &Str),
    f("Destination", &Str),
    o("Driver", &Str),
    f("Mode", &Str),
    f("RW", &Bool),
    f("Propagation", &Str),
];

/// `container.InspectResponse` (`GET /containers/{id}/json`).
pub const CONTAINER: Shape = Shape::Struct(&[&[
    e(
        "ContainerJSONBase",
        &Shape::Ptr(&Shape::Struct(&[CONTAINER_BASE])),
    ),
    f("Mounts", &Shape::List(&Shape::Struct(&[MOUNT_POINT]))),
    f("Config", &Shape::Ptr(&Shape::Struct(&[CONFIG]))),
    f(
        "NetworkSettings",
        &Shape::Ptr(&Shape::Struct(&[NETWORK_SETTINGS])),
    ),
    o("ImageManifestDescriptor", &Shape::Ptr(&Any)),
]]);

const CONTAINER_BASE: &[Field] = &[
    g("ID", "Id", &Str),
    f("Created", &Str),
    f("Path", &Str),
    f("Args", STRS),
    f("State", &Shape::Ptr(&Shape::Struct(&[STATE]))),
    f("Image", &Str),
    f("ResolvConfPath", &Str),
    f("HostnamePath", &Str),
    f("HostsPath", &Str),
    f("LogPath", &Str),
    f("Name", &Str),
    f("RestartCount", &Int),
    f("Driver", &Str),
    f("Platform", &Str),
    f("MountLabel", &Str),
    f("ProcessLabel", &Str),
    f("AppArmorProfile", &Str),
    g("ExecIDs", "ExecIDs", STRS),
    f(
        "HostConfig",
        &Shape::Ptr(&Shape::Struct(&[
            HOST_CONFIG_HEAD,
            &[e("Resources", &Shape::Struct(&[RESOURCES]))],
            HOST_CONFIG_TAIL,
        ])),
    ),
    f(
        "GraphDriver",
        &Shape::Struct(&[&[f("Data", STR_MAP), f("Name", &Str)]]),
    ),
    o("SizeRw", &Shape::Ptr(&Int)),
    o("SizeRootFs", &Shape::Ptr(&Int)),
];

/// `network.Inspect` (`GET /networks/{id}`).
pub const NETWORK: Shape = Shape::Struct(&[&[
    f("Name", &Str),
    g("ID", "Id", &Str),
    f("Created", &Time),
    f("Scope", &Str),
    f("Driver", &Str),
    f("EnableIPv4", &Bool),
    f("EnableIPv6", &Bool),
    g(
        "IPAM",
        "IPAM",
        &Shape::Struct(&[&[
            f("Driver", &Str),
            f("Options", STR_MAP),
            f(
                "Config",
                &Shape::List(&Shape::Struct(&[&[
                    o("Subnet", &Str),
                    o("IPRange", &Str),
                    o("Gateway", &Str),
                    og("AuxAddress", "AuxiliaryAddresses", STR_MAP),
                ]])),
            ),
        ]]),
    ),
    f("Internal", &Bool),
    f("Attachable", &Bool),
    f("Ingress", &Bool),
    f("ConfigFrom", &Shape::Struct(&[&[f("Network", &Str)]])),
    f("ConfigOnly", &Bool),
    f(
        "Containers",
        &Shape::Map(&Shape::Struct(&[&[
            f("Name", &Str),
            f("EndpointID", &Str),
            f("MacAddress", &Str),
            f("IPv4Address", &Str),
            f("IPv6Address", &Str),
        ]])),
    ),
    f("Options", STR_MAP),
    f("Labels", STR_MAP),
    o(
        "Peers",
        &Shape::List(&Shape::Struct(&[&[f("Name", &Str), f("IP", &Str)]])),
    ),
    o("Services", &Shape::Map(&Any)),
]]);

/// The typed view of `v` as a value of `shape`: what Go's `json.Unmarshal` into the
/// type makes of it (unknown keys dropped, missing fields zero), seen by a template.
pub fn reshape(v: &Value, shape: &Shape) -> Data {
    match shape {
        Shape::Str | Shape::Int | Shape::Bool => match v {
            Value::Null => zero(shape),
            v => Data::Json(v.clone()),
        },
        Shape::Time => match v.as_str() {
            Some(t) => time_data(t),
            None => zero(shape),
        },
        Shape::Duration => match v.as_i64() {
            Some(n) => duration_data(n),
            None => zero(shape),
        },
        Shape::Sorted(inner) => {
            let value = reshape(v, inner);
            Data::Custom {
                json: Some(value.to_json()),
                value: Box::new(value),
                text: None,
            }
        }
        Shape::Any => Data::Json(v.clone()),
        Shape::Ptr(inner) => match v {
            Value::Null => zero(shape),
            v => reshape(v, inner),
        },
        Shape::List(inner) | Shape::Array(_, inner) => match v {
            Value::Array(a) => Data::List(a.iter().map(|e| reshape(e, inner)).collect()),
            _ => zero(shape),
        },
        Shape::Map(inner) => match v {
            Value::Object(m) => Data::Map(
                m.iter()
                    .map(|(k, e)| (k.clone(), reshape(e, inner)))
                    .collect(),
            ),
            _ => zero(shape),
        },
        Shape::Struct(groups) => {
            let obj = v.as_object();
            Data::Struct(
                groups
                    .iter()
                    .flat_map(|g| g.iter())
                    .map(|field| {
                        let value = match obj.and_then(|m| m.get(field.json)) {
                            // An embedded struct reads the same object.
                            _ if field.embedded => reshape(v, field.shape),
                            _ if field.json == NOT_ENCODED => zero(field.shape),
                            Some(x) => reshape(x, field.shape),
                            None => zero(field.shape),
                        };
                        let omitted = field.json == NOT_ENCODED
                            || field.omit_empty && is_empty(&value, field.shape);
                        DataField {
                            name: field.go.to_string(),
                            json: (!omitted).then(|| field.json.to_string()),
                            value,
                            embedded: field.embedded,
                        }
                    })
                    .collect(),
            )
        }
    }
}

/// Go's zero value of `shape`.
fn zero(shape: &Shape) -> Data {
    match shape {
        Shape::Str => Data::Json(Value::from("")),
        Shape::Int => Data::Json(Value::from(0)),
        Shape::Bool => Data::Json(Value::from(false)),
        Shape::Time => time_data("0001-01-01T00:00:00Z"),
        Shape::Duration => duration_data(0),
        Shape::Sorted(_) => reshape(&Value::Null, shape),
        Shape::Array(n, inner) => Data::List((0..*n).map(|_| zero(inner)).collect()),
        Shape::Struct(_) => reshape(&Value::Null, shape),
        Shape::Ptr(_) => Data::Nil(Nil::Pointer),
        Shape::List(_) => Data::Nil(Nil::Slice),
        Shape::Map(_) => Data::Nil(Nil::Map),
        Shape::Any => Data::Json(Value::Null),
    }
}

/// encoding/json's "empty" for `omitempty`: false, 0, "", a nil pointer, an empty
/// slice or map. A struct (and a `time.Time`) never is.
fn is_empty(d: &Data, shape: &Shape) -> bool {
    match (shape, d) {
        (Shape::Struct(_) | Shape::Time | Shape::Sorted(_), _) => false,
        (Shape::Duration, Data::Custom { value, .. }) => is_empty(value, &Shape::Int),
        (_, Data::Json(Value::Null) | Data::Nil(_)) => true,
        (Shape::Ptr(_), _) => false,
        (_, Data::Json(Value::Bool(b))) => !b,
        (_, Data::Json(Value::Number(n))) => n.as_f64() == Some(0.0),
        (_, Data::Json(Value::String(s))) => s.is_empty(),
        (_, Data::Json(Value::Array(a))) => a.is_empty(),
        (_, Data::Json(Value::Object(m))) => m.is_empty(),
        (_, Data::List(l)) => l.is_empty(),
        (_, Data::Map(m)) => m.is_empty(),
        (_, Data::Struct(_) | Data::Custom { .. }) => false,
    }
}

/// A `time.Time` from its RFC 3339 text: encoded as Go re-encodes it (`Z` for a
/// zero offset, no trailing zeros in the fraction), printed as `String` prints it.
/// Text that is no RFC 3339 time stays as it came.
fn time_data(rfc3339: &str) -> Data {
    let json = match rfc3339.parse::<jiff::Timestamp>() {
        Ok(_) => {
            let s = crate::cmd::network::go_time_string(rfc3339);
            // `2006-01-02 15:04:05.999 -0700 MST` back into RFC 3339.
            let mut parts = s.splitn(4, ' ');
            let (date, time, off) = (
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
            );
            let zone = match off {
                "+0000" | "-0000" => "Z".to_string(),
                o if o.len() == 5 => format!("{}:{}", &o[..3], &o[3..]),
                _ => String::new(),
            };
            format!("{date}T{time}{zone}")
        }
        Err(_) => rfc3339.to_string(),
    };
    Data::Custom {
        value: Box::new(Data::Json(Value::from(json.clone()))),
        text: Some(crate::cmd::network::go_time_string(rfc3339)),
        json: Some(Value::from(json)),
    }
}

/// A `time.Duration` of `nanos`.
fn duration_data(nanos: i64) -> Data {
    Data::Custom {
        value: Box::new(Data::Json(Value::from(nanos))),
        json: None,
        text: Some(go_duration(nanos)),
    }
}

/// Go's `time.Duration.String`: `1h2m3.5s`, `1.5ms`, `0s`.
pub fn go_duration(nanos: i64) -> String {
    // The fraction of `v` below 10^prec, without trailing zeros, and the rest.
    fn frac(v: u64, prec: u32) -> (String, u64) {
        let unit = 10u64.pow(prec);
        let digits = format!("{:0width$}", v % unit, width = prec as usize);
        let digits = digits.trim_end_matches('0');
        let f = if digits.is_empty() {
            String::new()
        } else {
            format!(".{digits}")
        };
        (f, v / unit)
    }
    let u = nanos.unsigned_abs();
    let sign = if nanos < 0 { "-" } else { "" };
    if u == 0 {
        return "0s".into();
    }
    if u < 1_000_000_000 {
        let (prec, unit) = if u < 1_000 {
            (0, "ns")
        } else if u < 1_000_000 {
            (3, "µs")
        } else {
            (6, "ms")
        };
        let (f, whole) = frac(u, prec);
        return format!("{sign}{whole}{f}{unit}");
    }
    let (f, secs) = frac(u, 9);
    let mut out = format!("{}{f}s", secs % 60);
    let mins = secs / 60;
    if mins > 0 {
        out = format!("{}m{out}", mins % 60);
        let hours = mins / 60;
        if hours > 0 {
            out = format!("{hours}h{out}");
        }
    }
    format!("{sign}{out}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_gotmpl::Template;

    fn render(src: &str, v: &Value, shape: &Shape) -> String {
        let mut out = String::new();
        Template::parse(src)
            .expect("parse")
            .execute_data(&reshape(v, shape), &mut out)
            .expect("execute");
        out
    }

    #[test]
    fn state_in_struct_order() {
        let v = serde_json::json!({"Id": "abc", "State": {"Dead": false, "Pid": 7, "Status": "running", "Unknown": 1}});
        assert_eq!(
            render("{{json .State}}", &v, &CONTAINER),
            r#"{"Status":"running","Running":false,"Paused":false,"Restarting":false,"OOMKilled":false,"Dead":false,"Pid":7,"ExitCode":0,"Error":"","StartedAt":"","FinishedAt":""}"#
        );
        assert_eq!(
            render("{{.ID}} {{.State.Health}}", &v, &CONTAINER),
            "abc <nil>"
        );
    }

    #[test]
    fn durations_as_go_prints_them() {
        for (n, s) in [
            (0, "0s"),
            (999, "999ns"),
            (1_500, "1.5µs"),
            (1_500_000, "1.5ms"),
            (30_000_000_000, "30s"),
            (90_500_000_000, "1m30.5s"),
            (3_600_000_000_000, "1h0m0s"),
            (-2_000_000, "-2ms"),
        ] {
            assert_eq!(go_duration(n), s);
        }
    }

    #[test]
    fn omitempty_and_pointers() {
        let v = serde_json::json!({"SizeRw": 0, "HostConfig": {"KernelMemory": 0, "ConsoleSize": null}});
        let d = render("{{json .}}", &v, &CONTAINER);
        // A pointer to zero is not empty; a zero int is.
        assert!(d.contains(r#""SizeRw":0"#), "{d}");
        assert!(!d.contains("SizeRootFs"), "{d}");
        let h = render("{{json .HostConfig}}", &v, &CONTAINER);
        assert!(!h.contains("KernelMemory"), "{h}");
        assert!(h.contains(r#""ConsoleSize":[0,0]"#), "{h}");
        assert!(h.contains(r#""CpuShares":0"#), "{h}");
    }
}
