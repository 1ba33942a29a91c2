/** The local notice to root when a spool entry is held: refused for good, or too old to keep trying. */
import type { Config } from "../config/schema.js";
import type { SpoolEntry } from "../store/spool.js";
import { writeNotice } from "../store/notice.js";

export type HoldReason = "refused" | "expired";

const WHY: Record<HoldReason, { subject: string; line: string; fix: string }> = {
  refused: {
    subject: "the relay refused it",
    line: "sealpost could not forward a message: the relay refused it permanently.",
    fix: "After fixing the cause (relay account, recipient address):",
  },
  expired: {
    subject: "too long undeliverable",
    line: "sealpost gave up retrying a message: it could not be relayed within the spool's maximum age.",
    fix: "After fixing the cause (relay down, credentials, a key):",
  },
};

export async function holdNotice(
  config: Config,
  hostname: string,
  entry: SpoolEntry,
  now: Date,
  reason: HoldReason = "refused",
): Promise<void> {
  const why = WHY[reason];
  await writeNotice(
    config.local,
    hostname,
    `message held, ${why.subject}: ${entry.recipients.join(", ")}`,
    [
      why.line,
      "",
      `Spool entry:  ${entry.id}`,
      `Queued since: ${entry.created}`,
      `Attempts:     ${entry.attempts}`,
      `Recipients:   ${entry.recipients.join(", ")}`,
      `Last error:   ${entry.lastError ?? "(none)"}`,
      "",
      "The message itself is in this mailbox as it arrived; its sealed copies wait",
      `in the spool. ${why.fix}`,
      "",
      `  sealpost queue release ${entry.id}   # try again`,
      `  sealpost queue purge ${entry.id}     # or drop the held copy`,
    ],
    now,
  );
}
