/**
 * A digest: one RFC 5322 message (multipart/mixed) that carries many, sealed like any other.
 * First a short summary table (time, kind, host, IP/user), then every original whole, as a
 * message/rfc822 part with its bytes unchanged but for CRLF line ends. The summary names only
 * what the originals say; it goes inside the encryption, never outside.
 */
import { randomBytes } from "node:crypto";
import type { Classification } from "../classify/kinds.js";
import { formatMailbox } from "../mail/address.js";
import { rfc5322Date } from "../mail/dates.js";
import { firstSureValue, parseHeader } from "../mail/header.js";
import { encodeUnstructured, headerLine } from "../mail/header-text.js";
import { splitHeaderBody, toCrlf } from "../mail/raw-message.js";
import { freshBoundary, transferEncoding } from "./mime-part.js";

export interface DigestItem {
  bytes: Buffer; // the message as stored locally, without the MTA's framing
  received: Date;
  classification: Classification;
}

export interface DigestContext {
  hostname: string;
  recipients: readonly string[];
  now: Date;
}

/** Always after a part: the CRLF before a boundary belongs to the boundary (RFC 2046 §5.1.1), so the original keeps its own last line end. */
const CRLF = Buffer.from("\r\n");

export function buildDigest(items: readonly DigestItem[], ctx: DigestContext): Buffer {
  const originals = items.map((item) => toCrlf(item.bytes));
  const boundary = freshBoundary("sealpost-digest", originals);
  const header = [
    headerLine("From", digestFrom(items, ctx.hostname)),
    headerLine("To", ctx.recipients.join(", ")),
    headerLine("Subject", encodeUnstructured(digestSubject(items, ctx.hostname))),
    headerLine("Date", rfc5322Date(ctx.now)),
    headerLine("Message-ID", `<digest.${ctx.now.getTime()}.${randomBytes(8).toString("hex")}@${ctx.hostname}>`),
    headerLine("MIME-Version", "1.0"),
    headerLine("Content-Type", `multipart/mixed; boundary="${boundary}"`),
    headerLine("X-Sealpost-Digest", String(items.length)),
  ].join("");
  const parts: Buffer[] = [Buffer.from(`${header}\r\nA digest of ${items.length} messages (MIME).\r\n`, "utf8")];
  parts.push(
    Buffer.from(
      `--${boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${summary(items, ctx)}\r\n`,
      "utf8",
    ),
  );
  originals.forEach((bytes, i) => {
    const name = `${String(i + 1).padStart(3, "0")}-${items[i]!.classification.kind}.eml`;
    parts.push(
      Buffer.from(
        `--${boundary}\r\nContent-Type: message/rfc822\r\nContent-Disposition: inline; filename="${name}"\r\n` +
          `Content-Transfer-Encoding: ${transferEncoding(bytes)}\r\n\r\n`,
        "latin1",
      ),
      bytes,
      CRLF,
    );
  });
  parts.push(Buffer.from(`--${boundary}--\r\n`, "latin1"));
  return Buffer.concat(parts);
}

/** "Digest of 200 messages from web01.example.org: 198 fail2ban.ban, 2 fail2ban.unban": kinds and counts only. */
export function digestSubject(items: readonly DigestItem[], hostname: string): string {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(item.classification.kind, (counts.get(item.classification.kind) ?? 0) + 1);
  const kinds = [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([kind, n]) => `${n} ${kind}`)
    .join(", ");
  return `Digest of ${items.length} messages from ${hostname}: ${kinds}`;
}

/** The originals' From when they all share one (fail2ban's), else the host's root. */
function digestFrom(items: readonly DigestItem[], hostname: string): string {
  const froms = new Set(items.map((item) => firstSureValue(parseHeader(splitHeaderBody(item.bytes).header), "from") ?? ""));
  const only = froms.size === 1 ? [...froms][0]! : "";
  return only !== "" && /^[\x20-\x7e]+$/.test(only) ? only : formatMailbox({ name: "sealpost digest", address: `root@${hostname}` });
}

function summary(items: readonly DigestItem[], ctx: DigestContext): string {
  const rows = items.map((item, i) => {
    const f = item.classification.fields;
    const who = [f.ip, f.user].filter(Boolean).join(" ") + (f.jail ? ` (${f.jail})` : f.service ? ` (${f.service})` : "");
    return [String(i + 1), utc(item.received), item.classification.kind, f.host ?? "", who.trim()];
  });
  const head = ["#", "received (UTC)", "kind", "host", "IP / user"];
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => cell.padEnd(widths[c]!))
      .join("  ")
      .trimEnd();
  const first = items[0]?.received ?? ctx.now;
  const last = items[items.length - 1]?.received ?? ctx.now;
  return [
    `sealpost on ${ctx.hostname}: ${items.length} messages received ${utc(first)} to ${utc(last)} UTC.`,
    "Every one follows whole, as an attached message.",
    "",
    line(head),
    ...rows.map(line),
  ].join("\r\n");
}

function utc(d: Date): string {
  return d
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d+Z$/, "");
}
