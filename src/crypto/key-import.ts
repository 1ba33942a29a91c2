/**
 * `keys import` (SPEC §2, §7): armored or binary input, one or many keys; only usable v4
 * public keys are stored, as keys_dir/<FINGERPRINT>.asc. Secret material is refused whole.
 */
import { readKeys, type Key, type PublicKey } from "openpgp";
import { rename } from "node:fs/promises";
import { join } from "node:path";
import { ensureDir, fsyncDir, writeFileDurably } from "../store/durable-file.js";
import { encryptArmored } from "./encrypt.js";
import { certifiedUsers, describeKey, fingerprintOf, keyEmails, type KeyInfo, unusableReason, withoutUncertifiedUserIds } from "./key-check.js";
import { keyFile, loadKey } from "./keyring.js";

export interface Imported {
  status: "imported" | "updated" | "unchanged";
  info: KeyInfo;
}

export interface Refused {
  fingerprint?: string;
  reason: string;
}

export interface ImportReport {
  imported: Imported[];
  refused: Refused[];
  /** The key retired by --replace, kept in keys_dir/retired/. */
  retired?: string;
}

export interface ImportOptions {
  /** Refuse every key whose fingerprint is not this one (pinning: the key you were told to expect). */
  expectFingerprint?: string;
  /** Only keys with a user id for this address (a WKD answer must be about the address asked for). */
  requireEmail?: string;
  /** Rotation: once the new key is checked and stored, move this one to keys_dir/retired/. */
  replace?: string;
  now?: Date;
}

const ARMORED_PUBLIC = /-----BEGIN PGP PUBLIC KEY BLOCK-----[\s\S]*?-----END PGP PUBLIC KEY BLOCK-----/g;

export async function importKeys(keysDir: string, data: Buffer, options: ImportOptions = {}): Promise<ImportReport> {
  const now = options.now ?? new Date();
  const keys = await parseKeys(data);
  if (keys.some((key) => key.isPrivate())) {
    return { imported: [], refused: [{ reason: "this is a secret (private) key; sealpost stores public keys only, nothing was stored — export the public key with `gpg --export --armor`" }] };
  }
  const expected = options.expectFingerprint?.replace(/\s+/g, "").toUpperCase();
  const report: ImportReport = { imported: [], refused: [] };
  for (const key of keys as PublicKey[]) {
    const fingerprint = fingerprintOf(key);
    if (expected && fingerprint !== expected) {
      report.refused.push({ fingerprint, reason: `is not the expected key ${expected}; nothing of it was stored` });
      continue;
    }
    if (options.requireEmail && !(await keyEmails(key, now)).includes(options.requireEmail.toLowerCase())) {
      report.refused.push({ fingerprint, reason: `has no user id for ${options.requireEmail}; nothing of it was stored` });
      continue;
    }
    // Staged: the key must be usable and must take a test encryption before it is stored.
    const problem = (await unusableReason(key, now)) ?? (await testEncryption(key));
    if (problem) {
      report.refused.push({ fingerprint, reason: `key ${problem}` });
      continue;
    }
    report.imported.push(await store(keysDir, key, now));
  }
  if (expected && report.imported.length === 0 && !report.refused.some((r) => r.fingerprint === expected)) {
    report.refused.push({ reason: `the expected key ${expected} is not in this input` });
  }
  const old = options.replace?.replace(/\s+/g, "").toUpperCase();
  if (old && report.imported.length > 0 && report.refused.length === 0 && !report.imported.some((i) => i.info.fingerprint === old)) {
    await retireKey(keysDir, old);
    report.retired = old;
  }
  return report;
}

/** A real encryption to the key, with the settings sealing uses; undefined when it works. */
async function testEncryption(key: PublicKey): Promise<string | undefined> {
  try {
    await encryptArmored(new TextEncoder().encode("sealpost test encryption\n"), [key]);
    return undefined;
  } catch (err) {
    return `failed a test encryption (${firstLine(err)})`;
  }
}

/** Moves a key to keys_dir/retired/ (kept, not deleted: a rotation can be undone by moving it back). */
export async function retireKey(keysDir: string, fingerprint: string): Promise<void> {
  const retired = join(keysDir, "retired");
  await ensureDir(retired, 0o755);
  await rename(keyFile(keysDir, fingerprint), join(retired, `${fingerprint}.asc`));
  await fsyncDir(keysDir);
}

async function parseKeys(data: Buffer): Promise<Key[]> {
  const text = data.toString("latin1");
  if (/-----BEGIN PGP PRIVATE KEY BLOCK-----/.test(text)) {
    throw new KeyInputError("this is a secret (private) key; sealpost stores public keys only, nothing was stored — export the public key with `gpg --export --armor`");
  }
  try {
    if (text.includes("-----BEGIN PGP ")) {
      const blocks = text.match(ARMORED_PUBLIC);
      if (!blocks) throw new KeyInputError("no PGP PUBLIC KEY BLOCK found");
      const keys: Key[] = [];
      for (const block of blocks) keys.push(...(await readKeys({ armoredKeys: block })));
      return keys;
    }
    if (data.length === 0) throw new KeyInputError("empty input");
    return await readKeys({ binaryKeys: new Uint8Array(data) });
  } catch (err) {
    if (err instanceof KeyInputError) throw err;
    throw new KeyInputError(`not an OpenPGP public key (${firstLine(err)})`);
  }
}

async function store(keysDir: string, key: PublicKey, now: Date): Promise<Imported> {
  const fingerprint = fingerprintOf(key);
  const existing = await loadKey(keysDir, fingerprint).catch(() => undefined);
  // update() keeps new certifications (an extended expiry) and adds new user ids unchecked
  const all = existing ? await existing.key.update(key.toPublic(), now) : key.toPublic();
  const result = await withoutUncertifiedUserIds(all, now);
  const status: Imported["status"] = !existing ? "imported" : result.armor() === existing.key.armor() ? "unchanged" : "updated";
  if (status !== "unchanged") {
    await ensureDir(keysDir, 0o755);
    await writeFileDurably(keyFile(keysDir, fingerprint), result.armor(), 0o644);
  }
  // the report counts what came in uncertified, though the stored copy no longer holds it
  const ignored = all.users.filter((u) => u.userID).length - (await certifiedUsers(all, now)).length;
  return { status, info: { ...await describeKey(result, now), ignoredUserIds: ignored } };
}

export class KeyInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KeyInputError";
  }
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0]!.slice(0, 120);
}
