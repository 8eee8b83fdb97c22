//! Error classes shared by the engine's services. Each service has its own
//! error enum; each error tells its class, which berthd turns into an HTTP
//! status (docker's codes) with a `{"message": ...}` body.

/// The class of an error, as the Engine API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400: the request is malformed or asks for something unsupported.
    InvalidArgument,
    /// 404: no such container, image, exec, ...
    NotFound,
    /// 409: the object exists, is in use, or is in the wrong state.
    Conflict,
    /// 304: nothing to do (start of a running container, stop of a stopped one).
    NotModified,
    /// 403
    Forbidden,
    /// 503
    Unavailable,
    /// 500: a real internal fault.
    Internal,
}

impl ErrorKind {
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::InvalidArgument => 400,
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::NotModified => 304,
            ErrorKind::Forbidden => 403,
            ErrorKind::Unavailable => 503,
            ErrorKind::Internal => 500,
        }
    }
}
