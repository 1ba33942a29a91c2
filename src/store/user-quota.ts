/**
 * What each local user (uid) submitted through drop/ in the last hour: one small file per uid in
 * spool/quota/. A user past spool.per_user_messages_per_hour or per_user_bytes_per_hour has
 * further submissions refused (drops set aside, serve's answered 451), so no local user can fill
 * the disk through root's local store or bury root's alerts under their own. Counts are taken one
 * at a time within a process (serve's connections, its drop ingestion); a foreground `queue run`
 * beside serve may lose one count in a race, which costs at most a message over the hour's limit.
 * Losing a file only forgets an hour's count.
 */
import { readFile } from "../core/fsp.js";
import { join } from "node:path";
import { ensureDir, writeFileDurably } from "./durable-file.js";

const HOUR_MS = 3_600_000;

export interface Limits {
  messages: number;
  bytes: number;
}

interface Usage {
  /** [time in ms, bytes] of each drop taken in during the last hour. */
  taken: Array<[number, number]>;
  /** When root was last told this user is over the quota: once an hour is enough. */
  noticed?: number;
}

export type QuotaVerdict = { ok: true } | { ok: false; tellRoot: boolean };

export class UserQuota {
  private readonly dir: string;

  constructor(
    spoolDir: string,
    private readonly limits: Limits,
  ) {
    this.dir = join(spoolDir, "quota");
  }

  /** Counts a submission of `bytes` when it fits the user's hour; otherwise says whether root must be told now. */
  take(uid: number, bytes: number, now: Date): Promise<QuotaVerdict> {
    // One count at a time in this process: a user's hundred parallel SMTP connections must not
    // all read the same hour's usage before any writes it.
    const turn = UserQuota.turn.then(() => this.takeNow(uid, bytes, now));
    UserQuota.turn = turn.catch(() => undefined);
    return turn;
  }

  private static turn: Promise<unknown> = Promise.resolve();

  private async takeNow(uid: number, bytes: number, now: Date): Promise<QuotaVerdict> {
    const usage = await this.read(uid, now);
    const count = usage.taken.length;
    const total = usage.taken.reduce((sum, [, b]) => sum + b, 0);
    if (count < this.limits.messages && total + bytes <= this.limits.bytes) {
      usage.taken.push([now.getTime(), bytes]);
      await this.write(uid, usage);
      return { ok: true };
    }
    const tellRoot = usage.noticed === undefined || now.getTime() - usage.noticed >= HOUR_MS;
    if (tellRoot) {
      usage.noticed = now.getTime();
      await this.write(uid, usage);
    }
    return { ok: false, tellRoot };
  }

  private async read(uid: number, now: Date): Promise<Usage> {
    const parsed: unknown = await readFile(this.file(uid), "utf8").then(JSON.parse, () => ({}));
    const u = (typeof parsed === "object" && parsed !== null ? parsed : {}) as Partial<Usage>;
    const recent = (Array.isArray(u.taken) ? u.taken : [])
      .filter((t): t is [number, number] => Array.isArray(t) && typeof t[0] === "number" && typeof t[1] === "number")
      .filter(([t]) => now.getTime() - t < HOUR_MS && t <= now.getTime() + 60_000);
    return { taken: recent, ...(typeof u.noticed === "number" ? { noticed: u.noticed } : {}) };
  }

  private async write(uid: number, usage: Usage): Promise<void> {
    await ensureDir(this.dir);
    await writeFileDurably(this.file(uid), JSON.stringify(usage) + "\n");
  }

  private file(uid: number): string {
    return join(this.dir, `${uid}.json`);
  }
}
