/**
 * One pass over the spool (docs/contract.md §5): every due entry is sealed anew to its keys as they are now
 * and relayed through the one send step; digests whose window has ended go the same way; what
 * fails is the policy's. Local users' drops are taken in beside the relaying, never before it.
 * Entries locked by another runner are left to it, so two runners never send the same entry.
 */
import type { Config } from "../config/schema.js";
import { SealpostError, asSealpostError, errnoOf, whenErrno } from "../core/errors.js";
import { resolveHostname } from "../core/hostname.js";
import { readRawMessage } from "../mail/raw-message.js";
import { ingestDrops } from "./drop-ingest.js";
import { mustWait, windowEnd } from "./batch.js";
import { kindOf } from "./kind.js";
import { storePendingCopy } from "./legacy-copy.js";
import { openEventLog, type EventLog } from "../log/event-log.js";
import { Relay } from "../relay/relay.js";
import { withDotlock, type DotlockTiming } from "../store/dotlock.js";
import { prepareDropDir } from "../store/drop.js";
import { Spool, type SpoolEntry } from "../store/spool.js";
import { eachConcurrently } from "./concurrency.js";
import { digestGroups, sendDigest } from "./digest.js";
import type { Pass } from "./pass-context.js";
import { failEntries, settleEntry, type RunReport } from "./policy.js";
import { Turns } from "./turns.js";
import { Unsaved } from "./unsaved.js";
import { send, type SendResult } from "./send.js";

/**
 * Entries in hand at once in a pass (read, locked, sealed); they are relayed one at a time
 * (pipeline/turns.ts). A runner's pooled relay may keep as many connections, mostly using one.
 */
export const PASS_CONCURRENCY = 8;

export interface PassOptions {
  force?: boolean; // `queue flush`: due or not
  now?: Date;
  /** How long to wait for an entry another runner holds: 0 leaves it to that runner. */
  lockWaitMs?: number;
  /** A relay to use (a runner's pooled one), left open; otherwise one for this pass. */
  relay?: Relay;
  /** Set up drop/ and sweep what killed writers left (default); a long-lived runner does it now and then. */
  maintenance?: boolean;
  /** Where events go; otherwise a log opened from config [log] for this pass. */
  log?: EventLog;
  /** The crash tests' seam: called after each relay's 250, before it is recorded. */
  checkpoint?: (point: string) => void;
  /** Only these entries (a runner's newly committed ones), not the whole spool; drops are taken in all the same. */
  only?: readonly string[];
  /**
   * Tests only: the entry locks' stale interval (and so their heartbeat), shortened so that a
   * relay slower than it takes seconds, not minutes. Unset everywhere else: the dot-lock's own.
   */
  lockTiming?: DotlockTiming;
  /** A runner's memory across its passes of what the spool could not be told; a pass of its own by default. */
  unsaved?: Unsaved;
}

export async function runPass(config: Config, options: PassOptions = {}): Promise<RunReport> {
  if (options.log) return passLogged(config, options, options.log);
  const log = openEventLog(config.log);
  try {
    return await passLogged(config, options, log);
  } finally {
    await log.close();
  }
}

async function passLogged(config: Config, options: PassOptions, log: EventLog): Promise<RunReport> {
  const now = options.now ?? new Date();
  const spool = new Spool(config.spoolDir);
  if (options.maintenance !== false) {
    await prepareDropDir(config.spoolDir);
    await spool.sweep(now);
  }
  const hostname = resolveHostname(config.hostname);
  const report: RunReport = { relayed: 0, deferred: 0, held: 0 };
  const relay = options.relay ?? new Relay({ relay: config.relay, hostname });
  const pass: Pass = {
    config,
    hostname,
    spool,
    relay,
    now,
    report,
    force: options.force === true,
    log,
    checkpoint: options.checkpoint,
    turns: new Turns(),
    unsaved: options.unsaved ?? new Unsaved(),
    faults: [],
  };
  try {
    // However many drops wait, and whatever their writers do to them meanwhile, what is due goes out now.
    const ingesting = ingestDrops(config, hostname, now, log).catch((err: unknown) => {
      log.event("deferred", { via: "drop", reason: asSealpostError(err).publicMessage });
      return { taken: 0, setAside: 0 };
    });
    const tried = new Set<string>();
    await relayDue(pass, options, tried);
    if ((await ingesting).taken > 0) await relayDue(pass, { ...options, only: undefined }, tried); // what the drops brought, in this same pass
    if (pass.faults.length > 0) throw pass.faults[0]; // the other entries went on; the caller still hears of it
  } finally {
    if (!options.relay) relay.close();
  }
  return report;
}

/** Every due entry not yet `tried` in this pass, a few at a time; then the digests that are due. */
async function relayDue(pass: Pass, options: PassOptions, tried: Set<string>): Promise<void> {
  const { spool, now } = pass;
  const listed = options.only
    ? (await Promise.all(options.only.filter(Boolean).map((id) => spool.get(id)))).filter((e): e is SpoolEntry => e !== undefined)
    : await spool.list();
  const single = (e: SpoolEntry) => e.state === "queued" && !e.batch?.waiting;
  const due = listed.filter(
    (e) =>
      single(e) &&
      !tried.has(e.id) &&
      (pass.force || Date.parse(e.nextAttempt) <= now.getTime()) &&
      !pass.unsaved.waiting(e.id, now.getTime()),
  );
  for (const e of due) tried.add(e.id);
  // A busy entry is locked by another runner: its entry, left to it.
  await eachConcurrently(
    due,
    PASS_CONCURRENCY,
    async (entry) => {
      try {
        await withDotlock(
          spool.lockTarget(entry.id),
          async () => {
            const current = await spool.get(entry.id); // another runner may have finished it meanwhile
            if (current && single(current)) await attempt(pass, current).catch((err: unknown) => failedBeforeRelay(pass, entry.id, err));
          },
          { ...options.lockTiming, timeoutMs: options.lockWaitMs ?? 0 },
        );
      } catch (err) {
        unsavedFailure(pass, entry, err);
      }
    },
    (entry) => spool.messageSize(entry.id),
  );
  // An entry that just went over its route's budget waits its window, so only a flush (due or
  // not) has to look at the spool again to send it along now.
  // A digest is made from all its route's waiting entries: never from a few named ones.
  const forDigests = options.only
    ? listed.some((e) => e.batch)
      ? await spool.list()
      : []
    : pass.force && listed.some((e) => e.batch)
      ? await spool.list()
      : listed;
  const groups = digestGroups(
    forDigests.filter((e) => !pass.unsaved.waiting(e.id, now.getTime())),
    now,
    pass.force,
  );
  await eachConcurrently(groups, PASS_CONCURRENCY, async (group) => {
    try {
      await sendDigest(pass, group);
    } catch (err) {
      for (const member of group) unsavedFailure(pass, member, err);
    }
  });
}

async function attempt(pass: Pass, entry: SpoolEntry): Promise<void> {
  const { config, hostname, spool, now, log } = pass;
  entry.recipients = pass.unsaved.stillToGo(entry); // not those whose 250 came and whose record did not
  if (!entry.localPending && entry.recipients.length === 0) return removeEntry(pass, entry.id); // kept locally only, or all relayed: done
  // the relay found down earlier in this pass (SendContext.relayDown): deferred unread and unsealed
  if (pass.relayDown && !entry.localPending && !entry.batch) {
    entry.attempts++; // it met the relay as it is: down
    return failEntries(pass, [entry], pass.relayDown, entry.logId ?? entry.id);
  }
  const bytes = await spool.message(entry.id).catch(whenErrno(undefined, "ENOENT")); // removed half-way (the message goes first): it was sent;
  if (!bytes) return removeEntry(pass, entry.id);
  const raw = readRawMessage(bytes);
  if (entry.localPending) await storePendingCopy(config, hostname, spool, entry, raw.bytes, log); // an entry of an older version
  if (entry.recipients.length === 0) return removeEntry(pass, entry.id);
  if (entry.batch && (await mustWait(entry.batch, config.spoolDir, now))) {
    entry.batch.waiting = true; // over its route's max_per_hour: it goes with the next digest
    entry.nextAttempt = windowEnd(entry.batch, now);
    await spool.save(entry);
    log.event("batched", { id: entry.logId ?? entry.id, to: entry.recipients.join(","), until: entry.nextAttempt, reason: "max_per_hour" });
    return;
  }
  entry.attempts++;
  const kind = entry.kind ?? (await kindOf(config, raw, entry.sender, "subject"));
  const results = await send(
    pass,
    {
      id: entry.logId ?? entry.id,
      raw,
      sender: entry.sender,
      recipients: entry.recipients,
      keys: { keys: entry.keys ?? undefined, alsoEncryptTo: entry.alsoEncryptTo },
      seal: { bounce: entry.bounce === true, kind, mayBeSigned: entry.submitter?.trusted !== false },
      about: { attempt: entry.attempts },
    },
    (result) => recordResult(pass, entry, result),
  );
  await settleEntry(pass, entry, raw.bytes, results);
}

/**
 * An attempt that threw instead of giving results: it failed here on the host before any relay
 * (an older version's entry whose local copy cannot be made, a route's hourly budget locked too
 * long): only what comes before `send` throws one (send never throws), so no 250 of this attempt
 * was recorded. The entry backs off from what was saved of it and the log says why; left as it
 * was, it would be due again at once and a runner would try it pass after pass. It is never held
 * for this: the hold notice speaks of a relay, and the fix (space, permissions) needs no `queue
 * release`. What cannot be saved goes on to unsavedFailure.
 */
async function failedBeforeRelay(pass: Pass, id: string, err: unknown): Promise<void> {
  if (!(err instanceof SealpostError)) throw err;
  const saved = await pass.spool.get(id).catch(() => {
    throw err; // not even readable: unsavedFailure says what the attempt met
  });
  if (!saved) return; // finished after all
  saved.attempts++;
  await failEntries(pass, [saved], err, saved.logId ?? saved.id, { mayHold: false }).catch(() => {
    throw err;
  });
}

/**
 * One entry's failure that the spool could not be told (its lock, its record or its backoff not
 * written: a full, read-only or failing disk under the spool). It costs only that entry: the
 * others go on, and their relaying may be what frees the space. The entry waits its first
 * backoff in this process's memory (pipeline/unsaved.ts), so no pass tries it again at once.
 */
function unsavedFailure(pass: Pass, entry: SpoolEntry, err: unknown): void {
  const error = asSealpostError(err);
  pass.unsaved.holdOff(entry.id, pass.now.getTime() + pass.config.spool.retryMinSeconds * 1000);
  pass.report.deferred++;
  pass.log.event("deferred", {
    id: entry.logId ?? entry.id,
    to: pass.unsaved.stillToGo(entry).join(","),
    status: error.status,
    reason: error.publicMessage,
  });
  // neither the disk nor sealpost's own refusal: a fault in the code, which the runner must still see
  if (!(err instanceof SealpostError) && errnoOf(err) === undefined) pass.faults.push(err);
}

/** A 250 taken off the entry at once and durably; failures wait for the policy, once all recipients have been tried. */
async function recordResult(pass: Pass, entry: SpoolEntry, result: SendResult): Promise<void> {
  if (!result.relayed) return;
  entry.recipients = entry.recipients.filter((r) => r !== result.recipient);
  pass.report.relayed++;
  try {
    if (entry.recipients.length > 0) await pass.spool.save(entry);
    else await pass.spool.remove(entry.id);
    pass.unsaved.forget(entry.id);
  } catch (err) {
    pass.unsaved.relayedTo(entry.id, result.recipient); // never sent again by this process
    throw err;
  }
}

async function removeEntry(pass: Pass, id: string): Promise<void> {
  await pass.spool.remove(id);
  pass.unsaved.forget(id);
}
