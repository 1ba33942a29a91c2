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

/** What a withDotlock gives: what `fn` returned, or busy when a live holder kept the lock past the deadline. */
export type Locked<T> = { busy: false; value: T } | { busy: true };

/** What a tryDotlock gives: the lock and its release, or busy when another holds it. */
export type Dotlock = { busy: false; release: () => Promise<void> } | { busy: true };

export interface DotlockOptions {
  /** How long withDotlock waits for a live holder before it says busy; 0 tries once. */
  timeoutMs?: number;
}

/**
 * `fn` run holding the lock. A lock still held at the deadline is not an error here: it is
 * busy, and the caller says what that means (another runner's entry; a temporary failure).
 */
export async function withDotlock<T>(path: string, fn: () => Promise<T>, options: DotlockOptions = {}): Promise<Locked<T>> {
  const lockPath = path + ".lock";
  if (!(await acquire(lockPath, options.timeoutMs ?? 30_000))) return { busy: true };
  try {
    return { busy: false, value: await fn() };
  } finally {
    await unlink(lockPath).catch(() => undefined);
  }
}

/** The value, or for busy the temporary error (Status.busy) of a caller that cannot go on without the lock. */
export function unlessBusy<T>(outcome: Locked<T>): T {
  if (outcome.busy) throw new SealpostError(Status.busy, "a lock is held too long; try again later");
  return outcome.value;
}

/**
 * The lock now or never. For taking many at once (a digest's entries), which nested withDotlock
 * calls cannot express.
 */
export async function tryDotlock(path: string): Promise<Dotlock> {
  const lockPath = path + ".lock";
  if (!(await acquire(lockPath, 0))) return { busy: true };
  return { busy: false, release: () => unlink(lockPath).catch(() => undefined) };
}

/** True once the lock is ours; false when a live holder still has it at the deadline. */
async function acquire(lockPath: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
    if (await tryLock(lockPath)) return true;
    if (await isStale(lockPath)) {
      await unlink(lockPath).catch(() => undefined);
      continue;
    }
    if (Date.now() > deadline) return false;
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
