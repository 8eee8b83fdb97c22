//! Seccomp filters from the `linux.seccomp` section of a runtime spec.
//!
//! Lifecycle: [`compile`] turns the spec section into a [`Filter`], a finished
//! classic-BPF program plus the `seccomp(2)` flags to load it with. Compiling
//! allocates and calls into libseccomp, so the runtime does it before it forks.
//! [`Filter::load`] is a single `seccomp(SECCOMP_SET_MODE_FILTER)` call with no
//! allocation, safe to run in the forked init just before `execve`.
//!
//! The rules follow runc (libcontainer/seccomp):
//! - `SCMP_ACT_KILL` is `SCMP_ACT_KILL_THREAD`;
//! - `SCMP_ACT_ERRNO` and `SCMP_ACT_TRACE` without `errnoRet` return `EPERM`;
//! - a syscall name that libseccomp does not know is skipped, so that a profile
//!   written for a newer kernel still loads (see [`Filter::ignored_syscalls`]);
//! - a rule whose action equals the default action is skipped (libseccomp
//!   rejects it);
//! - conditions on distinct arguments are ANDed in one rule; when two
//!   conditions name the same argument, each becomes a rule of its own (ORed),
//!   which is what profiles such as Docker's expect.
//!
//! `SCMP_ACT_NOTIFY` needs a seccomp agent behind `listenerPath`; berth does not
//! implement that protocol, so a profile using it is rejected.

use std::io::{Read, Seek, SeekFrom};

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
    ScmpVersion,
};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag,
    LinuxSeccompOperator, LinuxSyscall,
};

/// A syscall has at most six arguments (`seccomp_data.args`).
const MAX_ARGS: usize = 6;

/// `BPF_MAXINSNS`: the kernel refuses longer classic-BPF programs.
const MAX_INSTRUCTIONS: usize = 4096;

/// Actions [`compile`] accepts, in the spelling of the runtime spec.
pub const ACTIONS: &[&str] = &[
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_LOG",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_TRAP",
];

/// Argument comparison operators [`compile`] accepts.
pub const OPERATORS: &[&str] = &[
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_LE",
    "SCMP_CMP_LT",
    "SCMP_CMP_MASKED_EQ",
    "SCMP_CMP_NE",
];

/// Filter flags [`compile`] accepts.
pub const KNOWN_FLAGS: &[&str] = &[
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
];

/// Errors from compiling or loading a seccomp filter.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("seccomp notify is not supported ({context} uses SCMP_ACT_NOTIFY)")]
    NotifyUnsupported { context: String },
    #[error("seccomp flag {flag} is not supported")]
    UnsupportedFlag { flag: LinuxSeccompFilterFlag },
    #[error("seccomp errnoRet {value} of {context} is out of range (at most 65535)")]
    ErrnoRetRange { context: String, value: u32 },
    #[error("seccomp rule for {syscall}: argument index {index} is out of range (0-5)")]
    ArgIndex { syscall: String, index: usize },
    #[error("seccomp rule with an empty syscall name")]
    EmptySyscallName,
    #[error("seccomp architecture {arch} is not supported")]
    UnsupportedArch { arch: Arch },
    #[error("create seccomp filter: {0}")]
    Create(#[source] libseccomp::error::SeccompError),
    #[error("add architecture {arch} to seccomp filter: {source}")]
    AddArch {
        arch: Arch,
        #[source]
        source: libseccomp::error::SeccompError,
    },
    #[error("add seccomp rule for syscall {syscall}: {source}")]
    AddRule {
        syscall: String,
        #[source]
        source: libseccomp::error::SeccompError,
    },
    #[error("export seccomp filter as bpf: {0}")]
    Export(#[source] libseccomp::error::SeccompError),
    #[error("export seccomp filter as bpf: {op}: {source}")]
    ExportIo {
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("seccomp filter has {0} instructions, more than the kernel's limit of 4096")]
    TooLong(usize),
    #[error("load seccomp filter: {0}")]
    Load(#[source] std::io::Error),
    #[error("load seccomp filter: thread {0} could not be synchronized")]
    Tsync(i64),
}

/// A compiled seccomp filter, ready to load.
///
/// It holds only plain data (the BPF program and the flags), so it can be
/// built before `fork` and loaded after it.
#[derive(Debug, Clone)]
pub struct Filter {
    program: Vec<libc::sock_filter>,
    flags: libc::c_ulong,
    ignored: Vec<String>,
}

impl Filter {
    /// Syscall names the profile listed but libseccomp does not know; their
    /// rules were skipped. The caller may log them (runc logs at debug level).
    pub fn ignored_syscalls(&self) -> &[String] {
        &self.ignored
    }

    /// The number of BPF instructions.
    pub fn len(&self) -> usize {
        self.program.len()
    }

    /// Whether the program is empty (never true for a compiled filter).
    pub fn is_empty(&self) -> bool {
        self.program.is_empty()
    }

    /// The `SECCOMP_FILTER_FLAG_*` bits passed to `seccomp(2)`.
    pub fn flags(&self) -> libc::c_ulong {
        self.flags
    }

    /// The `k` operands of the program, for inspection in tests and debugging.
    pub fn operands(&self) -> impl Iterator<Item = u32> + '_ {
        self.program.iter().map(|insn| insn.k)
    }

    /// Installs the filter on the calling thread (all threads with TSYNC).
    ///
    /// The kernel requires `no_new_privs` or `CAP_SYS_ADMIN` in the caller's
    /// user namespace; this function does not set `no_new_privs` (the caller
    /// decides, from `process.noNewPrivileges`). It does not allocate.
    pub fn load(self) -> Result<(), SeccompError> {
        let program = libc::sock_fprog {
            // Checked against MAX_INSTRUCTIONS in `compile`.
            len: self.program.len() as libc::c_ushort,
            filter: self.program.as_ptr().cast_mut(),
        };
        // SAFETY: `program` points into `self.program`, which outlives the
        // call; the kernel copies the instructions before returning and does
        // not write through the pointer.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                self.flags,
                &program as *const libc::sock_fprog,
            )
        };
        match rc {
            0 => Ok(()),
            // With TSYNC, a positive result is the id of a thread that could
            // not be moved to the new filter (seccomp(2)).
            tid if tid > 0 => Err(SeccompError::Tsync(tid)),
            _ => Err(SeccompError::Load(std::io::Error::last_os_error())),
        }
    }
}

impl Filter {
    const MAGIC: &'static [u8; 8] = b"BSECCMP1";

    /// The filter as bytes, for [`compile_cached`]: magic, flags (u64 LE),
    /// then each instruction as code (u16 LE), jt, jf, k (u32 LE).
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.program.len() * 8);
        out.extend_from_slice(Self::MAGIC);
        // c_ulong is u64 here but u32 on 32-bit targets.
        #[allow(clippy::useless_conversion)]
        let flags = u64::from(self.flags);
        out.extend_from_slice(&flags.to_le_bytes());
        for i in &self.program {
            out.extend_from_slice(&i.code.to_le_bytes());
            out.extend([i.jt, i.jf]);
            out.extend_from_slice(&i.k.to_le_bytes());
        }
        out
    }

    /// The inverse of `to_bytes`; None for anything malformed.
    fn from_bytes(b: &[u8]) -> Option<Filter> {
        let rest = b.strip_prefix(Self::MAGIC.as_slice())?;
        let (flags, insns) = rest.split_at_checked(8)?;
        if insns.is_empty() || insns.len() % 8 != 0 || insns.len() / 8 > MAX_INSTRUCTIONS {
            return None;
        }
        let program = insns
            .chunks_exact(8)
            .map(|c| libc::sock_filter {
                code: u16::from_le_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect();
        Some(Filter {
            program,
            flags: libc::c_ulong::try_from(u64::from_le_bytes(flags.try_into().ok()?)).ok()?,
            ignored: Vec::new(),
        })
    }
}

/// [`compile`], with the result kept in `cache_dir` under a digest of the
/// profile, the libseccomp version and this crate's version.
///
/// Compiling a large profile (Docker's default lists ~350 syscalls for three
/// architectures) takes libseccomp 10-15 ms, most of a container start; the
/// program only depends on those inputs, so it is compiled once. The cache
/// lives in the runtime's state root, which only root can write: a forged
/// entry there would need privileges that already own the host. An entry
/// that cannot be read or parsed is simply recompiled; a failure to store
/// one is ignored (the cache is an optimization).
pub fn compile_cached(
    spec: &LinuxSeccomp,
    cache_dir: &std::path::Path,
) -> Result<Filter, SeccompError> {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(serde_json::to_vec(spec).unwrap_or_default());
    h.update(library_version().unwrap_or_default());
    h.update(env!("CARGO_PKG_VERSION"));
    h.update(std::env::consts::ARCH);
    let key: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let path = cache_dir.join(format!("{key}.bpf"));
    if let Some(f) = std::fs::read(&path)
        .ok()
        .and_then(|b| Filter::from_bytes(&b))
    {
        return Ok(f);
    }
    let filter = compile(spec)?;
    if std::fs::create_dir_all(cache_dir).is_ok() {
        let tmp = cache_dir.join(format!(".{key}.{}", std::process::id()));
        if std::fs::write(&tmp, filter.to_bytes()).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
        let _ = std::fs::remove_file(&tmp);
    }
    Ok(filter)
}

/// Compiles a `linux.seccomp` section into a loadable [`Filter`].
pub fn compile(spec: &LinuxSeccomp) -> Result<Filter, SeccompError> {
    let default_action = action(
        spec.default_action(),
        spec.default_errno_ret(),
        "the default action",
    )?;
    let flags = filter_flags(spec.flags().as_deref().unwrap_or_default())?;
    let archs = spec
        .architectures()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|&arch| scmp_arch(arch).map(|a| (arch, a)))
        .collect::<Result<Vec<_>, _>>()?;
    let rules = rules(spec.syscalls().as_deref().unwrap_or_default())?;

    let mut ctx = ScmpFilterContext::new(default_action).map_err(SeccompError::Create)?;
    for (arch, scmp) in archs {
        ctx.add_arch(scmp)
            .map_err(|source| SeccompError::AddArch { arch, source })?;
    }
    let mut ignored = Vec::new();
    for rule in rules {
        if rule.action == default_action {
            continue;
        }
        let Ok(nr) = ScmpSyscall::from_name(rule.name) else {
            if !ignored.iter().any(|n| n == rule.name) {
                ignored.push(rule.name.to_owned());
            }
            continue;
        };
        let add_error = |source| SeccompError::AddRule {
            syscall: rule.name.to_owned(),
            source,
        };
        if rule.ored {
            for cond in &rule.conditions {
                ctx.add_rule_conditional(rule.action, nr, std::slice::from_ref(cond))
                    .map_err(add_error)?;
            }
        } else {
            ctx.add_rule_conditional(rule.action, nr, &rule.conditions)
                .map_err(add_error)?;
        }
    }
    let program = export(&ctx)?;
    if program.len() > MAX_INSTRUCTIONS {
        return Err(SeccompError::TooLong(program.len()));
    }
    Ok(Filter {
        program,
        flags,
        ignored,
    })
}

/// One syscall's rule, validated and converted, before it meets libseccomp.
struct Rule<'a> {
    name: &'a str,
    action: ScmpAction,
    conditions: Vec<ScmpArgCompare>,
    /// Two conditions name the same argument: add one rule per condition.
    ored: bool,
}

fn rules(syscalls: &[LinuxSyscall]) -> Result<Vec<Rule<'_>>, SeccompError> {
    let mut out = Vec::new();
    for call in syscalls {
        let context = format!("the rule for {}", call.names().join(","));
        let act = action(call.action(), call.errno_ret(), &context)?;
        for name in call.names() {
            if name.is_empty() {
                return Err(SeccompError::EmptySyscallName);
            }
            let args = call.args().as_deref().unwrap_or_default();
            let mut per_index = [0usize; MAX_ARGS];
            let mut conditions = Vec::with_capacity(args.len());
            for arg in args {
                let count =
                    per_index
                        .get_mut(arg.index())
                        .ok_or_else(|| SeccompError::ArgIndex {
                            syscall: name.clone(),
                            index: arg.index(),
                        })?;
                *count += 1;
                conditions.push(condition(arg));
            }
            out.push(Rule {
                name,
                action: act,
                conditions,
                ored: per_index.iter().any(|&n| n > 1),
            });
        }
    }
    Ok(out)
}

fn action(
    act: LinuxSeccompAction,
    errno_ret: Option<u32>,
    context: &str,
) -> Result<ScmpAction, SeccompError> {
    let ret = || -> Result<u16, SeccompError> {
        match errno_ret {
            None => Ok(libc::EPERM as u16),
            Some(value) => u16::try_from(value).map_err(|_| SeccompError::ErrnoRetRange {
                context: context.to_owned(),
                value,
            }),
        }
    };
    Ok(match act {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(i32::from(ret()?)),
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(ret()?),
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
        LinuxSeccompAction::ScmpActNotify => {
            return Err(SeccompError::NotifyUnsupported {
                context: context.to_owned(),
            });
        }
    })
}

fn condition(arg: &LinuxSeccompArg) -> ScmpArgCompare {
    // Checked against MAX_ARGS by the caller.
    let index = arg.index() as u32;
    let op = match arg.op() {
        LinuxSeccompOperator::ScmpCmpNe => ScmpCompareOp::NotEqual,
        LinuxSeccompOperator::ScmpCmpLt => ScmpCompareOp::Less,
        LinuxSeccompOperator::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        LinuxSeccompOperator::ScmpCmpEq => ScmpCompareOp::Equal,
        LinuxSeccompOperator::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        LinuxSeccompOperator::ScmpCmpGt => ScmpCompareOp::Greater,
        // The runtime spec (like libseccomp's SCMP_CMP_MASKED_EQ) takes the
        // mask in `value` and the expected result in `valueTwo`.
        LinuxSeccompOperator::ScmpCmpMaskedEq => {
            let datum = arg.value_two().unwrap_or(0);
            return ScmpArgCompare::new(index, ScmpCompareOp::MaskedEqual(arg.value()), datum);
        }
    };
    ScmpArgCompare::new(index, op, arg.value())
}

fn filter_flags(flags: &[LinuxSeccompFilterFlag]) -> Result<libc::c_ulong, SeccompError> {
    flags.iter().try_fold(0, |bits, &flag| {
        Ok(bits
            | match flag {
                LinuxSeccompFilterFlag::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
                LinuxSeccompFilterFlag::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
                LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => {
                    libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW
                }
                // Only meaningful with a notify listener, which berth lacks.
                LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {
                    return Err(SeccompError::UnsupportedFlag { flag });
                }
            })
    })
}

fn scmp_arch(arch: Arch) -> Result<ScmpArch, SeccompError> {
    Ok(match arch {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    })
}

/// Exports the filter's BPF program. libseccomp 2.5 can only write it to a
/// file descriptor (`seccomp_export_bpf_mem` is 2.6), so go through a memfd.
fn export(ctx: &ScmpFilterContext) -> Result<Vec<libc::sock_filter>, SeccompError> {
    let io = |op| move |source| SeccompError::ExportIo { op, source };
    let fd = rustix::fs::memfd_create("berth-seccomp", rustix::fs::MemfdFlags::CLOEXEC)
        .map_err(|e| io("memfd_create")(e.into()))?;
    ctx.export_bpf(&fd).map_err(SeccompError::Export)?;
    let mut file = std::fs::File::from(fd);
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0)).map_err(io("seek"))?;
    file.read_to_end(&mut bytes).map_err(io("read"))?;
    const INSN: usize = std::mem::size_of::<libc::sock_filter>();
    if bytes.len() % INSN != 0 {
        return Err(io("read")(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{} bytes is not a whole number of instructions",
                bytes.len()
            ),
        )));
    }
    // `struct sock_filter` is { u16 code; u8 jt; u8 jf; u32 k } in host order.
    Ok(bytes
        .chunks_exact(INSN)
        .map(|b| libc::sock_filter {
            code: u16::from_ne_bytes([b[0], b[1]]),
            jt: b[2],
            jf: b[3],
            k: u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
        })
        .collect())
}

/// Architectures the linked libseccomp can add to a filter, in the
/// runtime spec's spelling (for the `features` document).
pub fn supported_archs() -> Vec<String> {
    const ALL: &[Arch] = &[
        Arch::ScmpArchAarch64,
        Arch::ScmpArchArm,
        Arch::ScmpArchLoongarch64,
        Arch::ScmpArchM68k,
        Arch::ScmpArchMips,
        Arch::ScmpArchMips64,
        Arch::ScmpArchMips64n32,
        Arch::ScmpArchMipsel,
        Arch::ScmpArchMipsel64,
        Arch::ScmpArchMipsel64n32,
        Arch::ScmpArchParisc,
        Arch::ScmpArchParisc64,
        Arch::ScmpArchPpc,
        Arch::ScmpArchPpc64,
        Arch::ScmpArchPpc64le,
        Arch::ScmpArchRiscv64,
        Arch::ScmpArchS390,
        Arch::ScmpArchS390x,
        Arch::ScmpArchSh,
        Arch::ScmpArchSheb,
        Arch::ScmpArchX32,
        Arch::ScmpArchX86,
        Arch::ScmpArchX86_64,
    ];
    // A filter holds architectures of one byte order only, so try each in a
    // fresh filter emptied of the native one.
    let addable = |arch: ScmpArch| {
        ScmpFilterContext::new(ScmpAction::Allow).is_ok_and(|mut ctx| {
            ctx.remove_arch(ScmpArch::native()).is_ok() && ctx.add_arch(arch).is_ok()
        })
    };
    ALL.iter()
        .filter(|&&arch| scmp_arch(arch).is_ok_and(addable))
        .map(|arch| arch.to_string())
        .collect()
}

/// The subset of [`KNOWN_FLAGS`] the running kernel accepts.
///
/// `seccomp(SECCOMP_SET_MODE_FILTER, flag, NULL)` fails with `EFAULT` when the
/// flag is known (the kernel checks flags before it reads the program) and
/// with `EINVAL` when it is not; nothing is installed either way.
pub fn supported_flags() -> Vec<&'static str> {
    let bits = [
        libc::SECCOMP_FILTER_FLAG_TSYNC,
        libc::SECCOMP_FILTER_FLAG_LOG,
        libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
    ];
    KNOWN_FLAGS
        .iter()
        .zip(bits)
        .filter(|&(_, bit)| {
            // SAFETY: a null program pointer is never dereferenced by user
            // space; the kernel reports it as EFAULT.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_seccomp,
                    libc::SECCOMP_SET_MODE_FILTER,
                    bit,
                    std::ptr::null::<libc::sock_fprog>(),
                )
            };
            rc == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EFAULT)
        })
        .map(|(name, _)| *name)
        .collect()
}

/// The version of the linked libseccomp, as `major.minor.micro`.
pub fn library_version() -> Option<String> {
    ScmpVersion::current()
        .ok()
        .map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro))
}
