//! The shim's single-threaded poll(2) loop.
//!
//! One loop round polls the SIGCHLD signalfd, the listening socket, the
//! output and input fds of init and of every exec, and every client
//! connection; then dispatches what is ready; then finishes processes whose
//! exit and output are complete ([`Shim::tick`]).
//!
//! Output is read whether or not anyone is attached, so a container never
//! blocks on a full pipe: init's goes to the log and to attach clients,
//! an exec's to its stream client (or nowhere when detached).
//!
//! A process is *reaped* when waitpid(2) returns it, and *finished* once its
//! output has ended too (or [`DRAIN_GRACE`] passed: a background process
//! may hold the pipe open forever). Finishing init writes `exit.json`,
//! answers waits and closes attach streams; finishing an exec sends its
//! exit frame. After `delete` the loop ends once init is finished and every
//! answer is written (or [`DELETE_GRACE`] passed).

pub mod ops;

use std::os::fd::AsFd;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use berth_shim_proto::messages::Ack;
use berth_shim_proto::{EXIT_FILE, ExecExit, ExitStatus, Status, Stream, encode_ok, frame};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signalfd::SignalFd;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};

use crate::args::Config;
use crate::conn::{Conn, RequestRead, Role};
use crate::io::{ProcIo, ReadResult, Source, read_some};
use crate::logger::Logger;
use crate::oom::OomWatch;
use crate::runtime::{RunIo, Running, Runtime, Verb, exit_status};

/// How long output may still arrive after a process was reaped.
pub const DRAIN_GRACE: Duration = Duration::from_secs(2);
/// How long the shim lingers after `delete` for answers to be written.
pub const DELETE_GRACE: Duration = Duration::from_secs(5);
/// Client connections served at once; more wait in the listen backlog.
const MAX_CONNS: usize = 128;
/// Finished execs remembered for `exec_state`; older ones are forgotten.
const MAX_FINISHED_EXECS: usize = 256;
/// Reads per output fd per loop round, so one chatty fd cannot starve the
/// others.
const READS_PER_ROUND: usize = 4;
/// The read buffer, and so the largest frame the shim sends.
const READ_BUF: usize = 32 * 1024;

/// The listening socket; its file is removed on drop.
pub struct Listener {
    pub listener: UnixListener,
    pub path: PathBuf,
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The container's init process.
pub struct Init {
    pub pid: i32,
    pub status: Status,
    pub io: ProcIo,
    pub oom: Option<OomWatch>,
    pub reaped: Option<ExitStatus>,
    pub drain_until: Option<Instant>,
    pub finished: Option<ExitStatus>,
}

/// A process started with `runtime exec`.
pub struct Exec {
    pub id: String,
    pub pid: i32,
    pub io: ProcIo,
    pub exit_code: Option<i32>,
    pub drain_until: Option<Instant>,
    pub finished: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proc {
    Init,
    Exec(usize),
}

#[derive(Debug, Clone, Copy)]
enum Token {
    Signal,
    Accept,
    Output(Proc, Source),
    Input(Proc),
    Conn(usize),
}

pub struct Shim {
    cfg: Config,
    rt: Runtime,
    listener: Listener,
    sigfd: SignalFd,
    logger: Option<Logger>,
    init: Init,
    execs: Vec<Exec>,
    conns: Vec<Conn>,
    buf: Vec<u8>,
    /// Set when `delete` succeeded: the deadline for exiting.
    deleting: Option<Instant>,
    /// The runtime's `delete`, started as soon as init is finished.
    runtime_delete: RuntimeDelete,
}

/// Where the runtime's `delete` of the container stands.
enum RuntimeDelete {
    /// Not run yet (init has not finished), or it failed: the daemon's
    /// `delete` request runs it (again) and reports its error.
    Pending,
    /// Started when init finished; the loop goes on serving meanwhile.
    /// `status` is set when the loop reaps it.
    Running {
        cmd: Running<'static>,
        status: Option<std::process::ExitStatus>,
    },
    /// The runtime has forgotten the container.
    Done,
}

impl Shim {
    pub fn new(
        cfg: Config,
        rt: Runtime,
        listener: Listener,
        sigfd: SignalFd,
        logger: Option<Logger>,
        init: Init,
    ) -> Shim {
        Shim {
            cfg,
            rt,
            listener,
            sigfd,
            logger,
            init,
            execs: Vec::new(),
            conns: Vec::new(),
            buf: vec![0u8; READ_BUF],
            deleting: None,
            runtime_delete: RuntimeDelete::Pending,
        }
    }

    /// Serves until the container is deleted.
    pub fn run(mut self) {
        self.reap();
        self.tick();
        while !self.done() {
            let ready = match self.poll_once() {
                Ok(ready) => ready,
                Err(Errno::EINTR) => continue,
                // poll(2) fails only for bad arguments or no memory; there is
                // nothing better to do than to retry after a pause.
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            };
            for (token, revents) in ready {
                self.dispatch(token, revents);
            }
            self.tick();
        }
    }

    fn done(&self) -> bool {
        let Some(deadline) = self.deleting else {
            return false;
        };
        let answered = self.init.finished.is_some() && self.conns.iter().all(|c| c.backlog() == 0);
        answered || Instant::now() >= deadline
    }

    fn poll_once(&self) -> nix::Result<Vec<(Token, PollFlags)>> {
        let mut tokens = Vec::new();
        let mut fds = Vec::new();
        let mut add = |t: Token, fd, ev| {
            tokens.push(t);
            fds.push(PollFd::new(fd, ev));
        };
        add(Token::Signal, self.sigfd.as_fd(), PollFlags::POLLIN);
        if self.conns.len() < MAX_CONNS {
            add(
                Token::Accept,
                self.listener.listener.as_fd(),
                PollFlags::POLLIN,
            );
        }
        let procs = std::iter::once((Proc::Init, &self.init.io)).chain(
            self.execs
                .iter()
                .enumerate()
                .map(|(i, e)| (Proc::Exec(i), &e.io)),
        );
        for (p, io) in procs {
            for (source, fd) in io.sources() {
                add(Token::Output(p, source), fd, PollFlags::POLLIN);
            }
            if let Some(fd) = io.stdin_pending() {
                add(Token::Input(p), fd, PollFlags::POLLOUT);
            }
        }
        for (i, c) in self.conns.iter().enumerate() {
            let mut ev = PollFlags::empty();
            let wants_input = match &c.role {
                Role::Request => true,
                Role::Closing => false,
                Role::Wait | Role::DeleteWait => !c.read_closed,
                Role::Attach { .. } | Role::Exec { .. } => {
                    !c.read_closed && self.input_room(&c.role) > 0
                }
            };
            if wants_input {
                ev |= PollFlags::POLLIN;
            }
            if c.backlog() > 0 {
                ev |= PollFlags::POLLOUT;
            }
            add(Token::Conn(i), c.fd(), ev);
        }
        let timeout = self
            .next_deadline()
            .map(|d| {
                let left = d.saturating_duration_since(Instant::now());
                // Round up so the deadline has passed when poll returns.
                PollTimeout::try_from(left + Duration::from_millis(1)).unwrap_or(PollTimeout::MAX)
            })
            .unwrap_or(PollTimeout::NONE);
        poll(&mut fds, timeout)?;
        Ok(tokens
            .into_iter()
            .zip(fds.iter())
            .filter_map(|(t, fd)| fd.revents().filter(|r| !r.is_empty()).map(|r| (t, r)))
            .collect())
    }

    fn next_deadline(&self) -> Option<Instant> {
        let init = self
            .init
            .drain_until
            .filter(|_| self.init.finished.is_none());
        let execs = self
            .execs
            .iter()
            .filter(|e| !e.finished)
            .filter_map(|e| e.drain_until);
        init.into_iter().chain(execs).chain(self.deleting).min()
    }

    fn dispatch(&mut self, token: Token, revents: PollFlags) {
        match token {
            Token::Signal => {
                // Drain the signalfd; SIGCHLDs coalesce, so reap everything.
                while let Ok(Some(_)) = self.sigfd.read_signal() {}
                self.reap();
            }
            Token::Accept => self.accept(),
            Token::Output(p, source) => self.read_output(p, source),
            Token::Input(p) => {
                if let Some(io) = self.io_mut(p) {
                    io.flush_stdin();
                }
            }
            Token::Conn(i) => self.conn_ready(i, revents),
        }
    }

    fn io_mut(&mut self, p: Proc) -> Option<&mut ProcIo> {
        match p {
            Proc::Init => Some(&mut self.init.io),
            Proc::Exec(i) => self.execs.get_mut(i).map(|e| &mut e.io),
        }
    }

    fn accept(&mut self) {
        while self.conns.len() < MAX_CONNS {
            match self.listener.listener.accept() {
                Ok((sock, _)) => {
                    if let Ok(c) = Conn::new(sock) {
                        self.conns.push(c);
                    }
                }
                Err(_) => break,
            }
        }
    }

    /// Reaps every child that exited: init, execs, and orphans of the
    /// container re-parented to the shim as subreaper (prctl(2)
    /// PR_SET_CHILD_SUBREAPER), which are only collected.
    fn reap(&mut self) {
        loop {
            let (pid, code, status) = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => {
                    (pid.as_raw(), code, exit_status(Some(code), None))
                }
                Ok(WaitStatus::Signaled(pid, sig, _)) => (
                    pid.as_raw(),
                    128 + sig as i32,
                    exit_status(None, Some(sig as i32)),
                ),
                Ok(WaitStatus::StillAlive) => return,
                Ok(_) => continue,
                Err(Errno::EINTR) => continue,
                Err(_) => return,
            };
            let now = Instant::now();
            if let RuntimeDelete::Running {
                cmd,
                status: st @ None,
            } = &mut self.runtime_delete
            {
                if cmd.pid() == pid {
                    *st = Some(status);
                    continue;
                }
            }
            if pid == self.init.pid && self.init.reaped.is_none() {
                let oom_killed = self.init.oom.as_ref().is_some_and(|w| w.oom_killed());
                self.init.reaped = Some(ExitStatus {
                    exit_code: code,
                    exited_at: timestamp(),
                    oom_killed,
                });
                self.init.status = Status::Stopped;
                self.init.drain_until = Some(now + DRAIN_GRACE);
            } else if let Some(e) = self
                .execs
                .iter_mut()
                .find(|e| e.pid == pid && e.exit_code.is_none())
            {
                e.exit_code = Some(code);
                e.drain_until = Some(now + DRAIN_GRACE);
            }
        }
    }

    /// Ends a runtime `delete` started at init's exit: takes its status
    /// (waiting for it if the loop has not reaped it yet) and records
    /// whether it worked.
    fn settle_runtime_delete(&mut self) {
        let (mut cmd, status) =
            match std::mem::replace(&mut self.runtime_delete, RuntimeDelete::Pending) {
                RuntimeDelete::Running { cmd, status } => (cmd, status),
                other => {
                    self.runtime_delete = other;
                    return;
                }
            };
        let status = match status {
            Some(s) => Ok(s),
            None => cmd.wait(),
        };
        if status.and_then(|s| self.rt.finish(cmd, s)).is_ok() {
            self.runtime_delete = RuntimeDelete::Done;
        }
    }

    fn read_output(&mut self, p: Proc, source: Source) {
        let mut buf = std::mem::take(&mut self.buf);
        for _ in 0..READS_PER_ROUND {
            let Some(io) = self.io_mut(p) else { break };
            let Some(fd) = io.source_fd(source) else {
                break;
            };
            match read_some(fd, &mut buf) {
                ReadResult::Data(n) => self.deliver(p, source.stream(), &buf[..n]),
                ReadResult::Again => break,
                ReadResult::Closed => {
                    io.close_source(source);
                    if let (Proc::Init, Some(l)) = (p, self.logger.as_mut()) {
                        l.finish(source.stream(), &timestamp());
                    }
                    break;
                }
            }
        }
        self.buf = buf;
    }

    /// Sends output to the log and the clients that want it.
    fn deliver(&mut self, p: Proc, stream: Stream, data: &[u8]) {
        match p {
            Proc::Init => {
                if let Some(l) = self.logger.as_mut() {
                    l.write(stream, data, &timestamp());
                }
                for c in &mut self.conns {
                    if let Role::Attach { stdout, stderr, .. } = c.role {
                        let wanted = match stream {
                            Stream::Stderr => stderr,
                            _ => stdout,
                        };
                        if wanted {
                            c.queue_frame(stream, data);
                        }
                    }
                }
            }
            Proc::Exec(i) => {
                let id = &self.execs[i].id;
                for c in &mut self.conns {
                    if matches!(&c.role, Role::Exec { exec_id } if exec_id == id) {
                        c.queue_frame(stream, data);
                    }
                }
            }
        }
    }

    /// How many input bytes a stream connection's target takes now
    /// (unbounded when its input is discarded anyway).
    fn input_room(&self, role: &Role) -> usize {
        let io = match role {
            Role::Attach { stdin: true, .. } => Some(&self.init.io),
            Role::Exec { exec_id } => self.execs.iter().find(|e| &e.id == exec_id).map(|e| &e.io),
            _ => None,
        };
        match io {
            Some(io) if io.stdin_open() => io.stdin_room(),
            _ => usize::MAX,
        }
    }

    fn conn_ready(&mut self, i: usize, revents: PollFlags) {
        if revents.contains(PollFlags::POLLOUT) {
            self.conns[i].flush();
        }
        if revents.intersects(PollFlags::POLLIN | PollFlags::POLLHUP) && !self.conns[i].closed {
            self.conn_readable(i);
        }
        // POLLHUP on a unix stream socket: the peer closed both directions
        // (it is not reported for a mere half-close), so nothing more can
        // be delivered.
        if revents.intersects(PollFlags::POLLHUP | PollFlags::POLLERR) {
            self.conns[i].closed = true;
        }
    }

    fn conn_readable(&mut self, i: usize) {
        let role = self.conns[i].role.clone();
        match role {
            Role::Request => match self.conns[i].read_request() {
                RequestRead::Pending => {}
                RequestRead::Gone => self.conns[i].closed = true,
                RequestRead::TooLong => {
                    let line = berth_shim_proto::encode_err("request line too long");
                    self.conns[i].respond(&line, Role::Closing);
                }
                RequestRead::Line(line, rest) => {
                    self.handle_line(i, &line);
                    if !rest.is_empty() {
                        self.forward_input(i, &rest);
                    }
                }
            },
            Role::Closing | Role::Wait | Role::DeleteWait => {
                let mut sink = [0u8; 512];
                if self.conns[i].read_input(&mut sink) == Some(0) {
                    self.conns[i].read_closed = true;
                }
            }
            Role::Attach { .. } | Role::Exec { .. } => {
                let room = self.input_room(&role).min(READ_BUF);
                if room == 0 {
                    return;
                }
                let mut buf = std::mem::take(&mut self.buf);
                match self.conns[i].read_input(&mut buf[..room]) {
                    Some(0) => self.half_close(i),
                    Some(n) => self.forward_input(i, &buf[..n]),
                    None => {}
                }
                self.buf = buf;
            }
        }
    }

    /// Client bytes of a stream connection go to its process's stdin.
    fn forward_input(&mut self, i: usize, data: &[u8]) {
        match &self.conns[i].role {
            Role::Attach { stdin: true, .. } => self.init.io.queue_stdin(data),
            Role::Exec { exec_id } => {
                if let Some(e) = self.execs.iter_mut().find(|e| &e.id == exec_id) {
                    e.io.queue_stdin(data);
                }
            }
            _ => {}
        }
    }

    /// The client shut down its write half: with `--stdin-once` an attach
    /// client closes init's stdin; an exec client always closes the exec's.
    fn half_close(&mut self, i: usize) {
        self.conns[i].read_closed = true;
        match &self.conns[i].role {
            Role::Attach { stdin: true, .. } if self.cfg.stdin_once => self.init.io.close_stdin(),
            Role::Exec { exec_id } => {
                if let Some(e) = self.execs.iter_mut().find(|e| &e.id == exec_id) {
                    e.io.close_stdin();
                }
            }
            _ => {}
        }
    }

    /// End-of-round bookkeeping: finish processes, drop closed connections.
    fn tick(&mut self) {
        let now = Instant::now();
        let drained = |io: &ProcIo, until: Option<Instant>| {
            !io.output_open() || until.is_some_and(|u| now >= u)
        };
        if self.init.reaped.is_some()
            && self.init.finished.is_none()
            && drained(&self.init.io, self.init.drain_until)
        {
            self.finish_init();
        }
        for i in 0..self.execs.len() {
            let e = &self.execs[i];
            if e.exit_code.is_some() && !e.finished && drained(&e.io, e.drain_until) {
                self.finish_exec(i);
            }
        }
        if let RuntimeDelete::Running {
            status: Some(_), ..
        } = self.runtime_delete
        {
            self.settle_runtime_delete();
        }
        self.conns.retain(|c| !c.closed);
        self.forget_old_execs();
    }

    fn finish_init(&mut self) {
        let Some(exit) = self.init.reaped.clone() else {
            return;
        };
        if let Some(l) = self.logger.as_mut() {
            let t = timestamp();
            l.finish(Stream::Stdout, &t);
            l.finish(Stream::Stderr, &t);
        }
        // A container whose init is gone never runs again (a restart is a
        // new create, with a new shim), so the runtime's state and cgroups
        // go now, while the exit is recorded here and by the daemon,
        // rather than when the daemon asks for `delete`: that request is
        // on the path of every `run --rm`. It runs while the loop goes on
        // (the daemon's `wait` may only now arrive). A failure is left for
        // the `delete` request to try again and report. A `delete` the
        // daemon asked for while init ran has done it already.
        if matches!(self.runtime_delete, RuntimeDelete::Pending) {
            if let Ok(cmd) = self.rt.spawn(
                &Verb::Delete { force: false },
                RunIo::Capture { input: None },
            ) {
                self.runtime_delete = RuntimeDelete::Running { cmd, status: None };
            }
        }
        // Failing to record the exit leaves the daemon to learn it from
        // `wait` or `state`; the shim has no one else to tell.
        let _ = write_exit_file(&self.cfg.state_dir, &exit);
        self.init.io.close_stdin();
        let wait_answer = encode_ok(&exit);
        let delete_answer = encode_ok(&Ack {});
        for c in &mut self.conns {
            match c.role {
                Role::Wait => c.respond(&wait_answer, Role::Closing),
                Role::DeleteWait => c.respond(&delete_answer, Role::Closing),
                Role::Attach { .. } => {
                    c.role = Role::Closing;
                    c.flush();
                }
                _ => {}
            }
        }
        self.init.finished = Some(exit);
    }

    fn finish_exec(&mut self, i: usize) {
        let e = &mut self.execs[i];
        let exit_code = e.exit_code.unwrap_or(-1);
        e.finished = true;
        // Remaining holders of its pipes (background processes) get EPIPE
        // from now on.
        e.io = ProcIo::default();
        let payload = serde_json::to_vec(&ExecExit { exit_code }).expect("serialize exec exit");
        let id = e.id.clone();
        for c in &mut self.conns {
            if matches!(&c.role, Role::Exec { exec_id } if *exec_id == id) {
                c.queue_frame(frame::Stream::Exit, &payload);
                c.role = Role::Closing;
                c.flush();
            }
        }
    }

    fn forget_old_execs(&mut self) {
        let finished = self.execs.iter().filter(|e| e.finished).count();
        if finished <= MAX_FINISHED_EXECS {
            return;
        }
        let mut drop_n = finished - MAX_FINISHED_EXECS;
        // Exec indices change; no token refers to them between rounds.
        self.execs.retain(|e| {
            if e.finished && drop_n > 0 {
                drop_n -= 1;
                false
            } else {
                true
            }
        });
    }
}

/// Now, RFC 3339 with nanoseconds in UTC (trailing zeros trimmed, like
/// Go's RFC3339Nano).
pub fn timestamp() -> String {
    jiff::Timestamp::now().to_string()
}

/// Writes `exit.json` atomically: a temp file, fsync(2), rename(2).
fn write_exit_file(dir: &std::path::Path, exit: &ExitStatus) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = dir.join(format!("{EXIT_FILE}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&serde_json::to_vec(exit).map_err(std::io::Error::other)?)?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join(EXIT_FILE))
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_have_go_rfc3339nano_shape() {
        // Fraction trimmed of trailing zeros, none for whole seconds, UTC.
        let t = |ns: i128| jiff::Timestamp::from_nanosecond(ns).unwrap().to_string();
        assert_eq!(t(1_500_000_000), "1970-01-01T00:00:01.5Z");
        assert_eq!(t(1_000_000_000), "1970-01-01T00:00:01Z");
        assert_eq!(t(1_000_000_001), "1970-01-01T00:00:01.000000001Z");
        let now = super::timestamp();
        assert!(now.ends_with('Z') && now.len() <= 30, "{now}");
    }
}
