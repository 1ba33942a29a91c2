/**
 * The name that qualifies bare addresses: the config's `hostname`, else /etc/mailname
 * (what Debian's MTAs use), else the kernel's host name.
 */
import { readFileSync } from "node:fs";
import { hostname as osHostname } from "node:os";

export function resolveHostname(configured: string | undefined): string {
  if (configured) return configured;
  try {
    const mailname = readFileSync("/etc/mailname", "utf8").trim();
    if (/^[A-Za-z0-9.-]+$/.test(mailname)) return mailname;
  } catch {
    // no /etc/mailname: fall through to the kernel's name
  }
  return osHostname() || "localhost";
}
