/**
 * The key index (keys_dir/index/keys.json): what the intake needs to know about the stored keys
 * without loading OpenPGP — each key's fingerprint, the e-mail addresses of its self-certified
 * user ids, and whether and until when it can encrypt. `keys import`, `remove`, `fetch` and
 * `check` write it (crypto/key-index.ts); the intake reads it to answer EX_TEMPFAIL for a route without a
 * usable key before it commits anything. The runner checks the keys themselves again when it seals.
 *
 * It names the key files it was made from, with their sizes and times: a key file added,
 * changed or removed by hand makes it stale, and a stale index is never used.
 */
import { readFile, readdir, stat } from "../core/fsp.js";
import { join } from "node:path";
import { ensureDir, writeFileDurably } from "./durable-file.js";
import { whenErrno } from "../core/errors.js";

export interface IndexedKey {
  fingerprint: string;
  /** Lower-case addresses of the user ids that carry a valid self-certification. */
  emails: string[];
  /** Why it cannot encrypt, when it could not at indexing time; null when it could. */
  problem: string | null;
  /** When it stops encrypting (its own or its encryption subkey's expiry, the earlier), or null. */
  usableUntil: string | null;
}

export interface KeyIndex {
  version: 1;
  /** The key files it was made from: name -> "size:mtime". */
  files: Record<string, string>;
  keys: IndexedKey[];
}

const KEY_FILE = /^[0-9A-F]{40}\.asc$/;

function indexFile(keysDir: string): string {
  return join(keysDir, "index", "keys.json");
}

/** The key files in keys_dir as the index records them. */
export async function keyFileStamps(keysDir: string): Promise<Record<string, string>> {
  const names = (await readdir(keysDir).catch(whenErrno<string[]>([], "ENOENT"))).filter((n) => KEY_FILE.test(n)).sort();
  const stamps: Record<string, string> = {};
  for (const name of names) {
    const info = await stat(join(keysDir, name)).catch(() => undefined);
    // the inode too: `rsync -t` or `install -p` puts a changed file in place with its old size and
    // mtime. Not ctime: a chmod by root would make the index stale, and the sealpost user cannot
    // write a fresh one (every deliver would load OpenPGP). An in-place `cp -p` of the same size
    // goes unseen here; the runner checks the keys again when it seals.
    if (info) stamps[name] = `${info.size}:${info.mtimeMs}:${info.ino}`;
  }
  return stamps;
}

/** The index when it describes keys_dir as it is now; undefined when it is missing, unreadable or stale. */
export async function readKeyIndex(keysDir: string): Promise<KeyIndex | undefined> {
  let index: unknown;
  try {
    index = JSON.parse(await readFile(indexFile(keysDir), "utf8"));
  } catch {
    return undefined;
  }
  if (!isKeyIndex(index)) return undefined;
  const now = await keyFileStamps(keysDir);
  const same = Object.keys(now).length === Object.keys(index.files).length && Object.entries(now).every(([n, s]) => index.files[n] === s);
  return same ? index : undefined;
}

export async function writeKeyIndex(keysDir: string, index: KeyIndex): Promise<void> {
  await ensureDir(join(keysDir, "index"), 0o755);
  await writeFileDurably(indexFile(keysDir), JSON.stringify(index) + "\n", 0o644);
}

/** The route's keys as crypto/keyring.ts routeKeys chooses them, from the index: why it has none, or undefined. Same words. */
export function routeKeyProblem(
  index: KeyIndex,
  route: { to: readonly string[]; keys?: readonly string[]; alsoEncryptTo?: readonly string[] },
  now: Date,
): string | undefined {
  const why = (key: IndexedKey | undefined): string | undefined => {
    if (!key) return "is not in keys_dir";
    if (key.problem !== null) return key.problem;
    if (key.usableUntil !== null && Date.parse(key.usableUntil) <= now.getTime()) return `expired on ${key.usableUntil.slice(0, 10)}`;
    return undefined;
  };
  const byFingerprint = (fpr: string) => index.keys.find((k) => k.fingerprint === fpr);
  if (route.keys && route.keys.length > 0) {
    for (const fpr of route.keys) {
      const problem = why(byFingerprint(fpr));
      if (problem) return `no usable key: pinned key ${fpr} ${problem}`;
    }
  } else {
    for (const recipient of route.to) {
      const wanted = recipient.toLowerCase();
      const theirs = index.keys.filter((k) => k.emails.includes(wanted));
      if (theirs.some((k) => why(k) === undefined)) continue;
      // say why when the recipient has keys that cannot be used (revoked, expired): that is what to fix
      const unusable = theirs.map((k) => `${k.fingerprint} ${why(k)}`);
      return `no usable key for ${recipient}${unusable.length > 0 ? `: ${unusable.join("; ")}` : ""}`;
    }
  }
  for (const fpr of route.alsoEncryptTo ?? []) {
    const problem = why(byFingerprint(fpr));
    if (problem) return `no usable key: archive key ${fpr} ${problem}`;
  }
  return undefined;
}

/** The index's shape as this version writes it (anything else, hand-edited or older, is rebuilt). */
function isKeyIndex(value: unknown): value is KeyIndex {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Partial<Record<keyof KeyIndex, unknown>>;
  return v.version === 1 && Array.isArray(v.keys) && typeof v.files === "object" && v.files !== null;
}
