/**
 * Which user ids of a key count. Anyone can append a user id packet to a key they pass on (bare,
 * or with a signature taken from elsewhere); only the key's owner can certify one. So only user
 * ids with a valid self-certification route mail, satisfy a WKD address or are shown.
 */
import { PacketList, PublicKey, type AnyPacket, type User } from "openpgp";

/**
 * The user ids that count: those with a valid, unrevoked self-certification now. An
 * uncertified "Boss <boss@...>" must neither route boss's mail to this key nor be shown as its.
 */
export async function certifiedUsers(key: PublicKey, now: Date = new Date()): Promise<User[]> {
  const out: User[] = [];
  for (const user of key.users) {
    if (
      user.userID &&
      (await user.verify(now).then(
        () => true,
        () => false,
      ))
    )
      out.push(user);
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
  const dropped = new Set(
    key.users.filter((u) => !certified.has(u) && u.revocationSignatures.length === 0).flatMap((u) => [...u.toPacketList()]),
  );
  if (dropped.size === 0) return key;
  const packets = new PacketList<AnyPacket>();
  for (const packet of key.toPacketList()) if (!dropped.has(packet)) packets.push(packet);
  return new PublicKey(packets);
}

/** The e-mail addresses in a key's certified user ids, lower case: what routes match. */
export async function keyEmails(key: PublicKey, now: Date = new Date()): Promise<string[]> {
  return emailsOf(await certifiedUsers(key, now));
}

export function emailsOf(users: User[]): string[] {
  return users.map((user) => user.userID?.email.toLowerCase() ?? "").filter((email) => email !== "");
}
