/**
 * `sealpost sendmail ARGS` and the same binary started as `sendmail` (SPEC §1): the process side.
 * Reads stdin to EOF, commits, answers 0 or 75, and starts a background queue run that makes the
 * local copy and relays — so cron, fail2ban and a pam_exec login hook are not kept waiting.
 */
import { userInfo } from "node:os";
import { startBackgroundRun } from "./background-run.js";
import { configPath } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { asSealpostError } from "../core/errors.js";
import { pipeAnswer } from "../core/outcome.js";
import { parseSendmailArgs, SendmailUsageError, type SendmailArgs } from "../core/sendmail-args.js";
import { readStdin } from "./io.js";
import { pipeFailure } from "./program.js";
import { listQueue } from "./queue-command.js";
import { enterSpool } from "./spool-user.js";

const HELP = `Usage: sealpost sendmail [flags] [recipient...] < message
       /usr/sbin/sendmail [flags] [recipient...] < message   (a link to sealpost)

sendmail-compatible submission for hosts without an MTA: commits the message to the spool,
keeps the local copy, answers 0 (or 75: try again later) at once; a background queue run
seals and relays it. Flags: -f/-r SENDER, -F NAME, -t, -i/-oi, -B TYPE, -C FILE, --, -bp, -q,
-bi; anything else is ignored (refusing would lose the caller's mail).

Examples:
  echo "Subject: test" | sealpost sendmail -oi root
  /usr/sbin/sendmail -FCronDaemon -i -B8BITMIME -oem root < cron-output   (as cronie calls it)
  sendmail -f fail2ban@web01.example.org root < ban-notice                (as fail2ban calls it)
  sendmail -bp                                                            (the queue, as mailq)
`;

export async function runSendmail(argv: string[], configOption: string | undefined): Promise<number> {
  if (argv.length === 1 && argv[0] === "--help") { // no caller passes it; -h is sendmail's hop count
    process.stdout.write(HELP);
    return 0;
  }
  let args: SendmailArgs;
  try {
    args = parseSendmailArgs(argv);
  } catch (err) {
    if (err instanceof SendmailUsageError) return pipeFailure(err.message);
    throw err;
  }
  const file = configPath(args.config ?? configOption, process.env);
  const { readPipeConfig } = await import("../core/pipe-config.js");
  let config: Config;
  try {
    config = readPipeConfig(file);
  } catch (err) {
    process.stderr.write(pipeAnswer({ kind: "deferred", error: asSealpostError(err) }).stderr);
    return 75;
  }
  if (args.mode === "nothing") return 0;
  if (args.mode === "list-queue") return listQueue(config, false);
  const uid = process.getuid?.() ?? 0; // who ran us, before any switch to the spool's user
  const user = invokingUser();
  let ownsSpool: boolean;
  try {
    ownsSpool = (await enterSpool(config)) === "write";
  } catch (err) {
    process.stderr.write(pipeAnswer({ kind: "deferred", error: asSealpostError(err) }).stderr);
    return 75;
  }
  if (args.mode === "run-queue") {
    const { runQueue } = await import("../core/queue-run.js");
    await runQueue(config, { lockWaitMs: 30_000 });
    return 0;
  }
  const input = await readStdin(); // to EOF: if we are killed before it, nothing was committed
  const { sendmail } = await import("../core/sendmail.js");
  const outcome = await sendmail({ config, input, args, user, uid, ownsSpool });
  const answer = pipeAnswer(outcome);
  if (answer.stderr) process.stderr.write(answer.stderr);
  if (answer.exitCode === 0 && ownsSpool) startBackgroundRun(file);
  return answer.exitCode;
}

function invokingUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.LOGNAME || process.env.USER || `uid${process.getuid?.() ?? "unknown"}`;
  }
}
