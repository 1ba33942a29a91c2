/**
 * Whether a public key can be sealed to now, and if not, why — in words a sysadmin can act on.
 * The same rules hold at import and at delivery, so a key that imports also seals.
 */
import { enums, PublicKey, type SignaturePacket, type User } from "openpgp";

export interface SubkeyInfo {
  keyId: string;
  algorithm: string;
  capabilities: string; // "encrypt", "sign", "encrypt, sign" ...
  expires: string | null;
}

export interface KeyInfo {
  fingerprint: string; // 40 upper-case hex digits
  userIds: string[]; // only those the key certifies (certifiedUsers); raw text: escape before printing
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

/** What a revocation took away, and the owner's reason when the signature gives one. */
export interface Revocation {
  part: "key" | "encryption subkey";
  reason?: string; // the owner's words: escape before printing
}

/** The features-subpacket bit for SEIPDv2 (RFC 9580 5.2.3.32). */
const SEIPD_V2_FEATURE = 0x08;

/** RFC 9580's own key types: GnuPG 2.2 reads none of them. */
const RFC9580_ALGORITHMS: ReadonlySet<number> = new Set([enums.publicKey.x25519, enums.publicKey.x448, enums.publicKey.ed25519, enums.publicKey.ed448]);

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

/**
 * Whether the key's owner revoked it, or revoked the subkeys it encrypts with so that none is
 * left: both mean "stop sealing to this key".
 */
export async function revocationOf(key: PublicKey, now: Date = new Date()): Promise<Revocation | undefined> {
  if (await key.isRevoked(undefined, undefined, now)) {
    return withReason({ part: "key" }, await validRevocation(key.revocationSignatures, (sig) => sig.verify(key.keyPacket, enums.signature.keyRevocation, { key: key.keyPacket }, now)));
  }
  if (await key.getEncryptionKey(undefined, now).then(() => true, () => false)) return undefined;
  for (const sub of key.subkeys) {
    const binding = sub.bindingSignatures.at(-1);
    const flags = binding?.keyFlags?.[0] ?? 0;
    if (!binding || !(flags & (enums.keyFlags.encryptCommunication | enums.keyFlags.encryptStorage))) continue;
    if (await sub.isRevoked(binding, key.keyPacket, now)) {
      const data = { key: key.keyPacket, bind: sub.keyPacket };
      return withReason({ part: "encryption subkey" }, await validRevocation(sub.revocationSignatures, (sig) => sig.verify(key.keyPacket, enums.signature.subkeyRevocation, data, now)));
    }
  }
  return undefined;
}

/** The newest revocation signature that verifies (anyone can append one that does not). */
async function validRevocation(signatures: SignaturePacket[], verify: (sig: SignaturePacket) => Promise<void>): Promise<SignaturePacket | undefined> {
  for (const sig of [...signatures].reverse()) {
    if (await verify(sig).then(() => true, () => false)) return sig;
  }
  return undefined;
}

const REVOCATION_REASONS: Record<number, string> = {
  [enums.reasonForRevocation.keySuperseded]: "superseded",
  [enums.reasonForRevocation.keyCompromised]: "compromised",
  [enums.reasonForRevocation.keyRetired]: "retired",
};

function withReason(revocation: Revocation, sig: SignaturePacket | undefined): Revocation {
  const words = [REVOCATION_REASONS[sig?.reasonForRevocationFlag ?? 0], sig?.reasonForRevocationString?.slice(0, 200)].filter(Boolean);
  return words.length > 0 ? { ...revocation, reason: words.join(": ") } : revocation;
}

/**
 * The user ids that count: those with a valid, unrevoked self-certification now. Anyone can
 * append a user id packet (bare, or with a signature taken from elsewhere) to a key they pass
 * on; only the key's owner can certify one. An uncertified "Boss <boss@...>" must neither
 * route boss's mail to this key nor be shown as the key's.
 */
export async function certifiedUsers(key: PublicKey, now: Date = new Date()): Promise<User[]> {
  const out: User[] = [];
  for (const user of key.users) {
    if (user.userID && await user.verify(now).then(() => true, () => false)) out.push(user);
  }
  return out;
}

/**
 * The key as it is stored: without user ids that neither verify nor carry a revocation. A
 * revoked user id is kept with its revocation, so an older copy imported later cannot bring it
 * back as valid; what remains uncertified is still never used (certifiedUsers).
 */
export async function withoutUncertifiedUserIds(key: PublicKey, now: Date = new Date()): Promise<PublicKey> {
  const certified = new Set(await certifiedUsers(key, now));
  const dropped = new Set(key.users.filter((u) => !certified.has(u) && u.revocationSignatures.length === 0).flatMap((u) => [...u.toPacketList()]));
  if (dropped.size === 0) return key;
  const packets = key.toPacketList();
  const kept = packets.filter((p) => !dropped.has(p));
  packets.splice(0, packets.length, ...kept);
  return new PublicKey(packets);
}

async function advertisesSeipdV2(key: PublicKey): Promise<boolean> {
  const user = await key.getPrimaryUser().catch(() => undefined);
  const features = user?.selfCertification.features;
  return Boolean(features && features.length > 0 && (features[0]! & SEIPD_V2_FEATURE) !== 0);
}

function algorithmName(info: ReturnType<PublicKey["getAlgorithmInfo"]>): string {
  return "bits" in info && info.bits ? `${info.algorithm}${info.bits}` : "curve" in info && info.curve ? `${info.algorithm} ${info.curve}` : info.algorithm;
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

/** The e-mail addresses in a key's certified user ids, lower case: what routes match. */
export async function keyEmails(key: PublicKey, now: Date = new Date()): Promise<string[]> {
  return emailsOf(await certifiedUsers(key, now));
}

function emailsOf(users: User[]): string[] {
  return users.map((user) => user.userID?.email?.toLowerCase() ?? "").filter((email) => email !== "");
}
