/**
 * Message events and how one becomes a log line. One line per event, key=value pairs
 * (logfmt), never body text: what a message is, where it went, with which keys.
 */
import type { LogLevel } from "../config/schema.js";

export type EventName =
  | "received" // a message came in (deliver's stdin, sendmail, serve, a drop file)
  | "stored" // the local plaintext copy is written
  | "sealed" // encrypted for one external recipient
  | "relayed" // the relay answered 250
  | "spooled" // durably queued for a later attempt
  | "batched" // waiting in the spool for its route's digest (coalesce, max_per_hour)
  | "deferred" // not done yet: the MTA keeps it, or the spool retries it
  | "held" // refused for good or too old: held in the spool, root notified
  | "refused" // a local user's drop file set aside: malformed, or its user over the hourly quota
  | "duplicate"; // already handled (an MTA retry): nothing done

export const EVENT_LEVEL: Record<EventName, LogLevel> = {
  received: "info",
  stored: "info",
  sealed: "info",
  relayed: "info",
  spooled: "info",
  batched: "info",
  duplicate: "info",
  deferred: "warning",
  held: "error",
  refused: "warning",
};

export const LEVEL_RANK: Record<LogLevel, number> = { debug: 0, info: 1, warning: 2, error: 3 };

export type EventFields = Record<string, string | number | undefined>;

const MAX_VALUE = 300;

/** `event=relayed id=… to=<…>`: values quoted when they hold spaces, control bytes removed. */
export function formatEvent(name: EventName, fields: EventFields): string {
  const parts = [`event=${name}`];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    parts.push(`${key}=${quote(String(value))}`);
  }
  return parts.join(" ");
}

function quote(value: string): string {
  // eslint-disable-next-line no-control-regex
  let v = value.replace(/[\x00-\x1f\x7f]+/g, " ");
  if (v.length > MAX_VALUE) v = v.slice(0, MAX_VALUE) + "…";
  return v === "" || /[\s"=]/.test(v) ? `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"` : v;
}
