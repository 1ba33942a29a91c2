/** Small pieces for the MIME entities sealpost writes itself: boundaries and transfer encodings. */
import { randomBytes } from "node:crypto";

/** A boundary (`prefix` and 24 random hex digits) that occurs in none of `contents`. */
export function freshBoundary(prefix: string, contents: readonly Buffer[]): string {
  for (;;) {
    const boundary = `${prefix}-${randomBytes(12).toString("hex")}`;
    if (!contents.some((bytes) => bytes.includes(boundary))) return boundary;
  }
}

/**
 * The transfer encoding that labels `bytes` as they are: 7bit, 8bit or binary (the only ones
 * message/rfc822 and multipart allow, RFC 2046 §5.2.1); inside OpenPGP any of them is safe.
 */
export function transferEncoding(bytes: Buffer): "7bit" | "8bit" | "binary" {
  let eightBit = false;
  let lineLength = 0;
  for (const byte of bytes) {
    if (byte === 0x0a) {
      lineLength = 0;
      continue;
    }
    if (byte === 0 || ++lineLength > 998) return "binary";
    if (byte >= 0x80) eightBit = true;
  }
  return eightBit ? "8bit" : "7bit";
}

/** A Content-Type value's type/subtype (lower case) and parameters (names lower case, quotes removed). */
export function contentType(value: string): { type: string; params: Map<string, string> } {
  const semicolon = value.indexOf(";");
  const type = (semicolon === -1 ? value : value.slice(0, semicolon)).trim().toLowerCase();
  const params = new Map<string, string>();
  const param = /;\s*([!#$%&'*+\-.^_`|~0-9A-Za-z]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;"]*))/g;
  for (let m = param.exec(value); m; m = param.exec(value)) {
    const name = m[1]!.toLowerCase();
    if (!params.has(name)) params.set(name, m[2] !== undefined ? m[2].replace(/\\(.)/g, "$1") : m[3]!);
  }
  return { type, params };
}
