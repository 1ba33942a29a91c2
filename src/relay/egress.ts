/**
 * The egress check: the last thing before bytes go to the relay. It reads what is about to be
 * sent and lets it pass only if it is, byte for byte, a sealed message (docs/contract.md §4): a minimal
 * 7-bit outer header, the exact RFC 3156 (or inline) wrapper around one armored OpenPGP
 * message, and that message nothing but PKESKs to the route's keys plus SEIPD v1.
 * Whatever bug sits upstream, plaintext cannot leave through here.
 *
 * It works on a stream, passing on only what it has checked: the header and wrapper whole,
 * then armor lines once they decode into the packets above. A check that fails late (a wrong
 * ending) fails the stream, and the relay never sees the end of DATA, so it keeps nothing.
 */
import type { PublicKey } from "openpgp";
import { SealpostError } from "../core/errors.js";
import { Reason } from "../core/outcome.js";
import { parseHeader } from "../mail/header.js";
import { OUTER_ALLOWED } from "../message/outer-header.js";
import { INLINE_CONTENT_TYPE, INLINE_WRAPPER, pgpMimeWrapper, type Wrapper } from "../message/pgp-mime.js";
import { PacketWalk } from "./packet-walk.js";

const MAX_HEAD = 64 * 1024;
const BEGIN = "-----BEGIN PGP MESSAGE-----";
const END = "-----END PGP MESSAGE-----";
const BASE64 = new Uint8Array(256);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") BASE64[c.charCodeAt(0)] = 1;
const CR = 13;
const LF = 10;
const EQUALS = 61;

/**
 * How many base64 characters bytes [from, to) hold, or -1 unless they are complete armor
 * lines (RFC 9580 6.2: at most 76 characters, "=" padding only at the end of the data). A loop
 * over bytes, not a regular expression: it runs over all of a 25 MB message, and the obvious
 * expression took a quarter of a second for one.
 */
function base64Chars(b: Buffer, from: number, to: number): number {
  let column = 0;
  let padding = 0;
  let count = 0;
  for (let i = from; i < to; i++) {
    const c = b[i]!;
    if (c === CR) {
      if (b[i + 1] !== LF || column === 0) return -1;
      i++;
      count += column;
      column = 0;
    } else if (c === EQUALS) {
      if (++padding > 2 || ++column > 76) return -1;
    } else if (BASE64[c] !== 1 || padding > 0 || ++column > 76) {
      return -1;
    }
  }
  return column === 0 ? count : -1; // padding is never reset: no data may follow it
}

function endsPadded(b: Buffer, stop: number): boolean {
  return stop >= 3 && b[stop - 3] === EQUALS;
}

export function allowedKeyIds(keys: readonly PublicKey[]): Set<string> {
  return new Set(keys.flatMap((key) => key.getKeyIDs().map((id) => id.toHex().toLowerCase())));
}

function refuse(why: string): never {
  throw new SealpostError(Reason.sealing, `refusing to relay a message that is not sealed (${why})`);
}

/** The whole message at once: passes or throws, before anything is sent. */
export async function assertSealed(bytes: Buffer, keyIds: ReadonlySet<string>): Promise<void> {
  for await (const _ of guardSealed([bytes], keyIds));
}

/** `source` passed on piece by piece as far as it is checked; throws where it stops being sealed. */
export async function* guardSealed(source: AsyncIterable<Buffer> | Iterable<Buffer>, keyIds: ReadonlySet<string>): AsyncGenerator<Buffer> {
  const armor = new ArmorCheck(new PacketWalk(keyIds, refuse));
  let pending = Buffer.alloc(0);
  let wrapper: Wrapper | undefined;
  for await (const piece of source) {
    let checked: Buffer;
    if (wrapper) {
      checked = armor.take(piece);
    } else {
      pending = Buffer.concat([pending, piece]);
      const start = wrapperStart(pending);
      if (!start) continue;
      wrapper = start.wrapper;
      yield pending.subarray(0, start.length);
      checked = armor.take(pending.subarray(start.length));
    }
    if (checked.length > 0) yield checked;
  }
  if (!wrapper) refuse("no header/body separator");
  yield armor.finish(wrapper.after);
}

/** The checked header and wrapper opening at the start of `bytes`, or undefined until all of it is there. */
function wrapperStart(bytes: Buffer): { wrapper: Wrapper; length: number } | undefined {
  const split = bytes.indexOf("\r\n\r\n");
  if (split < 0) {
    if (bytes.length > MAX_HEAD) refuse("no header/body separator");
    return undefined;
  }
  const wrapper = checkHeader(bytes.subarray(0, split + 2));
  const length = split + 4 + wrapper.before.length;
  if (bytes.length < length) return undefined;
  if (bytes.subarray(split + 4, length).toString("latin1") !== wrapper.before) refuse("body is not just the encrypted wrapper");
  return { wrapper, length };
}

/** The outer header: 7-bit, short lines, only docs/contract.md §4's fields, one Content-Type naming the wrapper. */
function checkHeader(header: Buffer): Wrapper {
  if (header.some((b) => b >= 0x80 || b === 0)) refuse("8-bit header");
  if (
    header
      .toString("latin1")
      .split("\r\n")
      .some((line) => line.length > 998 || line.includes("\r") || line.includes("\n"))
  ) {
    refuse("header line too long or bare CR/LF");
  }
  const fields = parseHeader(header);
  const stray = fields.map((f) => f.lname).find((n) => !OUTER_ALLOWED.has(n) && !n.startsWith("x-sealpost-"));
  if (stray) refuse(`outer field ${stray}`);
  const contentTypes = fields.filter((f) => f.lname === "content-type");
  if (contentTypes.length !== 1) refuse("not exactly one Content-Type");
  const contentType = contentTypes[0]!.value.replace(/\s+/g, " ");
  const boundary = /^multipart\/encrypted; protocol="application\/pgp-encrypted"; boundary="([A-Za-z0-9-]{1,70})"$/.exec(contentType)?.[1];
  if (boundary) return pgpMimeWrapper(boundary);
  if (contentType === INLINE_CONTENT_TYPE) return INLINE_WRAPPER;
  return refuse("Content-Type");
}

/** The armored message, line by line: BEGIN, a blank line, base64 data, an optional checksum, END. */
class ArmorCheck {
  private state: "begin" | "headers" | "data" | "checksum" | "end" | "after" = "begin";
  private carry: Buffer = Buffer.alloc(0);
  private tail = "";

  constructor(private readonly packets: PacketWalk) {}

  /** Returns the bytes of `piece` checked so far (whole lines); keeps a partial line back. */
  take(piece: Buffer): Buffer {
    const bytes = this.carry.length > 0 ? Buffer.concat([this.carry, piece]) : piece;
    if (this.state === "after") {
      this.tail += bytes.toString("latin1");
      this.carry = Buffer.alloc(0);
      if (this.tail.length > 1024) refuse("body is not just the encrypted wrapper");
      return Buffer.alloc(0);
    }
    const cut = bytes.lastIndexOf("\r\n") + 2; // 1 when there is none: nothing is complete yet
    const complete = cut === 1 ? 0 : cut;
    this.carry = bytes.subarray(complete);
    if (this.carry.length > 1024) refuse("armor line too long");
    return bytes.subarray(0, this.lines(bytes, complete));
  }

  /** Checks the complete lines in bytes [0, end); returns how many bytes of them may go out. */
  private lines(bytes: Buffer, end: number): number {
    let at = 0;
    while (at < end && this.state !== "after") {
      if (this.state === "data") {
        const stop = dataEnd(bytes, at, end);
        const chars = base64Chars(bytes, at, stop);
        if (chars < 0) refuse("armor is not base64");
        // inside the ciphertext only the count matters: decoding 25 MB to skip it fills the heap
        if (chars % 4 === 0 && !endsPadded(bytes, stop) && this.packets.canSkip((chars / 4) * 3)) this.packets.skip((chars / 4) * 3);
        else this.packets.feed(Buffer.from(bytes.toString("latin1", at, stop), "base64"));
        at = stop;
        if (at < end) this.state = bytes[at] === EQUALS ? "checksum" : "end";
        continue;
      }
      const eol = bytes.indexOf("\r\n", at);
      const line = bytes.toString("latin1", at, eol);
      at = eol + 2;
      if (this.state === "begin") {
        if (line !== BEGIN) refuse("not exactly one armored message");
        this.state = "headers";
      } else if (this.state === "headers") {
        if (line === "") this.state = "data";
        else if (!/^(?:Version|Comment): [\x20-\x7e]{0,200}$/.test(line)) refuse("armor header");
      } else if (this.state === "checksum") {
        if (!/^=[A-Za-z0-9+/]{4}$/.test(line)) refuse("armor checksum");
        this.state = "end";
      } else {
        if (line !== END) refuse("not exactly one armored message");
        this.packets.finish();
        this.state = "after";
      }
    }
    if (this.state === "after") this.tail += bytes.toString("latin1", at, end);
    return at;
  }

  /** The rest after END: exactly the wrapper's closing text, and then nothing. */
  finish(after: string): Buffer {
    if (this.state !== "after") refuse("the armored message does not end");
    const rest = this.tail + this.carry.toString("latin1");
    if (rest !== after) refuse("body is not just the encrypted wrapper");
    return Buffer.from(rest, "latin1");
  }
}

/** Where the base64 lines in bytes [at, end) stop: at a line starting with "=" or "-". */
function dataEnd(bytes: Buffer, at: number, end: number): number {
  if (bytes[at] === EQUALS || bytes[at] === 0x2d) return at;
  const eq = bytes.indexOf("\r\n=", at);
  const dash = bytes.indexOf("\r\n-", at);
  const stop = Math.min(eq < 0 || eq >= end ? Infinity : eq, dash < 0 || dash >= end ? Infinity : dash);
  return stop === Infinity ? end : stop + 2;
}
