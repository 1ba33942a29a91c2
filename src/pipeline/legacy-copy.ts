/**
 * Entries that older versions committed before their local copy (they answered first and stored
 * later, marking the entry localPending): the runner makes that copy, once, before relaying.
 * Entries committed now always have theirs already (pipeline/commit.ts).
 */
import type { Config } from "../config/schema.js";
import { silentLog, type EventLog } from "../log/event-log.js";
import { hasLocalCopy, storeLocally } from "../store/local-store.js";
import type { Spool, SpoolEntry } from "../store/spool.js";

/**
 * The local copy of an entry committed before it had one (spools written by earlier versions,
 * which answered first and stored later), made once even if a runner is killed half-way.
 */
export async function storePendingCopy(
  config: Config,
  hostname: string,
  spool: Spool,
  entry: SpoolEntry,
  bytes: Buffer,
  log: EventLog = silentLog,
): Promise<void> {
  if (!(entry.localMark && (await hasLocalCopy(config.local, entry.localMark)))) {
    await storeLocally(config.local, bytes, entry.sender, hostname, {
      remember: async (mark) => {
        entry.localMark = mark;
        await spool.save(entry);
      },
      earlier: entry.localMark,
    });
  }
  entry.localPending = false;
  await spool.save(entry);
  log.event("stored", { id: entry.id, store: config.local.store });
}
