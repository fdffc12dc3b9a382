#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sedgate_gateway::fuzzing::signature(data));
