/** The local plaintext copy (SPEC §5): Maildir, mbox or none, as the config says. */
import type { Config } from "../config/schema.js";
import { SealpostError, Status } from "../core/errors.js";
import { deliverToMaildir } from "./maildir.js";
import { deliverToMbox } from "./mbox.js";

export async function storeLocally(local: Config["local"], bytes: Buffer, sender: string, hostname: string): Promise<void> {
  try {
    if (local.store === "maildir") await deliverToMaildir(local.path, bytes, hostname);
    else if (local.store === "mbox") await deliverToMbox(local.path, bytes, sender);
  } catch (err) {
    if (err instanceof SealpostError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOSPC" || code === "EDQUOT") throw new SealpostError(Status.storageFull, "local store is full", { cause: err });
    throw new SealpostError(Status.storage, `cannot write the local copy (${code ?? "error"})`, { cause: err });
  }
}
