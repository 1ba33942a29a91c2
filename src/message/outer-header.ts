/** The outer header fields of a sealed message, in order, and nothing else (docs/contract.md §4). */
import { headerLine } from "../mail/header-text.js";
import { LOOP_FIELD } from "../mail/loop.js";
import type { OuterFacts } from "./outer-facts.js";

/** The fields every sealed message shows outside, as [name, value] pairs. */
export function outerFields(facts: OuterFacts, recipient: string): Array<[string, string]> {
  const fields: Array<[string, string]> = [
    ["From", facts.from],
    ["To", recipient],
  ];
  if (facts.subject !== undefined) fields.push(["Subject", facts.subject]);
  fields.push(["Date", facts.date], ["Message-ID", facts.messageId], ["Auto-Submitted", "auto-generated"], [LOOP_FIELD, facts.loop]);
  return fields;
}

export function renderFields(fields: Array<[string, string]>): string {
  return fields.map(([name, value]) => headerLine(name, value)).join("");
}

/** The names a sealed message may carry outside; egress refuses anything else. */
export const OUTER_ALLOWED = new Set([
  "from",
  "to",
  "subject",
  "date",
  "message-id",
  "mime-version",
  "content-type",
  "content-transfer-encoding",
  "auto-submitted",
  "reply-to",
  "sender",
]);
