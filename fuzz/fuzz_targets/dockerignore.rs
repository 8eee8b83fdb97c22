//! cargo-fuzz target: see `fuzzing::dockerignore` for what it asserts.
#![no_main]

#[path = "../../crates/builder/tests/fuzzing/mod.rs"]
mod fuzzing;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzzing::dockerignore(data));
