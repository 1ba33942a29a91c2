/** First [[route]] whose match_recipient matches an envelope recipient (SPEC §3). */
import type { RouteConfig } from "../config/schema.js";

export function matchesRecipient(pattern: string, recipient: string): boolean {
  const p = pattern.toLowerCase();
  const r = recipient.toLowerCase();
  if (p.includes("@")) return p === r;
  const at = r.lastIndexOf("@");
  return (at === -1 ? r : r.slice(0, at)) === p;
}

export function selectRoute(routes: readonly RouteConfig[], recipients: readonly string[]): RouteConfig | undefined {
  return routes.find((route) =>
    route.matchRecipient === undefined || route.matchRecipient.some((p) => recipients.some((r) => matchesRecipient(p, r))));
}
