/**
 * Whether a public key can be sealed to now, and if not, why — in words a sysadmin can act on.
 * The same rules hold at import and at delivery, so a key that imports also seals.
 */
import { enums, type PublicKey } from "openpgp";

export interface KeyInfo {
  fingerprint: string; // 40 upper-case hex digits
  userIds: string[];
  created: string; // ISO 8601
  expires: string | null; // ISO 8601, or null when the key does not expire
  canEncrypt: boolean;
  algorithm: string;
  problem?: string; // why it cannot encrypt, when it cannot
}

export function fingerprintOf(key: PublicKey): string {
  return key.getFingerprint().toUpperCase();
}

/** Undefined when the key can encrypt now; otherwise the reason it cannot. */
export async function unusableReason(key: PublicKey, now: Date = new Date()): Promise<string | undefined> {
  const version = key.keyPacket.version;
  if (version !== 4) return `is a v${version} key; sealpost seals to v4 keys only (GnuPG 2.2 cannot read what v5/v6 keys need)`;
  if (await key.isRevoked(undefined, undefined, now)) return "is revoked";
  const expiry = await key.getExpirationTime();
  if (expiry instanceof Date && expiry.getTime() <= now.getTime()) return `expired on ${expiry.toISOString().slice(0, 10)}`;
  let encryptionKey;
  try {
    encryptionKey = await key.getEncryptionKey(undefined, now);
  } catch {
    return "has no valid subkey that can encrypt (expired, revoked or missing)";
  }
  const algo = encryptionKey.keyPacket.algorithm;
  if (algo === enums.publicKey.x25519 || algo === enums.publicKey.x448) {
    return "encrypts with X25519/X448 (RFC 9580 key types), which GnuPG 2.2 cannot read";
  }
  return undefined;
}

export async function describeKey(key: PublicKey, now: Date = new Date()): Promise<KeyInfo> {
  const problem = await unusableReason(key, now);
  const expiry = await key.getExpirationTime().catch(() => null);
  const info = key.getAlgorithmInfo();
  const algorithm = "bits" in info && info.bits ? `${info.algorithm}${info.bits}` : "curve" in info && info.curve ? `${info.algorithm} ${info.curve}` : info.algorithm;
  return {
    fingerprint: fingerprintOf(key),
    userIds: key.getUserIDs(),
    created: key.getCreationTime().toISOString(),
    expires: expiry instanceof Date ? expiry.toISOString() : null,
    canEncrypt: problem === undefined,
    algorithm,
    ...(problem === undefined ? {} : { problem }),
  };
}

/** The e-mail addresses in a key's user ids, lower case. */
export function keyEmails(key: PublicKey): string[] {
  return key.users
    .map((user) => user.userID?.email?.toLowerCase() ?? "")
    .filter((email) => email !== "");
}
