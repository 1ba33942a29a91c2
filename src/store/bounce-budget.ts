/**
 * At most one forwarded bounce per hour (mail/loop.ts): a marker file in the spool whose mtime
 * is the last time one was let through. A flood of bounces then costs one relayed message an
 * hour, however many arrive; the rest stay in the local store.
 */
import { stat, utimes, writeFile } from "../core/fsp.js";
import { join } from "node:path";
import { ensureDir } from "./durable-file.js";
import { unlessBusy, withDotlock } from "./dotlock.js";

export const BOUNCE_INTERVAL_MS = 3_600_000;

/** True (and the hour starts now) when no bounce was forwarded in the last hour. */
export async function takeBounceSlot(spoolDir: string, now: Date): Promise<boolean> {
  const dir = join(spoolDir, "loop");
  await ensureDir(dir);
  const marker = join(dir, "bounce-forwarded");
  return unlessBusy(
    await withDotlock(
      marker,
      async () => {
        const last = await stat(marker).then(
          (s) => s.mtimeMs,
          () => undefined,
        );
        if (last !== undefined && now.getTime() - last < BOUNCE_INTERVAL_MS) return false;
        if (last === undefined) await writeFile(marker, "", { mode: 0o600 });
        await utimes(marker, now, now);
        return true;
      },
      { timeoutMs: 10_000 },
    ),
  );
}
