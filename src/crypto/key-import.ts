/**
 * `keys import` (docs/contract.md §2, §7): armored or binary input, one or many keys; only usable v4
 * public keys are stored, as keys_dir/<FINGERPRINT>.asc. Secret material is refused whole.
 * A revocation (a revoked copy of a stored key, or a bare revocation signature as
 * `gpg --gen-revoke` makes it) is merged into the stored key, which then stops sealing.
 */
import { armor, enums, PacketList, revokeKey, type PublicKey, type SignaturePacket } from "openpgp";
import { rename } from "node:fs/promises";
import { join } from "node:path";
import { refreshKeyIndex } from "./key-index.js";
import { ensureDir, fsyncDir, writeFileDurably } from "../store/durable-file.js";
import { encryptArmored } from "./encrypt.js";
import { describeKey, fingerprintOf, type KeyInfo, unusableReason } from "./key-check.js";
import { firstLine, parseInput, SECRET_REFUSAL } from "./key-input.js";
import { keyFile, loadKey, loadKeyring } from "./keyring.js";
import { revocationOf } from "./revocation.js";
import { certifiedUsers, keyEmails, withoutUncertifiedUserIds } from "./user-ids.js";

export { KeyInputError } from "./key-input.js";

export interface Imported {
  /** "revoked": the stored key took its owner's revocation and no longer seals. */
  status: "imported" | "updated" | "unchanged" | "revoked";
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

export async function importKeys(keysDir: string, data: Buffer, options: ImportOptions = {}): Promise<ImportReport> {
  const now = options.now ?? new Date();
  const { keys, revocations } = await parseInput(data);
  if (keys.some((key) => key.isPrivate())) return { imported: [], refused: [{ reason: SECRET_REFUSAL }] };
  const expected = options.expectFingerprint?.replace(/\s+/g, "").toUpperCase();
  const report: ImportReport = { imported: [], refused: [] };
  const candidates = [...keys] as PublicKey[];
  for (const revocation of revocations) {
    const revoked = await applyRevocation(keysDir, revocation, now);
    if ("reason" in revoked) report.refused.push(revoked);
    else candidates.push(revoked);
  }
  for (const key of candidates) {
    const fingerprint = fingerprintOf(key);
    if (expected && fingerprint !== expected) {
      report.refused.push({ fingerprint, reason: `is not the expected key ${expected}; nothing of it was stored` });
      continue;
    }
    if (options.requireEmail && !(await keyEmails(key, now)).includes(options.requireEmail.toLowerCase())) {
      report.refused.push({ fingerprint, reason: `has no user id for ${options.requireEmail}; nothing of it was stored` });
      continue;
    }
    const result = await importOne(keysDir, key, now);
    if ("reason" in result) report.refused.push(result);
    else report.imported.push(result);
  }
  if (expected && report.imported.length === 0 && !report.refused.some((r) => r.fingerprint === expected)) {
    report.refused.push({ reason: `the expected key ${expected} is not in this input` });
  }
  const old = options.replace?.replace(/\s+/g, "").toUpperCase();
  const usable = report.imported.filter((i) => i.info.canEncrypt);
  if (old && usable.length > 0 && report.refused.length === 0 && !usable.some((i) => i.info.fingerprint === old)) {
    await retireKey(keysDir, old);
    report.retired = old;
  }
  // what the intake reads instead of the keys (store/key-index.ts), made anew on every import
  if (report.imported.length > 0 || report.retired) await refreshKeyIndex(keysDir, now);
  return report;
}

/**
 * Staged: the key is merged into its stored copy first, and the result, which is what sealing
 * will use, is checked. A usable result must take a test encryption before it is stored. A
 * stored key that the merge revoked is stored revoked: its owner said to stop, and a check on
 * the incoming key alone would refuse exactly that. Anything else unusable is refused, and the
 * stored copy stays as it was.
 */
async function importOne(keysDir: string, key: PublicKey, now: Date): Promise<Imported | Refused> {
  const fingerprint = fingerprintOf(key);
  const existing = await loadKey(keysDir, fingerprint).catch(() => undefined);
  // update() keeps new certifications (an extended expiry, a revocation) and adds new user ids unchecked
  const all = existing ? await existing.key.update(key.toPublic(), now) : key.toPublic();
  const merged = await withoutUncertifiedUserIds(all, now);
  // the report counts what came in uncertified, though the stored copy no longer holds it
  const ignored = all.users.filter((u) => u.userID).length - (await certifiedUsers(all, now)).length;
  const problem = await unusableReason(merged, now);
  if (problem !== undefined) {
    if (existing && (await revocationOf(merged, now))) return store(keysDir, merged, existing.key, "revoked", ignored, now);
    return { fingerprint, reason: `key ${problem}` };
  }
  const failed = await testEncryption(merged);
  if (failed) return { fingerprint, reason: `key ${failed}` };
  return store(keysDir, merged, existing?.key, existing ? "updated" : "imported", ignored, now);
}

async function store(
  keysDir: string,
  key: PublicKey,
  existing: PublicKey | undefined,
  status: Imported["status"],
  ignored: number,
  now: Date,
): Promise<Imported> {
  const changed = !existing || key.armor() !== existing.armor();
  if (changed) {
    await ensureDir(keysDir, 0o755);
    await writeFileDurably(keyFile(keysDir, fingerprintOf(key)), key.armor(), 0o644);
  }
  return { status: changed ? status : "unchanged", info: { ...(await describeKey(key, now)), ignoredUserIds: ignored } };
}

/**
 * A bare key revocation signature, applied to the stored key it names. It must verify against
 * that key (openpgp's revokeKey checks it), so no one but the key's owner can stop its mail.
 */
async function applyRevocation(keysDir: string, revocation: SignaturePacket, now: Date): Promise<PublicKey | Refused> {
  const keyId = revocation.issuerKeyID.toHex().toUpperCase();
  const stored = (await loadKeyring(keysDir)).filter(({ key }) => key.getKeyID().toHex().toUpperCase() === keyId);
  if (stored.length === 0) return { reason: `a revocation for key ${keyId}, which is not in keys_dir; nothing was stored` };
  const packets = new PacketList<SignaturePacket>();
  packets.push(revocation);
  const certificate = armor(enums.armor.publicKey, packets.write());
  for (const { key } of stored) {
    const revoked = await revokeKey({ key, revocationCertificate: certificate, date: now, format: "object" }).catch(() => undefined);
    if (revoked) return revoked.publicKey;
  }
  return { fingerprint: stored[0]!.fingerprint, reason: "a revocation signature that does not verify for this key; nothing was stored" };
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
