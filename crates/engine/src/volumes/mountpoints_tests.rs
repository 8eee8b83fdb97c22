//! Tests of `mountpoints`.
use super::*;
use berth_api_types::container::{BindOptions, TmpfsOptions, VolumeOptions};

fn sources<'a>(binds: &'a [String], mounts: &'a [Mount]) -> Sources<'a> {
    Sources {
        binds,
        mounts,
        daemon_root: Some(Path::new("/var/lib/berth")),
        ..Sources::default()
    }
}

#[test]
fn binds_and_volumes_from_v() {
    let b = parse_bind("/src/:/dst/sub/:ro,rslave,z", "").unwrap();
    assert_eq!(b.volume, None);
    assert_eq!(
        (
            b.point.source.as_str(),
            b.point.destination.as_str(),
            b.point.rw,
            b.point.propagation.as_str(),
            b.point.mode.as_str()
        ),
        ("/src", "/dst/sub", false, "rslave", "ro,rslave,z")
    );
    let v = parse_bind("data:/data", "").unwrap();
    assert_eq!(v.point.mode, "z");
    assert!(v.point.copy_data && !v.point.anonymous && v.point.rw);
    assert!(matches!(v.volume, Some(Want::Create { name: Some(ref n), .. }) if n == "data"));
    let v = parse_bind("data:/data:ro,nocopy", "").unwrap();
    assert_eq!(v.point.mode, "ro,nocopy");
    assert!(!v.point.copy_data && !v.point.rw);
    let a = parse_bind("/data", "").unwrap();
    assert!(a.point.anonymous && a.point.mode.is_empty());
    assert!(matches!(a.volume, Some(Want::Create { name: None, .. })));

    for (spec, want) in [
        ("a:b:c:d", "invalid volume specification: 'a:b:c:d'"),
        (":/b", "invalid volume specification: ':/b'"),
        ("/foo:rw", "invalid volume specification: '/foo:rw'"),
        ("v:/b:ro,rw", "invalid mode: ro,rw"),
        ("v:/b:bogus", "invalid mode: bogus"),
        (
            "/a:/",
            "invalid volume specification: '/a:/': invalid mount config for type \"bind\": invalid specification: destination can't be '/'",
        ),
        (
            "vv:rel",
            "invalid volume specification: 'vv:rel': invalid mount config for type \"volume\": invalid mount path: 'rel' mount path must be absolute",
        ),
        (
            "/tmp:/x:nocopy",
            "invalid volume specification: '/tmp:/x:nocopy': invalid mount config for type \"bind\": field VolumeOptions must not be specified",
        ),
        (
            "v:/x:shared",
            "invalid volume specification: 'v:/x:shared': invalid mount config for type \"volume\": field BindOptions must not be specified",
        ),
    ] {
        let e = parse_bind(spec, "").unwrap_err();
        assert_eq!(e.to_string(), want, "{spec}");
        assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
    }
}

#[test]
fn mounts_follow_dockers_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().display().to_string();
    let bind = Mount {
        r#type: "bind".into(),
        source: src.clone(),
        target: "/x".into(),
        read_only: true,
        bind_options: Some(BindOptions {
            propagation: String::new(),
            non_recursive: true,
        }),
        ..Mount::default()
    };
    let p = parse_mount(&bind).unwrap();
    assert!(p.point.skip_mountpoint_creation && p.point.non_recursive && !p.point.rw);
    assert_eq!(p.point.propagation, "rprivate");
    assert_eq!(p.point.mode, "");

    let missing = Mount {
        source: format!("{src}/nosuch"),
        ..bind.clone()
    };
    assert_eq!(
        parse_mount(&missing).unwrap_err().to_string(),
        format!(
            "invalid mount config for type \"bind\": bind source path does not exist: {src}/nosuch"
        )
    );
    let tmpfs = Mount {
        r#type: "tmpfs".into(),
        target: "/t".into(),
        tmpfs_options: Some(TmpfsOptions {
            size_bytes: 1 << 20,
            mode: 0o1700,
        }),
        ..Mount::default()
    };
    assert_eq!(
        parse_mount(&tmpfs).unwrap().point.tmpfs_data,
        "mode=1700,size=1m"
    );
    let vol = Mount {
        r#type: "volume".into(),
        source: "named2".into(),
        target: "/nv".into(),
        volume_options: Some(VolumeOptions {
            no_copy: true,
            ..VolumeOptions::default()
        }),
        ..Mount::default()
    };
    let p = parse_mount(&vol).unwrap();
    assert_eq!(p.point.mode, "z");
    assert!(!p.point.copy_data);

    for (m, want) in [
        (
            Mount {
                source: String::new(),
                ..bind.clone()
            },
            "invalid mount config for type \"bind\": field Source must not be empty",
        ),
        (
            Mount {
                source: "rel".into(),
                bind_options: None,
                ..bind.clone()
            },
            "invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute",
        ),
        (
            Mount {
                bind_options: Some(BindOptions {
                    propagation: "bogus".into(),
                    non_recursive: false,
                }),
                ..bind.clone()
            },
            "invalid mount config for type \"bind\": invalid propagation mode: bogus",
        ),
        (
            Mount {
                source: "foo".into(),
                ..tmpfs.clone()
            },
            "invalid mount config for type \"tmpfs\": field Source must not be specified",
        ),
        (
            Mount {
                source: String::new(),
                read_only: true,
                ..vol.clone()
            },
            "invalid mount config for type \"volume\": must not set ReadOnly mode when using anonymous volumes",
        ),
        (
            Mount {
                bind_options: Some(BindOptions::default()),
                ..vol.clone()
            },
            "invalid mount config for type \"volume\": field BindOptions must not be specified",
        ),
        (
            Mount {
                target: "/".into(),
                ..vol.clone()
            },
            "invalid mount config for type \"volume\": invalid specification: destination can't be '/'",
        ),
        (
            Mount {
                r#type: "bogus".into(),
                ..vol.clone()
            },
            "invalid mount config for type \"bogus\": mount type unknown",
        ),
    ] {
        assert_eq!(parse_mount(&m).unwrap_err().to_string(), want);
    }
}

#[test]
fn volumes_from_modes() {
    assert_eq!(parse_volumes_from("c").unwrap(), ("c", "rw"));
    assert_eq!(parse_volumes_from("c:ro").unwrap(), ("c", "ro"));
    assert_eq!(parse_volumes_from("c:ro,z").unwrap(), ("c", "ro,z"));
    for bad in ["c:nocopy", "c:rshared", "c:bogus"] {
        assert!(matches!(
            parse_volumes_from(bad),
            Err(Error::InvalidMode(_))
        ));
    }
    assert_eq!(
        parse_volumes_from("").unwrap_err().to_string(),
        "volumes-from specification cannot be an empty string"
    );
}

#[test]
fn plan_orders_and_refuses_duplicates() {
    let binds = vec!["/a:/x".to_string(), "/b:/x".to_string()];
    assert_eq!(
        plan(&sources(&binds, &[])).unwrap_err().to_string(),
        "Duplicate mount point: /x"
    );
    let binds = vec!["v1:/x".to_string()];
    let mut s = sources(&binds, &[]);
    s.tmpfs = vec!["/x"];
    assert_eq!(
        plan(&s).unwrap_err().to_string(),
        "Duplicate mount point: /x"
    );
    let mounts = vec![Mount {
        r#type: "volume".into(),
        target: "/x/".into(),
        ..Mount::default()
    }];
    let binds = vec!["/tmp:/x".to_string()];
    assert_eq!(
        plan(&sources(&binds, &mounts)).unwrap_err().to_string(),
        "Duplicate mount point: /x/"
    );

    // volumes-from is overridden by a bind; Config.Volumes skips
    // covered paths and makes anonymous volumes of the others.
    let from = vec![
        MountPoint {
            r#type: "volume".into(),
            name: "nm".into(),
            source: "/var/lib/berth/volumes/nm/_data".into(),
            destination: "/n".into(),
            driver: "local".into(),
            rw: true,
            mode: "z".into(),
            copy_data: true,
            ..MountPoint::default()
        },
        MountPoint {
            r#type: "bind".into(),
            source: "/srv".into(),
            destination: "/b".into(),
            rw: true,
            propagation: "rprivate".into(),
            ..MountPoint::default()
        },
    ];
    let binds = vec!["/other:/b".to_string()];
    let mut s = sources(&binds, &[]);
    s.volumes_from = vec![("ro".to_string(), from)];
    s.config_volumes = vec!["/n", "/data/"];
    let p = plan(&s).unwrap();
    let dests: Vec<&str> = p.iter().map(|p| p.point.destination.as_str()).collect();
    assert_eq!(dests, ["/n", "/b", "/data"]);
    assert!(!p[0].point.rw && p[0].point.mode.is_empty() && !p[0].point.copy_data);
    assert_eq!(
        p[0].volume,
        Some(Want::Existing {
            name: "nm".to_string()
        })
    );
    assert_eq!(p[1].point.source, "/other");
    assert!(p[2].point.anonymous && p[2].point.copy_data);

    let mut s = sources(&[], &[]);
    s.tmpfs = vec!["rel"];
    assert_eq!(
        plan(&s).unwrap_err().to_string(),
        "invalid mount path: 'rel' mount path must be absolute"
    );
}

#[test]
fn binds_of_the_daemon_root_become_slaves() {
    let binds = vec!["/var/lib:/x".to_string()];
    let p = plan(&sources(&binds, &[])).unwrap();
    assert_eq!(p[0].point.propagation, "rslave");
    let binds = vec!["/var/lib/berth/volumes:/x:rprivate".to_string()];
    assert_eq!(
        plan(&sources(&binds, &[])).unwrap_err().to_string(),
        "invalid mount config: must use either propagation mode \"rslave\" or \"rshared\" when mount source is within the daemon root, daemon root: \"/var/lib/berth\", bind mount source: \"/var/lib/berth/volumes\", propagation: \"rprivate\""
    );
    let binds = vec!["/var/lib2:/x".to_string()];
    assert_eq!(
        plan(&sources(&binds, &[])).unwrap()[0].point.propagation,
        "rprivate"
    );
}
