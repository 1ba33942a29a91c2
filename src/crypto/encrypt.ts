/**
 * OpenPGP encryption as docs/contract.md §4 requires it: PKESK v3 + SEIPD v1 (MDC), which GnuPG 2.2,
 * Sequoia, RNP and OpenPGP.js all read. A large message is encrypted as a stream, as it is
 * read, never held whole a second time; a small one in one go, without the cost of web streams.
 */
import { randomBytes } from "node:crypto";
import { createMessage, encrypt, enums, type PrivateKey, type PublicKey } from "openpgp";

/** Encrypts `data` to `keys`, armored; with `signingKey`, signs first (one-pass signature inside). */
export async function encryptArmored(data: Uint8Array, keys: PublicKey[], signingKey?: PrivateKey): Promise<string> {
  const message = await createMessage({ binary: data, format: "binary" });
  // openpgp types its result through web-stream-tools' stream types, which are `any` without the
  // DOM lib this Node project does not load: said here once, as what openpgp documents.
  return encrypt({ ...options(keys, signingKey), message, format: "armored" }) as Promise<string>;
}

/** The same, read from and written to streams. */
export async function encryptArmoredStream(
  data: ReadableStream<Uint8Array>,
  keys: PublicKey[],
  signingKey?: PrivateKey,
): Promise<ReadableStream<string>> {
  const message = await createMessage({ binary: data, format: "binary" });
  return encrypt({ ...options(keys, signingKey), message, format: "armored" }) as Promise<ReadableStream<string>>;
}

function options(keys: PublicKey[], signingKey?: PrivateKey) {
  if (keys.length === 0) throw new Error("refusing to encrypt to no key");
  // openpgp 6 picks SEIPD v2 (AEAD) on its own when every key advertises it; an explicit
  // session key without an AEAD algorithm keeps it at SEIPD v1, which GnuPG 2.2 can decrypt.
  const sessionKey = { data: new Uint8Array(randomBytes(32)), algorithm: "aes256" as const };
  return {
    encryptionKeys: keys,
    ...(signingKey ? { signingKeys: signingKey } : {}),
    sessionKey,
    config: { preferredCompressionAlgorithm: enums.compression.uncompressed },
  };
}

/** A pull stream over chunks made on demand: openpgp reads at its own pace (back-pressure). */
export function streamOf(chunks: Iterable<Uint8Array>): ReadableStream<Uint8Array> {
  const it = chunks[Symbol.iterator]();
  return new ReadableStream(
    {
      pull(controller) {
        const next = it.next();
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      },
    },
    { highWaterMark: 0 },
  );
}
