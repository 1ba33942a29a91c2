/**
 * What kind of system mail a message is (kinds.ts), from its decoded content. The rules run
 * in order, most specific sender first: a cron job's output that quotes auth.log is cron, a
 * logwatch report full of sshd failures is logwatch, a bounce is a bounce whatever it quotes.
 */
import { decodeMessage, type Decoded } from "./decoded.js";
import { fail2ban } from "./fail2ban.js";
import { login, su, sudo } from "./login.js";
import type { Classification } from "./kinds.js";
import { readRawMessage } from "../mail/raw-message.js";
import { atJob, bounce, cron, disk, logwatch, raid, updates } from "./system.js";

type Rule = (m: Decoded, envelopeSender: string | undefined) => Classification | undefined;

const RULES: readonly Rule[] = [bounce, fail2ban, cron, atJob, logwatch, raid, disk, updates, sudo, su, login];

/**
 * `bytes`: the message without the MTA's framing (RawMessage.bytes). `envelopeSender`: "" for
 * the null sender when known (a DSN), undefined when not.
 */
export async function classify(bytes: Buffer, envelopeSender?: string): Promise<Classification> {
  let decoded: Decoded;
  try {
    decoded = await decodeMessage(bytes);
  } catch {
    return { kind: "other", fields: {} }; // too deeply nested or too many headers to read: still mail
  }
  for (const rule of RULES) {
    const hit = rule(decoded, envelopeSender);
    if (hit) return hit;
  }
  return { kind: "other", fields: {} };
}

/** A message as read from a file or a pipe: an mbox From_ line says who the envelope sender was. */
export async function classifyRaw(input: Buffer): Promise<Classification> {
  const raw = readRawMessage(input);
  const sender = raw.fromLine === undefined ? undefined : /^From (\S+)/.exec(raw.fromLine)?.[1];
  return classify(raw.bytes, sender === "MAILER-DAEMON" || sender === "<>" ? "" : sender);
}
