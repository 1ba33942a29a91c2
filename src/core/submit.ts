/**
 * Taking a submitted message (sendmail, serve, a drop file) into the spool: one durable commit
 * (the message, its local copy, the spool entry), after which the submitter is answered. The
 * queue runner then seals and relays. Routing and loop checks are decided here, by the spool's
 * owner, never by what a submitter wrote.
 */
import type { Config } from "../config/schema.js";
import { silentLog, type EventLog } from "../log/event-log.js";
import { hasLocalCopy, storeLocally } from "../store/local-store.js";
import { Spool, type SpoolEntry } from "../store/spool.js";
import type { Envelope } from "./envelope.js";
import { firstValue, parseHeader } from "./header.js";
import { loopVerdict } from "./loop.js";
import { readRawMessage } from "./raw-message.js";
import { selectRoute } from "./routing.js";
import { batchTag, batches, routeEntryFields, windowEnd } from "./batch.js";
import { kindOf } from "./kind.js";
import type { Submitter } from "./trace.js";

export interface Submitted {
  via: "sendmail" | "serve" | "drop";
  client?: string; // serve: the SMTP client's address
  /** sendmail and drops: who submitted it, as the kernel says (its trace fields are on top of `bytes` already). */
  submitter?: Submitter;
  log?: EventLog;
}

/**
 * The durable commit of a submission: the message into the spool, its local copy, then the
 * entry's meta file. Only after all three is the submitter answered (SPEC §6); should the local
 * copy fail, nothing is committed and the error goes back to the submitter (75, 451).
 */
export async function submitToSpool(config: Config, hostname: string, bytes: Buffer, envelope: Envelope, now: Date,
  { via, client, submitter, log = silentLog }: Submitted): Promise<SpoolEntry> {
  const raw = readRawMessage(bytes);
  const kind = await kindOf(config, raw, envelope.sender, "route");
  const route = selectRoute(config.routes, envelope.recipients, kind);
  const fields = parseHeader(raw.header);
  // sendmail and serve do not de-duplicate (SPEC §5), so there is no ledger to hold a bounce slot:
  // our own sealed mail and bounces of it are kept locally only.
  const home = loopVerdict(raw, fields, envelope, hostname) !== "none";
  const batch = route && !home && batches(route) ? batchTag(route) : undefined;
  const spool = new Spool(config.spoolDir);
  const entry = await spool.enqueue(raw.bytes, {
    state: "queued",
    nextAttempt: batch?.waiting ? windowEnd(batch, now) : now.toISOString(),
    ...(batch ? { batch } : {}),
    ...(kind ? { kind } : {}),
    lastError: null,
    recipients: route && !home ? [...route.to] : [],
    sender: envelope.sender,
    ...(route ? routeEntryFields(route) : { keys: null }),
    ...(submitter ? { submitter: { uid: submitter.uid, trusted: submitter.trusted } } : {}),
  }, now, () => storeLocally(config.local, raw.bytes, envelope.sender, hostname));
  // From here on the mail is safe: stored locally and committed to the spool.
  log.event("received", {
    id: entry.id, via, client, uid: submitter?.uid, size: raw.bytes.length, from: `<${envelope.sender}>`, to: envelope.recipients.join(","),
    msgid: firstValue(fields, "message-id"), loop: home ? "local" : undefined,
  });
  if (config.local.store !== "none") log.event("stored", { id: entry.id, store: config.local.store });
  if (batch?.waiting) log.event("batched", { id: entry.id, to: entry.recipients.join(","), until: entry.nextAttempt, reason: "coalesce" });
  else log.event("spooled", { id: entry.id, to: entry.recipients.join(",") || undefined });
  return entry;
}

/**
 * The local copy of an entry committed before it had one (spools written by earlier versions,
 * which answered first and stored later), made once even if a runner is killed half-way.
 */
export async function storePendingCopy(config: Config, hostname: string, spool: Spool, entry: SpoolEntry, bytes: Buffer,
  log: EventLog = silentLog): Promise<void> {
  if (!(entry.localMark && await hasLocalCopy(config.local, entry.localMark))) {
    await storeLocally(config.local, bytes, entry.sender, hostname, async (mark) => {
      entry.localMark = mark;
      await spool.save(entry);
    }, entry.localMark);
  }
  entry.localPending = false;
  await spool.save(entry);
  log.event("stored", { id: entry.id, store: config.local.store });
}
