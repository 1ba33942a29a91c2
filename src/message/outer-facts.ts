/**
 * What the sealed message shows outside the encryption (docs/contract.md §4): From and Subject as the
 * original had them (qualified, re-encoded 7-bit), its Date and Message-ID (or new ones).
 */
import { randomBytes } from "node:crypto";
import type { Config } from "../config/schema.js";
import { formatMailbox, parseMailboxes, qualify, type Mailbox } from "../mail/address.js";
import type { Envelope } from "../mail/envelope.js";
import { decodeText, firstSureValue, firstValue, type HeaderField } from "../mail/header.js";
import { encodeUnstructured } from "../mail/header-text.js";
import { rfc5322Date } from "../mail/dates.js";
import { loopMarker } from "../mail/loop.js";

export interface OuterFacts {
  /** Header values, already 7-bit and safe to write. */
  from: string;
  subject?: string;
  date: string;
  messageId: string;
  /** The loop marker's value (mail/loop.ts). */
  loop: string;
  /**
   * User-facing fields the outside hides for confidentiality, with their real values decoded:
   * the Subject under protect_subject. The inner entity shows them in an RFC 9788 legacy display.
   */
  obscured: Array<[string, string]>;
  /** True where the value is new and the inner header must carry it too. */
  synthesized: { from: boolean; date: boolean; messageId: boolean };
}

export interface OuterContext {
  hostname: string;
  envelope: Envelope;
  message: Config["message"];
  relayIdentity: string;
  now: Date;
  /** This message is a bounce being forwarded: marked so that a bounce of it stays home. */
  bounce?: boolean;
  /** Its kind (classify/kinds.ts, or "digest"), for message.subject_template. */
  kind?: string;
  /** How many messages it carries (a digest), for message.subject_template. */
  count?: number;
}

export function outerFacts(fields: readonly HeaderField[], ctx: OuterContext): OuterFacts {
  const boxes = parseMailboxes(firstSureValue(fields, "from") ?? "").map((box) => ({
    ...box,
    address: qualify(box.address, ctx.hostname),
  }));
  const fromMissing = boxes.length === 0;
  if (fromMissing) boxes.push({ name: "", address: ctx.envelope.sender || `MAILER-DAEMON@${ctx.hostname}` });
  const from =
    ctx.message.from === "relay"
      ? formatMailbox({ name: boxes.map(describe).join(", "), address: ctx.relayIdentity })
      : boxes.map(formatMailbox).join(", ");

  const rawSubject = firstSureValue(fields, "subject");
  const subject =
    ctx.message.protectSubject && ctx.message.subjectTemplate !== undefined
      ? templateSubject(ctx.message.subjectTemplate, ctx)
      : rawSubject === undefined
        ? undefined
        : ctx.message.protectSubject
          ? "[...]"
          : encodeUnstructured(decodeText(rawSubject));

  const rawDate = firstSureValue(fields, "date");
  const dateOk = rawDate !== undefined && /^[\x20-\x7e]{1,200}$/.test(rawDate);
  const rawId = firstSureValue(fields, "message-id");
  const idOk = rawId !== undefined && /^<[\x21-\x3b\x3d\x3f-\x7e]{1,250}>$/.test(rawId);
  return {
    from,
    subject,
    date: dateOk ? rawDate : rfc5322Date(ctx.now),
    messageId: idOk ? rawId : `<${ctx.now.getTime()}.${randomBytes(8).toString("hex")}@${ctx.hostname}>`,
    loop: loopMarker(ctx.hostname, ctx.bounce === true),
    // inside the encryption the whole Subject, stray lines and all
    obscured: ctx.message.protectSubject && rawSubject !== undefined ? [["Subject", decodeText(firstValue(fields, "subject")!)]] : [],
    synthesized: { from: fromMissing, date: !dateOk, messageId: !idOk },
  };
}

/** The template's tokens filled in; config/schema.ts lets through only these three, none of them sensitive. */
function templateSubject(template: string, ctx: OuterContext): string {
  const tokens: Record<string, string> = { host: ctx.hostname, kind: ctx.kind ?? "other", count: String(ctx.count ?? 1) };
  return encodeUnstructured(template.replace(/\{(host|kind|count)\}/g, (_, name: string) => tokens[name]!));
}

function describe(box: Mailbox): string {
  return box.name ? `${box.name} (${box.address})` : box.address;
}
