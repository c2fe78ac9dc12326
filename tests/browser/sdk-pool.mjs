// The pool the SDK tests route over: one model per wire format on one emulator, cheapest
// first, each taking tools and answer schemas.

/** @param {string} url the emulator's origin */
export function emulatedModels(url) {
  const model = (id, provider, base, priceIn, priceOut) => ({ id, provider, apiModel: id, baseUrl: url + base,
    priceIn, priceOut, contextWindow: 128000, latencyMs: 4000, uncalibrated: true,
    supports: ["tools", "structuredOutput"] });
  return [model("oa-small", "openai", "/v1", 0.15, 0.6), model("an-mid", "anthropic", "/v1", 1, 5),
    model("ge-big", "gemini", "/v1beta", 3, 15)];
}
