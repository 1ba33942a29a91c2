/**
 * Process entry. Kept tiny and free of imports that could fail, so that even a broken
 * install answers deliver/sendmail with 75 and one line, never a stack trace or exit 1.
 */
const argv = process.argv.slice(2);
const pipeMode = process.env.SEALPOST_INVOKED_AS === "sendmail" || isPipeCommand(argv);

function isPipeCommand(args: string[]): boolean {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "-c" || a === "--config") i++;
    else if (!a.startsWith("-")) return a === "deliver" || a === "sendmail";
  }
  return false;
}

function fatal(err: unknown): never {
  if (process.env.SEALPOST_DEBUG) process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
  if (pipeMode) {
    process.stderr.write("4.3.0 sealpost: internal error\n");
    process.exit(75);
  }
  process.stderr.write(`sealpost: internal error: ${String((err as Error)?.message ?? err).split("\n")[0]}\n`);
  process.exit(1);
}

// Node's own warnings would go to stderr, which for deliver is the MTA's bounce text: one line only.
if (pipeMode && !process.env.SEALPOST_DEBUG) process.removeAllListeners("warning");
process.on("uncaughtException", fatal);
process.on("unhandledRejection", fatal);

// No top-level await: the installed command runs this file from a CommonJS bundle (start.cts).
import("./program.js")
  .then(({ runCli }) => runCli(argv, process.env.SEALPOST_INVOKED_AS ?? "sealpost", pipeMode))
  .then((code) => process.exit(code), fatal);
