/** The local notice to root when a message is held after a permanent relay refusal. */
import type { Config } from "../config/schema.js";
import type { SpoolEntry } from "../store/spool.js";
import { writeNotice } from "../store/notice.js";

export async function holdNotice(config: Config, hostname: string, entry: SpoolEntry, now: Date): Promise<void> {
  await writeNotice(config.local, hostname, `message held: the relay refused it for ${entry.recipients.join(", ")}`, [
    "sealpost could not forward a message: the relay refused it permanently.",
    "",
    `Spool entry:  ${entry.id}`,
    `Recipients:   ${entry.recipients.join(", ")}`,
    `Relay said:   ${entry.lastError ?? "(nothing)"}`,
    "",
    "The message itself is in this mailbox as it arrived, and sealed copies are",
    "held in the spool. After fixing the cause (relay account, recipient address):",
    "",
    `  sealpost queue release ${entry.id}   # try again`,
    `  sealpost queue purge ${entry.id}     # or drop the held copy`,
  ], now);
}
