// predict() at 16/128/256 tokens through the shipped wasm in headless Chromium, plus the
// package's sizes. Prints figures; asserts nothing. Run `make bench` (builds pkg/ first).
import { readFile, stat, mkdtemp } from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { serve } from "./serve.mjs";
import { launch } from "../tests/browser/chromium.mjs";

const wasmPath = "www/pkg/routoo_bg.wasm";
const raw = await readFile(wasmPath);
const kb = (n) => `${(n / 1e6).toFixed(2)} MB`;
console.log(`wasm raw ${kb(raw.length)}, gzip -9 ${kb(zlib.gzipSync(raw, { level: 9 }).length)}, ` +
  `brotli ${kb(zlib.brotliCompressSync(raw).length)}`);
// wasm-opt takes minutes on this module and is not shipped: BENCH_WASM_OPT=1 to see its size.
if (process.env.BENCH_WASM_OPT) try {
  const out = path.join(await mkdtemp(path.join(tmpdir(), "routoo-")), "opt.wasm");
  execFileSync("node_modules/.bin/wasm-opt", ["-Oz", "--enable-simd", "--enable-bulk-memory",
    "--enable-nontrapping-float-to-int", "--enable-sign-ext", "--enable-mutable-globals",
    wasmPath, "-o", out]);
  const opt = await readFile(out);
  console.log(`after wasm-opt -Oz (not shipped: slower in Chromium) ${kb(opt.length)}, ` +
    `gzip -9 ${kb(zlib.gzipSync(opt, { level: 9 }).length)}`);
} catch (e) {
  console.log(`wasm-opt unavailable: ${e.message.split("\n")[0]}`);
}
for (const f of ["encoder.onnx", "tokenizer.json", "predictor.json", "neighbours.bin"]) {
  console.log(`bundle ${f}: ${kb((await stat(`www/models/${f}`)).size)}`);
}

const { server, url } = await serve();
const browser = await launch();
const page = await browser.newPage();
await page.goto(url + "style.css");
const figures = await page.evaluate(async (base) => {
  const t0 = performance.now();
  const mod = await import(base + "pkg/routoo.js");
  await mod.default();
  const t1 = performance.now();
  const router = await mod.Router.load(base + "models/predictor.json");
  const t2 = performance.now();
  const out = { init: t1 - t0, load: t2 - t1, predict: {}, route: {} };
  const stats = (times) => {
    times.sort((a, b) => a - b);
    return { median: times[Math.floor(times.length / 2)], p90: times[Math.floor(times.length * 0.9)], min: times[0] };
  };
  for (const n of [16, 128, 256]) {
    const words = [];
    while (router.predict(words.concat("routing").join(" ")).tokens < n) words.push("routing");
    const prompt = words.concat("routing").join(" ");
    for (let i = 0; i < 3; i++) router.predict(`warm ${i} ${prompt}`);
    // A fresh prompt each time: the router reuses the last prompt's prediction.
    const times = [];
    for (let i = 0; i < 40; i++) {
      const p = `p${i} ${prompt}`;
      const s = performance.now();
      router.predict(p);
      times.push(performance.now() - s);
    }
    out.predict[n] = stats(times);
    // route = tokenise + predict + select; each prompt differs, so no prediction is reused.
    const routes = [];
    for (let i = 0; i < 40; i++) {
      const p = `${i} ${prompt}`;
      const s = performance.now();
      router.route(p, { budget: 1 });
      routes.push(performance.now() - s);
    }
    out.route[n] = stats(routes.slice(5));
  }
  return out;
}, url);
console.log(`wasm module init ${figures.init.toFixed(0)} ms; bundle fetch + load + optimise ` +
  `${figures.load.toFixed(0)} ms`);
for (const [n, t] of Object.entries(figures.predict)) {
  const r = figures.route[n];
  console.log(`chromium wasm ${n} tokens: predict median ${t.median.toFixed(2)} ms ` +
    `(p90 ${t.p90.toFixed(2)}, 40 runs); route median ${r.median.toFixed(2)} ms ` +
    `(p90 ${r.p90.toFixed(2)}, 35 runs)`);
}
await browser.close();
server.close();
