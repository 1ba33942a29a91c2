/**
 * The egress check: the last thing before bytes go to the relay. It re-reads what is about
 * to be sent and lets it pass only if it is, byte for byte, a sealed message (SPEC §4):
 * a minimal 7-bit outer header, the exact RFC 3156 (or inline) wrapper around one armored
 * OpenPGP message, and that message nothing but PKESKs to the route's keys plus SEIPD v1.
 * Whatever bug sits upstream, plaintext cannot leave through here.
 */
import { enums, readMessage, type PublicKey } from "openpgp";
import { SealpostError, Status } from "../core/errors.js";
import { parseHeader } from "../core/header.js";
import { OUTER_ALLOWED } from "../message/outer-header.js";
import { INLINE_CONTENT_TYPE, extractArmored, inlineBody, pgpMimeBody } from "../message/pgp-mime.js";

export function allowedKeyIds(keys: readonly PublicKey[]): Set<string> {
  return new Set(keys.flatMap((key) => key.getKeyIDs().map((id) => id.toHex().toLowerCase())));
}

export async function assertSealed(bytes: Buffer, keyIds: ReadonlySet<string>): Promise<void> {
  const refuse = (why: string): never => {
    throw new SealpostError(Status.sealing, `refusing to relay a message that is not sealed (${why})`);
  };
  const split = bytes.indexOf("\r\n\r\n");
  if (split < 0) refuse("no header/body separator");
  const header = bytes.subarray(0, split + 2);
  const body = bytes.subarray(split + 4).toString("latin1");
  if (header.some((b) => b >= 0x80 || b === 0)) refuse("8-bit header");
  if (header.toString("latin1").split("\r\n").some((line) => line.length > 998 || line.includes("\r") || line.includes("\n"))) {
    refuse("header line too long or bare CR/LF");
  }
  const fields = parseHeader(header);
  const names = fields.map((f) => f.lname);
  const stray = names.find((n) => !OUTER_ALLOWED.has(n) && !n.startsWith("x-sealpost-"));
  if (stray) refuse(`outer field ${stray}`);
  const contentTypes = fields.filter((f) => f.lname === "content-type");
  if (contentTypes.length !== 1) refuse("not exactly one Content-Type");
  const armored = extractArmored(body) ?? refuse("not exactly one armored message");
  const contentType = contentTypes[0]!.value.replace(/\s+/g, " ");
  const boundary = /^multipart\/encrypted; protocol="application\/pgp-encrypted"; boundary="([A-Za-z0-9-]{1,70})"$/.exec(contentType)?.[1];
  const expected = boundary ? pgpMimeBody(boundary, armored) : contentType === INLINE_CONTENT_TYPE ? inlineBody(armored) : refuse("Content-Type");
  if (expected !== body) refuse("body is not just the encrypted wrapper");
  await assertEncryptedTo(armored, keyIds, refuse);
}

async function assertEncryptedTo(armored: string, keyIds: ReadonlySet<string>, refuse: (why: string) => never): Promise<void> {
  let message;
  try {
    message = await readMessage({ armoredMessage: armored });
  } catch {
    refuse("unreadable OpenPGP message");
  }
  let recipients = 0;
  let encrypted = 0;
  for (const packet of message!.packets) {
    const tag = (packet.constructor as { tag?: number }).tag;
    if (tag === enums.packet.publicKeyEncryptedSessionKey) {
      const p = packet as unknown as { version: number; publicKeyID: { toHex(): string; isWildcard(): boolean } };
      if (p.version !== 3 || p.publicKeyID.isWildcard() || !keyIds.has(p.publicKeyID.toHex().toLowerCase())) refuse("session key for another key");
      recipients++;
    } else if (tag === enums.packet.symEncryptedIntegrityProtectedData) {
      if ((packet as unknown as { version: number }).version !== 1) refuse("not SEIPD v1");
      encrypted++;
    } else {
      refuse(`unexpected OpenPGP packet ${tag}`);
    }
  }
  if (recipients === 0 || encrypted !== 1) refuse("no encrypted data for the route's keys");
}
