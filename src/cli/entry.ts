/**
 * Where this process was started from. Both entries, start.cjs (bundle, installed command) and
 * main.js (plain tsc output), live in dist/src/cli/, so the package's top folder is three up;
 * import.meta cannot say it, since the bundle is CommonJS.
 */
import { dirname, join, resolve } from "node:path";

export function entryScript(): string {
  return resolve(process.argv[1]!);
}

/** A file of the installed package (bin/sealpost, examples/…). */
export function packageFile(relative: string): string {
  return join(dirname(entryScript()), "..", "..", "..", relative);
}
