/**
 * The one failure policy for spool entries: what a send's results mean for them. A permanent
 * refusal (a reply >= 500 to the message: relay/relay.ts decides), or trying past spool.max_age,
 * holds them with one notice to root; anything else backs off, from spool.retry_min doubling up
 * to spool.retry_max with ±10 % jitter, so a backlog does not retry in lockstep.
 */
import type { Config } from "../config/schema.js";
import type { SealpostError } from "../core/errors.js";
import { holdNotice } from "./held.js";
import type { EventLog } from "../log/event-log.js";
import type { Spool, SpoolEntry } from "../store/spool.js";
import type { SendResult } from "./send.js";

export interface RunReport {
  relayed: number;
  deferred: number;
  held: number;
}

export interface PolicyContext {
  config: Config;
  hostname: string;
  spool: Spool;
  now: Date;
  log: EventLog;
  report: RunReport;
}

export function backoffSeconds(attempts: number, minSeconds = 60, maxSeconds = 3600): number {
  const base = Math.min(maxSeconds, minSeconds * 2 ** Math.min(30, Math.max(0, attempts - 1)));
  return Math.max(1, Math.round(base * (0.9 + Math.random() * 0.2)));
}

/**
 * A failed relay of one entry, or of a digest's entries (`id` then names the digest): held with
 * one notice, or backed off from the most attempts among them. `mayHold: false` only backs off:
 * for a failure here on the host, which the hold notice ("could not be relayed") does not describe
 * and which an admin mends without `queue release`.
 */
export async function failEntries(
  ctx: PolicyContext,
  entries: readonly SpoolEntry[],
  error: SealpostError,
  id: string,
  { mayHold = true }: { mayHold?: boolean } = {},
): Promise<void> {
  const { config, hostname, spool, now, report, log } = ctx;
  const oldest = Math.min(...entries.map((e) => Date.parse(e.created)));
  const expired = mayHold && now.getTime() - oldest >= config.spool.maxAgeSeconds * 1000;
  const permanent = mayHold && error.permanence === "permanent";
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

/**
 * One entry after its send, its relayed recipients already taken off it (recorded as they
 * went): recipients refused for good are held in an entry of their own, with a notice; the
 * rest back off together.
 */
export async function settleEntry(ctx: PolicyContext, entry: SpoolEntry, bytes: Buffer, results: readonly SendResult[]): Promise<void> {
  const failed = results.filter((r): r is Extract<SendResult, { relayed: false }> => !r.relayed);
  if (failed.length === 0) return;
  const refused = failed.filter((r) => r.error.permanence === "permanent");
  const retry = failed.filter((r) => r.error.permanence !== "permanent");
  if (refused.length > 0 && retry.length > 0) {
    const { id: _id, created: _created, attempts, ...fields } = entry;
    const held = await ctx.spool.enqueue(bytes, { ...fields, attempts, recipients: refused.map((r) => r.recipient) }, ctx.now);
    await failEntries(ctx, [held], refused[0]!.error, held.logId ?? held.id);
    // what is left but those refused: a recipient whose 250 came though its record failed is
    // among the failures, but was taken off the entry already and must stay off
    entry.recipients = entry.recipients.filter((r) => !refused.some((f) => f.recipient === r));
  }
  await failEntries(ctx, [entry], (retry[0] ?? refused[0]!).error, entry.logId ?? entry.id);
}
