/**
 * Notices sealpost writes for root (docs/contract.md §5): plaintext, into the local store only,
 * from sealpost@<hostname>. They never leave the host unsealed.
 */
import { randomHex } from "../core/random.js";
import type { Config } from "../config/schema.js";
import { headerLine } from "../mail/header-text.js";
import { rfc5322Date } from "../mail/dates.js";
import { storeLocally } from "./local-store.js";

export async function writeNotice(
  local: Config["local"],
  hostname: string,
  subject: string,
  lines: string[],
  now: Date = new Date(),
): Promise<void> {
  if (local.store === "none") return;
  const from = `sealpost@${hostname}`;
  const text =
    headerLine("From", `sealpost <${from}>`) +
    headerLine("To", `root@${hostname}`) +
    headerLine("Subject", `sealpost: ${subject.replace(/[^\x20-\x7e]/g, "?")}`) +
    headerLine("Date", rfc5322Date(now)) +
    headerLine("Message-ID", `<${now.getTime()}.${randomHex(6)}.notice@${hostname}>`) +
    headerLine("Auto-Submitted", "auto-generated") +
    headerLine("MIME-Version", "1.0") +
    headerLine("Content-Type", "text/plain; charset=utf-8") +
    headerLine("Content-Transfer-Encoding", "8bit") +
    "\r\n" +
    lines.map((line) => line + "\r\n").join("");
  await storeLocally(local, Buffer.from(text.replace(/\r\n/g, "\n"), "utf8"), from, hostname);
}
