//! Reading a container's json-file log (`GET /containers/{id}/logs`).
//!
//! The shim writes the log, one JSON object per line:
//! `{"log":"text\n","stream":"stdout","time":"<RFC 3339 nano>"}` (a line
//! longer than 16 KiB is split into pieces without `\n`). It rotates
//! `FILE` to `FILE.1`, `FILE.1` to `FILE.2`, ..., so the oldest entries are
//! in the highest-numbered file.
//!
//! A read is: the history (all files, oldest first, filtered by stream
//! and `since`/`until`, then cut to the last `tail` entries), then, when
//! following, every entry appended afterwards until the container stops
//! and the file is drained. The reader keeps the current file open, so a
//! rotation while following loses nothing: it finishes the renamed file
//! through its descriptor, then opens the new one.
//!
//! Reading runs on a blocking thread (plain file IO and a short poll) and
//! hands [`LogMessage`]s to the caller through a bounded channel; dropping
//! the receiver ends the reader.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::{mpsc, watch};

use super::store::Lifecycle;

/// How often a follower looks for new entries.
const POLL: Duration = Duration::from_millis(50);

/// Which stream a chunk of output came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    Stdout,
    Stderr,
}

impl LogStream {
    /// The stdcopy stream number (1 stdout, 2 stderr).
    pub fn fd(self) -> u8 {
        match self {
            LogStream::Stdout => 1,
            LogStream::Stderr => 2,
        }
    }
}

/// One log entry as delivered: `bytes` is the text, prefixed with the
/// entry's time (RFC 3339, nine fractional digits, then a space) when
/// timestamps were asked for, as dockerd does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogMessage {
    pub stream: LogStream,
    pub bytes: Vec<u8>,
}

/// What to read (the query of the logs endpoint).
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub follow: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// Only entries at or after this time.
    pub since: Option<jiff::Timestamp>,
    /// Only entries at or before this time.
    pub until: Option<jiff::Timestamp>,
    pub timestamps: bool,
    /// Only the last `n` entries of the history; `None` is all.
    pub tail: Option<usize>,
}

/// Parses the API's time parameters: `secs`, `secs.nanos` (what the docker
/// CLI sends), or RFC 3339. `0` and the empty string mean "no bound".
pub fn parse_api_time(value: &str) -> Result<Option<jiff::Timestamp>, super::Error> {
    let bad = || super::Error::InvalidTime {
        value: value.to_string(),
    };
    if value.is_empty() || value == "0" {
        return Ok(None);
    }
    if let Ok(ts) = value.parse::<jiff::Timestamp>() {
        return Ok(Some(ts));
    }
    let (secs, frac) = value.split_once('.').unwrap_or((value, ""));
    let secs: i64 = secs.parse().map_err(|_| bad())?;
    let nanos: i32 = if frac.is_empty() {
        0
    } else {
        if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        format!("{frac:0<9}").parse().map_err(|_| bad())?
    };
    jiff::Timestamp::new(secs, nanos)
        .map(Some)
        .map_err(|_| bad())
}

#[derive(Deserialize)]
struct RawEntry {
    log: String,
    stream: String,
    time: String,
}

/// A parsed log line.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    stream: LogStream,
    time: jiff::Timestamp,
    log: String,
}

fn parse_line(line: &[u8]) -> Option<Entry> {
    let raw: RawEntry = serde_json::from_slice(line).ok()?;
    let stream = match raw.stream.as_str() {
        "stdout" => LogStream::Stdout,
        "stderr" => LogStream::Stderr,
        _ => return None,
    };
    Some(Entry {
        stream,
        time: raw.time.parse().ok()?,
        log: raw.log,
    })
}

/// What an entry becomes under `opts`: skipped, delivered, or past
/// `until` (which ends the read).
enum Verdict {
    Skip,
    Keep(LogMessage),
    Past,
}

fn judge(e: Entry, opts: &LogOptions) -> Verdict {
    if opts.until.is_some_and(|u| e.time > u) {
        return Verdict::Past;
    }
    let wanted = match e.stream {
        LogStream::Stdout => opts.stdout,
        LogStream::Stderr => opts.stderr,
    };
    if !wanted || opts.since.is_some_and(|s| e.time < s) {
        return Verdict::Skip;
    }
    let mut bytes = Vec::with_capacity(e.log.len() + 32);
    if opts.timestamps {
        bytes.extend_from_slice(format!("{:.9} ", e.time).as_bytes());
    }
    bytes.extend_from_slice(e.log.as_bytes());
    Verdict::Keep(LogMessage {
        stream: e.stream,
        bytes,
    })
}

/// The rotated files of `path`, oldest first (`FILE.N`, ..., `FILE.1`).
fn rotated_files(path: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for n in 1.. {
        let p = PathBuf::from(format!("{}.{n}", path.display()));
        if !p.exists() {
            break;
        }
        out.push(p);
    }
    out.reverse();
    out
}

/// Reads complete lines from an open log file, keeping a trailing partial
/// line (the shim may be mid-write) for the next call.
struct LineReader {
    file: BufReader<File>,
    partial: Vec<u8>,
}

impl LineReader {
    fn new(file: File) -> LineReader {
        LineReader {
            file: BufReader::new(file),
            partial: Vec::new(),
        }
    }

    /// Calls `f` on each complete line available now; stops early when
    /// `f` returns false (and returns false).
    fn drain(&mut self, mut f: impl FnMut(&[u8]) -> bool) -> bool {
        loop {
            match self.file.read_until(b'\n', &mut self.partial) {
                Ok(0) | Err(_) => return true,
                Ok(_) => {
                    if self.partial.last() != Some(&b'\n') {
                        // EOF in the middle of a line: wait for the rest.
                        return true;
                    }
                    let line = std::mem::take(&mut self.partial);
                    if !f(&line) {
                        return false;
                    }
                }
            }
        }
    }

    /// Goes back to the start when the file became shorter than what
    /// was read (truncated by the writer).
    fn restart_if_truncated(&mut self) {
        let len = self.file.get_ref().metadata().map(|m| m.len());
        let pos = self.file.stream_position();
        if let (Ok(len), Ok(pos)) = (len, pos) {
            if len < pos {
                let _ = self.file.seek(SeekFrom::Start(0));
                self.partial.clear();
            }
        }
    }

    fn inode(&self) -> Option<u64> {
        self.file.get_ref().metadata().ok().map(|m| m.ino())
    }
}

/// Starts reading the log at `path`; `lifecycle` tells a follower when
/// the container stops. The receiver yields messages until the history
/// (and, when following, the live part) is exhausted.
pub fn read(
    path: PathBuf,
    opts: LogOptions,
    lifecycle: watch::Receiver<Lifecycle>,
) -> mpsc::Receiver<LogMessage> {
    let (tx, rx) = mpsc::channel(256);
    tokio::task::spawn_blocking(move || reader(&path, &opts, lifecycle, &tx));
    rx
}

fn reader(
    path: &Path,
    opts: &LogOptions,
    lifecycle: watch::Receiver<Lifecycle>,
    tx: &mpsc::Sender<LogMessage>,
) {
    // Open the current file first: whatever rotates after this point is
    // still read through this descriptor.
    let mut current = File::open(path).ok().map(LineReader::new);
    let current_ino = current.as_ref().and_then(LineReader::inode);

    // The history, oldest first, cut to the tail.
    let mut history = std::collections::VecDeque::new();
    let mut past_until = false;
    let mut keep = |line: &[u8]| -> bool {
        match parse_line(line).map(|e| judge(e, opts)) {
            Some(Verdict::Keep(m)) => {
                history.push_back(m);
                if opts.tail.is_some_and(|t| history.len() > t) {
                    history.pop_front();
                }
                true
            }
            Some(Verdict::Past) => {
                past_until = true;
                false
            }
            Some(Verdict::Skip) | None => true,
        }
    };
    let mut go_on = true;
    for rotated in rotated_files(path) {
        let Ok(f) = File::open(&rotated) else {
            continue;
        };
        // Rotated after we opened `current`: its content comes through
        // `current` already.
        if f.metadata().ok().map(|m| m.ino()) == current_ino {
            continue;
        }
        go_on = LineReader::new(f).drain(&mut keep);
        if !go_on {
            break;
        }
    }
    if go_on {
        if let Some(cur) = current.as_mut() {
            go_on = cur.drain(&mut keep);
        }
    }
    if opts.tail == Some(0) {
        history.clear();
    }
    for m in history {
        if tx.blocking_send(m).is_err() {
            return;
        }
    }
    if !go_on || past_until || !opts.follow {
        return;
    }
    follow(path, opts, lifecycle, tx, current);
}

fn follow(
    path: &Path,
    opts: &LogOptions,
    mut lifecycle: watch::Receiver<Lifecycle>,
    tx: &mpsc::Sender<LogMessage>,
    mut current: Option<LineReader>,
) {
    let send = |line: &[u8]| -> bool {
        match parse_line(line).map(|e| judge(e, opts)) {
            Some(Verdict::Keep(m)) => tx.blocking_send(m).is_ok(),
            Some(Verdict::Past) => false,
            Some(Verdict::Skip) | None => true,
        }
    };
    loop {
        // Read the state before draining: if the container was already
        // stopped, this drain sees everything it wrote, so ending after
        // it loses nothing.
        let stopped = !lifecycle.borrow_and_update().running;
        if let Some(cur) = current.as_mut() {
            if !cur.drain(send) {
                return;
            }
        }
        // Rotation: the path now names a new file. Finish the old one
        // (already drained above) and continue with the new one.
        let on_disk = std::fs::metadata(path).ok().map(|m| m.ino());
        if on_disk.is_some() && on_disk != current.as_ref().and_then(LineReader::inode) {
            if let Some(cur) = current.as_mut() {
                if !cur.drain(send) {
                    return;
                }
            }
            current = File::open(path).ok().map(LineReader::new);
            continue;
        }
        // With a single log file the shim truncates it in place instead
        // of rotating: start over from its beginning.
        if let Some(cur) = current.as_mut() {
            cur.restart_if_truncated();
        }
        if stopped || tx.is_closed() {
            return;
        }
        std::thread::sleep(POLL);
    }
}

/// Reads the whole log (all entries of both streams) into memory; for
/// attach's `logs=1` replay.
pub fn read_all(path: &Path, opts: &LogOptions) -> Vec<LogMessage> {
    let mut out = Vec::new();
    let mut files = rotated_files(path);
    files.push(path.to_path_buf());
    for p in files {
        let Ok(mut f) = File::open(&p) else { continue };
        let mut buf = Vec::new();
        if f.read_to_end(&mut buf).is_err() {
            continue;
        }
        for line in buf.split(|b| *b == b'\n') {
            if let Some(Verdict::Keep(m)) = parse_line(line).map(|e| judge(e, opts)) {
                out.push(m);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn line(stream: &str, secs: i64, text: &str) -> String {
        let time = jiff::Timestamp::new(secs, 500).unwrap();
        format!(
            "{}\n",
            serde_json::json!({"log": text, "stream": stream, "time": time.to_string()})
        )
    }

    fn all() -> LogOptions {
        LogOptions {
            stdout: true,
            stderr: true,
            ..LogOptions::default()
        }
    }

    fn texts(msgs: &[LogMessage]) -> Vec<String> {
        msgs.iter()
            .map(|m| String::from_utf8_lossy(&m.bytes).into_owned())
            .collect()
    }

    async fn collect(mut rx: mpsc::Receiver<LogMessage>) -> Vec<LogMessage> {
        let mut out = Vec::new();
        while let Some(m) = rx.recv().await {
            out.push(m);
        }
        out
    }

    #[test]
    fn api_times_parse_like_the_cli_sends_them() {
        assert_eq!(parse_api_time("").unwrap(), None);
        assert_eq!(parse_api_time("0").unwrap(), None);
        let t = parse_api_time("1700000000.5").unwrap().unwrap();
        assert_eq!(t.as_nanosecond(), 1_700_000_000_500_000_000);
        let t = parse_api_time("1700000000").unwrap().unwrap();
        assert_eq!(t.as_second(), 1_700_000_000);
        assert!(parse_api_time("2024-01-01T00:00:00Z").unwrap().is_some());
        assert!(parse_api_time("yesterday").is_err());
        assert!(parse_api_time("1.x").is_err());
    }

    #[tokio::test]
    async fn history_filters_streams_times_and_tail_across_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        std::fs::write(
            format!("{}.2", path.display()),
            line("stdout", 10, "one\n") + &line("stderr", 11, "two\n"),
        )
        .unwrap();
        std::fs::write(
            format!("{}.1", path.display()),
            line("stdout", 12, "three\n"),
        )
        .unwrap();
        std::fs::write(
            &path,
            line("stdout", 13, "four\n") + "garbage\n" + &line("stderr", 14, "five\n"),
        )
        .unwrap();
        let (_tx, rx) = watch::channel(Lifecycle::default());

        let got = collect(read(path.clone(), all(), rx.clone())).await;
        assert_eq!(
            texts(&got),
            ["one\n", "two\n", "three\n", "four\n", "five\n"]
        );
        assert_eq!(got[1].stream, LogStream::Stderr);

        let only_out = LogOptions {
            stderr: false,
            ..all()
        };
        let got = collect(read(path.clone(), only_out, rx.clone())).await;
        assert_eq!(texts(&got), ["one\n", "three\n", "four\n"]);

        let tail = LogOptions {
            tail: Some(2),
            ..all()
        };
        assert_eq!(
            texts(&collect(read(path.clone(), tail, rx.clone())).await),
            ["four\n", "five\n"]
        );
        let none = LogOptions {
            tail: Some(0),
            ..all()
        };
        assert!(
            collect(read(path.clone(), none, rx.clone()))
                .await
                .is_empty()
        );

        let window = LogOptions {
            since: Some(jiff::Timestamp::new(11, 0).unwrap()),
            until: Some(jiff::Timestamp::new(13, 0).unwrap()),
            timestamps: true,
            ..all()
        };
        assert_eq!(
            texts(&collect(read(path.clone(), window, rx.clone())).await),
            [
                "1970-01-01T00:00:11.000000500Z two\n",
                "1970-01-01T00:00:12.000000500Z three\n"
            ]
        );
        assert_eq!(texts(&read_all(&path, &all())).len(), 5);
    }

    #[tokio::test]
    async fn follow_survives_rotation_and_ends_when_the_container_stops() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        std::fs::write(&path, line("stdout", 1, "a\n")).unwrap();
        let (tx, rx) = watch::channel(Lifecycle {
            running: true,
            ..Lifecycle::default()
        });
        let follow = LogOptions {
            follow: true,
            ..all()
        };
        let mut out = read(path.clone(), follow, rx);
        assert_eq!(out.recv().await.unwrap().bytes, b"a\n");

        // A partial line is not delivered until it is complete.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        let b = line("stdout", 2, "b\n");
        f.write_all(&b.as_bytes()[..10]).unwrap();
        tokio::time::sleep(POLL * 3).await;
        assert!(out.try_recv().is_err());
        f.write_all(&b.as_bytes()[10..]).unwrap();
        assert_eq!(out.recv().await.unwrap().bytes, b"b\n");

        // Rotation as the shim does it: write, rename, start a new file.
        f.write_all(line("stdout", 3, "c\n").as_bytes()).unwrap();
        std::fs::rename(&path, format!("{}.1", path.display())).unwrap();
        std::fs::write(&path, line("stderr", 4, "d\n")).unwrap();
        assert_eq!(out.recv().await.unwrap().bytes, b"c\n");
        assert_eq!(out.recv().await.unwrap().bytes, b"d\n");

        // A single file is truncated in place; reading starts over (the
        // new content is shorter than what was read, as it is when the
        // shim truncates a full file).
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(line("stdout", 4, "d2\n").as_bytes())
            .unwrap();
        assert_eq!(out.recv().await.unwrap().bytes, b"d2\n");
        std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&path)
            .unwrap()
            .write_all(line("stdout", 5, "t\n").as_bytes())
            .unwrap();
        assert_eq!(out.recv().await.unwrap().bytes, b"t\n");

        // Stop: what was written before is still delivered, then the end.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(line("stdout", 6, "e\n").as_bytes())
            .unwrap();
        tx.send_modify(|l| l.running = false);
        assert_eq!(out.recv().await.unwrap().bytes, b"e\n");
        assert!(out.recv().await.is_none());
    }
}
