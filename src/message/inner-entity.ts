/**
 * The MIME entity that goes inside the encryption (SPEC §4, RFC 9788): every original header
 * field as a protected header, one HP-Outer field per outer field, and the original Content-*
 * fields and body bytes unchanged except for CRLF line ends. Made in pieces, as encryption reads it.
 */
import { isAscii, isUtf8 } from "node:buffer";
import { headerLine } from "../core/header-text.js";
import type { HeaderField } from "../core/header.js";
import { toCrlf, toCrlfChunks, type RawMessage } from "../core/raw-message.js";
import type { OuterFacts } from "./outer-facts.js";

const HP_PARAMS = 'protected-headers="v1"; hp="cipher"';

export function* innerEntity(raw: RawMessage, fields: readonly HeaderField[], facts: OuterFacts,
  outer: Array<[string, string]>, warnings: readonly string[] = []): Generator<Buffer> {
  const parts: Buffer[] = [];
  let sawContentType = false;
  // Fields that lie one after another in the raw header go out as one piece: a piece per field
  // made a header of 10,000 fields hold serve for 50 ms.
  let run: Buffer | undefined;
  const endRun = () => {
    if (run) parts.push(withLineEnd(toCrlf(run)));
    run = undefined;
  };
  for (const field of fields) {
    if (field.lname === "content-type" && !sawContentType) {
      sawContentType = true;
      endRun();
      parts.push(Buffer.from(withHpParams(field), "utf8"));
    } else if (run && run.buffer === field.raw.buffer && run.byteOffset + run.length === field.raw.byteOffset) {
      run = Buffer.from(run.buffer, run.byteOffset, run.length + field.raw.length);
    } else {
      endRun();
      run = field.raw;
    }
  }
  endRun();
  const added: string[] = [];
  if (!sawContentType) added.push(headerLine("Content-Type", `text/plain; charset=${guessCharset(raw.body)}; ${HP_PARAMS}`));
  if (facts.synthesized.from) added.push(headerLine("From", facts.from));
  if (facts.synthesized.date) added.push(headerLine("Date", facts.date));
  if (facts.synthesized.messageId) added.push(headerLine("Message-ID", facts.messageId));
  for (const [name, value] of outer) added.push(headerLine("HP-Outer", `${name}: ${value}`));
  for (const warning of warnings) added.push(headerLine("X-Sealpost-Warning", warning));
  parts.push(Buffer.from(added.join(""), "utf8"), Buffer.from("\r\n"));
  yield Buffer.concat(parts);
  yield* toCrlfChunks(raw.body); // the body in slices: a 25 MB report is never copied whole
}

/** The original Content-Type field with the RFC 9788 parameters appended. */
function withHpParams(field: HeaderField): string {
  const text = toCrlf(field.raw).toString("utf8").replace(/\r\n$/, "");
  if (/protected-headers\s*=/i.test(text)) return text + "\r\n";
  return /;\s*$/.test(text) ? `${text}\r\n ${HP_PARAMS}\r\n` : `${text};\r\n ${HP_PARAMS}\r\n`;
}

function withLineEnd(b: Buffer): Buffer {
  return b.length >= 2 && b[b.length - 2] === 0x0d && b[b.length - 1] === 0x0a ? b : Buffer.concat([b, Buffer.from("\r\n")]);
}

/** For a body without Content-Type: us-ascii when it is, utf-8 when it decodes as such (native checks: a byte loop held serve 0.5 s for 25 MB). */
function guessCharset(body: Buffer): string {
  if (isAscii(body)) return "us-ascii";
  return isUtf8(body) ? "utf-8" : "unknown-8bit";
}
