/**
 * The spool (docs/contract.md §5): what could not be relayed yet, or was refused for good (held).
 * An entry is msg/<id>.eml (the message as received, 0600) plus meta/<id>.json (its state);
 * the message is written first, so an entry exists exactly when its meta file does.
 */
import { errnoOf } from "../core/errors.js";
import { randomHex } from "../core/random.js";
import { lstat, readFile, readdir, stat, unlink, unlinkNow } from "../core/fsp.js";
import { join } from "node:path";
import { ensureDir, fsyncDir, writeFileDurably } from "./durable-file.js";
import type { LocalMark } from "./local-store.js";

export type SpoolState = "queued" | "held";

/** What a spool entry of a batching route carries (SpoolEntry.batch). */
export interface BatchTag {
  /** The route it came by: entries of one group (and the same recipients) share digests and a budget. */
  group: string;
  windowSeconds: number;
  maxPerHour?: number;
  /** Waiting for a digest; false: a single still to try, if the hour's budget allows. */
  waiting: boolean;
}

export interface SpoolEntry {
  id: string;
  state: SpoolState;
  attempts: number;
  nextAttempt: string;
  lastError: string | null;
  recipients: string[]; // external recipients still to be relayed to
  sender: string; // envelope sender of the original (for the local notice)
  keys: string[] | null; // the route's pinned fingerprints when it had any
  alsoEncryptTo?: string[]; // the route's archive keys
  bounce?: boolean; // a forwarded bounce: sealed with the bounce loop marker (mail/loop.ts)
  localPending?: boolean; // submitted (sendmail, serve): the local copy is still to be made
  localMark?: LocalMark; // where that copy was going, so a runner killed mid-way never makes two
  batch?: BatchTag; // its route coalesces or has max_per_hour: it may wait for a digest
  kind?: string; // its kind, when routing needed it (classify/kinds.ts)
  /** What its events are logged under when that is not the entry's id: deliver's message id (the intake logged it so). */
  logId?: string;
  /** Who submitted it through sendmail (the kernel's uid): an untrusted user's mail is never signed with the host key. */
  submitter?: { uid: number; trusted: boolean };
  created: string;
}

/** A temp file this old was left by a writer that died. */
const ORPHAN_AGE_MS = 3_600_000;
/**
 * A message without its meta file was left by a writer that died before the commit. deliver's
 * ledger may still name it (the MTA's retry then finishes the commit), and MTAs retry for 5 days:
 * it is kept past that.
 */
const UNCOMMITTED_AGE_MS = 8 * 86_400_000;
const SET_ASIDE_AGE_MS = 7 * 86_400_000;

export type NewEntry = Omit<SpoolEntry, "id" | "created" | "attempts"> & { attempts?: number };

/**
 * Meta files as last read, by path: a runner lists the spool for every pass, and with a backlog
 * of hundreds of entries reading each one every time was most of a pass. A stat tells whether a
 * file changed (a save renames a new file into place: a new inode, new times).
 */
const metaCache = new Map<string, { stamp: string; text: string }>();

function forgetAllBut(metaDir: string, present: readonly string[]): void {
  const keep = new Set(present.map((n) => join(metaDir, n)));
  for (const path of metaCache.keys()) if (path.startsWith(metaDir + "/") && !keep.has(path)) metaCache.delete(path);
}

export class Spool {
  private readonly msgDir: string;
  private readonly metaDir: string;

  constructor(readonly dir: string) {
    this.msgDir = join(dir, "msg");
    this.metaDir = join(dir, "meta");
  }

  /** A new entry id: its creation time (sortable) and randomness. */
  newId(now: Date): string {
    return `${now.getTime().toString(36).padStart(9, "0")}-${randomHex(5)}`;
  }

  /** The message of an entry about to be committed, durably; runners do not see it before its meta file. */
  async writeMessage(id: string, bytes: Buffer): Promise<void> {
    await ensureDir(this.msgDir);
    await ensureDir(this.metaDir);
    await writeFileDurably(this.messagePath(id), bytes);
  }

  /**
   * Writes the message, then `beforeCommit` (a submission's local copy), then the meta file: the
   * commit. Runners see an entry only once its meta file is there, so before that nothing can
   * send it; when `beforeCommit` fails, the message file is removed again and nothing is committed.
   */
  async enqueue(bytes: Buffer, fields: NewEntry, now: Date = new Date(), beforeCommit?: () => Promise<void>): Promise<SpoolEntry> {
    const id = this.newId(now);
    const entry: SpoolEntry = { id, created: now.toISOString(), attempts: 0, ...fields };
    await this.writeMessage(id, bytes);
    try {
      await beforeCommit?.();
      await this.save(entry);
    } catch (err) {
      await unlink(this.messagePath(id)).catch(() => undefined);
      throw err;
    }
    return entry;
  }

  /**
   * Where an entry stands: committed (its meta file is there), uncommitted (only its message:
   * its writer stopped before the commit), or gone (relayed and removed: remove() takes the
   * message first, so a message without meta is never a removed entry).
   */
  async presence(id: string): Promise<"committed" | "uncommitted" | "gone"> {
    if (
      await stat(join(this.metaDir, `${id}.json`)).then(
        () => true,
        () => false,
      )
    )
      return "committed";
    return (await stat(this.messagePath(id)).then(
      () => true,
      () => false,
    ))
      ? "uncommitted"
      : "gone";
  }

  async save(entry: SpoolEntry): Promise<void> {
    await writeFileDurably(join(this.metaDir, `${entry.id}.json`), JSON.stringify(entry, null, 1) + "\n");
  }

  async list(): Promise<SpoolEntry[]> {
    let names: string[];
    try {
      names = await readdir(this.metaDir);
    } catch (err) {
      if (errnoOf(err) === "ENOENT") return [];
      throw err;
    }
    const entries: SpoolEntry[] = [];
    const present = names.filter((n) => /^[0-9a-z]+-[0-9a-f]+\.json$/.test(n)).sort();
    for (const name of present) {
      const entry = await this.get(name.slice(0, -5));
      if (entry) entries.push(entry);
    }
    forgetAllBut(this.metaDir, present);
    return entries;
  }

  /** The entry as its meta file has it now (read again only when the file changed: every save is a new file). */
  async get(id: string): Promise<SpoolEntry | undefined> {
    if (!/^[0-9a-z]+-[0-9a-f]+$/.test(id)) return undefined;
    const path = join(this.metaDir, `${id}.json`);
    try {
      const info = await stat(path);
      const stamp = `${info.ino}:${info.mtimeMs}:${info.ctimeMs}:${info.size}`;
      let known = metaCache.get(path);
      if (known?.stamp !== stamp) {
        known = { stamp, text: await readFile(path, "utf8") };
        metaCache.set(path, known);
      }
      return JSON.parse(known.text) as SpoolEntry;
    } catch (err) {
      if (errnoOf(err) === "ENOENT") return undefined;
      throw err;
    }
  }

  messagePath(id: string): string {
    return join(this.msgDir, `${id}.eml`);
  }

  /** The message's size in bytes, without reading it; 0 when it is missing. */
  async messageSize(id: string): Promise<number> {
    return stat(this.messagePath(id)).then(
      (s) => s.size,
      () => 0,
    );
  }

  async message(id: string): Promise<Buffer> {
    return readFile(this.messagePath(id));
  }

  /** The entry lock's path: a runner holds it while it works on the entry. */
  lockTarget(id: string): string {
    return join(this.metaDir, `${id}.json`);
  }

  /**
   * Removes what a writer killed half-way left behind: temp files, and message files whose meta
   * file never came (the entry was never committed, so its sender still has the message).
   * Only files older than an hour: a live writer may be between the two steps right now. Drop
   * files set aside (*.bad, *.quota) are kept a week for root to look at, then removed.
   */
  async sweep(now: Date = new Date()): Promise<string[]> {
    const removed: string[] = [];
    const metaIds = new Set((await readdir(this.metaDir).catch(() => [] as string[])).map((n) => n.replace(/\.json$/, "")));
    const drop = join(this.dir, "drop");
    for (const dir of [this.msgDir, this.metaDir, join(this.dir, "ledger"), drop]) {
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        const uncommitted = dir === this.msgDir && name.endsWith(".eml") && !metaIds.has(name.slice(0, -4));
        const setAside = dir === drop && /\.msg\.(bad|quota)$/.test(name);
        if (!(name.startsWith(".") && name.endsWith(".tmp")) && !uncommitted && !setAside) continue;
        const file = join(dir, name);
        const info = await lstat(file).catch(() => undefined);
        const age = setAside ? SET_ASIDE_AGE_MS : uncommitted ? UNCOMMITTED_AGE_MS : ORPHAN_AGE_MS;
        if (!info || now.getTime() - info.mtimeMs < age) continue;
        await unlink(file).then(
          () => removed.push(file),
          () => undefined,
        );
      }
    }
    return removed;
  }

  /**
   * The message first, then the meta file: a message left without meta is then always one that was
   * never committed. Both at once (unlinkNow): after a relay's 250 this is the record that it went,
   * and the window in which a killed runner would leave it to be sent again is only as long as the
   * wait for it. The directory's fsync, for a power cut, follows.
   */
  async remove(id: string): Promise<void> {
    unlinkNow(this.messagePath(id));
    unlinkNow(join(this.metaDir, `${id}.json`));
    await fsyncDir(this.metaDir);
  }
}
