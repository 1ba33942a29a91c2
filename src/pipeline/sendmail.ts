/**
 * `sealpost sendmail`: one submitted message, committed durably and answered at once (docs/contract.md §1,
 * §5, §6). The spool's owner (root or the sealpost user) commits it through the intake; anyone
 * else writes into the drop directory, which the owner's runner takes in. Sealing and relaying
 * are the runner's.
 */
import type { Config } from "../config/schema.js";
import { SealpostError, asSealpostError, errnoOf } from "../core/errors.js";
import { Reason } from "../core/outcome.js";
import { resolveHostname } from "../core/hostname.js";
import type { Outcome } from "../core/outcome.js";
import type { SendmailArgs } from "../mail/sendmail-args.js";
import { prepareSubmission } from "./submission.js";
import { prependFields, traceFields } from "../mail/trace.js";
import { openEventLog } from "../log/event-log.js";
import { prepareDropDir, writeDrop } from "../store/drop.js";
import { submit } from "./submit.js";

export interface SendmailRequest {
  config: Config;
  input: Buffer;
  args: SendmailArgs;
  user: string;
  /** The real uid that ran sendmail (before any switch to the spool's user). */
  uid: number;
  /** Whether this process may write the spool (root, or its owner); otherwise the message goes to the drop directory. */
  ownsSpool: boolean;
  now?: Date;
}

export async function sendmail(req: SendmailRequest): Promise<Outcome> {
  try {
    const now = req.now ?? new Date();
    const hostname = resolveHostname(req.config.hostname);
    const { bytes, envelope } = prepareSubmission(req.input, req.args, { user: req.user, hostname }, now);
    if (req.ownsSpool) {
      await prepareDropDir(req.config.spoolDir); // the spool's owner sets up drop/ for users who are not
      const log = openEventLog(req.config.log);
      try {
        // Only root and the spool's own user write the spool directly; anyone else goes through drop/.
        const submitter = { uid: req.uid, user: req.user, trusted: true };
        const traced = prependFields(bytes, traceFields(submitter, envelope.sender, hostname, now));
        await submit(req.config, hostname, traced, envelope, now, { via: "sendmail", submitter, log });
      } finally {
        await log.close();
      }
    } else await writeDrop(req.config.spoolDir, envelope, bytes);
    return { kind: "spooled" };
  } catch (err) {
    const error = asSealpostError(err);
    const code = errnoOf(err);
    if (!req.ownsSpool && (code === "ENOENT" || code === "EACCES")) {
      return {
        kind: "deferred",
        error: new SealpostError(Reason.storage, "the drop directory is not set up (run `sealpost queue run` once as the spool's owner)", {
          cause: err,
        }),
      };
    }
    return { kind: "deferred", error };
  }
}
