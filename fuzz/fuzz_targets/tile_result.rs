//! An uploaded tile result, as a worker (or anyone holding a worker token) sends it.
//! Whatever decodes must encode back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};
use tessera::farm::protocol::{decode_result, encode_result};

fn round_trips(bytes: &[u8]) {
    if let Ok(result) = decode_result(bytes) {
        assert_eq!(encode_result(&result), bytes, "a decoded result re-encodes differently");
    }
}

fuzz_target!(|body: &[u8]| {
    round_trips(body);
    // The same bytes with a valid checksum appended, so the fuzzer reaches the header
    // and pixel checks behind the SHA-256 comparison.
    round_trips(&[body, Sha256::digest(body).as_slice()].concat());
});
