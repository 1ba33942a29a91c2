/**
 * The RFC 3156 wrapper, and its inline alternative, as the text before and after the armored
 * message. Pure functions of the boundary, so the egress check can rebuild them and compare.
 */

export function pgpMimeContentType(boundary: string): string {
  return `multipart/encrypted; protocol="application/pgp-encrypted"; boundary="${boundary}"`;
}

export interface Wrapper {
  before: string;
  after: string;
}

export function pgpMimeWrapper(boundary: string): Wrapper {
  return {
    before:
      "This is an OpenPGP/MIME encrypted message (RFC 3156).\r\n" +
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
      "\r\n",
    after: `--${boundary}--\r\n`,
  };
}

export const INLINE_CONTENT_TYPE = "text/plain; charset=us-ascii";

export const INLINE_WRAPPER: Wrapper = { before: "", after: "" };
