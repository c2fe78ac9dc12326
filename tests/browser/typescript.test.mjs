// The package's TypeScript types: a typed consumer compiles under --strict, and a misuse fails.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const consumer = fileURLToPath(new URL("../package/consumer.ts", import.meta.url));
const tsc = (file) => {
  try {
    execFileSync("npx", ["--no-install", "tsc", "--noEmit", "--strict", "--target", "es2022",
      "--module", "es2022", "--moduleResolution", "bundler", "--lib", "es2022,esnext.disposable,dom", file],
    { encoding: "utf8", stdio: "pipe" });
    return "";
  } catch (e) {
    return e.stdout || e.message;
  }
};

test("a typed consumer of Router.ask compiles against pkg/routoo.d.ts", () => {
  assert.equal(tsc(consumer), "");
});

test("a wrong use of the types does not compile", () => {
  // Next to consumer.ts so its import path holds; `maxTokens` must be a number.
  const bad = consumer.replace("consumer.ts", `bad-${process.pid}.ts`);
  writeFileSync(bad, readFileSync(consumer, "utf8").replace("maxTokens: 256", 'maxTokens: "256"'));
  try {
    assert.match(tsc(bad), /error TS2322: Type 'string' is not assignable to type 'number'/);
  } finally {
    rmSync(bad, { force: true });
  }
});

test("a misspelt field of route()'s result does not compile", () => {
  const bad = consumer.replace("consumer.ts", `misspelt-${process.pid}.ts`);
  const source = readFileSync(consumer, "utf8");
  assert.ok(source.includes(".choice.model"));
  writeFileSync(bad, source.replace(".choice.model", ".choise.model"));
  try {
    assert.match(tsc(bad), /error TS2551: Property 'choise' does not exist on type 'Decision'/);
  } finally {
    rmSync(bad, { force: true });
  }
});
