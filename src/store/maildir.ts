/** Maildir delivery: tmp -> fsync -> new, directory fsynced (the maildir(5) protocol). */
import { randomHex } from "../core/random.js";
import { access, readdir, rename, unlink } from "../core/fsp.js";
import { join } from "node:path";
import { ensureDir, fsyncDir, writeSynced } from "./durable-file.js";

let counter = 0;

/** A unique file name (maildir(5)): time, microseconds, pid, a counter and randomness, host, size. */
export function maildirName(bytes: Buffer, hostname: string, now = Date.now()): string {
  const host = hostname.replace(/\//g, "\\057").replace(/:/g, "\\072");
  return `${Math.floor(now / 1000)}.M${(now % 1000) * 1000}P${process.pid}Q${++counter}R${randomHex(6)}.${host},S=${bytes.length}`;
}

/** Delivers under `name` (chosen beforehand so a caller can record it first); returns the name. */
export async function deliverToMaildir(dir: string, bytes: Buffer, hostname: string, name = maildirName(bytes, hostname)): Promise<string> {
  for (const sub of ["tmp", "new", "cur"]) await ensureDir(join(dir, sub));
  const tmp = join(dir, "tmp", name);
  await unlink(tmp).catch(() => undefined); // left by an earlier attempt under this name that was killed
  await writeSynced(tmp, bytes);
  try {
    await rename(tmp, join(dir, "new", name));
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fsyncDir(join(dir, "new"));
  return name;
}

/** Whether a message delivered as `name` is in the Maildir: in new/, or read and moved to cur/ ("name:2,S"). */
export async function maildirHas(dir: string, name: string): Promise<boolean> {
  if (
    await access(join(dir, "new", name)).then(
      () => true,
      () => false,
    )
  )
    return true;
  const cur = await readdir(join(dir, "cur")).catch(() => [] as string[]);
  return cur.some((n) => n === name || n.startsWith(name + ":"));
}
