/**
 * The one table of what sealpost answers (docs/contract.md §6): every reason it refuses or
 * defers a message, with its enhanced status code (RFC 3463) and the SMTP/LMTP reply code serve
 * gives; and the mapping of what happened to a message onto each door's answer — an exit status
 * and a stderr line for deliver/sendmail, an SMTP reply for serve. No other file spells a status
 * code, a reply code or the exit status 75: they name a row of this table.
 */

interface Row {
  readonly status: string; // the enhanced status code; a 5.x.x one is a refusal for good
  readonly smtp: number; // what serve answers for it
}

const TABLE = {
  internal: { status: "4.3.0", smtp: 451 }, // what we did not foresee
  storage: { status: "4.3.0", smtp: 451 }, // the local store or spool failed: the same "temporary trouble" code, its own text
  storageFull: { status: "4.3.1", smtp: 452 },
  busy: { status: "4.3.2", smtp: 451 }, // a lock held too long by another process
  shuttingDown: { status: "4.3.2", smtp: 421 },
  arrivingAtOnce: { status: "4.3.1", smtp: 452 }, // serve's memory for messages in DATA is spoken for
  config: { status: "4.3.5", smtp: 451 },
  usage: { status: "4.5.0", smtp: 451 }, // bad flags to deliver/sendmail: the MTA retries, root's mail is not bounced
  tooManyRecipients: { status: "4.5.3", smtp: 452 },
  timeout: { status: "4.4.2", smtp: 421 }, // a client past one of serve's deadlines
  relay: { status: "4.4.1", smtp: 451 },
  noKey: { status: "4.7.1", smtp: 451 },
  sealing: { status: "4.7.0", smtp: 451 },
  overQuota: { status: "4.7.0", smtp: 451 }, // a local user past spool.per_user_*_per_hour
  relayRefused: { status: "5.0.0", smtp: 451 }, // the relay refused the message itself: held, never bounced back through a door
  tooBig: { status: "5.3.4", smtp: 552 }, // over max_size or the header limit; the pipe commands still answer 75
  notLocal: { status: "5.7.1", smtp: 550 }, // a recipient outside the local domains: no open relay
  notLoopback: { status: "5.7.1", smtp: 554 },
} as const satisfies Record<string, Row>;

export type Reason = keyof typeof TABLE;

/** The reasons by name, for `new SealpostError(Reason.noKey, …)`. */
export const Reason = Object.fromEntries(Object.keys(TABLE).map((k) => [k, k])) as { readonly [K in Reason]: K };

export function statusOf(reason: Reason): string {
  return TABLE[reason].status;
}

export function isPermanent(reason: Reason): boolean {
  return TABLE[reason].status.startsWith("5.");
}

/** What a deferral must carry to be answered: SealpostError is one (core/errors.ts). */
export interface Deferral {
  readonly reason: Reason;
  readonly publicMessage: string;
  readonly cause?: unknown; // for the log and SEALPOST_DEBUG only, never for the answer
}

export type Outcome =
  | { kind: "relayed" }
  | { kind: "stored-only" } // no route asked to forward it; the local copy is all there is to do
  | { kind: "duplicate" } // the same message was already handled (MTA retry or double run)
  | { kind: "spooled" } // durably queued for a later relay attempt
  | { kind: "batched" } // durably queued to go out in its route's next digest
  | { kind: "held" } // relay refused it for good; held in the spool with a notice to root
  | { kind: "deferred"; error: Deferral }; // not ours yet: the sender must keep it

export const EX_OK = 0;
/** sysexits' EX_TEMPFAIL: Postfix and Exim keep the message and try again later. */
export const EX_TEMPFAIL = 75;

export interface PipeAnswer {
  exitCode: typeof EX_OK | typeof EX_TEMPFAIL;
  stderr: string; // empty, or exactly one line
}

export function pipeAnswer(outcome: Outcome): PipeAnswer {
  if (outcome.kind !== "deferred") return { exitCode: EX_OK, stderr: "" };
  return { exitCode: EX_TEMPFAIL, stderr: tempfailLine(outcome.error) };
}

/**
 * One line, starting with a 4.x.x code: a deferral must never look permanent to the MTA, so a
 * 5.x.x reason is answered as its 4.x.x twin.
 */
export function tempfailLine(error: Deferral): string {
  const status = temporaryTwin(statusOf(error.reason));
  const text = error.publicMessage.replace(/[\r\n\t]+/g, " ").slice(0, 400);
  return `${status} sealpost: ${text}\n`;
}

function temporaryTwin(status: string): string {
  return "4" + status.slice(1);
}

export interface SmtpReply {
  code: number;
  text: string; // starts with the enhanced status code
}

/** serve's reply for a reason: its row's codes and the text; a 4xx reply never carries a 5.x.x code. */
export function smtpRefusal(reason: Reason, text: string): SmtpReply {
  const row: Row = TABLE[reason];
  return { code: row.smtp, text: `${row.smtp < 500 ? temporaryTwin(row.status) : row.status} ${text}` };
}

/** serve's 250 for a message taken: its text says what became of it. */
export function smtpAccepted(text: string): SmtpReply {
  return { code: 250, text: `2.0.0 ${text}` };
}

export function smtpReply(outcome: Outcome): SmtpReply {
  if (outcome.kind !== "deferred") return smtpAccepted("queued");
  return smtpRefusal(outcome.error.reason, outcome.error.publicMessage);
}
