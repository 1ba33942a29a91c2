/**
 * The runner lock (spool_dir/runner.lock, a dot-lock holding its pid): at most one long-lived
 * runner per spool — `serve`'s, or the background one an intake started — and the way an intake
 * tells, with one look at it (no link followed), whether a runner is there to pick its entry
 * up. A runner touches the lock every HEARTBEAT_MS while it lives; one whose lock has not been
 * touched for ALIVE_MS, or whose pid is gone, is not there.
 */
import { join } from "node:path";
import { lockHolder, tryDotlock } from "./dotlock.js";
import { processAlive } from "../core/process-alive.js";

export const HEARTBEAT_MS = 2_000;
const ALIVE_MS = 10_000;

export function runnerLock(spoolDir: string): string {
  return join(spoolDir, "runner");
}

/** Whether a live runner holds the lock: it will see an entry committed before this call. */
export async function runnerAlive(spoolDir: string, now = Date.now()): Promise<boolean> {
  const holder = await lockHolder(runnerLock(spoolDir)).catch(() => undefined);
  if (!holder || now - holder.mtimeMs > ALIVE_MS) return false;
  const pid = holder.pid;
  if (!Number.isInteger(pid) || pid <= 0) return false;
  return processAlive(pid);
}

/**
 * The lock now or never, kept fresh until released (the dot-lock's own heartbeat, at this
 * faster pace, which stops should the lock ever be broken and taken by another runner);
 * undefined when another runner has it.
 */
export async function takeRunnerLock(spoolDir: string): Promise<(() => Promise<void>) | undefined> {
  const held = await tryDotlock(runnerLock(spoolDir), { heartbeatMs: HEARTBEAT_MS }).catch(() => undefined);
  return held && !held.busy ? held.release : undefined;
}
