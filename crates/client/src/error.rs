//! The client's errors. Their messages are the docker CLI's, since the CLI prints them
//! as they are: a daemon error is `Error response from daemon: <message>`, an unreachable
//! daemon is `Cannot connect to the berth daemon at <host>. Is the daemon running?`.

/// Errors of talking to the daemon.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The socket could not be reached.
    #[error("Cannot connect to the berth daemon at {host}. Is the daemon running?")]
    Connect {
        host: String,
        #[source]
        source: std::io::Error,
    },
    /// The daemon answered with an error status; `message` is its `{"message"}`.
    #[error("Error response from daemon: {message}")]
    Daemon { status: u16, message: String },
    /// The TLS handshake, or a TLS record after it, failed; worded as the docker CLI
    /// prints Go's `*url.Error` (`Get "https://host:port/v1.41/version": …`), with its
    /// hint when the daemon refused the client certificate.
    #[error("{}", tls_message(method, url, source))]
    Tls {
        /// The method as Go spells it in the message (`Get`, `Post`, `Head`).
        method: String,
        url: String,
        #[source]
        source: crate::tls::TlsFailure,
    },
    /// The daemon answered with something that is not HTTP (a TLS daemon answering
    /// plain HTTP); `line` is the first line it sent, quoted as Go quotes it.
    #[error(
        "{method} \"{url}\": net/http: HTTP/1.x transport connection broken: malformed HTTP response {}.\n* Are you trying to connect to a TLS-enabled daemon without TLS?",
        go_quote(line)
    )]
    Malformed {
        /// The method as Go spells it (`Get`).
        method: String,
        url: String,
        line: Vec<u8>,
    },
    /// The HTTP exchange failed after connecting.
    #[error("error during connect: {method} {path}: {source}")]
    Http {
        method: String,
        path: String,
        #[source]
        source: hyper::Error,
    },
    /// A response body broke off.
    #[error("read response of {path}: {source}")]
    Body {
        path: String,
        #[source]
        source: hyper::Error,
    },
    /// A response body is not the JSON expected.
    #[error("decode response of {path}: {source}")]
    Decode {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    /// A request could not be built (a header value with a newline, for example).
    #[error("build request {path}: {source}")]
    Request {
        path: String,
        #[source]
        source: http::Error,
    },
    /// A request body could not be encoded.
    #[error("encode request body of {path}: {source}")]
    Encode {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    /// An attach or exec start was not answered with `101 Switching Protocols`.
    #[error("hijack {path}: the daemon answered {status} instead of switching protocols")]
    NoUpgrade { path: String, status: u16 },
    /// The upgraded connection could not be taken over.
    #[error("hijack {path}: {source}")]
    Upgrade {
        path: String,
        #[source]
        source: hyper::Error,
    },
    /// A multiplexed stream broke its framing.
    #[error("demultiplex stream: {0}")]
    Frame(#[source] berth_api_types::stdcopy::DecodeError),
    /// Reading or writing the caller's side of a stream failed.
    #[error("{op}: {source}")]
    Io {
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The HTTP status of a daemon error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Daemon { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// A 401 from the daemon: the registry refused the credentials (or wants some).
    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(401)
    }

    /// Whether the daemon said 404 (no such container, image, network, ...).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// The daemon's message of a daemon error.
    pub fn daemon_message(&self) -> Option<&str> {
        match self {
            Error::Daemon { message, .. } => Some(message),
            _ => None,
        }
    }
}

/// The text of [`Error::Tls`]: docker's client reads a `bad certificate` alert as the
/// daemon refusing the client certificate, and says so instead of "error during
/// connect".
fn tls_message(method: &str, url: &str, source: &crate::tls::TlsFailure) -> String {
    let request = format!("{method} \"{url}\": {source}");
    if request.contains("bad certificate") {
        format!(
            "the server probably has client authentication (--tlsverify) enabled; check your TLS client certification settings: {request}"
        )
    } else {
        format!("error during connect: {request}")
    }
}

/// `bytes` quoted as Go's `%q` quotes a string: printable text as it is, the C escapes,
/// `\xNN` for other control bytes and for bytes that are not UTF-8.
pub(crate) fn go_quote(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\u{7}' => out.push_str("\\a"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{b}' => out.push_str("\\v"),
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                    out.push_str(&format!("\\x{:02x}", u32::from(c)));
                }
                c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_as_go() {
        assert_eq!(
            go_quote(b"\x15\x03\x03\x00\x02\x022"),
            r#""\x15\x03\x03\x00\x02\x022""#
        );
        assert_eq!(go_quote(b"a\"b\\\t\xff"), r#""a\"b\\\t\xff""#);
    }
}
