// typescript-eslint's strict, type-checked rules over src/ and test/ (npm run lint); formatting
// is Prettier's (npm run format:check). Where a rule is tuned, the comment says why.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "bench/", "tools/", "bin/", "eslint.config.mjs"] },
  js.configs.recommended,
  tseslint.configs.strictTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // With noUncheckedIndexedAccess every a[i] is T | undefined; after a bounds check or a
      // regex group that must exist, `!` says so in one character where a throw would add noise.
      "@typescript-eslint/no-non-null-assertion": "off",
      // Numbers in messages ("over 25 MB", "status 137") are what the messages are made of.
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true }],
      // `(c) => void x.push(c)`, `() => (done = true)` and `return cb(err)` in a callback returning void: idioms that say they return nothing.
      "@typescript-eslint/no-confusing-void-expression": ["error", { ignoreArrowShorthand: true, ignoreVoidReturningFunctions: true }],
      // `_` names what is there but not used (a loop that only drives an iterator); a rest
      // sibling is how a field is left out of a copy.
      "@typescript-eslint/no-unused-vars": ["error", { varsIgnorePattern: "^_", argsIgnorePattern: "^_", ignoreRestSiblings: true }],
      // node:test's describe/it return promises the runner itself awaits.
      "@typescript-eslint/no-floating-promises": [
        "error",
        {
          allowForKnownSafeCalls: [
            {
              from: "package",
              package: "node:test",
              name: ["describe", "it", "test", "suite", "before", "after", "beforeEach", "afterEach"],
            },
          ],
        },
      ],
    },
  },
);
