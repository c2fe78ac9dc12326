// The demo runs the package that ships: `make demo` copies pkg/ to www/pkg/.
import init, { Router } from "./pkg/routoo.js";

const $ = (id) => document.getElementById(id);
const budgetOf = () => 10 ** Number($("budget").value);
let router;

function fmtUsd(x) {
  return x >= 0.01 ? x.toFixed(4) : x.toPrecision(3);
}

function render() {
  const prompt = $("prompt").value;
  const budget = budgetOf();
  $("budget-out").textContent = `US$${budget.toFixed(2)}`;
  $("error").hidden = true;
  if (!prompt.trim()) {
    $("choice").textContent = "Type a prompt to route it.";
    $("estimates").hidden = true;
    return;
  }
  let decision;
  try {
    decision = router.route(prompt, { budget });
  } catch (e) {
    $("error").textContent = e.message;
    $("error").hidden = false;
    return;
  }
  const c = decision.choice;
  $("choice").textContent =
    `Choice: ${c.model} (${c.provider}), predicted quality ${(c.quality * 100).toFixed(1)}%, ` +
    `est. US$${fmtUsd(c.cost.usd)}` + (decision.truncated ? " — long prompt: read its first "
    + `${decision.tokens} tokens` : "");
  const body = $("estimates").tBodies[0];
  body.replaceChildren(...decision.ranked.map((r, i) => {
    const tr = document.createElement("tr");
    if (i === 0) tr.className = "chosen";
    tr.dataset.model = r.model;
    for (const [text, num] of [[i + 1, true], [r.model], [r.provider],
      [(r.quality * 100).toFixed(1) + "%", true], [fmtUsd(r.cost.usd), true]]) {
      const td = document.createElement("td");
      td.textContent = text;
      if (num) td.className = "num";
      tr.append(td);
    }
    return tr;
  }));
  $("estimates").hidden = false;
  $("excluded").replaceChildren(...decision.excluded.map((e) => {
    const li = document.createElement("li");
    li.textContent = `${e.model}: ${e.message}`;
    return li;
  }));
}

async function main() {
  const t0 = performance.now();
  try {
    await init();
    router = await Router.load(new URL("models/predictor.json", location.href).href);
  } catch (e) {
    $("status").textContent = "The predictor could not load.";
    $("error").textContent = e.message;
    $("error").hidden = false;
    return;
  }
  $("status").textContent =
    `Predictor ready in ${Math.round(performance.now() - t0)} ms; it runs in this page.`;
  document.body.dataset.ready = "true";
  for (const id of ["prompt", "budget"]) {
    $(id).disabled = false;
    $(id).addEventListener("input", render);
  }
  render();
}

main();
