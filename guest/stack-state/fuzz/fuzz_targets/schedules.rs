//! Fuzz target: any bytes are a schedule of tasks entering, suspending, resuming in any
//! order, making synchronous calls (some trapping, some running off the bottom) and
//! nested starts (from plain calls and from resumed tasks), with empty, 1-byte and odd
//! frames, trapping, finishing, being ended while suspended, and meeting hooks with bad
//! ids (`stack_state::sim::Op`); eager, lazy and adaptive must keep every frame intact
//! and their bookkeeping consistent after every step, and neither lazy nor adaptive may
//! copy more than eager. The
//! same decoding and check run in the property test (`tests/model.rs`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use stack_state::sim::{check_schedule, ops_from_bytes};

fuzz_target!(|bytes: &[u8]| {
    if let Err(violation) = check_schedule(&ops_from_bytes(bytes)) {
        panic!("{violation}");
    }
});
