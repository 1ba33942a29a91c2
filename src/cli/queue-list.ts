/** `sealpost queue list` and `sendmail -bp`: the spool's entries, as a table or JSON. */
import type { Config } from "../config/schema.js";
import { Spool } from "../store/spool.js";
import { out } from "./io.js";

export async function listQueue(config: Config, json: boolean): Promise<number> {
  const entries = await new Spool(config.spoolDir).list();
  if (json) out(JSON.stringify(entries, null, 2));
  else if (entries.length === 0) out("spool is empty");
  else
    for (const e of entries) {
      const digest = e.state === "queued" && e.batch?.waiting ? "  (digest)" : "";
      out(
        `${e.id}  ${e.state.padEnd(6)}  attempts ${e.attempts}  next ${e.nextAttempt}  to ${e.recipients.join(",")}${digest}${e.lastError ? `  (${e.lastError})` : ""}`,
      );
    }
  return 0;
}
