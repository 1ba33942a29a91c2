/**
 * The drop directory (spool_dir/drop, mode 1733): how a user who may not write the spool still
 * submits with `sealpost sendmail` (at jobs, user crontabs), as Postfix's maildrop does.
 *
 * Anyone can create a file there; no one but the spool's owner can list it, so a file's random
 * 128-bit name is known only to its writer, and nobody reads another user's mail. A file is one
 * JSON line (the envelope), then the message; it appears under its final name by rename, whole.
 *
 * The spool's owner takes the files in one at a time and trusts nothing in them: who wrote a file
 * is the uid the kernel gives its inode, never what the file says; a symlink, a hard link, an
 * oversized file or a bad envelope is set aside as *.bad, never followed or guessed at; a file
 * that vanishes while it is read (its writer may unlink it) is simply gone.
 */
import { randomHex } from "../core/random.js";
import { constants } from "node:fs";
import { chmod, mkdir, open, readdir, rename, stat, unlink, type FileHandle } from "../core/fsp.js";
import { join } from "node:path";
import { isEnvelopeAddress } from "../mail/address.js";
import { fsyncDir, writeSynced } from "./durable-file.js";
import { errnoOf, whenErrno } from "../core/errors.js";

export interface DropEnvelope {
  sender: string; // "" is the null sender
  recipients: string[];
}

export interface Dropped {
  envelope: DropEnvelope;
  bytes: Buffer;
}

/** Why a drop file was set aside: not a well-formed drop, or its user is over the hourly quota. */
export type SetAside = "bad" | "quota";

const NAME = /^[0-9a-f]{32}\.msg$/;
const MAX_RECIPIENTS = 1000;
const MAX_ENVELOPE_LINE = 64 * 1024;

export function dropDir(spoolDir: string): string {
  return join(spoolDir, "drop");
}

/** By the spool's owner: the spool traversable (0711, nothing listable) and drop/ 1733. Two stats when already so. */
export async function prepareDropDir(spoolDir: string): Promise<void> {
  const modeOf = (dir: string) =>
    stat(dir).then(
      (s) => s.mode & 0o7777,
      () => -1,
    );
  if ((await modeOf(spoolDir)) === 0o711 && (await modeOf(dropDir(spoolDir))) === 0o1733) return;
  await mkdir(spoolDir, { recursive: true, mode: 0o711 });
  await chmod(spoolDir, 0o711);
  await mkdir(dropDir(spoolDir), { recursive: true, mode: 0o1733 });
  await chmod(dropDir(spoolDir), 0o1733);
}

/** By any user: writes one message into drop/, complete or not at all. */
export async function writeDrop(spoolDir: string, envelope: DropEnvelope, bytes: Buffer): Promise<string> {
  const dir = dropDir(spoolDir);
  const name = randomHex(16);
  const tmp = join(dir, `.${name}.tmp`);
  // 0644: the spool's owner must read it; others cannot find it (no read permission on drop/).
  await writeSynced(tmp, Buffer.concat([Buffer.from(JSON.stringify(envelope) + "\n"), bytes]), 0o644);
  try {
    await rename(tmp, join(dir, `${name}.msg`));
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  // Directory fsync needs read permission on drop/, which a submitter has not; the owner's
  // ingest fsyncs the spool itself. On ext4 (data=ordered) the rename is on disk within seconds.
  await fsyncDir(dir).catch(() => undefined);
  return name;
}

/** By the spool's owner: the names of the complete drop files, oldest name order. */
export async function dropNames(spoolDir: string): Promise<string[]> {
  return (await readdir(dropDir(spoolDir)).catch(() => [] as string[])).filter((n) => NAME.test(n)).sort();
}

/**
 * One drop file, opened without following links. Its uid and size come from the opened inode,
 * so the quota can be decided before a byte of it is read.
 */
export class DropFile {
  private constructor(
    readonly name: string,
    private readonly handle: FileHandle,
    readonly uid: number,
    readonly size: number,
    readonly plain: boolean,
  ) {}

  /** Undefined when it is gone already (its writer removed it, or another pass took it); DropRefused for a symlink. */
  static async open(spoolDir: string, name: string): Promise<DropFile | undefined> {
    let handle: FileHandle;
    try {
      // O_NONBLOCK: a FIFO planted under a drop name must not hang the owner's pass at open(2)
      handle = await open(join(dropDir(spoolDir), name), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (err) {
      const code = errnoOf(err);
      if (code === "ENOENT") return undefined;
      if (code === "ELOOP") throw new DropRefused("a symbolic link");
      throw err;
    }
    const info = await handle.stat();
    return new DropFile(name, handle, info.uid, info.size, info.isFile() && info.nlink === 1);
  }

  /**
   * The envelope, and the message with `prefix(envelope)` in front of it, read into one buffer
   * (a 25 MB drop is held once, not read and then copied); throws DropRefused when it is not a
   * well-formed drop of at most `maxBytes`.
   */
  async read(
    maxBytes: number,
    prefix: (envelope: DropEnvelope, crlf: boolean) => Buffer = () => Buffer.alloc(0),
    into: ReadBuffer = new ReadBuffer(),
  ): Promise<Dropped> {
    if (!this.plain) throw new DropRefused("not a plain file (a link or a device)");
    if (this.size > maxBytes + MAX_ENVELOPE_LINE) throw new DropRefused(`larger than the ${maxBytes}-byte limit`);
    const head = Buffer.alloc(Math.min(this.size, MAX_ENVELOPE_LINE));
    const { bytesRead } = await this.handle.read(head, 0, head.length, 0);
    const nl = head.subarray(0, bytesRead).indexOf(0x0a);
    if (nl < 0) throw new DropRefused("no envelope line");
    const envelope = parseEnvelope(head.subarray(0, nl).toString("utf8"));
    const firstLine = head.subarray(nl + 1, bytesRead);
    const eol = firstLine.indexOf(0x0a);
    const before = prefix(envelope, eol > 0 && firstLine[eol - 1] === 0x0d); // in the message's own line ends
    const data = into.take(before.length + this.size - (nl + 1), maxBytes + MAX_ENVELOPE_LINE);
    before.copy(data);
    let got = before.length;
    while (got < data.length) {
      const { bytesRead: n } = await this.handle.read(data, got, data.length - got, nl + 1 + got - before.length);
      if (n === 0) break; // shortened while we read: what is there is all there is
      got += n;
    }
    return { envelope, bytes: data.subarray(0, got) };
  }

  async close(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }
}

export class DropRefused extends Error {}

/**
 * One buffer lent to each large drop of a run in turn. V8 frees a dead Buffer's memory only when
 * outside-heap memory has grown by about 64 MB since its last collection, so a fresh 25 MB buffer
 * for each drop held three or four of them at once (190 MB for 100 drops). The lender must be
 * done with one drop's bytes before it reads the next into the same buffer.
 */
export class ReadBuffer {
  private static readonly LARGE = 1 << 20;
  private large?: Buffer;

  take(size: number, capacity: number): Buffer {
    if (size < ReadBuffer.LARGE) return Buffer.allocUnsafeSlow(size);
    // allocUnsafeSlow touches no page: the capacity costs memory only as far as a drop fills it
    if (!this.large || this.large.length < size) this.large = Buffer.allocUnsafeSlow(Math.max(size, capacity));
    return this.large.subarray(0, size);
  }
}

/** What a submitter wrote, checked as untrusted input: every address one sealpost can carry safely. */
function parseEnvelope(line: string): DropEnvelope {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new DropRefused("envelope is not JSON");
  }
  const e = parsed as Partial<DropEnvelope> | null;
  const sender = e?.sender;
  const recipients = e?.recipients;
  if (typeof sender !== "string" || (sender !== "" && !isEnvelopeAddress(sender))) throw new DropRefused("bad envelope sender");
  if (
    !Array.isArray(recipients) ||
    recipients.length === 0 ||
    recipients.length > MAX_RECIPIENTS ||
    !recipients.every((r) => typeof r === "string" && isEnvelopeAddress(r))
  ) {
    throw new DropRefused("bad envelope recipients");
  }
  return { sender, recipients };
}

/** Gone is fine: its writer may have unlinked it, and it was taken in already. */
export async function removeDrop(spoolDir: string, name: string): Promise<void> {
  await unlink(join(dropDir(spoolDir), name)).catch(whenErrno(undefined, "ENOENT"));
}

/** Renames it NAME.bad or NAME.quota, where the owner's runs no longer look; gone already is fine. */
export async function setAsideDrop(spoolDir: string, name: string, why: SetAside): Promise<void> {
  const file = join(dropDir(spoolDir), name);
  await rename(file, `${file}.${why}`).catch(whenErrno(undefined, "ENOENT"));
}
