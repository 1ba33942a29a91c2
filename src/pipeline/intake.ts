/**
 * The one intake, the same for every door (deliver, sendmail, serve, a drop file):
 *
 *   raw bytes -> envelope -> route (and kind, only when a route needs it) -> loop verdict
 *             -> key check -> the durable commit (pipeline/commit.ts) -> the answer
 *
 * It is the light half of sealpost: nothing here loads OpenPGP, an SMTP library or a command-line
 * framework, because under an MTA it runs once per message. Sealing and relaying are the runner's.
 */
import { stat } from "../core/fsp.js";
import type { Config, RouteConfig } from "../config/schema.js";
import type { Envelope } from "../mail/envelope.js";
import { SealpostError } from "../core/errors.js";
import { Reason } from "../core/outcome.js";
import { parseHeader, type HeaderField } from "../mail/header.js";
import { loopVerdict, type LoopVerdict } from "../mail/loop.js";
import type { RawMessage } from "../mail/raw-message.js";
import { selectRoute } from "./routing.js";
import type { Submitter } from "../mail/trace.js";
import { batchTag, batches, routeEntryFields, windowEnd } from "./batch.js";
import { kindOf } from "./kind.js";
import { routeKeyProblem, type KeyIndex } from "../store/key-index.js";
import type { NewEntry } from "../store/spool.js";

export type Door = "deliver" | "sendmail" | "serve" | "lmtp" | "drop";

/** A message as a door hands it over. */
export interface Arrival {
  via: Door;
  raw: RawMessage;
  envelope: Envelope;
  client?: string; // serve: the SMTP client's address
  /** What its events are logged under before it is a spool entry: deliver's message hash (an MTA retry logs the same). */
  logId?: string;
  /** sendmail and drops: who submitted it, as the kernel says (its trace fields are on top of the bytes already). */
  submitter?: Submitter;
}

export interface Routed {
  route?: RouteConfig;
  kind?: string;
  fields: HeaderField[];
  verdict: LoopVerdict;
}

/** Route, kind and loop verdict: decided by the spool's owner from the message, never from what a submitter claims. */
export async function routeArrival(config: Config, hostname: string, arrival: Arrival): Promise<Routed> {
  const kind = await kindOf(config, arrival.raw, arrival.envelope.sender, "route");
  const route = selectRoute(config.routes, arrival.envelope.recipients, kind);
  const fields = parseHeader(arrival.raw.header);
  return { route, kind, fields, verdict: loopVerdict(arrival.raw, fields, arrival.envelope, hostname) };
}

/**
 * The key check at the door, from the key index (no OpenPGP): a route without a usable key
 * answers EX_TEMPFAIL with nothing committed, so the MTA keeps the message.
 */
export function checkKeys(index: KeyIndex, route: RouteConfig, recipients: readonly string[], now: Date): void {
  const problem = routeKeyProblem(index, { to: recipients, keys: route.keys, alsoEncryptTo: route.alsoEncryptTo }, now);
  if (problem) throw new SealpostError(Reason.noKey, problem);
}

/**
 * With [message] sign = true, the host key must be there for the runner to sign with: looked at
 * (one stat, no OpenPGP) at the door, so a missing key answers EX_TEMPFAIL now rather than leaving the
 * mail stuck in the spool. The runner reads and checks the key itself when it signs.
 */
export async function checkHostKey(config: Config): Promise<void> {
  if (!config.message.sign) return;
  const info = await stat(config.message.hostKey).catch(() => undefined);
  if (!info?.isFile()) throw new SealpostError(Reason.config, "message.host_key cannot be read (sealpost keys host generate makes one)");
  if ((info.mode & 0o077) !== 0) throw new SealpostError(Reason.config, "message.host_key must be mode 0600 (it is a secret key)");
}

/** What the spool entry of a routed arrival says. `recipients`: the route's still to go; `bounce`: a forwarded bounce. */
export function entryFields(arrival: Arrival, routed: Routed, recipients: readonly string[], now: Date, bounce = false): NewEntry {
  const route = routed.route;
  const batch = route && recipients.length > 0 && !bounce && batches(route) ? batchTag(route) : undefined;
  return {
    state: "queued",
    nextAttempt: batch?.waiting ? windowEnd(batch, now) : now.toISOString(),
    ...(batch ? { batch } : {}),
    ...(routed.kind ? { kind: routed.kind } : {}),
    lastError: null,
    recipients: [...recipients],
    sender: arrival.envelope.sender,
    ...(route ? routeEntryFields(route) : { keys: null }),
    ...(bounce ? { bounce: true } : {}),
    ...(arrival.logId ? { logId: arrival.logId } : {}),
    ...(arrival.submitter ? { submitter: { uid: arrival.submitter.uid, trusted: arrival.submitter.trusted } } : {}),
  };
}
