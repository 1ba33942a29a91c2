/**
 * The delivery ledger (docs/contract.md §5 "exactly once, as far as the host can tell"): per message hash,
 * whether the local copy is stored and which recipients are done (relayed, spooled or held).
 * An MTA retry or a double run of `deliver` reads it and does only what is left.
 * Entries are kept 7 days.
 */
import { errnoOf } from "../core/errors.js";
import { readFile, readdir, stat, unlink, utimes, writeFile } from "../core/fsp.js";
import { join } from "node:path";
import { ensureDir, writeFileDurably } from "./durable-file.js";
import { unlessBusy, withDotlock } from "./dotlock.js";
import type { LocalMark } from "./local-store.js";

export interface LedgerEntry {
  created: string;
  localStored: boolean;
  /** Where the local copy was going when last attempted: a rerun after a crash checks there first. */
  localMark?: LocalMark;
  /** Decided once per message (mail/loop.ts): forward as usual, forward as a bounce, or keep it home. */
  loop?: "forward" | "forward-bounce" | "local";
  /** relay = "inline": the recipients relayed, spooled or held already. */
  done: string[];
  /** relay = "queued": the spool entry this message went into (its message is written before this is recorded). */
  spoolId?: string;
}

const KEEP_MS = 7 * 86_400_000;
const PRUNE_EVERY_MS = 3_600_000;

export class Ledger {
  private readonly dir: string;

  constructor(spoolDir: string) {
    this.dir = join(spoolDir, "ledger");
  }

  /** Runs `fn` holding the message's lock; `save` makes each step durable as it happens. */
  async withEntry<T>(hash: string, now: Date, fn: (entry: LedgerEntry, save: () => Promise<void>) => Promise<T>): Promise<T> {
    await ensureDir(this.dir);
    const file = join(this.dir, `${hash}.json`);
    return unlessBusy(
      await withDotlock(
        file,
        async () => {
          const entry = (await this.read(file)) ?? { created: now.toISOString(), localStored: false, done: [] };
          const result = await fn(entry, () => writeFileDurably(file, JSON.stringify(entry) + "\n"));
          await this.pruneNowAndThen(now);
          return result;
        },
        { timeoutMs: 10_000 },
      ),
    );
  }

  private async read(file: string): Promise<LedgerEntry | undefined> {
    try {
      const parsed = JSON.parse(await readFile(file, "utf8")) as Partial<LedgerEntry>;
      if (Date.parse(parsed.created ?? "") < Date.now() - KEEP_MS) return undefined;
      return {
        created: parsed.created!,
        localStored: parsed.localStored === true,
        localMark: parsed.localMark,
        loop: parsed.loop,
        done: Array.isArray(parsed.done) ? parsed.done : [],
        ...(typeof parsed.spoolId === "string" && /^[0-9a-z]+-[0-9a-f]+$/.test(parsed.spoolId) ? { spoolId: parsed.spoolId } : {}),
      };
    } catch (err) {
      if (errnoOf(err) === "ENOENT") return undefined;
      throw err;
    }
  }

  /** Drops entries older than 7 days, at most once an hour (a marker file's mtime says when). */
  private async pruneNowAndThen(now: Date): Promise<void> {
    const marker = join(this.dir, ".pruned");
    try {
      if (now.getTime() - (await stat(marker)).mtimeMs < PRUNE_EVERY_MS) return;
      await utimes(marker, now, now);
    } catch {
      await writeFile(marker, "", { mode: 0o600 }).catch(() => undefined);
    }
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      if (!name.endsWith(".json")) continue;
      const file = join(this.dir, name);
      const info = await stat(file).catch(() => undefined);
      if (info && now.getTime() - info.mtimeMs > KEEP_MS) await unlink(file).catch(() => undefined);
    }
  }
}
