// The shipped wasm package in headless Chromium: the JS API, and parity with native.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { serve, WWW } from "../../scripts/serve.mjs";
import { launch } from "./chromium.mjs";

const fixture = async (name) =>
  JSON.parse(await readFile(new URL(`../fixtures/${name}`, import.meta.url), "utf8"));

let server, url, browser, page;

before(async () => {
  // A page of its own, not the demo: no demo policy limits where it may connect.
  ({ server, url } = await serve(0, WWW, { policy: false }));
  browser = await launch();
  page = await browser.newPage();
  page.on("pageerror", (e) => console.error("page error:", e));
  await page.goto(url + "style.css"); // any same-origin page: the package is imported below
  await page.evaluate(async (base) => {
    const mod = await import(base + "pkg/routoo.js");
    await mod.default();
    window.routoo = mod;
    window.router = await mod.Router.load(base + "models/predictor.json");
  }, url);
});

after(async () => {
  await browser?.close();
  server?.close();
});

test("predictions match the native fixture within 9e-5", async () => {
  const { prompts } = await fixture("prompts.json");
  const expected = await fixture("expected.json");
  const got = await page.evaluate((ps) => ps.map((p) => window.router.predict(p)), prompts);
  assert.equal(got.length, expected.length);
  let worst = 0;
  got.forEach((g, i) => {
    assert.equal(g.truncated, expected[i].truncated);
    assert.equal(g.tokens, expected[i].tokens);
    // The bundle's heads come first; heads the router placed from its pool follow.
    assert.ok(g.quality.length >= expected[i].quality.length);
    expected[i].quality.forEach((w, j) => {
      assert.equal(g.quality[j].model, w.model);
      worst = Math.max(worst, Math.abs(g.quality[j].quality - w.quality));
    });
  });
  console.log(`largest |native - wasm| through the JS API: ${worst.toExponential(2)}`);
  assert.ok(worst <= 9e-5, `worst delta ${worst}`);
});

test("route returns plain objects: choice, ranked, excluded", async () => {
  const d = await page.evaluate(() => window.router.route("Write a haiku about routers.", {
    budget: 1, providers: ["openai", "together"], maxLatencyMs: 8000,
  }));
  assert.equal(d.choice.model, d.ranked[0].model);
  assert.ok(["openai", "together"].includes(d.choice.provider));
  assert.ok(d.excluded.length > 0);
  for (const e of d.excluded) assert.ok(typeof e.message === "string" && e.message.length > 0);
  assert.ok(d.ranked.every((c) => c.cost.usd >= 0 && c.quality >= 0 && c.quality <= 1));
  const pool = await page.evaluate(() => window.router.pool());
  assert.equal(d.ranked.length + d.excluded.length, pool.models.length);
});

test("the declared types describe what every method returns (a --strict compile of real outputs)", async () => {
  const outputs = await page.evaluate(() => {
    const r = window.router;
    return {
      Prediction: r.predict("Prove Fermat's little theorem."),
      // Every kind of exclusion: no key, over the latency and the cost limits, excluded, and a
      // prompt too long for the small context windows.
      Decision: r.route("Prove it. ".repeat(2500), { budget: 1, providers: ["openai", "together"],
        maxLatencyMs: 8000, maxCostPerRequest: 0.005, exclude: ["gpt-4o-2024-05-13"] }),
      BatchPlan: r.routeBatch(["What is 2+2?", "Prove it."], 0.01),
      BudgetCurve: r.curve(),
      CurvePoint: r.curvePoint(1),
      Pool: r.pool(),
      "ModelQuality[]": r.poolEstimates("hi"),
      Suggestion: r.suggestPool(1, 2),
      AskDefaults: window.routoo.Router.askDefaults(),
      ObservedOutput: window.routoo.Router.observeOutput(window.routoo.Router.observeOutput(null, 700), 1300),
    };
  });
  assert.deepEqual(outputs.ObservedOutput, { answers: 2, meanTokens: 1000 });
  const kinds = new Set(outputs.Decision.excluded.map((e) => e.reason.kind));
  assert.deepEqual([...kinds].sort(), ["contextWindow", "excluded", "maxCost", "maxLatency", "noKey"]);
  const names = Object.keys(outputs).map((t) => t.replace("[]", ""));
  const source = `import type { ${names.join(", ")} } from "../../pkg/routoo.js";\n` +
    Object.entries(outputs).map(([type, value], i) => `export const v${i}: ${type} = ${JSON.stringify(value)};`).join("\n");
  const dir = new URL("../../target/types-check/", import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL("outputs.ts", dir), source);
  let out = "";
  try {
    execFileSync("npx", ["--no-install", "tsc", "--noEmit", "--strict", "--target", "es2022", "--module", "es2022",
      "--moduleResolution", "bundler", "--lib", "es2022,esnext.disposable,dom", fileURLToPath(new URL("outputs.ts", dir))],
    { encoding: "utf8", stdio: "pipe" });
  } catch (e) {
    out = e.stdout || e.message;
  }
  assert.equal(out, "", "every output fits its type, with no field the type leaves out");
});

test("a record of billed output is refused, as an Error naming it, when no answers could make it", async () => {
  const refused = await page.evaluate(() => {
    const { Router } = window.routoo;
    const why = (previous, tokens) => {
      try { Router.observeOutput(previous, tokens); return null; } catch (e) {
        return e instanceof Error ? e.message : `not an Error: ${e}`;
      }
    };
    return [why(null, -1), why(null, 1.5), why(null, Number.NaN), why({ answers: 0, meanTokens: 3 }, 1),
      why({ answers: 1, meanTokens: -3 }, 1), why({ answers: 1, meanTokens: 3, extra: 1 }, 1), why("many", 1)];
  });
  assert.match(refused[0], /outputTokens is -1/);
  assert.match(refused[1], /outputTokens is 1.5/);
  assert.match(refused[2], /outputTokens is NaN/);
  assert.match(refused[3], /invalid observedOutput: answers is 0/);
  assert.match(refused[4], /invalid observedOutput: meanTokens is -3/);
  assert.match(refused[5], /invalid observedOutput: .*extra/);
  assert.match(refused[6], /invalid observedOutput/);
});

test("routeBatch keeps a batch within its total budget", async () => {
  const plans = await page.evaluate(() => {
    const prompts = ["What is 2+2?", "Prove that there are infinitely many primes.",
      "Write a Rust function that reverses a linked list.", "Translate 'good night' to French."];
    const r = window.router;
    const providers = { providers: ["openai", "together"] }; // models that bill
    const widest = r.routeBatch(prompts, 1e9, providers);
    const budgets = [0, 0.1, 0.3, 0.6, 1].map(
      (t) => widest.minSpend + t * (widest.maxSpend - widest.minSpend));
    return budgets.map((b) => r.routeBatch(prompts, b, providers))
      .concat([widest]);
  });
  for (const p of plans) {
    assert.equal(p.choices.length, 4);
    assert.ok(p.spend <= p.budgetTotal, `spent ${p.spend} of ${p.budgetTotal}`);
  }
  for (let i = 1; i < 5; i++) {
    assert.ok(plans[i].expectedAccuracy >= plans[i - 1].expectedAccuracy);
    assert.ok(plans[i].choices.every((c) => ["openai", "together"].includes(c.provider)));
  }
  const err = await page.evaluate(() => {
    try { window.router.routeBatch(["hi"], -1); return null; } catch (e) {
      return { isError: e instanceof Error, message: e.message };
    }
  });
  assert.ok(err && err.isError);
  assert.match(err.message, /budget-total/);
});

test("minQuality takes the cheapest model that reaches it, and above every model throws naming the closest", async () => {
  const out = await page.evaluate(() => {
    const r = window.router;
    const prompt = "Prove that the square root of 2 is irrational.";
    const value = (c) => c.quality - c.margin;
    const all = r.route(prompt).ranked;
    const values = all.map(value);
    const min = (Math.max(...values) + Math.min(...values)) / 2;
    const d = r.route(prompt, { minQuality: min });
    let error = null;
    try { r.route(prompt, { minQuality: Math.min(1, Math.max(...values) + 0.001) }); } catch (e) {
      error = { isError: e instanceof Error, message: e.message };
    }
    const best = all.reduce((a, b) => (value(b) > value(a) ? b : a));
    return {
      min, choice: d.choice, ranked: d.ranked, excluded: d.excluded, error, best: best.model,
      cheaperAbove: all.filter((c) => value(c) >= min && c.cost.usd < d.choice.cost.usd).length,
    };
  });
  assert.ok(out.choice.quality - out.choice.margin >= out.min);
  assert.equal(out.cheaperAbove, 0, "a cheaper model reached the bar");
  assert.ok(out.ranked.every((c) => c.quality - c.margin >= out.min));
  assert.ok(out.excluded.some((e) => e.reason.kind === "belowMinQuality" && e.reason.min === out.min));
  assert.ok(out.error && out.error.isError, "no Error above every model");
  assert.ok(out.error.message.includes(`the closest is ${out.best} at`), out.error.message);
});

test("failures are JS Errors with clear messages", async () => {
  const errors = await page.evaluate(async (base) => {
    const r = window.router;
    const caught = async (f) => {
      try { await f(); return null; } catch (e) {
        return { isError: e instanceof Error, message: e.message };
      }
    };
    return {
      empty: await caught(() => r.route("   ")),
      options: await caught(() => r.route("hi", { budget: "cheap" })),
      typo: await caught(() => r.route("hi", { budjet: 1 })),
      unknown: await caught(() => r.route("hi", { exclude: ["gpt-5"] })),
      pool: await caught(() => window.routoo.Router.load(base + "models/predictor.json", "{bad")),
      fetch: await caught(() => window.routoo.Router.load(base + "models/missing.json")),
      bytes: await caught(() => window.routoo.Router.fromBytes(
        new TextEncoder().encode("{}"), new Uint8Array(), new Uint8Array(), new Uint8Array())),
    };
  }, url);
  for (const [name, e] of Object.entries(errors)) {
    assert.ok(e, `${name} did not throw`);
    assert.ok(e.isError, `${name} threw a non-Error`);
  }
  assert.match(errors.empty.message, /empty/);
  assert.match(errors.options.message, /invalid route options/);
  assert.match(errors.typo.message, /invalid route options: .*unknown field `budjet`/);
  assert.match(errors.unknown.message, /gpt-5/);
  assert.match(errors.pool.message, /invalid pool/);
  assert.match(errors.fetch.message, /missing\.json.*404/);
  assert.match(errors.bytes.message, /not a routoo predictor/);
  // The module survives every failure.
  const ok = await page.evaluate(() => window.router.route("Still alive?").choice.model);
  assert.ok(ok.length > 0);
});
