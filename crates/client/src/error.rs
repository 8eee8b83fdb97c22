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
