/**
 * Shared by every entry point: from raw bytes and an envelope to what sealing needs
 * (header fields, the outer facts), and sealing one message for each external recipient.
 */
import type { PublicKey } from "openpgp";
import type { Config } from "../config/schema.js";
import { loadHostKey } from "../crypto/host-key.js";
import { expiryOf, expiryWarning } from "../crypto/key-expiry.js";
import { noticeExpiringKeys } from "./expiry-notice.js";
import { sealedBytes, sealFor } from "../message/seal.js";
import { outerFacts } from "../message/outer-facts.js";
import { relayIdentity } from "../relay/relay.js";
import type { Envelope } from "../mail/envelope.js";
import { SealpostError } from "../core/errors.js";
import { Reason } from "../core/outcome.js";
import { parseHeader } from "../mail/header.js";
import type { RawMessage } from "../mail/raw-message.js";
import { letOthersIn } from "../core/event-loop.js";

/** From this size on, a message is sealed while it is relayed, never held sealed as a whole. */
export const STREAM_FROM = 1 << 20;

export interface Sealed {
  recipient: string;
  /** The sealed message, for messages under STREAM_FROM: sealed before anything is stored. */
  bytes?: Buffer;
  /** The sealed message as it is made: `bytes` again, or the encryption running as it is read. */
  content: () => AsyncIterable<Buffer> | Iterable<Buffer>;
}

/** What the outer header needs to know about the message beyond its bytes. */
export interface SealOptions {
  bounce?: boolean; // a forwarded bounce: marked so that a bounce of it stays home
  kind?: string; // for message.subject_template
  count?: number; // a digest's number of messages, for message.subject_template
  /**
   * false: never sign, whatever message.sign says. A message a local user submitted is not signed
   * with the host key: the signature vouches for what root and the system sent, never for mail
   * any user could have written (its trace fields inside say who did).
   */
  mayBeSigned?: boolean;
}

export async function sealAll(
  config: Config,
  hostname: string,
  raw: RawMessage,
  envelope: Envelope,
  recipients: readonly string[],
  keys: PublicKey[],
  now: Date,
  options: SealOptions = {},
): Promise<Sealed[]> {
  const fields = parseHeader(raw.header);
  const facts = outerFacts(fields, {
    hostname,
    envelope,
    message: config.message,
    relayIdentity: relayIdentity({ relay: config.relay, hostname }),
    now,
    ...options,
  });
  const sealed: Sealed[] = [];
  if (recipients.length === 0) return sealed;
  const signingKey = config.message.sign && options.mayBeSigned !== false ? await loadHostKey(config.message.hostKey) : undefined;
  const expiries = await Promise.all(keys.map((key) => expiryOf(key, now)));
  const warnings = expiries.filter((e) => e.threshold !== null).map(expiryWarning);
  await noticeExpiringKeys(config, hostname, expiries, now).catch(() => undefined); // a notice must never stop the mail
  for (const recipient of recipients) {
    const input = { raw, fields, facts, format: config.message.format, keys, signingKey, warnings };
    if (raw.bytes.length >= STREAM_FROM) {
      sealed.push({ recipient, content: () => sealingErrors(sealFor(recipient, input)) });
      continue;
    }
    try {
      const bytes = await sealedBytes(recipient, input);
      sealed.push({ recipient, bytes, content: () => [bytes] });
    } catch (err) {
      throw new SealpostError(Reason.sealing, "encryption failed", { cause: err });
    }
  }
  return sealed;
}

/** Sealed bytes after which a streamed message lets the event loop run: serve's other connections wait no longer than that takes. */
const YIELD_EVERY = 64 * 1024;

/**
 * A failure while a streamed message is being sealed is a sealing error, not the relay's. The
 * message is in memory and every stage answers at once, so without a pause the whole seal (about
 * a second for 25 MB) would run as one chain of promises, and serve would answer no one meanwhile.
 */
async function* sealingErrors(pieces: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  try {
    let since = 0;
    for await (const piece of pieces) {
      yield piece;
      since += piece.length;
      if (since >= YIELD_EVERY) {
        since = 0;
        await letOthersIn();
      }
    }
  } catch (err) {
    throw new SealpostError(Reason.sealing, "encryption failed", { cause: err });
  }
}
