/**
 * `deliver`: one piped message from the MTA (docs/contract.md §1, §5, §6), through the one intake; also
 * what serve's LMTP listener does with each message the MTA hands it. With
 * relay = "queued" (the default) it answers 0 once the local copy and the spool entry are
 * durable and the runner relays; "inline" (pipeline/deliver-inline.ts) relays before answering.
 *
 * The MTA may run it twice for one message and retries after EX_TEMPFAIL: the ledger, keyed by the
 * message's hash (its bytes without the mbox From_ line; the MTA's trace fields make distinct
 * messages distinct), makes every run after the first do only what is left.
 */
import type { Config, RouteConfig } from "../config/schema.js";
import { sha256Hex } from "../core/digest.js";
import { isEximPipe, pipeEnvelope, type Envelope, type PipeArguments } from "../mail/envelope.js";
import { asSealpostError } from "../core/errors.js";
import { resolveHostname } from "../core/hostname.js";
import type { LoopVerdict } from "../mail/loop.js";
import type { Outcome } from "../core/outcome.js";
import { readRawMessage } from "../mail/raw-message.js";
import { openEventLog, type EventLog } from "../log/event-log.js";
import { takeBounceSlot } from "../store/bounce-budget.js";
import type { KeyIndex } from "../store/key-index.js";
import { Ledger, type LedgerEntry } from "../store/ledger.js";
import { Spool } from "../store/spool.js";
import { commitDelivered, type CommitContext } from "./commit.js";
import { checkHostKey, checkKeys, entryFields, routeArrival, type Arrival, type Routed } from "./intake.js";

export interface DeliverRequest {
  config: Config;
  input: Buffer;
  env: Record<string, string | undefined>;
  args: PipeArguments;
  /**
   * LMTP (serve): the MTA hands the message over on a socket instead of a pipe, with the envelope
   * from MAIL FROM and RCPT TO; it retries after a 4xx as after EX_TEMPFAIL, so the ledger serves it too.
   */
  lmtp?: { envelope: Envelope };
  /** Where events go (serve's log); otherwise one opened from config [log] for this delivery. */
  log?: EventLog;
  now?: Date;
  /** The key index as this process can have it (store/key-index.ts); throws when it cannot. */
  keyIndex: () => Promise<KeyIndex>;
  /**
   * Called at each step where a crash matters (docs/contract.md §5: kill -9 at any point loses nothing and
   * never stores twice). The crash tests kill the process here; nothing else uses it.
   */
  checkpoint?: (point: string) => void;
}

/** What one delivery is about, worked out before the ledger is locked. */
export interface Delivery {
  ctx: CommitContext;
  arrival: Arrival;
  routed: Routed;
  hash: string;
}

export async function deliver(req: DeliverRequest): Promise<Outcome> {
  return withDeliveryLog(req, async (delivery) => deliverQueued(req, delivery));
}

/** The delivery's log around `fn`; any failure becomes a deferral (EX_TEMPFAIL) with its one line, logged. */
export async function withDeliveryLog(req: DeliverRequest, fn: (delivery: Delivery) => Promise<Outcome>): Promise<Outcome> {
  const log = req.log ?? openEventLog(req.config.log);
  let id: string | undefined;
  try {
    const delivery = await prepare(req, log);
    id = delivery.arrival.logId;
    return await fn(delivery);
  } catch (err) {
    const error = asSealpostError(err);
    log.event("deferred", { id, status: error.status, reason: error.publicMessage });
    return { kind: "deferred", error };
  } finally {
    if (!req.log) await log.close();
  }
}

async function prepare(req: DeliverRequest, log: EventLog): Promise<Delivery> {
  const now = req.now ?? new Date();
  const hostname = resolveHostname(req.config.hostname);
  const raw = readRawMessage(req.input, { eximSuffix: isEximPipe(req.env) });
  const hash = sha256Hex(raw.bytes);
  const envelope = req.lmtp?.envelope ?? pipeEnvelope(req.env, req.args, hostname);
  const arrival: Arrival = { via: req.lmtp ? "lmtp" : "deliver", raw, envelope, logId: hash.slice(0, 12) };
  const routed = await routeArrival(req.config, hostname, arrival);
  return { ctx: { config: req.config, hostname, now, log, checkpoint: req.checkpoint }, arrival, routed, hash };
}

/** The route this delivery still goes by and its recipients not yet done, once the loop decision is made (and kept in the ledger). */
export async function decide(delivery: Delivery, entry: LedgerEntry): Promise<{ route?: RouteConfig; pending: string[]; bounce: boolean }> {
  const { routed, ctx } = delivery;
  entry.loop ??= routed.route ? await loopDecision(routed.verdict, ctx.config.spoolDir, ctx.now) : "forward";
  const route = entry.loop === "local" ? undefined : routed.route;
  return { route, pending: (route?.to ?? []).filter((r) => !entry.done.includes(r)), bounce: entry.loop === "forward-bounce" };
}

/** What a loop verdict means for this message; a bounce of ours takes the hourly bounce slot. */
async function loopDecision(verdict: LoopVerdict, spoolDir: string, now: Date): Promise<NonNullable<LedgerEntry["loop"]>> {
  if (verdict === "none") return "forward";
  if (verdict === "own-bounce" && (await takeBounceSlot(spoolDir, now))) return "forward-bounce";
  return "local";
}

async function deliverQueued(req: DeliverRequest, delivery: Delivery): Promise<Outcome> {
  const { ctx, arrival, routed } = delivery;
  const { config, now, log } = ctx;
  return new Ledger(config.spoolDir).withEntry(delivery.hash, now, async (entry, save): Promise<Outcome> => {
    const { route, pending, bounce } = await decide(delivery, entry);
    const committedBefore = entry.spoolId !== undefined && (await new Spool(config.spoolDir).presence(entry.spoolId)) !== "uncommitted";
    if (committedBefore || (entry.localStored && pending.length === 0)) {
      log.event("duplicate", { id: arrival.logId });
      return { kind: "duplicate" };
    }
    if (route && pending.length > 0) {
      checkKeys(await req.keyIndex(), route, pending, now);
      await checkHostKey(config);
    }
    const fields = route && pending.length > 0 ? entryFields(arrival, routed, pending, now, bounce) : undefined;
    const committed = await commitDelivered(ctx, arrival, routed, entry, save, fields);
    return { kind: committed.kind };
  });
}
