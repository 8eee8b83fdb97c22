//! berth-shim: the per-container shim.
//!
//! The daemon runs this binary once per container (see the `args` module
//! for the command line). The process it starts forks the real shim and
//! relays one readiness line to its stdout before exiting; the shim calls
//! setsid(2), becomes a child subreaper, runs `runtime create` with the
//! container's stdio (pipes, or a pty master received on the console
//! socket), and then serves requests on `<state-dir>/shim.sock` until the
//! container is deleted (the `server` module). It holds no connection to
//! the daemon, so the container, its log and its exit record outlive a
//! daemon crash.

mod args;
mod conn;
mod console;
mod io;
mod logger;
mod oom;
mod runtime;
mod server;

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::process::ExitCode;

use berth_shim_proto::{
    CONSOLE_SOCKET_FILE, EXIT_FILE, PID_FILE, RUNTIME_LOG_FILE, SOCKET_FILE, ShimReady, Status,
    encode_err, encode_ok,
};
use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::{ForkResult, fork};

use crate::args::Config;
use crate::console::{ConsoleError, ConsoleSocket};
use crate::io::{ProcIo, pipe, set_nonblocking};
use crate::logger::{LogError, Logger};
use crate::oom::OomWatch;
use crate::runtime::{RunIo, Runtime, RuntimeError, Verb};
use crate::server::ops::{CONSOLE_TIMEOUT, OpError, read_pid};
use crate::server::{Init, Listener, Shim};

#[derive(Debug, thiserror::Error)]
enum SetupError {
    #[error("become child subreaper: {0}")]
    Subreaper(#[source] Errno),
    #[error("chdir {path}: {source}")]
    Chdir {
        path: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("set up SIGCHLD signalfd: {0}")]
    Signals(#[source] Errno),
    #[error("remove stale {path}: {source}")]
    Stale {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("a shim already serves {0}")]
    AlreadyServed(PathBuf),
    #[error("bind {path}: {source}")]
    Bind {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("set up container stdio: {0}")]
    Stdio(#[source] Errno),
    #[error("open /dev/null: {0}")]
    DevNull(#[source] std::io::Error),
    #[error(transparent)]
    Console(#[from] ConsoleError),
    /// The runtime's own message.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Op(#[from] OpError),
    #[error("{error}; cleanup failed too: delete --force: {cleanup}")]
    Cleanup {
        error: Box<SetupError>,
        cleanup: RuntimeError,
    },
}

fn main() -> ExitCode {
    close_inherited_fds();
    let argv: Vec<OsString> = std::env::args_os().skip(1).collect();
    let cfg = match args::parse(&argv) {
        Ok(cfg) => cfg,
        Err(e) => {
            print_line(&encode_err(&format!("berth-shim: {e}")));
            return ExitCode::from(2);
        }
    };
    let (ready_r, ready_w) = match pipe() {
        Ok(p) => p,
        Err(e) => {
            print_line(&encode_err(&format!("create readiness pipe: {e}")));
            return ExitCode::FAILURE;
        }
    };
    // SAFETY: the process has a single thread here (nothing has spawned
    // one), so the child cannot inherit a lock held by another thread; it
    // goes on as an ordinary process.
    match unsafe { fork() } {
        Ok(ForkResult::Parent { .. }) => {
            drop(ready_w);
            relay_readiness(ready_r)
        }
        Ok(ForkResult::Child) => {
            drop(ready_r);
            daemon(cfg, ready_w)
        }
        Err(e) => {
            print_line(&encode_err(&format!("fork: {e}")));
            ExitCode::FAILURE
        }
    }
}

/// Closes every fd above stderr that the spawner let this process
/// inherit. The shim outlives its spawner: holding a copy of the spawner's
/// pipe would keep the spawner's reader from seeing end-of-file, and the
/// runtime and the container would inherit whatever the shim holds.
fn close_inherited_fds() {
    // The raw system call, so the binary does not need glibc 2.34's
    // wrapper.
    // SAFETY: called first thing in main: std opens no fd before main, so
    // no object of this program owns an fd above 2 that this could close.
    let r = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
    if r == 0 {
        return;
    }
    // close_range(2) needs Linux 5.9: fall back to the fd list in /proc.
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > 2)
        .collect();
    for fd in fds {
        // SAFETY: as above, nothing in this program owns these fds (the
        // directory's own fd, in the list too, is closed already).
        unsafe { libc::close(fd) };
    }
}

fn print_line(line: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(line);
    let _ = out.flush();
}

/// The first process: waits for the shim's readiness line and prints it.
fn relay_readiness(ready: OwnedFd) -> ExitCode {
    let mut line = Vec::new();
    let _ = File::from(ready).read_to_end(&mut line);
    if line.is_empty() {
        line = encode_err("shim exited before it was ready");
    }
    print_line(&line);
    if line.starts_with(b"{\"ok\":true") {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The shim proper.
fn daemon(cfg: Config, ready: OwnedFd) -> ExitCode {
    // The daemon reads the first process's stdout to end-of-file: the shim
    // must hold none of the daemon's pipes.
    if let Ok(null) = OpenOptions::new().read(true).write(true).open("/dev/null") {
        let _ = nix::unistd::dup2_stdin(null.as_fd());
        let _ = nix::unistd::dup2_stdout(null.as_fd());
        let _ = nix::unistd::dup2_stderr(null.as_fd());
    }
    // A session of its own: no terminal signals from the daemon's session,
    // no SIGHUP when the daemon's session ends (setsid(2)).
    let _ = nix::unistd::setsid();
    let mut ready = File::from(ready);
    let (shim, rt, ready_msg) = match setup(cfg) {
        Ok(s) => s,
        Err(e) => {
            let _ = ready.write_all(&encode_err(&e.to_string()));
            return ExitCode::FAILURE;
        }
    };
    if ready.write_all(&encode_ok(&ready_msg)).is_err() {
        // The daemon gave up waiting: nobody will ever manage this
        // container, so remove it.
        let _ = rt.run(
            &Verb::Delete { force: true },
            RunIo::Capture { input: None },
        );
        return ExitCode::FAILURE;
    }
    drop(ready);
    shim.run();
    ExitCode::SUCCESS
}

fn setup(cfg: Config) -> Result<(Shim, Runtime, ShimReady), SetupError> {
    // Orphans of the container (and the container's init once `runtime
    // create` exits) become our children (prctl(2)).
    nix::sys::prctl::set_child_subreaper(true).map_err(SetupError::Subreaper)?;
    // The runtime resolves a relative root.path against its cwd: the bundle.
    nix::unistd::chdir(&cfg.bundle).map_err(|source| SetupError::Chdir {
        path: cfg.bundle.clone(),
        source,
    })?;
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None).map_err(SetupError::Signals)?;
    let sigfd = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(SetupError::Signals)?;

    let state = &cfg.state_dir;
    for name in [EXIT_FILE, PID_FILE] {
        let path = state.join(name);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(SetupError::Stale { path, source: e });
            }
            _ => {}
        }
    }
    let listener = bind_listener(state.join(SOCKET_FILE))?;
    let logger = cfg.log.as_ref().map(Logger::open).transpose()?;
    let rt = Runtime {
        bin: cfg.runtime.clone(),
        global_args: cfg.runtime_args.clone(),
        root: cfg.runtime_root.clone(),
        log: state.join(RUNTIME_LOG_FILE),
        id: cfg.id.clone(),
    };
    let (io, pid) = create(&cfg, &rt)?;
    let init = Init {
        pid,
        status: Status::Created,
        io,
        oom: OomWatch::for_pid(pid),
        reaped: None,
        drain_until: None,
        finished: None,
    };
    let ready = ShimReady {
        shim_pid: std::process::id() as i32,
        pid,
    };
    let shim = Shim::new(cfg, rt.clone(), listener, sigfd, logger, init);
    Ok((shim, rt, ready))
}

fn bind_listener(path: PathBuf) -> Result<Listener, SetupError> {
    if berth_shim_proto::sockpath::connect(&path).is_ok() {
        return Err(SetupError::AlreadyServed(path));
    }
    if let Err(e) = std::fs::remove_file(&path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        return Err(SetupError::Stale { path, source: e });
    }
    let bind_err = |source| SetupError::Bind {
        path: path.clone(),
        source,
    };
    let listener = berth_shim_proto::sockpath::bind(&path).map_err(bind_err)?;
    listener.set_nonblocking(true).map_err(bind_err)?;
    Ok(Listener { listener, path })
}

/// Runs `runtime create`; returns init's stdio and pid. On failure the
/// container is force-deleted.
fn create(cfg: &Config, rt: &Runtime) -> Result<(ProcIo, i32), SetupError> {
    let pid_file = cfg.state_dir.join(PID_FILE);
    let created = if cfg.terminal {
        create_with_terminal(cfg, rt, &pid_file)
    } else {
        create_with_pipes(cfg, rt, &pid_file)
    };
    match created {
        Ok(r) => Ok(r),
        Err(Stage::Create(error)) => {
            // The runtime normally removed what it had set up, and answers
            // "does not exist"; this only catches a half-made container.
            let _ = rt.run(
                &Verb::Delete { force: true },
                RunIo::Capture { input: None },
            );
            Err(error)
        }
        Err(Stage::AfterCreate(error)) => {
            match rt.run(
                &Verb::Delete { force: true },
                RunIo::Capture { input: None },
            ) {
                Ok(()) => Err(error),
                Err(cleanup) => Err(SetupError::Cleanup {
                    error: Box::new(error),
                    cleanup,
                }),
            }
        }
    }
}

/// Where a create step failed: before the container existed or after.
enum Stage {
    Create(SetupError),
    AfterCreate(SetupError),
}

fn create_with_terminal(
    cfg: &Config,
    rt: &Runtime,
    pid_file: &std::path::Path,
) -> Result<(ProcIo, i32), Stage> {
    let console = ConsoleSocket::bind(cfg.state_dir.join(CONSOLE_SOCKET_FILE))
        .map_err(|e| Stage::Create(e.into()))?;
    let verb = Verb::Create {
        bundle: &cfg.bundle,
        pid_file,
        console: Some(console.path()),
    };
    rt.run(&verb, RunIo::Capture { input: None })
        .map_err(|e| Stage::Create(e.into()))?;
    let after = |e: SetupError| Stage::AfterCreate(e);
    let pid = read_pid(pid_file).map_err(|e| after(e.into()))?;
    let master = console
        .receive(CONSOLE_TIMEOUT)
        .map_err(|e| after(e.into()))?;
    let io = ProcIo::tty(master, cfg.stdin).map_err(|e| after(SetupError::Stdio(e)))?;
    Ok((io, pid))
}

fn create_with_pipes(
    cfg: &Config,
    rt: &Runtime,
    pid_file: &std::path::Path,
) -> Result<(ProcIo, i32), Stage> {
    let early = |e: Errno| Stage::Create(SetupError::Stdio(e));
    let (stdin_r, stdin_w): (OwnedFd, Option<OwnedFd>) = if cfg.stdin {
        let (r, w) = pipe().map_err(early)?;
        (r, Some(w))
    } else {
        let null = File::open("/dev/null").map_err(|e| Stage::Create(SetupError::DevNull(e)))?;
        (null.into(), None)
    };
    let (out_r, out_w) = pipe().map_err(early)?;
    let (err_r, err_w) = pipe().map_err(early)?;
    set_nonblocking(err_r.as_fd()).map_err(early)?;
    let verb = Verb::Create {
        bundle: &cfg.bundle,
        pid_file,
        console: None,
    };
    let io = RunIo::Inherit {
        stdin: stdin_r.as_fd(),
        stdout: out_w.as_fd(),
        stderr: err_w.as_fd(),
        stderr_reader: Some(err_r.as_fd()),
    };
    rt.run(&verb, io).map_err(|e| Stage::Create(e.into()))?;
    // Only the container may hold the write ends now: its exit must be
    // end-of-file here.
    drop::<[OwnedFd; 3]>([stdin_r, out_w, err_w]);
    let after = |e: SetupError| Stage::AfterCreate(e);
    let pid = read_pid(pid_file).map_err(|e| after(e.into()))?;
    let io = ProcIo::pipes(Some(out_r), Some(err_r), stdin_w)
        .map_err(|e| after(SetupError::Stdio(e)))?;
    Ok((io, pid))
}
