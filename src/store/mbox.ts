/**
 * mbox delivery (mboxrd): a "From " line, ">From " quoting, a blank line after the message;
 * under a dot-lock, appended and fsynced, and cut back to the old size if anything fails.
 */
import { createHash } from "node:crypto";
import { open } from "node:fs/promises";
import { dirname } from "node:path";
import { asctime } from "../core/dates.js";
import { ensureDir } from "./durable-file.js";
import { withDotlock } from "./dotlock.js";

/** Where one record goes in the mbox: enough to find out later whether it got there. */
export interface MboxMark {
  offset: number;
  length: number;
  sha256: string;
}

/** Appends one record; `beforeAppend` learns where it will go while the lock is held, before a byte is written. */
export async function deliverToMbox(path: string, bytes: Buffer, sender: string, now: Date = new Date(),
  beforeAppend?: (mark: MboxMark) => Promise<void>): Promise<void> {
  await ensureDir(dirname(path));
  const entry = mboxEntry(bytes, sender, now);
  await withDotlock(path, async () => {
    const handle = await open(path, "a", 0o600);
    let size = -1;
    try {
      const offset = (await handle.stat()).size;
      await beforeAppend?.({ offset, length: entry.length, sha256: sha256(entry) });
      size = offset;
      await handle.writeFile(entry);
      await handle.sync();
    } catch (err) {
      if (size >= 0) await handle.truncate(size).catch(() => undefined);
      throw err;
    } finally {
      await handle.close();
    }
  });
}

/** Whether the record `mark` describes is in the mbox, byte for byte, where it was to go. */
export async function mboxHas(path: string, mark: MboxMark): Promise<boolean> {
  const handle = await open(path, "r").catch(() => undefined);
  if (!handle) return false;
  try {
    const buffer = Buffer.alloc(mark.length);
    const { bytesRead } = await handle.read(buffer, 0, mark.length, mark.offset);
    return bytesRead === mark.length && sha256(buffer) === mark.sha256;
  } finally {
    await handle.close();
  }
}

function sha256(b: Buffer): string {
  return createHash("sha256").update(b).digest("hex");
}

export function mboxEntry(bytes: Buffer, sender: string, now: Date): Buffer {
  const quoted = Buffer.from(bytes.toString("latin1").replace(/^(>*From )/gm, ">$1"), "latin1");
  const parts = [Buffer.from(`From ${sender || "MAILER-DAEMON"} ${asctime(now)}\n`, "latin1"), quoted];
  if (quoted.length > 0 && quoted[quoted.length - 1] !== 0x0a) parts.push(Buffer.from("\n"));
  parts.push(Buffer.from("\n"));
  return Buffer.concat(parts);
}
