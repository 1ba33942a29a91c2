/**
 * Taking a submitted message (sendmail, serve, a drop file) into the spool: one durable commit
 * (the spool entry, with its local copy still to make), after which the submitter is answered.
 * The queue runner then makes the local copy, seals and relays. Routing and loop checks are
 * decided here, by the spool's owner, never by what a submitter wrote.
 */
import { rename } from "node:fs/promises";
import { join } from "node:path";
import type { Config } from "../config/schema.js";
import { silentLog, type EventLog } from "../log/event-log.js";
import { dropDir, readDrops, removeDrop } from "../store/drop.js";
import { withDotlock } from "../store/dotlock.js";
import { hasLocalCopy, storeLocally } from "../store/local-store.js";
import { Spool, type SpoolEntry } from "../store/spool.js";
import type { Envelope } from "./envelope.js";
import { SealpostError, Status } from "./errors.js";
import { firstValue, parseHeader } from "./header.js";
import { checkHeaderSize } from "./header-limit.js";
import { loopVerdict } from "./loop.js";
import { readRawMessage } from "./raw-message.js";
import { selectRoute } from "./routing.js";
import { batchTag, batches, routeEntryFields, windowEnd } from "./batch.js";
import { kindOf } from "./kind.js";

export interface Submitted {
  via: "sendmail" | "serve" | "drop";
  client?: string; // serve: the SMTP client's address
  log?: EventLog;
}

export async function submitToSpool(config: Config, hostname: string, bytes: Buffer, envelope: Envelope, now: Date,
  { via, client, log = silentLog }: Submitted): Promise<SpoolEntry> {
  checkHeaderSize(bytes); // a drop file is written by its user: nothing in it has been checked
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
    localPending: config.local.store !== "none",
  }, now);
  log.event("received", {
    id: entry.id, via, client, size: raw.bytes.length, from: `<${envelope.sender}>`, to: envelope.recipients.join(","),
    msgid: firstValue(fields, "message-id"), loop: home ? "local" : undefined,
  });
  if (batch?.waiting) log.event("batched", { id: entry.id, to: entry.recipients.join(","), until: entry.nextAttempt, reason: "coalesce" });
  else log.event("spooled", { id: entry.id, to: entry.recipients.join(",") || undefined });
  // Committed. The local copy now, before the submitter is answered, as SPEC §6 describes; should
  // the local store fail, the entry keeps it pending and the runner makes it before any relay.
  await withDotlock(spool.lockTarget(entry.id), async () => {
    const current = await spool.get(entry.id);
    if (current?.localPending) await storePendingCopy(config, hostname, spool, current, raw.bytes, log);
  }, 5_000).catch(() => undefined);
  return entry;
}

/** The local copy of a submitted message, made once even if a runner is killed half-way. */
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

/** Moves every drop file into the spool; returns how many. */
export async function ingestDrops(config: Config, hostname: string, now: Date, log: EventLog = silentLog): Promise<number> {
  let count = 0;
  for (const drop of await readDrops(config.spoolDir, config.serve.maxSize)) {
    try {
      await submitToSpool(config, hostname, drop.bytes, { sender: drop.envelope.sender, recipients: drop.envelope.recipients }, now, { via: "drop", log });
    } catch (err) {
      if (!(err instanceof SealpostError && err.status === Status.tooBig)) throw err;
      // sendmail refuses such a header before it writes a drop: this one was made by hand. Set
      // aside like a drop that cannot be read, or it would stop every pass.
      await rename(join(dropDir(config.spoolDir), drop.name), join(dropDir(config.spoolDir), `${drop.name}.bad`)).catch(() => undefined);
      continue;
    }
    await removeDrop(config.spoolDir, drop.name);
    count++;
  }
  return count;
}
