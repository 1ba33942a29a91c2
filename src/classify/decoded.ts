/**
 * A message decoded for reading (postal-mime: charsets, quoted-printable, base64, RFC 2047),
 * off the raw-byte sealing path: what the classifier's rules look at.
 */
import PostalMime from "postal-mime";
import { splitHeaderBody } from "../mail/raw-message.js";

/** Rules read at most this much text: a 25 MB backup report is recognised by its first lines. */
const TEXT_LIMIT = 64 * 1024;
/**
 * And postal-mime reads at most this much of the message (it decodes ~5 MB/s, line by line):
 * enough for the header, the text and a bounce's delivery-status part, which comes first.
 */
const PARSE_LIMIT = 96 * 1024;
/**
 * And at most this much of the Subject: every daemon's subject is a line, and a rule's pattern run
 * over 96 KB of hostile Subject is where a slip into quadratic time would cost seconds.
 */
const SUBJECT_LIMIT = 2_000;
/**
 * And at most this many header fields: no daemon's notice has more than a few dozen, and
 * postal-mime parsing thousands of address fields (8,000 To lines fit in 64 KB) held serve's other
 * clients for 100 ms (bench/serve-stall.mjs). Those past it are left out of what the rules see.
 */
const FIELD_LIMIT = 500;

/** `bytes` with header fields past FIELD_LIMIT left out, the body kept after a blank line. */
function boundedFields(bytes: Buffer): Buffer {
  const { header, body } = splitHeaderBody(bytes);
  let fields = 0;
  for (let at = 0; at < header.length;) {
    if (header[at] !== 0x20 && header[at] !== 0x09 && ++fields > FIELD_LIMIT) {
      const kept = header.subarray(0, at);
      return Buffer.concat([kept, Buffer.from(kept.at(-2) === 0x0d ? "\r\n" : "\n"), body]);
    }
    const end = header.indexOf(0x0a, at);
    at = end < 0 ? header.length : end + 1;
  }
  return bytes;
}

export interface Decoded {
  subject: string;
  /** The first From address, lower case ("" when there is none). */
  from: string;
  fromName: string;
  /** The first To address's local part, lower case. */
  toLocal: string;
  /** Header values by lower-case name, every occurrence. */
  headers: Map<string, string[]>;
  contentType: string;
  /** The text body (or the first text part), at most TEXT_LIMIT characters. Every rule's pattern must be linear in it. */
  text: string;
  /** The text of message/delivery-status parts (a bounce's machine-readable report). */
  deliveryStatus: string;
}

export async function decodeMessage(bytes: Buffer): Promise<Decoded> {
  const email = await PostalMime.parse(boundedFields(bytes.subarray(0, PARSE_LIMIT)), { attachmentEncoding: "utf8", maxNestingDepth: 32 });
  const headers = new Map<string, string[]>();
  // one list per name, appended to: copying it for each field was quadratic (8,000 To fields
  // stalled serve for 200 ms, bench/serve-stall.mjs)
  for (const h of email.headers) {
    const values = headers.get(h.key);
    if (values) values.push(h.value);
    else headers.set(h.key, [h.value]);
  }
  const from = email.from && "address" in email.from ? email.from : undefined;
  const to = email.to?.find((a) => "address" in a && a.address);
  // "To: deploy" (atd) parses as a name without an address: the bare word is the local part.
  const toAddress = (to && "address" in to ? to.address : undefined) || (headers.get("to")?.[0] ?? "").trim();
  return {
    subject: (email.subject ?? "")
      .slice(0, 2 * SUBJECT_LIMIT)
      .replace(/\s+/g, " ")
      .trim()
      .slice(0, SUBJECT_LIMIT),
    from: (from?.address ?? "").toLowerCase(),
    fromName: from?.name ?? "",
    toLocal: /^[\w.+-]+(@\S+)?$/.test(toAddress) ? toAddress.split("@")[0]!.toLowerCase() : "",
    headers,
    contentType: (headers.get("content-type")?.[0] ?? "text/plain").toLowerCase(),
    text: (email.text ?? "").slice(0, TEXT_LIMIT),
    deliveryStatus: email.attachments
      .filter((a) => a.mimeType === "message/delivery-status" && typeof a.content === "string")
      .map((a) => a.content as string)
      .join("\n"),
  };
}

/** The first capture of `pattern` in `text`, trimmed, or undefined. */
export function capture(text: string, pattern: RegExp): string | undefined {
  return pattern.exec(text)?.[1]?.trim() || undefined;
}
