/**
 * The one send step: a message's keys looked up and checked with OpenPGP, one sealed copy per
 * external recipient, each through the egress guard to the relay. Singles, digests and deliver's
 * inline mode all come through here; what a result means for the message is the caller's
 * (pipeline/policy.ts for spool entries).
 *
 * Each recipient's result is handed to `record` the moment it is known: a relay's 250 is made
 * durable before anything else happens — before logging, before the next recipient, before the
 * connection is let go — so that a crash right after it can cost at most that one write.
 */
import type { Config, RouteConfig } from "../config/schema.js";
import { SealpostError, asSealpostError } from "../core/errors.js";
import { Reason } from "../core/outcome.js";
import { fingerprintOf } from "../crypto/key-check.js";
import { routeKeys } from "../crypto/keyring.js";
import type { EventLog } from "../log/event-log.js";
import { allowedKeyIds } from "../relay/egress.js";
import { RelayUnreachable, type Relay } from "../relay/relay.js";
import type { RawMessage } from "../mail/raw-message.js";
import { sealAll, type Sealed, type SealOptions } from "./seal.js";
import { ALONE, type Turns } from "./turns.js";

export interface SendContext {
  config: Config;
  hostname: string;
  relay: Relay;
  now: Date;
  log: EventLog;
  /** The crash tests' seam, called after each relay's 250 and before it is recorded. */
  checkpoint?: (point: string) => void;
  /** A pass's: its relays one at a time (pipeline/turns.ts). None: this send is alone. */
  turns?: Pick<Turns, "run">;
  /**
   * Set when the relay could not be reached: the sends after it fail at once with the same error,
   * as an MTA marks a destination dead for a while, instead of each waiting out the timeout in turn.
   */
  relayDown?: SealpostError;
}

export interface SendJob {
  /** What the log calls it: the spool entry's id, deliver's message id, or a digest's. */
  id: string;
  raw: RawMessage;
  /** The original's envelope sender (outer From when the message has none). */
  sender: string;
  recipients: readonly string[];
  /** The route's pinned and archive keys. */
  keys: Pick<RouteConfig, "keys" | "alsoEncryptTo">;
  seal: SealOptions;
  /** Extra fields for the relayed event (attempt, count). */
  about?: Record<string, string | number | undefined>;
}

export type SendResult =
  { recipient: string; relayed: true; reply: string; size: number } | { recipient: string; relayed: false; error: SealpostError };

/** The job's keys as they are now, checked, and one sealed copy per recipient. */
async function sealJob(ctx: SendContext, job: SendJob): Promise<{ sealed: Sealed[]; keyIds: Set<string>; fingerprints: string }> {
  const keys = await routeKeys(
    { to: [...job.recipients], keys: job.keys.keys ?? undefined, alsoEncryptTo: job.keys.alsoEncryptTo },
    ctx.config.keysDir,
    ctx.now,
  );
  const sealed = await sealAll(
    ctx.config,
    ctx.hostname,
    job.raw,
    { sender: job.sender, recipients: [] },
    job.recipients,
    keys,
    ctx.now,
    job.seal,
  );
  return { sealed, keyIds: allowedKeyIds(keys), fingerprints: keys.map(fingerprintOf).join(",") };
}

/** Every recipient gets a result, in order; none throws. */
export async function send(ctx: SendContext, job: SendJob, record: (result: SendResult) => Promise<void>): Promise<SendResult[]> {
  const results: SendResult[] = [];
  const fail = async (recipients: readonly string[], err: unknown) => {
    for (const recipient of recipients) {
      const result: SendResult = { recipient, relayed: false, error: asSealpostError(err) };
      await record(result);
      results.push(result);
    }
  };
  const turns = ctx.turns ?? ALONE;
  let sealed: Sealed[];
  let keyIds: Set<string>;
  try {
    let fingerprints: string;
    ({ sealed, keyIds, fingerprints } = await sealJob(ctx, job));
    for (const s of sealed)
      ctx.log.event("sealed", { id: job.id, to: s.recipient, size: s.bytes?.length, keys: fingerprints, count: job.about?.count });
  } catch (err) {
    await fail(job.recipients, err); // no usable key, or sealing failed: nothing can go to anyone
    return results;
  }
  for (const [i, { recipient, bytes, content }] of sealed.entries()) {
    const relayAndRecord = async () => {
      if (ctx.relayDown) throw ctx.relayDown;
      const { reply, size } = await ctx.relay.send(recipient, bytes ?? content(), keyIds).catch((err: unknown) => {
        if (err instanceof RelayUnreachable) ctx.relayDown ??= err;
        throw err;
      });
      ctx.checkpoint?.("after-relay");
      const result: SendResult = { recipient, relayed: true, reply, size };
      await record(result);
      results.push(result);
      ctx.log.event("relayed", { id: job.id, to: recipient, size, reply, ...job.about });
    };
    try {
      await turns.run(relayAndRecord);
    } catch (err) {
      const error = asSealpostError(err);
      // A message sealed as it is relayed (a large one) can fail to seal half-way: that is the
      // message's failure, and it would fail the same for every recipient still to go.
      const rest = error.reason === Reason.sealing ? sealed.slice(i).map((s) => s.recipient) : [recipient];
      await fail(rest, error);
      if (rest.length > 1) break;
    }
  }
  return results;
}
