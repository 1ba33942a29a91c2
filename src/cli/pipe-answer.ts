/** What deliver and sendmail say: nothing and 0, or exactly one line and 75 (SPEC §6). Their stderr is the MTA's bounce text. */
import { pipeAnswer, type Outcome } from "../core/outcome.js";

export function answer(outcome: Outcome): number {
  const { exitCode, stderr } = pipeAnswer(outcome);
  if (stderr) process.stderr.write(stderr);
  if (process.env.SEALPOST_DEBUG && outcome.kind === "deferred") {
    process.stderr.write(`${String((outcome.error.cause as Error)?.stack ?? outcome.error.cause)}\n`);
  }
  return exitCode;
}

/** deliver/sendmail's answer when it cannot even start (bad flags): 75 and one line, so the MTA retries. */
export function pipeFailure(message: string): number {
  process.stderr.write(`4.3.5 sealpost: ${message.split("\n")[0]}\n`);
  return 75;
}
