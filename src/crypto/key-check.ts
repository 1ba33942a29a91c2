/**
 * Whether a public key can be sealed to now, and if not, why — in words a sysadmin can act on.
 * The same rules hold at import and at delivery, so a key that imports also seals.
 */
import { enums, type PublicKey } from "openpgp";
import { revocationOf, type Revocation } from "./revocation.js";
import { certifiedUsers, emailsOf } from "./user-ids.js";

export interface SubkeyInfo {
  keyId: string;
  algorithm: string;
  capabilities: string; // "encrypt", "sign", "encrypt, sign" ...
  expires: string | null;
}

export interface KeyInfo {
  fingerprint: string; // 40 upper-case hex digits
  userIds: string[]; // only those the key certifies (user-ids.ts); raw text: escape before printing
  emails: string[]; // theirs, lower case: what routes match
  ignoredUserIds: number; // user ids without a valid self-certification: never shown, never routed to
  created: string; // ISO 8601
  expires: string | null; // ISO 8601, or null when the key does not expire
  canEncrypt: boolean;
  algorithm: string;
  subkeys: SubkeyInfo[];
  problem?: string; // why it cannot encrypt, when it cannot
  revoked?: Revocation;
}

/** The features-subpacket bit for SEIPDv2 (RFC 9580 5.2.3.32). */
const SEIPD_V2_FEATURE = 0x08;

/** RFC 9580's own key types: GnuPG 2.2 reads none of them. */
const RFC9580_ALGORITHMS: ReadonlySet<number> = new Set([
  enums.publicKey.x25519,
  enums.publicKey.x448,
  enums.publicKey.ed25519,
  enums.publicKey.ed448,
]);

export function fingerprintOf(key: PublicKey): string {
  return key.getFingerprint().toUpperCase();
}

/** Undefined when the key can encrypt now; otherwise the reason it cannot. */
export async function unusableReason(key: PublicKey, now: Date = new Date()): Promise<string | undefined> {
  const version = key.keyPacket.version;
  if (version !== 4) return `is a v${version} key; sealpost seals to v4 keys only (GnuPG 2.2 cannot read what v5/v6 keys need)`;
  if ([key.keyPacket, ...key.subkeys.map((s) => s.keyPacket)].some((p) => RFC9580_ALGORITHMS.has(p.algorithm))) {
    return "uses the RFC 9580 key types (Ed25519/Ed448/X25519/X448), which GnuPG 2.2 cannot read; use a v4 Curve25519 (legacy) or RSA key";
  }
  if (await advertisesSeipdV2(key)) {
    return "advertises SEIPDv2 (RFC 9580 AEAD) in its features; senders that honour it produce messages GnuPG 2.2 cannot read";
  }
  const revoked = await revocationOf(key, now);
  if (revoked?.part === "key") return "is revoked";
  const expiry = await key.getExpirationTime();
  if (expiry instanceof Date && expiry.getTime() <= now.getTime()) return `expired on ${expiry.toISOString().slice(0, 10)}`;
  if (revoked) return "has no valid subkey that can encrypt (its encryption subkey is revoked)";
  try {
    await key.getEncryptionKey(undefined, now);
  } catch {
    return "has no valid subkey that can encrypt (expired, revoked or missing)";
  }
  return undefined;
}

async function advertisesSeipdV2(key: PublicKey): Promise<boolean> {
  const user = await key.getPrimaryUser().catch(() => undefined);
  const features = user?.selfCertification.features;
  return Boolean(features && features.length > 0 && (features[0]! & SEIPD_V2_FEATURE) !== 0);
}

function algorithmName(info: ReturnType<PublicKey["getAlgorithmInfo"]>): string {
  return "bits" in info && info.bits
    ? `${info.algorithm}${info.bits}`
    : "curve" in info && info.curve
      ? `${info.algorithm} ${info.curve}`
      : info.algorithm;
}

async function subkeyInfo(key: PublicKey): Promise<SubkeyInfo[]> {
  const out: SubkeyInfo[] = [];
  for (const sub of key.subkeys) {
    const binding = sub.bindingSignatures.at(-1);
    const flags = binding?.keyFlags?.[0] ?? 0;
    const caps = [
      ...(flags & (enums.keyFlags.encryptCommunication | enums.keyFlags.encryptStorage) ? ["encrypt"] : []),
      ...(flags & enums.keyFlags.signData ? ["sign"] : []),
      ...(flags & enums.keyFlags.authentication ? ["authenticate"] : []),
    ];
    const expiry = await sub.getExpirationTime().catch(() => null);
    out.push({
      keyId: sub.getKeyID().toHex().toUpperCase(),
      algorithm: algorithmName(sub.getAlgorithmInfo()),
      capabilities: caps.join(", ") || "none",
      expires: expiry instanceof Date ? expiry.toISOString() : null,
    });
  }
  return out;
}

export async function describeKey(key: PublicKey, now: Date = new Date()): Promise<KeyInfo> {
  const problem = await unusableReason(key, now);
  const revoked = await revocationOf(key, now);
  const expiry = await key.getExpirationTime().catch(() => null);
  const algorithm = algorithmName(key.getAlgorithmInfo());
  const users = await certifiedUsers(key, now);
  return {
    fingerprint: fingerprintOf(key),
    userIds: users.map((u) => u.userID!.userID),
    emails: emailsOf(users),
    ignoredUserIds: key.users.filter((u) => u.userID).length - users.length,
    created: key.getCreationTime().toISOString(),
    expires: expiry instanceof Date ? expiry.toISOString() : null,
    canEncrypt: problem === undefined,
    algorithm,
    subkeys: await subkeyInfo(key),
    ...(problem === undefined ? {} : { problem }),
    ...(revoked ? { revoked } : {}),
  };
}
