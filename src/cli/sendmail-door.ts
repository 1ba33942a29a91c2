/**
 * `sealpost sendmail ARGS` and the same binary started as `sendmail` (docs/contract.md §1): the process side.
 * Reads stdin to EOF, commits (message, local copy, entry), answers 0 or EX_TEMPFAIL, and makes sure a
 * runner relays it — so cron, fail2ban and a pam_exec login hook are not kept waiting.
 */
import type * as Os from "node:os";
import { configPath } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { asSealpostError } from "../core/errors.js";
import { readPipeConfig } from "../config/pipe-config.js";
import { parseSendmailArgs, SendmailUsageError, type SendmailArgs } from "../mail/sendmail-args.js";
import { sendmail } from "../pipeline/sendmail.js";
import type { DoorOptions } from "./deliver-door.js";
import { readStdin } from "./io.js";
import { answer, pipeFailure } from "./pipe-answer.js";
import { listQueue } from "./queue-list.js";
import { ensureRunner } from "./runner-start.js";
import { enterSpool } from "./spool-user.js";
import { lazy } from "../core/builtin.js";
import { EX_TEMPFAIL } from "../core/outcome.js";

const os = lazy<typeof Os>("node:os");

const HELP = `Usage: sealpost sendmail [flags] [recipient...] < message
       /usr/sbin/sendmail [flags] [recipient...] < message   (a link to sealpost)

sendmail-compatible submission for hosts without an MTA: commits the message to the spool,
keeps the local copy, answers 0 (or ${EX_TEMPFAIL}: try again later) at once; a background queue run
seals and relays it. Flags: -f/-r SENDER, -F NAME, -t, -i/-oi, -B TYPE, -C FILE, --, -bp, -q,
-bi; anything else is ignored (refusing would lose the caller's mail).

Examples:
  echo "Subject: test" | sealpost sendmail -oi root
  /usr/sbin/sendmail -FCronDaemon -i -B8BITMIME -oem root < cron-output   (as cronie calls it)
  sendmail -f fail2ban@web01.example.org root < ban-notice                (as fail2ban calls it)
  sendmail -bp                                                            (the queue, as mailq)
`;

export async function sendmailDoor(argv: readonly string[], configOption: string | undefined, options: DoorOptions): Promise<number> {
  if (argv.length === 1 && argv[0] === "--help") {
    // no caller passes it; -h is sendmail's hop count
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
  let config: Config;
  try {
    config = readPipeConfig(file);
  } catch (err) {
    return answer({ kind: "deferred", error: asSealpostError(err) });
  }
  if (args.mode === "nothing") return 0;
  if (args.mode === "list-queue") return listQueue(config, false);
  const uid = process.getuid?.() ?? 0; // who ran us, before any switch to the spool's user
  const user = invokingUser();
  let ownsSpool: boolean;
  try {
    ownsSpool = (await enterSpool(config)) === "write";
  } catch (err) {
    return answer({ kind: "deferred", error: asSealpostError(err) });
  }
  if (args.mode === "run-queue") {
    if (!options.heavy) return options.handOver!(); // a spool pass seals and relays: the full bundle's
    await options.heavy.runQueue(config);
    return 0;
  }
  const input = await readStdin(); // to EOF: if we are killed before it, nothing was committed
  const outcome = await sendmail({ config, input, args, user, uid, ownsSpool });
  if (outcome.kind !== "deferred" && ownsSpool) await ensureRunner(config.spoolDir, file);
  return answer(outcome);
}

function invokingUser(): string {
  try {
    return os().userInfo().username;
  } catch {
    return process.env.LOGNAME || process.env.USER || `uid${process.getuid?.() ?? "unknown"}`;
  }
}
