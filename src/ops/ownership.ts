/**
 * Who owns what inside the spool and the local store. Checking only the top directory is not
 * enough: a `ledger/` left by root (a deliver run by hand) or by another user makes every later
 * delivery defer with "permission denied" while `init` reports success. `init` hands back to the
 * sealpost user what root left there and refuses, naming it, what belongs to anyone else or is a
 * link; `doctor` reports the same findings without changing anything.
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { entryAt } from "./no-follow.js";

export interface OwnershipFinding {
  path: string;
  kind: "directory" | "file";
  /** "root": root's, init gives it to the user; "foreign": another user's; "link": a symlink. */
  problem: "root" | "foreign" | "link";
  uid: number;
}

/**
 * Looks at spool_dir's entries and one level into its directories (but not into drop/, whose
 * files belong to the users who submitted them), and at the Maildir's tmp/new/cur.
 */
export async function ownershipFindings(spoolDir: string, maildir: string | undefined, uid: number): Promise<OwnershipFinding[]> {
  const found: OwnershipFinding[] = [];
  const look = async (path: string, depth: number) => {
    const info = await entryAt(path);
    if (!info) return;
    const kind = info.isDirectory() ? "directory" : "file";
    if (info.isSymbolicLink()) found.push({ path, kind: "file", problem: "link", uid: info.uid });
    else if (info.uid !== uid) found.push({ path, kind, problem: info.uid === 0 ? "root" : "foreign", uid: info.uid });
    if (!info.isDirectory() || depth === 0) return;
    for (const name of await readdir(path).catch(() => [] as string[])) await look(join(path, name), depth - 1);
  };
  for (const name of await readdir(spoolDir).catch(() => [] as string[])) {
    await look(join(spoolDir, name), name === "drop" ? 0 : 1);
  }
  if (maildir) for (const sub of ["tmp", "new", "cur"]) await look(join(maildir, sub), 0);
  return found;
}
