//! Any input must parse or fail with an error, then execute or fail with
//! an error: never panic, overflow the stack, or loop without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|src: &str| {
    // Ranging over a huge integer literal legitimately produces unbounded
    // output (as in Go); keep the fuzzer on inputs that terminate quickly.
    let big_number = ["0x", "0X", "0b", "0B", "0o", "0O", "_"]
        .iter()
        .any(|p| src.contains(p))
        || src.bytes().filter(u8::is_ascii_digit).count() > 4;
    if src.len() > 4096 || big_number {
        return;
    }
    let data = serde_json::json!({
        "A": 1, "B": {"C": [1, "two", null, {"D": 4.5}]}, "L": ["x", "y"],
        "M": {"k": "v", "n": null}, "N": null, "S": "str"
    });
    if let Ok(t) = berth_gotmpl::Template::parse(src) {
        let mut out = String::new();
        let _ = t.execute(&data, &mut out);
        let _ = t.execute_header(&data, &mut out);
    }
});
