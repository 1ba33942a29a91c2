/**
 * Trace fields for a locally submitted message, from what the kernel says about its submitter
 * (the uid that owns the drop file, or the process's own real uid), never from what the
 * submitter wrote: as Postfix's pickup writes "Received: by host (Postfix, from userid 1001)" and
 * sendmail "X-Authentication-Warning: host: alice set sender to root@host using -f". A local user
 * can still write "From: root", but the copy root keeps and the sealed copy both say who it was.
 * They go on top of the header, above anything the submitter wrote, where a reader looks first.
 */
import { rfc5322Date } from "./dates.js";

export interface Submitter {
  /** -1: the kernel did not say (a connection whose socket it no longer shows). */
  uid: number;
  /** Login name for the uid, when /etc/passwd has one. */
  user?: string;
  /** root or the spool's own user: may set any sender, and their mail may carry the host's signature. */
  trusted: boolean;
}

/** `how`: what set the sender, "-f" (sendmail) or "MAIL FROM" (serve). */
export function traceFields(who: Submitter, envelopeSender: string, hostname: string, now: Date, how = "-f"): string[] {
  const known = who.uid >= 0;
  const name = who.user !== undefined && /^[\x21-\x7e]{1,64}$/.test(who.user) ? who.user : known ? `uid ${who.uid}` : "an unknown user";
  const from = known ? `from userid ${who.uid}` : "from an unknown user";
  const fields = [`Received: by ${hostname} (sealpost, ${from});\r\n\t${rfc5322Date(now)}`];
  const ownAddress = `${name}@${hostname}`.toLowerCase();
  if (!who.trusted && envelopeSender.toLowerCase() !== ownAddress) {
    fields.push(`X-Authentication-Warning: ${hostname}: ${name} set sender to ${envelopeSender || "<>"} using ${how}`);
  }
  return fields;
}

/** `fields` as header lines, LF-ended as a pipe or a drop file has them, or CRLF-ended when `crlf`. */
export function fieldLines(fields: readonly string[], crlf = false): Buffer {
  const text = fields.map((f) => f + "\r\n").join("");
  return Buffer.from(crlf ? text : text.replace(/\r\n/g, "\n"), "latin1");
}

/** The message with `fields` on top, in the message's own line ends. */
export function prependFields(bytes: Buffer, fields: readonly string[]): Buffer {
  if (fields.length === 0) return bytes;
  const firstLine = bytes.subarray(0, Math.min(bytes.length, 1000));
  const nl = firstLine.indexOf(0x0a);
  return Buffer.concat([fieldLines(fields, nl > 0 && firstLine[nl - 1] === 0x0d), bytes]);
}
