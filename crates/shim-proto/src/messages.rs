//! Requests, responses and the exit file.
//!
//! A request is one JSON line whose `op` field names it ([`Request`]). The
//! answer is one JSON line: `{"ok":true}` plus the fields of the answer's
//! body type ([`encode_ok`]), or `{"ok":false,"error":"..."}`
//! ([`encode_err`]). The readiness line of a starting shim uses the same
//! envelope with a [`crate::ShimReady`] body.
//!
//! | request        | body of the `ok` answer                  |
//! |----------------|------------------------------------------|
//! | `start`, `kill`, `pause`, `resume`, `update`, `resize`, `close_stdin`, `exec_resize`, `delete` | none |
//! | `state`        | [`State`]                                |
//! | `wait`         | [`ExitStatus`] (sent once init exited)   |
//! | `attach`       | none; then the connection streams frames |
//! | `exec`         | [`ExecStarted`]; then frames unless detached, the last one [`crate::Stream::Exit`] with an [`ExecExit`] |
//! | `exec_state`   | [`ExecState`]                            |

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{EXIT_FILE, ShimError};

/// One request to the shim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// `runtime start`: the created container runs.
    Start,
    /// The container's status as the shim tracks it.
    State,
    /// `runtime kill [--all] ID SIGNAL`.
    Kill { signal: i32, all: bool },
    /// `runtime pause`.
    Pause,
    /// `runtime resume`.
    Resume,
    /// `runtime update --resources -` with OCI `LinuxResources` JSON.
    Update { resources: serde_json::Value },
    /// Answered when init has exited (at once if it already has).
    Wait,
    /// Sets the terminal size of init's pty (TIOCSWINSZ).
    Resize { height: u16, width: u16 },
    /// Streams init's output from now on; the client's bytes go to its stdin.
    Attach {
        stdin: bool,
        stdout: bool,
        stderr: bool,
    },
    /// Closes init's stdin.
    CloseStdin,
    /// `runtime exec --detach` of an OCI `Process`.
    Exec {
        exec_id: String,
        process: serde_json::Value,
        detach: bool,
    },
    /// The state of an exec process.
    ExecState { exec_id: String },
    /// Sets the terminal size of an exec process's pty.
    ExecResize {
        exec_id: String,
        height: u16,
        width: u16,
    },
    /// `runtime delete` (`--force` while init runs); the shim then exits.
    Delete,
}

impl Request {
    /// The `op` name, for messages.
    pub fn op(&self) -> &'static str {
        match self {
            Request::Start => "start",
            Request::State => "state",
            Request::Kill { .. } => "kill",
            Request::Pause => "pause",
            Request::Resume => "resume",
            Request::Update { .. } => "update",
            Request::Wait => "wait",
            Request::Resize { .. } => "resize",
            Request::Attach { .. } => "attach",
            Request::CloseStdin => "close_stdin",
            Request::Exec { .. } => "exec",
            Request::ExecState { .. } => "exec_state",
            Request::ExecResize { .. } => "exec_resize",
            Request::Delete => "delete",
        }
    }
}

/// The container's status as the shim sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// `runtime create` done, init waits for `start`.
    Created,
    Running,
    Paused,
    /// Init has exited.
    Stopped,
}

/// Answer to `state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub status: Status,
    /// Init's pid (in the shim's pid namespace).
    pub pid: i32,
    pub exit_code: Option<i32>,
    /// RFC 3339 with nanoseconds, UTC.
    pub exited_at: Option<String>,
    pub oom_killed: bool,
}

/// How init ended: the answer to `wait` and the content of `exit.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitStatus {
    /// The exit status, or 128 + the signal that killed init.
    pub exit_code: i32,
    /// When the shim reaped init: RFC 3339 with nanoseconds, UTC.
    pub exited_at: String,
    /// The container's memory cgroup recorded an OOM kill.
    pub oom_killed: bool,
}

/// Answer to `exec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecStarted {
    pub pid: i32,
}

/// Answer to `exec_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecState {
    pub running: bool,
    pub pid: i32,
    pub exit_code: Option<i32>,
}

/// Payload of the final [`crate::Stream::Exit`] frame of an exec stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecExit {
    pub exit_code: i32,
}

/// An answer without a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {}

/// `{"ok":true,<fields of body>}` plus a newline. `body` must serialize to
/// a JSON object.
pub fn encode_ok<T: Serialize>(body: &T) -> Vec<u8> {
    // A body is one of this module's structs: serializing cannot fail.
    let fields = serde_json::to_vec(body).expect("serialize a shim response body");
    assert!(
        fields.first() == Some(&b'{') && fields.last() == Some(&b'}'),
        "a shim response body must be a JSON object"
    );
    let mut line = Vec::with_capacity(fields.len() + 12);
    line.extend_from_slice(b"{\"ok\":true");
    if fields.len() > 2 {
        line.push(b',');
        line.extend_from_slice(&fields[1..]);
    } else {
        line.push(b'}');
    }
    line.push(b'\n');
    line
}

/// `{"ok":false,"error":message}` plus a newline.
pub fn encode_err(message: &str) -> Vec<u8> {
    #[derive(Serialize)]
    struct Err<'a> {
        ok: bool,
        error: &'a str,
    }
    let mut line = serde_json::to_vec(&Err {
        ok: false,
        error: message,
    })
    .expect("serialize a shim error");
    line.push(b'\n');
    line
}

/// Decodes one answer line of request `op`: the body on `ok`, else
/// [`ShimError::Remote`] with the shim's message.
pub fn decode_response<T: DeserializeOwned>(op: &'static str, line: &[u8]) -> Result<T, ShimError> {
    #[derive(Deserialize)]
    struct Envelope {
        ok: bool,
        #[serde(default)]
        error: Option<String>,
    }
    let value: serde_json::Value =
        serde_json::from_slice(line).map_err(|source| ShimError::Decode { op, source })?;
    let envelope =
        Envelope::deserialize(&value).map_err(|source| ShimError::Decode { op, source })?;
    if !envelope.ok {
        return Err(ShimError::Remote {
            op,
            message: envelope
                .error
                .unwrap_or_else(|| "failed without a message".to_owned()),
        });
    }
    T::deserialize(value).map_err(|source| ShimError::Decode { op, source })
}

/// Reads `<state_dir>/exit.json`; `None` when it does not exist (init has
/// not exited, or the shim died before it could record the exit).
pub fn read_exit_file(state_dir: impl AsRef<Path>) -> Result<Option<ExitStatus>, ShimError> {
    let path = state_dir.as_ref().join(EXIT_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(ShimError::ReadExitFile { path, source }),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|source| ShimError::DecodeExitFile { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_have_the_documented_wire_form() {
        let cases = [
            (Request::Start, json!({"op": "start"})),
            (
                Request::Kill {
                    signal: 9,
                    all: true,
                },
                json!({"op": "kill", "signal": 9, "all": true}),
            ),
            (
                Request::Attach {
                    stdin: true,
                    stdout: true,
                    stderr: false,
                },
                json!({"op": "attach", "stdin": true, "stdout": true, "stderr": false}),
            ),
            (Request::CloseStdin, json!({"op": "close_stdin"})),
            (
                Request::ExecResize {
                    exec_id: "e".into(),
                    height: 24,
                    width: 80,
                },
                json!({"op": "exec_resize", "exec_id": "e", "height": 24, "width": 80}),
            ),
        ];
        for (req, wire) in cases {
            assert_eq!(serde_json::to_value(&req).unwrap(), wire);
            let back: Request = serde_json::from_value(wire).unwrap();
            assert_eq!(back, req);
        }
    }

    #[test]
    fn unknown_op_is_rejected() {
        assert!(serde_json::from_str::<Request>(r#"{"op":"explode"}"#).is_err());
    }

    #[test]
    fn ok_envelope_carries_body_fields() {
        assert_eq!(encode_ok(&Ack {}), b"{\"ok\":true}\n");
        let line = encode_ok(&ExecStarted { pid: 42 });
        assert_eq!(line, b"{\"ok\":true,\"pid\":42}\n");
        let back: ExecStarted = decode_response("exec", &line).unwrap();
        assert_eq!(back.pid, 42);
        let state = State {
            status: Status::Stopped,
            pid: 7,
            exit_code: Some(137),
            exited_at: Some("2025-01-01T00:00:00.5Z".into()),
            oom_killed: true,
        };
        let v: serde_json::Value = serde_json::from_slice(&encode_ok(&state)).unwrap();
        assert_eq!(
            v,
            json!({"ok": true, "status": "stopped", "pid": 7, "exit_code": 137,
                   "exited_at": "2025-01-01T00:00:00.5Z", "oom_killed": true})
        );
    }

    #[test]
    fn error_envelope_becomes_remote_error() {
        let line = encode_err("container \"x\" is not running");
        let err = decode_response::<Ack>("kill", &line).unwrap_err();
        match err {
            ShimError::Remote { op, message } => {
                assert_eq!(op, "kill");
                assert_eq!(message, "container \"x\" is not running");
            }
            other => panic!("expected a remote error, got {other:?}"),
        }
    }

    #[test]
    fn exit_file_round_trips_and_missing_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_exit_file(dir.path()).unwrap(), None);
        let status = ExitStatus {
            exit_code: 3,
            exited_at: "2025-01-01T00:00:00Z".into(),
            oom_killed: false,
        };
        std::fs::write(
            dir.path().join(EXIT_FILE),
            serde_json::to_vec(&status).unwrap(),
        )
        .unwrap();
        assert_eq!(read_exit_file(dir.path()).unwrap(), Some(status));
        std::fs::write(dir.path().join(EXIT_FILE), b"{").unwrap();
        assert!(matches!(
            read_exit_file(dir.path()),
            Err(ShimError::DecodeExitFile { .. })
        ));
    }
}
