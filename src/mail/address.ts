/** Addresses: parsing (postal-mime's RFC 5322 parser), qualification and safe formatting. */
import { addressParser } from "postal-mime";
import { encodeUnstructured, isPlainText } from "./header-text.js";

export interface Mailbox {
  name: string;
  address: string; // may be unqualified ("root") until qualify() ran
}

const BARE_LOCAL_PART = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]+$/;

/**
 * parseMailboxes reads at most this much of a value: postal-mime parses about 2 MB/s, so a 20 MB
 * To would hold the caller for ten seconds. 16 KB is some 400 addresses, far more than system
 * mail carries; a longer value is read that far (see MAILBOX_VALUE_LIMIT's callers).
 */
export const MAILBOX_VALUE_LIMIT = 16 * 1024;

/** Every mailbox in an address-list value, groups flattened; empty when nothing parses. Of a value over MAILBOX_VALUE_LIMIT, those that end within it. */
export function parseMailboxes(value: string): Mailbox[] {
  const cut = value.length > MAILBOX_VALUE_LIMIT;
  let parsed: ReturnType<typeof addressParser>;
  try {
    parsed = addressParser(cut ? value.slice(0, MAILBOX_VALUE_LIMIT) : value, { flatten: true });
  } catch {
    return [];
  }
  if (cut) parsed.pop(); // the last one may be cut in half
  const out: Mailbox[] = [];
  for (const item of parsed) {
    if (!("address" in item) || typeof item.address !== "string") continue;
    const name = item.name.trim(); // postal-mime gives "" for none
    if (item.address.trim() !== "") out.push({ name, address: item.address.trim() });
    // A bare local part ("To: root", "root (Cron Daemon)") comes back as a name without address.
    else if (BARE_LOCAL_PART.test(name)) out.push({ name: "", address: name });
  }
  return out;
}

/** "root" -> "root@host"; a full address or the null sender stays as it is. */
export function qualify(address: string, hostname: string): string {
  if (address === "" || address.includes("@")) return address;
  return `${address}@${hostname}`;
}

const ATOM_PHRASE = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ ]+$/;
const SAFE_ADDRESS = /^[\x21-\x7e]+@[\x21-\x7e]+$/;

/** A mailbox as a 7-bit header value: phrase, quoted string or encoded-words for the name. */
export function formatMailbox(box: Mailbox): string {
  const address = SAFE_ADDRESS.test(box.address) && !/[<>,;"\\()[\]]/.test(box.address) ? box.address : "invalid@invalid";
  const name = box.name.replace(/[\r\n\0]+/g, " ").trim();
  if (name === "") return address;
  return `${displayName(name)} <${address}>`;
}

function displayName(name: string): string {
  if (ATOM_PHRASE.test(name) && !/^ | $| {2}/.test(name)) return name;
  if (isPlainText(name)) return `"${name.replace(/(["\\])/g, "\\$1")}"`;
  return encodeUnstructured(name);
}

/**
 * An envelope address sealpost will carry: printable ASCII without spaces, brackets, quotes or
 * separators, at most 320 octets (RFC 5321's 64 + 1 + 255). What a submitter hands over goes into
 * mbox From_ lines, log lines and SMTP commands; a CR, LF or NUL there would forge a record.
 * "" (the null sender) is not an address; callers decide whether they take it.
 */
export function isEnvelopeAddress(address: string): boolean {
  return address.length > 0 && address.length <= 320 && /^[\x21-\x7e]+$/.test(address) && !/[<>()[\]\\,;:"]/.test(address);
}
