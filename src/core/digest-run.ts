/**
 * Sending a route's waiting messages as one sealed digest (route.coalesce, max_per_hour).
 * A group is due when its first message's window has ended; then every message waiting in it
 * goes, up to DIGEST_MAX_BYTES (the rest make the next digest). Each message stays a spool entry
 * until the digest's 250, so a crash or a restart loses none; at worst a digest is sent twice.
 */
import { join } from "node:path";
import { classify } from "../classify/classify.js";
import { fingerprintOf } from "../crypto/key-check.js";
import { routeKeys } from "../crypto/keyring.js";
import { buildDigest, type DigestItem } from "../message/digest.js";
import { allowedKeyIds } from "../relay/egress.js";
import { tryDotlock } from "../store/dotlock.js";
import { ensureDir } from "../store/durable-file.js";
import { nextSlotAt, takeSendSlot } from "../store/send-budget.js";
import type { SpoolEntry } from "../store/spool.js";
import { budgetOf } from "./batch.js";
import { asSealpostError } from "./errors.js";
import { sealAll } from "./prepare.js";
import { recordFailure, type Pass } from "./queue-pass.js";
import { readRawMessage } from "./raw-message.js";
import { storePendingCopy } from "./submit.js";

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
  const releaseGroup = await tryDotlock(join(spool.dir, "batch", group));
  if (!releaseGroup) return; // another runner is sending this group's digest
  const releases: Array<() => Promise<void>> = [];
  try {
    const recipients = [...members[0]!.recipients].sort().join(",");
    const locked: SpoolEntry[] = [];
    for (const member of [...members].sort((a, b) => a.created.localeCompare(b.created))) {
      const release = await tryDotlock(spool.lockTarget(member.id));
      if (!release) continue; // being written or worked on: it makes the next digest
      releases.push(release);
      const fresh = await spool.get(member.id);
      if (fresh?.state === "queued" && fresh.batch?.waiting && [...fresh.recipients].sort().join(",") === recipients) locked.push(fresh);
    }
    if (locked.length > 0) await sendLocked(pass, locked);
  } finally {
    for (const release of releases) await release();
    await releaseGroup();
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
  const { config, hostname, spool, relay, now, report, log } = pass;
  const first = chosen[0]!.entry;
  const id = `digest-${first.id}`;
  const entries = chosen.map((c) => c.entry);
  for (const entry of entries) entry.attempts++;
  try {
    const items: DigestItem[] = [];
    for (const { entry, bytes } of chosen) {
      items.push({ bytes, received: new Date(entry.created), classification: await classify(bytes, entry.sender) });
    }
    const recipients = [...first.recipients];
    const raw = readRawMessage(buildDigest(items, { hostname, recipients, now }));
    const keys = await routeKeys({ to: recipients, keys: first.keys ?? undefined, alsoEncryptTo: first.alsoEncryptTo }, config.keysDir, now);
    const mayBeSigned = entries.every((e) => e.submitter?.trusted !== false); // one local user's message in it: unsigned
    const sealed = await sealAll(config, hostname, raw, { sender: "", recipients: [] }, recipients, keys, now, { kind: "digest", count: items.length, mayBeSigned });
    const keyIds = allowedKeyIds(keys);
    for (const s of sealed) log.event("sealed", { id, to: s.recipient, size: s.bytes?.length, keys: keys.map(fingerprintOf).join(","), count: items.length });
    for (const { recipient, bytes, content } of sealed) {
      const { reply, size } = await relay.send(recipient, bytes ?? content(), keyIds);
      pass.checkpoint?.("after-relay");
      log.event("relayed", { id, to: recipient, size, reply, count: items.length });
      for (const entry of entries) {
        entry.recipients = entry.recipients.filter((r) => r !== recipient);
        log.event("relayed", { id: entry.id, to: recipient, digest: id });
        report.relayed++;
        if (entry.recipients.length > 0) await spool.save(entry);
        else await spool.remove(entry.id);
      }
    }
  } catch (err) {
    await recordFailure(pass, entries, asSealpostError(err), id);
  }
}
