//! cargo-fuzz target: see `fuzzing::body` for what it asserts.
#![no_main]

#[path = "../../bins/berthd/tests/fuzzing/mod.rs"]
mod fuzzing;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzzing::body(data));
