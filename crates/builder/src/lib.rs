//! berth's Dockerfile builder: the classic (non-BuildKit) builder of the
//! Docker Engine, over berth's engine.
//!
//! The pure parts: [`parser`] (lines, directives, continuations,
//! heredocs), [`instructions`] (what each instruction means, stages),
//! [`lex`] (quotes and variable substitution), [`args`] (ARG scoping) and
//! [`dockerignore`]. The executor ([`build`]) runs a parsed Dockerfile
//! against an [`berth_engine::Engine`]: each step becomes an image (RUN
//! in a container, COPY/ADD as a layer written from the context, the rest
//! as config-only history entries), with a layer cache that survives
//! daemon restarts. The executor is the `executor` feature (on by
//! default); without it only the pure parts are built.

pub mod args;
#[cfg(feature = "executor")]
pub mod build;
pub mod cache;
#[cfg(feature = "executor")]
pub mod cache_from;
pub mod context;
#[cfg(feature = "executor")]
pub mod copy;
#[cfg(feature = "executor")]
mod copy_step;
pub mod dockerignore;
pub mod history;
pub mod instructions;
pub mod lex;
pub mod parser;
#[cfg(feature = "executor")]
mod steps;

#[cfg(feature = "executor")]
pub use build::{Build, BuildError, BuildOptions, Event, prepare};
pub use instructions::{Dockerfile, Instruction};
pub use parser::ParseError;
