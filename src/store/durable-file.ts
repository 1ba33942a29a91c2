/**
 * The one durable write: temp file (O_EXCL, 0600) -> write -> fsync -> rename -> fsync the
 * directory (shared with the writers beside it: fsyncDir). Nothing is visible under the final
 * name before it is complete, and an aborted write leaves no trace.
 */
import { randomHex } from "../core/random.js";
import { mkdir, open, rename, unlink } from "../core/fsp.js";
import { basename, dirname, join } from "node:path";
import { errnoOf } from "../core/errors.js";

/**
 * Makes the names in `dir` durable: every rename into it that finished before the call.
 * Group commit: callers that come while a sync of the directory is under way (that sync may
 * have begun before their rename) share the next one, so a burst of messages costs a couple of
 * directory syncs, not one each; no caller returns before a sync that began after its call.
 */
export function fsyncDir(dir: string): Promise<void> {
  const state = dirSyncs.get(dir);
  if (!state) return startDirSync(dir);
  state.next ??= state.running.then(noop, noop).then(() => startDirSync(dir));
  return state.next;
}

const dirSyncs = new Map<string, { running: Promise<void>; next?: Promise<void> }>();
const noop = () => undefined;

function startDirSync(dir: string): Promise<void> {
  const running = syncNow(dir).finally(() => {
    const state = dirSyncs.get(dir);
    if (state?.running === running && !state.next) dirSyncs.delete(dir); // with a next, it takes the place
  });
  dirSyncs.set(dir, { running });
  return running;
}

async function syncNow(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * The directory there, made when missing. Once made (or found) in this process it is taken to
 * stay: a long-lived serve would otherwise ask for the spool's directories a few times for every
 * message. One removed meanwhile is made again by writeSynced.
 */
export async function ensureDir(dir: string, mode = 0o700): Promise<void> {
  if (ensured.get(dir) === mode) return;
  await mkdir(dir, { recursive: true, mode });
  ensured.set(dir, mode);
}

const ensured = new Map<string, number>();

/** Writes `data` to `tmpPath` with O_EXCL and fsyncs it; removes it again on any failure. */
export async function writeSynced(tmpPath: string, data: Uint8Array | string, mode = 0o600): Promise<void> {
  const handle = await open(tmpPath, "wx", mode).catch(async (err: unknown) => {
    const dir = dirname(tmpPath);
    const made = ensured.get(dir);
    if (errnoOf(err) !== "ENOENT" || made === undefined) throw err;
    ensured.delete(dir); // removed since ensureDir: make it again, once
    await ensureDir(dir, made);
    return open(tmpPath, "wx", mode);
  });
  try {
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await unlink(tmpPath).catch(() => undefined);
    throw err;
  }
}

/** Atomically replaces (or creates) `path` with `data`, durably. */
export async function writeFileDurably(path: string, data: Uint8Array | string, mode = 0o600): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomHex(6)}.tmp`);
  await writeSynced(tmp, data, mode);
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fsyncDir(dir);
}
