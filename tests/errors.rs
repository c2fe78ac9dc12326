//! Bad input never panics and says what is wrong.

use crate::common;
use routoo::bundle::sha256_hex;
use routoo::{Constraints, Error, Pool, Predictor, RouteOptions, Router};

fn parts() -> (serde_json::Value, Vec<u8>, Vec<u8>) {
    let manifest = serde_json::from_slice(&common::read("www/models/predictor.json")).unwrap();
    (
        manifest,
        common::read("www/models/encoder.onnx"),
        common::read("www/models/tokenizer.json"),
    )
}

fn neighbours() -> Vec<u8> {
    common::read("www/models/neighbours.bin")
}

fn load(
    manifest: &serde_json::Value,
    encoder: &[u8],
    tokenizer: &[u8],
) -> Result<Predictor, Error> {
    let manifest = serde_json::to_vec(manifest).unwrap();
    Predictor::from_bytes(&manifest, encoder, tokenizer, &neighbours())
}

#[test]
fn empty_and_whitespace_prompts_are_refused() {
    let router = common::router();
    for prompt in ["", "   ", "\n\t  \r\n"] {
        let err = router.route(prompt, &RouteOptions::default()).unwrap_err();
        assert!(matches!(err, Error::EmptyPrompt), "{prompt:?}: {err}");
        assert!(err.to_string().contains("empty"));
    }
}

#[test]
fn a_megabyte_prompt_is_truncated_and_says_so() {
    let router = common::router();
    let prompt = "Explain the following log line by line. ".repeat((1 << 20) / 40);
    assert!(prompt.len() >= 1_000_000);
    let prediction = router.predict(&prompt).unwrap();
    assert!(prediction.truncated);
    assert_eq!(
        prediction.tokens,
        router.predictor().manifest().encoder.max_tokens
    );
    assert_eq!(prediction.chars, prompt.chars().count());
    // Routing estimates cost on the whole prompt: ~262k tokens fit no window but the
    // million-token ones, which this request leaves out.
    let huge: Vec<String> = router
        .pool()
        .models
        .iter()
        .filter(|m| m.context_window > 300_000)
        .map(|m| m.id.clone())
        .collect();
    let without_huge = RouteOptions {
        constraints: Constraints {
            exclude: huge,
            ..Default::default()
        },
        ..Default::default()
    };
    match router.route(&prompt, &without_huge) {
        Err(Error::NoCandidate(ex)) => {
            assert_eq!(ex.0.len(), router.pool().models.len());
            let message = Error::NoCandidate(ex).to_string();
            assert!(message.contains("context window is 128000"), "{message}");
        }
        other => panic!("expected NoCandidate, got {other:?}"),
    }
    // A long prompt that fits some window routes, and says it was truncated.
    let long = "Summarise this report section. ".repeat(3000);
    let decision = router.route(&long, &RouteOptions::default()).unwrap();
    assert!(decision.truncated);
    assert!(decision
        .excluded
        .iter()
        .any(|e| e.model == "llama-2-70b-chat"));
}

#[test]
fn invalid_pool_json_is_refused_with_the_position() {
    let err = Pool::from_json("{\"models\": [").unwrap_err();
    assert!(matches!(err, Error::Pool(_)));
    assert!(err.to_string().contains("line 1"), "{err}");
    let err = Pool::from_json(r#"{"models": []}"#).unwrap_err();
    assert!(err.to_string().contains("no models"), "{err}");
    let err = Pool::from_json(r#"{"models": [{"id": "x"}]}"#).unwrap_err();
    assert!(err.to_string().contains("missing field"), "{err}");
}

#[test]
fn a_pool_model_without_a_head_is_named() {
    let mut pool = Pool::default_pool().unwrap();
    let labelled = pool
        .models
        .iter()
        .find(|m| !m.uncalibrated && m.like.is_none());
    let mut extra = labelled.unwrap().clone();
    extra.id = "no-such-model".into();
    pool.models.push(extra);
    let predictor = common::predictor();
    let err = Router::new(predictor, pool).unwrap_err();
    assert!(matches!(err, Error::MissingHead { ref model, .. } if model == "no-such-model"));
    assert!(err.to_string().contains("no-such-model"));
}

#[test]
fn truncated_or_altered_onnx_fails_the_checksum() {
    let (manifest, encoder, tokenizer) = parts();
    let truncated = &encoder[..encoder.len() / 2];
    let err = load(&manifest, truncated, &tokenizer).unwrap_err();
    assert!(
        matches!(err, Error::Checksum { ref file, .. } if file == "encoder.onnx"),
        "{err}"
    );
    let mut altered = encoder.clone();
    altered[encoder.len() / 3] ^= 0x5a;
    let err = load(&manifest, &altered, &tokenizer).unwrap_err();
    assert!(err.to_string().contains("encoder.onnx is corrupt"), "{err}");
}

/// A neighbour file of `rows` prompts, all at the first axis of the space, every label `label`.
fn neighbour_file(manifest: &mut serde_json::Value, rows: usize, label: u8) -> Vec<u8> {
    let dim = manifest["encoder"]["dim"].as_u64().unwrap() as usize;
    let heads = manifest["heads"].as_array().unwrap().len();
    let mut bytes = vec![0u8; rows * dim];
    for r in 0..rows {
        bytes[r * dim] = 127;
    }
    bytes.extend(std::iter::repeat_n(label, rows * heads));
    manifest["neighbours"]["rows"] = rows.into();
    manifest["neighbours"]["k"] = 2.into();
    manifest["neighbours"]["sha256"] = sha256_hex(&bytes).into();
    bytes
}

#[test]
fn neighbours_must_match_their_digest_and_size() {
    let (mut manifest, encoder, tokenizer) = parts();
    let good = neighbour_file(&mut manifest, 3, 1);
    let bytes = serde_json::to_vec(&manifest).unwrap();
    assert!(Predictor::from_bytes(&bytes, &encoder, &tokenizer, &good).is_ok());
    let mut altered = good.clone();
    altered[7] ^= 1;
    let err = Predictor::from_bytes(&bytes, &encoder, &tokenizer, &altered).unwrap_err();
    assert!(
        matches!(err, Error::Checksum { ref file, .. } if file == "neighbours.bin"),
        "{err}"
    );
    let short = &good[..good.len() - 1];
    manifest["neighbours"]["sha256"] = sha256_hex(short).into();
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let err = Predictor::from_bytes(&bytes, &encoder, &tokenizer, short).unwrap_err();
    assert!(matches!(err, Error::Manifest(_)), "{err}");
    assert!(err.to_string().contains("neighbours.bin has"), "{err}");
}

#[test]
fn neighbours_pull_the_heads_toward_their_labels() {
    let prompt = "Prove that the square root of 2 is irrational.";
    let (manifest, encoder, tokenizer) = parts();
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let heads = Predictor::from_bytes(&bytes, &encoder, &tokenizer, &neighbours())
        .unwrap()
        .predict(prompt)
        .unwrap();
    for (label, pulls_up) in [(1u8, true), (0u8, false)] {
        let mut manifest = manifest.clone();
        let file = neighbour_file(&mut manifest, 4, label);
        let bytes = serde_json::to_vec(&manifest).unwrap();
        let corrected = Predictor::from_bytes(&bytes, &encoder, &tokenizer, &file)
            .unwrap()
            .predict(prompt)
            .unwrap();
        for (h, c) in heads.quality.iter().zip(&corrected.quality) {
            assert_eq!(h.model, c.model);
            let moved = if pulls_up {
                c.quality > h.quality
            } else {
                c.quality < h.quality
            };
            assert!(moved, "{}: head {} → {}", h.model, h.quality, c.quality);
        }
    }
}

type Spoil = fn(&mut serde_json::Value);

/// Each spoiled copy of the shipped manifest is refused as a manifest error naming `message`.
fn refused(cases: &[(&str, Spoil)]) {
    for &(message, spoil) in cases {
        let (mut manifest, encoder, tokenizer) = parts();
        spoil(&mut manifest);
        let err = load(&manifest, &encoder, &tokenizer).unwrap_err();
        assert!(matches!(err, Error::Manifest(_)), "{err}");
        assert!(err.to_string().contains(message), "{message}: {err}");
    }
}

#[test]
fn bad_covariances_margins_floors_and_reference_positions_are_refused() {
    let cases: [(&str, Spoil); 6] = [
        ("selection floor 1.5", |m| {
            let id = m["heads"][0]["id"].clone();
            let other = m["heads"][1]["id"].as_str().unwrap().to_string();
            m["selection"]["floors"] = serde_json::json!({ id.as_str().unwrap(): { other: 1.5 } });
        }),
        ("selection floors name \"no-such-model\"", |m| {
            let id = m["heads"][0]["id"].as_str().unwrap().to_string();
            m["selection"]["floors"] = serde_json::json!({ id: { "no-such-model": 0.1 } });
        }),
        ("covariance of 3 values", |m| {
            m["heads"][0]["covariance"] = serde_json::json!([1.0, 0.0, 1.0]);
        }),
        ("selection margin -1", |m| {
            m["selection"]["margin"] = serde_json::json!(-1.0);
        }),
        ("reference prompt 0 has 2 values", |m| {
            m["reference"]["z"][0] = serde_json::json!([0.5, 0.5]);
        }),
        ("positions for", |m| {
            m["reference"]["z"].as_array_mut().unwrap().pop();
        }),
    ];
    refused(&cases);
}

/// `selection.lead` between the first two heads, `ab` one way and, if given, `ba` back.
fn lead(m: &mut serde_json::Value, ab: f64, ba: Option<f64>) {
    let a = m["heads"][0]["id"].as_str().unwrap().to_string();
    let b = m["heads"][1]["id"].as_str().unwrap().to_string();
    let mut table = serde_json::json!({ a.as_str(): { b.as_str(): ab } });
    if let Some(ba) = ba {
        table[b.as_str()] = serde_json::json!({ a.as_str(): ba });
    }
    m["selection"]["lead"] = table;
}

#[test]
fn bad_leads_by_the_labels_are_refused() {
    let cases: [(&str, Spoil); 4] = [
        ("selection lead 1.5", |m| lead(m, 1.5, None)),
        ("disagree", |m| lead(m, 0.1, Some(0.1))),
        ("selection lead names \"no-such-model\"", |m| {
            let id = m["heads"][0]["id"].as_str().unwrap().to_string();
            m["selection"]["lead"] = serde_json::json!({ id: { "no-such-model": 0.1 } });
        }),
        ("against itself", |m| {
            let id = m["heads"][0]["id"].as_str().unwrap().to_string();
            m["selection"]["lead"] = serde_json::json!({ id.as_str(): { id.as_str(): 0.0 } });
        }),
    ];
    refused(&cases);
    // Both ways, in agreement, loads.
    let (mut manifest, encoder, tokenizer) = parts();
    lead(&mut manifest, 0.25, Some(-0.25));
    assert!(load(&manifest, &encoder, &tokenizer).is_ok());
}

/// A billing of `ratio` in every domain for the first head, each domain's answer `tokens` long.
fn billing(m: &mut serde_json::Value, ratio: f64, tokens: f64) -> String {
    let domains = m["encoder"]["domains"].as_array().unwrap().len();
    let id = m["heads"][0]["id"].as_str().unwrap().to_string();
    m["billing"] = serde_json::json!({
        "answerTokens": vec![tokens; domains],
        "ratios": { id.as_str(): vec![ratio; domains] },
    });
    // The reference prompts' endings were the shipped billing's.
    m["reference"].as_object_mut().unwrap().remove("ending");
    id
}

#[test]
fn a_bundles_billing_sets_the_cost_of_the_models_it_billed() {
    let (mut manifest, encoder, tokenizer) = parts();
    let billed = billing(&mut manifest, 0.5, 3.0);
    let prediction = load(&manifest, &encoder, &tokenizer)
        .unwrap()
        .predict("Which organelle hosts the Krebs cycle?")
        .unwrap();
    let b = prediction.estimate_of(&billed).unwrap().billing.unwrap();
    // Whatever the prompt's domains, a ratio of 0.5 everywhere halves the input and bills
    // 0.5 × 3 answer tokens.
    assert!((b.input_scale - 0.5).abs() < 1e-5, "{b:?}");
    assert!((b.output_tokens - 1.5).abs() < 1e-5, "{b:?}");
    let other = &prediction.quality[1];
    assert_eq!(other.billing, None, "{} was not billed", other.model);

    // Output ratios bill the answer apart: the input still at half its list price, the 3-token
    // answer at twice its own.
    let domains = manifest["encoder"]["domains"].as_array().unwrap().len();
    manifest["billing"]["outputRatios"] =
        serde_json::json!({ billed.as_str(): vec![2.0; domains] });
    let b = load(&manifest, &encoder, &tokenizer)
        .unwrap()
        .predict("Which organelle hosts the Krebs cycle?")
        .unwrap()
        .estimate_of(&billed)
        .unwrap()
        .billing
        .unwrap();
    assert!((b.input_scale - 0.5).abs() < 1e-5, "{b:?}");
    assert!((b.output_tokens - 6.0).abs() < 1e-4, "{b:?}");
}

/// [`billing`], with domain 0 billing one token after a 10-token preamble and every other
/// domain `tokens`; domain 0's prompts all end in `Answer:`, the others' never.
fn cued_billing(m: &mut serde_json::Value, ratio: f64, tokens: f64) -> String {
    let id = billing(m, ratio, tokens);
    let domains = m["encoder"]["domains"].as_array().unwrap().len();
    let only = |first: f64, rest: f64| {
        let mut v = vec![rest; domains];
        v[0] = first;
        v
    };
    m["billing"]["answerTokens"] = serde_json::json!(only(1.0, tokens));
    m["billing"]["inputTokens"] = serde_json::json!(only(10.0, 0.0));
    m["billing"]["endings"] = serde_json::json!([{ "text": "Answer:", "share": only(1.0, 0.0) }]);
    m["billing"]["other"] = serde_json::json!(only(0.0, 1.0));
    id
}

#[test]
fn a_prompts_last_word_tells_how_its_answer_is_billed() {
    let (mut manifest, encoder, tokenizer) = parts();
    let billed = cued_billing(&mut manifest, 0.5, 200.0);
    let predictor = load(&manifest, &encoder, &tokenizer).unwrap();
    let billing = |prompt: &str| {
        let p = predictor.predict(prompt).unwrap();
        p.estimate_of(&billed).unwrap().billing.unwrap()
    };
    let question = "Which organelle hosts the Krebs cycle?";
    // Only domain 0 ends in "Answer:": one letter after the preamble, at half price.
    let letter = billing(&format!("{question}\nAnswer:"));
    assert!((letter.output_tokens - 0.5).abs() < 1e-5, "{letter:?}");
    assert!((letter.input_tokens - 5.0).abs() < 1e-5, "{letter:?}");
    // Without it, never domain 0: the long answer, no preamble.
    let free = billing(question);
    assert!((free.output_tokens - 100.0).abs() < 1e-4, "{free:?}");
    assert_eq!(free.input_tokens, 0.0);
    // The word must be the last one, whole.
    let near = |a: routoo::cost::Billing, b: routoo::cost::Billing| {
        (a.output_tokens - b.output_tokens).abs() < 1e-6
            && (a.input_tokens - b.input_tokens).abs() < 1e-6
    };
    assert!(near(billing(&format!("{question} Answer:  \n")), letter));
    assert!(near(billing(&format!("{question} Answer: B")), free));
    assert!(near(billing(&format!("{question} FinalAnswer:")), free));
}

#[test]
fn a_bundles_levels_shift_a_heads_logit_by_the_domains_a_prompt_ends_in() {
    let (mut manifest, encoder, tokenizer) = parts();
    let id = cued_billing(&mut manifest, 1.0, 200.0);
    manifest.as_object_mut().unwrap().remove("levels");
    let quality = |m: &serde_json::Value, prompt: &str| {
        let p = load(m, &encoder, &tokenizer)
            .unwrap()
            .predict(prompt)
            .unwrap();
        p.quality_of(&id).unwrap()
    };
    let logit = |p: f64| (p / (1.0 - p)).ln();
    let question = "Which organelle hosts the Krebs cycle?";
    let letter = format!("{question}\nAnswer:");
    let (before_letter, before_free) = (quality(&manifest, &letter), quality(&manifest, question));
    // One logit in domain 0, which every prompt ending in "Answer:" is taken for.
    let domains = manifest["encoder"]["domains"].as_array().unwrap().len();
    let mut shifts = vec![0.0; domains];
    shifts[0] = 1.0;
    manifest["levels"] = serde_json::json!({ id.as_str(): shifts });
    let shifted = logit(quality(&manifest, &letter)) - logit(before_letter);
    assert!((shifted - 1.0).abs() < 1e-3, "{shifted}");
    // No other prompt of domain 0 ends otherwise: no shift.
    let free = logit(quality(&manifest, question)) - logit(before_free);
    assert!(free.abs() < 1e-6, "{free}");
}

#[test]
fn a_bundles_measured_accuracy_takes_a_heads_place_in_the_domains_a_prompt_ends_in() {
    let (mut manifest, encoder, tokenizer) = parts();
    let id = cued_billing(&mut manifest, 1.0, 200.0);
    manifest.as_object_mut().unwrap().remove("levels");
    manifest.as_object_mut().unwrap().remove("accuracy");
    let quality = |m: &serde_json::Value, prompt: &str| {
        let p = load(m, &encoder, &tokenizer)
            .unwrap()
            .predict(prompt)
            .unwrap();
        p.quality_of(&id).unwrap()
    };
    let question = "Which organelle hosts the Krebs cycle?";
    let letter = format!("{question}\nAnswer:");
    let before_free = quality(&manifest, question);
    // Measured in domain 0 only, which every prompt ending in "Answer:" is taken for.
    let domains = manifest["encoder"]["domains"].as_array().unwrap().len();
    let mut measured = vec![serde_json::Value::Null; domains];
    measured[0] = serde_json::json!(0.9);
    manifest["accuracy"] = serde_json::json!({ id.as_str(): measured });
    let at_letter = quality(&manifest, &letter);
    assert!((at_letter - 0.9).abs() < 1e-6, "{at_letter}");
    // A prompt of no measured domain keeps the head's own estimate.
    let free = quality(&manifest, question);
    assert!(
        (free - before_free).abs() < 1e-9,
        "{free} against {before_free}"
    );
}

#[test]
fn bad_billings_are_refused() {
    let cases: [(&str, Spoil); 18] = [
        ("ratio 0 is not above 0", |m| {
            billing(m, 0.0, 1.0);
        }),
        ("input preamble -1 is not 0 to", |m| {
            cued_billing(m, 1.0, 1.0);
            m["billing"]["inputTokens"][0] = serde_json::json!(-1.0);
        }),
        ("input preambles for", |m| {
            cued_billing(m, 1.0, 1.0);
            m["billing"]["inputTokens"].as_array_mut().unwrap().pop();
        }),
        ("ending \"Answer:\" has share 1.5, not 0 to 1", |m| {
            cued_billing(m, 1.0, 1.0);
            m["billing"]["endings"][0]["share"][0] = serde_json::json!(1.5);
        }),
        ("prompt ending \"two words\" is not one word", |m| {
            cued_billing(m, 1.0, 1.0);
            m["billing"]["endings"][0]["text"] = serde_json::json!("two words");
        }),
        ("reference: 1 endings for", |m| {
            cued_billing(m, 1.0, 1.0);
            m["reference"]["ending"] = serde_json::json!([1]);
        }),
        ("answer length 0.5 is not 1 to", |m| {
            billing(m, 1.0, 0.5);
        }),
        ("answer lengths for", |m| {
            billing(m, 1.0, 1.0);
            m["billing"]["answerTokens"].as_array_mut().unwrap().pop();
        }),
        ("output ratios for \"no-such-model\" but no ratios", |m| {
            let id = billing(m, 1.0, 1.0);
            let ratios = m["billing"]["ratios"][id.as_str()].clone();
            m["billing"]["outputRatios"] = serde_json::json!({ "no-such-model": ratios });
        }),
        ("output ratios for", |m| {
            let id = billing(m, 1.0, 1.0);
            m["billing"]["outputRatios"] = serde_json::json!({ id.as_str(): [1.0] });
        }),
        ("ratio inf is not above 0", |m| {
            let id = billing(m, 1.0, 1.0);
            let mut ratios = m["billing"]["ratios"][id.as_str()].clone();
            ratios[0] = serde_json::json!(1e39);
            m["billing"]["outputRatios"] = serde_json::json!({ id.as_str(): ratios });
        }),
        ("levels names \"no-such-model\"", |m| {
            let domains = m["encoder"]["domains"].as_array().unwrap().len();
            m["levels"] = serde_json::json!({ "no-such-model": vec![0.0; domains] });
        }),
        ("1 values for", |m| {
            let id = billing(m, 1.0, 1.0);
            m["levels"] = serde_json::json!({ id.as_str(): [0.0] });
        }),
        ("shift 11 is not within ±10 logits", |m| {
            let id = billing(m, 1.0, 1.0);
            let domains = m["encoder"]["domains"].as_array().unwrap().len();
            m["levels"] = serde_json::json!({ id.as_str(): vec![11.0; domains] });
        }),
        ("accuracy names \"no-such-model\"", |m| {
            let domains = m["encoder"]["domains"].as_array().unwrap().len();
            m["accuracy"] = serde_json::json!({ "no-such-model": vec![0.5; domains] });
        }),
        ("accuracy of", |m| {
            let id = billing(m, 1.0, 1.0);
            m["accuracy"] = serde_json::json!({ id.as_str(): [0.5] });
        }),
        ("1.5 is not a share from 0 to 1", |m| {
            let id = billing(m, 1.0, 1.0);
            let domains = m["encoder"]["domains"].as_array().unwrap().len();
            let mut measured = vec![serde_json::Value::Null; domains];
            measured[0] = serde_json::json!(1.5);
            m["accuracy"] = serde_json::json!({ id.as_str(): measured });
        }),
        ("billing names \"no-such-model\"", |m| {
            let id = billing(m, 1.0, 1.0);
            let ratios = m["billing"]["ratios"][id.as_str()].clone();
            m["billing"]["ratios"] = serde_json::json!({ "no-such-model": ratios });
        }),
    ];
    refused(&cases);
}

#[test]
fn out_of_range_neighbour_settings_are_refused() {
    let (mut manifest, encoder, tokenizer) = parts();
    manifest["neighbours"]["prior_weight"] = serde_json::json!(0.0);
    let err = load(&manifest, &encoder, &tokenizer).unwrap_err();
    assert!(err.to_string().contains("neighbours:"), "{err}");
    let (mut manifest, ..) = parts();
    manifest["neighbours"]["k"] = serde_json::json!(5);
    manifest["neighbours"]["rows"] = serde_json::json!(0);
    let err = load(&manifest, &encoder, &tokenizer).unwrap_err();
    assert!(err.to_string().contains("rows 0, k 5"), "{err}");
}

#[test]
fn a_neighbour_file_too_large_to_address_is_refused_not_multiplied() {
    let (mut manifest, encoder, tokenizer) = parts();
    manifest["neighbours"]["rows"] = serde_json::json!(usize::MAX / 2);
    let err = load(&manifest, &encoder, &tokenizer).unwrap_err();
    assert!(err.to_string().contains("more than this machine"), "{err}");
}

#[test]
fn garbage_onnx_with_a_matching_digest_is_an_encoder_error() {
    let (mut manifest, _, tokenizer) = parts();
    let garbage = b"this is not an onnx file".to_vec();
    manifest["encoder"]["sha256"] = sha256_hex(&garbage).into();
    let err = load(&manifest, &garbage, &tokenizer).unwrap_err();
    assert!(matches!(err, Error::Encoder(_)), "{err}");
}

#[test]
fn a_tokenizer_that_does_not_parse_is_named() {
    let (mut manifest, encoder, _) = parts();
    let broken = br#"{"version": "1.0", "model": "#.to_vec();
    manifest["tokenizer"]["sha256"] = sha256_hex(&broken).into();
    let err = load(&manifest, &encoder, &broken).unwrap_err();
    assert!(matches!(err, Error::Tokenizer(_)), "{err}");
    assert!(err.to_string().contains("cannot parse"), "{err}");
}

#[test]
fn manifests_from_elsewhere_are_refused() {
    let (mut manifest, encoder, tokenizer) = parts();
    assert!(matches!(
        Predictor::from_bytes(b"not json", &encoder, &tokenizer, &neighbours()),
        Err(Error::Manifest(_))
    ));
    manifest["version"] = 99.into();
    let err = load(&manifest, &encoder, &tokenizer).unwrap_err();
    assert!(
        matches!(err, Error::UnsupportedVersion { found: 99, .. }),
        "{err}"
    );
    manifest["version"] = 2.into();
    let err = load(&manifest, &encoder, &tokenizer).unwrap_err();
    assert!(
        matches!(err, Error::UnsupportedVersion { found: 2, .. }),
        "{err}"
    );
    manifest["version"] = 3.into();
    // Domains that leave no learned coordinate, or name one twice.
    let dim = manifest["encoder"]["dim"].as_u64().unwrap() as usize;
    let domains = manifest["encoder"]["domains"].clone();
    manifest["encoder"]["domains"] = serde_json::json!(vec!["maths"; 1 + dim]);
    let err = load(&manifest, &encoder, &tokenizer).unwrap_err();
    assert!(err.to_string().contains("leave none"), "{err}");
    manifest["encoder"]["domains"] = serde_json::json!(["maths", "law", "maths"]);
    let err = load(&manifest, &encoder, &tokenizer).unwrap_err();
    assert!(
        err.to_string()
            .contains("\"maths\" is empty or named twice"),
        "{err}"
    );
    manifest["encoder"]["domains"] = domains;
    // Labels that cover a domain the encoder does not name; a transfer weight out of [0, 1].
    let labels = manifest["heads"][0]["labels"].clone();
    manifest["heads"][0]["labels"] =
        serde_json::json!({"tables": ["mmlu"], "rows": 40, "domains": ["astrology"]});
    let err = load(&manifest, &encoder, &tokenizer).unwrap_err();
    assert!(
        err.to_string().contains("cover domain \"astrology\""),
        "{err}"
    );
    manifest["heads"][0]["labels"] = labels;
    manifest["transfer"] = serde_json::json!({"weight": 1.5});
    let err = load(&manifest, &encoder, &tokenizer).unwrap_err();
    assert!(
        err.to_string().contains("weight 1.5 is not in [0, 1]"),
        "{err}"
    );
    manifest["transfer"] = serde_json::json!({"weight": f64::NAN});
    assert!(load(&manifest, &encoder, &tokenizer).is_err());
    manifest.as_object_mut().unwrap().remove("transfer");
    manifest["heads"][0]["weights"] = serde_json::json!([1.0, 2.0]);
    let err = load(&manifest, &encoder, &tokenizer).unwrap_err();
    assert!(err.to_string().contains("has 2 weights"), "{err}");
}

#[test]
fn nonsense_options_are_refused() {
    let router = common::router();
    let cases = [
        RouteOptions {
            budget: Some(-1.0),
            ..Default::default()
        },
        RouteOptions {
            budget: Some(f64::NAN),
            ..Default::default()
        },
        RouteOptions {
            lambda: Some(-3.0),
            ..Default::default()
        },
        RouteOptions {
            budget: Some(1.0),
            lambda: Some(1.0),
            ..Default::default()
        },
        RouteOptions {
            constraints: Constraints {
                exclude: vec!["gpt-5".into()],
                ..Default::default()
            },
            ..Default::default()
        },
    ];
    for options in cases {
        let err = router.route("hello", &options).unwrap_err();
        assert!(
            matches!(err, Error::InvalidOption { .. }),
            "{options:?}: {err}"
        );
    }
}

#[test]
fn a_missing_bundle_names_the_path() {
    let err = Predictor::from_dir("/nonexistent/routoo").unwrap_err();
    assert!(
        err.to_string()
            .contains("/nonexistent/routoo/predictor.json"),
        "{err}"
    );
}

/// Short versions of the fuzz targets (`make fuzz`): each parser a user or a server controls,
/// on arbitrary input and on the real input with one value replaced, returns an error or a
/// value that keeps its invariants, and never panics.
mod parsers {
    use super::common;
    use proptest::prelude::*;
    use routoo::bundle::Manifest;
    use routoo::endpoint::{is_loopback, Endpoint};
    use routoo::eval::Table;
    use routoo::provider::{ApiKey, Keys};
    use routoo::Pool;

    /// Any JSON value, a few levels deep.
    fn json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<f64>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            "\\PC{0,12}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// `value` with the node at `pick` (in a walk of the tree) replaced by `with`.
    fn replace(value: &mut serde_json::Value, pick: &mut usize, with: &serde_json::Value) {
        if *pick == 0 {
            *value = with.clone();
            return;
        }
        *pick -= 1;
        match value {
            serde_json::Value::Array(items) => {
                for item in items.iter_mut().take(8) {
                    replace(item, pick, with);
                }
            }
            serde_json::Value::Object(map) => {
                for item in map.values_mut() {
                    replace(item, pick, with);
                }
            }
            _ => {}
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn manifests(bytes in prop::collection::vec(any::<u8>(), 0..256), pick in 0usize..400, with in json()) {
            let _ = Manifest::from_json(&bytes);
            let mut real: serde_json::Value =
                serde_json::from_slice(&common::read("www/models/predictor.json")).unwrap();
            replace(&mut real, &mut { pick }, &with);
            if let Ok(m) = Manifest::from_json(&serde_json::to_vec(&real).unwrap()) {
                prop_assert!(m.selection.margin.is_finite() && m.selection.margin >= 0.0);
                prop_assert!(m.heads.iter().all(|h| h.weights.len() == m.encoder.dim));
            }
        }

        #[test]
        fn pools(text in "\\PC{0,200}", pick in 0usize..120, with in json()) {
            let _ = Pool::from_json(&text);
            let mut real: serde_json::Value =
                serde_json::from_slice(&common::read("www/pool.json")).unwrap();
            replace(&mut real, &mut { pick }, &with);
            if let Ok(pool) = Pool::from_json(&real.to_string()) {
                for m in &pool.models {
                    prop_assert!(Endpoint::parse(&m.base_url).is_ok());
                    prop_assert!(m.price_in.is_finite() && m.price_out.is_finite());
                }
            }
        }

        #[test]
        fn tables(bytes in prop::collection::vec(any::<u8>(), 0..300), cut in 0usize..2000) {
            let _ = Table::from_csv(&bytes[..]);
            let real = common::read("tests/fixtures/table.csv");
            let mut spoiled = real[..cut.min(real.len())].to_vec();
            spoiled.extend(&bytes);
            if let Ok(t) = Table::from_csv(&spoiled[..]) {
                prop_assert_eq!(t.labels.len(), t.prompts.len());
                prop_assert!(t.labels.iter().all(|l| l.len() == t.models.len()));
            }
        }

        #[test]
        fn base_urls_and_keys(
            text in prop_oneof!["\\PC{0,40}", "(https?|ftp)://[a-z0-9.:@\\[\\]/?#%-]{0,30}"],
            key in "\\PC{0,20}",
        ) {
            if let Ok(e) = Endpoint::parse(&text) {
                let origin = e.origin();
                prop_assert!(origin.starts_with("https://") || e.is_loopback());
                prop_assert!(!origin.contains('@'));
                prop_assert_eq!(is_loopback(&text), e.is_loopback());
            }
            let mut keys = Keys::new();
            if keys.insert(&text, ApiKey::new(key.clone())).is_ok() && !key.trim().is_empty() {
                prop_assert!(keys.for_base_url(&text).is_some());
                prop_assert!(key.trim().chars().all(|c| c.is_ascii_graphic()));
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn predictions_on_any_unicode(prompt in "\\PC{0,300}") {
            match common::router().predict(&prompt) {
                Ok(p) => {
                    for q in &p.quality {
                        prop_assert!((0.0..=1.0).contains(&q.quality), "{q:?}");
                        prop_assert!(q.sd.is_finite() && q.sd >= 0.0, "{q:?}");
                    }
                }
                Err(e) => prop_assert!(prompt.trim().is_empty(), "{e}"),
            }
        }
    }
}
