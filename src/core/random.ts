/**
 * Unpredictable bytes from the kernel (/dev/urandom), read with one syscall, for names that must
 * not be guessed (a drop file's 128 bits) or must not collide (spool ids, Maildir names, temp
 * files). Not node:crypto: loading it costs every deliver a few milliseconds, and it would read
 * the same kernel source.
 */
import { openSync, readSync } from "node:fs";

let urandom: number | undefined;

export function randomHex(bytes: number): string {
  const buffer = Buffer.allocUnsafe(bytes);
  urandom ??= openSync("/dev/urandom", "r");
  let got = 0;
  while (got < bytes) got += readSync(urandom, buffer, got, bytes - got, null);
  return buffer.toString("hex");
}
