/**
 * SHA-256, hex. A small message (under 1 MiB: nearly all of root's mail) is hashed by
 * @noble/hashes in JavaScript, so deliver need not load node:crypto (several milliseconds of a
 * cold start); a large one by node:crypto, loaded then, at native speed. Both are SHA-256: the
 * same bytes give the same digest either way.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import type * as Crypto from "node:crypto";
import { lazy } from "./builtin.js";

const NATIVE_FROM = 1 << 20;
const crypto = lazy<typeof Crypto>("node:crypto");

export function sha256Hex(data: Uint8Array | string): string {
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  if (bytes.length >= NATIVE_FROM) return crypto().createHash("sha256").update(bytes).digest("hex");
  return bytesToHex(sha256(bytes));
}
