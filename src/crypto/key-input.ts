/**
 * What `keys import` reads: armored blocks or binary, holding public keys or bare key
 * revocation signatures (a revocation certificate). Secret material is refused whole.
 */
import { enums, readKeys, readSignature, unarmor, type Key, type SignaturePacket } from "openpgp";

/**
 * At the start of a line only: gpg writes the revocation certificates it keeps in
 * openpgp-revocs.d with a ":" before BEGIN, so that they are not imported by accident.
 */
const ARMORED_PUBLIC = /^-----BEGIN PGP PUBLIC KEY BLOCK-----[\s\S]*?^-----END PGP PUBLIC KEY BLOCK-----/gm;

export const SECRET_REFUSAL =
  "this is a secret (private) key; sealpost stores public keys only, nothing was stored — export the public key with `gpg --export --armor`";

export interface ParsedInput {
  keys: Key[];
  revocations: SignaturePacket[];
}

export async function parseInput(data: Buffer): Promise<ParsedInput> {
  const text = data.toString("latin1");
  if (/-----BEGIN PGP PRIVATE KEY BLOCK-----/.test(text)) throw new KeyInputError(SECRET_REFUSAL);
  const parsed: ParsedInput = { keys: [], revocations: [] };
  try {
    if (text.includes("-----BEGIN PGP ")) {
      const blocks = text.match(ARMORED_PUBLIC);
      if (!blocks && text.includes(":-----BEGIN PGP PUBLIC KEY BLOCK-----")) {
        throw new KeyInputError(
          'gpg guards this revocation certificate with a ":" before -----BEGIN; remove that colon to import it (the key then stops sealing)',
        );
      }
      if (!blocks) throw new KeyInputError("no PGP PUBLIC KEY BLOCK found");
      for (const block of blocks) {
        await readPart(
          parsed,
          () => readKeys({ armoredKeys: block }),
          async () => (await unarmor(block)).data as unknown, // typed through stream types this project does not load
        );
      }
      return parsed;
    }
    if (data.length === 0) throw new KeyInputError("empty input");
    await readPart(
      parsed,
      () => readKeys({ binaryKeys: new Uint8Array(data) }),
      () => Promise.resolve(new Uint8Array(data)),
    );
    return parsed;
  } catch (err) {
    if (err instanceof KeyInputError) throw err;
    throw new KeyInputError(`not an OpenPGP public key (${firstLine(err)})`);
  }
}

/** One armored block or the binary input: keys, else key revocation signatures only, else the keys' error. */
async function readPart(parsed: ParsedInput, keys: () => Promise<Key[]>, bytes: () => Promise<unknown>): Promise<void> {
  try {
    parsed.keys.push(...(await keys()));
  } catch (err) {
    const data = await bytes();
    const signatures =
      data instanceof Uint8Array
        ? await readSignature({ binarySignature: data }).then(
            (s) => [...s.packets],
            () => [],
          )
        : [];
    if (signatures.length === 0 || signatures.some((sig) => sig.signatureType !== enums.signature.keyRevocation)) throw err;
    parsed.revocations.push(...signatures);
  }
}

export class KeyInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KeyInputError";
  }
}

export function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0]!.slice(0, 120);
}
