/**
 * `sealpost deliver`: one piped message, end to end (SPEC §1, §5, §6).
 *
 *   read -> envelope -> route -> keys -> seal -> local copy -> relay (or spool, or hold)
 *
 * Everything before the local copy and the relay (or spool) answer is temporary: the MTA
 * keeps the message. The ledger makes an MTA retry or a double run do only what is left.
 */
import { createHash } from "node:crypto";
import type { Config } from "../config/schema.js";
import { fingerprintOf } from "../crypto/key-check.js";
import { routeKeys } from "../crypto/keyring.js";
import { openEventLog, type EventLog } from "../log/event-log.js";
import { allowedKeyIds } from "../relay/egress.js";
import { Relay } from "../relay/relay.js";
import { takeBounceSlot } from "../store/bounce-budget.js";
import { Ledger, type LedgerEntry } from "../store/ledger.js";
import { hasLocalCopy, storeLocally } from "../store/local-store.js";
import { Spool } from "../store/spool.js";
import { holdNotice } from "./held.js";
import { isEximPipe, pipeEnvelope, type PipeArguments } from "./envelope.js";
import { SealpostError, asSealpostError } from "./errors.js";
import { firstValue, parseHeader } from "./header.js";
import { resolveHostname } from "./hostname.js";
import { readPipeConfig } from "./pipe-config.js";
import { loopVerdict, type LoopVerdict } from "./loop.js";
import type { Outcome } from "./outcome.js";
import { sealAll } from "./prepare.js";
import { readRawMessage } from "./raw-message.js";
import { selectRoute } from "./routing.js";
import { batchTag, batches, mustWait, routeEntryFields, windowEnd } from "./batch.js";
import { kindOf } from "./kind.js";

export interface DeliverRequest {
  input: Buffer;
  env: Record<string, string | undefined>;
  args: PipeArguments;
  configFile: string;
  now?: Date;
  /**
   * Called at each step where a crash matters (SPEC §5: kill -9 at any point loses nothing and
   * never stores twice). The crash tests kill the process here; nothing else uses it.
   */
  checkpoint?: (point: CrashPoint) => void;
  /** Called once the config is read, before anything is written: the door makes sure this process may write the spool. */
  enterSpool?: (config: Config) => Promise<void>;
}

export type CrashPoint = "sealing" | "sealed" | "local-copy-marked" | "local-copy-written" | "after-local-copy" | "after-relay";

export async function deliver(req: DeliverRequest): Promise<Outcome> {
  try {
    return await deliverOrThrow(req);
  } catch (err) {
    return { kind: "deferred", error: asSealpostError(err) };
  }
}

/** What a loop verdict means for this message; a bounce of ours takes the hourly bounce slot. */
async function loopDecision(verdict: LoopVerdict, spoolDir: string, now: Date): Promise<NonNullable<LedgerEntry["loop"]>> {
  if (verdict === "none") return "forward";
  if (verdict === "own-bounce" && await takeBounceSlot(spoolDir, now)) return "forward-bounce";
  return "local";
}

async function deliverOrThrow(req: DeliverRequest): Promise<Outcome> {
  const config = readPipeConfig(req.configFile);
  await req.enterSpool?.(config);
  const log = openEventLog(config.log);
  const seen: { id?: string } = {};
  try {
    return await deliverLogged(req, config, log, seen); // a relay deferral is logged per recipient
  } catch (err) {
    const error = asSealpostError(err);
    log.event("deferred", { id: seen.id, status: error.status, reason: error.publicMessage });
    throw error;
  } finally {
    await log.close();
  }
}

async function deliverLogged(req: DeliverRequest, config: Config, log: EventLog, seen: { id?: string }): Promise<Outcome> {
  const now = req.now ?? new Date();
  const checkpoint = req.checkpoint ?? (() => undefined);
  const hostname = resolveHostname(config.hostname);
  const raw = readRawMessage(req.input, { eximSuffix: isEximPipe(req.env) });
  const envelope = pipeEnvelope(req.env, req.args, hostname);
  const kind = await kindOf(config, raw, envelope.sender, "route");
  const selected = selectRoute(config.routes, envelope.recipients, kind);
  const fields = parseHeader(raw.header);
  const verdict = loopVerdict(raw, fields, envelope, hostname);
  const hash = createHash("sha256").update(raw.bytes).digest("hex");
  const id = hash.slice(0, 12); // the ledger's key: an MTA retry logs the same id
  seen.id = id;
  log.event("received", {
    id, via: "deliver", size: raw.bytes.length, from: `<${envelope.sender}>`, to: envelope.recipients.join(","),
    msgid: firstValue(fields, "message-id"),
  });

  return new Ledger(config.spoolDir).withEntry(hash, now, async (entry, save): Promise<Outcome> => {
    entry.loop ??= selected ? await loopDecision(verdict, config.spoolDir, now) : "forward";
    const route = entry.loop === "local" ? undefined : selected;
    const pending = (route?.to ?? []).filter((r) => !entry.done.includes(r));
    if (entry.localStored && pending.length === 0) {
      log.event("duplicate", { id });
      return { kind: "duplicate" };
    }
    // Keys are looked up only for what is left: a repeat of a delivered message must not fail on
    // a key removed since. Sealing comes before storing: a missing key defers with nothing written.
    const keys = route && pending.length > 0 ? await routeKeys(route, config.keysDir, now) : [];
    // A batching route's message waits in the spool for its digest: nothing to seal now. A bounce never waits.
    const batch = route && pending.length > 0 && entry.loop === "forward" && batches(route) ? batchTag(route) : undefined;
    const waiting = batch && await mustWait(batch, config.spoolDir, now) ? { ...batch, waiting: true } : undefined;
    checkpoint("sealing");
    const sealed = waiting ? [] : await sealAll(config, hostname, raw, envelope, pending, keys, now, { bounce: entry.loop === "forward-bounce", kind });
    checkpoint("sealed");
    const fingerprints = keys.map(fingerprintOf).join(",");
    for (const s of sealed) log.event("sealed", { id, to: s.recipient, size: s.bytes?.length, keys: fingerprints });
    if (entry.localMark && !entry.localStored && await hasLocalCopy(config.local, entry.localMark)) {
      entry.localStored = true; // written by a run killed before it could say so
    }
    if (!entry.localStored) {
      await storeLocally(config.local, raw.bytes, envelope.sender, hostname, async (mark) => {
        entry.localMark = mark;
        await save();
        checkpoint("local-copy-marked");
      }, entry.localMark);
      checkpoint("local-copy-written");
      entry.localStored = true;
      await save();
      log.event("stored", { id, store: config.local.store, loop: entry.loop === "forward" ? undefined : entry.loop });
    }
    checkpoint("after-local-copy");
    // From here on the local copy is safe; each recipient is done once relayed, spooled or held.
    if (!route) return { kind: "stored-only" };
    const spool = new Spool(config.spoolDir);
    if (waiting) {
      const queued = await spool.enqueue(raw.bytes, {
        state: "queued", nextAttempt: windowEnd(waiting, now), lastError: null, recipients: pending, sender: envelope.sender,
        ...routeEntryFields(route), batch: waiting, ...(kind ? { kind } : {}),
      }, now);
      log.event("batched", { id, to: pending.join(","), spool_id: queued.id, until: queued.nextAttempt, reason: batch!.waiting ? "coalesce" : "max_per_hour" });
      entry.done.push(...pending);
      await save();
      return { kind: "batched" };
    }
    const relay = new Relay({ relay: config.relay, hostname });
    const keyIds = allowedKeyIds(keys);
    let deferred: SealpostError | undefined;
    let held = false;
    let spooled = false;
    try {
      for (const { recipient, bytes, content } of sealed) {
        try {
          const { reply, size } = await relay.send(recipient, bytes ?? content(), keyIds);
          checkpoint("after-relay");
          log.event("relayed", { id, to: recipient, size, reply });
        } catch (err) {
          const error = asSealpostError(err);
          const entryFields = {
            recipients: [recipient], sender: envelope.sender, ...routeEntryFields(route), lastError: error.publicMessage,
            ...(entry.loop === "forward-bounce" ? { bounce: true } : {}),
          };
          if (error.permanence === "permanent") {
            const queued = await spool.enqueue(raw.bytes, { ...entryFields, state: "held", nextAttempt: now.toISOString(), attempts: 1 }, now);
            await holdNotice(config, hostname, queued, now).catch(() => undefined); // best effort: `queue list` shows it too
            log.event("held", { id, to: recipient, spool_id: queued.id, status: error.status, reason: error.publicMessage });
            held = true;
          } else if (config.deliver.onRelayFailure === "spool") {
            const queued = await spool.enqueue(raw.bytes, { ...entryFields, state: "queued", nextAttempt: now.toISOString() }, now);
            log.event("spooled", { id, to: recipient, spool_id: queued.id, reason: error.publicMessage });
            spooled = true;
          } else {
            log.event("deferred", { id, to: recipient, status: error.status, reason: error.publicMessage });
            deferred ??= error;
            continue;
          }
        }
        entry.done.push(recipient);
        await save();
      }
    } finally {
      relay.close();
    }
    if (deferred) return { kind: "deferred", error: deferred };
    return held ? { kind: "held" } : spooled ? { kind: "spooled" } : { kind: "relayed" };
  });
}
