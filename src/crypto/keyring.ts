/**
 * The keys_dir: one armored public key per file, named <FINGERPRINT>.asc (SPEC §7).
 * Loading it and finding the keys a route seals to.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { readKey, type PublicKey } from "openpgp";
import type { RouteConfig } from "../config/schema.js";
import { SealpostError, Status } from "../core/errors.js";
import { fingerprintOf, unusableReason } from "./key-check.js";
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
    return (await readdir(keysDir)).filter((name) => KEY_FILE.test(name)).sort().map((name) => name.slice(0, 40));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}

export async function loadKey(keysDir: string, fingerprint: string): Promise<StoredKey | undefined> {
  let text: string;
  try {
    text = await readFile(keyFile(keysDir, fingerprint), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  const key = await readKey({ armoredKey: text });
  if (key.isPrivate() || fingerprintOf(key) !== fingerprint) {
    throw new SealpostError(Status.noKey, `key file ${fingerprint}.asc does not hold that public key`);
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
export async function routeKeys(route: Pick<RouteConfig, "to" | "keys" | "alsoEncryptTo">, keysDir: string, now: Date = new Date()): Promise<PublicKey[]> {
  const keys = await recipientKeys(route, keysDir, now);
  for (const fpr of route.alsoEncryptTo ?? []) {
    if (!keys.some((k) => fingerprintOf(k) === fpr)) keys.push(await pinnedKey(keysDir, fpr, "archive key", now));
  }
  return keys;
}

async function pinnedKey(keysDir: string, fpr: string, what: string, now: Date): Promise<PublicKey> {
  const stored = await loadKey(keysDir, fpr).catch(() => undefined);
  const problem = stored ? await unusableReason(stored.key, now) : "is not in keys_dir";
  if (problem || !stored) throw new SealpostError(Status.noKey, `no usable key: ${what} ${fpr} ${problem}`);
  return stored.key;
}

async function recipientKeys(route: Pick<RouteConfig, "to" | "keys">, keysDir: string, now: Date): Promise<PublicKey[]> {
  if (route.keys && route.keys.length > 0) {
    const keys: PublicKey[] = [];
    for (const fpr of route.keys) keys.push(await pinnedKey(keysDir, fpr, "pinned key", now));
    return keys;
  }
  const ring = await loadKeyring(keysDir);
  const emails = await Promise.all(ring.map(({ key }) => keyEmails(key, now)));
  const keys = new Map<string, PublicKey>();
  for (const recipient of route.to) {
    const wanted = recipient.toLowerCase();
    const unusable: string[] = [];
    let found = 0;
    for (const [i, { fingerprint, key }] of ring.entries()) {
      if (!emails[i]!.includes(wanted)) continue;
      const problem = await unusableReason(key, now);
      if (problem === undefined) {
        keys.set(fingerprint, key);
        found++;
      } else {
        unusable.push(`${fingerprint} ${problem}`);
      }
    }
    // Say why when the recipient has keys that cannot be used (revoked, expired): that is what to fix.
    if (found === 0) throw new SealpostError(Status.noKey, `no usable key for ${recipient}${unusable.length > 0 ? `: ${unusable.join("; ")}` : ""}`);
  }
  return [...keys.values()];
}
