/**
 * A message handed to `sealpost sendmail`, made into what a submission MTA would have made of it
 * (sendmail(8), Postfix's cleanup): cut at a lone "." unless -i, recipients from the header with
 * -t (Bcc removed), From, Date and Message-ID added when missing, every address qualified.
 * The bytes the caller wrote are otherwise kept as they are.
 *
 * Bounded for hostile input: a header over HEADER_MAX is refused; qualification
 * rewrites at most QUALIFIED_FIELDS fields and never makes the message outgrow max_size or its
 * header outgrow HEADER_MAX (a field it cannot qualify within that stays as written).
 */
import { randomHex } from "../core/random.js";
import { MAILBOX_VALUE_LIMIT, formatMailbox, isEnvelopeAddress, parseMailboxes, qualify } from "../mail/address.js";
import { rfc5322Date } from "../mail/dates.js";
import type { Envelope } from "../mail/envelope.js";
import { SealpostError } from "../core/errors.js";
import { Reason } from "../core/outcome.js";
import { firstValue, parseHeader, type HeaderField } from "../mail/header.js";
import { HEADER_MAX, checkHeaderSize, headerTooBig } from "./header-limit.js";
import { headerLine } from "../mail/header-text.js";
import { splitHeaderBody } from "../mail/raw-message.js";
import type { SendmailArgs } from "../mail/sendmail-args.js";

export interface Submitter {
  user: string; // the invoking user's login name
  hostname: string;
}

export interface Submission {
  bytes: Buffer;
  envelope: Envelope;
}

export interface SubmissionLimits {
  /** The most the message may be once prepared (serve's max_size); unbounded when not given. */
  maxSize?: number;
}

/** A message has one From, To, Cc...; 10,000 "To: a" fields would cost 300 ms of parsing and folding. */
const QUALIFIED_FIELDS = 32;

export function prepareSubmission(input: Buffer, args: SendmailArgs, who: Submitter, now: Date, limits: SubmissionLimits = {}): Submission {
  const text = args.dotEndsMessage ? cutAtLoneDot(input) : input;
  checkHeaderSize(text);
  const { header, body } = splitHeaderBody(text);
  const fields = parseHeader(header);

  const sender = args.sender === undefined ? `${who.user}@${who.hostname}` : envelopeAddress(args.sender, who.hostname);
  const listed = args.extractRecipients
    ? fields.filter((f) => ["to", "cc", "bcc"].includes(f.lname)).flatMap((f) => parseMailboxes(f.value).map((b) => b.address))
    : [];
  const recipients = unique(
    [...args.recipients, ...listed].map((a) => qualify(a.replace(/^<|>$/g, ""), who.hostname)).filter((a) => a !== ""),
  );
  if (recipients.length === 0) throw new SealpostError(Reason.usage, "no recipients: give addresses, or -t with To/Cc/Bcc");
  // What goes into the envelope goes into mbox From_ lines, log lines and SMTP commands.
  const bad = [sender, ...recipients].find((a) => a !== "" && !isEnvelopeAddress(a));
  if (bad !== undefined) throw new SealpostError(Reason.usage, "an envelope address with spaces, quotes or control characters");

  const nl = /\r\n/.test(header.subarray(0, 1000).toString("latin1")) ? "\r\n" : "\n";
  const added: string[] = [];
  if (firstValue(fields, "from") === undefined) {
    added.push(headerLine("From", formatMailbox({ name: args.fullName ?? "", address: sender || `MAILER-DAEMON@${who.hostname}` })));
  }
  if (firstValue(fields, "date") === undefined) added.push(headerLine("Date", rfc5322Date(now)));
  if (firstValue(fields, "message-id") === undefined) {
    added.push(headerLine("Message-ID", `<${now.getTime()}.${randomHex(8)}@${who.hostname}>`));
  }
  const addedBytes = Buffer.from(added.join("").replace(/\r\n/g, nl), "latin1");
  const between = text.subarray(header.length, text.length - body.length);
  const separator = between.length > 0 ? between : Buffer.from(nl); // a header without its blank line gets one
  const sizeRoom = (limits.maxSize ?? Infinity) - (text.length - between.length + separator.length + addedBytes.length);
  const headerRoom = HEADER_MAX - (addedBytes.length + header.length);
  if (sizeRoom < 0) throw tooBig(limits.maxSize!);
  if (headerRoom < 0) throw headerTooBig();
  let room = Math.min(sizeRoom, headerRoom);
  let qualifiable = QUALIFIED_FIELDS;
  const kept = rewriteFields(header, fields, (f) => {
    if (f.lname === "bcc") return args.extractRecipients ? null : undefined;
    // A field whose addresses cannot all be read is kept as written: rewriting it would drop the rest.
    if (!ADDRESS_FIELDS.has(f.lname) || f.value.length > MAILBOX_VALUE_LIMIT || qualifiable === 0) return undefined;
    qualifiable--;
    const qualified = qualifiedField(f, who.hostname, nl);
    if (!qualified || qualified.length - f.raw.length > room) return undefined; // qualified, it would not fit
    room -= qualified.length - f.raw.length;
    return qualified;
  });
  const bytes = Buffer.concat([addedBytes, kept, separator, body]);
  return { bytes, envelope: { sender, recipients } };
}

function tooBig(maxSize: number): SealpostError {
  return new SealpostError(Reason.tooBig, `message exceeds the maximum size of ${maxSize} bytes`);
}

function envelopeAddress(value: string, hostname: string): string {
  const bare = value.trim().replace(/^<(.*)>$/, "$1");
  return bare === "" ? "" : qualify(parseMailboxes(bare)[0]?.address ?? bare, hostname);
}

/** Without -i, a line holding only "." ends the message (what follows is not part of it). */
function cutAtLoneDot(input: Buffer): Buffer {
  const match = /(^|\n)\.\r?(\n|$)/.exec(input.toString("latin1"));
  return match ? input.subarray(0, match.index + match[1]!.length) : input;
}

const ADDRESS_FIELDS = new Set(["from", "to", "cc", "bcc", "reply-to", "sender"]);

/** The field again with every bare local part qualified ("<root>" -> "<root@host>"), or undefined when it has none. */
function qualifiedField(field: HeaderField, hostname: string, nl: string): Buffer | undefined {
  const boxes = parseMailboxes(field.value);
  if (!boxes.some((b) => !b.address.includes("@"))) return undefined;
  const value = boxes.map((b) => formatMailbox({ ...b, address: qualify(b.address, hostname) })).join(", ");
  return Buffer.from(headerLine(field.name, value).replace(/\r\n/g, nl), "latin1");
}

/** The header with fields replaced (a Buffer), removed (null) or kept as they are (undefined). */
function rewriteFields(header: Buffer, fields: HeaderField[], change: (f: HeaderField) => Buffer | null | undefined): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (const f of fields) {
    const replacement = change(f);
    if (replacement === undefined) continue;
    const start = f.raw.byteOffset - header.byteOffset;
    parts.push(header.subarray(at, start));
    if (replacement) parts.push(replacement);
    at = start + f.raw.length;
  }
  parts.push(header.subarray(at));
  return Buffer.concat(parts);
}

function unique(addresses: string[]): string[] {
  const seen = new Set<string>();
  return addresses.filter((a) => (seen.has(a.toLowerCase()) ? false : (seen.add(a.toLowerCase()), true)));
}
