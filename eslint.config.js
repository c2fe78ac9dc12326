// ESLint over the project's own JavaScript: the page, the npm package's JS layer, the
// extension, the scripts and the browser tests (`make lint`). Generated and vendored files
// are left out.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["www/pkg/", "pkg/", "target/", "node_modules/", "training/", "fuzz/"] },
  js.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2024, sourceType: "module" },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      "no-unused-vars": ["error", { argsIgnorePattern: "^_", caughtErrors: "none" }],
      eqeqeq: ["error", "always"],
      "no-var": "error",
      "prefer-const": "error",
    },
  },
  // The page and its worker, the package's layer (browser, worker and Node), the extension.
  {
    files: ["www/**/*.js", "src/js/**/*.js", "extension/**/*.js"],
    languageOptions: { globals: { ...globals.browser, ...globals.worker, chrome: "readonly" } },
  },
  { files: ["www/sw.js"], languageOptions: { globals: globals.serviceworker } },
  { files: ["scripts/**/*.mjs", "tests/**/*.mjs", "eslint.config.js"], languageOptions: { globals: globals.node } },
  // Test pages run code in the browser through Playwright.
  {
    files: ["tests/browser/**/*.mjs"],
    languageOptions: { globals: { ...globals.node, ...globals.browser, chrome: "readonly" } },
  },
];
