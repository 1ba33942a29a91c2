/**
 * Batching a route's mail (route.coalesce, route.max_per_hour): which messages wait in the
 * spool for a digest instead of leaving one by one. The digest itself is made by the queue
 * runner (pipeline/digest.ts); until then every message is a durable spool entry.
 */
import { sha256Hex } from "../core/digest.js";
import type { RouteConfig } from "../config/schema.js";
import type { BatchTag, SpoolEntry } from "../store/spool.js";

export type { BatchTag } from "../store/spool.js";
import { takeSendSlot, type Budget } from "../store/send-budget.js";

/** Past max_per_hour without a coalesce window of its own, a route's overflow is gathered this long. */
export const OVERFLOW_WINDOW_SECONDS = 600;

export function batches(route: RouteConfig): boolean {
  return route.coalesceSeconds !== undefined || route.maxPerHour !== undefined;
}

/** A route's identity across restarts and config reloads: what it matches and where it sends. */
export function routeGroup(route: RouteConfig): string {
  const { matchRecipient, matchKind, to, keys, alsoEncryptTo } = route;
  return sha256Hex(JSON.stringify({ matchRecipient, matchKind, to, keys, alsoEncryptTo })).slice(0, 16);
}

/** The tag for a new entry of a batching route: with coalesce it waits at once; with only max_per_hour it may still go alone. */
export function batchTag(route: RouteConfig): BatchTag {
  return {
    group: routeGroup(route),
    windowSeconds: route.coalesceSeconds ?? OVERFLOW_WINDOW_SECONDS,
    ...(route.maxPerHour !== undefined ? { maxPerHour: route.maxPerHour } : {}),
    waiting: route.coalesceSeconds !== undefined,
  };
}

export function budgetOf(tag: BatchTag, spoolDir: string): Budget | undefined {
  return tag.maxPerHour === undefined ? undefined : { spoolDir, group: tag.group, limit: tag.maxPerHour };
}

/** For a single message of a batching route: true when it must wait for a digest (coalescing, or the hour's budget is spent). */
export async function mustWait(tag: BatchTag, spoolDir: string, now: Date): Promise<boolean> {
  if (tag.waiting) return true;
  const budget = budgetOf(tag, spoolDir);
  return budget !== undefined && !(await takeSendSlot(budget, now, 1));
}

/** When a message that starts waiting now may go at the earliest: the end of its window. */
export function windowEnd(tag: BatchTag, now: Date): string {
  return new Date(now.getTime() + tag.windowSeconds * 1000).toISOString();
}

/** What a spool entry keeps of the route it came by, so a retry seals to the same keys. */
export function routeEntryFields(route: RouteConfig): Pick<SpoolEntry, "keys" | "alsoEncryptTo"> {
  return { keys: route.keys ?? null, ...(route.alsoEncryptTo ? { alsoEncryptTo: route.alsoEncryptTo } : {}) };
}
