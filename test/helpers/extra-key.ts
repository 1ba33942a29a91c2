/** A throw-away TEST-ONLY key pair made for one suite: its public key file, and a gpg home holding its secret key. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import { generateKey } from "openpgp";
import { Gpg } from "./gpg.js";

export interface ExtraKey {
  fpr: string;
  pub: string; // armored public key file
  gpg: Gpg; // a GnuPG home with its secret key
}

/** Call in a describe(): the key is made before the first test and cleaned up after the last. */
export function useExtraKey(email: string, keyExpirationTime?: number): ExtraKey {
  const key = {} as ExtraKey;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "sealpost-key-"));
    const { privateKey, publicKey } = await generateKey({
      type: "ecc",
      curve: "curve25519Legacy",
      keyExpirationTime,
      userIDs: [{ name: "TEST-ONLY key", email }],
      format: "object",
    });
    writeFileSync(join(dir, "sec.asc"), privateKey.armor());
    writeFileSync(join(dir, "pub.asc"), publicKey.armor());
    Object.assign(key, { fpr: publicKey.getFingerprint().toUpperCase(), pub: join(dir, "pub.asc"), gpg: new Gpg(join(dir, "sec.asc")) });
  });
  after(() => {
    key.gpg.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return key;
}
