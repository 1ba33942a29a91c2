// Build step after tsc: the CLI as one CommonJS file (dist/bundle/sealpost.cjs) for start.cts,
// then the training run that writes the V8 code cache beside it (train-code-cache.mjs).
// One file instead of ~150 modules saves most of a cold start (module resolution, reads, ESM
// linking); the code cache saves most of the rest (compiling openpgp and nodemailer).
import { build } from "esbuild";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const outfile = resolve(root, "dist/bundle/sealpost.cjs");
rmSync(resolve(root, "dist/bundle"), { recursive: true, force: true });
await build({
  entryPoints: [resolve(root, "src/cli/main.ts")],
  outfile,
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  minifyWhitespace: true, // not identifiers: full minification measured no faster, and traces stay readable
  minifySyntax: true,
  legalComments: "eof",
  // libraries' ESM builds (openpgp) call createRequire(import.meta.url); CommonJS has no import.meta
  banner: { js: 'var __bundle_url = require("node:url").pathToFileURL(__filename).href;' },
  define: { "import.meta.url": "__bundle_url" },
  logLevel: "warning",
});
// start.cts runs the bundle as a vm.Script, which has no loader for import(): esbuild turns
// import() of bundled code into require, but leaves it for node builtins.
const leftover = readFileSync(outfile, "utf8").match(/[^\w$.]import\(["'][^"']+["']\)/);
if (leftover) throw new Error(`bundle: ${leftover[0].slice(1)} would fail at run time; import builtins statically`);
writeFileSync(resolve(root, "dist/node-path"), process.execPath);
if (!process.argv.includes("--no-cache")) await (await import("./train-code-cache.mjs")).trainCodeCache();
