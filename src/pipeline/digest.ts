/**
 * Sending a route's waiting messages as one sealed digest (route.coalesce, max_per_hour), through
 * the one send step. A group is due when its first message's window has ended; then every
 * message waiting in it goes, up to DIGEST_MAX_BYTES (the rest make the next digest). Each
 * message stays a spool entry until the digest's 250, so a crash or a restart loses none.
 *
 * A digest's 250 concerns many entries, and updating them all takes a while: so the 250 is first
 * recorded in one small file (batch/<digest>.sent, the members it covers), then the members are
 * updated, then the file goes. A runner killed in between leaves the file, and the next pass
 * finishes the members from it instead of sending them again.
 */
import { readFile, readdir, stat, unlink } from "../core/fsp.js";
import { join } from "node:path";
import { classify } from "../classify/classify.js";
import { budgetOf } from "./batch.js";
import { readRawMessage } from "../mail/raw-message.js";
import { storePendingCopy } from "./legacy-copy.js";
import { buildDigest, type DigestItem } from "../message/digest.js";
import { tryDotlock } from "../store/dotlock.js";
import { ensureDir, writeFileDurably } from "../store/durable-file.js";
import { nextSlotAt, takeSendSlot } from "../store/send-budget.js";
import type { Spool, SpoolEntry } from "../store/spool.js";
import type { Pass } from "./pass-context.js";
import { failEntries } from "./policy.js";
import { send, type SendResult } from "./send.js";

/** Originals per digest at most (bytes): a digest is built in memory, and relays cap message size. */
export const DIGEST_MAX_BYTES = 8 << 20;

/** Waiting entries by route group and recipients, only the groups that are due (or all, forced). */
export function digestGroups(entries: readonly SpoolEntry[], now: Date, force: boolean): SpoolEntry[][] {
  const groups = new Map<string, SpoolEntry[]>();
  for (const entry of entries) {
    if (entry.state !== "queued" || !entry.batch?.waiting || entry.recipients.length === 0) continue;
    const key = `${entry.batch.group} ${[...entry.recipients].sort().join(",")}`;
    groups.set(key, [...(groups.get(key) ?? []), entry]);
  }
  return [...groups.values()].filter((members) => force || members.some((e) => Date.parse(e.nextAttempt) <= now.getTime()));
}

export async function sendDigest(pass: Pass, members: readonly SpoolEntry[]): Promise<void> {
  const { spool } = pass;
  const group = members[0]!.batch!.group;
  await ensureDir(join(spool.dir, "batch"));
  const groupLock = await tryDotlock(join(spool.dir, "batch", group));
  if (groupLock.busy) return; // another runner is sending this group's digest
  const releases: Array<() => Promise<void>> = [];
  try {
    await finishSent(spool);
    const recipients = pass.unsaved.stillToGo(members[0]!).sort().join(",");
    const locked: SpoolEntry[] = [];
    for (const member of [...members].sort((a, b) => a.created.localeCompare(b.created))) {
      const lock = await tryDotlock(spool.lockTarget(member.id));
      if (lock.busy) continue; // being written or worked on: it makes the next digest
      releases.push(lock.release);
      const fresh = await spool.get(member.id);
      if (!fresh) continue;
      const toGo = pass.unsaved.stillToGo(fresh); // not those whose 250 came and whose record did not
      if (toGo.length === 0 && fresh.recipients.length > 0) {
        await spool.remove(fresh.id); // every recipient had it: done
        pass.unsaved.forget(fresh.id);
        continue;
      }
      fresh.recipients = toGo;
      if (fresh.state === "queued" && fresh.batch?.waiting && [...fresh.recipients].sort().join(",") === recipients) locked.push(fresh);
    }
    if (locked.length > 0) await sendLocked(pass, locked);
  } finally {
    for (const release of releases) await release();
    await groupLock.release();
  }
}

async function sendLocked(pass: Pass, locked: SpoolEntry[]): Promise<void> {
  const { config, hostname, spool, now, log } = pass;
  const chosen: Array<{ entry: SpoolEntry; bytes: Buffer }> = [];
  let total = 0;
  for (const entry of locked) {
    const full = chosen.length > 0 && total >= DIGEST_MAX_BYTES;
    if (full && !entry.localPending) continue; // the next digest's
    const bytes = readRawMessage(await spool.message(entry.id)).bytes;
    if (entry.localPending) await storePendingCopy(config, hostname, spool, entry, bytes, log); // one local copy per message, first
    if (full || (chosen.length > 0 && total + bytes.length > DIGEST_MAX_BYTES)) continue;
    chosen.push({ entry, bytes });
    total += bytes.length;
  }
  const first = chosen[0]!.entry;
  const budget = budgetOf(first.batch!, config.spoolDir);
  if (budget && !(await takeSendSlot(budget, now, 0))) {
    const at = (await nextSlotAt(budget, now)).toISOString(); // the hour's allowance is spent: wait for the next slot
    for (const { entry } of chosen) {
      entry.nextAttempt = at;
      await spool.save(entry);
    }
    log.event("batched", { id: first.id, count: chosen.length, until: at, reason: "max_per_hour" });
    return;
  }
  await relayDigest(pass, chosen);
}

async function relayDigest(pass: Pass, chosen: Array<{ entry: SpoolEntry; bytes: Buffer }>): Promise<void> {
  const { hostname, now } = pass;
  const first = chosen[0]!.entry;
  const id = `digest-${first.id}`;
  const entries = chosen.map((c) => c.entry);
  for (const entry of entries) entry.attempts++;
  const items: DigestItem[] = [];
  for (const { entry, bytes } of chosen)
    items.push({ bytes, received: new Date(entry.created), classification: await classify(bytes, entry.sender) });
  const recipients = [...first.recipients];
  const mayBeSigned = entries.every((e) => e.submitter?.trusted !== false); // one local user's message in it: unsigned
  const results = await send(
    pass,
    {
      id,
      raw: readRawMessage(buildDigest(items, { hostname, recipients, now })),
      sender: "",
      recipients,
      keys: { keys: first.keys ?? undefined, alsoEncryptTo: first.alsoEncryptTo },
      seal: { kind: "digest", count: items.length, mayBeSigned },
      about: { count: items.length },
    },
    (result) => recordDigestResult(pass, id, entries, result),
  );
  const failed = results.find((r): r is Extract<SendResult, { relayed: false }> => !r.relayed);
  if (failed)
    await failEntries(
      pass,
      entries.filter((e) => e.recipients.length > 0),
      failed.error,
      id,
    );
}

async function recordDigestResult(pass: Pass, id: string, entries: readonly SpoolEntry[], result: SendResult): Promise<void> {
  if (!result.relayed) return;
  const marker = sentMarker(pass.spool, id, result.recipient);
  try {
    await writeFileDurably(marker, JSON.stringify({ recipient: result.recipient, members: entries.map((e) => e.id) }) + "\n");
    for (const entry of entries) await takeOff(pass.spool, entry, result.recipient);
  } catch (err) {
    for (const entry of entries) pass.unsaved.relayedTo(entry.id, result.recipient); // never in another digest of this process
    throw err;
  }
  await unlink(marker).catch(() => undefined);
  for (const entry of entries) pass.log.event("relayed", { id: entry.id, to: result.recipient, digest: id });
  pass.report.relayed += entries.length;
}

async function takeOff(spool: Spool, entry: SpoolEntry, recipient: string): Promise<void> {
  entry.recipients = entry.recipients.filter((r) => r !== recipient);
  if (entry.recipients.length > 0) await spool.save(entry);
  else await spool.remove(entry.id);
}

function sentMarker(spool: Spool, id: string, recipient: string): string {
  return join(spool.dir, "batch", `${id}.${Buffer.from(recipient).toString("hex").slice(0, 64)}.sent`);
}

/** A live runner removes its marker within moments of writing it; one this old was left by a runner that died. */
const LEFT_BEHIND_MS = 60_000;

/** What a runner killed after a digest's 250 left half-done: its members finished, never sent again. */
async function finishSent(spool: Spool): Promise<void> {
  const dir = join(spool.dir, "batch");
  for (const name of (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith(".sent"))) {
    const file = join(dir, name);
    const age = await stat(file).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    if (age < LEFT_BEHIND_MS) continue;
    const sent = await readFile(file, "utf8").then(
      (t) => JSON.parse(t) as { recipient: string; members: string[] },
      () => undefined,
    );
    for (const member of sent?.members ?? []) {
      const entry = await spool.get(member);
      if (entry) await takeOff(spool, entry, sent!.recipient);
    }
    await unlink(file).catch(() => undefined);
  }
}
