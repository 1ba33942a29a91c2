/**
 * What deliver and sendmail say: nothing and 0, or exactly one line and EX_TEMPFAIL (docs/contract.md §6). Their
 * stderr is the MTA's bounce text. Written to descriptor 2 directly: process.stderr would load
 * the streams for one line.
 */
import { writeSync } from "node:fs";
import { EX_TEMPFAIL, Reason, pipeAnswer, tempfailLine, type Outcome } from "../core/outcome.js";

function stderr(text: string): void {
  writeSync(2, text);
}

export function answer(outcome: Outcome): number {
  const { exitCode, stderr: line } = pipeAnswer(outcome);
  if (line) stderr(line);
  if (process.env.SEALPOST_DEBUG && outcome.kind === "deferred")
    stderr(`${String(outcome.error.cause instanceof Error ? outcome.error.cause.stack : outcome.error.cause)}\n`);
  return exitCode;
}

/** deliver/sendmail's answer when it cannot even start (bad flags): EX_TEMPFAIL and one line, so the MTA retries. */
export function pipeFailure(message: string): number {
  stderr(tempfailLine({ reason: Reason.config, publicMessage: message.split("\n")[0] ?? "" }));
  return EX_TEMPFAIL;
}
