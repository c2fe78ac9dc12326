// A TypeScript user of the published package: compiles only if routoo.d.ts describes the API.
import init, { Router, type AskCall, type AskEvent, type ObservedOutput, type Reply, type RouteOptions } from "../../pkg/routoo.js";

export async function main(out: HTMLElement): Promise<number> {
  await init();
  // Optional arguments may be left out, as in JavaScript.
  const router: Router = await Router.load("/models/predictor.json");
  const choice: string = router.route("What is 2 + 2?").choice.model;
  router.setPool({ models: [] });
  const quiet: Promise<Reply> = router.ask(choice);
  const stop = new AbortController();
  const events: AskEvent[] = [];
  const call: AskCall = {
    keys: { openai: "sk-..." },
    maxTokens: 256,
    signal: stop.signal,
    onText: (text: string) => out.append(text),
    onEvent: (e: AskEvent) => {
      events.push(e);
      if (e.type === "failed" && e.next === "retry") console.log(e.waitMs);
    },
  };
  const options: RouteOptions = { budget: 1, providers: ["openai", "anthropic"], maxLatencyMs: 8000 };
  const plan = router.routeBatch(["a", "b"], 0.01, { exclude: ["gpt-4-1106-preview"] });
  const spent: number = plan.spend;
  const reasons: string[] = router.route("hi", options).excluded.map((e) =>
    e.reason.kind === "noKey" ? e.reason.provider : e.message);
  const point = router.curvePoint(1);
  const accuracy: number = point?.quality ?? 0;
  const limit: number = Router.askDefaults().maxTokens;
  const habit: ObservedOutput = Router.observeOutput(null, 700);
  const writes: number = Router.observeOutput(habit, 1300).meanTokens;
  console.log(writes);
  const chat = [{ role: "user" as const, content: "Hi" }];
  const decided: number = router.route(chat).choice.cost.usd;
  console.log(spent, reasons, accuracy, limit, decided);
  const reply: Reply = await router.ask("Explain SSE in one line.", options, call);
  const tokens: number = reply.answer.usage?.outputTokens ?? 0;
  const cost: number = reply.cost ?? reply.estimatedCost;
  const tried: string[] = reply.attempts.map((a) => `${a.model}: ${a.error}`);
  console.log(reply.model, reply.answer.text, reply.note, tried, tokens);
  await quiet.catch(() => undefined);
  return cost;
}
