//! Go templates for `--format`, from the workspace's Go-template crate.

pub use berth_gotmpl::{ExecError, MissingKey, ParseError, Template};
