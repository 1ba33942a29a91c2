/**
 * Reading a decrypted digest the way a MIME reader does, independently of sealpost's code:
 * the boundary from Content-Type, then the summary part and every message/rfc822 part's bytes.
 */
import assert from "node:assert/strict";
import { splitAt } from "./sealed.js";

export interface DigestParts {
  summary: string;
  messages: Buffer[];
}

export function digestParts(inner: Buffer): DigestParts {
  const { header, body } = splitAt(inner);
  const boundary = /boundary="([^"]+)"/i.exec(header.replace(/\r?\n[ \t]+/g, " "))?.[1];
  assert.ok(boundary, "the digest is multipart with a boundary");
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  const parts: Buffer[] = [];
  let at = body.indexOf(`--${boundary}\r\n`);
  assert.ok(at >= 0, "the first boundary");
  at += boundary.length + 4;
  for (;;) {
    const next = body.indexOf(delimiter, at);
    assert.ok(next >= 0, "every part ends at a boundary");
    parts.push(body.subarray(at, next));
    at = next + delimiter.length;
    if (body.subarray(at, at + 2).toString() === "--") break;
    at += 2; // CRLF after the boundary
  }
  const [summaryPart, ...rest] = parts.map(splitAt);
  assert.match(summaryPart!.header, /Content-Type: text\/plain/i);
  for (const part of rest) assert.match(part.header, /Content-Type: message\/rfc822/i);
  return { summary: summaryPart!.body.toString("utf8"), messages: rest.map((p) => p.body) };
}

/** The original as the digest must carry it: without the mbox From_ line, with CRLF line ends. */
export function asCarried(original: Buffer): Buffer {
  const bytes = original.subarray(0, 5).toString() === "From " ? original.subarray(original.indexOf("\n") + 1) : original;
  return Buffer.from(bytes.toString("latin1").replace(/\r?\n/g, "\r\n"), "latin1");
}
