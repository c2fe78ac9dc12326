//! `predict` at 16, 128 and 256 tokens, natively. Prints figures; asserts nothing.

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use criterion::{criterion_group, Criterion};
    use routoo::Predictor;

    /// A prompt the tokenizer reads as exactly `tokens` tokens (special tokens included).
    pub fn prompt_of(predictor: &Predictor, tokens: usize) -> String {
        let mut words = Vec::new();
        loop {
            words.push("routing");
            let text = words.join(" ");
            match predictor.tokenize(&text) {
                Ok((ids, _)) if ids.len() >= tokens => return text,
                _ => continue,
            }
        }
    }

    fn bench(c: &mut Criterion) {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/www/models");
        let predictor = match Predictor::from_dir(dir) {
            Ok(p) => p,
            Err(e) => panic!("cannot load the bundle in {dir}: {e}"),
        };
        let mut group = c.benchmark_group("predict");
        group.sample_size(30);
        for tokens in [16, 128, 256] {
            let prompt = prompt_of(&predictor, tokens);
            group.bench_function(format!("{tokens} tokens"), |b| {
                b.iter(|| predictor.predict(&prompt))
            });
        }
        group.finish();
    }

    criterion_group!(benches, bench);
}

#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_main!(native::benches);

#[cfg(target_arch = "wasm32")]
fn main() {}
