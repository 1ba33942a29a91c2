/** What one pass over the spool carries to each entry or digest it works on, and what a failure does to them. */
import type { Config } from "../config/schema.js";
import type { SealpostError } from "./errors.js";
import { holdNotice } from "./held.js";
import type { EventLog } from "../log/event-log.js";
import type { Relay } from "../relay/relay.js";
import type { Spool, SpoolEntry } from "../store/spool.js";

export interface RunReport {
  relayed: number;
  deferred: number;
  held: number;
}

export interface Pass {
  config: Config;
  hostname: string;
  spool: Spool;
  relay: Relay;
  now: Date;
  report: RunReport;
  force: boolean;
  log: EventLog;
  /** Called after each relay's 250, before the entry is updated: the crash tests' seam. */
  checkpoint?: (point: string) => void;
}

/** retry_min, doubling, capped at retry_max, with ±10 % jitter so a backlog does not retry in lockstep. */
export function backoffSeconds(attempts: number, minSeconds = 60, maxSeconds = 3600): number {
  const base = Math.min(maxSeconds, minSeconds * 2 ** Math.min(30, Math.max(0, attempts - 1)));
  return Math.max(1, Math.round(base * (0.9 + Math.random() * 0.2)));
}

/**
 * A failed relay of one entry, or of a digest's entries (`id` then names the digest): a
 * permanent failure, or one past spool.max_age, holds them with one notice to root; anything
 * else backs off from the most attempts among them.
 */
export async function recordFailure(pass: Pass, entries: readonly SpoolEntry[], error: SealpostError, id: string): Promise<void> {
  const { config, hostname, spool, now, report, log } = pass;
  const oldest = Math.min(...entries.map((e) => Date.parse(e.created)));
  const expired = now.getTime() - oldest >= config.spool.maxAgeSeconds * 1000;
  const permanent = error.permanence === "permanent";
  const attempts = Math.max(...entries.map((e) => e.attempts));
  const delay = backoffSeconds(attempts, config.spool.retryMinSeconds, config.spool.retryMaxSeconds);
  for (const entry of entries) {
    entry.lastError = error.publicMessage;
    if (permanent || expired) entry.state = "held";
    else entry.nextAttempt = new Date(now.getTime() + delay * 1000).toISOString();
    await spool.save(entry);
  }
  const about = { id, to: entries[0]!.recipients.join(","), count: entries.length > 1 ? entries.length : undefined, status: error.status };
  if (permanent || expired) {
    await holdNotice(config, hostname, entries[0]!, now, permanent ? "refused" : "expired").catch(() => undefined);
    log.event("held", { ...about, reason: expired && !permanent ? `too old: ${error.publicMessage}` : error.publicMessage });
    report.held += entries.length;
  } else {
    log.event("deferred", { ...about, reason: error.publicMessage, attempt: attempts, retry_in: `${delay}s` });
    report.deferred += entries.length;
  }
}
