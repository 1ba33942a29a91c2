/**
 * The local plaintext copy (docs/contract.md §5): Maildir, mbox or none, as the config says.
 *
 * A caller that must never store a message twice (deliver, after a kill -9 between the write
 * and its own bookkeeping) passes `remember`: it is given a mark before the copy becomes
 * visible, and `hasLocalCopy(mark)` later tells whether the copy got there.
 */
import type { Config } from "../config/schema.js";
import { SealpostError, errnoOf, isStorageFull } from "../core/errors.js";
import { Reason } from "../core/outcome.js";
import { deliverToMaildir, maildirHas, maildirName } from "./maildir.js";
import { deliverToMbox, mboxHas, type MboxMark } from "./mbox.js";

export type LocalMark = { maildir: string } | { mbox: MboxMark };

export interface StoreOptions {
  /** Told where the copy goes before it becomes visible (an mbox's offset is known only under its lock). */
  remember?: (mark: LocalMark) => Promise<void>;
  /** Where an earlier attempt at this very message was going: a partial mbox record of it is cut off first. */
  earlier?: LocalMark;
  /** A Maildir name chosen beforehand (planLocalCopy), so a caller can record it together with other state. */
  planned?: LocalMark;
}

/** Where a Maildir copy of `bytes` will go, chosen now; undefined for mbox (its place is known only under its lock) and none. */
export function planLocalCopy(local: Config["local"], bytes: Buffer, hostname: string): LocalMark | undefined {
  return local.store === "maildir" ? { maildir: maildirName(bytes, hostname) } : undefined;
}

export async function storeLocally(
  local: Config["local"],
  bytes: Buffer,
  sender: string,
  hostname: string,
  { remember, earlier, planned }: StoreOptions = {},
): Promise<void> {
  try {
    if (local.store === "maildir") {
      const name = planned && "maildir" in planned ? planned.maildir : maildirName(bytes, hostname);
      if (!planned) await remember?.({ maildir: name });
      await deliverToMaildir(local.path, bytes, hostname, name);
    } else if (local.store === "mbox") {
      await deliverToMbox(local.path, bytes, sender, {
        beforeAppend: remember && ((mbox) => remember({ mbox })),
        earlier: earlier && "mbox" in earlier ? earlier.mbox : undefined,
      });
    }
  } catch (err) {
    if (err instanceof SealpostError) throw err;
    if (isStorageFull(err)) throw new SealpostError(Reason.storageFull, "local store is full", { cause: err });
    throw new SealpostError(Reason.storage, `cannot write the local copy (${errnoOf(err) ?? "error"})`, { cause: err });
  }
}

export async function hasLocalCopy(local: Config["local"], mark: LocalMark): Promise<boolean> {
  if ("maildir" in mark) return local.store === "maildir" && maildirHas(local.path, mark.maildir);
  return local.store === "mbox" && mboxHas(local.path, mark.mbox);
}
