/**
 * Keys as an attacker passes them on: a valid key with a user id the key never certified
 * (bare, or carrying a self-signature made over another user id), or with a user id its owner
 * revoked; and real revocations, made by openpgp and by GnuPG.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  armor,
  enums,
  generateKey,
  PacketList,
  PublicSubkeyPacket,
  unarmor,
  UserIDPacket,
  type AnyPacket,
  type PrivateKey,
  type PublicKey,
  type SecretKeyPacket,
  type UserID,
} from "openpgp";

export async function keyPair(userIDs: UserID[]): Promise<{ privateKey: PrivateKey; publicKey: PublicKey; revocationCertificate: string }> {
  return generateKey({ type: "ecc", curve: "curve25519Legacy", userIDs, format: "object" });
}

function armored(packets: AnyPacket[]): string {
  const list = new PacketList<AnyPacket>();
  list.push(...packets);
  return armor(enums.armor.publicKey, list.write());
}

/** The key with a user id packet appended after it, without any signature: what anyone can do to a key. */
export function withBareUserId(key: PublicKey, userId: UserID): string {
  return armored([...key.toPacketList(), UserIDPacket.fromObject(userId)]);
}

/** The user id `email` replaced by `userId`, keeping its self-signature: signed by the key, over other text. */
export function withSwappedUserId(key: PublicKey, email: string, userId: UserID): string {
  const user = key.users.find((u) => u.userID?.email === email)!;
  return armored(key.toPacketList().map((p) => (p === user.userID ? UserIDPacket.fromObject(userId) : p)));
}

/** The public key with the owner's revocation of the user id `email` (a certification revocation). */
export async function withRevokedUserId(privateKey: PrivateKey, email: string): Promise<string> {
  const user = privateKey.users.find((u) => u.userID?.email === email)!;
  const revoked = await user.revoke(privateKey.keyPacket as SecretKeyPacket, { flag: enums.reasonForRevocation.userIDInvalid });
  const packets = [...privateKey.toPublic().toPacketList()];
  packets.splice(packets.indexOf(user.userID!) + 1, 0, ...revoked.revocationSignatures);
  return armored(packets);
}

/** The public key with its owner's revocation of its (only) encryption subkey. */
export async function withRevokedSubkey(privateKey: PrivateKey): Promise<string> {
  const sub = privateKey.subkeys[0]!;
  const revoked = await sub.revoke(privateKey.keyPacket as SecretKeyPacket, {
    flag: enums.reasonForRevocation.keyRetired,
    string: "encryption subkey retired",
  });
  const packets = [...privateKey.toPublic().toPacketList()];
  const at = packets.findIndex((p) => p instanceof PublicSubkeyPacket && p.getFingerprint() === sub.getFingerprint());
  packets.splice(at + 1, 0, ...revoked.revocationSignatures);
  return armored(packets);
}

/** A revocation certificate with one bit of its signature flipped: it names the key, and does not verify. */
export async function withBrokenSignature(certificate: string): Promise<string> {
  const data = (await unarmor(certificate)).data as Uint8Array;
  const bytes = Uint8Array.from(data);
  bytes[bytes.length - 2]! ^= 0x01; // inside the last MPI of the signature, so it still parses
  return armor(enums.armor.publicKey, bytes);
}

/**
 * A key made by GnuPG (Ed25519 primary, Curve25519 encryption subkey) in a home of its own: its
 * public key, the revocation certificate gpg stored for it at creation (openpgp-revocs.d, with
 * gpg's ":" guard), one made with `gpg --gen-revoke` giving a reason, and the revoked copy
 * `gpg --export` gives once the revocation is imported.
 */
export function gpgRevocations(
  email: string,
  reason: string,
): { fpr: string; pub: string; stored: string; genRevoke: string; revokedCopy: string } {
  const home = mkdtempSync(join(tmpdir(), "sealpost-gpg-rev-"));
  // --batch, except for gen-revoke, which refuses batch mode: it reads its answers from stdin instead
  const gpg = (args: string[], input?: string, mode = "--batch") =>
    execFileSync("gpg", ["--homedir", home, mode, "--pinentry-mode", "loopback", "--passphrase", "", ...args], {
      input,
      stdio: ["pipe", "pipe", "ignore"],
    }).toString();
  try {
    writeFileSync(join(home, "gpg.conf"), "auto-key-locate local\nno-auto-key-retrieve\n");
    gpg(["--quick-gen-key", `TEST-ONLY <${email}>`, "ed25519", "cert,sign", "never"]);
    const fpr = /^fpr:+([0-9A-F]{40}):/m.exec(gpg(["--with-colons", "--list-keys", email]))![1]!;
    gpg(["--quick-add-key", fpr, "cv25519", "encr", "never"]);
    const pub = gpg(["--armor", "--export", fpr]);
    const stored = readFileSync(join(home, "openpgp-revocs.d", readdirSync(join(home, "openpgp-revocs.d"))[0]!), "utf8");
    // gen-revoke's questions: create? reason 1 (compromised), a description line, its end, okay?
    const genRevoke = gpg(["--command-fd", "0", "--armor", "--gen-revoke", fpr], `y\n1\n${reason}\n\ny\n`, "--no-tty");
    gpg(["--import"], genRevoke);
    const revokedCopy = gpg(["--armor", "--export", fpr]);
    return { fpr, pub, stored, genRevoke, revokedCopy };
  } finally {
    execFileSync("gpgconf", ["--homedir", home, "--kill", "all"]);
    rmSync(home, { recursive: true, force: true });
  }
}
