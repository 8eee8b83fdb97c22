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
//! daemon restarts.

pub mod args;
pub mod build;
pub mod cache;
pub mod context;
pub mod copy;
pub mod dockerignore;
pub mod history;
pub mod instructions;
pub mod lex;
pub mod parser;
mod steps;

pub use build::{Build, BuildError, BuildOptions, Event, prepare};
pub use instructions::{Dockerfile, Instruction};
pub use parser::ParseError;
