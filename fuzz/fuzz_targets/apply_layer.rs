//! cargo-fuzz target: see `fuzzing::apply_layer` for what it asserts.
#![no_main]

#[path = "../../crates/image/tests/fuzzing/mod.rs"]
mod fuzzing;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzzing::apply_layer(data));
