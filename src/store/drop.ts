/**
 * The drop directory (spool_dir/drop, mode 1733): how a user who may not write the spool still
 * submits with `sealpost sendmail` (at jobs, user crontabs), as Postfix's maildrop does.
 *
 * Anyone can create a file there; no one but the spool's owner can list it, so a file's random
 * 128-bit name is known only to its writer, and nobody reads another user's mail. A file is one
 * JSON line (the envelope), then the message; it appears under its final name by rename, whole.
 * The spool's owner (queue run, serve) takes each file into the spool and removes it, trusting
 * nothing in it: a symlink, a hard link or an oversized file is set aside, never followed.
 */
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { chmod, mkdir, open, readdir, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { fsyncDir, writeSynced } from "./durable-file.js";

export interface DropEnvelope {
  sender: string;
  recipients: string[];
  user: string;
}

export interface Dropped {
  name: string;
  uid: number;
  envelope: DropEnvelope;
  bytes: Buffer;
}

export function dropDir(spoolDir: string): string {
  return join(spoolDir, "drop");
}

/** By the spool's owner: the spool traversable (0711, nothing listable) and drop/ 1733. Two stats when already so. */
export async function prepareDropDir(spoolDir: string): Promise<void> {
  const modeOf = (dir: string) => stat(dir).then((s) => s.mode & 0o7777, () => -1);
  if ((await modeOf(spoolDir)) === 0o711 && (await modeOf(dropDir(spoolDir))) === 0o1733) return;
  await mkdir(spoolDir, { recursive: true, mode: 0o711 });
  await chmod(spoolDir, 0o711);
  await mkdir(dropDir(spoolDir), { recursive: true, mode: 0o1733 });
  await chmod(dropDir(spoolDir), 0o1733);
}

/** By any user: writes one message into drop/, complete or not at all. */
export async function writeDrop(spoolDir: string, envelope: DropEnvelope, bytes: Buffer): Promise<string> {
  const dir = dropDir(spoolDir);
  const name = randomBytes(16).toString("hex");
  const tmp = join(dir, `.${name}.tmp`);
  // 0644: the spool's owner must read it; others cannot find it (no read permission on drop/).
  await writeSynced(tmp, Buffer.concat([Buffer.from(JSON.stringify(envelope) + "\n"), bytes]), 0o644);
  try {
    await rename(tmp, join(dir, `${name}.msg`));
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  // Directory fsync needs read permission on drop/, which a submitter has not; the owner's
  // ingest fsyncs the spool itself. On ext4 (data=ordered) the rename is on disk within seconds.
  await fsyncDir(dir).catch(() => undefined);
  return name;
}

/** By the spool's owner: every complete drop file, read safely. Bad ones are renamed *.bad and skipped. */
export async function readDrops(spoolDir: string, maxBytes: number): Promise<Dropped[]> {
  const dir = dropDir(spoolDir);
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => /^[0-9a-f]{32}\.msg$/.test(n)).sort();
  const found: Dropped[] = [];
  for (const name of names) {
    const file = join(dir, name);
    try {
      found.push(await readDrop(file, name, maxBytes));
    } catch {
      await rename(file, `${file}.bad`).catch(() => undefined);
    }
  }
  return found;
}

async function readDrop(file: string, name: string, maxBytes: number): Promise<Dropped> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const info = await handle.stat();
    if (!info.isFile() || info.nlink !== 1 || info.size > maxBytes + 64 * 1024) throw new Error("not a plain drop file");
    const data = await handle.readFile();
    const nl = data.indexOf(0x0a);
    const envelope = JSON.parse(data.subarray(0, nl).toString("utf8")) as DropEnvelope;
    const valid = typeof envelope.sender === "string" && typeof envelope.user === "string" && Array.isArray(envelope.recipients) &&
      envelope.recipients.length > 0 && envelope.recipients.length <= 1000 && envelope.recipients.every((r) => typeof r === "string");
    if (nl < 0 || !valid) throw new Error("bad drop envelope");
    return { name, uid: info.uid, envelope, bytes: data.subarray(nl + 1) };
  } finally {
    await handle.close();
  }
}

export async function removeDrop(spoolDir: string, name: string): Promise<void> {
  await unlink(join(dropDir(spoolDir), name));
}

/** Whether this process may write the spool itself (root, or the spool's owner) or must use drop/. */
export async function mayWriteSpool(spoolDir: string, uid: number): Promise<boolean> {
  if (uid === 0) return true;
  const info = await stat(spoolDir).catch(() => undefined);
  return info === undefined ? true : info.uid === uid;
}
