/**
 * A route's max_per_hour: the times of what left for it in the last hour, one small file per
 * route group in spool/rate/. Taken under a lock, so concurrent deliveries never overspend.
 * Losing the file only forgets past sends (one hour's allowance more), never mail.
 */
import { readFile } from "../core/fsp.js";
import { join } from "node:path";
import { unlessBusy, withDotlock } from "./dotlock.js";
import { ensureDir, writeFileDurably } from "./durable-file.js";

const HOUR_MS = 3_600_000;

export interface Budget {
  spoolDir: string;
  group: string;
  limit: number;
}

/**
 * True (and the send is counted) when fewer than `limit - reserve` mails left in the last hour.
 * Single messages keep one in reserve, so that when a burst spills over into a digest, the
 * digest can still go within its window.
 */
export async function takeSendSlot(budget: Budget, now: Date, reserve: number): Promise<boolean> {
  return withBudget(budget, now, (recent) => {
    if (recent.length >= budget.limit - reserve) return undefined;
    return [...recent, now.getTime()];
  });
}

/** When the next mail may leave: now, or when the oldest counted send turns an hour old. */
export async function nextSlotAt(budget: Budget, now: Date): Promise<Date> {
  const recent = await readRecent(budget, now);
  if (recent.length < budget.limit) return now;
  return new Date(recent[recent.length - budget.limit]! + HOUR_MS);
}

async function withBudget(budget: Budget, now: Date, decide: (recent: number[]) => number[] | undefined): Promise<boolean> {
  const dir = join(budget.spoolDir, "rate");
  await ensureDir(dir);
  const file = join(dir, `${budget.group}.json`);
  return unlessBusy(
    await withDotlock(
      file,
      async () => {
        const next = decide(await readRecent(budget, now));
        if (next === undefined) return false;
        await writeFileDurably(file, JSON.stringify(next) + "\n");
        return true;
      },
      { timeoutMs: 10_000 },
    ),
  );
}

async function readRecent(budget: Budget, now: Date): Promise<number[]> {
  const file = join(budget.spoolDir, "rate", `${budget.group}.json`);
  const parsed: unknown = await readFile(file, "utf8").then(JSON.parse, () => []);
  const times = Array.isArray(parsed) ? parsed.filter((t): t is number => typeof t === "number") : [];
  return times.filter((t) => now.getTime() - t < HOUR_MS && t <= now.getTime() + 60_000).sort((a, b) => a - b);
}
