//! The native integration tests, in one binary: tract and the rest are linked once, and the
//! committed bundle's encoder is loaded and optimised once per run (`common::predictor`).
//! The wasm tests are their own binary (`tests/wasm.rs`), run in Chromium.

#![cfg(not(target_arch = "wasm32"))]

mod common;

mod batch;
mod bundle;
mod cli;
mod emulator;
mod errors;
mod providers;
mod select;
