/**
 * The MIME entity that goes inside the encryption (docs/contract.md §4, RFC 9788): every original header
 * field as a protected header, one HP-Outer field per outer field, and the original entity (its
 * Content-* fields and body bytes) unchanged except for CRLF line ends. Made in pieces, as
 * encryption reads it. Two shapes:
 *
 * - flat: the original entity is the inner entity, its Content-Type marked as the carrier of
 *   the protected headers;
 * - wrapped, when something must stand beside the original: a multipart/mixed carrying the
 *   protected headers, first a text part sealpost writes, then the original entity. The text part
 *   is an RFC 9788 Legacy Display Element (obscured fields, "Subject: ..." then a blank line,
 *   marked hp-legacy-display="1") and/or a note that the original was already encrypted; an
 *   already-encrypted original follows whole as message/rfc822, because a client such as
 *   Thunderbird shows nothing for an encryption layer right inside another.
 *
 * Why a part of its own for the legacy display: RFC 9788 puts the element at the start of each
 * Main Body Part, but changing the original's body would break its transfer encoding and any
 * signature, and the original must stay findable byte for byte. The first child of a
 * multipart/mixed is by RFC 9788's definition the Main Body Part, so a client that knows header
 * protection hides the element there (and shows the protected Subject), while one that does not
 * (Claws Mail, mutt without protected-header support) shows "Subject: ..." above the original.
 */
import { isAscii, isUtf8 } from "node:buffer";
import { headerLine } from "../mail/header-text.js";
import { wellFormed, type HeaderField } from "../mail/header.js";
import { toCrlf, toCrlfChunks, type RawMessage } from "../mail/raw-message.js";
import { alreadyEncrypted, type AlreadyEncrypted } from "./already-encrypted.js";
import { freshBoundary, transferEncoding } from "./mime-part.js";
import type { OuterFacts } from "./outer-facts.js";

const HP_PARAMS = 'protected-headers="v1"; hp="cipher"';
const ORIGINAL_NAME = "encrypted-original.eml";
const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

export function* innerEntity(
  raw: RawMessage,
  fields: readonly HeaderField[],
  facts: OuterFacts,
  outer: Array<[string, string]>,
  warnings: readonly string[] = [],
): Generator<Buffer> {
  const added: string[] = [];
  if (facts.synthesized.from) added.push(headerLine("From", facts.from));
  if (facts.synthesized.date) added.push(headerLine("Date", facts.date));
  if (facts.synthesized.messageId) added.push(headerLine("Message-ID", facts.messageId));
  for (const [name, value] of outer) added.push(headerLine("HP-Outer", `${name}: ${value}`));
  for (const warning of warnings) added.push(headerLine("X-Sealpost-Warning", warning));
  const encrypted = alreadyEncrypted(fields, raw.body);
  if (!encrypted && facts.obscured.length === 0) {
    yield* flat(raw, fields, added);
    return;
  }
  const original = encrypted ? toCrlf(withoutBom(raw.bytes)) : undefined;
  const boundary = freshBoundary("sealpost-inner", [original ?? raw.body]);
  const head = fields.filter((f) => !f.lname.startsWith("content-")).map(wellFormed);
  yield Buffer.concat([
    ...head,
    Buffer.from(headerLine("Content-Type", `multipart/mixed; boundary="${boundary}"; ${HP_PARAMS}`) + added.join("") + "\r\n", "utf8"),
  ]);
  yield Buffer.from(`--${boundary}\r\n`);
  yield textPart(legacyDisplay(facts.obscured) + (encrypted ? encryptedNote(encrypted) : ""), facts.obscured.length > 0);
  yield Buffer.from(`\r\n--${boundary}\r\n`);
  if (original) {
    yield Buffer.from(
      `Content-Type: message/rfc822\r\nContent-Disposition: attachment; filename="${ORIGINAL_NAME}"\r\n` +
        `Content-Transfer-Encoding: ${transferEncoding(original)}\r\n\r\n`,
    );
    yield* toCrlfChunks(original);
  } else {
    const own = fields.filter((f) => f.lname.startsWith("content-")).map(wellFormed);
    if (!fields.some((f) => f.lname === "content-type")) own.unshift(Buffer.from(headerLine("Content-Type", defaultContentType(raw.body))));
    yield Buffer.concat([...own, Buffer.from("\r\n")]);
    yield* toCrlfChunks(raw.body);
  }
  // the CRLF before a delimiter belongs to the delimiter (RFC 2046 §5.1.1): the original keeps its own last line end
  yield Buffer.from(`\r\n--${boundary}--\r\n`);
}

/** The original entity as the inner entity, its first Content-Type carrying the RFC 9788 parameters. */
function* flat(raw: RawMessage, fields: readonly HeaderField[], added: string[]): Generator<Buffer> {
  const parts: Buffer[] = [];
  let sawContentType = false;
  // Well-formed fields that lie one after another in the raw header go out as one piece: a piece
  // per field made a header of 10,000 fields hold serve for 50 ms.
  let run: Buffer | undefined;
  const endRun = () => {
    if (run) parts.push(withLineEnd(toCrlf(run)));
    run = undefined;
  };
  for (const field of fields) {
    if (field.lname === "content-type" && !sawContentType) {
      sawContentType = true;
      endRun();
      parts.push(Buffer.from(withHpParams(field), "latin1"));
    } else if (!asIs(field)) {
      endRun();
      parts.push(wellFormed(field));
    } else if (run && run.buffer === field.raw.buffer && run.byteOffset + run.length === field.raw.byteOffset) {
      run = Buffer.from(run.buffer, run.byteOffset, run.length + field.raw.length);
    } else {
      endRun();
      run = field.raw;
    }
  }
  endRun();
  if (!sawContentType) parts.push(Buffer.from(headerLine("Content-Type", `${defaultContentType(raw.body)}; ${HP_PARAMS}`)));
  parts.push(Buffer.from(added.join(""), "utf8"), Buffer.from("\r\n"));
  yield Buffer.concat(parts);
  yield* toCrlfChunks(raw.body); // the body in slices: a 25 MB report is never copied whole
}

/** A field wellFormed() would leave as it is but for line ends: no stray line in it, no white space before its colon. */
function asIs(field: HeaderField): boolean {
  return field.sureValue === field.value && !/^[^:\n]*[ \t]:/.test(field.raw.toString("latin1", 0, Math.min(field.raw.length, 200)));
}

function withLineEnd(b: Buffer): Buffer {
  return b.length >= 2 && b[b.length - 2] === 0x0d && b[b.length - 1] === 0x0a ? b : Buffer.concat([b, Buffer.from("\r\n")]);
}

/** The original Content-Type field with the RFC 9788 parameters appended. */
function withHpParams(field: HeaderField): string {
  const text = wellFormed(field).toString("latin1").replace(/\r\n$/, "");
  if (/protected-headers\s*=/i.test(text)) return text + "\r\n";
  return /;\s*$/.test(text) ? `${text}\r\n ${HP_PARAMS}\r\n` : `${text};\r\n ${HP_PARAMS}\r\n`;
}

/**
 * RFC 9788's Legacy Display Element for text/plain: one "Name: value" line per obscured field,
 * then a blank line. Values are shown decoded, with control characters (a CR LF smuggled in an
 * encoded Subject would fake further lines) made spaces.
 */
function legacyDisplay(obscured: ReadonlyArray<[string, string]>): string {
  if (obscured.length === 0) return "";
  // eslint-disable-next-line no-control-regex -- control characters are exactly what must not reach the display part
  return obscured.map(([name, value]) => `${name}: ${value.replace(/[\x00-\x1f\x7f\x85\u2028\u2029]/g, " ")}\r\n`).join("") + "\r\n";
}

function encryptedNote(encrypted: AlreadyEncrypted): string {
  const to =
    encrypted.keyIds.length > 0
      ? `It is encrypted to key ID ${encrypted.keyIds.join(", ")}.`
      : encrypted.openpgp
        ? "sealpost could not read to which keys it is encrypted."
        : "It is not OpenPGP (PGP/MIME) encrypted.";
  return (
    "This message was already encrypted when sealpost received it, so it is attached\r\n" +
    `unchanged as ${ORIGINAL_NAME}: open the attachment to decrypt it.\r\n${to}\r\n`
  );
}

/** sealpost's own text part: UTF-8, 8bit unless it is ASCII, base64 only if a line is too long for either. */
function textPart(text: string, legacy: boolean): Buffer {
  const bytes = Buffer.from(text, "utf8");
  const encoding = transferEncoding(bytes) === "binary" ? "base64" : transferEncoding(bytes);
  const content = encoding === "base64" ? bytes.toString("base64").replace(/.{76}/g, "$&\r\n").replace(/\r\n$/, "") + "\r\n" : text;
  return Buffer.from(
    headerLine("Content-Type", `text/plain; charset=utf-8${legacy ? '; hp-legacy-display="1"' : ""}`) +
      `Content-Disposition: inline\r\nContent-Transfer-Encoding: ${encoding}\r\n\r\n${content}`,
    "utf8",
  );
}

/** For a body without Content-Type: text/plain, us-ascii when it is, utf-8 when it decodes as such (native checks: a byte loop held serve 0.5 s for 25 MB). */
function defaultContentType(body: Buffer): string {
  if (isAscii(body)) return "text/plain; charset=us-ascii";
  return isUtf8(body) ? "text/plain; charset=utf-8" : "text/plain; charset=unknown-8bit";
}

function withoutBom(bytes: Buffer): Buffer {
  return bytes.subarray(0, 3).equals(UTF8_BOM) ? bytes.subarray(3) : bytes;
}
