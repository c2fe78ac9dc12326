//! Shared by the native test files: the committed bundle and fixtures.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use routoo::{Pool, Predictor, Router};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn models_dir() -> PathBuf {
    root().join("www/models")
}

pub fn read(path: &str) -> Vec<u8> {
    let path = root().join(path);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

pub fn fixture(name: &str) -> serde_json::Value {
    serde_json::from_slice(&read(&format!("tests/fixtures/{name}")))
        .unwrap_or_else(|e| panic!("fixture {name} is not JSON: {e}"))
}

pub fn prompts() -> Vec<String> {
    serde_json::from_value(fixture("prompts.json")["prompts"].clone())
        .unwrap_or_else(|e| panic!("prompts.json: {e}"))
}

/// The committed bundle, loaded and optimised once per run (tract optimises the graph on
/// load); each caller gets a clone sharing that encoder.
pub fn predictor() -> Predictor {
    static PREDICTOR: OnceLock<Predictor> = OnceLock::new();
    PREDICTOR
        .get_or_init(|| {
            Predictor::from_dir(models_dir())
                .unwrap_or_else(|e| panic!("the committed bundle does not load: {e}"))
        })
        .clone()
}

/// A router on the committed bundle and the default pool, built once per run.
pub fn router() -> &'static Router {
    static ROUTER: OnceLock<Router> = OnceLock::new();
    ROUTER.get_or_init(|| {
        let predictor = predictor();
        Router::new(
            predictor,
            Pool::default_pool().expect("the default pool parses"),
        )
        .unwrap_or_else(|e| panic!("the default pool does not fit the bundle: {e}"))
    })
}

/// A routing table the committed bundle was trained on, as `../shared/data` holds it.
pub struct TrainedTable {
    pub file: String,
    pub models: Vec<String>,
}

/// The tables of the committed bundle's `provenance.data` that `../shared/data` holds with the
/// digest the bundle was trained on, each with the models its header names. A table absent or
/// changed since is named on stderr and left out: the bundle knows nothing of what it holds now,
/// nor of tables added to the folder after training.
pub fn trained_tables() -> Vec<TrainedTable> {
    let manifest = routoo::bundle::Manifest::from_json(&read("www/models/predictor.json"))
        .unwrap_or_else(|e| panic!("predictor.json: {e}"));
    let data = manifest.provenance["data"]
        .as_array()
        .expect("predictor.json's provenance lists the tables it was trained on");
    assert!(!data.is_empty(), "provenance.data is empty");
    let mut tables = Vec::new();
    for entry in data {
        let file = entry["file"].as_str().expect("provenance.data[].file");
        let digest = entry["sha256"].as_str().expect("provenance.data[].sha256");
        let path = root().join("../shared/data").join(file);
        let Ok(bytes) = std::fs::read(&path) else {
            eprintln!("{} is absent: its models are not checked", path.display());
            continue;
        };
        if routoo::bundle::sha256_hex(&bytes) != digest {
            eprintln!(
                "{} changed since the bundle was trained on it: its models are not checked",
                path.display()
            );
            continue;
        }
        let models =
            routoo::eval::models_in(bytes.as_slice()).unwrap_or_else(|e| panic!("{file}: {e}"));
        tables.push(TrainedTable {
            file: file.to_string(),
            models,
        });
    }
    tables
}

/// Up to `n` prompts of `benchmark` and `subject` in the tables the bundle was trained on,
/// in file order, leaving out the row ids in `except` (e.g. the probes a model was sent).
pub fn questions_of(
    benchmark: &str,
    subject: &str,
    n: usize,
    except: &std::collections::HashSet<String>,
) -> Vec<String> {
    let mut out = Vec::new();
    for table in trained_tables() {
        let path = root().join("../shared/data").join(&table.file);
        let mut reader = csv::Reader::from_path(&path).unwrap();
        let header = reader.headers().unwrap().clone();
        let col = |name: &str| header.iter().position(|h| h == name);
        let (Some(id), Some(b), Some(s), Some(p)) =
            (col("id"), col("benchmark"), col("subject"), col("prompt"))
        else {
            continue;
        };
        for record in reader.records() {
            let record = record.unwrap();
            if record[b] == *benchmark && record[s] == *subject && !except.contains(&record[id]) {
                out.push(record[p].to_string());
                if out.len() == n {
                    return out;
                }
            }
        }
    }
    out
}

/// A ranked candidate with made-up figures, for tests of what happens after ranking.
pub fn candidate(model: &str, provider: &str, quality: f64, usd: f64) -> routoo::Candidate {
    routoo::Candidate {
        model: model.into(),
        provider: provider.into(),
        quality,
        margin: 0.0,
        premium: 0.0,
        cost: routoo::cost::CostEstimate {
            input_tokens: 1,
            output_tokens: 1,
            usd,
        },
        score: quality,
    }
}

/// The provider emulator (`scripts/emulator.mjs`) on a free port, stopped on drop.
pub struct Emulator {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Emulator {
    pub fn start() -> Emulator {
        Emulator::listing(&[])
    }

    /// An emulator that, as a model server on this machine does, lists `models` at
    /// `GET /v1/models` (when any).
    pub fn listing(models: &[&str]) -> Emulator {
        let mut args = vec!["scripts/emulator.mjs", "--port", "0"];
        let listed = models.join(",");
        if !models.is_empty() {
            args.extend(["--list-models", listed.as_str()]);
        }
        let mut child = Command::new("node")
            .args(&args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start node scripts/emulator.mjs: {e}"));
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped stdout");
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in {line:?}"))
            .to_string();
        Emulator { child, url }
    }

    pub fn script(&self, model: &str, faults: &[&str]) {
        let body = serde_json::json!({"model": model, "faults": faults}).to_string();
        ureq::post(format!("{}/_script", self.url))
            .header("content-type", "application/json")
            .send(body.as_bytes())
            .unwrap();
    }

    /// Every call the emulator logged (method, path, headers), oldest first.
    pub fn calls(&self) -> Vec<serde_json::Value> {
        let body = ureq::get(format!("{}/_calls", self.url))
            .call()
            .unwrap()
            .into_body()
            .read_to_string()
            .unwrap();
        serde_json::from_str::<Vec<serde_json::Value>>(&body).unwrap()
    }

    pub fn base(&self, format: routoo::provider::Format) -> String {
        match format {
            routoo::provider::Format::Gemini => format!("{}/v1beta", self.url),
            _ => format!("{}/v1", self.url),
        }
    }

    pub fn request(
        &self,
        format: routoo::provider::Format,
        model: &str,
        stream: bool,
    ) -> routoo::provider::ChatRequest {
        routoo::provider::ChatRequest {
            base_url: self.base(format),
            api_model: model.into(),
            conversation: routoo::Conversation::from_prompt("Name three routers."),
            max_tokens: 128,
            stream,
            key: Some(routoo::provider::ApiKey::new("emulator-key")),
            reasoning_effort: None,
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
