/**
 * When a key stops working for sealing: the earlier of its own expiry and that of the
 * subkey that encrypts now, and which warning threshold (30, 7, 1 days) it has crossed.
 */
import type { PublicKey } from "openpgp";
import { fingerprintOf } from "./key-check.js";

export const WARN_DAYS = [30, 7, 1] as const;
const DAY_MS = 86_400_000;

export interface Expiry {
  fingerprint: string;
  expires: Date | null; // null: never
  daysLeft: number | null;
  /** The smallest threshold reached (1, 7 or 30), or null when none is. */
  threshold: (typeof WARN_DAYS)[number] | null;
}

export async function expiryOf(key: PublicKey, now: Date): Promise<Expiry> {
  const dates: Date[] = [];
  const primary = await key.getExpirationTime().catch(() => null);
  if (primary instanceof Date) dates.push(primary);
  const sub = await key.getEncryptionKey(undefined, now).catch(() => undefined);
  const subExpiry = sub && "getExpirationTime" in sub && sub !== (key as unknown) ? await sub.getExpirationTime().catch(() => null) : null;
  if (subExpiry instanceof Date) dates.push(subExpiry);
  const expires = dates.length > 0 ? new Date(Math.min(...dates.map((d) => d.getTime()))) : null;
  const remaining = expires ? Math.max(0, expires.getTime() - now.getTime()) : null;
  const daysLeft = remaining === null ? null : Math.floor(remaining / DAY_MS);
  const threshold = remaining === null ? null : ([...WARN_DAYS].reverse().find((t) => remaining <= t * DAY_MS) ?? null);
  return { fingerprint: fingerprintOf(key), expires, daysLeft, threshold };
}

/** The warning sealed into each message while a key is within 30 days of expiry. */
export function expiryWarning(e: Expiry): string {
  return `key ${e.fingerprint} expires on ${e.expires!.toISOString().slice(0, 10)} (in ${e.daysLeft} day${e.daysLeft === 1 ? "" : "s"}); import its successor with: sealpost keys import --replace ${e.fingerprint} NEW.asc`;
}
