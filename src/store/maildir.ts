/** Maildir delivery: tmp -> fsync -> new, directory fsynced (the maildir(5) protocol). */
import { randomBytes } from "node:crypto";
import { rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { ensureDir, fsyncDir, writeSynced } from "./durable-file.js";

let counter = 0;

export async function deliverToMaildir(dir: string, bytes: Buffer, hostname: string): Promise<string> {
  for (const sub of ["tmp", "new", "cur"]) await ensureDir(join(dir, sub));
  const now = Date.now();
  const host = hostname.replace(/\//g, "\\057").replace(/:/g, "\\072");
  const name = `${Math.floor(now / 1000)}.M${(now % 1000) * 1000}P${process.pid}Q${++counter}R${randomBytes(6).toString("hex")}.${host},S=${bytes.length}`;
  const tmp = join(dir, "tmp", name);
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
