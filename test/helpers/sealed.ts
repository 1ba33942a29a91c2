/**
 * Reading a sealed message the way a recipient does, independently of sealpost's own code:
 * split the outer header, take the armored part, decrypt it with real GnuPG.
 */
import assert from "node:assert/strict";
import type { Gpg } from "./gpg.js";

export interface Opened {
  outerHeader: string;
  outerFields: Map<string, string[]>;
  inner: Buffer;
  innerHeader: string;
  innerBody: Buffer;
  packets: string;
}

export function headerFields(header: string): Map<string, string[]> {
  const fields = new Map<string, string[]>();
  for (const field of header.replace(/\r?\n(?=[ \t])/g, "").split(/\r?\n/)) {
    const colon = field.indexOf(":");
    if (colon <= 0) continue;
    const name = field.slice(0, colon).toLowerCase();
    fields.set(name, [...(fields.get(name) ?? []), field.slice(colon + 1).trim()]);
  }
  return fields;
}

function hasSeparator(bytes: Buffer): boolean {
  return bytes.includes("\r\n\r\n") || bytes.includes("\n\n");
}

export function splitAt(bytes: Buffer): { header: string; body: Buffer } {
  const crlf = bytes.indexOf("\r\n\r\n");
  const lf = bytes.indexOf("\n\n");
  const [at, len] = crlf !== -1 && (lf === -1 || crlf < lf) ? [crlf, 4] : [lf, 2];
  assert.ok(at >= 0, "message has a header/body separator");
  return { header: bytes.subarray(0, at).toString("latin1"), body: bytes.subarray(at + len) };
}

export function openSealed(raw: Buffer, gpg: Gpg): Opened {
  const { header } = splitAt(raw);
  const armored = /-----BEGIN PGP MESSAGE-----[\s\S]*?-----END PGP MESSAGE-----/.exec(raw.toString("latin1"));
  assert.ok(armored, "the relayed message carries an armored OpenPGP message");
  const { plaintext, status, ok } = gpg.decrypt(armored[0]);
  assert.ok(ok, `GnuPG decrypts it: ${status.slice(-300)}`);
  const inner = hasSeparator(plaintext) ? splitAt(plaintext) : { header: "", body: plaintext };
  return {
    outerHeader: header,
    outerFields: headerFields(header),
    inner: plaintext,
    innerHeader: inner.header,
    innerBody: inner.body,
    packets: gpg.packets(armored[0]),
  };
}

/** Body of the original, with the mbox From_ line and line-end differences taken out. */
export function originalBody(raw: Buffer): Buffer {
  let bytes = raw.subarray(0, 5).toString() === "From " ? raw.subarray(raw.indexOf("\n") + 1) : raw;
  bytes = Buffer.from(bytes.toString("latin1").replace(/\r\n/g, "\n"), "latin1");
  const at = bytes.indexOf("\n\n");
  return at === -1 ? Buffer.alloc(0) : bytes.subarray(at + 2);
}

export function lf(b: Buffer): Buffer {
  return Buffer.from(b.toString("latin1").replace(/\r\n/g, "\n"), "latin1");
}

export interface Part {
  header: string;
  fields: Map<string, string[]>;
  body: Buffer;
}

/**
 * The body parts of a multipart entity, split at its boundary as a MIME reader does (RFC 2046
 * §5.1.1: the CRLF before a delimiter belongs to the delimiter), without sealpost's own code.
 */
export function mimeParts(entity: Buffer): Part[] {
  const { header, body } = splitAt(entity);
  const boundary = /boundary="?([^";\s]+)"?/i.exec(headerFields(header).get("content-type")?.[0] ?? "")?.[1];
  assert.ok(boundary, "a multipart entity with a boundary");
  const chunks = body
    .toString("latin1")
    .split(new RegExp(`(?:^|\\r\\n)--${boundary.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?:--)?[ \\t]*(?:\\r\\n|$)`));
  return chunks.slice(1, -1).map((chunk) => {
    const part = Buffer.from(chunk, "latin1");
    const split = part.subarray(0, 2).toString() === "\r\n" ? { header: "", body: part.subarray(2) } : splitAt(part);
    return { header: split.header, fields: headerFields(split.header), body: split.body };
  });
}
