// ESLint for the desk UI (dispatcher/ui: browser ES modules) and its end-to-end test (Node).
// Paths are relative to the repository root: `npm run lint` runs from there.
import js from "@eslint/js";
import globals from "globals";

export default [
  js.configs.recommended,
  {
    files: ["dispatcher/ui/**/*.js"],
    languageOptions: { ecmaVersion: "latest", sourceType: "module", globals: globals.browser },
  },
  {
    files: ["tests/ui/**/*.mjs"],
    languageOptions: {
      ecmaVersion: "latest",
      sourceType: "module",
      // Node, plus the page's `document` for the callbacks that run in the browser
      // (page.evaluate, page.waitForFunction).
      globals: { ...globals.node, document: "readonly" },
    },
  },
];
