//! cargo-fuzz target: see `fuzzing::manifests` for what it asserts.
#![no_main]

#[path = "../../tests/fuzzing/mod.rs"]
mod fuzzing;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzzing::manifests(data));
