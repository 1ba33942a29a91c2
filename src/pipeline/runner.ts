/**
 * The runner: the one long-lived process that keeps a spool moving — `serve`'s, or the
 * background one an intake starts when no runner is alive (store/runner-lock.ts). It holds the
 * runner lock, notices new entries and drops the moment they land (a directory watch, with a
 * slow poll behind it), runs a pass over the spool each time, re-reads the config for each pass
 * (an admin who fixes [relay] and runs `queue flush` sees it used), and keeps its relay
 * connections pooled across passes.
 *
 * A background runner stays while mail keeps coming (RUNNER_LINGER_MS after the last), and while
 * anything is queued (a retry, a digest's window); then it leaves. Leaving is the delicate part: an intake that
 * saw the lock held did not start a runner, so after letting the lock go the runner looks at the
 * spool once more and, if anything is due, takes the lock back and goes on. No entry committed
 * while the lock was held can be left behind.
 */
import { watch, type FSWatcher } from "node:fs";
import { readdir, stat } from "../core/fsp.js";
import { join } from "node:path";
import type { Config } from "../config/schema.js";
import { asSealpostError } from "../core/errors.js";
import { resolveHostname } from "../core/hostname.js";
import { openEventLog, type EventLog } from "../log/event-log.js";
import { Relay } from "../relay/relay.js";
import { dropNames } from "../store/drop.js";
import { takeRunnerLock } from "../store/runner-lock.js";
import { Spool, type SpoolEntry } from "../store/spool.js";
import { PASS_CONCURRENCY, runPass } from "./pass.js";
import { Unsaved } from "./unsaved.js";

/** A background runner stays this long after the last entry came in, for the rest of a wave. */
export const RUNNER_LINGER_MS = 3_000;
/** The watch is the fast way; this poll catches what a watch can miss (a directory made after it started). */
const POLL_MS = 1_000;
/** A pass over the whole spool at least this often, however busy the runner is with new entries. */
const WHOLE_SPOOL_MS = 5_000;
const MAINTENANCE_MS = 3_600_000;

export interface RunnerOptions {
  /** The config, read afresh for each pass. */
  loadConfig: () => Config;
  /** Infinity: never leave (serve). */
  lingerMs: number;
  /** serve's event log; a background runner opens the config's. */
  log?: EventLog;
  onError?: (err: unknown) => void;
  checkpoint?: (point: string) => void;
}

export class Runner {
  private kicked = true;
  /**
   * A pass over every entry reads each one's meta (a stat, at least): with a backlog of a
   * thousand entries and a pass for every message that came in, that was most of the runner's
   * time. Entries the watch names are passed over alone; the whole spool at the start, when
   * something came due, and at least every WHOLE_SPOOL_MS.
   */
  private wholeSpool = true;
  private readonly fresh = new Set<string>();
  private lastWhole = 0;
  private wake?: () => void;
  private stopping = false;
  private relay?: { key: string; relay: Relay };
  private lastMaintenance = 0;
  private done?: Promise<void>;
  /** What the spool could not be told, kept across this runner's passes (pipeline/unsaved.ts). */
  private readonly unsaved = new Unsaved();

  constructor(private readonly options: RunnerOptions) {}

  /**
   * Runs a pass now, or right after the one under way: over the entries named (committed or
   * saved since the last pass), or over the whole spool when none are named.
   */
  kick(entryId?: string): void {
    if (entryId === undefined) this.wholeSpool = true;
    else this.fresh.add(entryId);
    this.kicked = true;
    this.wake?.();
  }

  /** Runs until stopped (serve) or until nothing is left to do (background); resolves when it has left. */
  start(): Promise<void> {
    this.done ??= this.live();
    return this.done;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.done;
  }

  private async live(): Promise<void> {
    const first = this.options.loadConfig();
    const spoolDir = first.spoolDir;
    const log = this.options.log ?? openEventLog(first.log);
    const watchers = this.watch(spoolDir);
    try {
      for (;;) {
        const release = await this.takeLock(spoolDir);
        if (!release) return; // another runner is there; it sees what we would have
        try {
          await this.passes(spoolDir, log);
        } finally {
          await release();
        }
        // The lock is let go; an intake may have seen it held and started no runner: look again.
        if (this.stopping || !(await somethingDue(spoolDir))) return;
      }
    } finally {
      for (const w of watchers) w.close();
      this.relay?.relay.close();
      if (!this.options.log) await log.close();
    }
  }

  /** serve waits for a background runner to leave and then holds the lock itself; a background runner takes it now or never. */
  private async takeLock(spoolDir: string): Promise<(() => Promise<void>) | undefined> {
    for (;;) {
      const release = await takeRunnerLock(spoolDir);
      if (release || this.options.lingerMs !== Infinity || this.stopping) return release;
      await this.sleep(POLL_MS); // serve still passes while it waits: entry locks keep the two apart
      await this.pass(this.options.loadConfig(), this.options.log!).catch((err: unknown) => this.options.onError?.(err));
    }
  }

  private async passes(spoolDir: string, log: EventLog): Promise<void> {
    let idleSince = Date.now();
    // When the next queued entry is due, read from the entries only when the meta directory
    // changed: a spool with a thousand entries waiting for a relay that is down is not re-read
    // every second.
    let due: { at: number | undefined; stamp: number } | undefined;
    while (!this.stopping) {
      if (this.kicked) {
        this.kicked = false;
        idleSince = Date.now();
        due = undefined;
        const whole = this.wholeSpool || idleSince - this.lastWhole >= WHOLE_SPOOL_MS;
        const only = whole ? undefined : [...this.fresh];
        this.fresh.clear();
        if (whole) {
          this.wholeSpool = false;
          this.lastWhole = idleSince;
        }
        let config: Config;
        try {
          config = this.options.loadConfig();
        } catch (err) {
          this.options.onError?.(err); // a config broken meanwhile: try again on the next poll
          await this.sleep(POLL_MS);
          this.kicked = true;
          continue;
        }
        const failed = await this.pass(config, log, only).then(
          () => false,
          (err: unknown) => {
            this.options.onError?.(err);
            return true;
          },
        );
        if (failed) await this.sleep(POLL_MS); // a spool that fails each pass is not passed over in a tight loop
        continue;
      }
      const stamp = await metaStamp(spoolDir);
      if (due?.stamp !== stamp) due = { at: await nextDue(new Spool(spoolDir), this.unsaved), stamp };
      const now = Date.now();
      if (due.at !== undefined && due.at <= now) {
        this.kick(); // something came due: the whole spool
        continue;
      }
      // Leave only when nothing is queued: an entry waiting for a relay that is down is retried
      // by this runner, not left for the next message to come along.
      if (now >= idleSince + this.options.lingerMs && due.at === undefined) return;
      await this.sleep(Math.min(POLL_MS, Math.max(0, (due.at ?? idleSince + this.options.lingerMs) - now)));
      this.kicked ||= (await dropNames(spoolDir)).length > 0;
    }
  }

  private async pass(config: Config, log: EventLog, only?: string[]): Promise<void> {
    const maintenance = Date.now() - this.lastMaintenance >= MAINTENANCE_MS;
    if (maintenance) this.lastMaintenance = Date.now();
    await runPass(config, {
      relay: this.pooledRelay(config),
      lockWaitMs: 0,
      maintenance,
      log,
      checkpoint: this.options.checkpoint,
      only,
      unsaved: this.unsaved,
    });
  }

  /** One pool for the runner's life, made anew when [relay] changed. */
  private pooledRelay(config: Config): Relay {
    const key = JSON.stringify([config.relay, config.hostname]);
    if (this.relay?.key !== key) {
      this.relay?.relay.close();
      this.relay = { key, relay: new Relay({ relay: config.relay, hostname: resolveHostname(config.hostname) }, PASS_CONCURRENCY) };
    }
    return this.relay.relay;
  }

  private watch(spoolDir: string): FSWatcher[] {
    const watchers: FSWatcher[] = [];
    for (const dir of [join(spoolDir, "meta"), join(spoolDir, "drop")]) {
      try {
        // an entry committed or saved (ID.json), a drop in (NAME.msg); not the locks and temp files beside them
        const w = watch(dir, { persistent: false }, (_event, name) => {
          const entry = name === null ? undefined : /^([0-9a-z]+-[0-9a-f]+)\.json$/.exec(name)?.[1];
          if (entry) this.kick(entry);
          else if (name === null)
            this.kick(); // the watch lost count: look at everything
          else if (/^[0-9a-f]{32}\.msg$/.test(name)) this.kick(""); // a drop: taken in by any pass
        });
        w.on("error", () => undefined);
        watchers.push(w);
      } catch {
        // not there yet: the poll sees what comes
      }
    }
    return watchers;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }
}

/** Changes whenever an entry is committed, saved or removed (each is a rename in meta/). */
async function metaStamp(spoolDir: string): Promise<number> {
  return (await stat(join(spoolDir, "meta")).catch(() => undefined))?.mtimeMs ?? 0;
}

/**
 * When the next queued entry (single or digest) is due, or undefined when none is: by its meta,
 * or later where the runner remembers a backoff the spool could not be told.
 */
async function nextDue(spool: Spool, unsaved?: Unsaved): Promise<number | undefined> {
  const times = (await spool.list().catch(() => [] as SpoolEntry[]))
    .filter((e) => e.state === "queued")
    .map((e) => Math.max(Date.parse(e.nextAttempt), unsaved?.until(e.id) ?? 0));
  return times.length === 0 ? undefined : Math.min(...times);
}

/** Whether a runner is needed right now: an entry due, or a drop waiting. */
async function somethingDue(spoolDir: string): Promise<boolean> {
  const due = await nextDue(new Spool(spoolDir));
  if (due !== undefined && due <= Date.now()) return true;
  return (await readdir(join(spoolDir, "drop")).catch(() => [] as string[])).some((n) => n.endsWith(".msg"));
}

/** For callers that want one line for a failed pass. */
export function passFailure(err: unknown): string {
  return `spool run failed: ${asSealpostError(err).publicMessage}`;
}
