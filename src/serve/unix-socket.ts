/**
 * The LMTP listener's unix socket. Who may connect is decided by the file system: the socket is
 * 0660, and takes the group of the directory it is in (the MTA's: `sealpost init --lmtp` makes
 * /run/sealpost 2750 sealpost:postfix, so a socket made there is group postfix), so the MTA's
 * delivery user and the sealpost user can connect, and nobody else can even reach it. A socket a
 * stopped serve left behind is replaced; anything else at the path — a file, a link, another
 * user's socket — is left alone and refused, naming it.
 */
import { chmod, chown, lstat, mkdir, stat, unlink } from "../core/fsp.js";
import { dirname } from "node:path";
import { SealpostError, whenErrno } from "../core/errors.js";
import { Reason } from "../core/outcome.js";

/** Ready for listen(path): the directory there (made 0750 when missing), no stale socket in the way. */
export async function prepareSocketPath(path: string): Promise<void> {
  await mkdir(dirname(path), { mode: 0o750 }).catch(whenErrno(undefined, "EEXIST"));
  const there = await lstat(path).catch(() => undefined);
  if (!there) return;
  if (!there.isSocket() || there.uid !== process.getuid?.()) {
    throw new SealpostError(Reason.config, `serve.lmtp: ${path} exists and is not a socket of this user's; not replaced`);
  }
  await unlink(path); // a socket of ours that no serve listens on any more (listen would say EADDRINUSE)
}

/** After listen(path): 0660, in the directory's group where this user may give it that group. */
export async function restrictSocket(path: string): Promise<void> {
  await chmod(path, 0o660);
  const [socket, dir] = await Promise.all([lstat(path), stat(dirname(path))]);
  if (socket.gid !== dir.gid) await chown(path, socket.uid, dir.gid).catch(() => undefined); // not a member of it: the group stays
}

/** On stop: the socket goes with the listener, unless something else took its place meanwhile. */
export async function removeSocket(path: string): Promise<void> {
  const there = await lstat(path).catch(() => undefined);
  if (there?.isSocket() && there.uid === process.getuid?.()) await unlink(path).catch(() => undefined);
}
