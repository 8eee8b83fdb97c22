//! `POST /containers/{id}/attach`: a container's stdio for a client.
//!
//! berthd gets an [`AttachStream`], one end of a socket pair. What it reads
//! there are the bytes to send to the client as they are: docker's stdcopy
//! frames (`[stream][0,0,0][len BE u32][payload]`, 1 stdout, 2 stderr)
//! without a tty, the raw output with one. What it writes goes to the
//! container's stdin; shutting down its write half is end-of-input (which
//! closes the container's stdin when the container has `StdinOnce`). The
//! stream ends when the container exits (after its last output).
//!
//! The engine's end is spliced to a shim attach connection: at once when
//! the container runs, else at its next start, before the container is
//! released (`docker run` attaches before it starts, so no output is
//! lost). Bytes the client writes before the start wait in the socket.

use std::sync::Arc;

use berth_shim_proto::frame::{FrameDecoder, encode_header};
use berth_shim_proto::{ExecExit, Stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::oneshot;

use super::Error;
use super::logs::{self, LogOptions};
use super::shim::Shim;
use super::store::Container;
use super::warn;
use crate::Engine;

/// The client's side of an attach (see the module documentation).
#[derive(Debug)]
pub struct AttachStream {
    /// The container has a tty: the stream is raw, not framed.
    pub tty: bool,
    pub stream: UnixStream,
}

/// An attach waiting for the container's next start.
pub struct PendingAttach {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// Receives the shim's attach connection.
    pub tx: oneshot::Sender<UnixStream>,
}

/// Connects the attach clients waiting for the start to the freshly
/// created shim (before `start`).
pub(crate) async fn connect_pending(c: &Container, shim: &Shim) {
    let pending = std::mem::take(&mut *c.pending_attach.lock().unwrap_or_else(|e| e.into_inner()));
    for p in pending {
        if p.tx.is_closed() {
            continue;
        }
        match shim.attach(p.stdin, p.stdout, p.stderr).await {
            Ok(conn) => {
                let _ = p.tx.send(conn);
            }
            Err(e) => warn(format_args!("attach to container {}: {e}", c.id)),
        }
    }
}

/// Copies the shim's frames to the client: payloads raw with a tty,
/// frames as they are without one. An exit frame (exec streams) goes to
/// `on_exit` and is not forwarded. Returns at the end of the stream, or
/// when the client is gone unless `drain` (an exec's exit frame must
/// still be read then).
pub(crate) async fn pump_output<R, W>(
    mut from: R,
    mut to: W,
    tty: bool,
    drain: bool,
    mut on_exit: impl FnMut(i32),
) where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let mut decoder = FrameDecoder::new();
    let mut buf = vec![0u8; 32 * 1024];
    // Once the client is gone, keep draining (the exit frame still
    // matters) but stop writing.
    let mut client_gone = false;
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        decoder.push(&buf[..n]);
        loop {
            let frame = match decoder.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(_) => {
                    // A malformed stream cannot be resynchronized.
                    let _ = to.shutdown().await;
                    return;
                }
            };
            if frame.stream == Stream::Exit {
                if let Ok(e) = serde_json::from_slice::<ExecExit>(&frame.payload) {
                    on_exit(e.exit_code);
                }
                continue;
            }
            if client_gone {
                if drain {
                    continue;
                }
                return;
            }
            let written = if tty {
                to.write_all(&frame.payload).await
            } else {
                let header = encode_header(frame.stream, frame.payload.len());
                match to.write_all(&header).await {
                    Ok(()) => to.write_all(&frame.payload).await,
                    Err(e) => Err(e),
                }
            };
            client_gone = written.is_err();
        }
    }
    let _ = to.shutdown().await;
}

/// Joins a client's socket to a shim stream until the output ends.
pub(crate) async fn splice(
    client: UnixStream,
    shim: UnixStream,
    tty: bool,
    drain: bool,
    on_exit: impl FnMut(i32),
) {
    let (mut client_read, client_write) = client.into_split();
    let (shim_read, mut shim_write) = shim.into_split();
    let input = async move {
        let _ = tokio::io::copy(&mut client_read, &mut shim_write).await;
        // End of the client's input: tell the shim (half-close).
        let _ = shim_write.shutdown().await;
        // Keep the write half alive until the output ends.
        std::future::pending::<()>().await;
    };
    let output = pump_output(shim_read, client_write, tty, drain, on_exit);
    tokio::select! {
        _ = input => {}
        _ = output => {}
    }
}

/// Writes past log entries to the client in its stream format.
async fn write_logs(
    to: &mut UnixStream,
    msgs: Vec<logs::LogMessage>,
    tty: bool,
) -> std::io::Result<()> {
    for m in msgs {
        if !tty {
            let stream = if m.stream.fd() == 2 {
                Stream::Stderr
            } else {
                Stream::Stdout
            };
            to.write_all(&encode_header(stream, m.bytes.len())).await?;
        }
        to.write_all(&m.bytes).await?;
    }
    Ok(())
}

impl Engine {
    /// Attaches to a container (`POST /containers/{id}/attach?stdin&stdout&
    /// stderr&logs&stream`); see the module documentation for the stream.
    /// `logs` replays the container's log first; `stream` follows the live
    /// output (at the next start when the container is not running). stdin
    /// is only connected when the container has `OpenStdin`. Publishes
    /// `attach`.
    pub async fn container_attach(
        self: &Arc<Self>,
        reference: &str,
        stdin: bool,
        stdout: bool,
        stderr: bool,
        logs: bool,
        stream: bool,
    ) -> Result<AttachStream, Error> {
        let c = self.containers.get(reference)?;
        let (client_end, mut engine_end) = UnixStream::pair().map_err(|source| Error::Io {
            op: "create socket pair for attach to",
            path: c.dir.clone(),
            source,
        })?;
        let rec = c.snapshot();
        if rec.state.paused {
            return Err(Error::AttachPaused {
                reference: reference.to_string(),
            });
        }
        if rec.state.restarting {
            return Err(Error::AttachRestarting {
                reference: reference.to_string(),
            });
        }
        let tty = rec.config.tty;
        let stdin = stdin && rec.config.open_stdin;
        let history = if logs && !rec.log_path.is_empty() {
            let path = std::path::PathBuf::from(&rec.log_path);
            let opts = LogOptions {
                stdout,
                stderr,
                ..LogOptions::default()
            };
            tokio::task::spawn_blocking(move || logs::read_all(&path, &opts))
                .await
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        // Decide under the op lock, so a start in progress either sees
        // this attach as pending or has finished (and it runs).
        let live: Option<oneshot::Receiver<UnixStream>> = if stream {
            let _op = c.op.lock().await;
            let (tx, rx) = oneshot::channel();
            let running = c.lifecycle.borrow().running;
            if running {
                let shim = Shim::new(self.containers.state_dir(&c.id));
                let conn =
                    shim.attach(stdin, stdout, stderr)
                        .await
                        .map_err(|source| Error::Shim {
                            op: "attach to",
                            id: c.id.clone(),
                            source,
                        })?;
                let _ = tx.send(conn);
            } else {
                c.pending_attach
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(PendingAttach {
                        stdin,
                        stdout,
                        stderr,
                        tx,
                    });
            }
            Some(rx)
        } else {
            None
        };
        tokio::spawn(async move {
            if write_logs(&mut engine_end, history, tty).await.is_err() {
                return;
            }
            let Some(rx) = live else {
                let _ = engine_end.shutdown().await;
                return;
            };
            // Dropped without a connection: the start failed or the
            // container was removed; the client sees end-of-stream.
            if let Ok(conn) = rx.await {
                splice(engine_end, conn, tty, false, |_| {}).await;
            }
        });
        self.container_event(&c, "attach", &[]);
        Ok(AttachStream {
            tty,
            stream: client_end,
        })
    }

    /// Sets the size of a container's tty (`POST /containers/{id}/resize`).
    /// 409 when it is not running. Publishes `resize`.
    pub async fn container_resize(
        &self,
        reference: &str,
        height: u16,
        width: u16,
    ) -> Result<(), Error> {
        let c = self.containers.get(reference)?;
        if !c.lifecycle.borrow().running {
            return Err(Error::NotRunning { id: c.id.clone() });
        }
        Shim::new(self.containers.state_dir(&c.id))
            .resize(height, width)
            .await
            .map_err(|source| Error::Shim {
                op: "resize",
                id: c.id.clone(),
                source,
            })?;
        self.container_event(
            &c,
            "resize",
            &[("height", height.to_string()), ("width", width.to_string())],
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_shim_proto::frame::encode_frame;

    #[tokio::test]
    async fn output_is_framed_or_raw_and_exit_frames_are_taken_out() {
        let mut wire = Vec::new();
        encode_frame(Stream::Stdout, b"out\n", &mut wire);
        encode_frame(Stream::Stderr, b"err\n", &mut wire);
        encode_frame(Stream::Exit, br#"{"exit_code":7}"#, &mut wire);

        for tty in [false, true] {
            let (mut shim_side, engine_side) = UnixStream::pair().unwrap();
            let (client_side, mut reader) = UnixStream::pair().unwrap();
            shim_side.write_all(&wire).await.unwrap();
            shim_side.shutdown().await.unwrap();
            let mut code = None;
            pump_output(engine_side, client_side, tty, true, |c| code = Some(c)).await;
            let mut got = Vec::new();
            reader.read_to_end(&mut got).await.unwrap();
            assert_eq!(code, Some(7));
            if tty {
                assert_eq!(got, b"out\nerr\n");
            } else {
                let mut want = Vec::new();
                encode_frame(Stream::Stdout, b"out\n", &mut want);
                encode_frame(Stream::Stderr, b"err\n", &mut want);
                assert_eq!(got, want);
            }
        }
    }
}
