/**
 * The RFC 3156 wrapper, and its inline alternative. Both are pure functions of their inputs,
 * so the egress check can rebuild them and compare byte for byte.
 */
import { toCrlf } from "../core/raw-message.js";

export function pgpMimeContentType(boundary: string): string {
  return `multipart/encrypted; protocol="application/pgp-encrypted"; boundary="${boundary}"`;
}

export function pgpMimeBody(boundary: string, armored: string): string {
  return "This is an OpenPGP/MIME encrypted message (RFC 3156).\r\n" +
    `--${boundary}\r\n` +
    "Content-Type: application/pgp-encrypted\r\n" +
    "Content-Description: PGP/MIME version identification\r\n" +
    "\r\n" +
    "Version: 1\r\n" +
    "\r\n" +
    `--${boundary}\r\n` +
    'Content-Type: application/octet-stream; name="encrypted.asc"\r\n' +
    "Content-Description: OpenPGP encrypted message\r\n" +
    'Content-Disposition: inline; filename="encrypted.asc"\r\n' +
    "\r\n" +
    crlfArmor(armored) +
    `--${boundary}--\r\n`;
}

export const INLINE_CONTENT_TYPE = "text/plain; charset=us-ascii";

export function inlineBody(armored: string): string {
  return crlfArmor(armored);
}

function crlfArmor(armored: string): string {
  const text = toCrlf(Buffer.from(armored, "latin1")).toString("latin1");
  return text.endsWith("\r\n") ? text : text + "\r\n";
}

/** The one armored OpenPGP message in a text, or undefined unless there is exactly one. */
export function extractArmored(text: string): string | undefined {
  const matches = text.match(/-----BEGIN PGP MESSAGE-----\r\n[\s\S]*?\r\n-----END PGP MESSAGE-----\r\n/g);
  return matches && matches.length === 1 ? matches[0] : undefined;
}
