//! Model servers on this machine: what one lists, and which listed name serves a pool entry.
//!
//! Ollama (port 11434), LM Studio (1234) and llama.cpp's server (8080) all answer the
//! OpenAI-compatible `GET /v1/models` with `{"data": [{"id": ...}]}`; Ollama's own
//! `GET /api/tags` answers `{"models": [{"name": ...}]}`. Each names a model its own way:
//! Ollama `qwen3:8b` (and quantised tags such as `qwen3:8b-q4_K_M`), LM Studio
//! `qwen/qwen3-8b`, llama.cpp the file it loaded (`…/Qwen3-8B-Q4_K_M.gguf`) or an alias.

use serde::Deserialize;

/// Most bytes of a server's model list read.
pub const MAX_LIST_BYTES: usize = 1 << 20;

/// Most model names kept from one list, and most characters in one.
pub const MAX_LISTED: usize = 1000;
const MAX_NAME_CHARS: usize = 300;

#[derive(Deserialize)]
struct List {
    #[serde(default)]
    data: Vec<Entry>,
    #[serde(default)]
    models: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// The model names in a server's list (`/v1/models` or Ollama's `/api/tags`), or `None` when
/// the body is no such list. Names past [`MAX_LISTED`], or longer than a name can be, are
/// dropped.
pub fn parse_list(body: &[u8]) -> Option<Vec<String>> {
    if body.len() > MAX_LIST_BYTES {
        return None;
    }
    let list: List = serde_json::from_slice(body).ok()?;
    let names = (list.data.into_iter().chain(list.models))
        .filter_map(|e| e.id.or(e.name))
        .filter(|n| !n.trim().is_empty() && n.chars().count() <= MAX_NAME_CHARS)
        .take(MAX_LISTED)
        .collect();
    Some(names)
}

/// The name under which a server that lists `listed` serves the model a pool entry calls
/// `api_model`: the same name (any case); an Ollama tag of it with a quantisation added
/// (`qwen3:8b` → `qwen3:8b-q4_K_M`); the same model under an organisation
/// (`qwen3-8b` → `qwen/qwen3-8b`); or a model file of it (`qwen3-8b` →
/// `/models/Qwen3-8B-Q4_K_M.gguf`). The plainest match wins.
pub fn served_name<'a>(api_model: &str, listed: &'a [String]) -> Option<&'a str> {
    let want = api_model.trim().to_lowercase();
    if want.is_empty() {
        return None;
    }
    let lower: Vec<String> = listed.iter().map(|n| n.to_lowercase()).collect();
    let find = |test: &dyn Fn(&str) -> bool| lower.iter().position(|n| test(n));
    let exact = |n: &str| n == want;
    let quantised = |n: &str| want.contains(':') && quant_of(n, &want);
    let organised = |n: &str| n.rsplit('/').next() == Some(want.as_str());
    let file = |n: &str| {
        let base = n.rsplit(['/', '\\']).next().unwrap_or(n);
        let stem = base.strip_suffix(".gguf").unwrap_or(base);
        stem == want || quant_of(stem, &want)
    };
    let at = find(&exact)
        .or_else(|| find(&quantised))
        .or_else(|| find(&organised))
        .or_else(|| find(&file))?;
    Some(listed[at].as_str())
}

/// Whether `name` is `base` with a quantisation after a `-` or `.` (`q4_K_M`, `Q8_0`,
/// `fp16`, `bf16`, `int4`, `mlx`...): not another model that starts alike (`qwen3:8b` is no
/// quantisation of `qwen3:80b`, nor `qwen3-8b-instruct` of `qwen3-8b`).
fn quant_of(name: &str, base: &str) -> bool {
    let Some(rest) = name.strip_prefix(base) else {
        return false;
    };
    let Some(tag) = rest.strip_prefix(['-', '.', '_']) else {
        return false;
    };
    let first = tag.split(['-', '.', '_']).next().unwrap_or_default();
    let quant = |w: &str| {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        (w.starts_with('q') || w.starts_with("iq")) && w.bytes().any(|b| b.is_ascii_digit())
            || [
                "fp16", "fp32", "bf16", "f16", "f32", "mxfp4", "mlx", "gguf", "awq", "gptq",
            ]
            .contains(&w)
            || w.strip_prefix("int").is_some_and(digits)
            || w.strip_suffix("bit").is_some_and(digits)
    };
    quant(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn lists_of_each_server_parse_and_are_bounded() {
        let openai = br#"{"object": "list", "data": [{"id": "qwen/qwen3-8b", "object": "model"}]}"#;
        assert_eq!(parse_list(openai).unwrap(), ["qwen/qwen3-8b"]);
        let ollama = br#"{"models": [{"name": "qwen3:8b", "size": 5}, {"name": "gpt-oss:20b"}]}"#;
        assert_eq!(parse_list(ollama).unwrap(), ["qwen3:8b", "gpt-oss:20b"]);
        assert!(parse_list(b"<html>").is_none());
        assert_eq!(parse_list(b"{}").unwrap(), Vec::<String>::new());
        let many = format!(
            r#"{{"data": [{}]}}"#,
            vec![r#"{"id": "m"}"#; MAX_LISTED + 5].join(",")
        );
        assert_eq!(parse_list(many.as_bytes()).unwrap().len(), MAX_LISTED);
        let long = format!(r#"{{"data": [{{"id": "{}"}}]}}"#, "m".repeat(400));
        assert!(parse_list(long.as_bytes()).unwrap().is_empty());
        assert!(parse_list(&vec![b' '; MAX_LIST_BYTES + 1]).is_none());
    }

    #[test]
    fn a_served_name_matches_as_each_server_spells_it_and_nothing_else() {
        let served = names(&[
            "qwen3:80b",
            "qwen3:8b-q4_K_M",
            "openai/gpt-oss-20b",
            "/models/Gemma-3-12B-IT-Q4_K_M.gguf",
            "llama3.1:8b",
        ]);
        assert_eq!(served_name("qwen3:8b", &served), Some("qwen3:8b-q4_K_M"));
        assert_eq!(
            served_name("gpt-oss-20b", &served),
            Some("openai/gpt-oss-20b")
        );
        assert_eq!(
            served_name("gemma-3-12b-it", &served),
            Some("/models/Gemma-3-12B-IT-Q4_K_M.gguf")
        );
        assert_eq!(served_name("LLAMA3.1:8b", &served), Some("llama3.1:8b"));
        // Alike but other models: a bigger size, an instruct tune, another family member.
        assert_eq!(served_name("qwen3:8", &served), None);
        assert_eq!(served_name("qwen3:8b-instruct", &served), None);
        assert_eq!(served_name("gemma-3-12b", &served), None);
        assert_eq!(served_name("", &served), None);
        // The exact name wins over a quantised one.
        let both = names(&["qwen3:8b-q8_0", "qwen3:8b"]);
        assert_eq!(served_name("qwen3:8b", &both), Some("qwen3:8b"));
    }
}
