/**
 * Who owns what inside the spool and the local store, and who may write it. Checking only the
 * top directory is not enough: a `ledger/` left by root (a deliver run by hand) or by another
 * user makes every later delivery defer with "permission denied" while `init` reports success,
 * and one that others may write lets them mark root's mail as sent already. `init` hands back to
 * the sealpost user what root left there, takes group and world write away, and refuses, naming
 * it, what belongs to anyone else or is a link; `doctor` reports the same findings without
 * changing anything.
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { entryAt } from "./no-follow.js";

export interface OwnershipFinding {
  path: string;
  kind: "directory" | "file";
  /**
   * "root": root's, init gives it to the user; "foreign": another user's; "link": a symlink;
   * "writable": the user's, but group or others may write it (init takes that away; for an
   * mbox, only others).
   */
  problem: "root" | "foreign" | "link" | "writable";
  uid: number;
  mode: number; // its permission bits
}

/** Group or world write: nothing in the spool but drop/ may have it. */
export const SHARED_WRITE = 0o022;

/**
 * Looks at spool_dir's entries and one level into its directories (but not into drop/, whose
 * files belong to the users who submitted them and which all users may write by design), and
 * at the local store: the Maildir's tmp/new/cur, or the mbox file.
 */
export async function ownershipFindings(
  spoolDir: string,
  local: { maildir?: string; mbox?: string },
  uid: number,
): Promise<OwnershipFinding[]> {
  const found: OwnershipFinding[] = [];
  const look = async (path: string, depth: number, forbidden = SHARED_WRITE) => {
    const info = await entryAt(path);
    if (!info) return;
    const kind = info.isDirectory() ? "directory" : "file";
    const mode = info.mode & 0o7777;
    if (info.isSymbolicLink()) found.push({ path, kind: "file", problem: "link", uid: info.uid, mode });
    else if (info.uid !== uid) found.push({ path, kind, problem: info.uid === 0 ? "root" : "foreign", uid: info.uid, mode });
    else if ((mode & forbidden) !== 0) found.push({ path, kind, problem: "writable", uid: info.uid, mode });
    if (!info.isDirectory() || depth === 0) return;
    for (const name of await readdir(path).catch(() => [] as string[])) await look(join(path, name), depth - 1);
  };
  for (const name of await readdir(spoolDir).catch(() => [] as string[])) {
    await look(join(spoolDir, name), name === "drop" ? 0 : 1, name === "drop" ? 0 : SHARED_WRITE);
  }
  if (local.maildir) for (const sub of ["tmp", "new", "cur"]) await look(join(local.maildir, sub), 0);
  // an mbox in /var/mail is the mail group's to write, as Debian sets it: only world write is wrong
  if (local.mbox) await look(local.mbox, 0, 0o002);
  return found;
}
