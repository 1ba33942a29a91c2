/**
 * The name that qualifies bare addresses: the config's `hostname`, else /etc/mailname
 * (what Debian's MTAs use), else the kernel's host name.
 */
import { readFileSync } from "node:fs";
import type * as Os from "node:os";
import { lazy } from "./builtin.js";

const os = lazy<typeof Os>("node:os"); // only without hostname in the config and without /etc/mailname

export function resolveHostname(configured: string | undefined): string {
  if (configured) return configured;
  try {
    const mailname = readFileSync("/etc/mailname", "utf8").trim();
    if (/^[A-Za-z0-9.-]+$/.test(mailname)) return mailname;
  } catch {
    // no /etc/mailname: fall through to the kernel's name
  }
  return os().hostname() || "localhost";
}
