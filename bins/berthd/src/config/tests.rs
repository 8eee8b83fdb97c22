//! Unit tests of the configuration merge.

use super::file::read_file;
use super::values::parse_size;
use super::*;

fn flags(args: &[&str]) -> Flags {
    let mut argv = vec!["berthd"];
    argv.extend_from_slice(args);
    Flags::try_parse_from(argv).expect("flags parse")
}

fn merge(args: &[&str], file: Option<&str>) -> Result<DaemonConfig, ConfigError> {
    let file = file.map(|f| match serde_json::from_str::<Value>(f).unwrap() {
        Value::Object(m) => m,
        _ => panic!("test file must be an object"),
    });
    DaemonConfig::merge(&flags(args), PathBuf::from("/etc/berth/daemon.json"), file)
}

#[test]
fn defaults_are_dockerds_under_berth_paths() {
    let c = merge(&[], None).unwrap();
    assert_eq!(c.data_root, PathBuf::from("/var/lib/berth"));
    assert_eq!(c.exec_root, PathBuf::from("/run/berth"));
    assert_eq!(c.pidfile, PathBuf::from("/run/berthd.pid"));
    assert_eq!(
        c.hosts,
        vec![Host::Unix(PathBuf::from("/run/berth/berth.sock"))]
    );
    assert_eq!(c.default_runtime, "berth-runc");
    assert_eq!(
        c.log_driver,
        LogDriver::JsonFile {
            max_size: None,
            max_file: 1
        }
    );
    assert_eq!(c.log_level, Level::Info);
    assert_eq!(c.shutdown_timeout, 15);
    assert!(!c.live_restore);
}

#[test]
fn default_socket_follows_the_exec_root() {
    let c = merge(&["--exec-root", "/srv/berth-exec"], None).unwrap();
    assert_eq!(
        c.hosts,
        vec![Host::Unix(PathBuf::from("/srv/berth-exec/berth.sock"))]
    );
}

#[test]
fn unknown_file_keys_are_named() {
    let e = merge(&[], Some(r#"{"debug": true, "fixed-cidr": "x", "zzz": 1}"#)).unwrap_err();
    assert!(
        e.to_string().ends_with(
            "the following directives don't match any configuration option: fixed-cidr, zzz"
        ),
        "{e}"
    );
}

#[test]
fn flag_and_file_conflicts_show_both_values() {
    let e = merge(&["--data-root", "/a"], Some(r#"{"data-root": "/b"}"#)).unwrap_err();
    assert!(
        e.to_string().ends_with(
            "the following directives are specified both as a flag and in the configuration file: data-root: (from flag: /a, from file: /b)"
        ),
        "{e}"
    );
    let e = merge(
        &["-H", "unix:///a.sock"],
        Some(r#"{"hosts": ["unix:///b.sock"]}"#),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("hosts: (from flag: [unix:///a.sock], from file: [unix:///b.sock])"),
        "{e}"
    );
}

#[test]
fn file_settings_apply() {
    let c = merge(
        &[],
        Some(
            r#"{"debug": true, "labels": ["a=b"], "live-restore": true,
                "runtimes": {"crun": {"path": "/usr/bin/crun", "runtimeArgs": ["--x"]}},
                "default-runtime": "crun", "log-opts": {"max-size": "10m", "max-file": "3"},
                "default-ulimits": {"nofile": {"Name": "nofile", "Soft": 1024, "Hard": 2048}},
                "storage-driver": "vfs", "shutdown-timeout": 3}"#,
        ),
    )
    .unwrap();
    assert!(c.debug);
    assert_eq!(c.log_level, Level::Debug);
    assert_eq!(c.labels, vec!["a=b".to_string()]);
    assert!(c.live_restore);
    assert_eq!(c.default_runtime, "crun");
    assert_eq!(c.runtimes["crun"].args, vec!["--x".to_string()]);
    assert_eq!(
        c.log_driver,
        LogDriver::JsonFile {
            max_size: Some(10 << 20),
            max_file: 3
        }
    );
    assert_eq!(c.default_ulimits["nofile"], (1024, 2048));
    assert_eq!(c.storage_driver, "native");
    assert_eq!(c.shutdown_timeout, 3);
    let e = c.engine_config();
    assert_eq!(e.default_runtime, "crun");
    assert!(e.runtimes.contains_key("runc"));
    assert!(e.runtimes.contains_key("berth-runc"));
    assert!(e.runtimes.contains_key("crun"));
}

#[test]
fn flags_parse_like_pflag() {
    let c = merge(
        &[
            "-D",
            "--live-restore=false",
            "--add-runtime",
            "crun=/usr/bin/crun",
        ],
        None,
    )
    .unwrap();
    assert!(c.debug);
    assert!(!c.live_restore);
    assert_eq!(c.runtimes["crun"].path, PathBuf::from("/usr/bin/crun"));
    let c = merge(&["--debug=false", "-l", "warn"], None).unwrap();
    assert_eq!(c.log_level, Level::Warn);
}

#[test]
fn bad_values_are_refused() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--log-level", "loud"],
            "unable to parse logging level: loud",
        ),
        (
            &["--add-runtime", "runc=/x"],
            "runtime name 'runc' is reserved",
        ),
        (&["--add-runtime", "noequals"], "expected NAME=PATH"),
        (
            &["--default-runtime", "nope"],
            "specified default runtime 'nope' does not exist",
        ),
        (
            &["--log-driver", "syslog"],
            "log driver \"syslog\" is not supported",
        ),
        (&["--log-opt", "max-size=-1"], "invalid max-size"),
        (
            &["--log-opt", "max-file=3"],
            "max-file cannot be greater than one",
        ),
        (
            &["--log-opt", "tag=x"],
            "unknown log opt 'tag' for json-file log driver",
        ),
        (
            &["--storage-driver", "btrfs"],
            "storage driver \"btrfs\" is not supported",
        ),
        (
            &["--default-ulimit", "nofile=10:5"],
            "soft limit is greater",
        ),
        (&["--default-ulimit", "bogus=1"], "unknown ulimit type"),
        (&["--label", "novalue"], "invalid label"),
        (&["--tlsverify"], "TLS needs --tlscert and --tlskey"),
        (
            &["--tlsverify", "--tlscert", "/c", "--tlskey", "/k"],
            "TLS needs --tlscacert (with --tlsverify)",
        ),
        (&["-H", "ssh://x"], "Invalid bind address format: ssh://x"),
    ];
    for (args, want) in cases {
        let e = merge(args, None).expect_err(want);
        assert!(e.to_string().contains(want), "{args:?}: {e}");
    }
}

#[test]
fn wrong_types_in_the_file_are_parse_errors() {
    let e = merge(&[], Some(r#"{"debug": "yes"}"#)).unwrap_err();
    assert!(matches!(e, ConfigError::ParseFile { .. }), "{e}");
}

#[test]
fn sizes_parse_like_docker_units() {
    assert_eq!(parse_size("10m"), Some(10 << 20));
    assert_eq!(parse_size("1.5k"), Some(1536));
    assert_eq!(parse_size("2GiB"), Some(2 << 30));
    assert_eq!(parse_size("100"), Some(100));
    assert_eq!(parse_size("0"), None);
    assert_eq!(parse_size("1x"), None);
    assert_eq!(parse_size(""), None);
}

#[test]
fn missing_default_file_is_fine_but_an_explicit_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("daemon.json");
    assert!(read_file(&missing, false).unwrap().is_none());
    assert!(matches!(
        read_file(&missing, true),
        Err(ConfigError::ReadFile { .. })
    ));
    std::fs::write(&missing, "[1]").unwrap();
    assert!(matches!(
        read_file(&missing, true),
        Err(ConfigError::NotAnObject { .. })
    ));
}

#[test]
fn tls_settings_and_its_default_port() {
    let c = merge(
        &[
            "--tlsverify",
            "--tlscacert",
            "/ca",
            "--tlscert",
            "/c",
            "--tlskey",
            "/k",
            "-H",
            "tcp://0.0.0.0",
            "-H",
            "tcp://127.0.0.1:9999",
        ],
        None,
    )
    .unwrap();
    let tls = c.tls.expect("tls on");
    assert_eq!(tls.client_ca.as_deref(), Some(std::path::Path::new("/ca")));
    assert_eq!(c.hosts[0], Host::Tcp("0.0.0.0".into(), 2376));
    assert_eq!(c.hosts[1], Host::Tcp("127.0.0.1".into(), 9999));
    // --tls alone: no client verification.
    let c = merge(&["--tls", "--tlscert", "/c", "--tlskey", "/k"], None).unwrap();
    assert_eq!(c.tls.unwrap().client_ca, None);
}

#[test]
fn registry_settings_and_transfer_limits() {
    let c = merge(&[], None).unwrap();
    assert_eq!(
        (c.max_concurrent_downloads, c.max_concurrent_uploads),
        (3, 5)
    );
    assert_eq!(c.registry.insecure_cidrs, vec!["127.0.0.0/8".to_string()]);
    let e = c.engine_config().registry;
    assert_eq!(
        (
            e.max_concurrent_downloads,
            e.max_concurrent_uploads,
            e.max_download_attempts
        ),
        (3, 5, 5)
    );

    let c = merge(
        &[],
        Some(
            r#"{"insecure-registries": ["10.0.0.0/8", "reg:5000"],
                "registry-mirrors": ["http://127.0.0.1:5999"],
                "max-concurrent-downloads": 7, "max-concurrent-uploads": 0}"#,
        ),
    )
    .unwrap();
    assert_eq!(
        (c.max_concurrent_downloads, c.max_concurrent_uploads),
        (7, 0)
    );
    let e = c.engine_config().registry;
    assert_eq!(
        e.insecure_registries,
        ["reg:5000", "10.0.0.0/8", "127.0.0.0/8"].map(String::from)
    );
    assert_eq!(
        e.registry_mirrors,
        vec!["http://127.0.0.1:5999/".to_string()]
    );

    let c = merge(
        &[
            "--insecure-registry",
            "a:1",
            "--insecure-registry",
            "192.168.0.0/16",
            "--registry-mirror",
            "https://m",
            "--max-concurrent-uploads",
            "2",
        ],
        None,
    )
    .unwrap();
    assert_eq!(c.registry.insecure_hosts, vec!["a:1".to_string()]);
    assert_eq!(c.registry.mirrors, vec!["https://m/".to_string()]);
    assert_eq!(c.max_concurrent_uploads, 2);

    // dockerd's wording, flag values as they were normalized.
    let e = merge(
        &[
            "--registry-mirror",
            "http://a",
            "--max-concurrent-uploads",
            "3",
        ],
        Some(r#"{"registry-mirrors": ["http://b"], "max-concurrent-uploads": 2}"#),
    )
    .unwrap_err();
    assert!(
        e.to_string().ends_with(
            "max-concurrent-uploads: (from flag: 3, from file: 2), registry-mirrors: (from flag: [http://a/], from file: [http://b])"
        ),
        "{e}"
    );
    let e = merge(&[], Some(r#"{"max-concurrent-downloads": -1}"#)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "unable to configure the berth daemon with file /etc/berth/daemon.json: configuration validation from file failed: invalid max concurrent downloads: -1"
    );
    let e = merge(&["--max-concurrent-uploads", "-2"], Some("{}")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "unable to configure the berth daemon with file /etc/berth/daemon.json: merged configuration validation from file and command line flags failed: invalid max concurrent uploads: -2"
    );
    let e = merge(&["--max-concurrent-downloads", "-1"], None).unwrap_err();
    assert_eq!(e.to_string(), "invalid max concurrent downloads: -1");
    let e = merge(&[], Some(r#"{"registry-mirrors": ["ftp://x"]}"#)).unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"invalid mirror: unsupported scheme "ftp" in "ftp://x""#
    );
    let e = merge(&["--insecure-registry", "ftp://x"], None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "insecure registry ftp://x should not contain '://'"
    );
    let e = Flags::try_parse_from(["berthd", "--registry-mirror", "ftp://x"]).unwrap_err();
    assert!(
        e.to_string()
            .contains(r#"invalid mirror: unsupported scheme "ftp" in "ftp://x""#),
        "{e}"
    );
    let e = Flags::try_parse_from(["berthd", "--insecure-registry", "-bad-"]).unwrap_err();
    assert!(
        e.to_string()
            .contains("invalid index name (-bad-). Cannot begin or end with a hyphen"),
        "{e}"
    );
}

#[test]
fn download_attempts_and_nondistributable_artifacts() {
    let c = merge(&["--max-download-attempts", "2"], None).unwrap();
    assert_eq!(c.max_download_attempts, 2);
    let c = merge(
        &[],
        Some(r#"{"max-download-attempts": 9, "allow-nondistributable-artifacts": ["reg:5000", "10.0.0.0/8"]}"#),
    )
    .unwrap();
    assert_eq!(c.max_download_attempts, 9);
    assert_eq!(
        c.engine_config().registry.allow_nondistributable,
        ["reg:5000", "10.0.0.0/8"].map(String::from)
    );
    // dockerd 20.10: at least one attempt.
    let e = merge(&[], Some(r#"{"max-download-attempts": 0}"#)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "unable to configure the berth daemon with file /etc/berth/daemon.json: configuration validation from file failed: invalid max download attempts: 0"
    );
    let e = merge(&["--max-download-attempts", "-1"], None).unwrap_err();
    assert_eq!(e.to_string(), "invalid max download attempts: -1");
    let e = merge(
        &["--allow-nondistributable-artifacts", "a:1"],
        Some(r#"{"allow-nondistributable-artifacts": ["b:1"]}"#),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .ends_with("allow-nondistributable-artifacts: (from flag: [a:1], from file: [b:1])"),
        "{e}"
    );
    let e = merge(&["--allow-nondistributable-artifacts", "http://a:1"], None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "allow-nondistributable-artifacts registry http://a:1 should not contain '://'"
    );
}
