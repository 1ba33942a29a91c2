/**
 * Mail loops. Every sealed message carries `X-Sealpost-Loop: <hostname>` outside
 * (`<hostname>; bounce` when it is a forwarded bounce). From that:
 *   - our own sealed message coming back to root is kept locally and never sealed again;
 *   - a bounce of a message we relayed is kept locally and forwarded, sealed, at most once
 *     an hour: a relay that refuses everything must not get a bounce per bounce;
 *   - a bounce of a forwarded bounce is kept locally only.
 * A bounce is recognised by the envelope (null sender), by MAILER-DAEMON in From, or by
 * multipart/report, and only then is its returned text searched for the marker: a plain
 * message that quotes the marker is forwarded like any other.
 */
import { parseMailboxes } from "./address.js";
import type { Envelope } from "./envelope.js";
import { firstValue, type HeaderField } from "./header.js";
import type { RawMessage } from "./raw-message.js";

export const LOOP_FIELD = "X-Sealpost-Loop";

export type LoopVerdict = "none" | "own-message" | "own-bounce" | "bounce-of-bounce";

export function loopMarker(hostname: string, bounce: boolean): string {
  return bounce ? `${hostname}; bounce` : hostname;
}

export function loopVerdict(raw: RawMessage, fields: readonly HeaderField[], envelope: Envelope, hostname: string): LoopVerdict {
  const ours = (value: string) => value.split(";")[0]!.trim().toLowerCase() === hostname.toLowerCase();
  if (fields.some((f) => f.lname === LOOP_FIELD.toLowerCase() && ours(f.value))) return "own-message";
  if (!isBounce(fields, envelope)) return "none";
  const returned = new RegExp(`^${LOOP_FIELD}:[ \\t]*${escape(hostname)}[ \\t]*(;[ \\t]*bounce)?[ \\t]*\\r?$`, "gim");
  let verdict: LoopVerdict = "none";
  for (const match of raw.body.toString("latin1").matchAll(returned)) {
    if (match[1]) return "bounce-of-bounce";
    verdict = "own-bounce";
  }
  return verdict;
}

function isBounce(fields: readonly HeaderField[], envelope: Envelope): boolean {
  if (envelope.sender === "") return true;
  const from = parseMailboxes(firstValue(fields, "from") ?? "")[0]?.address ?? "";
  if (/^mailer-daemon(@|$)/i.test(from)) return true;
  return /^multipart\/report\b/i.test(firstValue(fields, "content-type") ?? "");
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
