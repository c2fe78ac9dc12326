// routoo's route (tokenise + predict + select) next to transformers.js (onnxruntime-web, one
// thread) computing the same encoder's output, z, from the same prompts, in one headless
// Chromium page. Prints figures; asserts nothing. `make bench` installs benches/web first.
import { cp, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { serve, WWW } from "./serve.mjs";
import { launch } from "../tests/browser/chromium.mjs";

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
const TJS = path.join(ROOT, "benches/web/node_modules/@huggingface/transformers/dist");
const ORT = path.join(ROOT, "benches/web/node_modules/onnxruntime-web/dist");
const site = path.join(ROOT, "target/bench-web");

// One directory to serve: the shipped package and bundle, transformers.js, onnxruntime-web's
// wasm, and the bundle's encoder laid out as a transformers.js model (a BERT tokenizer).
await mkdir(path.join(site, "model/routoo/onnx"), { recursive: true });
await cp(path.join(WWW, "pkg"), path.join(site, "pkg"), { recursive: true });
await cp(path.join(WWW, "models"), path.join(site, "models"), { recursive: true });
await cp(TJS, path.join(site, "tjs"), { recursive: true });
await cp(ORT, path.join(site, "ort"), { recursive: true });
const manifest = JSON.parse(await readFile(path.join(WWW, "models/predictor.json"), "utf8"));
const maxTokens = manifest.encoder.max_tokens;
await cp(path.join(WWW, "models/encoder.onnx"), path.join(site, "model/routoo/onnx/model.onnx"));
await cp(path.join(WWW, "models/tokenizer.json"), path.join(site, "model/routoo/tokenizer.json"));
await writeFile(path.join(site, "model/routoo/config.json"), JSON.stringify({
  model_type: "bert", architectures: ["BertModel"], vocab_size: 30522, hidden_size: manifest.encoder.dim,
}));
await writeFile(path.join(site, "model/routoo/tokenizer_config.json"), JSON.stringify({
  tokenizer_class: "BertTokenizer", do_lower_case: true, model_max_length: maxTokens,
  cls_token: "[CLS]", sep_token: "[SEP]", pad_token: "[PAD]", unk_token: "[UNK]", mask_token: "[MASK]",
}));

const { server, url } = await serve(0, site, { policy: false });
const browser = await launch();
const page = await browser.newPage();
page.on("pageerror", (e) => console.error(`page error: ${e}`));
await page.goto(url + "models/predictor.json");
const figures = await page.evaluate(async ({ base, maxTokens }) => {
  const mod = await import(base + "pkg/routoo.js");
  await mod.default();
  const router = await mod.Router.load(base + "models/predictor.json");
  const tjs = await import(base + "tjs/transformers.js");
  tjs.env.allowRemoteModels = false;
  tjs.env.allowLocalModels = true;
  tjs.env.localModelPath = "/model/"; // a path, not a URL: transformers.js fetches paths as local files
  tjs.env.backends.onnx.wasm.wasmPaths = base + "ort/";
  tjs.env.backends.onnx.wasm.numThreads = 1;
  const tokenizer = await tjs.AutoTokenizer.from_pretrained("routoo");
  const model = await tjs.AutoModel.from_pretrained("routoo", { dtype: "fp32", device: "wasm" });
  const median = (t) => t.sort((a, b) => a - b)[Math.floor(t.length / 2)];
  const out = {};
  for (const n of [16, 128, 512]) {
    const words = [];
    while (router.predict(words.join(" ") + " routing").tokens < Math.min(n, maxTokens)) words.push("routing");
    while (words.length < n - 2) words.push("routing");
    const prompt = words.join(" ");
    const tokens = router.predict(prompt).tokens;
    const ours = [], theirs = [];
    let agree = 0;
    for (let i = 0; i < 45; i++) {
      const p = `p${i} ${prompt}`;
      let s = performance.now();
      router.route(p, { budget: 1 });
      const a = performance.now() - s;
      s = performance.now();
      const inputs = tokenizer(p, { truncation: true, max_length: maxTokens });
      const result = await model(inputs);
      const b = performance.now() - s;
      if (i >= 5) { ours.push(a); theirs.push(b); }
      if (i === 0) {
        const z = Array.from(Object.values(result)[0].data);
        agree = z.length;
      }
    }
    out[n] = { tokens, route: median(ours), transformers: median(theirs), zDims: agree };
  }
  return out;
}, { base: url, maxTokens });
for (const [n, f] of Object.entries(figures)) {
  console.log(`${n} tokens (${f.tokens} after truncation at ${maxTokens}): routoo route ` +
    `${f.route.toFixed(2)} ms, transformers.js encoder alone ${f.transformers.toFixed(2)} ms ` +
    `(z of ${f.zDims}); ratio ${(f.route / f.transformers).toFixed(2)}x (median of 40)`);
}
await browser.close();
server.close();
