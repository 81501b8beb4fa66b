#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| zgate_gateway::fuzzing::request_target(data));
