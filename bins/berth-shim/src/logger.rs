//! The json-file log driver, written by the shim so logs survive the
//! daemon.
//!
//! Every record is one line `{"log":"<text>","stream":"stdout|stderr",
//! "time":"<RFC 3339 nanoseconds, UTC>"}`, Docker's json-file format. Output
//! is cut into records at newlines (the newline stays in `log`); a line
//! longer than [`PARTIAL_MAX`] becomes several records, all but the last
//! without a newline (Docker's partial messages). Bytes after the last
//! newline wait for more output, and are written as they are when the
//! stream ends.
//!
//! Rotation: before a record would take the file past `max-size`, the file
//! is renamed to `<path>.1` (`.1` to `.2` and so on, keeping `max-file`
//! files in all) and a new one started; with `max-file` 1 the file is
//! truncated instead.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use berth_shim_proto::Stream;

use crate::args::LogOpts;

/// The longest record text; longer lines are split (Docker's 16 KiB).
pub const PARTIAL_MAX: usize = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("open log {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// An open json-file log.
pub struct Logger {
    path: PathBuf,
    max_size: u64,
    max_file: u32,
    file: File,
    size: u64,
    /// Bytes of stdout and stderr not yet written as a record.
    pending: [Vec<u8>; 2],
    record: Vec<u8>,
}

impl Logger {
    /// Opens (appending to) the log file.
    pub fn open(opts: &LogOpts) -> Result<Logger, LogError> {
        let file = open_append(&opts.path).map_err(|source| LogError::Open {
            path: opts.path.clone(),
            source,
        })?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(Logger {
            path: opts.path.clone(),
            max_size: opts.max_size,
            max_file: opts.max_file.max(1),
            file,
            size,
            pending: [Vec::new(), Vec::new()],
            record: Vec::new(),
        })
    }

    /// Logs `data` read from `stream` (stdout or stderr) at `time`.
    pub fn write(&mut self, stream: Stream, data: &[u8], time: &str) {
        let idx = slot(stream);
        let mut buf = std::mem::take(&mut self.pending[idx]);
        buf.extend_from_slice(data);
        let mut start = 0;
        loop {
            let rest = &buf[start..];
            let window = &rest[..rest.len().min(PARTIAL_MAX)];
            let cut = match window.iter().position(|&b| b == b'\n') {
                Some(pos) => pos + 1,
                None if rest.len() >= PARTIAL_MAX => PARTIAL_MAX,
                None => break,
            };
            self.emit(stream, &rest[..cut], time);
            start += cut;
        }
        buf.drain(..start);
        // Give back the memory of a long partial line once it is written.
        if buf.is_empty() && buf.capacity() > PARTIAL_MAX {
            buf = Vec::new();
        }
        self.pending[idx] = buf;
    }

    /// Writes what `stream` still holds (its end: no more output follows).
    pub fn finish(&mut self, stream: Stream, time: &str) {
        let buf = std::mem::take(&mut self.pending[slot(stream)]);
        if !buf.is_empty() {
            self.emit(stream, &buf, time);
        }
    }

    fn emit(&mut self, stream: Stream, text: &[u8], time: &str) {
        self.record.clear();
        self.record.extend_from_slice(b"{\"log\":");
        // Invalid UTF-8 becomes U+FFFD, as in Docker's encoder.
        serde_json::to_writer(&mut self.record, &String::from_utf8_lossy(text))
            .expect("serialize a string into a Vec");
        let name = if stream == Stream::Stderr {
            "stderr"
        } else {
            "stdout"
        };
        self.record.extend_from_slice(b",\"stream\":\"");
        self.record.extend_from_slice(name.as_bytes());
        self.record.extend_from_slice(b"\",\"time\":\"");
        self.record.extend_from_slice(time.as_bytes());
        self.record.extend_from_slice(b"\"}\n");
        let len = self.record.len() as u64;
        if self.max_size > 0 && self.size > 0 && self.size + len > self.max_size {
            self.rotate();
        }
        // A failed write (disk full) loses this record: the shim has no one
        // to report it to, and the container must keep running.
        if self.file.write_all(&self.record).is_ok() {
            self.size += len;
        }
    }

    fn rotate(&mut self) {
        if self.max_file <= 1 {
            if self.file.set_len(0).is_ok() {
                self.size = 0;
            }
            return;
        }
        for i in (1..self.max_file - 1).rev() {
            let _ = std::fs::rename(numbered(&self.path, i), numbered(&self.path, i + 1));
        }
        if std::fs::rename(&self.path, numbered(&self.path, 1)).is_err() {
            return;
        }
        // If the new file cannot be created, the old handle keeps writing
        // to what is now `.1`: nothing is lost, only misplaced.
        if let Ok(f) = open_append(&self.path) {
            self.file = f;
            self.size = 0;
        }
    }
}

fn slot(stream: Stream) -> usize {
    usize::from(stream == Stream::Stderr)
}

fn numbered(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn logger(dir: &Path, max_size: u64, max_file: u32) -> Logger {
        Logger::open(&LogOpts {
            path: dir.join("c-json.log"),
            max_size,
            max_file,
        })
        .unwrap()
    }

    fn records(path: &Path) -> Vec<Value> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn lines_become_records_and_partials_wait() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = logger(dir.path(), 0, 1);
        l.write(Stream::Stdout, b"one\ntw", "T1");
        l.write(Stream::Stderr, b"err\n", "T2");
        l.write(Stream::Stdout, b"o\nthree", "T3");
        l.finish(Stream::Stdout, "T4");
        let r = records(&dir.path().join("c-json.log"));
        let got: Vec<(&str, &str, &str)> = r
            .iter()
            .map(|v| {
                (
                    v["log"].as_str().unwrap(),
                    v["stream"].as_str().unwrap(),
                    v["time"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("one\n", "stdout", "T1"),
                ("err\n", "stderr", "T2"),
                ("two\n", "stdout", "T3"),
                ("three", "stdout", "T4"),
            ]
        );
        let raw = std::fs::read_to_string(dir.path().join("c-json.log")).unwrap();
        assert!(raw.starts_with("{\"log\":\"one\\n\",\"stream\":\"stdout\",\"time\":\"T1\"}\n"));
    }

    #[test]
    fn long_lines_split_at_16k() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = logger(dir.path(), 0, 1);
        let mut line = vec![b'a'; 2 * PARTIAL_MAX + 10];
        line.push(b'\n');
        l.write(Stream::Stdout, &line, "T");
        let r = records(&dir.path().join("c-json.log"));
        let lens: Vec<usize> = r.iter().map(|v| v["log"].as_str().unwrap().len()).collect();
        assert_eq!(lens, [PARTIAL_MAX, PARTIAL_MAX, 11]);
        assert!(r[2]["log"].as_str().unwrap().ends_with('\n'));
        assert!(!r[0]["log"].as_str().unwrap().ends_with('\n'));
    }

    #[test]
    fn rotation_keeps_max_file_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        let mut l = logger(dir.path(), 200, 3);
        for i in 0..40 {
            l.write(Stream::Stdout, format!("line {i:03}\n").as_bytes(), "T");
        }
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["c-json.log", "c-json.log.1", "c-json.log.2"]);
        for name in &names {
            let len = std::fs::metadata(dir.path().join(name)).unwrap().len();
            assert!(len <= 200, "{name} has {len} bytes");
        }
        // The newest lines are in the current file, the ones before in .1.
        let cur = records(&path);
        assert_eq!(cur.last().unwrap()["log"], "line 039\n");
        let older = records(&numbered(&path, 1));
        let first_cur = cur[0]["log"].as_str().unwrap();
        let last_older = older.last().unwrap()["log"].as_str().unwrap();
        assert!(last_older < first_cur, "{last_older} !< {first_cur}");
    }

    #[test]
    fn one_file_truncates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        let mut l = logger(dir.path(), 100, 1);
        for i in 0..10 {
            l.write(Stream::Stdout, format!("line {i}\n").as_bytes(), "T");
        }
        assert!(!numbered(&path, 1).exists());
        let cur = records(&path);
        assert_eq!(cur.last().unwrap()["log"], "line 9\n");
        assert!(std::fs::metadata(&path).unwrap().len() <= 100);
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = logger(dir.path(), 0, 1);
        l.write(Stream::Stdout, b"a\xffb\n", "T");
        let r = records(&dir.path().join("c-json.log"));
        assert_eq!(r[0]["log"], "a\u{fffd}b\n");
    }
}
