//! The `routoo` binary end to end: `eval --json` prints exactly the documented keys.

use crate::common;
use std::process::Command;

fn routoo(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_routoo"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run routoo: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn eval(models: &str) -> serde_json::Value {
    let (ok, stdout, stderr) = routoo(&[
        "eval",
        "--data",
        "tests/fixtures/table.csv",
        "--models",
        models,
        "--json",
    ]);
    assert!(ok, "routoo eval failed: {stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

#[test]
fn eval_json_has_exactly_the_documented_keys() {
    let report = eval("gpt-4-1106-preview,mixtral-8x7b-instruct,llama-3-8b");
    let mut keys: Vec<&str> = report
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "aiq",
            "aiq_range",
            "apgr",
            "apgr_by_cost",
            "cost_to_match",
            "cpt50",
            "cpt80",
            "curve",
            "gain_at_cost",
            "models",
            "oracle",
            "random",
            "rows"
        ]
    );
    // Row t.3 has no llama-3-8b label, so three rows count.
    assert_eq!(report["rows"], 3);
    assert_eq!(report["models"].as_object().unwrap().len(), 3);
    for s in report["models"].as_object().unwrap().values() {
        assert!(s["accuracy"].is_f64() && s["mean_cost"].is_f64(), "{s}");
    }
    assert_eq!(report["oracle"]["accuracy"], 1.0);
    assert!(report["curve"].as_array().unwrap().iter().all(|p| {
        p["lambda"].is_number() && p["accuracy"].is_number() && p["mean_cost"].is_number()
    }));
    assert!(report["apgr"].is_null(), "APGR needs exactly two models");
    assert!(report["aiq"].as_f64().unwrap() > 0.0);

    let two = eval("gpt-4-1106-preview,mixtral-8x7b-instruct");
    assert_eq!(two["rows"], 4);
    assert!(two["apgr"].is_f64() && two["apgr_by_cost"].is_f64());
    // RouterBench divides the hull's area by the largest cost, which is at least the range.
    let (aiq, range) = (
        two["aiq"].as_f64().unwrap(),
        two["aiq_range"].as_f64().unwrap(),
    );
    assert!(aiq <= range + 1e-12, "aiq {aiq} > aiq_range {range}");
}

#[test]
fn eval_bootstrap_bounds_every_figure_reproducibly() {
    let run = |seed: &str| {
        let (ok, stdout, stderr) = routoo(&[
            "eval",
            "--data",
            "tests/fixtures/table.csv",
            "--models",
            "gpt-4-1106-preview,mixtral-8x7b-instruct",
            "--bootstrap",
            "40",
            "--seed",
            seed,
            "--json",
        ]);
        assert!(ok, "routoo eval --bootstrap failed: {stderr}");
        serde_json::from_str::<serde_json::Value>(&stdout).unwrap()
    };
    let report = run("7");
    let b = &report["intervals"];
    assert_eq!(b["draws"], 40);
    let ordered = |i: &serde_json::Value| match (i["low"].as_f64(), i["high"].as_f64()) {
        (Some(lo), Some(hi)) => lo <= hi,
        _ => true,
    };
    assert!(ordered(&b["aiq"]) && b["aiq"]["low"].is_f64(), "{b}");
    for figure in ["accuracy", "cost_to_match", "gain_at_cost"] {
        let per = b[figure].as_object().unwrap();
        assert_eq!(per.len(), 2, "{figure}: {b}");
        assert!(per.values().all(ordered), "{figure}: {b}");
    }
    // Every model's accuracy on the four rows lies within its bounds' reach: 0 to 1.
    for i in b["accuracy"].as_object().unwrap().values() {
        let (lo, hi) = (i["low"].as_f64().unwrap(), i["high"].as_f64().unwrap());
        assert!(
            (0.0..=1.0).contains(&lo) && (0.0..=1.0).contains(&hi),
            "{i}"
        );
    }
    assert!(
        b["apgr"].is_object() && b["apgr_by_cost"].is_object(),
        "{b}"
    );
    // The same seed draws the same rows.
    assert_eq!(run("7"), report);
}

#[test]
fn eval_names_what_is_missing() {
    let (ok, _, stderr) = routoo(&[
        "eval",
        "--data",
        "tests/fixtures/table.csv",
        "--models",
        "gpt-5",
    ]);
    assert!(!ok);
    assert!(stderr.contains("gpt-5"), "{stderr}");
    let (ok, _, stderr) = routoo(&["eval", "--data", "tests/fixtures/missing.csv"]);
    assert!(!ok);
    assert!(stderr.contains("missing.csv"), "{stderr}");
}

/// The default pool's historical models (no longer served) are routed to only on request.
#[test]
fn route_leaves_historical_models_out_unless_asked() {
    let pool: serde_json::Value = serde_json::from_slice(&common::read("www/pool.json")).unwrap();
    let historical: Vec<&str> = pool["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["historical"] == true)
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(!historical.is_empty());
    let ranked = |extra: &[&str]| {
        let mut args = vec!["route", "--json", "--budget", "1000"];
        args.extend_from_slice(extra);
        args.push("Prove that the square root of 2 is irrational.");
        let (ok, stdout, stderr) = routoo(&args);
        assert!(ok, "routoo route failed: {stderr}");
        let d: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        d["ranked"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["model"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let today = ranked(&[]);
    assert!(!today.is_empty());
    assert!(
        today.iter().all(|m| !historical.contains(&m.as_str())),
        "{today:?}"
    );
    let all = ranked(&["--historical"]);
    assert!(
        all.iter().any(|m| historical.contains(&m.as_str())),
        "{all:?}"
    );
}

/// `--min-quality` takes the cheapest model that reaches it and, above every model, stops
/// with the closest named; `ask` then sends nothing.
#[test]
fn the_policy_flags_allow_models_and_prefer_local_ones() {
    let prompt = "Prove that the square root of 2 is irrational.";
    let json = |args: &[&str]| -> serde_json::Value {
        let (ok, stdout, stderr) = routoo(args);
        assert!(ok, "{stderr}");
        serde_json::from_str(&stdout).unwrap()
    };
    let models = |d: &serde_json::Value| -> Vec<String> {
        (d["ranked"].as_array().unwrap().iter())
            .map(|c| c["model"].as_str().unwrap().to_string())
            .collect()
    };
    // A strong API model and a small local one: the API model wins on quality alone.
    let pair = "claude-fable-5-1,ollama/llama3.2:3b";
    let only = json(&["route", "--json", "--models", pair, prompt]);
    assert_eq!(
        models(&only),
        ["claude-fable-5-1", "ollama/llama3.2:3b"],
        "{only}"
    );
    assert!(
        (only["excluded"].as_array().unwrap().iter()).all(|e| e["reason"]["kind"] == "notAllowed")
    );
    let local = json(&[
        "route",
        "--json",
        "--models",
        pair,
        "--prefer-local",
        prompt,
    ]);
    assert_eq!(
        models(&local),
        ["ollama/llama3.2:3b", "claude-fable-5-1"],
        "{local}"
    );
    assert_eq!(local["rule"]["kind"], "local");
    assert!(local["why"]
        .as_str()
        .unwrap()
        .contains("local models are preferred"));
    let (ok, _, stderr) = routoo(&["route", "--models", "gpt-99", prompt]);
    assert!(!ok && stderr.contains("gpt-99"), "{stderr}");
}

#[test]
fn a_minimum_quality_is_a_flag_and_above_every_model_nothing_goes_out() {
    let prompt = "Prove that the square root of 2 is irrational.";
    let (ok, stdout, stderr) = routoo(&["route", "--json", "--min-quality", "0.5", prompt]);
    assert!(ok, "{stderr}");
    let d: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let value =
        |c: &serde_json::Value| c["quality"].as_f64().unwrap() - c["margin"].as_f64().unwrap();
    let usd = |c: &serde_json::Value| c["cost"]["usd"].as_f64().unwrap();
    assert!(value(&d["choice"]) >= 0.5, "{stdout}");
    assert!((d["ranked"].as_array().unwrap().iter()).all(|c| usd(c) >= usd(&d["choice"])));
    let (ok, stdout, stderr) = routoo(&["route", "--min-quality", "0.5", prompt]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("why: ") && stdout.contains("predicted to reach the minimum of 0.5"),
        "{stdout}"
    );
    let (ok, _, stderr) = routoo(&["route", "--min-quality", "0.9999", prompt]);
    assert!(!ok && stderr.contains("no model reaches the minimum predicted quality 0.9999"));
    assert!(stderr.contains("the closest is"), "{stderr}");
    // A pool the emulator serves as a local server: no key needed, so only the bar stops it.
    let emulator = common::Emulator::listing(&["qwen3:8b"]);
    let pool = serde_json::json!({"models": [{"id": "qwen3-8b-local", "like": "qwen3-8b",
        "provider": "ollama", "apiModel": "qwen3:8b", "baseUrl": format!("{}/v1", emulator.url),
        "priceIn": 0.1, "priceOut": 0.1, "contextWindow": 32000, "latencyMs": 1000}]});
    let dir = std::env::temp_dir().join(format!("routoo-min-quality-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pool_file = dir.join("pool.json");
    std::fs::write(&pool_file, pool.to_string()).unwrap();
    let pool_arg = pool_file.to_str().unwrap();
    let (ok, _, stderr) = routoo(&["ask", "--pool", pool_arg, "--min-quality", "0.9999", prompt]);
    assert!(
        !ok && stderr.contains("the closest is qwen3-8b-local"),
        "{stderr}"
    );
    let posts = (emulator.calls().iter())
        .filter(|c| c["method"] == "POST")
        .count();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(posts, 0);
}

#[test]
fn a_refusal_in_any_format_falls_back_to_the_next_model() {
    let emulator = common::Emulator::start();
    let dir = std::env::temp_dir().join(format!("routoo-refusal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (provider, api, base) in [
        ("openai", "refuse-oa", "/v1"),
        ("anthropic", "refuse-an", "/v1"),
        ("google", "refuse-ge", "/v1beta"),
    ] {
        {
            emulator.script(api, &["refuse"]);
            // The refusing model is by far the cheaper, so a huge λ ranks it first.
            let pool = serde_json::json!({"models": [
                {"id": "gpt-4-1106-preview", "provider": provider, "apiModel": api,
                 "baseUrl": format!("{}{base}", emulator.url), "priceIn": 0.01, "priceOut": 0.01,
                 "contextWindow": 100000, "latencyMs": 1000},
                {"id": "claude-v2", "provider": "openai", "apiModel": "good",
                 "baseUrl": format!("{}/v1", emulator.url), "priceIn": 5, "priceOut": 5,
                 "contextWindow": 100000, "latencyMs": 1000}]});
            let pool_file = dir.join("pool.json");
            std::fs::write(&pool_file, pool.to_string()).unwrap();
            let bind = format!("{}=EMU_KEY", emulator.url);
            let args = [
                "ask",
                "--pool",
                pool_file.to_str().unwrap(),
                "--lambda",
                "1e9",
                "--key",
                &bind,
                "Name three routers.",
            ];
            let out = Command::new(env!("CARGO_BIN_EXE_routoo"))
                .args(args)
                .env("EMU_KEY", "k-emu")
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .output()
                .unwrap();
            let (stdout, stderr) = (
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
            );
            assert!(out.status.success(), "{provider}: {stderr}");
            assert!(
                stdout.starts_with("Emulated answer"),
                "{provider}: {stdout}"
            );
            assert!(
                stderr.contains("answered by claude-v2"),
                "{provider}: {stderr}"
            );
            let said = if provider == "google" {
                "content filter"
            } else {
                "refused to answer"
            };
            assert!(stderr.contains(said), "{provider}: {stderr}");
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn ask_streams_an_answer_from_the_emulator_in_each_format() {
    let emulator = common::Emulator::start();
    let model = |id: &str, provider: &str, api: &str, base: String| {
        // The failing model is by far the cheapest, so a zero budget ranks it first.
        let price = if api == "always-500" { 0.01 } else { 1.0 };
        serde_json::json!({"id": id, "provider": provider, "apiModel": api, "baseUrl": base,
            "priceIn": price, "priceOut": price, "contextWindow": 100000, "latencyMs": 1000})
    };
    let v1 = format!("{}/v1", emulator.url);
    let pool = serde_json::json!({"models": [
        model("gpt-4-1106-preview", "openai", "gpt-emu", v1.clone()),
        model("claude-v2", "anthropic", "claude-emu", v1.clone()),
        model("mixtral-8x7b-instruct", "google", "gemini-emu", format!("{}/v1beta", emulator.url)),
        model("llama-3-8b", "together", "always-500", v1),
    ]});
    let dir = std::env::temp_dir().join(format!("routoo-ask-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pool_file = dir.join("pool.json");
    std::fs::write(&pool_file, pool.to_string()).unwrap();
    let bind = format!("{}=OPENAI_API_KEY", emulator.url);
    let ask_with = |exclude: &str, bind: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_routoo"))
            .args([
                "ask",
                "--pool",
                pool_file.to_str().unwrap(),
                "--exclude",
                exclude,
            ])
            .args(bind)
            .arg("Name three routers.")
            .env("OPENAI_API_KEY", "k-openai")
            .env("ANTHROPIC_API_KEY", "k-anthropic")
            .env("GEMINI_API_KEY", "k-gemini")
            .env("TOGETHER_API_KEY", "k-together")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let ask = |exclude: &str| ask_with(exclude, &["--key", &bind]);
    let ids = [
        "gpt-4-1106-preview",
        "claude-v2",
        "mixtral-8x7b-instruct",
        "llama-3-8b",
    ];
    for (i, id) in ids[..3].iter().enumerate() {
        let others: Vec<&str> = ids
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, m)| *m)
            .collect();
        let (ok, stdout, stderr) = ask(&others.join(","));
        assert!(ok, "{id}: {stderr}");
        assert!(stdout.starts_with("Emulated answer"), "{id}: {stdout}");
        assert!(
            stderr.contains(&format!("answered by {id}")),
            "{id}: {stderr}"
        );
        assert!(stderr.contains("tokens in"), "{stderr}");
        assert!(!stderr.contains("k-openai") && !stdout.contains("k-anthropic"));
    }
    // Only the failing model and one good one: the 500 is retried, then routoo falls back.
    let (ok, stdout, stderr) = ask("gpt-4-1106-preview,claude-v2");
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("Emulated answer"), "{stdout}");
    if stderr.contains("answered by mixtral-8x7b-instruct") && stderr.contains("tried first") {
        assert!(
            stderr.contains("llama-3-8b (the provider failed (HTTP 500)"),
            "{stderr}"
        );
    } else {
        // The router ranked the good model first: no fallback was needed.
        assert!(stderr.contains("answered by"), "{stderr}");
    }
    // The pool says "openai" but points at the emulator: OPENAI_API_KEY stays home unless bound
    // to the emulator's origin, and a port on this machine that did not answer a probe as a
    // model server (GET /v1/models) gets nothing at all.
    let before = emulator.calls().len();
    let (ok, _, stderr) = ask_with("claude-v2,mixtral-8x7b-instruct,llama-3-8b", &[]);
    assert!(!ok);
    assert!(stderr.contains("no model can take this prompt"), "{stderr}");
    let calls = serde_json::Value::from(emulator.calls().split_off(before)).to_string();
    assert!(
        calls.contains("\"GET\"") && calls.contains("/v1/models"),
        "probed: {calls}"
    );
    assert!(
        !calls.contains("\"POST\""),
        "a prompt went to an unvouched port: {calls}"
    );
    assert!(
        !calls.contains("k-openai"),
        "the key reached the emulator: {calls}"
    );
    let (ok, _, stderr) = ask_with(
        "claude-v2",
        &["--key", "http://evil.example=OPENAI_API_KEY"],
    );
    assert!(!ok);
    assert!(stderr.contains("plain http"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A server on this machine serves what it lists, under its own names: a pool entry for
/// `qwen3:8b` is sent as the listed `qwen3:8b-q4_K_M`, and an entry it does not list is never
/// sent a prompt, though it is cheaper.
#[test]
fn ask_sends_a_local_model_under_the_name_its_server_lists_and_nothing_it_does_not() {
    let emulator = common::Emulator::listing(&["qwen3:8b-q4_K_M", "llama3.2:3b"]);
    let v1 = format!("{}/v1", emulator.url);
    let entry = |id: &str, like: &str, api: &str, price: f64| {
        serde_json::json!({"id": id, "like": like, "provider": "ollama", "apiModel": api,
            "baseUrl": v1, "priceIn": price, "priceOut": price, "contextWindow": 32000,
            "latencyMs": 1000})
    };
    let pool = serde_json::json!({"models": [
        entry("qwen3-8b-ollama", "qwen3-8b", "qwen3:8b", 0.1),
        entry("gemma-3-12b-ollama", "gemma-3-12b-it", "gemma3:12b", 0.0),
    ]});
    let dir = std::env::temp_dir().join(format!("routoo-local-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pool_file = dir.join("pool.json");
    std::fs::write(&pool_file, pool.to_string()).unwrap();
    let (ok, stdout, stderr) = routoo(&[
        "ask",
        "--pool",
        pool_file.to_str().unwrap(),
        "What is 17 times 23?",
    ]);
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("Emulated answer"), "{stdout}");
    assert!(stderr.contains("answered by qwen3-8b-ollama"), "{stderr}");
    let posts: Vec<String> = (emulator.calls().iter())
        .filter(|c| c["method"] == "POST")
        .map(|c| c["body"]["model"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(posts, ["qwen3:8b-q4_K_M"]);
    std::fs::remove_dir_all(&dir).ok();
}

/// What the scripted scientist answers right: maths wherever it is asked (GSM8K, MATH), and
/// MMLU-Pro's maths, physics, chemistry and engineering; every other question wrong.
const SCIENCES: [&str; 6] = [
    "gsm8k",
    "math-l5",
    "mmlu-pro/math",
    "mmlu-pro/physics",
    "mmlu-pro/chemistry",
    "mmlu-pro/engineering",
];

/// Calibration end to end: scripted students of the emulator, one right on MMLU-Pro and wrong
/// on maths, one the reverse, and one right on maths and the sciences only ([`SCIENCES`]),
/// are placed by their probe answers; their heads then rank each above the other on the
/// probes neither was asked, and tell the third's subjects apart on questions it was not
/// asked.
#[test]
fn calibrate_places_scripted_models_where_their_answers_put_them() {
    let emulator = common::Emulator::start();
    let v1 = format!("{}/v1", emulator.url);
    let student = |id: &str, api: &str| {
        serde_json::json!({"id": id, "provider": "openai", "apiModel": api, "baseUrl": v1,
            "priceIn": 1.0, "priceOut": 2.0, "contextWindow": 100000, "latencyMs": 1000})
    };
    let pool = serde_json::json!({"models": [
        student("reader", "knows:mmlu-pro"),
        student("counter", "knows:gsm8k+math-l5"),
        student("scientist", &format!("knows:{}", SCIENCES.join("+"))),
    ]});
    let dir = std::env::temp_dir().join(format!("routoo-calibrate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pool_file = dir.join("pool.json");
    std::fs::write(&pool_file, pool.to_string()).unwrap();
    let pool_arg = pool_file.to_str().unwrap();
    let bind = format!("{}=EMULATOR_KEY", emulator.url);
    const SENT: usize = 100;
    let calibrate = |model: &str, extra: &[&str]| {
        let out_file = dir.join(format!("{model}.json"));
        let out = Command::new(env!("CARGO_BIN_EXE_routoo"))
            .args(["calibrate", "--pool", pool_arg, "--model", model])
            .args(["--probes", &SENT.to_string(), "--key", &bind])
            .args(["--out", out_file.to_str().unwrap()])
            .args(extra)
            .env("EMULATOR_KEY", "k-emulator")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.success(), out_file, stderr)
    };
    // The outlook alone costs nothing and sends nothing.
    let (ok, _, stderr) = calibrate("reader", &["--dry-run"]);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains(&format!("{SENT} probes to reader")) && stderr.contains("at most US$"),
        "{stderr}"
    );
    let sent = serde_json::Value::from(emulator.calls()).to_string();
    assert!(!sent.contains("\"POST\""), "a dry run sent {sent}");
    let set: serde_json::Value =
        serde_json::from_slice(&common::read("www/models/probes.json")).unwrap();
    let mut files = Vec::new();
    for (model, knows) in [
        ("reader", &["mmlu-pro"][..]),
        ("counter", &["gsm8k", "math-l5"]),
        ("scientist", &SCIENCES),
    ] {
        let (ok, file, stderr) = calibrate(model, &[]);
        assert!(ok, "{model}: {stderr}");
        let heads: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(heads["format"], "routoo-heads");
        assert_eq!(heads["heads"][0]["id"], model);
        let calibration = &heads["calibrations"][0];
        assert_eq!(calibration["graded"], SENT, "{stderr}");
        // Every answer graded as the student meant it: right exactly on what it knows.
        let known = (set["probes"].as_array().unwrap()[..SENT].iter())
            .filter(|p| {
                let benchmark = p["benchmark"].as_str().unwrap();
                let subject = format!("{benchmark}/{}", p["subject"].as_str().unwrap());
                knows.contains(&benchmark) || knows.contains(&subject.as_str())
            })
            .count();
        assert_eq!(calibration["correct"], known, "{model}: {stderr}");
        files.push(file);
    }
    // The probes past those sent, by benchmark.
    let unseen: Vec<&serde_json::Value> =
        set["probes"].as_array().unwrap()[SENT..].iter().collect();
    let prompts = |benchmarks: &[&str]| -> Vec<String> {
        (unseen.iter())
            .filter(|p| benchmarks.contains(&p["benchmark"].as_str().unwrap()))
            .map(|p| p["prompt"].as_str().unwrap().to_string())
            .take(30)
            .collect()
    };
    let mean_quality = |prompts: Vec<String>, model: &str| -> f64 {
        let file = dir.join("prompts.json");
        std::fs::write(&file, serde_json::json!({ "prompts": prompts }).to_string()).unwrap();
        let (ok, stdout, stderr) = routoo(&[
            "predict",
            "--pool",
            pool_arg,
            "--heads",
            files[0].to_str().unwrap(),
            "--heads",
            files[1].to_str().unwrap(),
            "--heads",
            files[2].to_str().unwrap(),
            "--prompts",
            file.to_str().unwrap(),
        ]);
        assert!(ok, "{stderr}");
        let out: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let qs: Vec<f64> = (out.as_array().unwrap().iter())
            .map(|p| {
                let q = p["quality"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|q| q["model"] == model);
                q.unwrap()["quality"].as_f64().unwrap()
            })
            .collect();
        qs.iter().sum::<f64>() / qs.len() as f64
    };
    let (choice, maths) = (prompts(&["mmlu-pro"]), prompts(&["gsm8k", "math-l5"]));
    let reader = (
        mean_quality(choice.clone(), "reader"),
        mean_quality(maths.clone(), "reader"),
    );
    let counter = (
        mean_quality(choice, "counter"),
        mean_quality(maths, "counter"),
    );
    eprintln!(
        "reader: MMLU-Pro {:.3}, maths {:.3}; counter: {:.3}, {:.3}",
        reader.0, reader.1, counter.0, counter.1
    );
    // Each leads where it answered right, and the reader's lead on MMLU-Pro is far larger
    // than on maths (the prior keeps both short of the 100 % and 0 % they scored, and the
    // reader, right on two thirds of the probes, sits higher overall).
    assert!(
        reader.0 > counter.0 + 0.1,
        "on MMLU-Pro the reader leads: {reader:?} {counter:?}"
    );
    assert!(
        counter.1 > reader.1,
        "on maths the counter leads: {reader:?} {counter:?}"
    );
    assert!(
        (reader.0 - counter.0) - (reader.1 - counter.1) > 0.2,
        "the answers set the shape, not only the level: {reader:?} {counter:?}"
    );
    assert!(
        reader.0 > reader.1 && counter.1 > counter.0,
        "{reader:?} {counter:?}"
    );
    // The scientist, on MMLU-Pro questions no probe asked: the domain coordinates let 100
    // probes say "good at maths, weak at history" (issue 23: at least 0.2 apart).
    let asked: std::collections::HashSet<String> = (set["probes"].as_array().unwrap().iter())
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    let unseen = |subject: &str| {
        let q = common::questions_of("mmlu-pro", subject, 40, &asked);
        assert_eq!(
            q.len(),
            40,
            "the tables hold 40 unasked {subject} questions"
        );
        mean_quality(q, "scientist")
    };
    let (maths, history) = (unseen("math"), unseen("history"));
    eprintln!("scientist: MMLU-Pro maths {maths:.3}, history {history:.3}");
    assert!(
        maths - history >= 0.2,
        "maths {maths:.3} is not 0.2 above history {history:.3}"
    );
    // A heads file from another space is refused, naming the problem.
    let mut foreign: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
    foreign["encoder"] = serde_json::json!("0".repeat(64));
    let foreign_file = dir.join("foreign.json");
    std::fs::write(&foreign_file, foreign.to_string()).unwrap();
    let (ok, _, stderr) = routoo(&[
        "predict",
        "--heads",
        foreign_file.to_str().unwrap(),
        "Hello",
    ]);
    assert!(!ok);
    assert!(
        stderr.contains("calibrate again with this bundle"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn suggest_pool_names_what_each_model_adds_and_checks_itself_against_every_subset() {
    let (ok, stdout, stderr) = routoo(&[
        "suggest-pool",
        "--data",
        "tests/fixtures/table.csv",
        "--budget",
        "5",
        "--max-models",
        "2",
        "--check",
        "--json",
    ]);
    assert!(ok, "{stderr}");
    let out: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let models = out["suggestion"]["models"].as_array().unwrap();
    assert!(!models.is_empty() && models.len() <= 2, "{out}");
    let mut last = 0.0;
    for m in models {
        let acc = m["expectedAccuracy"].as_f64().unwrap();
        assert!(m["adds"].as_f64().unwrap() > 0.0 && acc > last, "{out}");
        assert!(m["expectedSpendPer1k"].as_f64().unwrap() <= 5.0, "{out}");
        last = acc;
    }
    // Three models: three pools of one and three of two.
    assert_eq!(out["check"]["subsetsTried"], 6);
    let (suggested, best) = (
        out["check"]["suggestedAccuracy"].as_f64().unwrap(),
        out["check"]["bestAccuracy"].as_f64().unwrap(),
    );
    assert!(suggested <= best, "{out}");
    let (ok, _, stderr) = routoo(&[
        "suggest-pool",
        "--data",
        "tests/fixtures/table.csv",
        "--budget",
        "0",
    ]);
    assert!(!ok);
    assert!(
        stderr.contains("no model's cheapest routing fits it"),
        "{stderr}"
    );
}

/// `calibrate --out` is checked before anything is paid for: a missing folder and a symbolic
/// link are refused with no probe sent, and the link's target is left as it was.
#[test]
fn calibrate_checks_its_out_file_before_a_probe_is_sent() {
    let emulator = common::Emulator::start();
    let pool = serde_json::json!({"models": [{"id": "reader", "provider": "openai",
        "apiModel": "knows:mmlu-pro", "baseUrl": format!("{}/v1", emulator.url),
        "priceIn": 1.0, "priceOut": 2.0, "contextWindow": 100000, "latencyMs": 1000}]});
    let dir = std::env::temp_dir().join(format!("routoo-out-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pool_file = dir.join("pool.json");
    std::fs::write(&pool_file, pool.to_string()).unwrap();
    let precious = dir.join("precious.txt");
    std::fs::write(&precious, "keep me").unwrap();
    let link = dir.join("link.json");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&precious, &link).unwrap();
    let missing = dir.join("no-such-folder/heads.json");
    let bind = format!("{}=EMULATOR_KEY", emulator.url);
    let calibrate = |out: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_routoo"))
            .args(["calibrate", "--pool", pool_file.to_str().unwrap()])
            .args(["--model", "reader", "--probes", "5", "--key", &bind])
            .args(["--out", out.to_str().unwrap()])
            .env("EMULATOR_KEY", "k-emulator")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap()
    };
    for (out, says) in [
        (&missing, "does not exist"),
        (&link, "is a symbolic link"),
        (&dir, "is a folder"),
    ] {
        let run = calibrate(out);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success(), "{}: {stderr}", out.display());
        assert!(stderr.contains(says), "{}: {stderr}", out.display());
    }
    let sent = serde_json::Value::from(emulator.calls()).to_string();
    assert!(!sent.contains("\"POST\""), "probes were sent: {sent}");
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me");
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // A good path is written whole.
    let good = dir.join("heads.json");
    let run = calibrate(&good);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let heads: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&good).unwrap()).unwrap();
    assert_eq!(heads["heads"][0]["id"], "reader");
}

/// A scheduled price change takes effect on its day (UTC): the same prompt routed the day
/// before and the day of Gemini 4 Argon's change is priced at each day's price.
#[test]
fn route_prices_the_pool_as_it_bills_on_the_day() {
    let pool: serde_json::Value = serde_json::from_slice(&common::read("www/pool.json")).unwrap();
    let models = pool["models"].as_array().unwrap();
    let scheduled = models
        .iter()
        .find(|m| m["prices"].as_array().is_some_and(|p| !p.is_empty()))
        .expect("the default pool schedules a price change");
    let id = scheduled["id"].as_str().unwrap();
    let change = &scheduled["prices"][0];
    let day = change["from"].as_str().unwrap();
    let before_day = {
        // The day before, for a change on the first of a month or any other day.
        let (y, m, d): (i32, u32, u32) = (
            day[..4].parse().unwrap(),
            day[5..7].parse().unwrap(),
            day[8..].parse().unwrap(),
        );
        match (m, d) {
            (1, 1) => format!("{}-12-31", y - 1),
            (_, 1) => format!("{y}-{:02}-28", m - 1),
            _ => format!("{y}-{m:02}-{:02}", d - 1),
        }
    };
    let others: Vec<&str> = (models.iter())
        .filter_map(|m| m["id"].as_str())
        .filter(|m| *m != id)
        .collect();
    let cost = |date: &str| {
        let (ok, stdout, stderr) = routoo(&[
            "route",
            "--json",
            "--historical",
            "--date",
            date,
            "--exclude",
            &others.join(","),
            "Prove that the square root of 2 is irrational.",
        ]);
        assert!(ok, "{stderr}");
        let decision: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(decision["choice"]["model"], id);
        decision["choice"]["cost"]["usd"].as_f64().unwrap()
    };
    let (before, after) = (cost(&before_day), cost(day));
    let ratio =
        |a: &serde_json::Value, b: &serde_json::Value| a.as_f64().unwrap() / b.as_f64().unwrap();
    // Input and output prices move by the same factor in this change; the estimate follows.
    let factor = ratio(&change["in"], &scheduled["priceIn"]);
    assert!((ratio(&change["out"], &scheduled["priceOut"]) - factor).abs() < 1e-9);
    assert!(
        (after / before - factor).abs() < 1e-6,
        "{before} on {before_day}, {after} on {day}"
    );
    let (ok, _, stderr) = routoo(&["route", "--date", "2026-13-01", "hello"]);
    assert!(!ok && stderr.contains("write it as YYYY-MM-DD"), "{stderr}");
}

/// `calibrate --scores` places a model from its published scores with no call and no key: the
/// higher its score on a benchmark, the higher its estimates on that benchmark's prompts; the
/// card is kept beside the head; bad cards are refused, naming what is wrong.
#[test]
fn calibrate_from_published_scores_places_a_model_without_a_call() {
    let dir = std::env::temp_dir().join(format!("routoo-card-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let reference: serde_json::Value =
        serde_json::from_slice(&common::read("www/models/predictor.json")).unwrap();
    let set: serde_json::Value =
        serde_json::from_slice(&common::read("www/models/probes.json")).unwrap();
    let mmlu_pro: Vec<String> = (set["probes"].as_array().unwrap().iter())
        .filter(|p| p["benchmark"] == "mmlu-pro")
        .map(|p| p["prompt"].as_str().unwrap().to_string())
        .take(20)
        .collect();
    assert!(reference["benchmarks"]
        .as_array()
        .is_some_and(|b| !b.is_empty()));
    let prompts = dir.join("prompts.json");
    std::fs::write(
        &prompts,
        serde_json::json!({ "prompts": mmlu_pro }).to_string(),
    )
    .unwrap();
    // `calibrate --scores` of gpt-6.1-terra from a card file: (success, stderr).
    let calibrate_card = |card: &std::path::Path, heads: &std::path::Path| -> (bool, String) {
        let (ok, _, stderr) = routoo(&[
            "calibrate",
            "--model",
            "gpt-6.1-terra",
            "--scores",
            card.to_str().unwrap(),
            "--out",
            heads.to_str().unwrap(),
        ]);
        (ok, stderr)
    };
    // The placed model's mean estimate over a file of prompts.
    let mean_quality = |heads: &std::path::Path, prompts: &std::path::Path| -> f64 {
        let (ok, stdout, stderr) = routoo(&[
            "predict",
            "--heads",
            heads.to_str().unwrap(),
            "--prompts",
            prompts.to_str().unwrap(),
        ]);
        assert!(ok, "{stderr}");
        let out: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let qs: Vec<f64> = (out.as_array().unwrap().iter())
            .map(|p| {
                let q = p["quality"].as_array().unwrap().iter();
                let mut q = q.filter(|q| q["model"] == "gpt-6.1-terra");
                q.next().unwrap()["quality"].as_f64().unwrap()
            })
            .collect();
        assert!(!qs.is_empty());
        qs.iter().sum::<f64>() / qs.len() as f64
    };
    let place = |benchmark: &str, accuracy: f64| -> f64 {
        let card = dir.join(format!("card-{benchmark}-{accuracy}.json"));
        let text = serde_json::json!({"model": "gpt-6.1-terra", "scores": [
            {"benchmark": benchmark, "accuracy": accuracy, "source": "https://x.test/card",
             "date": "2026-10-26"},
            {"benchmark": "gsm8k", "accuracy": 0.9, "n": 50, "source": "https://x.test/card",
             "date": "2026-10-26"}]});
        std::fs::write(&card, text.to_string()).unwrap();
        let heads = dir.join(format!("heads-{benchmark}-{accuracy}.json"));
        let out = Command::new(env!("CARGO_BIN_EXE_routoo"))
            .args(["calibrate", "--model", "gpt-6.1-terra", "--scores"])
            .args([card.to_str().unwrap(), "--out", heads.to_str().unwrap()])
            .env_remove("OPENAI_API_KEY")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.contains("US$0.0000 spent"), "{stderr}");
        let file: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&heads).unwrap()).unwrap();
        let kept = &file["calibrations"][0];
        assert_eq!(kept["card"]["scores"][0]["accuracy"], accuracy);
        assert_eq!(kept["graded"], 0);
        mean_quality(&heads, &prompts)
    };
    // A routing table's benchmark scored by a harness whose gap no model measured moves the
    // level part of the way (its shift is shared, N(0, sd²)); GPQA Diamond, whose gap to its
    // family was measured, moves it all the way to its score on the family's scale.
    let (low, high) = (place("MMLU-Pro", 0.3), place("MMLU-Pro", 0.9));
    let (gpqa_low, gpqa_high) = (place("GPQA Diamond", 0.3), place("GPQA Diamond", 0.9));
    eprintln!(
        "mean estimate on MMLU-Pro probes: MMLU-Pro card 0.3 -> {low:.3}, 0.9 -> {high:.3}; \
         GPQA Diamond card 0.3 -> {gpqa_low:.3}, 0.9 -> {gpqa_high:.3}"
    );
    assert!(high > low + 0.12, "{low} {high}");
    assert!(low < 0.55 && high > 0.6, "{low} {high}");
    assert!(
        gpqa_high - gpqa_low > high - low + 0.1,
        "{gpqa_low} {gpqa_high} against {low} {high}"
    );

    // Scores by subject set a shape, not only a level: a card right on MMLU-Pro's maths and
    // sciences and weak on the humanities puts the model at least 0.2 higher on maths than
    // on history questions (issue 23), as 100 probes do.
    let subjects = [
        ("math", 0.9),
        ("physics", 0.9),
        ("chemistry", 0.9),
        ("engineering", 0.9),
        ("history", 0.3),
        ("law", 0.3),
        ("philosophy", 0.3),
        ("psychology", 0.3),
    ];
    let scores: Vec<serde_json::Value> = (subjects.iter())
        .map(|(subject, accuracy)| {
            serde_json::json!({"benchmark": "mmlu-pro", "subject": subject,
                               "accuracy": accuracy, "source": "https://x.test/card",
                               "date": "2026-10-26"})
        })
        .collect();
    let card = dir.join("card-subjects.json");
    let text = serde_json::json!({"model": "gpt-6.1-terra", "scores": scores});
    std::fs::write(&card, text.to_string()).unwrap();
    let heads = dir.join("heads-subjects.json");
    let (ok, stderr) = calibrate_card(&card, &heads);
    assert!(ok, "{stderr}");
    let mean_on = |subject: &str| -> f64 {
        let questions = common::questions_of("mmlu-pro", subject, 40, &Default::default());
        assert_eq!(
            questions.len(),
            40,
            "the tables hold 40 {subject} questions"
        );
        let file = dir.join(format!("{subject}.json"));
        std::fs::write(
            &file,
            serde_json::json!({ "prompts": questions }).to_string(),
        )
        .unwrap();
        mean_quality(&heads, &file)
    };
    let (maths, history) = (mean_on("math"), mean_on("history"));
    eprintln!("card by subject: MMLU-Pro maths {maths:.3}, history {history:.3}");
    assert!(
        maths - history >= 0.2,
        "maths {maths:.3} is not 0.2 above history {history:.3}"
    );

    // Bad cards: each refused before anything is written, naming the problem.
    let refuse = |card: serde_json::Value, says: &str| {
        let path = dir.join("bad.json");
        std::fs::write(&path, card.to_string()).unwrap();
        let heads = dir.join("bad-heads.json");
        let (ok, stderr) = calibrate_card(&path, &heads);
        assert!(!ok && stderr.contains(says), "{says}: {stderr}");
        assert!(!heads.exists());
    };
    let score = |benchmark: &str, accuracy: f64| {
        serde_json::json!({"benchmark": benchmark, "accuracy": accuracy,
                           "source": "https://x.test/", "date": "2026-10-26"})
    };
    let card = |model: &str, s| serde_json::json!({"model": model, "scores": [s]});
    refuse(
        card("gpt-6.1-terra", score("gpqa-triamond", 0.5)),
        "gpqa-diamond",
    );
    refuse(
        card("gpt-6.1-terra", score("gpqa", 86.0)),
        "not a percentage",
    );
    refuse(
        card("gpt-6-luna", score("gpqa", 0.5)),
        "the card is of \"gpt-6-luna\"",
    );
    let mut with_subject = score("mmlu-pro", 0.5);
    with_subject["subject"] = "astrology".into();
    refuse(
        card("gpt-6.1-terra", with_subject),
        "has no subject \"astrology\"; it has",
    );
    std::fs::remove_dir_all(&dir).ok();
}
