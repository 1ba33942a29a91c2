/**
 * Sealing: one message per external recipient, its content encrypted to the route's keys,
 * only the fields of docs/contract.md §4 outside. Made as a stream of pieces while openpgp encrypts, so a
 * large message is held once (the input), not again as inner entity, ciphertext and armor.
 */
import { randomBytes } from "node:crypto";
import type { PrivateKey, PublicKey } from "openpgp";
import type { HeaderField } from "../mail/header.js";
import { headerLine } from "../mail/header-text.js";
import { toCrlf, toCrlfChunks, type RawMessage } from "../mail/raw-message.js";
import { encryptArmored, encryptArmoredStream, streamOf } from "../crypto/encrypt.js";
import { innerEntity } from "./inner-entity.js";
import type { OuterFacts } from "./outer-facts.js";
import { outerFields, renderFields } from "./outer-header.js";
import { INLINE_CONTENT_TYPE, INLINE_WRAPPER, pgpMimeContentType, pgpMimeWrapper } from "./pgp-mime.js";

export interface SealInput {
  raw: RawMessage;
  fields: readonly HeaderField[];
  facts: OuterFacts;
  format: "pgp-mime" | "inline";
  keys: PublicKey[];
  signingKey?: PrivateKey;
  /** Short warnings for the recipient, sealed in as X-Sealpost-Warning fields (a key about to expire). */
  warnings?: string[];
}

/**
 * The sealed message for `recipient`, in pieces; nothing is encrypted until it is read.
 * `streamed`: encrypt as the pieces are read (large messages), else in one go.
 */
export async function* sealFor(recipient: string, input: SealInput, streamed = true): AsyncGenerator<Buffer> {
  const outer = outerFields(input.facts, recipient);
  const inline = input.format === "inline";
  const boundary = `sealpost-${randomBytes(12).toString("hex")}`;
  const content = inline ? toCrlfChunks(input.raw.body) : innerEntity(input.raw, input.fields, input.facts, outer, input.warnings ?? []);
  const armored = streamed
    ? await encryptArmoredStream(streamOf(content), input.keys, input.signingKey)
    : [await encryptArmored(Buffer.concat([...content]), input.keys, input.signingKey)];
  const wrapper = inline ? INLINE_WRAPPER : pgpMimeWrapper(boundary);
  yield Buffer.from(
    renderFields(outer) + mimeFields(inline ? INLINE_CONTENT_TYPE : pgpMimeContentType(boundary)) + "\r\n" + wrapper.before,
    "latin1",
  );
  let lineEnded = true;
  for await (const chunk of armored) {
    if (chunk.length === 0) continue;
    yield toCrlf(Buffer.from(chunk, "latin1")); // armor is 7-bit, with LF line ends
    lineEnded = chunk.endsWith("\n");
  }
  yield Buffer.from((lineEnded ? "" : "\r\n") + wrapper.after, "latin1");
}

/** The whole sealed message in one buffer, for messages small enough to seal before storing. */
export async function sealedBytes(recipient: string, input: SealInput): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for await (const piece of sealFor(recipient, input, false)) pieces.push(piece);
  return Buffer.concat(pieces);
}

function mimeFields(contentType: string): string {
  return headerLine("MIME-Version", "1.0") + headerLine("Content-Type", contentType) + headerLine("Content-Transfer-Encoding", "7bit");
}
