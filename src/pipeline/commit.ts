/**
 * The commit point, the one place every door passes: the local copy and the spool entry made
 * durable (temp file, fsync, rename, directory fsync). Before it, any failure answers
 * "temporary" (EX_TEMPFAIL, SMTP 4xx) and the sender keeps the message. After it, sealpost owns the
 * message: the runner seals and relays it, the failure policy retries or holds it.
 *
 * Order matters, because runners see an entry as soon as its meta file is there:
 *   submissions (sendmail, serve, drops): message -> local copy -> meta. A failed local copy
 *     removes the message again: nothing committed, the submitter told so.
 *   deliver: message -> the ledger's intent (entry id, where the local copy goes) -> local copy
 *     -> meta. An MTA retry after a crash anywhere in between finds the intent and finishes what
 *     is missing; one after the commit finds the entry there, or gone because it was relayed,
 *     and does nothing. So a retry never stores twice and never relays twice.
 */
import type { Config } from "../config/schema.js";
import type { EventLog } from "../log/event-log.js";
import type { LedgerEntry } from "../store/ledger.js";
import { hasLocalCopy, planLocalCopy, storeLocally } from "../store/local-store.js";
import { Spool, type NewEntry, type SpoolEntry } from "../store/spool.js";
import { firstValue } from "../mail/header.js";
import type { Arrival, Routed } from "./intake.js";

export interface CommitContext {
  config: Config;
  hostname: string;
  now: Date;
  log: EventLog;
  /** The crash tests' seam: named points between the steps. */
  checkpoint?: (point: string) => void;
}

export type Committed = { kind: "spooled" | "batched"; entry: SpoolEntry } | { kind: "stored-only" };

/** sendmail, serve and drops: no de-duplication (docs/contract.md §5: a cron job may send the same bytes every day). */
export async function commitSubmission(ctx: CommitContext, arrival: Arrival, routed: Routed, fields: NewEntry): Promise<Committed> {
  const { config, hostname, now } = ctx;
  const store = () => storeLocally(config.local, arrival.raw.bytes, arrival.envelope.sender, hostname);
  if (fields.recipients.length === 0) {
    await store();
    // From here on the mail is safe: nothing is to leave the host, and the local copy is written.
    logCommitted(ctx, arrival, routed, undefined);
    return { kind: "stored-only" };
  }
  const entry = await new Spool(config.spoolDir).enqueue(arrival.raw.bytes, fields, now, store);
  // From here on the mail is safe: stored locally and committed to the spool.
  logCommitted(ctx, arrival, routed, entry);
  return { kind: entry.batch?.waiting ? "batched" : "spooled", entry };
}

/**
 * deliver's commit, under the ledger's lock for this message (`ledger`, `save`). `fields`
 * undefined: nothing leaves the host (no route, or our own mail come back), only the local copy.
 */
export async function commitDelivered(
  ctx: CommitContext,
  arrival: Arrival,
  routed: Routed,
  ledger: LedgerEntry,
  save: () => Promise<void>,
  fields: NewEntry | undefined,
): Promise<Committed> {
  const { config, now } = ctx;
  const spool = new Spool(config.spoolDir);
  const checkpoint = ctx.checkpoint ?? (() => undefined);
  let id = ledger.spoolId;
  if (fields && id === undefined) {
    id = spool.newId(now);
    await spool.writeMessage(id, arrival.raw.bytes);
    checkpoint("message-written");
    ledger.spoolId = id;
  }
  ledger.localMark ??= planLocalCopy(config.local, arrival.raw.bytes, ctx.hostname);
  await save(); // the intent: a retry now finds the entry's message and where the local copy goes
  checkpoint("intent-recorded");
  await storeOnce(ctx, arrival, ledger, save);
  checkpoint("local-copy-written");
  if (!fields || id === undefined) {
    ledger.localStored = true;
    await save();
    // From here on the mail is safe: nothing is to leave the host, and the local copy is written.
    logCommitted(ctx, arrival, routed, undefined);
    return { kind: "stored-only" };
  }
  const entry: SpoolEntry = { id, created: ledger.created, attempts: 0, ...fields };
  await spool.save(entry);
  // From here on the mail is safe: stored locally and committed to the spool.
  checkpoint("committed");
  logCommitted(ctx, arrival, routed, entry);
  return { kind: entry.batch?.waiting ? "batched" : "spooled", entry };
}

/** The local copy, unless an earlier run of this very delivery already made it (the ledger says where it was going). */
export async function storeOnce(ctx: CommitContext, arrival: Arrival, ledger: LedgerEntry, save: () => Promise<void>): Promise<void> {
  const { config, hostname } = ctx;
  if (ledger.localStored || (ledger.localMark && (await hasLocalCopy(config.local, ledger.localMark)))) return;
  await storeLocally(config.local, arrival.raw.bytes, arrival.envelope.sender, hostname, {
    planned: ledger.localMark,
    // an mbox's place is known only under its lock: recorded then, before a byte is written
    remember: async (mark) => {
      ledger.localMark = mark;
      await save();
      ctx.checkpoint?.("local-copy-marked");
    },
    earlier: ledger.localMark,
  });
}

function logCommitted(ctx: CommitContext, arrival: Arrival, routed: Routed, entry: SpoolEntry | undefined): void {
  const { log, config } = ctx;
  const id = arrival.logId ?? entry?.id;
  log.event("received", {
    id,
    via: arrival.via,
    client: arrival.client,
    uid: arrival.submitter?.uid,
    size: arrival.raw.bytes.length,
    from: `<${arrival.envelope.sender}>`,
    to: arrival.envelope.recipients.join(","),
    msgid: firstValue(routed.fields, "message-id"),
    loop: routed.verdict === "none" ? undefined : "local",
  });
  if (config.local.store !== "none") log.event("stored", { id, store: config.local.store });
  if (!entry) return;
  if (entry.batch?.waiting) {
    log.event("batched", {
      id,
      to: entry.recipients.join(","),
      spool_id: id === entry.id ? undefined : entry.id,
      until: entry.nextAttempt,
      reason: "coalesce",
    });
  } else log.event("spooled", { id, to: entry.recipients.join(","), spool_id: id === entry.id ? undefined : entry.id });
}
