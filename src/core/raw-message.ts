/**
 * The raw bytes are the truth: this file only finds where things are in them.
 * It strips what the MTA wrapped around the message (the mbox "From " line, Exim's extra
 * blank line) and splits header from body, without re-serialising anything.
 */

export interface RawMessage {
  /** The message as received, minus the MTA's framing. Stored locally and sealed. */
  bytes: Buffer;
  /** Header section, up to but excluding the blank separator line (may be empty). */
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

/** A header field line: a field name of printable ASCII without ":", then optional WSP and ":". */
const FIELD_START = /^[\x21-\x39\x3b-\x7e]+[ \t]*:/;

/**
 * Splits at the first empty line. A line that is neither a field nor a continuation ends the
 * header without a separator (as Postfix cleanup treats it); input that does not start with a
 * field has no header at all.
 */
export function splitHeaderBody(bytes: Buffer): { header: Buffer; body: Buffer } {
  let pos = 0;
  let first = true;
  while (pos < bytes.length) {
    const nl = bytes.indexOf(LF, pos);
    const lineEnd = nl === -1 ? bytes.length : nl;
    const contentEnd = lineEnd > pos && bytes[lineEnd - 1] === CR ? lineEnd - 1 : lineEnd;
    const next = nl === -1 ? bytes.length : nl + 1;
    if (contentEnd === pos) {
      return { header: bytes.subarray(0, pos), body: bytes.subarray(next) }; // the separator line
    }
    const startsWithSpace = bytes[pos] === 0x20 || bytes[pos] === 0x09;
    const line = bytes.subarray(pos, Math.min(contentEnd, pos + 1000)).toString("latin1");
    if (!(FIELD_START.test(line) || (startsWithSpace && !first))) {
      return { header: bytes.subarray(0, pos), body: bytes.subarray(pos) };
    }
    first = false;
    pos = next;
  }
  return { header: bytes, body: Buffer.alloc(0) };
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
