/**
 * mbox delivery (mboxrd): a "From " line, ">From " quoting, a blank line after the message;
 * under a dot-lock, appended and fsynced, and cut back to the old size if anything fails.
 */
import { sha256Hex } from "../core/digest.js";
import { open, type FileHandle } from "../core/fsp.js";
import { dirname } from "node:path";
import { asctime } from "../mail/dates.js";
import { ensureDir } from "./durable-file.js";
import { unlessBusy, withDotlock } from "./dotlock.js";

/** Where one record goes in the mbox: enough to find out later whether it got there. */
export interface MboxMark {
  offset: number;
  length: number;
  sha256: string;
  /** The date on its From_ line: with it the record can be rebuilt byte for byte. */
  date: string;
}

export interface MboxAppend {
  now?: Date;
  /** Learns where the record will go while the lock is held, before a byte is written. */
  beforeAppend?: (mark: MboxMark) => Promise<void>;
  /** An earlier attempt at this message that was killed: a partial record of it at the end is cut off first. */
  earlier?: MboxMark;
}

/** Appends one record for `bytes` under the dot-lock. */
export async function deliverToMbox(path: string, bytes: Buffer, sender: string, options: MboxAppend = {}): Promise<void> {
  await ensureDir(dirname(path));
  const now = options.now ?? new Date();
  const entry = mboxEntry(bytes, sender, now);
  unlessBusy(
    await withDotlock(path, async () => {
      const handle = await open(path, "a+", 0o600);
      let size = -1;
      try {
        if (options.earlier) await cutPartialRecord(handle, options.earlier, mboxEntry(bytes, sender, new Date(options.earlier.date)));
        const offset = (await handle.stat()).size;
        await options.beforeAppend?.({ offset, length: entry.length, sha256: sha256(entry), date: now.toISOString() });
        size = offset;
        await handle.writeFile(entry);
        await handle.sync();
      } catch (err) {
        if (size >= 0) await handle.truncate(size).catch(() => undefined);
        throw err;
      } finally {
        await handle.close();
      }
    }),
  );
}

/**
 * A kill -9 in the middle of an append leaves the start of a record at the end of the mbox. When
 * what follows `mark.offset` is exactly a prefix of the record that attempt was writing, and
 * nothing else came after it, it is cut off; anything else is left alone.
 */
async function cutPartialRecord(handle: FileHandle, mark: MboxMark, record: Buffer): Promise<void> {
  const size = (await handle.stat()).size;
  const tail = size - mark.offset;
  if (tail <= 0 || tail >= record.length || sha256(record) !== mark.sha256) return;
  const found = Buffer.alloc(tail);
  await handle.read(found, 0, tail, mark.offset);
  if (found.equals(record.subarray(0, tail))) await handle.truncate(mark.offset);
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

/**
 * The sender word of a From_ line: one token of printable ASCII. Whatever the envelope says, a
 * line end, a space or a NUL never reaches the mbox from here, so no text can start a record
 * of its own (a forged, backdated message in root's mailbox).
 */
export function fromLineSender(sender: string): string {
  if (sender === "") return "MAILER-DAEMON";
  return sender.replace(/[^\x21-\x7e]/g, "_").slice(0, 320);
}

function sha256(b: Buffer): string {
  return sha256Hex(b);
}

export function mboxEntry(bytes: Buffer, sender: string, now: Date): Buffer {
  const quoted = Buffer.from(bytes.toString("latin1").replace(/^(>*From )/gm, ">$1"), "latin1");
  const parts = [Buffer.from(`From ${fromLineSender(sender)} ${asctime(now)}\n`, "latin1"), quoted];
  if (quoted.length > 0 && quoted[quoted.length - 1] !== 0x0a) parts.push(Buffer.from("\n"));
  parts.push(Buffer.from("\n"));
  return Buffer.concat(parts);
}
