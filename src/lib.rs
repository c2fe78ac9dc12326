/*!
routoo routes each prompt to the LLM that gives the most quality for a budget, entirely in the
browser.

The crate is a pure core with a thin binding layer. Its modules, each using only those
above it:

1. Leaves: [`bounded`] refuses a list a user gives past a count before it is built;
   [`endpoint`] parses base URLs (https, or http to this machine) and the origins keys
   are bound to; [`exclusion`] says why a model is left out, and [`Error`] is the crate's one
   error type; [`chat`] holds conversations (system, user and assistant turns): what the
   predictor reads of one, and what a request carries; [`bundle`] reads the predictor's files
   and checks their digests.
2. [`Pool`] lists the models a user can route to, with prices, context windows and latencies;
   [`cost`] prices a request from them (the one price formula); [`heads`] is the heads file
   format and the fit of a new model's head, from probes or from a [`card`] of published
   scores; [`probe`] reads and grades the probe sets.
3. [`Predictor`] places a prompt in the space every model shares (an ONNX text encoder run by
   tract, a `tokenizer.json`) and estimates from each model's vector there how likely it is
   to answer well.
4. [`select`] ranks a pool by predicted quality − margin − λ·estimated cost under the
   request's [`Constraints`]; `hull` holds the convex hulls and the λ path that [`batch`]
   (one total budget over many prompts) and [`eval`] (scoring a router on a routing table:
   the table, the sweep and the metrics) walk; [`suggest`] picks the few models worth most.
5. [`provider`] speaks the providers' wire formats (OpenAI-compatible, Anthropic, Gemini):
   requests, answers and server-sent event streams, with typed errors and redacted keys;
   [`provider::ask`] calls the ranked models in turn, retrying and falling back, over any
   [`provider::Transport`]; [`transport`] holds the transports side by side (a blocking
   native client for the CLI, `fetch` in the browser); [`calibrate`] sends a new model the
   probes and fits its head.
6. [`Router`] binds a predictor to a pool and picks, for a prompt and a budget, the model that
   maximises predicted quality − λ·estimated cost, returning the ranked alternatives and why
   each other model was excluded.
7. `wasm` (wasm32 only) exposes the same router to JavaScript; with `transport`'s `fetch`, the
   only code that touches `web-sys` and `js-sys`.

```no_run
use routoo::{Pool, Predictor, RouteOptions, Router};

let predictor = Predictor::from_dir("www/models")?;
let router = Router::new(predictor, Pool::default_pool()?)?;
let options = RouteOptions { budget: Some(1.0), ..Default::default() };
let decision = router.route("What is the capital of France?", &options)?;
println!("{} (quality {:.2})", decision.choice.model, decision.choice.quality);
# Ok::<(), routoo::Error>(())
```
*/

#![deny(missing_docs)]

pub mod batch;
pub mod bounded;
pub mod bundle;
pub mod calibrate;
pub mod card;
pub mod chat;
pub mod cost;
pub mod endpoint;
mod error;
pub mod eval;
pub mod exclusion;
pub mod explain;
pub mod heads;
mod hull;
pub mod pool;
pub mod predictor;
pub mod probe;
pub mod provider;
mod router;
pub mod select;
pub mod serve;
pub mod suggest;
pub mod transport;
#[cfg(target_arch = "wasm32")]
mod wasm;

pub use crate::batch::BatchPlan;
pub use crate::chat::{Conversation, Message, Role};
pub use crate::error::{Error, Result};
pub use crate::exclusion::{Exclusion, Exclusions, Reason};
pub use crate::pool::{Pool, PoolModel};
pub use crate::predictor::{ModelQuality, Prediction, Predictor};
pub use crate::router::{Basis, Decision, RouteOptions, Router};
pub use crate::select::{BudgetCurve, Candidate, Constraints};
