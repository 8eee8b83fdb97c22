//! Device rules on cgroup v2: v2 has no devices controller; access to
//! device nodes is decided by a `BPF_PROG_TYPE_CGROUP_DEVICE` program
//! attached to the cgroup (cgroup-v2.rst "Device controller"). The kernel
//! runs it with `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major;
//! u32 minor; }` (access in the high 16 bits, type in the low 16) and allows
//! the access when it returns 1.
//!
//! The rules are first reduced with the v1 state machine (so v1 and v2
//! accept and reject the same rule lists, as in runc), then compiled to
//! one check per exception, falling through to the default verdict.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use oci_spec::runtime::LinuxDeviceCgroup;

use super::CgroupError;
use super::devices::{Access, DeviceRule, DeviceState, DeviceType, rules_from_oci};

// From linux/bpf.h.
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 1 << 1;
const DEVCG_DEV_BLOCK: i32 = 1;
const DEVCG_DEV_CHAR: i32 = 2;
const DEVCG_ACC_MKNOD: i32 = 1;
const DEVCG_ACC_READ: i32 = 2;
const DEVCG_ACC_WRITE: i32 = 4;

/// One eBPF instruction (`struct bpf_insn`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Insn {
    code: u8,
    /// dst_reg and src_reg, 4 bits each, in bitfield order.
    regs: u8,
    off: i16,
    imm: i32,
}

const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const R4: u8 = 4;
const R5: u8 = 5;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    // The bitfield puts dst_reg in the low nibble on little-endian targets
    // and in the high nibble on big-endian ones.
    let regs = if cfg!(target_endian = "little") {
        dst | (src << 4)
    } else {
        (dst << 4) | src
    };
    Insn {
        code,
        regs,
        off,
        imm,
    }
}

/// dst = *(u32 *)(src + off)
fn ldx_w(dst: u8, src: u8, off: i16) -> Insn {
    insn(0x61, dst, src, off, 0)
}
/// dst &= imm (64-bit)
fn and_k(dst: u8, imm: i32) -> Insn {
    insn(0x57, dst, 0, 0, imm)
}
/// dst >>= imm (64-bit)
fn rsh_k(dst: u8, imm: i32) -> Insn {
    insn(0x77, dst, 0, 0, imm)
}
/// dst = src (64-bit)
fn mov_x(dst: u8, src: u8) -> Insn {
    insn(0xbf, dst, src, 0, 0)
}
/// dst = imm (64-bit)
fn mov_k(dst: u8, imm: i32) -> Insn {
    insn(0xb7, dst, 0, 0, imm)
}
/// if dst != imm goto pc + 1 + off
fn jne_k(dst: u8, imm: i32, off: i16) -> Insn {
    insn(0x55, dst, 0, off, imm)
}
fn exit() -> Insn {
    insn(0x95, 0, 0, 0, 0)
}

fn bpf_access(a: Access) -> i32 {
    let mut out = 0;
    if a.contains(Access::MKNOD) {
        out |= DEVCG_ACC_MKNOD;
    }
    if a.contains(Access::READ) {
        out |= DEVCG_ACC_READ;
    }
    if a.contains(Access::WRITE) {
        out |= DEVCG_ACC_WRITE;
    }
    out
}

/// The checks of one exception; each failed check jumps to the next block,
/// whose distance is patched in once the block length is known.
fn rule_block(rule: &DeviceRule) -> Result<Vec<Insn>, CgroupError> {
    let mut block = Vec::new();
    match rule.typ {
        DeviceType::Block => block.push(jne_k(R2, DEVCG_DEV_BLOCK, 0)),
        DeviceType::Char => block.push(jne_k(R2, DEVCG_DEV_CHAR, 0)),
        DeviceType::All => {}
    }
    let access = bpf_access(rule.access);
    if access != bpf_access(Access::ALL) {
        // Every requested bit must be in the rule: (req & ~rule) == 0.
        block.push(mov_x(R1, R3));
        block.push(and_k(R1, !access));
        block.push(jne_k(R1, 0, 0));
    }
    for (reg, num) in [(R4, rule.major), (R5, rule.minor)] {
        if let Some(n) = num {
            // Device numbers are below 2^20, so they fit the signed
            // immediate that the 64-bit compare sign-extends.
            let imm = i32::try_from(n).map_err(|_| CgroupError::InvalidDeviceRule {
                index: 0,
                rule: rule.to_string(),
                reason: "device number too large for a cgroup v2 device filter",
            })?;
            block.push(jne_k(reg, imm, 0));
        }
    }
    block.push(mov_k(R0, i32::from(rule.allow)));
    block.push(exit());
    // Patch the jumps to land just past this block.
    let len = block.len();
    for (i, ins) in block.iter_mut().enumerate() {
        if ins.code == 0x55 {
            ins.off = i16::try_from(len - i - 1).unwrap_or(i16::MAX);
        }
    }
    Ok(block)
}

/// A compiled device filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceProgram {
    insns: Vec<Insn>,
}

impl DeviceProgram {
    /// Validates and compiles OCI device rules.
    pub fn compile(rules: &[LinuxDeviceCgroup]) -> Result<DeviceProgram, CgroupError> {
        let state = DeviceState::from_rules(&rules_from_oci(rules)?)?;
        let mut insns = vec![
            // r2 = type, r3 = access, r4 = major, r5 = minor
            ldx_w(R2, R1, 0),
            and_k(R2, 0xffff),
            ldx_w(R3, R1, 0),
            rsh_k(R3, 16),
            ldx_w(R4, R1, 4),
            ldx_w(R5, R1, 8),
        ];
        for rule in state.exceptions() {
            insns.extend(rule_block(&rule)?);
        }
        insns.push(mov_k(R0, i32::from(state.is_deny_list())));
        insns.push(exit());
        Ok(DeviceProgram { insns })
    }

    /// Runs the program on one access, as the kernel would; for tests.
    #[cfg(test)]
    fn run(&self, typ: i32, access: i32, major: u32, minor: u32) -> i64 {
        let mut r = [0i64; 11];
        let ctx = [((access as u32) << 16) | typ as u32, major, minor];
        let mut pc = 0usize;
        loop {
            let ins = self.insns[pc];
            let dst = usize::from(ins.regs & 0xf);
            let src = usize::from(ins.regs >> 4);
            pc += 1;
            match ins.code {
                0x61 => r[dst] = i64::from(ctx[ins.off as usize / 4]),
                0x57 => r[dst] &= i64::from(ins.imm),
                0x77 => r[dst] = ((r[dst] as u64) >> ins.imm) as i64,
                0xbf => r[dst] = r[src],
                0xb7 => r[dst] = i64::from(ins.imm),
                0x55 => {
                    if r[dst] != i64::from(ins.imm) {
                        pc += ins.off as usize;
                    }
                }
                0x95 => return r[0],
                c => panic!("unknown opcode {c:#x}"),
            }
        }
    }

    /// Loads the program and attaches it to the cgroup at `dir`, then
    /// detaches the device programs that were there before, so that an
    /// update replaces the rules instead of stacking a second filter (all
    /// attached programs must allow an access). The new program goes in
    /// first: there is no moment without a filter.
    pub fn attach(&self, dir: &Path) -> Result<(), CgroupError> {
        let cgroup = std::fs::File::open(dir).map_err(|source| CgroupError::Read {
            path: dir.to_owned(),
            source,
        })?;
        let old = query_attached(&cgroup, dir)?;
        let prog = self.load()?;
        // struct { u32 target_fd; u32 attach_bpf_fd; u32 attach_type;
        //          u32 attach_flags; ... }
        let mut attr = Attr::default();
        attr.u32(0, cgroup.as_raw_fd() as u32);
        attr.u32(4, prog.as_raw_fd() as u32);
        attr.u32(8, BPF_CGROUP_DEVICE);
        attr.u32(12, BPF_F_ALLOW_MULTI);
        bpf(BPF_PROG_ATTACH, &mut attr).map_err(|source| CgroupError::Bpf {
            op: "attach device filter to",
            path: dir.to_owned(),
            source,
        })?;
        for id in old {
            let mut get = Attr::default();
            get.u32(0, id);
            // A program detached by someone else meanwhile is already gone.
            let Ok(fd) = bpf(BPF_PROG_GET_FD_BY_ID, &mut get) else {
                continue;
            };
            // SAFETY: BPF_PROG_GET_FD_BY_ID returned a new descriptor that
            // nothing else owns.
            let old_prog = unsafe { OwnedFd::from_raw_fd(fd) };
            let mut det = Attr::default();
            det.u32(0, cgroup.as_raw_fd() as u32);
            det.u32(4, old_prog.as_raw_fd() as u32);
            det.u32(8, BPF_CGROUP_DEVICE);
            bpf(BPF_PROG_DETACH, &mut det).map_err(|source| CgroupError::Bpf {
                op: "detach old device filter from",
                path: dir.to_owned(),
                source,
            })?;
        }
        Ok(())
    }

    /// Loads the program; when the kernel refuses it, loads it again with
    /// the verifier log on, so the error says why. (The log is off at first
    /// because a log buffer that turns out too small fails the load.)
    fn load(&self) -> Result<OwnedFd, CgroupError> {
        let fd = match self.load_with_log(None) {
            Ok(fd) => fd,
            Err(source) => {
                let mut log = vec![0u8; 256 * 1024];
                let retry = self.load_with_log(Some(&mut log));
                let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
                let verifier_log = String::from_utf8_lossy(&log[..end]).trim().to_owned();
                match retry {
                    Ok(fd) => fd,
                    Err(_) => {
                        return Err(CgroupError::BpfLoad {
                            verifier_log,
                            source,
                        });
                    }
                }
            }
        };
        // SAFETY: BPF_PROG_LOAD returned a new descriptor that nothing else
        // owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    fn load_with_log(&self, log: Option<&mut [u8]>) -> std::io::Result<i32> {
        let license = c"Apache";
        // struct { u32 prog_type; u32 insn_cnt; u64 insns; u64 license;
        //          u32 log_level; u32 log_size; u64 log_buf; ... }
        let mut attr = Attr::default();
        attr.u32(0, BPF_PROG_TYPE_CGROUP_DEVICE);
        attr.u32(4, self.insns.len() as u32);
        attr.u64(8, self.insns.as_ptr() as u64);
        attr.u64(16, license.as_ptr() as u64);
        if let Some(log) = log {
            attr.u32(24, 1);
            attr.u32(28, log.len() as u32);
            attr.u64(32, log.as_mut_ptr() as u64);
        }
        bpf(BPF_PROG_LOAD, &mut attr)
    }
}

/// Ids of the device programs attached to the cgroup.
fn query_attached(cgroup: &std::fs::File, dir: &Path) -> Result<Vec<u32>, CgroupError> {
    let mut ids = vec![0u32; 64];
    // struct { u32 target_fd; u32 attach_type; u32 query_flags;
    //          u32 attach_flags; u64 prog_ids; u32 prog_cnt; }
    let mut attr = Attr::default();
    attr.u32(0, cgroup.as_raw_fd() as u32);
    attr.u32(4, BPF_CGROUP_DEVICE);
    attr.u64(16, ids.as_mut_ptr() as u64);
    attr.u32(24, ids.len() as u32);
    bpf(BPF_PROG_QUERY, &mut attr).map_err(|source| CgroupError::Bpf {
        op: "query device filters of",
        path: dir.to_owned(),
        source,
    })?;
    // The kernel writes the number of attached programs back to prog_cnt.
    ids.truncate(attr.get_u32(24) as usize);
    Ok(ids)
}

/// A `union bpf_attr` as bytes; fields are written at their offsets in
/// native byte order. Unused bytes must be zero (the kernel checks).
#[repr(C, align(8))]
struct Attr([u8; 128]);

impl Default for Attr {
    fn default() -> Self {
        Attr([0; 128])
    }
}

impl Attr {
    fn u32(&mut self, off: usize, v: u32) {
        self.0[off..off + 4].copy_from_slice(&v.to_ne_bytes());
    }
    fn u64(&mut self, off: usize, v: u64) {
        self.0[off..off + 8].copy_from_slice(&v.to_ne_bytes());
    }
    fn get_u32(&self, off: usize) -> u32 {
        let mut b = [0; 4];
        b.copy_from_slice(&self.0[off..off + 4]);
        u32::from_ne_bytes(b)
    }
}

/// bpf(2).
fn bpf(cmd: libc::c_long, attr: &mut Attr) -> std::io::Result<i32> {
    // SAFETY: `attr` is a valid, writable buffer of the given size for the
    // duration of the call; the pointers inside it (instructions, license,
    // log and id buffers) are kept alive by the callers until it returns.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr.0.as_mut_ptr(),
            attr.0.len() as libc::c_uint,
        )
    };
    if ret < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(ret as i32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceType;

    fn oci(
        allow: bool,
        typ: Option<LinuxDeviceType>,
        major: Option<i64>,
        minor: Option<i64>,
        access: &str,
    ) -> LinuxDeviceCgroup {
        let mut r = LinuxDeviceCgroup::default();
        r.set_allow(allow);
        r.set_typ(typ);
        r.set_major(major);
        r.set_minor(minor);
        r.set_access(Some(access.to_owned()));
        r
    }

    const C: i32 = DEVCG_DEV_CHAR;
    const B: i32 = DEVCG_DEV_BLOCK;
    const R: i32 = DEVCG_ACC_READ;
    const W: i32 = DEVCG_ACC_WRITE;
    const M: i32 = DEVCG_ACC_MKNOD;

    #[test]
    fn allow_list_program_decides_like_the_rules() {
        let p = DeviceProgram::compile(&[
            oci(false, None, None, None, "rwm"),
            oci(true, Some(LinuxDeviceType::C), Some(1), Some(3), "rw"),
            oci(true, Some(LinuxDeviceType::C), None, None, "m"),
            oci(true, Some(LinuxDeviceType::C), Some(136), None, "rwm"),
        ])
        .unwrap();
        assert_eq!(p.run(C, R, 1, 3), 1);
        assert_eq!(p.run(C, R | W, 1, 3), 1);
        assert_eq!(
            p.run(C, M, 1, 3),
            1,
            "mknod is allowed for every char device"
        );
        assert_eq!(p.run(C, R, 1, 5), 0);
        assert_eq!(p.run(B, M, 8, 0), 0);
        assert_eq!(p.run(C, W, 136, 7), 1);
        assert_eq!(p.run(B, R, 136, 7), 0);
    }

    #[test]
    fn deny_list_program_and_empty_rules() {
        let p = DeviceProgram::compile(&[
            oci(true, None, None, None, "rwm"),
            oci(false, Some(LinuxDeviceType::B), Some(8), Some(0), "w"),
        ])
        .unwrap();
        assert_eq!(p.run(B, W, 8, 0), 0);
        assert_eq!(p.run(B, R, 8, 0), 1);
        assert_eq!(p.run(C, W, 1, 3), 1);
        let deny_all = DeviceProgram::compile(&[]).unwrap();
        assert_eq!(deny_all.run(C, R, 1, 3), 0);
        assert_eq!(deny_all.insns.len(), 8);
    }

    #[test]
    fn invalid_rules_are_refused() {
        assert!(DeviceProgram::compile(&[oci(true, None, None, None, "x")]).is_err());
    }
}
