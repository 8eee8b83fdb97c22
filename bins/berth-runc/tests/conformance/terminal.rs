//! process.terminal with --console-socket: the test receives the pty master
//! and talks to the container through it.

use serde_json::json;
use testkit::{Bundle, ConsoleSocket, Container, Pty};

use crate::runtime;

/// Creates `ctr` with a console socket, receives the master, starts it.
fn create_and_start(ctr: &Container<'_>) -> Pty {
    let sock = ConsoleSocket::bind();
    let path = sock.path().to_str().expect("utf-8 socket path");
    ctr.create_with(&["--console-socket", path]).ok();
    let pty = sock.receive();
    ctr.start().ok();
    pty
}

#[test]
fn tty_is_the_first_pty_of_a_private_devpts() {
    let Some(rt) = runtime() else { return };
    let bundle = Bundle::new()
        .terminal(true)
        .sh("tty; [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo all-ttys");
    let ctr = rt.container(&bundle);
    let mut pty = create_and_start(&ctr);
    let out = pty.read_to_end();
    ctr.wait_stopped();
    // The output post-processing of a pty turns "\n" into "\r\n".
    assert_eq!(out, "/dev/pts/0\r\nall-ttys\r\n");
}

#[test]
fn output_through_the_master() {
    let Some(rt) = runtime() else { return };
    let bundle = Bundle::new().terminal(true).sh("echo hi; echo err >&2");
    let ctr = rt.container(&bundle);
    let mut pty = create_and_start(&ctr);
    assert_eq!(pty.read_to_end(), "hi\r\nerr\r\n");
}

#[test]
fn input_through_the_master() {
    let Some(rt) = runtime() else { return };
    let bundle = Bundle::new()
        .terminal(true)
        .sh("read line; echo \"got:$line\"");
    let ctr = rt.container(&bundle);
    let mut pty = create_and_start(&ctr);
    pty.write_all(b"hello\n");
    let out = pty.read_until("got:hello");
    // The terminal echoes the input line before the answer.
    assert!(out.starts_with("hello\r\n"), "{out:?}");
    ctr.wait_stopped();
}

#[test]
fn pty_is_the_controlling_terminal() {
    let Some(rt) = runtime() else { return };
    // Opening /dev/tty works only for a process with a controlling terminal
    // (tty(4)).
    let bundle = Bundle::new().terminal(true).sh("echo via-ctty > /dev/tty");
    let ctr = rt.container(&bundle);
    let mut pty = create_and_start(&ctr);
    assert_eq!(pty.read_to_end(), "via-ctty\r\n");
}

#[test]
fn console_size_is_applied() {
    let Some(rt) = runtime() else { return };
    let bundle = Bundle::new()
        .terminal(true)
        .edit(|c| c["process"]["consoleSize"] = json!({ "height": 33, "width": 111 }))
        .args(&["stty", "size"]);
    let ctr = rt.container(&bundle);
    let mut pty = create_and_start(&ctr);
    assert_eq!(pty.read_to_end(), "33 111\r\n");
}

#[test]
fn run_detach_with_console_socket() {
    let Some(rt) = runtime() else { return };
    let bundle = Bundle::new()
        .terminal(true)
        .sh("read line; echo \"got:$line\"");
    let ctr = rt.container(&bundle);
    let sock = ConsoleSocket::bind();
    ctr.run_with(&[
        "--detach",
        "--console-socket",
        sock.path().to_str().unwrap(),
    ])
    .ok();
    let mut pty = sock.receive();
    assert_eq!(ctr.status(), "running");
    pty.write_all(b"x\n");
    pty.read_until("got:x");
    ctr.wait_stopped();
}

#[test]
fn terminal_without_console_socket_is_rejected() {
    let Some(rt) = runtime() else { return };
    let bundle = Bundle::new().terminal(true).args(&["true"]);
    let ctr = rt.container(&bundle);
    let out = ctr.create().fails();
    // runc: "cannot allocate tty if runc will detach without setting
    // console socket".
    assert!(out.stderr.contains("console socket"), "{out}");
    assert!(rt.state_entries().is_empty(), "{:?}", rt.state_entries());
}
