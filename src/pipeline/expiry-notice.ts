/**
 * Root's local notice when a route's key crosses 30, 7 or 1 days before expiry: once per key and
 * threshold (a marker file in spool_dir/key-warnings remembers), never off-host unsealed.
 */
import { open } from "../core/fsp.js";
import { join } from "node:path";
import type { Config } from "../config/schema.js";
import { expiryWarning, type Expiry } from "../crypto/key-expiry.js";
import { ensureDir } from "../store/durable-file.js";
import { writeNotice } from "../store/notice.js";

export async function noticeExpiringKeys(config: Config, hostname: string, expiries: readonly Expiry[], now: Date): Promise<void> {
  const due = expiries.filter((e) => e.threshold !== null);
  if (due.length === 0) return;
  const dir = join(config.spoolDir, "key-warnings");
  await ensureDir(dir);
  for (const e of due) {
    try {
      // O_EXCL marker first: of two deliveries at once, one writes the notice.
      await (await open(join(dir, `${e.fingerprint}.${e.threshold}d`), "wx", 0o600)).close();
    } catch {
      continue;
    }
    await writeNotice(
      config.local,
      hostname,
      `key ${e.fingerprint} expires in ${e.daysLeft} days`,
      [
        `The key sealpost encrypts to, ${e.fingerprint}, expires on ${e.expires!.toISOString().slice(0, 10)}.`,
        "After that, mail for its routes waits in the spool until a usable key is there.",
        "",
        "Get the recipient's new (or extended) public key, then:",
        "",
        `  sealpost keys import --replace ${e.fingerprint} NEW.asc    # a new key`,
        "  sealpost keys import EXTENDED.asc                          # the same key, new expiry",
        "  sealpost keys check",
        "",
        expiryWarning(e),
      ],
      now,
    );
  }
}
