/**
 * The one durable write: temp file (O_EXCL, 0600) -> write -> fsync -> rename -> fsync the
 * directory. Nothing is visible under the final name before it is complete, and an aborted
 * write leaves no trace.
 */
import { randomHex } from "../core/random.js";
import { mkdir, open, rename, unlink } from "../core/fsp.js";
import { basename, dirname, join } from "node:path";

export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function ensureDir(dir: string, mode = 0o700): Promise<void> {
  await mkdir(dir, { recursive: true, mode });
}

/** Writes `data` to `tmpPath` with O_EXCL and fsyncs it; removes it again on any failure. */
export async function writeSynced(tmpPath: string, data: Uint8Array | string, mode = 0o600): Promise<void> {
  const handle = await open(tmpPath, "wx", mode);
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
