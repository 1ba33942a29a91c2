/**
 * One pass over the spool (SPEC §5): every due entry is sealed anew to its keys as they are
 * now and relayed; a temporary failure backs off exponentially, a permanent one — or one that
 * has gone on past spool.max_age — holds the entry with a notice to root. Entries locked by
 * another runner are left to it, so two runners never send the same entry.
 */
import { stat, utimes, writeFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { join } from "node:path";
import type { Config } from "../config/schema.js";
import { fingerprintOf } from "../crypto/key-check.js";
import { routeKeys } from "../crypto/keyring.js";
import { openEventLog, type EventLog } from "../log/event-log.js";
import { allowedKeyIds } from "../relay/egress.js";
import { Relay } from "../relay/relay.js";
import { tryDotlock, withDotlock } from "../store/dotlock.js";
import { prepareDropDir } from "../store/drop.js";
import { Spool, type SpoolEntry } from "../store/spool.js";
import { holdNotice } from "./held.js";
import { SealpostError, asSealpostError } from "./errors.js";
import { resolveHostname } from "./hostname.js";
import { sealAll } from "./prepare.js";
import { readRawMessage } from "./raw-message.js";
import { storePendingCopy } from "./submit.js";
import { ingestDrops } from "./drop-ingest.js";
import { recordFailure, type Pass, type RunReport } from "./queue-pass.js";
import { digestGroups, sendDigest } from "./digest-run.js";
import { mustWait, windowEnd } from "./batch.js";
import { kindOf } from "./kind.js";

/** Entries in flight at once in a pass; serve's pooled relay keeps as many connections. */
export const QUEUE_CONCURRENCY = 8;

export { backoffSeconds, type RunReport } from "./queue-pass.js";

export interface RunOptions {
  force?: boolean; // `queue flush`: due or not
  now?: Date;
  /** How long to wait for an entry another runner holds: 0 leaves it to that runner. */
  lockWaitMs?: number;
  /** A relay to use (serve's pooled one), left open; otherwise one for this pass. */
  relay?: Relay;
  /** Set up drop/ and sweep what killed writers left (default); serve does it now and then, not every pass. */
  maintenance?: boolean;
  /** Where events go; otherwise a log opened from config [log] for this pass. */
  log?: EventLog;
  /** Called after each relay's 250, before the entry is updated: the crash tests' seam. */
  checkpoint?: (point: string) => void;
}

export async function runQueue(config: Config, options: RunOptions = {}): Promise<RunReport> {
  if (options.log) return runQueueLogged(config, options, options.log);
  const log = openEventLog(config.log);
  try {
    return await runQueueLogged(config, options, log);
  } finally {
    await log.close();
  }
}

async function runQueueLogged(config: Config, options: RunOptions, log: EventLog): Promise<RunReport> {
  const now = options.now ?? new Date();
  const spool = new Spool(config.spoolDir);
  if (options.maintenance !== false) {
    await prepareDropDir(config.spoolDir);
    await spool.sweep(now);
  }
  const hostname = resolveHostname(config.hostname);
  const report: RunReport = { relayed: 0, deferred: 0, held: 0 };
  const relay = options.relay ?? new Relay({ relay: config.relay, hostname });
  const pass: Pass = { config, hostname, spool, relay, now, report, force: options.force === true, log, checkpoint: options.checkpoint };
  try {
    // Local users' drops are taken in beside the relaying, never before it: however many there
    // are, and whatever their writers do to them meanwhile, what is due goes out now.
    const ingesting = ingestDrops(config, hostname, now, log).catch((err: unknown) => {
      log.event("deferred", { via: "drop", reason: asSealpostError(err).publicMessage });
      return { taken: 0, setAside: 0 };
    });
    const tried = new Set<string>();
    await relayDue(pass, options, tried);
    if ((await ingesting).taken > 0) await relayDue(pass, options, tried); // what the drops brought, in this same pass
  } finally {
    if (!options.relay) relay.close();
  }
  return report;
}

/** Every due entry not yet `tried` in this pass, a few at a time; then the digests that are due. */
async function relayDue(pass: Pass, options: RunOptions, tried: Set<string>): Promise<void> {
  const { spool, now } = pass;
  const listed = await spool.list();
  const single = (e: SpoolEntry) => e.state === "queued" && !e.batch?.waiting;
  const due = listed.filter((e) => single(e) && !tried.has(e.id) && (options.force || Date.parse(e.nextAttempt) <= now.getTime()));
  for (const e of due) tried.add(e.id);
  // A few entries at a time: each waits mostly on fsync and the relay, not on this process.
  await eachConcurrently(due, QUEUE_CONCURRENCY, (entry) => withDotlock(spool.lockTarget(entry.id), async () => {
    const current = await spool.get(entry.id); // another runner may have finished it meanwhile
    if (current && single(current)) await attempt(pass, current);
  }, options.lockWaitMs ?? 0).catch((err) => {
    if (!(err instanceof SealpostError)) throw err; // locked by another runner: its entry
  }), (entry) => spool.messageSize(entry.id));
  // Digests after the singles. An entry that just went over its route's budget waits its window,
  // so only a flush (due or not) has to look at the spool again to send it along now.
  const groups = digestGroups(pass.force && listed.some((e) => e.batch) ? await spool.list() : listed, now, pass.force);
  await eachConcurrently(groups, QUEUE_CONCURRENCY, (members) => sendDigest(pass, members));
}

/** Messages held in memory at once by a pass: a backlog of large reports must not multiply the 25 MB of one. */
const PASS_BYTES = 32 << 20;

/**
 * `work` on every item, at most `limit` at a time and, when `weigh` says how large each is, at
 * most PASS_BYTES of them at once (one larger item runs alone); the first failure is thrown once
 * all have ended.
 */
async function eachConcurrently<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>,
  weigh?: (item: T) => Promise<number>): Promise<void> {
  let next = 0;
  let held = 0;
  let running = 0;
  let failure: { error: unknown } | undefined;
  const waiting: Array<() => void> = [];
  const admit = async (weight: number) => {
    while (running > 0 && held + weight > PASS_BYTES) await new Promise<void>((resolve) => waiting.push(resolve));
    held += weight;
    running++;
  };
  const leave = (weight: number) => {
    held -= weight;
    running--;
    waiting.splice(0).forEach((wake) => wake());
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length && !failure) {
      const item = items[next++]!;
      const weight = weigh ? await weigh(item).catch(() => 0) : 0;
      await admit(weight);
      try {
        await work(item);
      } catch (error) {
        failure ??= { error };
      } finally {
        leave(weight);
      }
    }
  }));
  if (failure) throw failure.error;
}

async function attempt(pass: Pass, entry: SpoolEntry): Promise<void> {
  const { config, hostname, spool, relay, now, report, log } = pass;
  try {
    if (!entry.localPending && entry.recipients.length === 0) return await spool.remove(entry.id); // kept locally only: done
    const raw = readRawMessage(await spool.message(entry.id));
    if (entry.localPending) await storePendingCopy(config, hostname, spool, entry, raw.bytes, log);
    if (entry.recipients.length === 0) {
      await spool.remove(entry.id);
      return;
    }
    if (entry.batch && await mustWait(entry.batch, config.spoolDir, now)) {
      entry.batch.waiting = true; // over its route's max_per_hour: it goes with the next digest
      entry.nextAttempt = windowEnd(entry.batch, now);
      await spool.save(entry);
      log.event("batched", { id: entry.id, to: entry.recipients.join(","), until: entry.nextAttempt, reason: "max_per_hour" });
      return;
    }
    entry.attempts++;
    const keys = await routeKeys({ to: entry.recipients, keys: entry.keys ?? undefined, alsoEncryptTo: entry.alsoEncryptTo }, config.keysDir, now);
    const envelope = { sender: entry.sender, recipients: [] };
    const kind = entry.kind ?? await kindOf(config, raw, entry.sender, "subject");
    const sealed = await sealAll(config, hostname, raw, envelope, entry.recipients, keys, now,
      { bounce: entry.bounce === true, kind, mayBeSigned: entry.submitter?.trusted !== false });
    const keyIds = allowedKeyIds(keys);
    const fingerprints = keys.map(fingerprintOf).join(",");
    for (const s of sealed) log.event("sealed", { id: entry.id, to: s.recipient, size: s.bytes?.length, keys: fingerprints });
    for (const { recipient, bytes, content } of sealed) {
      const { reply, size } = await relay.send(recipient, bytes ?? content(), keyIds);
      pass.checkpoint?.("after-relay");
      log.event("relayed", { id: entry.id, to: recipient, size, reply, attempt: entry.attempts });
      entry.recipients = entry.recipients.filter((r) => r !== recipient);
      report.relayed++;
      if (entry.recipients.length > 0) await spool.save(entry);
    }
    await spool.remove(entry.id);
  } catch (err) {
    await recordFailure(pass, [entry], asSealpostError(err), entry.id);
  }
}

/**
 * The run `sendmail` starts in the background after each submission: one such runner at a time.
 * A submission touches the kick file; a runner that is busy goes round again when it sees it,
 * so a burst of 1,000 submissions makes a handful of passes, not 1,000 runners.
 */
export async function runQueueInBackground(config: Config): Promise<void> {
  const lock = join(config.spoolDir, "runner");
  const kick = join(config.spoolDir, "runner.kick");
  const kicked = () => stat(kick).then((s) => s.mtimeMs, () => 0);
  await writeFile(kick, "", { mode: 0o600 });
  const log = openEventLog(config.log); // one for all passes: a burst makes several
  try {
    await runWhileKicked(config, lock, kicked, log);
    await lingerForDigests(config, () => runWhileKicked(config, lock, kicked, log));
  } finally {
    await log.close();
  }
}

/** A runner stays for digests due within this long; later ones are left to serve or the queue run timer. */
const LINGER_MAX_MS = 3_600_000;

/**
 * A digest is due when its window ends, which no submission marks: so one background runner at
 * a time (the linger lock) stays until the next one is due, runs a pass, and looks again.
 * Without it, a host with no timer and no serve would keep its digests until the next mail.
 */
async function lingerForDigests(config: Config, pass: () => Promise<void>): Promise<void> {
  const lingerLock = join(config.spoolDir, "runner.linger");
  const release = await tryDotlock(lingerLock);
  if (!release) return; // another runner is waiting for them already
  const spool = new Spool(config.spoolDir);
  try {
    for (;;) {
      let due = await nextDigestDue(spool);
      if (due === undefined || due - Date.now() > LINGER_MAX_MS) return;
      while (due !== undefined && Date.now() < due) {
        await sleep(Math.min(due - Date.now(), 30_000));
        const now = new Date();
        await utimes(lingerLock + ".lock", now, now).catch(() => undefined); // a live holder: never taken for stale
        due = await nextDigestDue(spool); // sent meanwhile by serve or a timer's run, or the spool is gone: nothing to wait for
      }
      if (due === undefined) return;
      await pass();
      await sleep(1_000); // a pass elsewhere may hold the due ones: give it a moment before looking again
    }
  } finally {
    await release();
  }
}

/** When the next waiting digest is due, or undefined when none waits. */
async function nextDigestDue(spool: Spool): Promise<number | undefined> {
  const due = (await spool.list()).filter((e) => e.state === "queued" && e.batch?.waiting).map((e) => Date.parse(e.nextAttempt));
  return due.length === 0 ? undefined : Math.min(...due);
}

async function runWhileKicked(config: Config, lock: string, kicked: () => Promise<number>, log: EventLog): Promise<void> {
  for (;;) {
    let entered = false;
    let lastStart = 0;
    try {
      await withDotlock(lock, async () => {
        entered = true;
        do {
          lastStart = Date.now();
          await runQueue(config, { log });
        } while ((await kicked()) >= lastStart);
      }, 0);
    } catch (err) {
      if (entered || !(err instanceof SealpostError)) throw err;
      return; // busy: the runner holding the lock sees our kick
    }
    if ((await kicked()) < lastStart) return; // nothing came in while the lock was being let go
  }
}

