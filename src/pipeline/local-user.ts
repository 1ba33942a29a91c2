/**
 * A local user's submission, whichever door it came through (a drop file from `sendmail`, a
 * loopback connection to `serve`): who it is by the uid the kernel gives, whether that user is
 * trusted (root, or the spool's own user: any sender, the host's signature), and the hourly quota
 * that keeps any other user from filling the disk or burying root's alerts.
 */
import type { Config } from "../config/schema.js";
import { userName } from "../core/passwd.js";
import type { Submitter } from "../mail/trace.js";
import { writeNotice } from "../store/notice.js";
import { dropDir } from "../store/drop.js";
import type { UserQuota } from "../store/user-quota.js";

/** `uid` -1: not known, and so not trusted. */
export function localSubmitter(uid: number, spoolOwner: number): Submitter {
  return { uid, user: uid >= 0 ? userName(uid) : undefined, trusted: uid === 0 || uid === spoolOwner };
}

/** Whether an untrusted user's `bytes` fit their hour; when not, root is told (once an hour for each user). */
export async function withinQuota(
  config: Config,
  hostname: string,
  quota: UserQuota,
  who: Submitter,
  bytes: number,
  now: Date,
): Promise<boolean> {
  if (who.trusted) return true;
  const verdict = await quota.take(who.uid, bytes, now);
  if (!verdict.ok && verdict.tellRoot) await quotaNotice(config, hostname, who.uid, now).catch(() => undefined);
  return verdict.ok;
}

async function quotaNotice(config: Config, hostname: string, uid: number, now: Date): Promise<void> {
  const who = `${(uid >= 0 ? userName(uid) : undefined) ?? "an unknown user"} (uid ${uid})`;
  const bytes = config.spool.perUserBytesPerHour;
  const size = bytes >= 1024 * 1024 ? `${Math.round(bytes / 1024 / 1024)} MB` : `${Math.ceil(bytes / 1024)} KB`;
  await writeNotice(
    config.local,
    hostname,
    `mail from ${who} refused: over its hourly quota`,
    [
      `sealpost refused mail that ${who} submitted with sendmail or over SMTP: more than`,
      `${config.spool.perUserMessagesPerHour} messages or ${size} within an hour (spool.per_user_messages_per_hour,`,
      "spool.per_user_bytes_per_hour). A local user must not be able to fill this disk or bury root's alerts.",
      "",
      `What came through sendmail is kept, unread, in ${dropDir(config.spoolDir)}/*.msg.quota (only the`,
      "spool's owner can list them). To let it through after all, rename those files back to *.msg;",
      "the next `sealpost queue run` takes them in, within the quota of the hour it runs in.",
      "What came over SMTP was answered 451: its client keeps it and may try again later.",
      "",
      "You get this notice at most once an hour for each user.",
    ],
    now,
  );
}
