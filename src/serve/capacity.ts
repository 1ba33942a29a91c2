/**
 * How many SMTP connections `serve` holds at once. Each one costs a file
 * descriptor and, idle, about 18 KB of memory (smtp-server's session and parser, the socket:
 * 1,000 idle connections added 18 MB of RSS); so the bound is the descriptors the process may
 * open, less what the spool, the local store, the relay and the log need, and at most
 * MAX_CLIENTS. Node raises its soft descriptor limit to the hard one at start (systemd's
 * default: 524288), read from /proc where there is one.
 */
import { readFileSync } from "node:fs";

/** Per listening address: a thousand idle connections still leave room for the mail; both addresses full cost some 70-80 MB. */
export const MAX_CLIENTS = 2048;
const RESERVED_FDS = 512;
const MIN_CLIENTS = 32;

/** Connections each of `listeners` may hold. */
export function clientLimit(listeners: number, openFiles = openFileLimit()): number {
  if (openFiles === undefined) return MAX_CLIENTS;
  const share = Math.floor((openFiles - RESERVED_FDS) / Math.max(1, listeners));
  return Math.max(MIN_CLIENTS, Math.min(MAX_CLIENTS, share));
}

/** This process's limit on open files ("Max open files" in /proc/self/limits), or undefined. */
function openFileLimit(): number | undefined {
  try {
    const line = readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
    const soft = line?.slice("Max open files".length).trim().split(/\s+/)[0];
    return soft === undefined || soft === "unlimited" ? undefined : Number.parseInt(soft, 10) || undefined;
  } catch {
    return undefined;
  }
}
