//! The CLI's failures: a message for stderr (docker's wording) and the exit status.
//!
//! Docker's exit statuses: 1 for a failed command, 125 for a usage error (unknown flag,
//! bad flag value) and for a `run`/`create` that fails before the container runs, 126
//! and 127 when the container's command cannot be run or found, 64 for an inspect
//! template that does not parse, and otherwise the container's own status.

/// A failed command.
#[derive(Debug)]
pub struct CliError {
    /// Printed to stderr with a newline, unless empty.
    pub message: String,
    pub code: i32,
}

impl CliError {
    /// A failure with status 1.
    pub fn new(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            code: 1,
        }
    }

    /// A failure with `code`.
    pub fn with_code(message: impl Into<String>, code: i32) -> CliError {
        CliError {
            message: message.into(),
            code,
        }
    }

    /// An exit status with nothing to print (a container's status).
    pub fn status(code: i32) -> CliError {
        CliError {
            message: String::new(),
            code,
        }
    }
}

impl From<berth_client::Error> for CliError {
    fn from(e: berth_client::Error) -> CliError {
        CliError::new(e.to_string())
    }
}

impl From<crate::fmt::FormatError> for CliError {
    fn from(e: crate::fmt::FormatError) -> CliError {
        CliError::new(format!("template parsing error: {e}"))
    }
}

/// The result of a command.
pub type CliResult = Result<(), CliError>;

/// Several failures of a command over many objects, one message per line (docker joins
/// them the same way), status 1.
pub fn join_errors(errs: Vec<String>) -> CliResult {
    if errs.is_empty() {
        Ok(())
    } else {
        Err(CliError::new(errs.join("\n")))
    }
}
