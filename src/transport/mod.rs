//! The transports, side by side: what sends a request [`crate::provider`] built and reads the
//! answer back into its [`sse::read`](crate::provider::sse::read), behind
//! [`Transport`](crate::provider::Transport). Each bounds every body it reads.
//!
//! - [`NativeClient`] (not on wasm32): blocking HTTP with `ureq`, for the CLI.
//! - `fetch` (wasm32 only): the browser's `fetch`, with an `AbortSignal` for Stop and the
//!   timeouts; with the `wasm` bindings, the only code that touches `web-sys`.

#[cfg(target_arch = "wasm32")]
pub(crate) mod fetch;
#[cfg(not(target_arch = "wasm32"))]
mod native;

#[cfg(not(target_arch = "wasm32"))]
pub use self::native::NativeClient;
