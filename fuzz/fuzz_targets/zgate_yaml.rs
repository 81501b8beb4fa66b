#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| zgate_config::fuzzing::zgate_yaml(data));
