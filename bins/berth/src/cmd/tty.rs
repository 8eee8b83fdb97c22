//! The local terminal: raw mode (restored when the guard drops, on every path out of
//! an interactive command), its size, and the detach key sequence.

use std::io::IsTerminal;
use std::os::fd::AsFd;

use rustix::termios::{OptionalActions, Termios, tcgetattr, tcgetwinsize, tcsetattr};

/// Whether stdin is a terminal.
pub fn stdin_is_tty() -> bool {
    std::io::stdin().is_terminal()
}

/// Whether stdout is a terminal.
pub fn stdout_is_tty() -> bool {
    std::io::stdout().is_terminal()
}

/// The size of the terminal on stdout as `(rows, columns)`, if it is one.
pub fn size() -> Option<(u16, u16)> {
    let out = std::io::stdout();
    let ws = tcgetwinsize(out.as_fd()).ok()?;
    (ws.ws_row > 0 && ws.ws_col > 0).then_some((ws.ws_row, ws.ws_col))
}

/// Stdin in raw mode until dropped.
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// Puts stdin in raw mode (no echo, no line editing, no signals from keys: ctrl-c
    /// goes to the container as a byte, like docker's `SetRawTerminal`).
    pub fn enable() -> std::io::Result<RawMode> {
        let stdin = std::io::stdin();
        let saved = tcgetattr(stdin.as_fd())?;
        let mut raw = saved.clone();
        // cfmakeraw(3), output processing included, as docker's terminal code does:
        // the container's pty already turns \n into \r\n.
        raw.make_raw();
        tcsetattr(stdin.as_fd(), OptionalActions::Now, &raw)?;
        Ok(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let stdin = std::io::stdin();
        let _ = tcsetattr(stdin.as_fd(), OptionalActions::Now, &self.saved);
    }
}

/// docker's detach key syntax: a comma-separated list of `ctrl-<x>` or single
/// characters (`ctrl-p,ctrl-q`, the default).
pub fn parse_detach_keys(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for key in s.split(',') {
        if key.len() > 1 {
            let Some(c) = key.strip_prefix("ctrl-") else {
                return Err(format!("Unknown character: '{key}'"));
            };
            let b = match c.as_bytes() {
                [b'@'] => 0,
                [x @ b'a'..=b'z'] => x - b'a' + 1,
                [b'['] => 27,
                [b'\\'] => 28,
                [b']'] => 29,
                [b'^'] => 30,
                [b'_'] => 31,
                _ => return Err(format!("Unknown character: '{key}'")),
            };
            out.push(b);
        } else if let Some(&b) = key.as_bytes().first() {
            out.push(b);
        }
    }
    Ok(out)
}

/// Watches stdin bytes for the detach sequence.
#[derive(Debug, Clone)]
pub struct DetachWatch {
    keys: Vec<u8>,
    matched: usize,
}

impl DetachWatch {
    pub fn new(keys: Vec<u8>) -> DetachWatch {
        DetachWatch { keys, matched: 0 }
    }

    /// Feeds bytes read from stdin; true once the whole sequence was typed.
    pub fn feed(&mut self, bytes: &[u8]) -> bool {
        if self.keys.is_empty() {
            return false;
        }
        for &b in bytes {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    return true;
                }
            } else {
                self.matched = usize::from(b == self.keys[0]);
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_parse_like_docker() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), [16, 17]);
        assert_eq!(parse_detach_keys("a,ctrl-@,ctrl-_").unwrap(), [b'a', 0, 31]);
        assert!(parse_detach_keys("ctrl-1").is_err());
        assert!(parse_detach_keys("shift-a").is_err());
    }

    #[test]
    fn detach_watch_needs_the_whole_sequence() {
        let mut w = DetachWatch::new(vec![16, 17]);
        assert!(!w.feed(b"ab\x10"));
        assert!(w.feed(b"\x11"));
        let mut w = DetachWatch::new(vec![16, 17]);
        assert!(!w.feed(b"\x10x\x11"));
        assert!(w.feed(b"\x10\x10\x11"));
    }
}
