//! Command-line front end: arguments, files, keys from the environment, the bundle's place,
//! printing, and predicting many prompts on every core. Routing, pricing, provider calls and
//! calibration live in the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use routoo::calibrate::{CalibrateOptions, HeadsFile, Plan, Step};
use routoo::card::Card;
use routoo::eval::{Inputs, Interval, Intervals, Report, Selection, Table};
use routoo::probe::ProbeSet;
use routoo::provider::{self, ApiKey, AskOptions, Keys, Progress};
use routoo::suggest;
use routoo::transport::NativeClient;
use routoo::{
    BatchPlan, Constraints, Conversation, Decision, Pool, Prediction, Predictor, RouteOptions,
    Router,
};

/// Route prompts to the LLM that gives the most quality for a budget.
#[derive(Parser)]
#[command(name = "routoo", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print each model's predicted quality for a prompt.
    Predict {
        #[command(flatten)]
        common: Common,
        /// Predict every prompt of a JSON file `{"prompts": [...]}` instead.
        #[arg(long, conflicts_with = "prompt")]
        prompts: Option<PathBuf>,
        /// The prompt.
        #[arg(required_unless_present = "prompts")]
        prompt: Option<String>,
    },
    /// Choose a model for a prompt under a budget, with the ranked alternatives.
    Route {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        policy: PolicyArgs,
        /// The prompt.
        prompt: String,
    },
    /// Route a prompt, call the chosen provider and stream its answer; fall back on failure.
    ///
    /// Keys come from OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY, OPENROUTER_API_KEY,
    /// GROQ_API_KEY, ... (`<PROVIDER>_API_KEY`), and each goes only to that provider's official
    /// API origin; models at a loopback base URL need none.
    Ask {
        #[command(flatten)]
        common: Common,
        /// Bind the key in environment variable VAR to ORIGIN (for a custom base URL), as
        /// ORIGIN=VAR, e.g. https://llm.example.com=MY_KEY; repeatable. Keys never go on the
        /// command line.
        #[arg(long = "key", value_name = "ORIGIN=VAR")]
        keys: Vec<String>,
        #[command(flatten)]
        policy: PolicyArgs,
        /// Most answer tokens.
        #[arg(long, default_value_t = provider::DEFAULT_MAX_TOKENS)]
        max_tokens: u32,
        /// Seconds to wait for an answer to start; ten times that for all of it, and no retry or
        /// fallback starts later than twenty times that after the ask began.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
        /// The prompt.
        prompt: String,
    },
    /// Choose a model for each prompt of a file so the whole batch fits one total budget.
    RouteBatch {
        #[command(flatten)]
        common: Common,
        /// Total US$ the batch may cost (estimated).
        #[arg(long)]
        budget_total: f64,
        #[command(flatten)]
        limits: Limits,
        /// Prompts: a JSON file `{"prompts": [...]}`, or text with one prompt per line.
        file: PathBuf,
    },
    /// Print the pool's budget curve: λ against expected spend and quality.
    Curve {
        #[command(flatten)]
        common: Common,
    },
    /// Place a pool model in the shared space from its answers to the bundle's probe set, and
    /// write its head for `--heads`.
    ///
    /// The probes go to that model alone (keys as for `ask`). Prints the expected and the
    /// worst-case cost first; `--max-cost` bounds the whole calibration.
    Calibrate {
        #[command(flatten)]
        common: Common,
        /// The pool model to calibrate.
        #[arg(long)]
        model: String,
        /// Probes to send, from the start of the probe set (25 gives a rough place, 200 a good
        /// one); 100 by default, none with --scores unless given.
        #[arg(long)]
        probes: Option<usize>,
        /// A card of the model's published scores (JSON: {"model", "scores": [{"benchmark",
        /// "accuracy", "source", "date"}]}): places the model without a call; probes, if any,
        /// sharpen it.
        #[arg(long, value_name = "CARD.json")]
        scores: Option<PathBuf>,
        /// Where to write the heads file.
        #[arg(long)]
        out: PathBuf,
        /// Bind the key in environment variable VAR to ORIGIN, as for `ask`; repeatable.
        #[arg(long = "key", value_name = "ORIGIN=VAR")]
        keys: Vec<String>,
        /// Most answer tokens per probe.
        #[arg(long, default_value_t = provider::DEFAULT_MAX_TOKENS)]
        max_tokens: u32,
        /// Most US$ the whole calibration may cost.
        #[arg(long)]
        max_cost: Option<f64>,
        /// Seconds to wait for an answer to start (ten times that for all of it).
        #[arg(long, default_value_t = 60)]
        timeout: u64,
        /// Print the cost outlook and stop.
        #[arg(long)]
        dry_run: bool,
    },
    /// Suggest a pool: at most K models that together give the most expected accuracy at a
    /// budget on a table's prompts, and what each adds.
    SuggestPool {
        #[command(flatten)]
        common: Common,
        /// The prompts to suggest for (a routing table; labels are read only by --check).
        #[arg(long)]
        data: PathBuf,
        /// Budget, US$ per 1,000 requests.
        #[arg(long)]
        budget: f64,
        /// Most models in the pool.
        #[arg(long, default_value_t = 3)]
        max_models: usize,
        /// Models to choose from, comma-separated (default: every model of the table with a head).
        #[arg(long, value_delimiter = ',')]
        models: Option<Vec<String>>,
        /// Also score the suggestion with the table's labels, against the best subset found by
        /// trying every one.
        #[arg(long)]
        check: bool,
    },
    /// Score the router on a routing table: its accuracy-cost curve against the single models.
    Eval {
        #[command(flatten)]
        common: Common,
        /// The table (CSV in the format of the routing data).
        #[arg(long)]
        data: PathBuf,
        /// Models to route between, comma-separated (default: every model of the table that
        /// the bundle has a head for).
        #[arg(long, value_delimiter = ',')]
        models: Option<Vec<String>>,
        /// Also give each figure one-sided 95 % bounds from this many draws of the table's rows
        /// (a paired bootstrap over questions; 200 is plenty).
        #[arg(long, default_value_t = 0, value_name = "DRAWS")]
        bootstrap: usize,
        /// Seed of the bootstrap's draws.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Which model the margin keeps: at each trade-off the one ahead in quality less
        /// λ·cost, as the router does (`tradeoff`), or the top one at every budget, as it did
        /// before (`top`).
        #[arg(long, value_enum, default_value_t = Incumbent::Tradeoff)]
        incumbent: Incumbent,
    },
}

/// `eval --incumbent`.
#[derive(Clone, Copy, PartialEq, clap::ValueEnum)]
enum Incumbent {
    Top,
    Tradeoff,
}

#[derive(Args)]
struct Common {
    /// Directory holding predictor.json and the files it names (default: $ROUTOO_BUNDLE, else
    /// the first of share/routoo/models beside the binary and the source tree's www/models
    /// that holds one).
    #[arg(long, env = "ROUTOO_BUNDLE")]
    bundle: Option<PathBuf>,
    /// Pool file (JSON); by default the pool shipped with routoo.
    #[arg(long)]
    pool: Option<PathBuf>,
    /// Heads to add to the bundle's, or to put in place of its own, as `routoo calibrate`
    /// writes them; repeatable.
    #[arg(long = "heads", value_name = "HEADS.json")]
    heads: Vec<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Route to the pool's historical models too (labelled by the routing data, no longer
    /// served). `route`, `route-batch` and `ask` leave them out without it; the other commands,
    /// which study the routing data, always keep them.
    #[arg(long)]
    historical: bool,
    /// Price the pool as it bills on this day (YYYY-MM-DD, UTC), scheduled price changes
    /// included; by default today.
    #[arg(long, value_name = "YYYY-MM-DD")]
    date: Option<String>,
}

/// Today in UTC, as `YYYY-MM-DD`.
fn today() -> String {
    let d = time::OffsetDateTime::now_utc().date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

impl Common {
    /// Prints `value` as JSON with `--json`, else as the table `print` writes.
    fn show<T: serde::Serialize>(&self, value: &T, print: impl FnOnce(&T)) -> Result<()> {
        if self.json {
            println!("{}", serde_json::to_string_pretty(value)?);
        } else {
            print(value);
        }
        Ok(())
    }

    fn router(&self) -> Result<Router> {
        Ok(Router::new(self.predictor()?, self.pool()?)?)
    }

    /// The router for calls made today: without `--historical`, models no longer served are
    /// left out, as the page leaves them off.
    fn serving_router(&self) -> Result<Router> {
        let pool = self.pool()?;
        let pool = if self.historical {
            pool
        } else {
            pool.serving().context("pass --historical to use them")?
        };
        Ok(Router::new(self.predictor()?, pool)?)
    }

    /// The bundle's directory: `--bundle` (or `ROUTOO_BUNDLE`), else the first place that
    /// holds a `predictor.json`; an error that names every place looked in.
    fn bundle(&self) -> Result<PathBuf> {
        if let Some(dir) = &self.bundle {
            return Ok(dir.clone());
        }
        find_bundle(&default_bundles())
    }

    /// The bundle, with the `--heads` files added in order.
    fn predictor(&self) -> Result<Predictor> {
        let bundle = self.bundle()?;
        let mut predictor = Predictor::from_dir(&bundle)
            .with_context(|| format!("loading the bundle in {}", bundle.display()))?;
        for path in &self.heads {
            let file = HeadsFile::from_json(&read_text(path)?)
                .with_context(|| format!("in {}", path.display()))?;
            predictor
                .add_heads(&file)
                .with_context(|| format!("adding the heads of {}", path.display()))?;
        }
        Ok(predictor)
    }

    /// The pool, priced for `--date` (today by default).
    fn pool(&self) -> Result<Pool> {
        let listed = match &self.pool {
            Some(path) => Pool::from_json(&read_text(path)?)
                .with_context(|| format!("in {}", path.display()))?,
            None => Pool::default_pool()?,
        };
        let day = self.date.clone().unwrap_or_else(today);
        listed.priced_on(&day).context("--date")
    }
}

/// Most bytes read from a pool, heads or probe file given on the command line.
const MAX_FILE_BYTES: u64 = 64 << 20;

fn read_text(path: &Path) -> Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("reading {}", path.display()))?;
    if text.len() as u64 > MAX_FILE_BYTES {
        anyhow::bail!("{} is larger than {MAX_FILE_BYTES} bytes", path.display());
    }
    Ok(text)
}

pub fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("routoo: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Predict {
            common,
            prompts,
            prompt,
        } => {
            let router = common.router()?;
            if let Some(path) = prompts {
                let out = read_prompts(&path)?
                    .iter()
                    .map(|p| Ok(PoolPrediction::of(&router, router.predict(p)?)))
                    .collect::<Result<Vec<_>>>()?;
                println!("{}", serde_json::to_string_pretty(&out)?);
                return Ok(());
            }
            let prediction = router.predict(prompt.as_deref().unwrap_or_default())?;
            let view = PoolPrediction::of(&router, prediction);
            common.show(&view, |v| print_prediction(&router, &v.prediction))?;
        }
        Command::Route {
            common,
            policy,
            prompt,
        } => {
            let router = common.serving_router()?;
            let decision = router.route(&prompt, &policy.into())?;
            common.show(&decision, print_decision)?;
        }
        Command::Ask {
            common,
            keys,
            policy,
            max_tokens,
            timeout,
            prompt,
        } => ask(
            &common.serving_router()?,
            &keys,
            policy.into(),
            max_tokens,
            timeout,
            &prompt,
        )?,
        Command::RouteBatch {
            common,
            budget_total,
            limits,
            file,
        } => {
            let router = common.serving_router()?;
            let prompts = read_prompts(&file)?;
            let prompts: Vec<&str> = prompts.iter().map(String::as_str).collect();
            let plan = router.route_batch(&prompts, budget_total, &limits.into())?;
            common.show(&plan, |plan| print_plan(plan, &prompts))?;
        }
        Command::Eval {
            common,
            data,
            models,
            bootstrap,
            seed,
            incumbent,
        } => {
            let router = common.router()?;
            let mut inputs = table_inputs(&router, &data, models)?;
            if incumbent == Incumbent::Top {
                inputs.margin = inputs.margin.with_costs(Vec::new());
            }
            let report = EvalOutput {
                report: routoo::eval::evaluate(&inputs),
                intervals: (bootstrap > 0)
                    .then(|| routoo::eval::intervals(&inputs, bootstrap, seed)),
            };
            common.show(&report, print_eval)?;
        }
        Command::Calibrate {
            common,
            model,
            probes,
            scores,
            out,
            keys: bindings,
            max_tokens,
            max_cost,
            timeout,
            dry_run,
        } => {
            let card = scores.as_deref().map(read_card).transpose()?;
            let default = if card.is_some() {
                0
            } else {
                routoo::calibrate::DEFAULT_PROBES
            };
            let options = CalibrateOptions {
                probes: probes.unwrap_or(default),
                max_tokens,
                max_cost,
                ..CalibrateOptions::default()
            };
            let run = Run {
                options,
                card,
                timeout,
                dry_run,
            };
            run_calibration(&common, &model, &out, &bindings, run)?;
        }
        Command::SuggestPool {
            common,
            data,
            budget,
            max_models,
            models,
            check,
        } => {
            let router = common.router()?;
            let out = suggest_pool(&router, &data, models, budget, max_models, check)?;
            common.show(&out, |out| print_suggestion(out, budget))?;
        }
        Command::Curve { common } => {
            let router = common.router()?;
            common.show(router.curve(), |curve| {
                println!("{:>12}  {:>14}  {:>9}", "lambda", "US$ per 1k", "quality");
                for p in &curve.points {
                    println!(
                        "{:>12.3}  {:>14.4}  {:>9.4}",
                        p.lambda, p.cost_per_1k, p.quality
                    );
                }
            })?;
        }
    }
    Ok(())
}

/// Where a bundle is looked for without `--bundle`: beside an installed binary
/// (`<prefix>/bin/routoo` → `<prefix>/share/routoo/models`), then the source tree it was built
/// from.
fn default_bundles() -> Vec<PathBuf> {
    let installed = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("share/routoo/models")));
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("www/models");
    installed.into_iter().chain([source]).collect()
}

/// The first of `places` holding a `predictor.json`, or an error naming each and the way out.
fn find_bundle(places: &[PathBuf]) -> Result<PathBuf> {
    places
        .iter()
        .find(|dir| dir.join("predictor.json").is_file())
        .cloned()
        .with_context(|| {
            let looked: Vec<String> = places.iter().map(|p| p.display().to_string()).collect();
            format!(
                "no predictor bundle found (looked in {}); pass --bundle DIR or set \
                 ROUTOO_BUNDLE to a directory holding predictor.json, such as the repository's \
                 www/models or the npm package's models/",
                looked.join(", ")
            )
        })
}

/// `<PROVIDER>_API_KEY`, the environment variable a provider's key is read from.
fn key_var(provider: &str) -> String {
    format!(
        "{}_API_KEY",
        provider.to_ascii_uppercase().replace('-', "_")
    )
}

/// The key for a provider from the environment: `<PROVIDER>_API_KEY`, and `GOOGLE_API_KEY`
/// for Gemini too.
fn key_for(provider: &str) -> Option<ApiKey> {
    let name = key_var(provider);
    let gemini = matches!(provider, "google" | "gemini");
    let names = [
        Some(name),
        gemini.then(|| "GEMINI_API_KEY".to_string()),
        gemini.then(|| "GOOGLE_API_KEY".to_string()),
    ];
    names
        .into_iter()
        .flatten()
        .find_map(|n| std::env::var(n).ok().filter(|k| !k.trim().is_empty()))
        .map(ApiKey::new)
}

/// Keys from the environment for the pool's providers (each bound to the provider's official
/// origin), then the `--key ORIGIN=VAR` bindings; the pool's servers on this machine on.
fn keys(pool: &Pool, bindings: &[String]) -> Result<Keys> {
    let mut keys = Keys::new();
    let mut providers: Vec<&str> = pool.models.iter().map(|m| m.provider.as_str()).collect();
    providers.sort_unstable();
    providers.dedup();
    for provider in providers {
        let Some(key) = key_for(provider) else {
            continue;
        };
        match keys.insert(provider, key) {
            Ok(()) => {}
            // A key for a provider without an official origin could go anywhere its pool
            // entries point: it is not used.
            Err(e @ provider::KeyError::UnknownProvider(_)) => eprintln!("routoo: {e}; not used"),
            Err(e) => return Err(e.into()),
        }
    }
    for binding in bindings {
        let (origin, var) = binding
            .split_once('=')
            .with_context(|| format!("--key {binding:?}: write ORIGIN=VAR"))?;
        let key = std::env::var(var)
            .with_context(|| format!("--key {binding:?}: environment variable {var} is not set"))?;
        keys.insert(origin, ApiKey::new(key))
            .with_context(|| format!("--key {binding:?}"))?;
    }
    // The pool is the user's own file on the user's machine: its local servers are on, and
    // each is called once it answers a probe.
    for model in &pool.models {
        if provider::is_loopback(&model.base_url) {
            let _ = keys.turn_on_local(&model.base_url);
        }
    }
    Ok(keys)
}

/// `routoo ask`: routes the prompt among the models the environment's keys (and servers on
/// this machine that answer) can call, then streams the answer to stdout, retrying and
/// falling back down the ranking within the spend cap.
/// `options` is the request's policy; the keys narrow its providers.
fn ask(
    router: &Router,
    bindings: &[String],
    mut options: RouteOptions,
    max_tokens: u32,
    timeout: u64,
    prompt: &str,
) -> Result<()> {
    use std::io::Write;
    let pool = router.pool();
    let mut keys = keys(pool, bindings)?;
    let client = NativeClient::new(
        Duration::from_secs(timeout),
        Duration::from_secs(timeout.saturating_mul(10)),
    );
    // A server on this machine is called only once it answered.
    futures_executor::block_on(provider::probe_local(&client, pool, &mut keys));
    let max_cost = options.max_cost;
    keys.restrict(pool, &mut options.constraints);
    let decision = router.route(prompt, &options).context(
        "no model can take this prompt (set the provider's API key, e.g. OPENAI_API_KEY, or \
         start the local server the pool names)",
    )?;
    let ask_options = AskOptions {
        max_tokens,
        max_cost,
        // Retries and fallbacks stop starting after twenty times the per-byte wait.
        deadline: Some(Duration::from_secs(timeout.saturating_mul(20))),
        ..AskOptions::default()
    };
    let mut stdout = std::io::stdout();
    let mut printed = false;
    let reply = futures_executor::block_on(provider::ask(
        &client,
        pool,
        decision.ranked,
        &Conversation::from_prompt(prompt),
        &keys,
        &ask_options,
        |progress| match progress {
            Progress::Calling { .. } => printed = false,
            Progress::Text(text) => {
                printed = true;
                let _ = stdout.write_all(text.as_bytes());
                let _ = stdout.flush();
            }
            // Shown thinking goes to stderr, so that stdout holds the answer alone.
            Progress::Reasoning(text) => eprint!("{text}"),
            Progress::Failed { attempt, .. } => {
                if printed {
                    println!();
                }
                eprintln!("routoo: {} failed: {}", attempt.model, attempt.error);
            }
        },
    ))?;
    println!();
    let usage = reply.answer.usage.unwrap_or_default();
    let cost = reply
        .cost
        .map_or("unknown".to_string(), |c| format!("US${c:.6}"));
    eprintln!(
        "routoo: answered by {} ({}): {} tokens in, {} out; {cost} (estimated US${:.6})",
        reply.model, reply.provider, usage.input_tokens, usage.output_tokens, reply.estimated_cost
    );
    if let Some(note) = &reply.note {
        eprintln!("routoo: note: {note}");
    }
    if let Some(cap) = max_cost {
        eprintln!(
            "routoo: counted US${:.6} of the US${cap:.6} cap (every attempt; answer limit {} tokens)",
            reply.spent, reply.max_tokens
        );
    }
    if !reply.attempts.is_empty() {
        let tried: Vec<String> = reply
            .attempts
            .iter()
            .map(|a| format!("{} ({})", a.model, a.error))
            .collect();
        eprintln!("routoo: tried first: {}", tried.join("; "));
    }
    Ok(())
}

/// The bundle's probe set, checked against the digest its manifest records.
fn probe_set(common: &Common, predictor: &Predictor) -> Result<ProbeSet> {
    let manifest = predictor.manifest();
    let file = manifest
        .probes
        .as_ref()
        .map_or("probes.json", |p| p.file.as_str());
    let path = common.bundle()?.join(file);
    let text = read_text(&path)?;
    ProbeSet::from_bundle(manifest, text.as_bytes())
        .with_context(|| format!("in {}", path.display()))
}

fn read_card(path: &Path) -> Result<Card> {
    let text = read_text(path)?;
    Card::from_json(&text).with_context(|| format!("in {}", path.display()))
}

/// How `calibrate` runs, beside the model and the files.
struct Run {
    options: CalibrateOptions,
    card: Option<Card>,
    timeout: u64,
    dry_run: bool,
}

fn run_calibration(
    common: &Common,
    model: &str,
    out: &Path,
    bindings: &[String],
    run: Run,
) -> Result<()> {
    let Run {
        options,
        card,
        timeout,
        dry_run,
    } = run;
    // Claimed before a probe is sent: a run must not be paid for and then lost.
    let out = Output::claim(out)?;
    let predictor = common.predictor()?;
    let pool = common.pool()?;
    let set = probe_set(common, &predictor)?;
    let target = pool
        .model(model)
        .with_context(|| format!("the pool has no model {model:?}"))?;
    let mut plan = Plan::new(&predictor, &set, target, options.probes)?;
    if let Some(card) = card {
        eprintln!(
            "routoo: {} published score(s) of {}",
            card.scores.len(),
            card.model
        );
        plan = plan.with_card(&predictor, card)?;
    }
    let outlook = plan.outlook(options.max_tokens);
    if outlook.probes > 0 {
        eprintln!(
            "routoo: {} probes to {} ({}): about US${:.4}, at most US${:.4}{}",
            outlook.probes,
            model,
            target.api_model,
            outlook.expected,
            outlook.worst,
            options
                .max_cost
                .map_or(String::new(), |c| format!(" (capped at US${c:.4})"))
        );
    }
    if dry_run {
        return Ok(());
    }
    let mut keys = keys(&pool, bindings)?;
    let client = NativeClient::new(
        Duration::from_secs(timeout),
        Duration::from_secs(timeout.saturating_mul(10)),
    );
    if plan.probes() > 0 {
        futures_executor::block_on(provider::probe_local(&client, &pool, &mut keys));
    }
    anyhow::ensure!(
        plan.probes() == 0 || keys.can_call(target),
        "no key for {} ({}): set {} or bind one with --key ORIGIN=VAR",
        target.base_url,
        target.provider,
        key_var(&target.provider)
    );
    let calibration =
        futures_executor::block_on(plan.run(&client, &keys, &options, &|| false, |step| {
            if let Step::Done { index, result } = step {
                let mark = match result.correct {
                    Some(true) => "right".to_string(),
                    Some(false) => "wrong".to_string(),
                    None => format!("failed: {}", result.error.as_deref().unwrap_or("")),
                };
                eprintln!("routoo: probe {} ({}): {mark}", index + 1, result.id);
            }
        }))?;
    let file = HeadsFile::of(&predictor, std::slice::from_ref(&calibration));
    let out = out.write(&(serde_json::to_string_pretty(&file)? + "\n"))?;
    let card = calibration.card.as_ref().map_or(String::new(), |c| {
        format!("placed from {} published score(s); ", c.scores.len())
    });
    eprintln!(
        "routoo: {card}{} right of {} graded, US${:.4} spent{}; head written to {}",
        calibration.correct,
        calibration.graded,
        calibration.spent,
        calibration
            .stopped
            .as_deref()
            .map_or(String::new(), |s| format!(" (ended early: {s})")),
        out.display()
    );
    Ok(())
}

/// A file a command will write, claimed before it does anything costly: its folder exists,
/// a file can be made there, and the path is not a symbolic link (which would write through
/// to whatever it points at). The result goes to a file beside it, renamed into place whole.
struct Output {
    path: PathBuf,
    staging: PathBuf,
    file: Option<std::fs::File>,
}

impl Output {
    fn claim(path: &Path) -> Result<Output> {
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            anyhow::ensure!(
                !meta.file_type().is_symlink(),
                "--out {} is a symbolic link; name the file itself",
                path.display()
            );
            anyhow::ensure!(!meta.is_dir(), "--out {} is a folder", path.display());
        }
        let name = path
            .file_name()
            .with_context(|| format!("--out {} names no file", path.display()))?;
        let folder = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        anyhow::ensure!(
            folder.is_dir(),
            "--out {}: the folder {} does not exist",
            path.display(),
            folder.display()
        );
        let staging = folder.join(format!(
            ".{}.{}.partial",
            name.to_string_lossy(),
            std::process::id()
        ));
        // create_new never opens an existing file or follows a link in its place.
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&staging)
            .with_context(|| format!("--out {}: cannot write there", path.display()))?;
        Ok(Output {
            path: path.to_path_buf(),
            staging,
            file: Some(file),
        })
    }

    /// Writes `text` and moves it into place; returns the path written.
    fn write(mut self, text: &str) -> Result<PathBuf> {
        use std::io::Write;
        let mut file = self.file.take().context("--out was written already")?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .with_context(|| format!("writing {}", self.staging.display()))?;
        drop(file);
        std::fs::rename(&self.staging, &self.path)
            .with_context(|| format!("writing {}", self.path.display()))?;
        Ok(self.path.clone())
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        // Not moved into place (a dry run, a failure): nothing is left behind.
        let _ = std::fs::remove_file(&self.staging);
    }
}

/// Hard limits on each request.
#[derive(Args)]
struct Limits {
    /// Most US$ one request may cost. Routing compares it with the estimate; `ask` also holds
    /// every call's worst case, retries and fallbacks included, under it.
    #[arg(long)]
    max_cost: Option<f64>,
    /// Slowest typical latency allowed, in ms.
    #[arg(long)]
    max_latency_ms: Option<u32>,
    /// Providers you have keys for, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    providers: Option<Vec<String>>,
    /// Models never to choose, comma-separated.
    #[arg(long, value_delimiter = ',')]
    exclude: Vec<String>,
}

impl From<Limits> for Constraints {
    fn from(l: Limits) -> Constraints {
        Constraints {
            max_cost_per_request: l.max_cost,
            max_latency_ms: l.max_latency_ms,
            providers: l.providers,
            models: None,
            exclude: l.exclude,
            needs: Vec::new(),
        }
    }
}

/// One request's policy, as `RouteOptions` holds it (the same fields as the JS `RouteOptions`,
/// `router.fetch`'s policy and the AI SDK provider's).
#[derive(Args)]
struct PolicyArgs {
    /// Target average spend, US$ per 1,000 requests (default: best quality at any cost).
    #[arg(long)]
    budget: Option<f64>,
    /// Use this λ (quality per US$) instead of a budget.
    #[arg(long, conflicts_with = "budget")]
    lambda: Option<f64>,
    /// Least predicted quality (0–1, chance less margin) the choice must reach: the cheapest
    /// model that does, or the budget's choice when it does; when none does, nothing is sent.
    #[arg(long)]
    min_quality: Option<f64>,
    /// The only models that may be chosen, comma-separated (default: every pool model).
    #[arg(long, value_delimiter = ',')]
    models: Option<Vec<String>>,
    /// Put the models on this machine first (the others stay as fallbacks).
    #[arg(long)]
    prefer_local: bool,
    #[command(flatten)]
    limits: Limits,
}

impl From<PolicyArgs> for RouteOptions {
    fn from(p: PolicyArgs) -> RouteOptions {
        let max_cost = p.limits.max_cost;
        let mut constraints: Constraints = p.limits.into();
        constraints.models = p.models;
        RouteOptions {
            budget: p.budget,
            lambda: p.lambda,
            min_quality: p.min_quality,
            max_cost,
            prefer_local: p.prefer_local.then_some(true),
            constraints,
        }
    }
}

/// Reads prompts from `{"prompts": [...]}` JSON, or one per non-empty line of text.
fn read_prompts(path: &Path) -> Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    if text.trim_start().starts_with('{') {
        let file: PromptsFile = serde_json::from_str(&text)
            .with_context(|| format!("{} is not {{\"prompts\": [...]}}", path.display()))?;
        return Ok(file.prompts);
    }
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(String::from)
        .collect())
}

#[derive(serde::Deserialize)]
struct PromptsFile {
    prompts: Vec<String>,
}

/// A prediction with each pool model's estimate and what it rests on.
#[derive(serde::Serialize)]
struct PoolPrediction {
    #[serde(flatten)]
    prediction: Prediction,
    pool: Vec<PoolEstimate>,
}

#[derive(serde::Serialize)]
struct PoolEstimate {
    model: String,
    quality: f64,
    sd: f64,
    basis: routoo::Basis,
}

impl PoolPrediction {
    fn of(router: &Router, prediction: Prediction) -> PoolPrediction {
        let pool = (router.pool_estimates(&prediction).into_iter())
            .zip(router.bases())
            .map(|(q, basis)| PoolEstimate {
                model: q.model,
                quality: q.quality,
                sd: q.sd,
                basis,
            })
            .collect();
        PoolPrediction { prediction, pool }
    }
}

fn print_prediction(router: &Router, p: &Prediction) {
    println!("{}", read_line(p.tokens, p.truncated));
    println!(
        "{:<28} {:<12} {:>8} {:>7} {:>14}  estimate rests on",
        "model", "provider", "quality", "± sd", "est. US$"
    );
    let pool = router.pool();
    for ((model, q), basis) in (pool.models.iter())
        .zip(router.pool_estimates(p))
        .zip(router.bases())
    {
        let cost = routoo::cost::estimate(pool, model, p.chars, q.billing);
        println!(
            "{:<28} {:<12} {:>8.4} {:>7.4} {:>14.8}  {basis}",
            q.model, model.provider, q.quality, q.sd, cost.usd
        );
    }
}

fn print_decision(d: &Decision) {
    println!("{}", read_line(d.tokens, d.truncated));
    match d.budget {
        Some(b) => println!(
            "budget US${b} per 1k requests -> lambda {:.3} (expected US${:.4} per 1k)",
            d.lambda, d.expected_cost_per_1k
        ),
        None => println!("lambda {:.3}", d.lambda),
    }
    let c = &d.choice;
    println!(
        "choice: {} ({}) quality {:.4}, est. US${:.8} ({} in + {} out tokens)",
        c.model, c.provider, c.quality, c.cost.usd, c.cost.input_tokens, c.cost.output_tokens
    );
    println!("why: {}", d.why);
    println!();
    println!(
        "{:>4}  {:<28} {:<12} {:>8} {:>14} {:>10}",
        "rank", "model", "provider", "quality", "est. US$", "score"
    );
    for (i, c) in d.ranked.iter().enumerate() {
        println!(
            "{:>4}  {:<28} {:<12} {:>8.4} {:>14.8} {:>10.4}",
            i + 1,
            c.model,
            c.provider,
            c.quality,
            c.cost.usd,
            c.score
        );
    }
    if !d.excluded.is_empty() {
        println!();
        println!("excluded:");
        for e in &d.excluded {
            println!("  {:<28} {}", e.model, e.message);
        }
    }
}

fn print_plan(plan: &BatchPlan, prompts: &[&str]) {
    println!(
        "{} prompts: spend US${:.6} of US${} (least US${:.6}, most useful US${:.6}); \
         expected accuracy {:.4}; lambda {:.3}",
        prompts.len(),
        plan.spend,
        plan.budget_total,
        plan.min_spend,
        plan.max_spend,
        plan.expected_accuracy,
        plan.lambda
    );
    println!(
        "{:>5}  {:<28} {:>8} {:>12}  prompt",
        "#", "model", "quality", "est. US$"
    );
    for (i, (c, p)) in plan.choices.iter().zip(prompts).enumerate() {
        let short: String = p.chars().take(40).collect::<String>().replace('\n', " ");
        println!(
            "{:>5}  {:<28} {:>8.4} {:>12.8}  {short}",
            i, c.model, c.quality, c.cost.usd
        );
    }
}

fn read_line(tokens: usize, truncated: bool) -> String {
    if truncated {
        format!("read the first {tokens} tokens (prompt truncated)")
    } else {
        format!("read {tokens} tokens")
    }
}

/// What `eval` prints: the report and, with `--bootstrap`, its intervals.
#[derive(serde::Serialize)]
struct EvalOutput {
    #[serde(flatten)]
    report: Report,
    #[serde(skip_serializing_if = "Option::is_none")]
    intervals: Option<Intervals>,
}

/// A routing table's rows joined with the router's predictions for them, as `eval` and
/// `suggest-pool` read them.
fn table_inputs(router: &Router, data: &Path, models: Option<Vec<String>>) -> Result<Inputs> {
    let file = std::fs::File::open(data).with_context(|| format!("opening {}", data.display()))?;
    let table = Table::from_csv(std::io::BufReader::new(file))
        .with_context(|| format!("in {}", data.display()))?;
    let manifest = router.predictor().manifest();
    let selection = Selection::new(
        &table,
        router.pool(),
        |id| manifest.head(id).is_some(),
        models.as_deref(),
    )
    .with_context(|| format!("reading {}", data.display()))?;
    let predictions = predict_all(router, &selection.prompts(&table))?;
    let margin = router.margin_for(&selection.pool)?;
    Ok(selection.inputs(&table, &predictions, margin)?)
}

/// Most subsets `suggest-pool --check` tries.
const MAX_SUBSETS: u64 = 50_000;

/// What `suggest-pool` prints.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct SuggestReport {
    suggestion: suggest::Suggestion,
    #[serde(skip_serializing_if = "Option::is_none")]
    check: Option<SuggestCheck>,
}

/// The suggestion scored with the table's labels, against every subset.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct SuggestCheck {
    rows: usize,
    subsets_tried: usize,
    suggested_accuracy: Option<f64>,
    best_accuracy: Option<f64>,
    best_models: Option<Vec<String>>,
    /// The best the predictions alone could have found, for what greedy search costs.
    best_expected_models: Option<Vec<String>>,
}

fn suggest_pool(
    router: &Router,
    data: &Path,
    models: Option<Vec<String>>,
    budget: f64,
    k: usize,
    check: bool,
) -> Result<SuggestReport> {
    let inputs = table_inputs(router, data, models)?;
    let estimates = suggest::estimates_of(&inputs);
    let prompts = suggest::Prompts {
        pool: &inputs.pool,
        chars: &inputs.chars,
        estimates: &estimates,
        kappa: inputs.margin.kappa,
    };
    let suggestion = suggest::suggest(prompts, budget, k)?;
    if !check {
        return Ok(SuggestReport {
            suggestion,
            check: None,
        });
    }
    let n = inputs.pool.models.len();
    let count = suggest::subsets(n, k);
    anyhow::ensure!(
        count <= MAX_SUBSETS,
        "--check would try {count} subsets of {n} models; pick fewer with --models or a smaller --max-models"
    );
    let ids = |s: &[usize]| -> Vec<String> {
        s.iter()
            .map(|&m| inputs.pool.models[m].id.clone())
            .collect()
    };
    let index = |id: &str| inputs.pool.models.iter().position(|m| m.id == id);
    let chosen: Vec<usize> = (suggestion.models.iter())
        .filter_map(|a| index(&a.model))
        .collect();
    let (best, tried) =
        suggest::best_subset(n, k, |s| suggest::routed_accuracy(&inputs, s, budget));
    let (best_expected, _) =
        suggest::best_subset(n, k, |s| suggest::expected(prompts, s, budget).map(|e| e.0));
    let check = SuggestCheck {
        rows: inputs.correct.len(),
        subsets_tried: tried,
        suggested_accuracy: suggest::routed_accuracy(&inputs, &chosen, budget),
        best_accuracy: best.as_ref().map(|b| b.1),
        best_models: best.as_ref().map(|(s, _)| ids(s)),
        best_expected_models: best_expected.as_ref().map(|(s, _)| ids(s)),
    };
    Ok(SuggestReport {
        suggestion,
        check: Some(check),
    })
}

fn print_suggestion(out: &SuggestReport, budget: f64) {
    println!("at US${budget} per 1,000 requests:");
    for a in &out.suggestion.models {
        println!(
            "  + {:<32} adds {:>6.2} pt -> expected {:.2} %, US${:.4} per 1k",
            a.model,
            a.adds * 100.0,
            a.expected_accuracy * 100.0,
            a.expected_spend_per_1k
        );
    }
    if let Some(c) = &out.check {
        let pct =
            |x: Option<f64>| x.map_or("none fits".to_string(), |x| format!("{:.2} %", x * 100.0));
        println!(
            "check on {} labelled rows ({} subsets tried):",
            c.rows, c.subsets_tried
        );
        println!("  suggested pool routes to {}", pct(c.suggested_accuracy));
        println!(
            "  best pool {} routes to {}",
            c.best_models.as_deref().unwrap_or_default().join(", "),
            pct(c.best_accuracy)
        );
    }
}

/// Predicts every prompt, one thread per core (the tract plan is shared). Threads take the
/// next prompt from a shared counter, so long prompts do not pile up on one thread.
fn predict_all(router: &Router, prompts: &[&str]) -> Result<Vec<Prediction>> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = AtomicUsize::new(0);
    let results: Vec<Vec<(usize, routoo::Result<Prediction>)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(prompt) = prompts.get(i) else {
                            return out;
                        };
                        if i.is_multiple_of(1000) {
                            eprintln!("routoo: predicted {i}/{}", prompts.len());
                        }
                        out.push((i, router.predict(prompt)));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut slots: Vec<Option<Prediction>> = vec![None; prompts.len()];
    for (i, prediction) in results.into_iter().flatten() {
        slots[i] = Some(prediction.with_context(|| format!("prompt {i}"))?);
    }
    slots
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .context("a prediction thread failed")
}

fn print_eval(out: &EvalOutput) {
    print_report(&out.report);
    let Some(b) = &out.intervals else { return };
    let f = |v: Option<f64>, never: &str| v.map_or(never.to_string(), |x| format!("{x:+.4}"));
    let pair = |i: &Interval, never: &str| format!("[{}, {}]", f(i.low, never), f(i.high, never));
    println!(
        "one-sided 95 % bounds, {} draws of the rows (seed {}):",
        b.draws, b.seed
    );
    println!("  AIQ {}", pair(&b.aiq, "-"));
    for id in out.report.models.keys() {
        println!(
            "  {:<26} accuracy {}  cost to match {}  gain at cost {}",
            id,
            pair(&b.accuracy[id], "-"),
            pair(&b.cost_to_match[id], "never"),
            pair(&b.gain_at_cost[id], "none")
        );
    }
    if let (Some(a), Some(c)) = (&b.apgr, &b.apgr_by_cost) {
        println!("  APGR {}, by cost {}", pair(a, "-"), pair(c, "-"));
    }
}

fn print_report(r: &Report) {
    println!("{} rows", r.rows);
    println!(
        "{:<28} {:>9} {:>12} {:>14} {:>12}",
        "", "accuracy", "mean US$", "cost to match", "gain at cost"
    );
    for (id, s) in &r.models {
        let ctm = r.cost_to_match[id].map_or("never".to_string(), |x| format!("{x:.3}x"));
        let gain = r.gain_at_cost[id].map_or("-".to_string(), |g| format!("{g:+.4}"));
        println!(
            "{:<28} {:>9.4} {:>12.8} {:>14} {:>12}",
            id, s.accuracy, s.mean_cost, ctm, gain
        );
    }
    for (name, s) in [("oracle", &r.oracle), ("random", &r.random)] {
        println!("{:<28} {:>9.4} {:>12.8}", name, s.accuracy, s.mean_cost);
    }
    println!(
        "AIQ {:.4} (÷ largest cost, as RouterBench's code; ÷ cost range {:.4})",
        r.aiq, r.aiq_range
    );
    if let (Some(apgr), Some(by_cost)) = (r.apgr, r.apgr_by_cost) {
        let share =
            |c: Option<f64>| c.map_or("never".to_string(), |c| format!("{:.1} %", 100.0 * c));
        println!(
            "APGR {apgr:.4} (rows by predicted gain; by gain per cost {by_cost:.4}); \
             CPT(50 %) {}, CPT(80 %) {}",
            share(r.cpt50),
            share(r.cpt80)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_bundle_names_where_it_was_looked_for_and_the_way_out() {
        let places = [PathBuf::from("/nowhere/a"), PathBuf::from("/nowhere/b")];
        let message = format!("{:#}", find_bundle(&places).unwrap_err());
        for needle in ["/nowhere/a, /nowhere/b", "--bundle DIR", "ROUTOO_BUNDLE"] {
            assert!(message.contains(needle), "{needle} in {message}");
        }
    }

    #[test]
    fn the_first_place_holding_a_bundle_wins() {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("www/models");
        let places = [
            PathBuf::from("/nowhere"),
            source.clone(),
            PathBuf::from("/"),
        ];
        assert_eq!(find_bundle(&places).unwrap(), source);
    }
}
