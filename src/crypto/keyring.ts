/**
 * The keys_dir: one armored public key per file, named <FINGERPRINT>.asc (docs/contract.md §7).
 * Loading it and finding the keys a route seals to.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { PublicKey, readKey } from "openpgp";
import type { RouteConfig } from "../config/schema.js";
import { errnoOf, SealpostError } from "../core/errors.js";
import { Reason } from "../core/outcome.js";
import { fingerprintOf, unusableReason } from "./key-check.js";
import { keyFileStamps } from "../store/key-index.js";
import { expiryOf } from "./key-expiry.js";
import { keyEmails } from "./user-ids.js";

const KEY_FILE = /^([0-9A-F]{40})\.asc$/;

export interface StoredKey {
  fingerprint: string;
  key: PublicKey;
}

export function keyFile(keysDir: string, fingerprint: string): string {
  return join(keysDir, `${fingerprint}.asc`);
}

export async function listKeyFiles(keysDir: string): Promise<string[]> {
  try {
    return (await readdir(keysDir))
      .filter((name) => KEY_FILE.test(name))
      .sort()
      .map((name) => name.slice(0, 40));
  } catch (err) {
    if (errnoOf(err) === "ENOENT") return [];
    throw err;
  }
}

export async function loadKey(keysDir: string, fingerprint: string): Promise<StoredKey | undefined> {
  let text: string;
  try {
    text = await readFile(keyFile(keysDir, fingerprint), "utf8");
  } catch (err) {
    if (errnoOf(err) === "ENOENT") return undefined;
    throw err;
  }
  const key = await readKey({ armoredKey: text });
  if (!(key instanceof PublicKey) || key.isPrivate() || fingerprintOf(key) !== fingerprint) {
    throw new SealpostError(Reason.noKey, `key file ${fingerprint}.asc does not hold that public key`);
  }
  return { fingerprint, key };
}

export async function loadKeyring(keysDir: string): Promise<StoredKey[]> {
  const out: StoredKey[] = [];
  for (const fpr of await listKeyFiles(keysDir)) {
    const stored = await loadKey(keysDir, fpr).catch(() => undefined); // one damaged file must not stop the others
    if (stored) out.push(stored);
  }
  return out;
}

/**
 * The keys a route seals to: its pinned fingerprints, else every usable key whose certified
 * user id carries a `to` address (case-insensitive); plus its also_encrypt_to (archive) keys.
 * Every recipient and every archive key must be usable, or nothing is sent.
 */
export async function routeKeys(
  route: Pick<RouteConfig, "to" | "keys" | "alsoEncryptTo">,
  keysDir: string,
  now: Date = new Date(),
): Promise<PublicKey[]> {
  const ring = await checkedKeyring(keysDir, now);
  const keys = recipientKeys(route, ring);
  for (const fpr of route.alsoEncryptTo ?? []) {
    if (!keys.some((k) => fingerprintOf(k) === fpr)) keys.push(pinnedKey(ring, fpr, "archive key"));
  }
  return keys;
}

function pinnedKey(ring: readonly CheckedKey[], fpr: string, what: string): PublicKey {
  const found = ring.find((k) => k.fingerprint === fpr);
  const problem = found ? found.problem : "is not in keys_dir";
  if (problem || !found) throw new SealpostError(Reason.noKey, `no usable key: ${what} ${fpr} ${problem}`);
  return found.key;
}

function recipientKeys(route: Pick<RouteConfig, "to" | "keys">, ring: readonly CheckedKey[]): PublicKey[] {
  if (route.keys && route.keys.length > 0) return route.keys.map((fpr) => pinnedKey(ring, fpr, "pinned key"));
  const keys = new Map<string, PublicKey>();
  for (const recipient of route.to) {
    const wanted = recipient.toLowerCase();
    const theirs = ring.filter((k) => k.emails.includes(wanted));
    for (const k of theirs) if (k.problem === undefined) keys.set(k.fingerprint, k.key);
    // Say why when the recipient has keys that cannot be used (revoked, expired): that is what to fix.
    if (!theirs.some((k) => k.problem === undefined)) {
      const unusable = theirs.map((k) => `${k.fingerprint} ${k.problem}`);
      throw new SealpostError(Reason.noKey, `no usable key for ${recipient}${unusable.length > 0 ? `: ${unusable.join("; ")}` : ""}`);
    }
  }
  return [...keys.values()];
}

/** A stored key with what checking it found: its certified addresses, and why it cannot encrypt now, if so. */
interface CheckedKey extends StoredKey {
  emails: string[];
  problem?: string;
  /** Until when that answer holds: the next expiry among the key's parts (null: for as long as the files stay the same). */
  validUntil: number | null;
}

/**
 * The keyring, parsed and checked once and kept while its files stay the same: a warm runner
 * seals hundreds of messages a minute, and parsing and verifying every key's signatures for each
 * of them cost more than sealing. A key's answer is worked out again once it may have changed
 * (an expiry passed); a key file changed, added or removed starts over (sizes and times, one stat each).
 */
const checkedRings = new Map<string, { stamps: string; keys: CheckedKey[] }>();

async function checkedKeyring(keysDir: string, now: Date): Promise<CheckedKey[]> {
  const stamps = JSON.stringify(await keyFileStamps(keysDir));
  let ring = checkedRings.get(keysDir);
  if (ring?.stamps !== stamps) {
    const keys: CheckedKey[] = [];
    for (const { fingerprint, key } of await loadKeyring(keysDir)) keys.push(await check(fingerprint, key, now));
    ring = { stamps, keys };
    checkedRings.set(keysDir, ring);
  }
  for (const [i, k] of ring.keys.entries()) {
    if (k.validUntil !== null && now.getTime() >= k.validUntil) ring.keys[i] = await check(k.fingerprint, k.key, now);
  }
  return ring.keys;
}

async function check(fingerprint: string, key: PublicKey, now: Date): Promise<CheckedKey> {
  const problem = await unusableReason(key, now);
  const expiry = await expiryOf(key, now);
  // an unusable key stays so (revoked, expired) until its file changes; a usable one until it expires
  return {
    fingerprint,
    key,
    emails: await keyEmails(key, now),
    problem,
    validUntil: problem === undefined && expiry.expires ? expiry.expires.getTime() : null,
  };
}
