/**
 * The installed command's entry (bin/sealpost starts it). sealpost runs once per message, so
 * its start-up is its speed: it runs one of two one-file bundles (made by tools/bundle.mjs) —
 * intake.cjs for deliver and sendmail, sealpost.cjs for everything else — through a V8 code
 * cache, which Node 20 has no built-in way to keep. This is the one place argv is read for
 * which command it is.
 *
 * The cache is written only by a training run (tools/train-code-cache.mjs: one real deliver, at
 * build time and, if V8 refuses the shipped cache, at npm's postinstall) so that it holds the
 * functions a delivery compiles, not just those of whatever command ran first. A cache V8
 * rejects (another node, a rebuilt bundle) costs speed, never correctness.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Script } from "node:vm";
import type { PipeCommand } from "./pipe-command.js";

interface Bundle {
  run(options: { argv: string[]; invokedAs: string; pipe?: PipeCommand; loadFull?: () => Bundle }): void;
}

const bundles = join(__dirname, "..", "..", "bundle");
const training = process.env.SEALPOST_WRITE_CODE_CACHE;

/** One bundle run through its code cache; a cache V8 rejects (another node, a rebuilt bundle) costs speed, never correctness. */
function load(name: "intake" | "sealpost"): Bundle {
  const file = join(bundles, `${name}.cjs`);
  const cacheFile = join(bundles, `${name}.v8cache`);
  const cachedData = readCache(cacheFile);
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${readFileSync(file, "utf8")}\n})`, {
    filename: file,
    cachedData,
  });
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
  const bundleModule = { exports: {} as Bundle };
  // A bundle requires only Node's builtins, so this file's own require serves (node:module stays unloaded).
  const wrapper = script.runInThisContext() as (e: Bundle, r: NodeJS.Require, m: { exports: Bundle }, f: string, d: string) => void;
  wrapper(bundleModule.exports, require, bundleModule, file, dirname(file));
  return bundleModule.exports;
}

function readCache(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

/**
 * Which pipe door argv names: deliver, or sendmail (also when started under the name "sendmail").
 * Read here once, the only place argv is read for the command, and handed to the bundle.
 */
export function pipeCommand(argv: readonly string[], invokedAs: string): PipeCommand | undefined {
  if (invokedAs === "sendmail") return { door: "sendmail", args: [...argv] };
  let config: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "-c" || a === "--config") config = argv[++i];
    else if (a.startsWith("--config=")) config = a.slice("--config=".length);
    else if (a.startsWith("-"))
      return undefined; // --help, --version: the full CLI's
    else return a === "deliver" || a === "sendmail" ? { door: a, args: argv.slice(i + 1), config } : undefined;
  }
  return undefined;
}

/** The oldest Node sealpost runs on (package.json's engines), and where to get one where apt's is older. */
const NODE_MIN = [20, 19] as const;
const NODE_ADVICE = "install Debian 13's nodejs, or Node 20 or 22 from NodeSource's repository (Debian 12 and Ubuntu 24.04 ship 18)";
/** The launcher (bin/sealpost) turns this status into deliver's and sendmail's one 4.x.x line. */
const EXIT_NODE_TOO_OLD = 3;

/**
 * Too old a Node gets one line that says so and what to install, before anything can fail in a
 * way that says less. Only syntax and built-ins every Node since 12 has are used up to here.
 */
function nodeTooOld(version: string): boolean {
  const [major = 0, minor = 0] = version.split(".").map(Number);
  return major < NODE_MIN[0] || (major === NODE_MIN[0] && minor < NODE_MIN[1]);
}

const argv = process.argv.slice(2);
const invokedAs = process.env.SEALPOST_INVOKED_AS ?? "sealpost";
const pipe = pipeCommand(argv, invokedAs);
if (nodeTooOld(process.versions.node)) {
  const why = `Node ${process.versions.node} is too old: sealpost needs Node >= ${NODE_MIN.join(".")}; ${NODE_ADVICE}`;
  process.stderr.write(pipe ? `${why}\n` : `sealpost: ${why}\n`);
  process.exit(pipe ? EXIT_NODE_TOO_OLD : 1);
}
// deliver and sendmail run once per message: the light bundle, which loads no OpenPGP or SMTP library
if (pipe) load("intake").run({ argv, invokedAs, pipe, loadFull: () => load("sealpost") });
else load("sealpost").run({ argv, invokedAs });
