/**
 * Taking local users' submissions (spool_dir/drop) into the spool, by the spool's owner. Every
 * file in drop/ was written by someone who may be hostile, so:
 *   - one ingestion at a time (a lock), so a `queue run` beside `serve` never stores a drop twice;
 *   - one file at a time, read only once its size is known to fit: memory stays at about one
 *     message however many files wait, and a file that vanishes meanwhile is simply gone;
 *   - one bad file costs only itself (set aside as *.bad), never the pass, never another's mail;
 *   - each uid gets an hourly quota; past it its files are set aside (*.quota) and root is told;
 *   - the submitter is the uid the kernel gives the file, shown in trace fields on top of it.
 */
import { stat } from "../core/fsp.js";
import { join } from "node:path";
import type { Config } from "../config/schema.js";
import { silentLog, type EventLog } from "../log/event-log.js";
import { tryDotlock } from "../store/dotlock.js";
import { DropFile, DropRefused, ReadBuffer, dropNames, removeDrop, setAsideDrop } from "../store/drop.js";
import { UserQuota } from "../store/user-quota.js";
import { localSubmitter, withinQuota } from "./local-user.js";
import { SealpostError } from "../core/errors.js";
import { submit } from "./submit.js";
import { fieldLines, traceFields } from "../mail/trace.js";

export interface IngestReport {
  taken: number;
  setAside: number;
}

export async function ingestDrops(config: Config, hostname: string, now: Date, log: EventLog = silentLog): Promise<IngestReport> {
  const report: IngestReport = { taken: 0, setAside: 0 };
  const lock = join(config.spoolDir, "drop");
  if ((await dropNames(config.spoolDir)).length === 0) return report; // the common case: no lock to take for nothing
  const held = await tryDotlock(lock).catch(() => undefined);
  if (!held || held.busy) return report; // another runner is taking them in; or no spool yet
  try {
    const owner = (await stat(config.spoolDir)).uid;
    const quota = new UserQuota(config.spoolDir, {
      messages: config.spool.perUserMessagesPerHour,
      bytes: config.spool.perUserBytesPerHour,
    });
    const buffer = new ReadBuffer(); // one drop at a time: each is committed before the next is read
    for (const name of await dropNames(config.spoolDir)) {
      await ingestOne(config, hostname, now, log, { name, owner, quota, report, buffer });
    }
  } finally {
    await held.release();
  }
  return report;
}

interface One {
  name: string;
  owner: number;
  quota: UserQuota;
  report: IngestReport;
  buffer: ReadBuffer;
}

async function ingestOne(
  config: Config,
  hostname: string,
  now: Date,
  log: EventLog,
  { name, owner, quota, report, buffer }: One,
): Promise<void> {
  const spoolDir = config.spoolDir;
  const refuse = async (why: "bad" | "quota", reason: string, uid?: number) => {
    await setAsideDrop(spoolDir, name, why);
    report.setAside++;
    log.event("refused", { id: name.slice(0, 12), via: "drop", uid, reason });
  };
  let drop: DropFile | undefined;
  try {
    drop = await DropFile.open(spoolDir, name);
    if (!drop) return; // its writer took it back, or it was taken in already
    const submitter = localSubmitter(drop.uid, owner);
    if (!(await withinQuota(config, hostname, quota, submitter, drop.size, now))) {
      await refuse("quota", "over the hourly quota of its user", drop.uid);
      return;
    }
    // The trace fields go on top as the file is read: a drop file's bytes are held once.
    const { envelope, bytes } = await drop.read(
      config.serve.maxSize,
      (e, crlf) => fieldLines(traceFields(submitter, e.sender, hostname, now), crlf),
      buffer,
    );
    await submit(config, hostname, bytes, envelope, now, { via: "drop", submitter, log });
    await removeDrop(spoolDir, name);
    report.taken++;
  } catch (err) {
    if (err instanceof DropRefused) await refuse("bad", err.message, drop?.uid);
    // refused for good (a header over the limit): set aside, or it would be tried again every pass
    else if (err instanceof SealpostError && err.permanence === "permanent") await refuse("bad", err.publicMessage, drop?.uid);
    // The store or the spool failed, not the file: it stays for the next pass.
    else log.event("deferred", { id: name.slice(0, 12), via: "drop", reason: err instanceof Error ? err.message : String(err) });
  } finally {
    await drop?.close();
  }
}
