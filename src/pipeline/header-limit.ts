/**
 * How big a submitted message's header may be. A local user can submit a
 * header of 20 MB in one field, or a million fields; splitting and parsing are linear, but at
 * that size they hold `serve` for seconds, and the spool runner after it. Local submissions
 * (cron, fail2ban, an application over SMTP) carry a few KB of header; sendmail refuses more
 * than 32 KB (MaxHeadersLength), Postfix cuts at 100 KB (header_size_limit). So serve, sendmail
 * and the drops take a header of at most HEADER_MAX, found out by looking at no more than that.
 */
import { SealpostError } from "../core/errors.js";
import { Reason } from "../core/outcome.js";
import { splitHeaderBody } from "../mail/raw-message.js";

export const HEADER_MAX = 64 * 1024;

const LF = 0x0a;

/** Throws 5.3.4 when the header section of `bytes` is longer than HEADER_MAX; never reads further than that. */
export function checkHeaderSize(bytes: Buffer): void {
  if (bytes.length <= HEADER_MAX) return;
  const prefix = bytes.subarray(0, HEADER_MAX);
  // The header never goes past the first empty line: two native scans settle nearly every message.
  if (prefix.indexOf("\n\n") !== -1 || prefix.indexOf("\n\r\n") !== -1) return;
  // No empty line (a header ended by a line that is not a field, or a header that goes on): ask the
  // splitter about the prefix, trusting only a decision it made on a line that is whole there.
  const lastLineStart = prefix.lastIndexOf(LF) + 1;
  if (splitHeaderBody(prefix).header.length < lastLineStart) return;
  throw headerTooBig();
}

export function headerTooBig(): SealpostError {
  return new SealpostError(Reason.tooBig, `message header larger than ${HEADER_MAX / 1024} KB`);
}
