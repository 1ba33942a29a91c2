/**
 * File operations for root working in directories another user owns (the sealpost user's home,
 * the spool): that user may have planted a symlink where we expect a file (`.forward` ->
 * /etc/passwd) or a directory (`Maildir` -> /etc), hoping root will chown or write through it.
 * So nothing here follows a link: an existing path is opened with O_NOFOLLOW and changed through
 * that descriptor (fchmod, fchown), a new file is written under a fresh O_EXCL name and renamed
 * into place (rename replaces a link, never writes through it), and a link found where a file or
 * directory should be is an error that names it.
 */
import { randomBytes } from "node:crypto";
import { constants, type Stats } from "node:fs";
import { lstat, mkdir, open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { errnoOf, whenErrno } from "../core/errors.js";

export class UnsafePath extends Error {}

export interface Owner {
  uid: number;
  gid: number;
}

/** What stands at `path`, links not followed; undefined when nothing does. */
export async function entryAt(path: string): Promise<Stats | undefined> {
  return lstat(path).catch(whenErrno(undefined, "ENOENT"));
}

/** Refuses a symlink or something of the wrong type at `path`, naming it. */
export async function checkNoLink(path: string, shown: string, kind: "directory" | "file"): Promise<void> {
  const info = await entryAt(path);
  if (!info) return;
  if (info.isSymbolicLink()) throw new UnsafePath(`${shown} is a symbolic link; init never follows one (remove it, then run init again)`);
  if (kind === "directory" ? !info.isDirectory() : !info.isFile()) throw new UnsafePath(`${shown} exists and is not a ${kind}`);
}

/** Creates the directory if missing, then sets its mode (and owner) through an O_NOFOLLOW descriptor. */
export async function ensureDirectory(path: string, shown: string, mode: number, owner?: Owner): Promise<void> {
  await checkNoLink(path, shown, "directory");
  // Parents (/var/spool, /var/lib) are root's: only the last component can be someone else's link.
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  await mkdir(path, { mode }).catch(whenErrno(undefined, "EEXIST"));
  await changeNoFollow(path, shown, "directory", mode, owner);
}

/** fchmod/fchown of what is at `path`, opened without following a link. */
export async function changeNoFollow(path: string, shown: string, kind: "directory" | "file", mode?: number, owner?: Owner): Promise<void> {
  const flags = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | (kind === "directory" ? constants.O_DIRECTORY : 0);
  const handle = await open(path, flags).catch((err: unknown) => {
    const code = errnoOf(err);
    if (code === "ELOOP" || code === "ENOTDIR")
      throw new UnsafePath(`${shown} is a symbolic link or not a ${kind}; init never follows one`);
    throw err;
  });
  try {
    const info = await handle.stat();
    if (kind === "file" && !info.isFile()) throw new UnsafePath(`${shown} is not a regular file`);
    if (owner && (info.uid !== owner.uid || info.gid !== owner.gid)) await handle.chown(owner.uid, owner.gid);
    if (mode !== undefined && (info.mode & 0o7777) !== mode) await handle.chmod(mode);
  } finally {
    await handle.close();
  }
}

/** Replaces `path` with a new file of `data`: written under a fresh O_EXCL name beside it, given its owner, renamed into place. */
export async function replaceFile(path: string, shown: string, data: string, mode: number, owner?: Owner): Promise<void> {
  await checkNoLink(path, shown, "file");
  const tmp = join(dirname(path), `.${basename(path)}.sealpost-${randomBytes(6).toString("hex")}`);
  const handle = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    await handle.writeFile(data);
    if (owner) await handle.chown(owner.uid, owner.gid);
    await handle.chmod(mode);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await handle.close();
  await rename(tmp, path);
}
