/**
 * The raw bytes are the truth: this file only finds where things are in them.
 * It strips what the MTA wrapped around the message (the mbox "From " line, Exim's extra
 * blank line) and splits header from body, without re-serialising anything.
 */

export interface RawMessage {
  /** The message as received, minus the MTA's framing. Stored locally and sealed. */
  bytes: Buffer;
  /** Header section (after a UTF-8 byte order mark, if any), up to but excluding the blank separator line (may be empty). */
  header: Buffer;
  /** Everything after the separator line (or after the header when there is none). */
  body: Buffer;
  /** The mbox "From " line the MTA put first, without its line end, if there was one. */
  fromLine?: string;
}

const LF = 0x0a;
const CR = 0x0d;

export interface Framing {
  /** Exim's pipe transport appends one "\n" (message_suffix) after the message. */
  eximSuffix: boolean;
}

export function readRawMessage(input: Buffer, framing: Framing = { eximSuffix: false }): RawMessage {
  let bytes = input;
  let fromLine: string | undefined;
  if (bytes.subarray(0, 5).toString("latin1") === "From ") {
    const end = bytes.indexOf(LF);
    const lineEnd = end === -1 ? bytes.length : end;
    fromLine = bytes.subarray(0, lineEnd).toString("latin1").replace(/\r$/, "");
    bytes = bytes.subarray(end === -1 ? bytes.length : end + 1);
  }
  if (framing.eximSuffix && endsWithBlankLine(bytes)) bytes = bytes.subarray(0, bytes.length - 1);
  const { header, body } = splitHeaderBody(bytes);
  return { bytes, header, body, fromLine };
}

function endsWithBlankLine(b: Buffer): boolean {
  const n = b.length;
  return n >= 2 && b[n - 1] === LF && (b[n - 2] === LF || (n >= 3 && b[n - 2] === CR && b[n - 3] === LF));
}

/** A header field line: a field name of printable ASCII without ":", then optional WSP (obsolete syntax, "FROM :") and ":". */
const FIELD_START = /^[\x21-\x39\x3b-\x7e]+[ \t]*:/;
/** A field as senders write it ("Name: value"): what must follow a stray line for the stray line to stay in the header. */
const PLAIN_FIELD = /^[A-Za-z][A-Za-z0-9-]*[ \t]*:(?:[ \t]|$)/;
/** How many stray lines in a row may belong to the field before them: a 998-octet field hard-wrapped at 78 is 13. */
const MAX_STRAY_LINES = 16;
const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** Whether the line starting at `pos` begins a header field. */
export function startsField(bytes: Buffer, pos: number): boolean {
  // only this line, and at most 1000 octets of it: a million short lines must not cost a million kilobytes
  const nl = bytes.indexOf(LF, pos);
  return FIELD_START.test(bytes.toString("latin1", pos, Math.min(nl === -1 ? bytes.length : nl, pos + 1000)));
}

/**
 * Splits at the first empty line, reading the header tolerantly (as MimeKit does) only as far
 * as that cannot misread a body as header:
 * - a UTF-8 byte order mark before the first field is skipped (the header starts after it);
 * - a run of lines that are neither fields nor continuations ("stray" lines: an over-long field
 *   hard-wrapped without leading white space, as some Exchange relays emit), when a field in the
 *   usual "Name: value" shape follows it directly, belongs to the field before it (parseHeader
 *   reads it as a continuation);
 * - anything else that is neither a field nor a continuation ends the header without a separator
 *   (as Postfix cleanup and Python's email do): a stray run that ends the header block, one
 *   longer than MAX_STRAY_LINES, or a line starting "--" (a MIME boundary of a message that lost
 *   its separator line). Input that does not start with a field has no header at all.
 */
export function splitHeaderBody(bytes: Buffer): { header: Buffer; body: Buffer } {
  const start = bytes.subarray(0, 3).equals(UTF8_BOM) ? 3 : 0;
  let pos = start;
  while (pos < bytes.length) {
    const line = lineAt(bytes, pos);
    if (line.empty) return { header: bytes.subarray(start, pos), body: bytes.subarray(line.next) }; // the separator line
    const continuation = pos > start && (bytes[pos] === 0x20 || bytes[pos] === 0x09);
    if (continuation || startsField(bytes, pos)) {
      pos = line.next;
      continue;
    }
    const rejoin = pos > start ? strayRunEnd(bytes, pos) : undefined;
    if (rejoin === undefined) return { header: bytes.subarray(start, pos), body: bytes.subarray(pos) };
    pos = rejoin;
  }
  return { header: bytes.subarray(start), body: Buffer.alloc(0) };
}

/** Where the stray run at `pos` ends, if a plain field follows it directly; undefined if it ends the header. */
function strayRunEnd(bytes: Buffer, pos: number): number | undefined {
  let stray = 0;
  while (pos < bytes.length) {
    const line = lineAt(bytes, pos);
    if (line.empty) return undefined;
    const text = bytes.toString("latin1", pos, Math.min(line.end, pos + 1000));
    if (bytes[pos] !== 0x20 && bytes[pos] !== 0x09) {
      if (FIELD_START.test(text)) return PLAIN_FIELD.test(text) ? pos : undefined;
      if (text.startsWith("--") || ++stray > MAX_STRAY_LINES) return undefined;
    }
    pos = line.next;
  }
  return undefined;
}

function lineAt(bytes: Buffer, pos: number): { end: number; next: number; empty: boolean } {
  const nl = bytes.indexOf(LF, pos);
  const lineEnd = nl === -1 ? bytes.length : nl;
  const end = lineEnd > pos && bytes[lineEnd - 1] === CR ? lineEnd - 1 : lineEnd;
  return { end, next: nl === -1 ? bytes.length : nl + 1, empty: end === pos };
}

/** LF and CRLF line ends to CRLF (RFC 5322 and what OpenPGP/MIME signs and seals). */
export function toCrlf(input: Buffer): Buffer {
  let bareLf = 0;
  for (let i = input.indexOf(LF); i !== -1; i = input.indexOf(LF, i + 1)) {
    if (i === 0 || input[i - 1] !== CR) bareLf++;
  }
  if (bareLf === 0) return input;
  const out = Buffer.allocUnsafe(input.length + bareLf);
  let o = 0;
  let start = 0;
  for (let i = input.indexOf(LF); i !== -1; i = input.indexOf(LF, i + 1)) {
    if (i > 0 && input[i - 1] === CR) continue;
    o += input.copy(out, o, start, i);
    out[o++] = CR;
    out[o++] = LF;
    start = i + 1;
  }
  o += input.copy(out, o, start);
  return out.subarray(0, o);
}

/** toCrlf in slices of about `size` bytes, each cut just after a LF, so no CR LF pair is split. */
export function* toCrlfChunks(input: Buffer, size = 1 << 18): Generator<Buffer> {
  let start = 0;
  while (start < input.length) {
    let end = Math.min(start + size, input.length);
    if (end < input.length) {
      const nl = input.indexOf(LF, end - 1);
      end = nl === -1 ? input.length : nl + 1;
    }
    yield toCrlf(input.subarray(start, end));
    start = end;
  }
}
