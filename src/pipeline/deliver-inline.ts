/**
 * `deliver` with [deliver] relay = "inline", for admins who want the MTA's queue to do the
 * retrying: the one send step runs here, before the answer. The local copy is made first; then
 * each recipient is relayed, held (refused for good: a held spool entry and a notice to root), or
 * — on a temporary failure — left to the MTA (EX_TEMPFAIL), or to sealpost's spool with
 * on_relay_failure = "spool". The ledger records each recipient as it is done, so the MTA's
 * retry does only what is left. This module loads OpenPGP and the SMTP client; the queued
 * intake (pipeline/deliver.ts) does not.
 */
import type { SealpostError } from "../core/errors.js";
import { holdNotice } from "./held.js";
import { batches } from "./batch.js";
import type { Outcome } from "../core/outcome.js";
import { Relay } from "../relay/relay.js";
import { Ledger } from "../store/ledger.js";
import { Spool } from "../store/spool.js";
import { commitDelivered, storeOnce } from "./commit.js";
import { decide, withDeliveryLog, type DeliverRequest, type Delivery } from "./deliver.js";
import { checkKeys, entryFields } from "./intake.js";
import { send } from "./send.js";

export async function deliverInline(req: DeliverRequest): Promise<Outcome> {
  return withDeliveryLog(req, (delivery) => relayHere(req, delivery));
}

async function relayHere(req: DeliverRequest, delivery: Delivery): Promise<Outcome> {
  const { ctx, arrival, routed } = delivery;
  const { config, hostname, now, log } = ctx;
  const checkpoint = ctx.checkpoint ?? (() => undefined);
  return new Ledger(config.spoolDir).withEntry(delivery.hash, now, async (entry, save): Promise<Outcome> => {
    const { route, pending, bounce } = await decide(delivery, entry);
    if (entry.localStored && pending.length === 0) {
      log.event("duplicate", { id: arrival.logId });
      return { kind: "duplicate" };
    }
    // The keys are checked before anything is written: a route without one defers with nothing stored.
    if (route && pending.length > 0) checkKeys(await req.keyIndex(), route, pending, now);
    if (route && pending.length > 0 && !bounce && batches(route)) {
      // a batching route's message waits in the spool for its digest, as in the queued mode
      return { kind: (await commitDelivered(ctx, arrival, routed, entry, save, entryFields(arrival, routed, pending, now))).kind };
    }
    await storeOnce(ctx, arrival, entry, save);
    checkpoint("local-copy-written");
    if (!entry.localStored) {
      entry.localStored = true;
      await save();
      log.event("stored", { id: arrival.logId, store: config.local.store, loop: entry.loop === "forward" ? undefined : entry.loop });
    }
    checkpoint("after-local-copy");
    // From here on the local copy is safe; each recipient is done once relayed, spooled or held.
    if (!route || pending.length === 0) return { kind: "stored-only" };
    const relay = new Relay({ relay: config.relay, hostname });
    const spool = new Spool(config.spoolDir);
    const queue = async (recipients: string[], error: SealpostError, held: boolean) => {
      const fields = entryFields(arrival, routed, recipients, now, bounce);
      const queued = await spool.enqueue(
        arrival.raw.bytes,
        { ...fields, lastError: error.publicMessage, ...(held ? { state: "held" as const, attempts: 1 } : {}) },
        now,
      );
      if (held) await holdNotice(config, hostname, queued, now).catch(() => undefined); // best effort: `queue list` shows it too
      log.event(held ? "held" : "spooled", {
        id: arrival.logId,
        to: recipients.join(","),
        spool_id: queued.id,
        status: held ? error.status : undefined,
        reason: error.publicMessage,
      });
      entry.done.push(...recipients);
      await save();
    };
    let deferred: SealpostError | undefined;
    let held = false;
    let spooled = false;
    try {
      const results = await send(
        { ...ctx, relay },
        {
          id: arrival.logId!,
          raw: arrival.raw,
          sender: arrival.envelope.sender,
          recipients: pending,
          keys: { keys: route.keys, alsoEncryptTo: route.alsoEncryptTo },
          seal: { bounce, kind: routed.kind },
        },
        async (result) => {
          if (!result.relayed) return;
          entry.done.push(result.recipient); // the 250, recorded before anything else
          await save();
        },
      );
      for (const result of results) {
        if (result.relayed) continue;
        if (result.error.permanence === "permanent") {
          await queue([result.recipient], result.error, true);
          held = true;
        } else if (config.deliver.onRelayFailure === "spool") {
          await queue([result.recipient], result.error, false);
          spooled = true;
        } else {
          log.event("deferred", {
            id: arrival.logId,
            to: result.recipient,
            status: result.error.status,
            reason: result.error.publicMessage,
          });
          deferred ??= result.error;
        }
      }
    } finally {
      relay.close();
    }
    if (deferred) return { kind: "deferred", error: deferred };
    return held ? { kind: "held" } : spooled ? { kind: "spooled" } : { kind: "relayed" };
  });
}
