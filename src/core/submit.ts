/**
 * Taking a submitted message (sendmail, serve, a drop file) into the spool: one durable commit
 * (the spool entry, with its local copy still to make), after which the submitter is answered.
 * The queue runner then makes the local copy, seals and relays. Routing and loop checks are
 * decided here, by the spool's owner, never by what a submitter wrote.
 */
import type { Config } from "../config/schema.js";
import { prepareDropDir, readDrops, removeDrop } from "../store/drop.js";
import { Spool, type SpoolEntry } from "../store/spool.js";
import type { Envelope } from "./envelope.js";
import { parseHeader } from "./header.js";
import { loopVerdict } from "./loop.js";
import { readRawMessage } from "./raw-message.js";
import { selectRoute } from "./routing.js";

export async function submitToSpool(config: Config, hostname: string, bytes: Buffer, envelope: Envelope, now: Date): Promise<SpoolEntry> {
  const raw = readRawMessage(bytes);
  const route = selectRoute(config.routes, envelope.recipients);
  // sendmail and serve do not de-duplicate (SPEC §5), so there is no ledger to hold a bounce slot:
  // our own sealed mail and bounces of it are kept locally only.
  const home = loopVerdict(raw, parseHeader(raw.header), envelope, hostname) !== "none";
  await prepareDropDir(config.spoolDir); // the spool's owner sets up drop/ for users who are not
  return new Spool(config.spoolDir).enqueue(raw.bytes, {
    state: "queued",
    nextAttempt: now.toISOString(),
    lastError: null,
    recipients: route && !home ? [...route.to] : [],
    sender: envelope.sender,
    keys: route?.keys ?? null,
    localPending: config.local.store !== "none",
  }, now);
}

/** Moves every drop file into the spool; returns how many. */
export async function ingestDrops(config: Config, hostname: string, now: Date): Promise<number> {
  let count = 0;
  for (const drop of await readDrops(config.spoolDir, config.serve.maxSize)) {
    await submitToSpool(config, hostname, drop.bytes, { sender: drop.envelope.sender, recipients: drop.envelope.recipients }, now);
    await removeDrop(config.spoolDir, drop.name);
    count++;
  }
  return count;
}
