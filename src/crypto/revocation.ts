/**
 * A key's revocation, as its owner made it: of the whole key, or of the subkeys it encrypts
 * with, and the reason the signature gives. Either stops sealing to the key.
 */
import { enums, type PublicKey, type SignaturePacket } from "openpgp";

/** What a revocation took away, and the owner's reason when the signature gives one. */
export interface Revocation {
  part: "key" | "encryption subkey";
  reason?: string; // the owner's words: escape before printing
}

/**
 * Whether the key's owner revoked it, or revoked the subkeys it encrypts with so that none is
 * left: both mean "stop sealing to this key".
 */
export async function revocationOf(key: PublicKey, now: Date = new Date()): Promise<Revocation | undefined> {
  if (await key.isRevoked(undefined, undefined, now)) {
    return withReason(
      { part: "key" },
      await validRevocation(key.revocationSignatures, (sig) =>
        sig.verify(key.keyPacket, enums.signature.keyRevocation, { key: key.keyPacket }, now),
      ),
    );
  }
  if (
    await key.getEncryptionKey(undefined, now).then(
      () => true,
      () => false,
    )
  )
    return undefined;
  for (const sub of key.subkeys) {
    const binding = sub.bindingSignatures.at(-1);
    const flags = binding?.keyFlags?.[0] ?? 0;
    if (!binding || !(flags & (enums.keyFlags.encryptCommunication | enums.keyFlags.encryptStorage))) continue;
    if (await sub.isRevoked(binding, key.keyPacket, now)) {
      const data = { key: key.keyPacket, bind: sub.keyPacket };
      return withReason(
        { part: "encryption subkey" },
        await validRevocation(sub.revocationSignatures, (sig) => sig.verify(key.keyPacket, enums.signature.subkeyRevocation, data, now)),
      );
    }
  }
  return undefined;
}

/** The last revocation signature that verifies (anyone can append one that does not). */
async function validRevocation(
  signatures: SignaturePacket[],
  verify: (sig: SignaturePacket) => Promise<void>,
): Promise<SignaturePacket | undefined> {
  for (const sig of [...signatures].reverse()) {
    if (
      await verify(sig).then(
        () => true,
        () => false,
      )
    )
      return sig;
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
