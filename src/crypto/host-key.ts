/**
 * The host signing key: a v4 Ed25519 key that signs every sealed message when
 * `[message] sign = true`, so the recipient can tell this host's alerts from forged ones.
 * It is secret, so it lives outside keys_dir (which holds public keys only), mode 0600.
 */
import { readFile, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { generateKey, readPrivateKey, type PrivateKey } from "openpgp";
import { SealpostError } from "../core/errors.js";
import { Reason } from "../core/outcome.js";
import { ensureDir, writeSynced } from "../store/durable-file.js";

export async function generateHostKey(file: string, hostname: string): Promise<PrivateKey> {
  const { privateKey } = await generateKey({
    type: "ecc",
    curve: "ed25519Legacy",
    subkeys: [],
    format: "object",
    userIDs: [{ name: `sealpost on ${hostname}`, email: `sealpost@${hostname}` }],
  });
  await ensureDir(dirname(file), 0o755);
  await writeSynced(file, privateKey.armor(), 0o600); // O_EXCL: an existing host key is never overwritten
  return privateKey;
}

export async function loadHostKey(file: string): Promise<PrivateKey> {
  try {
    const info = await stat(file);
    if ((info.mode & 0o077) !== 0) throw new SealpostError(Reason.config, "message.host_key must be mode 0600 (it is a secret key)");
    const key = await readPrivateKey({ armoredKey: await readFile(file, "utf8") });
    if (key.keyPacket.version !== 4 || !key.isDecrypted())
      throw new SealpostError(Reason.config, "message.host_key must be an unprotected v4 secret key");
    return key;
  } catch (err) {
    if (err instanceof SealpostError) throw err;
    throw new SealpostError(Reason.config, "message.host_key cannot be read (sealpost keys host generate makes one)", { cause: err });
  }
}
