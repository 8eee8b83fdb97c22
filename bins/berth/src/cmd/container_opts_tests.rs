//! Unit tests of `container_opts`: flags to the create request.

use super::*;

#[test]
fn interactive_tty_matches_docker_28() {
    let o = ContainerOpts {
        interactive: true,
        tty: true,
        env: vec!["A=1".into()],
        memory_swappiness: -1,
        restart: "no".into(),
        ..Default::default()
    };
    let r = create_request(&o, "busybox", &["sh".into()]).unwrap();
    let c = &r.config;
    assert!(c.attach_stdin && c.attach_stdout && c.attach_stderr && c.tty);
    assert!(c.open_stdin && c.stdin_once);
    assert_eq!(c.env, Some(vec!["A=1".to_string()]));
    let h = r.host_config.as_ref().unwrap();
    assert_eq!(h.network_mode, "default");
    assert_eq!(h.restart_policy.name, "no");
    assert_eq!(h.resources.memory_swappiness, Some(-1));
    assert_eq!(h.init, None);
    let eps = r.networking_config.unwrap().endpoints_config.unwrap();
    assert!(eps.contains_key("default"));
}

#[test]
fn flags_map_to_host_config() {
    let o = ContainerOpts {
        rm: true,
        memory: Some("512m".into()),
        cpus: Some("1.5".into()),
        volume: vec!["/h:/c:ro".into(), "/anon".into()],
        publish: vec!["8080:80".into()],
        network: vec!["mynet".into()],
        network_alias: vec!["web".into()],
        entrypoint: Some(String::new()),
        attach: vec!["stdout".into()],
        memory_swappiness: -1,
        restart: "no".into(),
        init: Some(true),
        ..Default::default()
    };
    let r = create_request(&o, "busybox", &[]).unwrap();
    let h = r.host_config.as_ref().unwrap();
    assert!(h.auto_remove);
    assert_eq!(h.resources.memory, 512 << 20);
    assert_eq!(h.resources.nano_cpus, 1_500_000_000);
    assert_eq!(h.binds, Some(vec!["/h:/c:ro".to_string()]));
    assert!(r.config.volumes.as_ref().unwrap().contains_key("/anon"));
    assert!(h.port_bindings.as_ref().unwrap().contains_key("80/tcp"));
    assert_eq!(h.init, Some(true));
    assert_eq!(r.config.entrypoint, Some(vec![String::new()]));
    assert!(!r.config.attach_stderr && r.config.attach_stdout);
    let eps = r.networking_config.unwrap().endpoints_config.unwrap();
    assert_eq!(eps["mynet"].aliases, Some(vec!["web".to_string()]));
}

#[test]
fn conflicts_and_bad_values_are_refused() {
    let base = || ContainerOpts {
        memory_swappiness: -1,
        restart: "no".into(),
        ..Default::default()
    };
    let o = ContainerOpts {
        rm: true,
        restart: "always".into(),
        ..base()
    };
    assert_eq!(
        create_request(&o, "b", &[]).unwrap_err(),
        "conflicting options: cannot specify both --restart and --rm"
    );
    let o = ContainerOpts {
        memory: Some("lots".into()),
        ..base()
    };
    assert_eq!(
        create_request(&o, "b", &[]).unwrap_err(),
        "invalid argument \"lots\" for \"-m, --memory\" flag: invalid size: 'lots'"
    );
    let o = ContainerOpts {
        pid: "bogus".into(),
        ..base()
    };
    assert_eq!(
        create_request(&o, "b", &[]).unwrap_err(),
        "--pid: invalid PID mode"
    );
    assert_eq!(
        restart_policy("on-failure:3").unwrap().maximum_retry_count,
        3
    );
}

#[test]
fn block_io_device_flags_reach_the_resources() {
    let base = || ContainerOpts {
        memory_swappiness: -1,
        restart: "no".into(),
        ..Default::default()
    };
    let o = ContainerOpts {
        blkio_weight_device: vec!["/dev/sda:300".into()],
        device_read_bps: vec!["/dev/sda:1kb".into()],
        device_write_iops: vec!["/dev/sdb:9".into()],
        ..base()
    };
    let req = create_request(&o, "img", &[]).expect("request");
    let r = &req.host_config.as_ref().unwrap().resources;
    assert_eq!(r.blkio_weight_device.as_ref().unwrap()[0].weight, 300);
    assert_eq!(r.blkio_device_read_bps.as_ref().unwrap()[0].rate, 1024);
    assert_eq!(
        r.blkio_device_write_iops.as_ref().unwrap()[0].path,
        "/dev/sdb"
    );
    assert!(r.blkio_device_read_iops.as_ref().unwrap().is_empty());
    let o = ContainerOpts {
        device_read_bps: vec!["sda:1".into()],
        ..base()
    };
    assert_eq!(
        create_request(&o, "img", &[]).unwrap_err(),
        "invalid argument \"sda:1\" for \"--device-read-bps\" flag: bad format for device path: sda:1"
    );
}
