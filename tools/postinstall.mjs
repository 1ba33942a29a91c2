// npm's postinstall: remember which node installed sealpost (MTAs run pipes with PATH=/usr/bin:/bin,
// where node may not be), and make a code cache for it if the shipped one is refused. Never fails.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
try {
  mkdirSync(resolve(root, "dist"), { recursive: true });
  writeFileSync(resolve(root, "dist/node-path"), process.execPath);
  // in a git checkout, npm runs this before `prepare` builds the bundle
  if (existsSync(resolve(root, "dist/bundle/sealpost.cjs"))) {
    await (await import("./train-code-cache.mjs")).trainCodeCache(true);
  }
} catch (err) {
  console.error(`sealpost postinstall: ${err.message} (sealpost works, it may start slower)`);
}
