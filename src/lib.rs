/*!
routoo routes each prompt to the LLM that gives the most quality for a budget, entirely in the
browser.

The crate is a pure core with a thin binding layer:

- [`Predictor`] reads a bundle (`predictor.json`, an ONNX text encoder run by tract, a
  `tokenizer.json`), places a prompt in the space every model shares, and estimates from each
  model's vector there how likely it is to answer well.
- [`chat`] holds conversations (system, user and assistant turns): what the predictor reads
  of one, and what a request carries.
- [`Pool`] lists the models a user can route to, with prices, context windows and latencies.
- [`Router`] binds a predictor to a pool and picks, for a prompt and a budget, the model that
  maximises predicted quality − λ·estimated cost under the request's [`Constraints`], returning
  the ranked alternatives and why each other model was excluded.
- [`cost`] and [`select`] hold the arithmetic, free of any I/O; [`batch`] spreads one total
  budget over many prompts; [`eval`] scores a router on a routing table.
- [`endpoint`] parses base URLs (https, or http to this machine) and the origins keys are bound
  to.
- [`provider`] speaks the providers' wire formats (OpenAI-compatible, Anthropic, Gemini):
  requests, answers and server-sent event streams, with typed errors and redacted keys;
  [`provider::ask`] calls the ranked models in turn, retrying and falling back, over any
  [`provider::Transport`] (a blocking native client for the CLI).
- `wasm` (wasm32 only) exposes the same router to JavaScript, with `fetch` as the transport.

```no_run
use routoo::{Pool, Predictor, RouteOptions, Router};

let predictor = Predictor::from_dir("www/models")?;
let router = Router::new(predictor, Pool::default_pool())?;
let options = RouteOptions { budget: Some(1.0), ..Default::default() };
let decision = router.route("What is the capital of France?", &options)?;
println!("{} (quality {:.2})", decision.choice.model, decision.choice.quality);
# Ok::<(), routoo::Error>(())
```
*/

#![deny(missing_docs)]

pub mod batch;
pub mod bundle;
pub mod calibrate;
pub mod chat;
pub mod cost;
pub mod endpoint;
mod error;
pub mod eval;
pub mod pool;
pub mod predictor;
pub mod probe;
pub mod provider;
mod router;
pub mod select;
pub mod suggest;
#[cfg(target_arch = "wasm32")]
mod wasm;

pub use crate::batch::BatchPlan;
pub use crate::chat::{Conversation, Message, Role};
pub use crate::error::{Error, Exclusions, Result};
pub use crate::pool::{Pool, PoolModel};
pub use crate::predictor::{ModelQuality, Prediction, Predictor};
pub use crate::router::{Decision, RouteOptions, Router};
pub use crate::select::{BudgetCurve, Candidate, Constraints, Excluded, Reason};
