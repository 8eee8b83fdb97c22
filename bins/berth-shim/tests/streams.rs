//! The shim's streams against real runtimes: attach output frames, stdin
//! and its half-close, terminals and resize, exec streams with their exit
//! frame, detached execs, and slow clients.

#[macro_use]
mod support;

use std::io::Write;
use std::net::Shutdown;

use berth_shim_proto::Stream;
use support::{
    Opts, Setup, drain, frame_text, log_text, read_all_frames, read_frames_until, wait_until,
};
use testkit::Bundle;

both_runtimes! {
    fn attach_gets_output_from_attach_on(rt: &Path) {
        let bundle = Bundle::new()
            .sh("echo early; read _ < /shared/gate; echo late-out; echo late-err >&2; exit 5");
        let mut s = Setup::new(rt, bundle);
        let mut gate = s.shared.gate("gate");
        s.spawn(&Opts::default());
        let c = s.client();
        c.start().unwrap();
        wait_until("early output in the log", || log_text(&s.log_path(), "stdout") == "early\n");
        let mut both = c.attach(false, true, true).unwrap();
        let mut err_only = c.attach(false, false, true).unwrap();
        gate.open();
        let frames = read_all_frames(&mut both);
        assert_eq!(frame_text(&frames, Stream::Stdout), "late-out\n");
        assert_eq!(frame_text(&frames, Stream::Stderr), "late-err\n");
        let frames = read_all_frames(&mut err_only);
        assert_eq!(frame_text(&frames, Stream::Stdout), "");
        assert_eq!(frame_text(&frames, Stream::Stderr), "late-err\n");
        assert_eq!(c.wait().unwrap().exit_code, 5);
        // Attaching to an exited container: answered, then end of stream.
        let mut late = c.attach(false, true, true).unwrap();
        assert!(read_all_frames(&mut late).is_empty());
    }

    fn stdin_once_half_close_ends_cat(rt: &Path) {
        let mut s = Setup::new(rt, Bundle::new().args(&["cat"]));
        s.spawn(&Opts { stdin: true, stdin_once: true, ..Opts::default() });
        let c = s.client();
        let mut a = c.attach(true, true, true).unwrap();
        c.start().unwrap();
        a.write_all(b"hello\n").unwrap();
        read_frames_until(&mut a, "hello\n");
        a.write_all(b"bye\n").unwrap();
        a.shutdown(Shutdown::Write).unwrap();
        let rest = read_all_frames(&mut a);
        assert_eq!(frame_text(&rest, Stream::Stdout), "bye\n");
        assert_eq!(c.wait().unwrap().exit_code, 0);
        assert_eq!(log_text(&s.log_path(), "stdout"), "hello\nbye\n");
    }

    fn half_close_without_stdin_once_keeps_stdin(rt: &Path) {
        let mut s = Setup::new(rt, Bundle::new().args(&["cat"]));
        s.spawn(&Opts { stdin: true, ..Opts::default() });
        let c = s.client();
        let mut a = c.attach(true, true, false).unwrap();
        c.start().unwrap();
        a.write_all(b"one\n").unwrap();
        a.shutdown(Shutdown::Write).unwrap();
        read_frames_until(&mut a, "one\n");
        // A second client still reaches the open stdin.
        let mut b = c.attach(true, true, false).unwrap();
        b.write_all(b"two\n").unwrap();
        read_frames_until(&mut b, "two\n");
        assert_eq!(c.state().unwrap().status, berth_shim_proto::Status::Running);
        c.close_stdin().unwrap();
        assert_eq!(c.wait().unwrap().exit_code, 0);
        assert_eq!(log_text(&s.log_path(), "stdout"), "one\ntwo\n");
    }

    fn terminal_input_output_and_resize(rt: &Path) {
        let bundle = Bundle::new().terminal(true).sh("read x; stty size; echo \"x=$x\" >&2");
        let mut s = Setup::new(rt, bundle);
        s.spawn(&Opts { terminal: true, stdin: true, ..Opts::default() });
        let c = s.client();
        let mut a = c.attach(true, true, true).unwrap();
        c.start().unwrap();
        c.resize(33, 101).unwrap();
        a.write_all(b"hi\n").unwrap();
        let frames = read_frames_until(&mut a, "x=hi");
        let text = frame_text(&frames, Stream::Stdout);
        assert!(text.contains("33 101"), "{text:?}");
        // A terminal merges everything into stdout.
        assert!(frames.iter().all(|f| f.stream == Stream::Stdout));
        assert_eq!(c.wait().unwrap().exit_code, 0);
        let logged = log_text(&s.log_path(), "stdout");
        assert!(logged.contains("33 101\r\n") && logged.contains("x=hi"), "{logged:?}");
        assert_eq!(log_text(&s.log_path(), "stderr"), "");
    }

    fn resize_without_terminal_fails(rt: &Path) {
        let mut s = Setup::new(rt, Bundle::new().args(&["sleep", "1000"]));
        s.spawn(&Opts::default());
        let err = s.client().resize(10, 10).unwrap_err();
        assert!(err.to_string().contains("no terminal"), "{err}");
    }

    fn exec_streams_output_then_exit_frame(rt: &Path) {
        let mut s = Setup::new(rt, Bundle::new().args(&["sleep", "1000"]));
        s.spawn(&Opts::default());
        let c = s.client();
        c.start().unwrap();
        let p = s.process(&["sh", "-c", "echo exec-out; echo exec-err >&2; exit 7"], false);
        let (pid, stream) = c.exec("e1", &p, false).unwrap();
        assert!(pid > 0);
        let mut stream = stream.expect("attached exec has a stream");
        let frames = read_all_frames(&mut stream);
        assert_eq!(frame_text(&frames, Stream::Stdout), "exec-out\n");
        assert_eq!(frame_text(&frames, Stream::Stderr), "exec-err\n");
        let last = frames.last().unwrap();
        assert_eq!(last.stream, Stream::Exit);
        let exit: berth_shim_proto::ExecExit = serde_json::from_slice(&last.payload).unwrap();
        assert_eq!(exit.exit_code, 7);
        let st = c.exec_state("e1").unwrap();
        assert_eq!((st.running, st.pid, st.exit_code), (false, pid, Some(7)));
        // Exec output is not the container's log.
        assert_eq!(log_text(&s.log_path(), "stdout"), "");
        let err = c.exec("e1", &p, false).unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
        assert!(c.exec_state("nope").is_err());
    }

    fn exec_stdin_and_half_close(rt: &Path) {
        let mut s = Setup::new(rt, Bundle::new().args(&["sleep", "1000"]));
        s.spawn(&Opts::default());
        let c = s.client();
        c.start().unwrap();
        let p = s.process(&["cat"], false);
        let (_, stream) = c.exec("cat", &p, false).unwrap();
        let mut stream = stream.unwrap();
        stream.write_all(b"ping\n").unwrap();
        read_frames_until(&mut stream, "ping\n");
        assert!(c.exec_state("cat").unwrap().running);
        stream.shutdown(Shutdown::Write).unwrap();
        let frames = read_all_frames(&mut stream);
        let last = frames.last().expect("exit frame");
        assert_eq!((last.stream, &last.payload[..]), (Stream::Exit, &b"{\"exit_code\":0}"[..]));
    }

    fn detached_exec_keeps_its_exit_code(rt: &Path) {
        let mut s = Setup::new(rt, Bundle::new().args(&["sleep", "1000"]));
        s.spawn(&Opts::default());
        let c = s.client();
        c.start().unwrap();
        let p = s.process(&["sh", "-c", "echo dropped; exit 3"], false);
        let (pid, stream) = c.exec("d1", &p, true).unwrap();
        assert!(stream.is_none());
        wait_until("the detached exec to exit", || !c.exec_state("d1").unwrap().running);
        let st = c.exec_state("d1").unwrap();
        assert_eq!((st.pid, st.exit_code), (pid, Some(3)));
        // A detached exec with a terminal is read (and dropped) too, so it
        // runs to the end even when it prints more than a pty buffers.
        let p = s.process(&["sh", "-c", "head -c 300000 /dev/zero | tr '\\0' x; exit 4"], true);
        c.exec("d2", &p, true).unwrap();
        wait_until("the detached tty exec to exit", || !c.exec_state("d2").unwrap().running);
        assert_eq!(c.exec_state("d2").unwrap().exit_code, Some(4));
    }

    fn exec_with_terminal_and_resize(rt: &Path) {
        let mut s = Setup::new(rt, Bundle::new().args(&["sleep", "1000"]));
        let mut gate = s.shared.gate("gate");
        s.spawn(&Opts::default());
        let c = s.client();
        c.start().unwrap();
        let p = s.process(&["sh", "-c", "read _ < /shared/gate; stty size; exit 2"], true);
        let (_, stream) = c.exec("t1", &p, false).unwrap();
        let mut stream = stream.unwrap();
        c.exec_resize("t1", 20, 70).unwrap();
        gate.open();
        let frames = read_all_frames(&mut stream);
        assert!(frame_text(&frames, Stream::Stdout).contains("20 70"), "{frames:?}");
        assert_eq!(frames.last().unwrap().payload, b"{\"exit_code\":2}");
        let err = c.exec_resize("nope", 1, 1).unwrap_err();
        assert!(err.to_string().contains("no such exec"), "{err}");
    }

    fn slow_client_never_blocks_container_or_log(rt: &Path) {
        // 3 MB on one line: no newline until the end, so the log cuts it
        // into 16 KiB partial records.
        let size = 3_000_000usize;
        let bundle = Bundle::new().sh(&format!("head -c {size} /dev/zero | tr '\\0' a; echo"));
        let mut s = Setup::new(rt, bundle);
        s.spawn(&Opts::default());
        let c = s.client();
        // Attached, but reads nothing until the container is done.
        let mut idle = c.attach(false, true, true).unwrap();
        c.start().unwrap();
        assert_eq!(c.wait().unwrap().exit_code, 0);
        let records = support::log_records(&s.log_path());
        let total: usize = records.iter().map(|r| r["log"].as_str().unwrap().len()).sum();
        assert_eq!(total, size + 1);
        assert!(records.iter().all(|r| r["log"].as_str().unwrap().len() <= 16 * 1024));
        assert_eq!(records.len(), size.div_ceil(16 * 1024));
        // The idle client was dropped past its backlog: it got at most the
        // backlog plus what the socket buffers, then end of stream.
        let got = drain(&mut idle);
        assert!(got < size, "a slow client received all {got} bytes");
    }
}
