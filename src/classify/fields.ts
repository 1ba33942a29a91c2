/** Small helpers the rules share: fields without the missing ones, and what counts as an IP or host. */
import { isIP } from "node:net";
import type { Classification, Kind } from "./kinds.js";

export function found(kind: Kind, fields: Record<string, string | undefined>): Classification {
  const kept: Record<string, string> = {};
  for (const [key, value] of Object.entries(fields)) if (value !== undefined && value !== "") kept[key] = value;
  return { kind, fields: kept };
}

/** The value when it is an IPv4 or IPv6 address (brackets and a trailing dot or comma removed). */
export function ipOrUndefined(value: string | undefined): string | undefined {
  const bare = value?.replace(/^\[|\]$/g, "").replace(/[.,;:]$/, "");
  return bare && isIP(bare) ? bare : undefined;
}

/** The value when it looks like a host name (web01, db-03.example.org). */
export function hostOrUndefined(value: string | undefined): string | undefined {
  const bare = value?.replace(/[.,;:]$/, "");
  return bare && /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(bare) ? bare : undefined;
}

/** The host part of an address ("root@db-03.example.org" -> "db-03.example.org"). */
export function domainOf(address: string): string | undefined {
  const at = address.lastIndexOf("@");
  return at === -1 ? undefined : hostOrUndefined(address.slice(at + 1));
}
