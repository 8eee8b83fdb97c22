//! Black-box conformance suite for an OCI runtime with runc's command-line
//! contract.
//!
//! Every test drives the runtime binary only through its CLI and checks the
//! result from inside the container (the container command prints what it
//! sees, or writes it to a bind-mounted [`testkit::SharedDir`]) or from the
//! host (state dir, cgroup files, /proc).
//!
//! The binary is berth-runc by default; set `BERTH_TEST_RUNTIME=/usr/sbin/runc`
//! to run the same suite against the reference runc, which is how the tests
//! themselves are checked. runc 1.1 is the reference: where it behaves
//! differently from what a reading of the OCI spec suggests, the tests assert
//! runc's behaviour and say so.
//!
//! Tests are independent and parallel-safe: each has its own runtime state
//! dir, container ids, cgroup paths and temp dirs.

mod badinput;
mod cgroup_layouts;
mod cgroups;
mod exec;
mod hooks;
mod lifecycle;
mod mounts;
mod process;
mod security;
mod spec_cmd;
mod terminal;

use testkit::{Bundle, Runtime};

/// The runtime under test, or None (after a loud notice) when not root.
fn runtime() -> Option<Runtime> {
    testkit::require_root().then(|| Runtime::new(env!("CARGO_BIN_EXE_berth-runc")))
}

/// Runs `bundle` in the foreground; asserts exit 0 and returns stdout.
#[track_caller]
fn run_ok(rt: &Runtime, bundle: &Bundle) -> String {
    let ctr = rt.container(bundle);
    ctr.run().ok().stdout
}

/// Asserts that container `id` on `bundle` left nothing behind: no state
/// dir entry, no cgroup named after it, no process on its rootfs.
#[track_caller]
fn assert_nothing_left(rt: &Runtime, id: &str, bundle: &Bundle) {
    let entries = rt.state_entries();
    assert!(
        !entries.iter().any(|e| e == id),
        "state dir still has {id}: {entries:?}"
    );
    let cgroups = testkit::cgroups::dirs_named(id);
    assert!(cgroups.is_empty(), "cgroups left for {id}: {cgroups:?}");
    let procs = testkit::runtime::processes_rooted_in(&bundle.rootfs());
    assert!(
        procs.is_empty(),
        "processes left on {id}'s rootfs: {procs:?}"
    );
}

/// The `sh -c` output lines, trimmed.
fn lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
}
