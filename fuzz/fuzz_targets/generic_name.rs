#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| zgate_esm::fuzzing::generic_name(data));
