/**
 * `sealpost test [--to ADDR]`: a sealed test message through the whole path — local copy,
 * the route's keys (or ADDR's), sealing, the egress check, the relay — reported with its id.
 */
import { randomBytes } from "node:crypto";
import type { Config, RouteConfig } from "../config/schema.js";
import { rfc5322Date } from "../mail/dates.js";
import { headerLine } from "../mail/header-text.js";
import { resolveHostname } from "../core/hostname.js";
import { sealAll } from "../pipeline/seal.js";
import { readRawMessage } from "../mail/raw-message.js";
import { selectRoute } from "../pipeline/routing.js";
import { routeKeys } from "../crypto/keyring.js";
import { allowedKeyIds } from "../relay/egress.js";
import { Relay } from "../relay/relay.js";
import { storeLocally } from "../store/local-store.js";
import { SealpostError } from "../core/errors.js";
import { Reason } from "../core/outcome.js";

export interface TestSent {
  messageId: string;
  replies: Array<{ recipient: string; reply: string }>;
}

export async function sendTestMessage(config: Config, to?: string, now = new Date()): Promise<TestSent> {
  const hostname = resolveHostname(config.hostname);
  const root = `root@${hostname}`;
  const route: RouteConfig | undefined = to ? { to: [to] } : selectRoute(config.routes, [root]);
  if (!route) throw new SealpostError(Reason.config, `no route takes mail for ${root}; give --to ADDRESS`);
  const messageId = `<test.${now.getTime()}.${randomBytes(6).toString("hex")}@${hostname}>`;
  const text =
    headerLine("From", `sealpost <sealpost@${hostname}>`) +
    headerLine("To", root) +
    headerLine("Subject", `sealpost test from ${hostname}`) +
    headerLine("Date", rfc5322Date(now)) +
    headerLine("Message-ID", messageId) +
    headerLine("MIME-Version", "1.0") +
    headerLine("Content-Type", "text/plain; charset=us-ascii") +
    "\r\n" +
    `This is a test message from sealpost on ${hostname}, sent ${now.toISOString()}.\r\n` +
    "If you can read it, the whole path works: local copy, your key, sealing and the relay.\r\n";
  const raw = readRawMessage(Buffer.from(text.replace(/\r\n/g, "\n"), "latin1"));
  const envelope = { sender: `sealpost@${hostname}`, recipients: [root] };
  const keys = await routeKeys(route, config.keysDir, now);
  const sealed = await sealAll(config, hostname, raw, envelope, route.to, keys, now);
  await storeLocally(config.local, raw.bytes, envelope.sender, hostname);
  const relay = new Relay({ relay: config.relay, hostname });
  try {
    const replies = [];
    for (const { recipient, bytes, content } of sealed)
      replies.push({ recipient, reply: (await relay.send(recipient, bytes ?? content(), allowedKeyIds(keys))).reply });
    return { messageId, replies };
  } finally {
    relay.close();
  }
}
