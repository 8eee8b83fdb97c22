//! Tests of `berth_runtime::seccomp`: filters are loaded in forked children
//! and judged by what the kernel answers to real system calls.

use berth_runtime::seccomp::{
    Filter, KNOWN_FLAGS, SeccompError, compile, compile_cached, library_version, supported_archs,
    supported_flags,
};
use oci_spec::runtime::LinuxSeccomp;
use std::ffi::CString;

/// Runs `f` in a forked child and returns its exit code. The child only
/// makes system calls (no allocation), as the test harness is threaded.
fn in_child(f: impl FnOnce() -> i32) -> i32 {
    // SAFETY: the child runs `f`, which only issues system calls, and
    // leaves with `_exit` without returning into the test harness.
    match unsafe { nix::unistd::fork() }.expect("fork") {
        nix::unistd::ForkResult::Child => {
            let code = f();
            // SAFETY: `_exit` ends the child without running the parent's
            // atexit handlers or destructors.
            unsafe { libc::_exit(code) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            match nix::sys::wait::waitpid(child, None).expect("waitpid") {
                nix::sys::wait::WaitStatus::Exited(_, code) => code,
                other => panic!("child did not exit normally: {other:?}"),
            }
        }
    }
}

/// The errno of the last failed libc call, or 0 when `rc` is not -1.
fn errno_of(rc: libc::c_long) -> i32 {
    if rc == -1 {
        std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(255)
    } else {
        0
    }
}

/// Exit code of a child whose filter failed to load.
const LOAD_FAILED: i32 = 200;

fn profile(json: serde_json::Value) -> LinuxSeccomp {
    serde_json::from_value(json).expect("valid seccomp profile")
}

/// Loads `filter` in a child, then reports the errno of `mkdir(path)`.
fn mkdir_errno_under(filter: Filter, path: &std::path::Path) -> i32 {
    let c_path = CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    in_child(move || {
        if filter.load().is_err() {
            return LOAD_FAILED;
        }
        // SAFETY: `c_path` is a valid NUL-terminated string.
        errno_of(unsafe { libc::mkdir(c_path.as_ptr(), 0o755) }.into())
    })
}

#[test]
fn seccomp_errno_rule_denies_mkdir_with_eperm() {
    let dir = tempfile::tempdir().unwrap();
    let filter = compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO" }]
    })))
    .unwrap();
    let target = dir.path().join("denied");
    assert_eq!(mkdir_errno_under(filter, &target), libc::EPERM);
    assert!(!target.exists());

    // Control: the same child without a filter succeeds.
    let allow = compile(&profile(
        serde_json::json!({ "defaultAction": "SCMP_ACT_ALLOW" }),
    ))
    .unwrap();
    let target = dir.path().join("allowed");
    assert_eq!(mkdir_errno_under(allow, &target), 0);
    assert!(target.is_dir());
}

#[test]
fn seccomp_errno_ret_and_default_errno_ret_are_used() {
    let dir = tempfile::tempdir().unwrap();
    let rule = compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                       "errnoRet": libc::EXDEV }]
    })))
    .unwrap();
    assert_eq!(mkdir_errno_under(rule, &dir.path().join("a")), libc::EXDEV);

    // Everything not listed gets the default action with its errnoRet;
    // exit_group must stay allowed for the child to report back.
    let default = compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": libc::ENOTSUP,
        "syscalls": [{ "names": ["exit_group", "exit"], "action": "SCMP_ACT_ALLOW" }]
    })))
    .unwrap();
    assert_eq!(
        mkdir_errno_under(default, &dir.path().join("b")),
        libc::ENOTSUP
    );
}

/// Calls personality(persona) in the child and returns the errno (0 on success).
fn personality_errno(persona: libc::c_ulong) -> i32 {
    // SAFETY: personality(2) takes a plain integer.
    errno_of(unsafe { libc::personality(persona) }.into())
}

const QUERY: libc::c_ulong = 0xffff_ffff;
const PER_LINUX32: libc::c_ulong = 0x0008;
const ADDR_NO_RANDOMIZE: libc::c_ulong = 0x0004_0000;

#[test]
fn seccomp_argument_condition_limits_the_rule() {
    let filter = compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["personality"], "action": "SCMP_ACT_ERRNO",
                       "args": [{ "index": 0, "value": PER_LINUX32, "op": "SCMP_CMP_EQ" }] }]
    })))
    .unwrap();
    let code = in_child(move || {
        if filter.load().is_err() {
            return LOAD_FAILED;
        }
        // bit 0: the query passed, bit 1: PER_LINUX32 was denied with EPERM.
        let query_ok = personality_errno(QUERY) == 0;
        let denied = personality_errno(PER_LINUX32) == libc::EPERM;
        i32::from(query_ok) | i32::from(denied) << 1
    });
    assert_eq!(code, 0b11);
}

#[test]
fn seccomp_conditions_on_the_same_argument_are_ored() {
    let filter = compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["personality"], "action": "SCMP_ACT_ERRNO",
                       "args": [{ "index": 0, "value": PER_LINUX32, "op": "SCMP_CMP_EQ" },
                                { "index": 0, "value": ADDR_NO_RANDOMIZE, "op": "SCMP_CMP_EQ" }] }]
    })))
    .unwrap();
    let code = in_child(move || {
        if filter.load().is_err() {
            return LOAD_FAILED;
        }
        let query_ok = personality_errno(QUERY) == 0;
        let first = personality_errno(PER_LINUX32) == libc::EPERM;
        let second = personality_errno(ADDR_NO_RANDOMIZE) == libc::EPERM;
        i32::from(query_ok) | i32::from(first) << 1 | i32::from(second) << 2
    });
    assert_eq!(code, 0b111);
}

#[test]
fn seccomp_masked_eq_takes_the_mask_from_value() {
    // Deny personality when (arg0 & 0x000f) == 0x0008.
    let filter = compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["personality"], "action": "SCMP_ACT_ERRNO",
                       "args": [{ "index": 0, "value": 0x000f, "valueTwo": PER_LINUX32,
                                  "op": "SCMP_CMP_MASKED_EQ" }] }]
    })))
    .unwrap();
    let code = in_child(move || {
        if filter.load().is_err() {
            return LOAD_FAILED;
        }
        let masked_match = personality_errno(PER_LINUX32 | ADDR_NO_RANDOMIZE) == libc::EPERM;
        let no_match = personality_errno(QUERY) == 0;
        i32::from(masked_match) | i32::from(no_match) << 1
    });
    assert_eq!(code, 0b11);
}

#[test]
fn seccomp_unknown_syscall_names_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let filter = compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["berth_no_such_syscall", "mkdir", "mkdirat"],
                       "action": "SCMP_ACT_ERRNO" }]
    })))
    .unwrap();
    assert_eq!(filter.ignored_syscalls(), ["berth_no_such_syscall"]);
    assert_eq!(
        mkdir_errno_under(filter, &dir.path().join("x")),
        libc::EPERM
    );
}

#[test]
fn seccomp_bad_action_string_is_a_clear_error() {
    let err = serde_json::from_value::<LinuxSeccomp>(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["mkdir"], "action": "SCMP_ACT_BOGUS" }]
    }))
    .unwrap_err();
    assert!(err.to_string().contains("SCMP_ACT_BOGUS"), "{err}");
}

#[test]
fn seccomp_notify_is_rejected() {
    let err = compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": "/run/agent.sock",
        "syscalls": [{ "names": ["mkdir"], "action": "SCMP_ACT_NOTIFY" }]
    })))
    .unwrap_err();
    assert!(matches!(err, SeccompError::NotifyUnsupported { .. }));
    assert_eq!(
        err.to_string(),
        "seccomp notify is not supported (the rule for mkdir uses SCMP_ACT_NOTIFY)"
    );
}

#[test]
fn seccomp_invalid_rules_are_rejected() {
    let err = compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["personality"], "action": "SCMP_ACT_ERRNO",
                       "args": [{ "index": 6, "value": 1, "op": "SCMP_CMP_EQ" }] }]
    })))
    .unwrap_err();
    assert!(
        matches!(err, SeccompError::ArgIndex { index: 6, .. }),
        "{err}"
    );

    let err = compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 70000
    })))
    .unwrap_err();
    assert!(
        matches!(err, SeccompError::ErrnoRetRange { value: 70000, .. }),
        "{err}"
    );

    let err = compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]
    })))
    .unwrap_err();
    assert!(matches!(err, SeccompError::UnsupportedFlag { .. }), "{err}");
}

#[test]
fn seccomp_architectures_are_added_to_the_program() {
    // AUDIT_ARCH_I386: the program compares seccomp_data.arch against it
    // only when the x86 architecture is part of the filter.
    const AUDIT_ARCH_I386: u32 = 0x4000_0003;
    let rules = serde_json::json!([{ "names": ["mkdir"], "action": "SCMP_ACT_ERRNO" }]);
    let native = compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules
    })))
    .unwrap();
    let multi = compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": rules
    })))
    .unwrap();
    assert!(!native.operands().any(|k| k == AUDIT_ARCH_I386));
    assert!(multi.operands().any(|k| k == AUDIT_ARCH_I386));
    assert!(multi.len() > native.len());
}

#[test]
fn seccomp_flags_are_passed_to_the_kernel() {
    let filter = compile(&profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                  "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
        "syscalls": [{ "names": ["mkdir"], "action": "SCMP_ACT_LOG" }]
    })))
    .unwrap();
    assert_eq!(
        filter.flags(),
        libc::SECCOMP_FILTER_FLAG_TSYNC
            | libc::SECCOMP_FILTER_FLAG_LOG
            | libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW
    );
    let code = in_child(move || {
        if filter.load().is_err() {
            return LOAD_FAILED;
        }
        // PR_GET_SECCOMP: 2 is SECCOMP_MODE_FILTER.
        // SAFETY: prctl(PR_GET_SECCOMP) takes no pointers.
        unsafe { libc::prctl(libc::PR_GET_SECCOMP) }
    });
    assert_eq!(code, 2);
}

#[test]
fn seccomp_docker_default_profile_compiles_and_enforces() {
    let text = include_str!("data/docker-default-seccomp.json");
    let filter = compile(&serde_json::from_str(text).unwrap()).unwrap();
    assert!(
        filter.ignored_syscalls().is_empty(),
        "{:?}",
        filter.ignored_syscalls()
    );
    let code = in_child(move || {
        if filter.load().is_err() {
            return LOAD_FAILED;
        }
        // unshare is only allowed with CAP_SYS_ADMIN in Docker's profile:
        // the default action answers EPERM (defaultErrnoRet 1).
        // SAFETY: unshare(2) takes a plain flag word.
        let unshare = errno_of(unsafe { libc::unshare(libc::CLONE_NEWUTS) }.into());
        // clone3 gets ENOSYS so that libc falls back to clone; a real
        // clone3 with a null argument would fail with EFAULT or EINVAL.
        // SAFETY: the filter answers before the kernel reads the argument.
        let clone3 =
            errno_of(unsafe { libc::syscall(libc::SYS_clone3, std::ptr::null::<u8>(), 0usize) });
        // getpid is allowed.
        // SAFETY: getpid has no arguments.
        let pid_ok = unsafe { libc::getpid() } > 0;
        i32::from(unshare == libc::EPERM)
            | i32::from(clone3 == libc::ENOSYS) << 1
            | i32::from(pid_ok) << 2
    });
    assert_eq!(code, 0b111);
}

#[test]
fn seccomp_feature_probes_report_this_host() {
    let archs = supported_archs();
    for arch in [
        "SCMP_ARCH_X86_64",
        "SCMP_ARCH_X86",
        "SCMP_ARCH_X32",
        "SCMP_ARCH_AARCH64",
    ] {
        assert!(
            archs.iter().any(|a| a == arch),
            "{arch} missing from {archs:?}"
        );
    }
    // Kernel 4.17+ knows all three flags.
    assert_eq!(supported_flags(), KNOWN_FLAGS);
    assert!(library_version().is_some_and(|v| v.starts_with("2.")));
}

#[test]
fn seccomp_cached_program_is_the_compiled_one_and_survives_a_bad_entry() {
    let cache = tempfile::tempdir().unwrap();
    let spec = profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO" }]
    }));
    let fresh = compile(&spec).unwrap();
    let first = compile_cached(&spec, cache.path()).unwrap();
    let entries: Vec<_> = std::fs::read_dir(cache.path()).unwrap().flatten().collect();
    assert_eq!(entries.len(), 1, "one cache entry, no temp file left");
    let from_cache = compile_cached(&spec, cache.path()).unwrap();
    for f in [&first, &from_cache] {
        assert_eq!(f.len(), fresh.len());
        assert_eq!(f.flags(), fresh.flags());
        assert!(f.operands().eq(fresh.operands()));
    }
    // The cached program is enforced like the compiled one.
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        mkdir_errno_under(from_cache, &dir.path().join("x")),
        libc::EPERM
    );
    // A truncated or foreign entry is recompiled, not trusted.
    std::fs::write(entries[0].path(), b"BSECCMP1garbage").unwrap();
    let again = compile_cached(&spec, cache.path()).unwrap();
    assert!(again.operands().eq(fresh.operands()));
    // A different profile gets its own entry.
    let other = profile(serde_json::json!({ "defaultAction": "SCMP_ACT_ALLOW" }));
    compile_cached(&other, cache.path()).unwrap();
    assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 2);
}
