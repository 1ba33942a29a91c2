/**
 * OpenPGP encryption as SPEC §4 requires it: PKESK v3 + SEIPD v1 (MDC), which GnuPG 2.2,
 * Sequoia, RNP and OpenPGP.js all read.
 */
import { randomBytes } from "node:crypto";
import { createMessage, encrypt, enums, type PrivateKey, type PublicKey } from "openpgp";

/** Encrypts to `keys`; with `signingKey`, signs first (a one-pass signature inside the encryption). */
export async function encryptArmored(data: Uint8Array, keys: PublicKey[], signingKey?: PrivateKey): Promise<string> {
  if (keys.length === 0) throw new Error("refusing to encrypt to no key");
  // openpgp 6 picks SEIPD v2 (AEAD) on its own when every key advertises it; an explicit
  // session key without an AEAD algorithm keeps it at SEIPD v1, which GnuPG 2.2 can decrypt.
  const sessionKey = { data: new Uint8Array(randomBytes(32)), algorithm: "aes256" as const };
  return encrypt({
    message: await createMessage({ binary: data, format: "binary" }),
    encryptionKeys: keys,
    ...(signingKey ? { signingKeys: signingKey } : {}),
    sessionKey,
    format: "armored",
    config: { preferredCompressionAlgorithm: enums.compression.uncompressed },
  });
}
