//! Process capabilities from `process.capabilities` of a runtime spec.
//!
//! [`Capabilities`] is the plan: five bit masks (bit *n* is capability number
//! *n* of `<linux/capability.h>`), built from the spec before anything changes.
//! The container's init applies it in three steps, in this order:
//!
//! 1. [`Capabilities::apply_bounding`] while still privileged: drop from the
//!    bounding set every capability the spec does not list (needs
//!    `CAP_SETPCAP`);
//! 2. the caller switches user: [`set_keep_caps`]`(true)`, `setgroups`,
//!    `setgid`, `setuid`, [`set_keep_caps`]`(false)`, so the permitted set
//!    survives a change away from uid 0 (capabilities(7), "Effect of user ID
//!    changes on capabilities");
//! 3. [`Capabilities::apply`]: effective, permitted and inheritable in one
//!    `capset(2)`, then the ambient set, which the kernel only lets a
//!    capability into when it is both permitted and inheritable.
//!
//! The apply steps make system calls only (no allocation), so they can run in
//! a forked child.

use oci_spec::runtime::LinuxCapabilities;
use rustix::thread::{self as thread, CapabilitySet, CapabilitySets};

/// Capability names indexed by capability number (`<linux/capability.h>`).
pub const KNOWN: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Errors from applying capabilities. Names are `'static` so that building an
/// error does not allocate in a forked child.
#[derive(Debug, thiserror::Error)]
pub enum CapabilitiesError {
    #[error("drop {name} from the bounding set: {source}")]
    DropBounding {
        name: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("read the bounding set: {0}")]
    ReadBounding(#[source] std::io::Error),
    #[error("effective capability {0} is not in the permitted set")]
    EffectiveNotPermitted(&'static str),
    #[error("set effective, permitted and inheritable capabilities: {0}")]
    Set(#[source] std::io::Error),
    #[error("clear the ambient set: {0}")]
    ClearAmbient(#[source] std::io::Error),
    #[error("raise ambient capability {name}: {source}")]
    RaiseAmbient {
        name: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("set keep-capabilities to {keep}: {source}")]
    KeepCaps {
        keep: bool,
        #[source]
        source: std::io::Error,
    },
}

/// The capability sets a container process ends up with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    bounding: u64,
    effective: u64,
    permitted: u64,
    inheritable: u64,
    ambient: u64,
    last_cap: u32,
}

impl Capabilities {
    /// Builds the plan from the spec. A set the spec leaves out is empty.
    ///
    /// Capabilities the running kernel does not have are left out and
    /// returned, sorted and without duplicates, for the caller to warn about
    /// (runc: "ignoring unknown or unavailable capabilities").
    pub fn from_spec(spec: &LinuxCapabilities) -> (Self, Vec<String>) {
        Self::for_kernel(spec, last_cap())
    }

    fn for_kernel(spec: &LinuxCapabilities, last_cap: u32) -> (Self, Vec<String>) {
        let mut unknown = Vec::new();
        let mut mask = |set: &Option<oci_spec::runtime::Capabilities>| {
            let mut bits = 0u64;
            for cap in set.iter().flatten() {
                let name = format!("CAP_{cap}");
                match KNOWN.iter().position(|&k| k == name) {
                    Some(n) if n as u32 <= last_cap => bits |= 1 << n,
                    _ => unknown.push(name),
                }
            }
            bits
        };
        let caps = Self {
            bounding: mask(spec.bounding()),
            effective: mask(spec.effective()),
            permitted: mask(spec.permitted()),
            inheritable: mask(spec.inheritable()),
            ambient: mask(spec.ambient()),
            last_cap,
        };
        unknown.sort();
        unknown.dedup();
        (caps, unknown)
    }

    /// The bounding set as a bit mask.
    pub fn bounding(&self) -> u64 {
        self.bounding
    }

    /// The effective set as a bit mask.
    pub fn effective(&self) -> u64 {
        self.effective
    }

    /// The permitted set as a bit mask.
    pub fn permitted(&self) -> u64 {
        self.permitted
    }

    /// The inheritable set as a bit mask.
    pub fn inheritable(&self) -> u64 {
        self.inheritable
    }

    /// The ambient set as a bit mask.
    pub fn ambient(&self) -> u64 {
        self.ambient
    }

    /// Drops every capability outside the planned bounding set from the
    /// calling thread's bounding set. Step 1; needs `CAP_SETPCAP`.
    ///
    /// Capabilities already gone are skipped, so a second call (or a call in
    /// a process that already has the right set) needs no privilege.
    pub fn apply_bounding(&self) -> Result<(), CapabilitiesError> {
        for n in 0..=self.last_cap {
            if self.bounding & (1 << n) != 0 {
                continue;
            }
            let cap = CapabilitySet::from_bits_retain(1 << n);
            let present = thread::capability_is_in_bounding_set(cap)
                .map_err(|e| CapabilitiesError::ReadBounding(e.into()))?;
            if present {
                thread::remove_capability_from_bounding_set(cap).map_err(|e| {
                    CapabilitiesError::DropBounding {
                        name: KNOWN[n as usize],
                        source: e.into(),
                    }
                })?;
            }
        }
        Ok(())
    }

    /// Sets the effective, permitted and inheritable sets, then the ambient
    /// set. Step 3, after the user switch.
    ///
    /// An ambient capability that is not both permitted and inheritable
    /// cannot be raised (prctl(2), PR_CAP_AMBIENT_RAISE); like runc, it is
    /// skipped and reported in the returned warnings rather than failing.
    pub fn apply(&self) -> Result<Vec<String>, CapabilitiesError> {
        // Validate before changing anything; the kernel would refuse this
        // with a bare EPERM half-way through.
        if let Some(n) = first_bit(self.effective & !self.permitted) {
            return Err(CapabilitiesError::EffectiveNotPermitted(KNOWN[n]));
        }
        thread::set_capabilities(
            None,
            CapabilitySets {
                effective: CapabilitySet::from_bits_retain(self.effective),
                permitted: CapabilitySet::from_bits_retain(self.permitted),
                inheritable: CapabilitySet::from_bits_retain(self.inheritable),
            },
        )
        .map_err(|e| CapabilitiesError::Set(e.into()))?;
        thread::clear_ambient_capability_set()
            .map_err(|e| CapabilitiesError::ClearAmbient(e.into()))?;
        let mut warnings = Vec::new();
        let raisable = self.permitted & self.inheritable;
        for n in 0..=self.last_cap {
            if self.ambient & (1 << n) == 0 {
                continue;
            }
            if raisable & (1 << n) == 0 {
                warnings.push(format!(
                    "can't raise ambient capability {}: not both permitted and inheritable",
                    KNOWN[n as usize]
                ));
                continue;
            }
            thread::configure_capability_in_ambient_set(
                CapabilitySet::from_bits_retain(1 << n),
                true,
            )
            .map_err(|e| CapabilitiesError::RaiseAmbient {
                name: KNOWN[n as usize],
                source: e.into(),
            })?;
        }
        Ok(warnings)
    }
}

fn first_bit(mask: u64) -> Option<usize> {
    (mask != 0).then(|| mask.trailing_zeros() as usize)
}

/// `prctl(PR_SET_KEEPCAPS)`: whether the permitted set survives a switch
/// away from uid 0. The kernel clears the flag again on `execve`.
pub fn set_keep_caps(keep: bool) -> Result<(), CapabilitiesError> {
    thread::set_keep_capabilities(keep).map_err(|e| CapabilitiesError::KeepCaps {
        keep,
        source: e.into(),
    })
}

/// The highest capability number the running kernel knows, found by asking
/// for bounding-set membership until the kernel answers `EINVAL` (the same
/// answer `/proc/sys/kernel/cap_last_cap` gives, without needing `/proc`).
pub fn last_cap() -> u32 {
    (0..63u32)
        .take_while(|&n| {
            thread::capability_is_in_bounding_set(CapabilitySet::from_bits_retain(1 << n)).is_ok()
        })
        .last()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    fn spec(json: serde_json::Value) -> LinuxCapabilities {
        serde_json::from_value(json).expect("valid capabilities")
    }

    fn bits(names: &[&str]) -> u64 {
        names
            .iter()
            .map(|n| 1u64 << KNOWN.iter().position(|k| k == n).expect(n))
            .fold(0, |a, b| a | b)
    }

    /// The capability masks of a process, from /proc/<pid>/status.
    #[derive(Debug, PartialEq, Eq)]
    struct Status {
        inh: u64,
        prm: u64,
        eff: u64,
        bnd: u64,
        amb: u64,
    }

    fn read_status(pid: nix::unistd::Pid) -> Status {
        let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let field = |name: &str| {
            let line = text
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .unwrap_or_else(|| panic!("{name} missing"));
            u64::from_str_radix(line.trim_start_matches(':').trim(), 16).unwrap()
        };
        Status {
            inh: field("CapInh"),
            prm: field("CapPrm"),
            eff: field("CapEff"),
            bnd: field("CapBnd"),
            amb: field("CapAmb"),
        }
    }

    /// Runs `steps` in a forked child. The child reports the result code of
    /// `steps` over a pipe and then waits to be killed, so the parent can
    /// read its /proc/<pid>/status while the capabilities are in place.
    fn in_child(steps: impl FnOnce() -> u8) -> (u8, Status) {
        let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
        // SAFETY: the child only makes system calls (the steps, write,
        // pause) and never returns into the test harness.
        match unsafe { nix::unistd::fork() }.expect("fork") {
            nix::unistd::ForkResult::Child => {
                let code = steps();
                let _ = rustix::io::write(&write, &[code]);
                loop {
                    // SAFETY: pause(2) has no arguments; the parent kills us.
                    unsafe { libc::pause() };
                }
            }
            nix::unistd::ForkResult::Parent { child } => {
                drop(write);
                let mut code = [0u8];
                let n = rustix::io::read(read.as_fd(), &mut code).unwrap();
                let status = (n == 1).then(|| read_status(child));
                nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL).unwrap();
                nix::sys::wait::waitpid(child, None).unwrap();
                (code[0], status.expect("child died before reporting"))
            }
        }
    }

    const OK: u8 = 0;

    /// Steps 1 to 3 of the module documentation, as the child runs them;
    /// returns which step failed.
    fn switch_to(caps: Capabilities, uid: u32) -> u8 {
        if caps.apply_bounding().is_err() {
            return 1;
        }
        if set_keep_caps(true).is_err() {
            return 2;
        }
        // SAFETY: an empty supplementary group list; no pointer is read.
        let groups = unsafe { libc::setgroups(0, std::ptr::null()) };
        // SAFETY: plain integer arguments.
        let gid = unsafe { libc::setresgid(uid, uid, uid) };
        // SAFETY: plain integer arguments.
        let uid = unsafe { libc::setresuid(uid, uid, uid) };
        if groups != 0 || gid != 0 || uid != 0 {
            return 3;
        }
        if set_keep_caps(false).is_err() {
            return 4;
        }
        match caps.apply() {
            Ok(w) if w.is_empty() => OK,
            Ok(_) => 5,
            Err(_) => 6,
        }
    }

    #[test]
    fn capabilities_reduced_set_applies_to_a_non_root_user() {
        let (caps, unknown) = Capabilities::from_spec(&spec(serde_json::json!({
            "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "effective": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "inheritable": ["CAP_NET_BIND_SERVICE"],
            "ambient": ["CAP_NET_BIND_SERVICE"]
        })));
        assert!(unknown.is_empty());
        let (code, status) = in_child(|| switch_to(caps, 1000));
        assert_eq!(code, OK);
        assert_eq!(
            status,
            Status {
                bnd: bits(&["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]),
                eff: bits(&["CAP_KILL", "CAP_NET_BIND_SERVICE"]),
                prm: bits(&["CAP_KILL", "CAP_NET_BIND_SERVICE"]),
                inh: bits(&["CAP_NET_BIND_SERVICE"]),
                amb: bits(&["CAP_NET_BIND_SERVICE"]),
            }
        );
    }

    #[test]
    fn capabilities_root_keeps_only_the_listed_sets() {
        let (caps, _) = Capabilities::from_spec(&spec(serde_json::json!({
            "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SYS_ADMIN"],
            "effective": ["CAP_AUDIT_WRITE", "CAP_KILL"],
            "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_SYS_ADMIN"]
        })));
        let (code, status) = in_child(|| match (caps.apply_bounding(), caps.apply()) {
            (Ok(()), Ok(w)) if w.is_empty() => OK,
            _ => 1,
        });
        assert_eq!(code, OK);
        assert_eq!(
            status,
            Status {
                bnd: bits(&[
                    "CAP_AUDIT_WRITE",
                    "CAP_KILL",
                    "CAP_NET_BIND_SERVICE",
                    "CAP_SYS_ADMIN"
                ]),
                eff: bits(&["CAP_AUDIT_WRITE", "CAP_KILL"]),
                prm: bits(&["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_SYS_ADMIN"]),
                inh: 0,
                amb: 0,
            }
        );
    }

    #[test]
    fn capabilities_ambient_outside_inheritable_is_skipped_with_a_warning() {
        let (caps, _) = Capabilities::from_spec(&spec(serde_json::json!({
            "bounding": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "effective": ["CAP_KILL"],
            "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "ambient": ["CAP_NET_BIND_SERVICE"]
        })));
        // runc's default spec asks for ambient capabilities without listing
        // them as inheritable: that must not fail the container.
        let (code, status) = in_child(|| match (caps.apply_bounding(), caps.apply()) {
            (Ok(()), Ok(w)) if w.len() == 1 && w[0].contains("CAP_NET_BIND_SERVICE") => OK,
            _ => 1,
        });
        assert_eq!(code, OK);
        assert_eq!(status.bnd, bits(&["CAP_KILL", "CAP_NET_BIND_SERVICE"]));
        assert_eq!(status.eff, bits(&["CAP_KILL"]));
        assert_eq!(status.prm, bits(&["CAP_KILL", "CAP_NET_BIND_SERVICE"]));
        assert_eq!(status.amb, 0);
    }

    #[test]
    fn capabilities_unavailable_on_the_kernel_are_reported_not_applied() {
        // A kernel whose last capability is CAP_PERFMON (38) lacks BPF and
        // CHECKPOINT_RESTORE.
        let (caps, unknown) = Capabilities::for_kernel(
            &spec(serde_json::json!({
                "bounding": ["CAP_CHECKPOINT_RESTORE", "CAP_BPF", "CAP_PERFMON", "CAP_BPF"],
                "effective": ["CAP_BPF"]
            })),
            38,
        );
        assert_eq!(unknown, ["CAP_BPF", "CAP_CHECKPOINT_RESTORE"]);
        assert_eq!(caps.bounding(), bits(&["CAP_PERFMON"]));
        assert_eq!(caps.effective(), 0);
    }

    #[test]
    fn capabilities_names_match_kernel_numbers() {
        assert_eq!(1 << 21, CapabilitySet::SYS_ADMIN.bits());
        assert_eq!(bits(&["CAP_NET_RAW"]), CapabilitySet::NET_RAW.bits());
        assert_eq!(
            bits(&["CAP_CHECKPOINT_RESTORE"]),
            CapabilitySet::CHECKPOINT_RESTORE.bits()
        );
        assert_eq!(bits(&["CAP_AUDIT_READ"]), CapabilitySet::AUDIT_READ.bits());
        // Every name parses as an oci-spec capability and maps back to itself.
        for (n, name) in KNOWN.iter().enumerate() {
            let (caps, unknown) =
                Capabilities::for_kernel(&spec(serde_json::json!({ "bounding": [name] })), 40);
            assert!(unknown.is_empty(), "{name}");
            assert_eq!(caps.bounding(), 1 << n, "{name}");
        }
        assert_eq!(
            last_cap() as usize,
            KNOWN.len() - 1,
            "kernel 5.9+ has 41 capabilities"
        );
    }
}
