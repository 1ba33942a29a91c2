/**
 * Making the key index (store/key-index.ts) from the stored keys, with OpenPGP: run by the
 * commands that change keys_dir, by `keys check`, and by the runner or a full-bundle intake that
 * finds the index stale (a key file changed by hand). The file listing is taken first, so a key
 * changed meanwhile leaves the index stale, never wrong.
 */
import { keyFileStamps, writeKeyIndex, type IndexedKey, type KeyIndex } from "../store/key-index.js";
import { unusableReason } from "./key-check.js";
import { expiryOf } from "./key-expiry.js";
import { loadKeyring } from "./keyring.js";
import { keyEmails } from "./user-ids.js";

export async function buildKeyIndex(keysDir: string, now: Date = new Date()): Promise<KeyIndex> {
  const files = await keyFileStamps(keysDir);
  const keys: IndexedKey[] = [];
  for (const { fingerprint, key } of await loadKeyring(keysDir)) {
    const expiry = await expiryOf(key, now);
    keys.push({
      fingerprint,
      emails: [...new Set(await keyEmails(key, now))],
      problem: (await unusableReason(key, now)) ?? null,
      usableUntil: expiry.expires ? expiry.expires.toISOString() : null,
    });
  }
  return { version: 1, files, keys };
}

/** Builds it and stores it where this user may; the index is returned either way. */
export async function refreshKeyIndex(keysDir: string, now: Date = new Date()): Promise<KeyIndex> {
  const index = await buildKeyIndex(keysDir, now);
  await writeKeyIndex(keysDir, index).catch(() => undefined); // keys_dir is root's: the sealpost user only reads it
  return index;
}
