//! Loading the shipped bundle, binding it to the default pool (what the page does before its first
//! estimate, and again whenever a model is toggled), and routing one prompt at three budgets,
//! natively. Prints figures; asserts nothing.

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use criterion::{criterion_group, Criterion};
    use routoo::{Pool, Predictor, RouteOptions, Router};

    fn bench(c: &mut Criterion) {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/www/models");
        let predictor = match Predictor::from_dir(dir) {
            Ok(p) => p,
            Err(e) => panic!("cannot load the bundle in {dir}: {e}"),
        };
        let pool = match Pool::default_pool() {
            Ok(p) => p,
            Err(e) => panic!("cannot read the default pool: {e}"),
        };
        let serving = match pool.serving() {
            Ok(p) => p,
            Err(e) => panic!("the default pool serves nothing: {e}"),
        };
        let mut router = match Router::new(predictor, pool.clone()) {
            Ok(r) => r,
            Err(e) => panic!("cannot bind the default pool: {e}"),
        };
        let mut group = c.benchmark_group("router");
        group.sample_size(10);
        group.bench_function("load the bundle and bind the default pool", |b| {
            b.iter(|| {
                let predictor = Predictor::from_dir(dir).map_err(|e| e.to_string());
                predictor.and_then(|p| Router::new(p, pool.clone()).map_err(|e| e.to_string()))
            })
        });
        for (name, p) in [("default pool", &pool), ("serving models", &serving)] {
            let label = format!("bind {name} ({} models)", p.models.len());
            group.bench_function(label, |b| {
                b.iter(|| {
                    if let Err(e) = router.set_pool(p.clone()) {
                        panic!("cannot bind: {e}");
                    }
                })
            });
        }
        if let Err(e) = router.set_pool(pool) {
            panic!("cannot bind: {e}");
        }
        let prompt = "Prove that the square root of 2 is irrational, step by step.";
        for budget in [None, Some(4.0), Some(1.0)] {
            let options = RouteOptions {
                budget,
                ..RouteOptions::default()
            };
            let label = match budget {
                Some(b) => format!("route at US${b} per 1k"),
                None => "route at no budget".into(),
            };
            group.bench_function(label, |b| b.iter(|| router.route(prompt, &options)));
        }
        group.finish();
    }

    criterion_group!(benches, bench);
}

#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_main!(native::benches);

#[cfg(target_arch = "wasm32")]
fn main() {}
