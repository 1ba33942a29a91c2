/**
 * Who may write the spool, decided before a byte of a submission is written. The spool holds
 * every message root receives, so whoever owns it reads root's mail: a process never writes into
 * a spool that someone else could have made, and root becomes only the configured user.
 *
 *   we are root:      spool owned by root -> write it as root; by the configured user -> become
 *                     that user first; by anyone else -> refuse.
 *   we are not root:  spool owned by us -> write it; by someone else -> submit through drop/.
 *   spool missing:    create it only where no one else could have created it first: its parent
 *                     belongs to us (or to root, when we are root) and nobody else may write there.
 */
import { stat } from "./fsp.js";
import { dirname } from "node:path";
import { lookupUser } from "./passwd.js";

export type SpoolAccess =
  | { kind: "write" } // this process writes the spool itself (creating it when missing)
  | { kind: "switch"; uid: number; gid: number; user: string } // root: become the spool's user, then write
  | { kind: "drop" } // someone else's spool: submit through spool_dir/drop
  | { kind: "refuse"; reason: string };

export interface DirFacts {
  uid: number;
  mode: number;
  isDirectory: boolean;
}

export interface AccessFacts {
  spoolDir: string;
  /** The uid this process runs as. */
  uid: number;
  spool?: DirFacts; // undefined: it does not exist
  parent?: DirFacts;
  configuredUser: string;
  /** The configured user's ids, undefined when there is no such user. */
  userIds?: { uid: number; gid: number };
}

export function decideSpoolAccess(f: AccessFacts): SpoolAccess {
  const { spool } = f;
  if (spool) {
    if (!spool.isDirectory) return { kind: "refuse", reason: `spool_dir ${f.spoolDir} is not a directory` };
    if (spool.uid === f.uid) return { kind: "write" };
    if (f.uid !== 0) return { kind: "drop" };
    if (f.userIds && spool.uid === f.userIds.uid && spool.uid !== 0) {
      return { kind: "switch", uid: f.userIds.uid, gid: f.userIds.gid, user: f.configuredUser };
    }
    return {
      kind: "refuse",
      reason: `spool_dir ${f.spoolDir} belongs to uid ${spool.uid}, not to root or to the configured user ${f.configuredUser}; refusing to write root's mail there (see sealpost doctor)`,
    };
  }
  const parent = f.parent;
  const safeParent = parent?.isDirectory && parent.uid === f.uid && (parent.mode & 0o022) === 0;
  if (safeParent) return { kind: "write" };
  return { kind: "refuse", reason: `spool_dir ${f.spoolDir} does not exist (sealpost init creates it)` };
}

export async function spoolAccess(spoolDir: string, configuredUser: string, uid: number): Promise<SpoolAccess> {
  const facts = async (path: string): Promise<DirFacts | undefined> => {
    const info = await stat(path).catch(() => undefined);
    return info && { uid: info.uid, mode: info.mode, isDirectory: info.isDirectory() };
  };
  const spool = await facts(spoolDir);
  return decideSpoolAccess({
    spoolDir,
    uid,
    spool,
    parent: spool ? undefined : await facts(dirname(spoolDir)),
    configuredUser,
    userIds: uid === 0 ? lookupUser(configuredUser) : undefined,
  });
}
