/**
 * What keeps the process's promises whatever goes wrong: deliver and sendmail answer EX_TEMPFAIL with one
 * line, never a stack trace or another status (an MTA bounces root's mail on anything else).
 * Node's own warnings would go to stderr, which for them is the MTA's bounce text: silenced.
 */
import { EX_TEMPFAIL, Reason, tempfailLine } from "../core/outcome.js";

export function guardProcess(pipe: boolean): void {
  const fatal = (err: unknown): never => {
    if (process.env.SEALPOST_DEBUG) process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    if (pipe) {
      process.stderr.write(tempfailLine({ reason: Reason.internal, publicMessage: "internal error" }));
      process.exit(EX_TEMPFAIL);
    }
    process.stderr.write(`sealpost: internal error: ${(err instanceof Error ? err.message : String(err)).split("\n")[0] ?? ""}\n`);
    process.exit(1);
  };
  if (pipe && !process.env.SEALPOST_DEBUG) process.removeAllListeners("warning");
  process.removeAllListeners("uncaughtException");
  process.removeAllListeners("unhandledRejection");
  process.on("uncaughtException", fatal);
  process.on("unhandledRejection", fatal);
}

/** Ends the process with the command's status, or as `guardProcess` does when it failed. */
export function finish(run: Promise<number>): void {
  run.then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.emit("uncaughtException", err instanceof Error ? err : new Error(String(err)));
    },
  );
}
