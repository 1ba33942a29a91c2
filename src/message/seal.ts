/**
 * Sealing: one message per external recipient, its content encrypted to the route's keys,
 * only the fields of SPEC §4 outside.
 */
import { randomBytes } from "node:crypto";
import type { PrivateKey, PublicKey } from "openpgp";
import type { HeaderField } from "../core/header.js";
import { headerLine } from "../core/header-text.js";
import { toCrlf, type RawMessage } from "../core/raw-message.js";
import { encryptArmored } from "../crypto/encrypt.js";
import { innerEntity } from "./inner-entity.js";
import type { OuterFacts } from "./outer-facts.js";
import { outerFields, renderFields } from "./outer-header.js";
import { INLINE_CONTENT_TYPE, inlineBody, pgpMimeBody, pgpMimeContentType } from "./pgp-mime.js";

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

export async function sealFor(recipient: string, input: SealInput): Promise<Buffer> {
  const outer = outerFields(input.facts, recipient);
  if (input.format === "inline") {
    const armored = await encryptArmored(toCrlf(input.raw.body), input.keys, input.signingKey);
    return Buffer.from(renderFields(outer) + mimeFields(INLINE_CONTENT_TYPE) + "\r\n" + inlineBody(armored), "latin1");
  }
  const inner = innerEntity(input.raw, input.fields, input.facts, outer, input.warnings ?? []);
  const armored = await encryptArmored(inner, input.keys, input.signingKey);
  const boundary = `sealpost-${randomBytes(12).toString("hex")}`;
  return Buffer.from(renderFields(outer) + mimeFields(pgpMimeContentType(boundary)) + "\r\n" + pgpMimeBody(boundary, armored), "latin1");
}

function mimeFields(contentType: string): string {
  return headerLine("MIME-Version", "1.0") + headerLine("Content-Type", contentType) + headerLine("Content-Transfer-Encoding", "7bit");
}
