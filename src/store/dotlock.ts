/**
 * A dot-lock (path + ".lock", made by link(2) from a temp file that holds our pid, as
 * liblockfile makes it), the lock mbox readers and writers on Debian agree on and the one Node
 * can take without a native addon.
 *
 * Its holder touches it while it holds it (a heartbeat), however long that is: a runner relaying
 * one entry over a slow network holds the entry's lock for as long as the relay's timeouts allow.
 * So a lock whose mtime has stood still for the stale interval was left by a holder that is gone,
 * whatever its pid says (reused since, another host's), and is broken; one whose pid is gone is
 * broken sooner, once past a short grace. A live holder is waited for, with jitter, up to a
 * deadline, and then the lock is busy: a result, which the caller maps to what it means.
 *
 * Nothing here follows a symlink standing at the lock's name: it is looked at with lstat, another's
 * pid is read through an O_NOFOLLOW descriptor, and our own lock is touched through the descriptor
 * we made it with.
 */
import { constants, type Stats } from "node:fs";
import { randomHex } from "../core/random.js";
import { link, lstat, open, unlink, type FileHandle } from "../core/fsp.js";
import { basename, dirname, join } from "node:path";
import { errnoOf, isStorageFull, SealpostError, whenErrno } from "../core/errors.js";
import { Reason } from "../core/outcome.js";
import { processAlive } from "../core/process-alive.js";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A lock untouched this long is broken whatever its pid: its holder would have touched it several times over. */
const STALE_AFTER_MS = 5 * 60_000;
/**
 * A holder touches its lock every STALE_AFTER_MS / 4 (a minute and a quarter): a live holder's lock is then never
 * much older than that, and three beats in a row may come late (an event loop stalled by a big
 * seal, a slow disk under the spool) before it could look stale. A beat is an lstat and a futimes
 * per lock held, which keeps its descriptor open meanwhile: nothing, at that rate, even for a
 * digest holding many.
 */
const BEATS_PER_STALE = 4;
const DEAD_HOLDER_GRACE_MS = 2_000; // a fresh lock is never broken, even if its pid is gone

/** The lock's clock. The defaults are for every caller; tests shorten them to run in seconds. */
export interface DotlockTiming {
  /** A lock untouched this long is broken whatever its pid (default 5 min). Holders and contenders must agree on it. */
  staleAfterMs?: number;
  /** A lock younger than this is never broken, even when its pid is gone (default 2 s). */
  graceMs?: number;
  /** How often the holder touches its lock (default staleAfterMs / 4); the runner lock beats faster for its own liveness check. */
  heartbeatMs?: number;
}

export interface DotlockOptions extends DotlockTiming {
  /** How long withDotlock waits for a live holder before it says busy (default 30 s); 0 tries once. */
  timeoutMs?: number;
}

/** What a withDotlock gives: what `fn` returned, or busy when a live holder kept the lock past the deadline. */
export type Locked<T> = { busy: false; value: T } | { busy: true };

/**
 * What a tryDotlock gives: the lock, or busy when another holds it. `lost` is aborted when a
 * heartbeat finds the lock gone or another's (someone broke it): the holder then no longer
 * touches it, and its release leaves it alone.
 */
export type Dotlock = { busy: false; release: () => Promise<void>; lost: AbortSignal } | { busy: true };

/**
 * `fn` run holding the lock, which stays fresh however long `fn` takes. A lock still held at the
 * deadline is not an error here: it is busy, and the caller says what that means (another
 * runner's entry; a temporary failure, see unlessBusy).
 */
export async function withDotlock<T>(
  path: string,
  fn: (lost: AbortSignal) => Promise<T>,
  options: DotlockOptions = {},
): Promise<Locked<T>> {
  const lock = await take(path, options.timeoutMs ?? 30_000, options);
  if (lock.busy) return lock;
  try {
    return { busy: false, value: await fn(lock.lost) };
  } finally {
    await lock.release();
  }
}

/** The value, or for busy the temporary error (Reason.busy) of a caller that cannot go on without the lock. */
export function unlessBusy<T>(outcome: Locked<T>): T {
  if (outcome.busy) throw new SealpostError(Reason.busy, "a lock is held too long; try again later");
  return outcome.value;
}

/**
 * The lock now or never, kept fresh until released. For taking many at once (a digest's
 * entries), which nested withDotlock calls cannot express.
 */
export function tryDotlock(path: string, timing: DotlockTiming = {}): Promise<Dotlock> {
  return take(path, 0, timing);
}

async function take(path: string, timeoutMs: number, timing: DotlockTiming): Promise<Dotlock> {
  const lockPath = path + ".lock";
  const staleAfterMs = timing.staleAfterMs ?? STALE_AFTER_MS;
  const mine = await acquire(lockPath, timeoutMs, staleAfterMs, timing.graceMs ?? DEAD_HOLDER_GRACE_MS);
  if (!mine) return { busy: true };
  return hold(lockPath, mine, Math.max(1, timing.heartbeatMs ?? Math.floor(staleAfterMs / BEATS_PER_STALE)));
}

/** Which file is our lock: the one we linked to its name, whose descriptor we keep open while we hold it. */
interface Mine {
  handle: FileHandle;
  dev: number;
  ino: number;
}

/**
 * The heartbeat: an unref'd timer, cleared on release, that touches our lock through the
 * descriptor we made it with (futimes: no path, so no link followed), once an lstat of the lock's
 * name shows our file still there. The descriptor stays open while the lock is held, so our
 * inode cannot be freed and its number given to a new lock: the same dev and inode at the name
 * means ours. When it is gone or another's, our lock was broken (we were stopped or frozen past
 * the stale interval, or someone removed it by hand): we stop touching it, and say so on `lost`;
 * the release then removes nothing. What the holder did meanwhile cannot be undone from here, and
 * a holder that can still back out may look at `lost`. A beat that cannot tell (a transient
 * error) tries again at the next.
 */
function hold(lockPath: string, mine: Mine, heartbeatMs: number): Dotlock {
  const lost = new AbortController();
  let beating: Promise<void> | undefined;
  let released = false;
  const beat = async () => {
    const seen = await whose(lockPath, mine);
    if (seen === "ours") {
      const now = new Date();
      await mine.handle.utimes(now, now).catch(() => undefined); // our own file, wherever its name now is
    } else if (seen !== "unknown" && !released) {
      clearInterval(timer);
      lost.abort(new Error(`${lockPath} was broken while held`));
    }
  };
  const timer = setInterval(() => {
    beating ??= beat().finally(() => void (beating = undefined));
  }, heartbeatMs);
  timer.unref();
  const release = async () => {
    if (released) return;
    released = true;
    clearInterval(timer);
    await beating;
    try {
      if (lost.signal.aborted) return;
      // Only our own lock is removed. Between this look and the unlink another could break it and
      // take it, but only if it looked stale, which a lock beating until now does not.
      const seen = await whose(lockPath, mine);
      if (seen === "ours" || seen === "unknown") await unlink(lockPath).catch(() => undefined);
    } finally {
      await mine.handle.close().catch(() => undefined);
    }
  };
  return { busy: false, release, lost: lost.signal };
}

/** Whether the lock's name is still our file: "gone" when nothing is there, "other" when anything else is (a link included). */
async function whose(lockPath: string, mine: Mine): Promise<"ours" | "gone" | "other" | "unknown"> {
  try {
    const info = await lstat(lockPath);
    return info.dev === mine.dev && info.ino === mine.ino ? "ours" : "other";
  } catch (err) {
    return errnoOf(err) === "ENOENT" ? "gone" : "unknown";
  }
}

/** Which file is our lock once we have it; undefined when a live holder still has it at the deadline. */
async function acquire(lockPath: string, timeoutMs: number, staleAfterMs: number, graceMs: number): Promise<Mine | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
    const mine = await tryLock(lockPath);
    if (mine) return mine;
    const stale = await staleLock(lockPath, staleAfterMs, graceMs);
    if (stale) {
      await breakLock(lockPath, stale);
      continue;
    }
    if (Date.now() > deadline) return undefined;
    await sleep(wait + Math.random() * wait);
  }
}

/**
 * The lock appears with our pid already in it: written to a temp file first, then hard-linked
 * to the lock's name (atomic, and EEXIST when held). Creating the lock and then writing the pid
 * would leave an empty lock, which no one can tell from a live one, whenever the holder is killed
 * in between. On a full disk (or quota) the pid cannot be written, and the lock is taken empty
 * all the same: a pass that relays, and so frees the spool's space, must still be able to lock
 * its entries. An empty lock is judged by its age alone (its holder's heartbeat keeps it fresh),
 * so a holder killed then leaves it for the stale interval instead of the dead-holder grace.
 */
async function tryLock(lockPath: string): Promise<Mine | undefined> {
  const tmp = join(dirname(lockPath), `.${basename(lockPath)}.${process.pid}.${randomHex(4)}.tmp`);
  const handle = await open(tmp, "wx", 0o600);
  let linked = false;
  try {
    await handle.writeFile(`${process.pid}\n`).catch(async (err: unknown) => {
      if (!isStorageFull(err)) throw err;
      await handle.truncate(0); // never a part of our pid, which could name another's process
    });
    await link(tmp, lockPath);
    linked = true;
    const { dev, ino } = await handle.stat();
    return { handle, dev, ino };
  } catch (err) {
    if (linked) await unlink(lockPath).catch(() => undefined); // ours, made a moment ago: not held if we cannot tell it
    await handle.close().catch(() => undefined);
    if (errnoOf(err) === "EEXIST") return undefined;
    throw err;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/** What stands at the lock's name when it is to be broken: its holder is gone. */
async function staleLock(lockPath: string, staleAfterMs: number, graceMs: number): Promise<Stats | undefined> {
  try {
    const info = await lstat(lockPath);
    const age = Date.now() - info.mtimeMs;
    if (age > staleAfterMs) return info; // not touched for that long: no live holder of ours would let it
    if (age < graceMs || !info.isFile()) return undefined; // a link or a fifo there is judged by its age alone
    const pid = await onLockFile(lockPath, async (handle) => pidIn(handle));
    return pid !== undefined && Number.isInteger(pid) && pid > 0 && !processAlive(pid) ? info : undefined;
  } catch {
    return undefined; // gone already, or unreadable: let the next round decide
  }
}

/**
 * Removes the stale lock, only if it is still the one judged stale: two contenders that both
 * found it stale would otherwise have the second remove the lock the first has just taken. What
 * is left is the moment between this lstat and the unlink.
 */
async function breakLock(lockPath: string, stale: Stats): Promise<void> {
  const now = await lstat(lockPath).catch(() => undefined);
  if (now && now.dev === stale.dev && now.ino === stale.ino && now.mtimeMs === stale.mtimeMs) await unlink(lockPath).catch(() => undefined);
}

/**
 * The pid in `path`'s lock and when it was last touched, links not followed; undefined when no
 * regular file stands at the lock's name. For a caller that tells from these whether a holder is
 * there (the runner lock) without taking the lock.
 */
export async function lockHolder(path: string): Promise<{ pid: number; mtimeMs: number } | undefined> {
  return onLockFile(path + ".lock", async (handle, info) => ({ pid: await pidIn(handle), mtimeMs: info.mtimeMs }));
}

/** `fn` on the regular file at the lock's name, opened without following a link; undefined when there is none. */
async function onLockFile<T>(lockPath: string, fn: (handle: FileHandle, info: Stats) => Promise<T>): Promise<T | undefined> {
  const handle = await open(lockPath, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(
    whenErrno(undefined, "ENOENT", "ELOOP"),
  );
  if (!handle) return undefined;
  try {
    const info = await handle.stat();
    return info.isFile() ? await fn(handle, info) : undefined;
  } finally {
    await handle.close();
  }
}

async function pidIn(handle: FileHandle): Promise<number> {
  const buffer = Buffer.alloc(32);
  const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
  return Number.parseInt(buffer.subarray(0, bytesRead).toString("latin1"), 10);
}
