// Build step after tsc: the CLI as two CommonJS files for start.cts, then the training run that
// writes a V8 code cache beside each (train-code-cache.mjs):
//   dist/bundle/intake.cjs    deliver and sendmail, the doors that run once per message: the
//                             build fails if OpenPGP, nodemailer, smtp-server or commander gets in
//   dist/bundle/sealpost.cjs  every command (the runner, serve, keys, ...)
// One file instead of ~150 modules saves most of a cold start (module resolution, reads, ESM
// linking); the code cache saves most of the rest (compiling).
import { build } from "esbuild";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const out = resolve(root, "dist/bundle");
/** What the light bundle must never hold: each costs a cold start tens of milliseconds. */
export const HEAVY_PACKAGES = ["openpgp", "nodemailer", "smtp-server", "commander"];

/**
 * postal-mime declares no "sideEffects", so esbuild keeps (and the intake runs at start-up) all
 * of its modules for one addressParser import: its full MIME parser with the HTML entity table.
 * Its modules only define things; marked free of side effects, what the intake does not use is
 * left out of its start-up (the classifier still loads the parser when a route needs it).
 */
const sideEffectFree = {
  name: "side-effect-free",
  setup(b) {
    b.onResolve({ filter: /^postal-mime$|postal-mime\/dist\/esm\// }, async (args) => {
      if (args.pluginData?.inner) return undefined;
      const found = await b.resolve(args.path, {
        kind: args.kind,
        resolveDir: args.resolveDir,
        importer: args.importer,
        pluginData: { inner: true },
      });
      return found.errors.length > 0 ? undefined : { path: found.path, namespace: found.namespace, sideEffects: false };
    });
  },
};

rmSync(out, { recursive: true, force: true });
for (const [entry, name] of [
  ["src/cli/main.ts", "sealpost"],
  ["src/cli/intake-main.ts", "intake"],
]) {
  const outfile = resolve(out, `${name}.cjs`);
  const { metafile } = await build({
    entryPoints: [resolve(root, entry)],
    outfile,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    minifyWhitespace: true, // not identifiers: full minification measured no faster, and traces stay readable
    minifySyntax: true,
    legalComments: "eof",
    metafile: true,
    plugins: [sideEffectFree],
    // libraries' ESM builds (openpgp) call createRequire(import.meta.url); CommonJS has no import.meta
    banner: { js: 'var __bundle_url = require("node:url").pathToFileURL(__filename).href;' },
    define: { "import.meta.url": "__bundle_url" },
    logLevel: "warning",
  });
  if (name === "intake") {
    const heavy = Object.keys(metafile.inputs).filter((input) => HEAVY_PACKAGES.some((p) => input.includes(`node_modules/${p}/`)));
    if (heavy.length > 0) {
      throw new Error(
        `bundle: the intake bundle pulls in ${[...new Set(heavy.map((i) => i.replace(/^.*node_modules\/([^/]+)\/.*$/, "$1")))].join(", ")}` +
          ` (first: ${heavy[0]}); deliver and sendmail must load none of ${HEAVY_PACKAGES.join(", ")}`,
      );
    }
    writeFileSync(resolve(out, "intake.inputs.txt"), Object.keys(metafile.inputs).sort().join("\n") + "\n");
  }
  // start.cts runs a bundle as a vm.Script, which has no loader for import(): esbuild turns
  // import() of bundled code into require, but leaves it for node builtins.
  const leftover = readFileSync(outfile, "utf8").match(/[^\w$.]import\(["'][^"']+["']\)/);
  if (leftover) throw new Error(`bundle: ${leftover[0].slice(1)} in ${name}.cjs would fail at run time; import builtins statically`);
}
writeFileSync(resolve(root, "dist/node-path"), process.execPath);
if (!process.argv.includes("--no-cache")) await (await import("./train-code-cache.mjs")).trainCodeCache();
