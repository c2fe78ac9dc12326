//! JavaScript bindings: a thin layer over [`Router`]; no logic lives here.

use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::error::Error;
use crate::{Constraints, Pool, Predictor, RouteOptions, Router};

/// The one place an error becomes a JS `Error`.
fn js_error(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(js_error)
}

#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}

/// Reads a pool given as a JSON string, a plain object, or nothing (the default pool).
fn pool_from_js(pool: JsValue) -> Result<Pool, JsError> {
    if pool.is_undefined() || pool.is_null() {
        return Ok(Pool::default_pool());
    }
    let json = match pool.as_string() {
        Some(text) => text,
        None => js_sys::JSON::stringify(&pool)
            .map_err(|_| js_error(Error::Pool("the pool is not JSON-serialisable".into())))?
            .into(),
    };
    Pool::from_json(&json).map_err(js_error)
}

async fn fetch_bytes(url: &str) -> Result<Vec<u8>, Error> {
    let fail = |message: String| Error::Fetch {
        url: url.to_string(),
        message,
    };
    let response = gloo_net::http::Request::get(url)
        .send()
        .await
        .map_err(|e| fail(e.to_string()))?;
    if !response.ok() {
        return Err(fail(format!(
            "HTTP {} {}",
            response.status(),
            response.status_text()
        )));
    }
    response.binary().await.map_err(|e| fail(e.to_string()))
}

/// Resolves `file` against the URL of `predictor.json`.
fn sibling(manifest_url: &str, file: &str) -> String {
    match manifest_url.rfind('/') {
        Some(i) => format!("{}{}", &manifest_url[..=i], file),
        None => file.to_string(),
    }
}

/// A router in the page: a predictor bound to a pool.
#[wasm_bindgen(js_name = Router)]
pub struct JsRouter {
    inner: Router,
}

#[wasm_bindgen(js_class = Router)]
impl JsRouter {
    /// Fetches `predictor.json` from `manifestUrl`, then the files it names beside it.
    /// `pool` is a pool object or JSON string; the default pool when omitted.
    pub async fn load(
        #[wasm_bindgen(js_name = manifestUrl)] manifest_url: String,
        pool: JsValue,
    ) -> Result<JsRouter, JsError> {
        let pool = pool_from_js(pool)?;
        let manifest_bytes = fetch_bytes(&manifest_url).await.map_err(js_error)?;
        let manifest = crate::bundle::Manifest::from_json(&manifest_bytes).map_err(js_error)?;
        let encoder = fetch_bytes(&sibling(&manifest_url, &manifest.encoder.file))
            .await
            .map_err(js_error)?;
        let tokenizer = fetch_bytes(&sibling(&manifest_url, &manifest.tokenizer.file))
            .await
            .map_err(js_error)?;
        let neighbours = fetch_bytes(&sibling(&manifest_url, &manifest.neighbours.file))
            .await
            .map_err(js_error)?;
        JsRouter::build(&manifest_bytes, &encoder, &tokenizer, &neighbours, pool)
    }

    /// Builds a router from the bytes of `predictor.json`, the encoder, the tokenizer and the
    /// neighbours file.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(
        manifest: &[u8],
        encoder: &[u8],
        tokenizer: &[u8],
        neighbours: &[u8],
        pool: JsValue,
    ) -> Result<JsRouter, JsError> {
        JsRouter::build(
            manifest,
            encoder,
            tokenizer,
            neighbours,
            pool_from_js(pool)?,
        )
    }

    fn build(
        manifest: &[u8],
        encoder: &[u8],
        tokenizer: &[u8],
        neighbours: &[u8],
        pool: Pool,
    ) -> Result<JsRouter, JsError> {
        let predictor =
            Predictor::from_bytes(manifest, encoder, tokenizer, neighbours).map_err(js_error)?;
        let inner = Router::new(predictor, pool).map_err(js_error)?;
        Ok(JsRouter { inner })
    }

    /// Each model's predicted quality for a prompt.
    pub fn predict(&self, prompt: &str) -> Result<JsValue, JsError> {
        to_js(&self.inner.predict(prompt).map_err(js_error)?)
    }

    /// Chooses a model: `{choice, ranked, excluded, lambda, budget, ...}`.
    /// `options` may set `budget` (US$ per 1,000 requests), `lambda`, `maxCostPerRequest`,
    /// `maxLatencyMs`, `providers` and `exclude`.
    pub fn route(&self, prompt: &str, options: JsValue) -> Result<JsValue, JsError> {
        let options: RouteOptions = if options.is_undefined() || options.is_null() {
            RouteOptions::default()
        } else {
            serde_wasm_bindgen::from_value(options)
                .map_err(|e| js_error(format!("invalid route options: {e}")))?
        };
        to_js(&self.inner.route(prompt, &options).map_err(js_error)?)
    }

    /// Chooses a model for each prompt so the batch's estimated spend stays within
    /// `budgetTotal` US$: `{choices, spend, budgetTotal, expectedAccuracy, lambda, minSpend,
    /// maxSpend}`. `constraints` may set `maxCostPerRequest`, `maxLatencyMs`, `providers` and
    /// `exclude`.
    #[wasm_bindgen(js_name = routeBatch)]
    pub fn route_batch(
        &self,
        prompts: Vec<String>,
        #[wasm_bindgen(js_name = budgetTotal)] budget_total: f64,
        constraints: JsValue,
    ) -> Result<JsValue, JsError> {
        let constraints: Constraints = if constraints.is_undefined() || constraints.is_null() {
            Constraints::default()
        } else {
            serde_wasm_bindgen::from_value(constraints)
                .map_err(|e| js_error(format!("invalid batch constraints: {e}")))?
        };
        let prompts: Vec<&str> = prompts.iter().map(String::as_str).collect();
        let plan = self.inner.route_batch(&prompts, budget_total, &constraints);
        to_js(&plan.map_err(js_error)?)
    }

    /// The pool in use, as a plain object.
    pub fn pool(&self) -> Result<JsValue, JsError> {
        to_js(self.inner.pool())
    }

    /// The pool's budget curve: `{points: [{lambda, costPer1k, quality}]}`.
    pub fn curve(&self) -> Result<JsValue, JsError> {
        to_js(self.inner.curve())
    }

    /// Ids of the models the predictor has heads for.
    pub fn models(&self) -> Vec<String> {
        self.inner
            .predictor()
            .manifest()
            .heads
            .iter()
            .map(|h| h.id.clone())
            .collect()
    }
}
