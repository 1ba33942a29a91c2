/**
 * The installed command's entry (bin/sealpost starts it). sealpost runs once per message, so
 * its start-up is its speed: it runs the one-file bundle (dist/bundle/sealpost.cjs, made by
 * tools/bundle.mjs) through a V8 code cache, which Node 20 has no built-in way to keep.
 *
 * The cache is written only by a training run (tools/train-code-cache.mjs: one real deliver, at
 * build time and, if V8 refuses the shipped cache, at npm's postinstall) so that it holds the
 * functions a delivery compiles, not just those of whatever command ran first. A cache V8
 * rejects (another node, a rebuilt bundle) costs speed, never correctness.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Script } from "node:vm";

const bundle = join(__dirname, "..", "..", "bundle", "sealpost.cjs");
const cacheFile = join(dirname(bundle), "sealpost.v8cache");

function readCache(): Buffer | undefined {
  try {
    return readFileSync(cacheFile);
  } catch {
    return undefined;
  }
}

const cachedData = readCache();
const script = new Script(`(function (exports, require, module, __filename, __dirname) {${readFileSync(bundle, "utf8")}\n})`, {
  filename: bundle,
  cachedData,
});

const training = process.env.SEALPOST_WRITE_CODE_CACHE;
if (training === "1" || (training === "if-rejected" && (!cachedData || script.cachedDataRejected))) {
  // at exit, so that the cache also holds what was compiled lazily while the command ran
  process.once("exit", () => {
    const tmp = `${cacheFile}.${process.pid}`;
    try {
      writeFileSync(tmp, script.createCachedData());
      renameSync(tmp, cacheFile);
    } catch {
      // a read-only install keeps the cache it has (or none): slower, still correct
    }
  });
}

const bundleModule = { exports: {} };
script.runInThisContext()(bundleModule.exports, createRequire(bundle), bundleModule, bundle, dirname(bundle));
