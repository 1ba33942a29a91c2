/**
 * The runner lock (spool_dir/runner.lock, a dot-lock holding its pid): at most one long-lived
 * runner per spool — `serve`'s, or the background one an intake started — and the way an intake
 * tells, with one stat and one read, whether a runner is there to pick its entry up. A runner
 * touches the lock every HEARTBEAT_MS while it lives; one whose lock has not been touched for
 * ALIVE_MS, or whose pid is gone, is not there.
 */
import { readFile, stat, utimes } from "../core/fsp.js";
import { join } from "node:path";
import { tryDotlock } from "./dotlock.js";

export const HEARTBEAT_MS = 2_000;
const ALIVE_MS = 10_000;

export function runnerLock(spoolDir: string): string {
  return join(spoolDir, "runner");
}

/** Whether a live runner holds the lock: it will see an entry committed before this call. */
export async function runnerAlive(spoolDir: string, now = Date.now()): Promise<boolean> {
  const lock = `${runnerLock(spoolDir)}.lock`;
  const info = await stat(lock).catch(() => undefined);
  if (!info || now - info.mtimeMs > ALIVE_MS) return false;
  const pid = Number.parseInt(await readFile(lock, "utf8").catch(() => ""), 10);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM"; // alive, another user's
  }
}

/** The lock now or never, kept fresh until released; undefined when another runner has it. */
export async function takeRunnerLock(spoolDir: string): Promise<(() => Promise<void>) | undefined> {
  const held = await tryDotlock(runnerLock(spoolDir)).catch(() => undefined);
  if (!held || held.busy) return undefined;
  const lock = `${runnerLock(spoolDir)}.lock`;
  const beat = setInterval(() => {
    const now = new Date();
    utimes(lock, now, now).catch(() => undefined);
  }, HEARTBEAT_MS);
  beat.unref();
  return async () => {
    clearInterval(beat);
    await held.release();
  };
}
