//! The Go values docker v28's `version --format` and `info --format` templates run
//! over, as data (see [`super::goshape`]): the CLI's own `versionInfo {Client,
//! Server}` with the Engine API's `types.Version` as `Server`, and the CLI's
//! `dockerInfo`, which embeds `system.Info` and adds the client's half.
//!
//! [`version_view`] and [`info_view`] build them from the daemon's JSON and the
//! client's own description; [`template`] and [`execute`] run a `--format` the way
//! those two commands do (their own template names, no `\t` expansion, docker's
//! wording of a missing field).

use berth_gotmpl::{Data, Funcs, Template};
use serde_json::{Value, json};

use super::goshape::{STR_MAP, STRS, Shape, e, f, g, n, o, og, reshape};
use Shape::{Any, Bool, Int, Str};

/// The CLI's `clientVersion`: every field but `Context` is `omitempty`, and
/// `Platform` is nil unless the build names a platform.
const CLIENT_VERSION: &Shape = &Shape::Struct(&[&[
    o(
        "Platform",
        &Shape::Ptr(&Shape::Struct(&[&[o("Name", &Str)]])),
    ),
    o("Version", &Str),
    og("APIVersion", "ApiVersion", &Str),
    o("DefaultAPIVersion", &Str),
    o("GitCommit", &Str),
    o("GoVersion", &Str),
    o("Os", &Str),
    o("Arch", &Str),
    o("BuildTime", &Str),
    f("Context", &Str),
]]);

/// `types.Version` (`GET /version`).
const SERVER_VERSION: &Shape = &Shape::Struct(&[&[
    // A struct: `omitempty` never leaves it out.
    o("Platform", &Shape::Struct(&[&[f("Name", &Str)]])),
    o(
        "Components",
        &Shape::List(&Shape::Struct(&[&[
            f("Name", &Str),
            f("Version", &Str),
            o("Details", STR_MAP),
        ]])),
    ),
    f("Version", &Str),
    g("APIVersion", "ApiVersion", &Str),
    o("MinAPIVersion", &Str),
    f("GitCommit", &Str),
    f("GoVersion", &Str),
    f("Os", &Str),
    f("Arch", &Str),
    o("KernelVersion", &Str),
    o("Experimental", &Bool),
    o("BuildTime", &Str),
]]);

/// The CLI's `versionInfo`.
pub const VERSION_INFO: Shape = Shape::Struct(&[&[
    f("Client", CLIENT_VERSION),
    f("Server", &Shape::Ptr(SERVER_VERSION)),
]]);

const PAIRS: &Shape = &Shape::List(&Shape::Array(2, &Str));

const COMMIT: &Shape = &Shape::Struct(&[&[f("ID", &Str), o("Expected", &Str)]]);

/// `registry.ServiceConfig`: its `MarshalJSON` goes through a map, so its JSON keys
/// come out sorted.
const SERVICE_CONFIG: &Shape = &Shape::Sorted(&Shape::Struct(&[&[
    o("AllowNondistributableArtifactsCIDRs", STRS),
    o("AllowNondistributableArtifactsHostnames", STRS),
    f("InsecureRegistryCIDRs", STRS),
    f(
        "IndexConfigs",
        &Shape::Map(&Shape::Ptr(&Shape::Struct(&[&[
            f("Name", &Str),
            f("Mirrors", STRS),
            f("Secure", &Bool),
            f("Official", &Bool),
        ]]))),
    ),
    f("Mirrors", STRS),
    n("ExtraFields", &Shape::Map(&Any)),
]]));

/// `system.RuntimeWithStatus`, which embeds `system.Runtime`.
const RUNTIME: &Shape = &Shape::Struct(&[&[
    e(
        "Runtime",
        &Shape::Struct(&[&[
            og("Path", "path", &Str),
            og("Args", "runtimeArgs", STRS),
            og("Type", "runtimeType", &Str),
            og("Options", "options", &Shape::Map(&Any)),
        ]]),
    ),
    og("Status", "status", STR_MAP),
]]);

/// `swarm.Info` (a cluster's details are not modelled: berthd has no swarm).
const SWARM: &Shape = &Shape::Struct(&[&[
    f("NodeID", &Str),
    f("NodeAddr", &Str),
    f("LocalNodeState", &Str),
    f("ControlAvailable", &Bool),
    f("Error", &Str),
    f(
        "RemoteManagers",
        &Shape::List(&Shape::Struct(&[&[f("NodeID", &Str), f("Addr", &Str)]])),
    ),
    o("Nodes", &Int),
    o("Managers", &Int),
    o("Cluster", &Shape::Ptr(&Any)),
    o("Warnings", STRS),
]]);

const GENERIC_RESOURCE: &Shape = &Shape::Struct(&[&[
    o(
        "NamedResourceSpec",
        &Shape::Ptr(&Shape::Struct(&[&[f("Kind", &Str), f("Value", &Str)]])),
    ),
    o(
        "DiscreteResourceSpec",
        &Shape::Ptr(&Shape::Struct(&[&[f("Kind", &Str), f("Value", &Int)]])),
    ),
]]);

/// `system.Info` (`GET /info`).
const INFO: &[super::goshape::Field] = &[
    f("ID", &Str),
    f("Containers", &Int),
    f("ContainersRunning", &Int),
    f("ContainersPaused", &Int),
    f("ContainersStopped", &Int),
    f("Images", &Int),
    f("Driver", &Str),
    f("DriverStatus", PAIRS),
    o("SystemStatus", PAIRS),
    f(
        "Plugins",
        &Shape::Struct(&[&[
            f("Volume", STRS),
            f("Network", STRS),
            f("Authorization", STRS),
            f("Log", STRS),
        ]]),
    ),
    f("MemoryLimit", &Bool),
    f("SwapLimit", &Bool),
    o("KernelMemory", &Bool),
    o("KernelMemoryTCP", &Bool),
    g("CPUCfsPeriod", "CpuCfsPeriod", &Bool),
    g("CPUCfsQuota", "CpuCfsQuota", &Bool),
    f("CPUShares", &Bool),
    f("CPUSet", &Bool),
    f("PidsLimit", &Bool),
    f("IPv4Forwarding", &Bool),
    f("Debug", &Bool),
    f("NFd", &Int),
    f("OomKillDisable", &Bool),
    f("NGoroutines", &Int),
    f("SystemTime", &Str),
    f("LoggingDriver", &Str),
    f("CgroupDriver", &Str),
    o("CgroupVersion", &Str),
    f("NEventsListener", &Int),
    f("KernelVersion", &Str),
    f("OperatingSystem", &Str),
    f("OSVersion", &Str),
    f("OSType", &Str),
    f("Architecture", &Str),
    f("IndexServerAddress", &Str),
    f("RegistryConfig", &Shape::Ptr(SERVICE_CONFIG)),
    f("NCPU", &Int),
    f("MemTotal", &Int),
    f("GenericResources", &Shape::List(GENERIC_RESOURCE)),
    f("DockerRootDir", &Str),
    g("HTTPProxy", "HttpProxy", &Str),
    g("HTTPSProxy", "HttpsProxy", &Str),
    f("NoProxy", &Str),
    f("Name", &Str),
    f("Labels", STRS),
    f("ExperimentalBuild", &Bool),
    f("ServerVersion", &Str),
    f("Runtimes", &Shape::Map(RUNTIME)),
    f("DefaultRuntime", &Str),
    f("Swarm", SWARM),
    f("LiveRestoreEnabled", &Bool),
    f("Isolation", &Str),
    f("InitBinary", &Str),
    f("ContainerdCommit", COMMIT),
    f("RuncCommit", COMMIT),
    f("InitCommit", COMMIT),
    f("SecurityOptions", STRS),
    o("ProductLicense", &Str),
    o(
        "DefaultAddressPools",
        &Shape::List(&Shape::Struct(&[&[f("Base", &Str), f("Size", &Int)]])),
    ),
    o(
        "FirewallBackend",
        &Shape::Ptr(&Shape::Struct(&[&[f("Driver", &Str), o("Info", PAIRS)]])),
    ),
    f("CDISpecDirs", STRS),
    o(
        "DiscoveredDevices",
        &Shape::List(&Shape::Struct(&[&[f("Source", &Str), f("ID", &Str)]])),
    ),
    o(
        "Containerd",
        &Shape::Ptr(&Shape::Struct(&[&[
            o("Address", &Str),
            f(
                "Namespaces",
                &Shape::Struct(&[&[f("Containers", &Str), f("Plugins", &Str)]]),
            ),
        ]])),
    ),
    f("Warnings", STRS),
];

/// The CLI's `clientInfo`, which embeds `clientVersion`.
const CLIENT_INFO: &Shape = &Shape::Struct(&[&[
    f("Debug", &Bool),
    e("clientVersion", CLIENT_VERSION),
    // CLI plugins: berth has none to list.
    f("Plugins", &Shape::List(&Any)),
    f("Warnings", STRS),
]]);

/// The CLI's `dockerInfo`: `system.Info` embedded (its fields at the top level of
/// the JSON), then the errors and the client's half.
pub const DOCKER_INFO: Shape = Shape::Struct(&[&[
    e("Info", &Shape::Ptr(&Shape::Struct(&[INFO]))),
    o("ServerErrors", STRS),
    n("UserName", &Str),
    o("ClientInfo", &Shape::Ptr(CLIENT_INFO)),
    o("ClientErrors", STRS),
]]);

/// What `info` runs a template over first, to learn whether it needs the daemon.
const CLIENT_ONLY_INFO: Shape = Shape::Struct(&[&[
    o("ClientInfo", &Shape::Ptr(CLIENT_INFO)),
    o("ClientErrors", STRS),
]]);

/// Go's architecture names.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        a => a,
    }
}

/// The client half of `version` and `info` (docker's `clientVersion`; what berth
/// has no value for stays empty, and `omitempty` leaves it out). `api` is the
/// negotiated version, which `info` leaves out; `context` the one this run uses.
pub fn client_version(api: Option<&str>, context: &str) -> Value {
    json!({
        "Version": env!("CARGO_PKG_VERSION"),
        "ApiVersion": api,
        "DefaultAPIVersion": berth_client::CLIENT_API_VERSION,
        "Os": "linux",
        "Arch": go_arch(),
        "Context": context,
    })
}

/// `version`'s data: `client` is the client's `clientVersion` as JSON, `server`
/// the daemon's `/version` answer if it gave one. Like docker, an Engine
/// component's RFC 3339 `BuildTime` is rewritten in `time.ANSIC`, and a daemon
/// that lists no Engine component gets one made of its top-level fields.
pub fn version_view(client: &Value, server: Option<&Value>) -> Data {
    let server = server.map(|s| {
        let mut s = s.clone();
        engine_component(&mut s);
        s
    });
    reshape(&json!({"Client": client, "Server": server}), &VERSION_INFO)
}

fn engine_component(server: &mut Value) {
    let comps = server["Components"].as_array().cloned().unwrap_or_default();
    let mut found = false;
    let mut comps: Vec<Value> = comps
        .into_iter()
        .map(|mut c| {
            if c["Name"] == "Engine" {
                found = true;
                if let Some(t) = c["Details"]["BuildTime"].as_str() {
                    let t = ansic(t);
                    c["Details"]["BuildTime"] = Value::from(t);
                }
            }
            c
        })
        .collect();
    if !found {
        let s = |k: &str| server[k].as_str().unwrap_or("").to_string();
        comps.push(json!({
            "Name": "Engine",
            "Version": s("Version"),
            "Details": {
                "ApiVersion": s("ApiVersion"),
                "MinAPIVersion": s("MinAPIVersion"),
                "GitCommit": s("GitCommit"),
                "GoVersion": s("GoVersion"),
                "Os": s("Os"),
                "Arch": s("Arch"),
                "BuildTime": ansic(&s("BuildTime")),
                "Experimental": server["Experimental"].as_bool().unwrap_or(false).to_string(),
            },
        }));
    }
    server["Components"] = Value::Array(comps);
}

/// An RFC 3339 time in Go's `time.ANSIC` layout, in its own offset (`Mon Jan  2
/// 15:04:05 2006`); other text as it is.
fn ansic(t: &str) -> String {
    let Ok(ts) = t.parse::<jiff::Timestamp>() else {
        return t.to_string();
    };
    // The wall clock as written: the text before the offset.
    let civil = t
        .get(..19)
        .and_then(|c| c.parse::<jiff::civil::DateTime>().ok());
    match civil {
        Some(dt) => dt.strftime("%a %b %e %H:%M:%S %Y").to_string(),
        None => ts.strftime("%a %b %e %H:%M:%S %Y").to_string(),
    }
}

/// `info`'s data: the daemon's `/info` answer (`None`: it gave none, so the
/// embedded `system.Info` is the zero value docker starts with), the client's half
/// (`clientInfo` as JSON) and the daemon's errors other than a failed connection.
pub fn info_view(info: Option<&Value>, client: &Value, server_errors: &[String]) -> Data {
    let mut v = match info {
        Some(Value::Object(m)) => Value::Object(m.clone()),
        _ => json!({}),
    };
    v["ClientInfo"] = client.clone();
    if !server_errors.is_empty() {
        v["ServerErrors"] = json!(server_errors);
    }
    reshape(&v, &DOCKER_INFO)
}

/// Whether an `info` template needs the daemon: docker runs it over the client's
/// half alone and asks the daemon only when that fails (or for the whole JSON, or a
/// template without actions).
pub fn info_needs_server(format: &str, client: &Value) -> bool {
    if matches!(format, "json" | "{{json .}}") || !(format.contains("{{") && format.contains("}}"))
    {
        return true;
    }
    let Ok(t) = Template::parse(format) else {
        return true;
    };
    let data = reshape(&json!({"ClientInfo": client}), &CLIENT_ONLY_INFO);
    t.execute_data(&data, &mut String::new()).is_err()
}

/// Parses a `version` (`name` "version") or `info` (`name` "") `--format`: `json`
/// stands for `{{json .}}`; nothing else is rewritten. The error is docker's
/// message (status 64).
pub fn template(name: &str, format: &str) -> Result<Template, String> {
    let text = if format == "json" {
        "{{json .}}"
    } else {
        format
    };
    // `version` offers `getDetailsOrder`: a component's detail keys, sorted.
    let funcs = Funcs::new().with("getDetailsOrder", |args| {
        let mut keys: Vec<Value> = args
            .first()
            .and_then(|c| c["Details"].as_object())
            .map(|d| d.keys().map(|k| Value::from(k.as_str())).collect())
            .unwrap_or_default();
        keys.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        Ok(Value::Array(keys))
    });
    Template::parse_with(name, text, funcs).map_err(|e| format!("template parsing error: {e}"))
}

/// Runs `t` over `data` (a value of Go type `go_type`): what it wrote, and its
/// error, worded as Go words a missing field of the top-level struct.
pub fn execute(t: &Template, data: &Data, go_type: &str) -> (String, Option<String>) {
    let mut out = String::new();
    let err = t.execute_data(data, &mut out).err().map(|e| {
        let msg = e.to_string();
        // `at <.Foo.Bar>: can't evaluate field Foo in type struct`: a field of the
        // top-level struct (the types of the structs inside are not named here).
        let first = msg
            .split_once("at <.")
            .and_then(|(_, r)| r.split(['>', '.', ' ']).next())
            .unwrap_or("");
        let top = format!("can't evaluate field {first} in type struct");
        if !first.is_empty() && msg.ends_with(&top) {
            let go = format!("can't evaluate field {first} in type {go_type}");
            msg.replace(&top, &go)
        } else {
            msg
        }
    });
    (out, err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Value {
        json!({"Version": "1.0", "ApiVersion": "1.41", "Os": "linux", "Arch": "amd64", "Context": "default"})
    }

    fn run(name: &str, src: &str, d: &Data, ty: &str) -> (String, Option<String>) {
        execute(&template(name, src).expect("parse"), d, ty)
    }

    #[test]
    fn version_in_struct_order_with_an_engine_component() {
        let server = json!({"Version": "20.10", "ApiVersion": "1.41", "MinAPIVersion": "1.24",
            "Os": "linux", "Arch": "amd64", "Platform": {"Name": "berth"}, "Extra": 1,
            "BuildTime": "2025-05-30T12:07:14.000000000+00:00"});
        let d = version_view(&client(), Some(&server));
        let (out, err) = run("version", "{{json .}}", &d, "system.versionInfo");
        assert_eq!(err, None);
        assert_eq!(
            out,
            r#"{"Client":{"Version":"1.0","ApiVersion":"1.41","Os":"linux","Arch":"amd64","Context":"default"},"Server":{"Platform":{"Name":"berth"},"Components":[{"Name":"Engine","Version":"20.10","Details":{"ApiVersion":"1.41","Arch":"amd64","BuildTime":"Fri May 30 12:07:14 2025","Experimental":"false","GitCommit":"","GoVersion":"","MinAPIVersion":"1.24","Os":"linux"}}],"Version":"20.10","ApiVersion":"1.41","MinAPIVersion":"1.24","GitCommit":"","GoVersion":"","Os":"linux","Arch":"amd64","BuildTime":"2025-05-30T12:07:14.000000000+00:00"}}"#
        );
        let (out, _) = run("version", "{{.Client}}", &d, "system.versionInfo");
        assert_eq!(out, "{<nil> 1.0 1.41    linux amd64  default}");
        let (out, err) = run("version", "{{.Nope}}", &d, "system.versionInfo");
        assert_eq!(out, "");
        assert_eq!(
            err.as_deref(),
            Some(
                r#"template: version:1:2: executing "version" at <.Nope>: can't evaluate field Nope in type system.versionInfo"#
            )
        );
        let (out, _) = run(
            "version",
            "{{range .Server.Components}}{{getDetailsOrder .}}{{end}}",
            &d,
            "",
        );
        assert_eq!(
            out,
            "[ApiVersion Arch BuildTime Experimental GitCommit GoVersion MinAPIVersion Os]"
        );
    }

    #[test]
    fn info_embeds_the_daemon_info_and_sorts_the_registry_config() {
        let info = json!({"ID": "x", "Plugins": {"Volume": ["local"]}, "BridgeNfIptables": true,
            "RegistryConfig": {"Mirrors": [], "InsecureRegistryCIDRs": ["127.0.0.0/8"],
                "IndexConfigs": {"docker.io": {"Name": "docker.io", "Secure": true}}},
            "Runtimes": {"runc": {"path": "runc"}}});
        let d = info_view(Some(&info), &client(), &[]);
        let (out, _) = run(
            "",
            "{{.Plugins}}|{{json .RegistryConfig}}|{{.Runtimes}}",
            &d,
            "",
        );
        assert_eq!(
            out,
            r#"{[local] [] [] []}|{"IndexConfigs":{"docker.io":{"Mirrors":null,"Name":"docker.io","Official":false,"Secure":true}},"InsecureRegistryCIDRs":["127.0.0.0/8"],"Mirrors":[]}|map[runc:{{runc []  map[]} map[]}]"#
        );
        let (out, _) = run("", "{{json .}}", &d, "");
        assert!(out.starts_with(r#"{"ID":"x","Containers":0,"#), "{out}");
        assert!(!out.contains("BridgeNfIptables"), "{out}");
        assert!(
            out.ends_with(r#""CDISpecDirs":null,"Warnings":null,"ClientInfo":{"Debug":false,"Version":"1.0","ApiVersion":"1.41","Os":"linux","Arch":"amd64","Context":"default","Plugins":null,"Warnings":null}}"#),
            "{out}"
        );
        let (_, err) = run("", "{{.Client.Version}}", &d, "system.dockerInfo");
        assert!(
            err.is_some_and(
                |e| e.ends_with("can't evaluate field Client in type system.dockerInfo")
            )
        );
        let (_, err) = run("", "{{.Swarm.Nope}}", &d, "system.dockerInfo");
        assert!(err.is_some_and(|e| e.ends_with("can't evaluate field Nope in type struct")));
    }

    #[test]
    fn client_only_templates_skip_the_daemon() {
        assert!(!info_needs_server("{{.ClientInfo.Context}}", &client()));
        assert!(info_needs_server("{{.ID}}", &client()));
        assert!(info_needs_server("json", &client()));
        assert!(info_needs_server("plain", &client()));
    }
}
