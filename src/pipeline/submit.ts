/**
 * A submitted message (sendmail, serve, a drop file) through the one intake: routed and loop-
 * checked by the spool's owner, then committed (message, local copy, entry) before the submitter
 * is answered. No key check here: sendmail and serve have no MTA behind them to retry, so once
 * the message is stored, a missing key is the spool's to retry or hold (docs/contract.md §6).
 */
import type { Config } from "../config/schema.js";
import type { Envelope } from "../mail/envelope.js";
import { readRawMessage } from "../mail/raw-message.js";
import type { Submitter } from "../mail/trace.js";
import { silentLog, type EventLog } from "../log/event-log.js";
import { commitSubmission, type Committed } from "./commit.js";
import { checkHeaderSize } from "./header-limit.js";
import { entryFields, routeArrival, type Door } from "./intake.js";

export interface Submitted {
  via: Exclude<Door, "deliver" | "lmtp">;
  client?: string;
  submitter?: Submitter;
  log?: EventLog;
}

export async function submit(
  config: Config,
  hostname: string,
  bytes: Buffer,
  envelope: Envelope,
  now: Date,
  { via, client, submitter, log = silentLog }: Submitted,
): Promise<Committed> {
  checkHeaderSize(bytes); // a drop file, or what serve and sendmail prepared: a header over 64 KB is refused
  const arrival = { via, raw: readRawMessage(bytes), envelope, client, submitter };
  const routed = await routeArrival(config, hostname, arrival);
  // No ledger here to hold a bounce slot: our own sealed mail and bounces of it stay local.
  const home = routed.verdict !== "none";
  const fields = entryFields(arrival, routed, routed.route && !home ? routed.route.to : [], now);
  return commitSubmission({ config, hostname, now, log }, arrival, routed, fields);
}
