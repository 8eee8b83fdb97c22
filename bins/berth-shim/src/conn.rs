//! One client connection on the shim's socket.
//!
//! A connection starts by carrying one request line ([`Role::Request`]).
//! Its answer either ends it ([`Role::Closing`]: closed once written), parks
//! it until init exits ([`Role::Wait`], [`Role::DeleteWait`]), or turns it
//! into a stream ([`Role::Attach`], [`Role::Exec`]). Everything sent to the
//! client is buffered here and written as the socket takes it; a client
//! whose backlog passes [`MAX_BACKLOG`] is disconnected, so a slow reader
//! never holds up the container or its log.

use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;

use berth_shim_proto::{Stream, frame};

/// Bytes queued for one client at most before it is dropped.
pub const MAX_BACKLOG: usize = 1 << 20;
/// The longest request line (an exec's process JSON included).
pub const MAX_REQUEST: usize = 1 << 20;

/// What a connection is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// Reading the request line.
    Request,
    /// The answer is queued; closed once written.
    Closing,
    /// Answered when init's exit is recorded.
    Wait,
    /// `delete` ran; answered when init's exit is recorded.
    DeleteWait,
    /// Receives init's output; its bytes go to init's stdin if `stdin`.
    Attach {
        stdin: bool,
        stdout: bool,
        stderr: bool,
    },
    /// Receives an exec's output and exit; its bytes go to the exec's stdin.
    Exec { exec_id: String },
}

/// What reading the request line got.
pub enum RequestRead {
    /// No complete line yet.
    Pending,
    /// The line (without the newline) and the bytes that followed it.
    Line(Vec<u8>, Vec<u8>),
    /// The client went away, or sent too much without a newline.
    Gone,
    TooLong,
}

pub struct Conn {
    sock: UnixStream,
    pub role: Role,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
    /// The client shut down its write half.
    pub read_closed: bool,
    /// Done: removed at the end of the loop round.
    pub closed: bool,
}

impl Conn {
    /// Wraps an accepted socket (made non-blocking).
    pub fn new(sock: UnixStream) -> std::io::Result<Conn> {
        sock.set_nonblocking(true)?;
        Ok(Conn {
            sock,
            role: Role::Request,
            inbuf: Vec::new(),
            out: Vec::new(),
            out_pos: 0,
            read_closed: false,
            closed: false,
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }

    /// Bytes queued and not yet written.
    pub fn backlog(&self) -> usize {
        self.out.len() - self.out_pos
    }

    /// Queues `line` as the answer and moves to `next`.
    pub fn respond(&mut self, line: &[u8], next: Role) {
        self.role = next;
        self.queue(line);
    }

    /// Queues one frame.
    pub fn queue_frame(&mut self, stream: Stream, payload: &[u8]) {
        if self.closed {
            return;
        }
        if self.backlog() + frame::HEADER_LEN + payload.len() > MAX_BACKLOG {
            // Too far behind: drop the client rather than buffer without
            // bound or stall the container.
            self.closed = true;
            return;
        }
        let header = frame::encode_header(stream, payload.len());
        self.out.extend_from_slice(&header);
        self.out.extend_from_slice(payload);
        self.flush();
    }

    fn queue(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
        self.flush();
    }

    /// Writes what the socket takes. A write error closes the connection,
    /// as does an empty backlog in [`Role::Closing`].
    pub fn flush(&mut self) {
        while self.out_pos < self.out.len() && !self.closed {
            match self.sock.write(&self.out[self.out_pos..]) {
                Ok(n) => self.out_pos += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => self.closed = true,
            }
        }
        if self.out_pos == self.out.len() {
            self.out_pos = 0;
            self.out.clear();
            // Return a burst's memory.
            if self.out.capacity() > 64 * 1024 {
                self.out = Vec::new();
            }
            if self.role == Role::Closing {
                self.closed = true;
            }
        } else if self.out_pos > self.out.len() / 2 {
            self.out.drain(..self.out_pos);
            self.out_pos = 0;
        }
    }

    /// Reads toward the request line.
    pub fn read_request(&mut self) -> RequestRead {
        let mut buf = [0u8; 4096];
        loop {
            match self.sock.read(&mut buf) {
                Ok(0) => return RequestRead::Gone,
                Ok(n) => {
                    let seen = self.inbuf.len();
                    self.inbuf.extend_from_slice(&buf[..n]);
                    if let Some(pos) = self.inbuf[seen..].iter().position(|&b| b == b'\n') {
                        let rest = self.inbuf.split_off(seen + pos + 1);
                        let mut line = std::mem::take(&mut self.inbuf);
                        line.pop();
                        return RequestRead::Line(line, rest);
                    }
                    if self.inbuf.len() > MAX_REQUEST {
                        return RequestRead::TooLong;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    return RequestRead::Pending;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return RequestRead::Gone,
            }
        }
    }

    /// Reads client bytes into `buf` once: `Some(0)` at the client's
    /// half-close, `None` when nothing is there now.
    pub fn read_input(&mut self, buf: &mut [u8]) -> Option<usize> {
        match self.sock.read(buf) {
            Ok(n) => Some(n),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => None,
            Err(_) => {
                self.closed = true;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_line_and_trailing_bytes() {
        let (mut client, server) = UnixStream::pair().unwrap();
        let mut c = Conn::new(server).unwrap();
        assert!(matches!(c.read_request(), RequestRead::Pending));
        client.write_all(b"{\"op\":\"att").unwrap();
        assert!(matches!(c.read_request(), RequestRead::Pending));
        client.write_all(b"ach\"}\nstdin bytes").unwrap();
        match c.read_request() {
            RequestRead::Line(line, rest) => {
                assert_eq!(line, b"{\"op\":\"attach\"}");
                assert_eq!(rest, b"stdin bytes");
            }
            _ => panic!("expected a line"),
        }
    }

    #[test]
    fn slow_client_is_dropped_past_backlog() {
        let (client, server) = UnixStream::pair().unwrap();
        let mut c = Conn::new(server).unwrap();
        let chunk = vec![b'x'; 32 * 1024];
        let mut frames = 0;
        while !c.closed {
            c.queue_frame(Stream::Stdout, &chunk);
            frames += 1;
            assert!(frames < 1000, "never dropped");
        }
        // The socket buffer took some, the backlog the rest, up to the cap.
        assert!(frames * chunk.len() > MAX_BACKLOG);
        drop(client);
    }

    #[test]
    fn closing_connection_closes_after_answer() {
        let (mut client, server) = UnixStream::pair().unwrap();
        let mut c = Conn::new(server).unwrap();
        c.respond(b"{\"ok\":true}\n", Role::Closing);
        assert!(c.closed);
        let mut got = String::new();
        drop(c);
        client.read_to_string(&mut got).unwrap();
        assert_eq!(got, "{\"ok\":true}\n");
    }
}
