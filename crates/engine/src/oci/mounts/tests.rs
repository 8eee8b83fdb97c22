//! Unit tests of the mount planning.

use super::*;

#[test]
fn clean_path_is_gos() {
    for (input, want) in [
        ("", "."),
        ("/", "/"),
        ("//a//b/", "/a/b"),
        ("/a/./b/../c", "/a/c"),
        ("/../a", "/a"),
        ("a/../..", ".."),
        ("/berth//abc", "/berth/abc"),
    ] {
        assert_eq!(clean_path(input), want, "{input}");
    }
}

#[test]
fn bind_specs() {
    let b = parse_bind("/src:/dst").unwrap();
    assert_eq!(
        (b.source.as_str(), b.destination.as_str(), b.writable),
        ("/src", "/dst", true)
    );
    assert_eq!(b.propagation, Some(Propagation::RPrivate));
    let b = parse_bind("/src/:/dst/sub/:ro,rslave,z").unwrap();
    assert_eq!(
        (b.source.as_str(), b.destination.as_str(), b.writable),
        ("/src", "/dst/sub", false)
    );
    assert_eq!(b.propagation, Some(Propagation::RSlave));
    assert!(parse_bind("/src:/dst:cached,rw").unwrap().writable);

    for (spec, want) in [
        ("/a:/b:/c:/d", "invalid volume specification: '/a:/b:/c:/d'"),
        (":/b", "invalid volume specification: ':/b'"),
        ("/foo:rw", "invalid volume specification: '/foo:rw'"),
        ("/a:/b:ro,rw", "invalid mode: ro,rw"),
        ("/a:/b:bogus", "invalid mode: bogus"),
        (
            "/a:/",
            "invalid volume specification: '/a:/': invalid mount config for type \"bind\": invalid specification: destination can't be '/'",
        ),
        (
            "/a:b",
            "invalid volume specification: '/a:b': invalid mount config for type \"bind\": invalid mount path: 'b' mount path must be absolute",
        ),
        (
            "/a:/b:nocopy",
            "invalid volume specification: '/a:/b:nocopy': invalid mount config for type \"bind\": field VolumeOptions must not be specified",
        ),
    ] {
        let err = parse_bind(spec).unwrap_err();
        assert_eq!(err.to_string(), want);
        assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
    }
    assert!(matches!(
        parse_bind("myvolume:/data"),
        Err(SpecError::NamedVolume { .. })
    ));
    assert!(matches!(
        parse_bind("/data"),
        Err(SpecError::NamedVolume { .. })
    ));
}

#[test]
fn resolved_binds_keep_their_propagation_and_recursion() {
    let input = SpecInput {
        bind_mounts: vec![
            BindMount {
                source: "/var/lib/berth/volumes/v/_data".into(),
                destination: "/data/".into(),
                writable: false,
                propagation: None,
                non_recursive: false,
            },
            BindMount {
                source: "/srv".into(),
                destination: "/srv".into(),
                writable: true,
                propagation: Some("rprivate".into()),
                non_recursive: true,
            },
        ],
        ..SpecInput::default()
    };
    let planned = plan(&input, None).unwrap();
    let json = serde_json::to_value(&planned.mounts).unwrap();
    let find = |d: &str| {
        json.as_array()
            .unwrap()
            .iter()
            .find(|m| m["destination"] == d)
            .cloned()
            .unwrap()
    };
    assert_eq!(find("/data")["options"], serde_json::json!(["rbind", "ro"]));
    assert_eq!(
        find("/srv")["options"],
        serde_json::json!(["bind", "rprivate"])
    );
    let dup = SpecInput {
        binds: vec!["/a:/data".into()],
        ..input.clone()
    };
    assert_eq!(
        plan(&dup, None).unwrap_err().to_string(),
        "Duplicate mount point: /data"
    );
    let bad = SpecInput {
        bind_mounts: vec![BindMount {
            propagation: Some("bogus".into()),
            destination: "/x".into(),
            ..BindMount::default()
        }],
        ..SpecInput::default()
    };
    assert_eq!(
        plan(&bad, None).unwrap_err().to_string(),
        "invalid mode: bogus"
    );
}

#[test]
fn tmpfs_options_merge_like_docker() {
    assert_eq!(
        tmpfs_options("").unwrap(),
        ["noexec", "nosuid", "nodev", "rprivate"]
    );
    assert_eq!(
        tmpfs_options("rw,size=10m,mode=1700").unwrap(),
        [
            "noexec",
            "nosuid",
            "nodev",
            "rprivate",
            "rw",
            "size=10m",
            "mode=1700"
        ]
    );
    // A later flag of the same kind wins and takes the later position.
    assert_eq!(
        tmpfs_options("ro,noexec").unwrap(),
        ["nosuid", "nodev", "rprivate", "ro", "noexec"]
    );
    assert_eq!(
        tmpfs_options("exec,size=1m,size=2m,shared").unwrap(),
        ["nosuid", "nodev", "exec", "size=2m", "shared"]
    );
    assert_eq!(
        tmpfs_options("defaults").unwrap(),
        ["noexec", "nosuid", "nodev", "rprivate"]
    );
    assert_eq!(
        tmpfs_options("foo").unwrap_err().to_string(),
        "Invalid tmpfs option [\"foo\"]"
    );
    assert_eq!(
        tmpfs_options("foo=bar").unwrap_err().to_string(),
        "Invalid tmpfs option [\"foo\" \"bar\"]"
    );
}

#[test]
fn mountinfo_unescapes_octal() {
    assert_eq!(unescape_mountinfo("/mnt/with\\040space"), "/mnt/with space");
    assert_eq!(unescape_mountinfo("/plain"), "/plain");
    assert_eq!(unescape_mountinfo("/trailing\\"), "/trailing\\");
}

#[test]
fn shared_propagation_needs_a_shared_source_mount() {
    // The mount holding / is found for any path; whether it is shared
    // decides between the two outcomes, which both must be docker's.
    let (mount_point, optional) = mount_of(Path::new("/")).unwrap();
    assert_eq!(mount_point, "/");
    let result = check_propagation("/", Propagation::RShared);
    if optional.split(' ').any(|o| o.starts_with("shared:")) {
        result.unwrap();
    } else {
        assert_eq!(
            result.unwrap_err().to_string(),
            "path / is mounted on / but it is not a shared mount"
        );
    }
    let err = check_propagation("/nonexistent/source", Propagation::Slave).unwrap_err();
    assert!(matches!(err, SpecError::BindSource { .. }), "{err}");
}
