#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sedgate::fuzzing::as4_header(data));
