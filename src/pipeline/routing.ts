/** First [[route]] whose match_recipient matches an envelope recipient (docs/contract.md §3) and whose match_kind the message's kind. */
import { kindMatches } from "../classify/kinds.js";
import type { RouteConfig } from "../config/schema.js";

export function matchesRecipient(pattern: string, recipient: string): boolean {
  const p = pattern.toLowerCase();
  const r = recipient.toLowerCase();
  if (p.includes("@")) return p === r;
  const at = r.lastIndexOf("@");
  return (at === -1 ? r : r.slice(0, at)) === p;
}

/** `kind`: the message's kind, needed only when some route has match_kind (routesNeedKind). */
export function selectRoute(routes: readonly RouteConfig[], recipients: readonly string[], kind?: string): RouteConfig | undefined {
  return routes.find(
    (route) =>
      (route.matchRecipient === undefined || route.matchRecipient.some((p) => recipients.some((r) => matchesRecipient(p, r)))) &&
      (route.matchKind === undefined || (kind !== undefined && route.matchKind.some((p) => kindMatches(p, kind)))),
  );
}

/** True when routing depends on what the message is, so it must be classified first. */
export function routesNeedKind(routes: readonly RouteConfig[]): boolean {
  return routes.some((route) => route.matchKind !== undefined);
}
