/**
 * A dot-lock (path + ".lock", made by link(2) from a temp file that holds our pid, as
 * liblockfile makes it), the lock mbox readers and writers on
 * Debian agree on and the one Node can take without a native addon. A lock whose holder
 * died is broken; a live one is waited for, with jitter, up to a deadline.
 */
import { randomHex } from "../core/random.js";
import { link, readFile, stat, unlink, writeFile } from "../core/fsp.js";
import { basename, dirname, join } from "node:path";
import { SealpostError, Status } from "../core/errors.js";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const STALE_AFTER_MS = 5 * 60_000; // no holder keeps a lock this long: one message is written in milliseconds
const DEAD_HOLDER_GRACE_MS = 2_000; // a fresh lock is never broken, even if its pid is gone

export async function withDotlock<T>(path: string, fn: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const lockPath = path + ".lock";
  await acquire(lockPath, timeoutMs);
  try {
    return await fn();
  } finally {
    await unlink(lockPath).catch(() => undefined);
  }
}

/**
 * The lock now or never: its release, or undefined when another holds it. For taking many at
 * once (a digest's entries), which nested withDotlock calls cannot express.
 */
export async function tryDotlock(path: string): Promise<(() => Promise<void>) | undefined> {
  const lockPath = path + ".lock";
  try {
    await acquire(lockPath, 0);
  } catch (err) {
    if (err instanceof SealpostError) return undefined;
    throw err;
  }
  return () => unlink(lockPath).catch(() => undefined);
}

async function acquire(lockPath: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
    if (await tryLock(lockPath)) return;
    if (await isStale(lockPath)) {
      await unlink(lockPath).catch(() => undefined);
      continue;
    }
    if (Date.now() > deadline) throw new SealpostError(Status.busy, "a lock is held too long; try again later");
    await sleep(wait + Math.random() * wait);
  }
}

/**
 * The lock appears with our pid already in it: written to a temp file first, then hard-linked
 * to the lock's name (atomic, and EEXIST when held). Creating the lock and then writing the pid
 * would leave an empty lock, which no one can tell from a live one, whenever the holder is killed
 * or the disk is full in between.
 */
async function tryLock(lockPath: string): Promise<boolean> {
  const tmp = join(dirname(lockPath), `.${basename(lockPath)}.${process.pid}.${randomHex(4)}.tmp`);
  try {
    await writeFile(tmp, `${process.pid}\n`, { flag: "wx", mode: 0o600 });
    await link(tmp, lockPath);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

async function isStale(lockPath: string): Promise<boolean> {
  try {
    const age = Date.now() - (await stat(lockPath)).mtimeMs;
    if (age > STALE_AFTER_MS) return true;
    if (age < DEAD_HOLDER_GRACE_MS) return false;
    const pid = Number.parseInt(await readFile(lockPath, "utf8"), 10);
    return Number.isInteger(pid) && pid > 0 && !isAlive(pid);
  } catch {
    return false; // gone already, or unreadable: let the next round decide
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
