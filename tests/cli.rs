//! The `routoo` binary end to end: `eval --json` prints exactly the documented keys.

#![cfg(not(target_arch = "wasm32"))]

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
            "apgr",
            "cost_to_match",
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
    assert!(two["apgr"].is_f64());
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
