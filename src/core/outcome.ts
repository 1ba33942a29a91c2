/**
 * The one table that maps what happened to a message onto what each entry point answers:
 * an exit status and a stderr line for deliver/sendmail, an SMTP reply for serve.
 */
import { SealpostError } from "./errors.js";

export type Outcome =
  | { kind: "relayed" }
  | { kind: "stored-only" } // no route asked to forward it; the local copy is all there is to do
  | { kind: "duplicate" } // the same message was already handled (MTA retry or double run)
  | { kind: "spooled" } // durably queued for a later relay attempt
  | { kind: "batched" } // durably queued to go out in its route's next digest
  | { kind: "held" } // relay refused it for good; held in the spool with a notice to root
  | { kind: "deferred"; error: SealpostError }; // not ours yet: the sender must keep it

export const EX_OK = 0;
export const EX_TEMPFAIL = 75;

export interface PipeAnswer {
  exitCode: 0 | 75;
  stderr: string; // empty, or exactly one line
}

export function pipeAnswer(outcome: Outcome): PipeAnswer {
  if (outcome.kind !== "deferred") return { exitCode: EX_OK, stderr: "" };
  return { exitCode: EX_TEMPFAIL, stderr: tempfailLine(outcome.error) };
}

/** One line, starting with a 4.x.x code: a deferral must never look permanent to the MTA. */
export function tempfailLine(error: SealpostError): string {
  const status = error.status.startsWith("4.") ? error.status : "4" + error.status.slice(1);
  const text = error.publicMessage.replace(/[\r\n\t]+/g, " ").slice(0, 400);
  return `${status} sealpost: ${text}\n`;
}

export interface SmtpReply {
  code: number;
  text: string;
}

export function smtpReply(outcome: Outcome): SmtpReply {
  if (outcome.kind !== "deferred") return { code: 250, text: "2.0.0 queued" };
  const status = outcome.error.status.startsWith("4.") ? outcome.error.status : "4.3.0";
  return { code: status === "4.3.1" ? 452 : 451, text: `${status} ${outcome.error.publicMessage}` };
}
