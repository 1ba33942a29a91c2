/**
 * mbox delivery (mboxrd): a "From " line, ">From " quoting, a blank line after the message;
 * under a dot-lock, appended and fsynced, and cut back to the old size if anything fails.
 */
import { open } from "node:fs/promises";
import { dirname } from "node:path";
import { asctime } from "../core/dates.js";
import { ensureDir } from "./durable-file.js";
import { withDotlock } from "./dotlock.js";

export async function deliverToMbox(path: string, bytes: Buffer, sender: string, now: Date = new Date()): Promise<void> {
  await ensureDir(dirname(path));
  const entry = mboxEntry(bytes, sender, now);
  await withDotlock(path, async () => {
    const handle = await open(path, "a", 0o600);
    let size = -1;
    try {
      size = (await handle.stat()).size;
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

export function mboxEntry(bytes: Buffer, sender: string, now: Date): Buffer {
  const quoted = Buffer.from(bytes.toString("latin1").replace(/^(>*From )/gm, ">$1"), "latin1");
  const parts = [Buffer.from(`From ${sender || "MAILER-DAEMON"} ${asctime(now)}\n`, "latin1"), quoted];
  if (quoted.length > 0 && quoted[quoted.length - 1] !== 0x0a) parts.push(Buffer.from("\n"));
  parts.push(Buffer.from("\n"));
  return Buffer.concat(parts);
}
