/** The kinds of system mail sealpost recognises, and the patterns routes match them with. */

export const KINDS = [
  "fail2ban.ban",
  "fail2ban.unban",
  "fail2ban.start",
  "fail2ban.stop",
  "login.success",
  "login.failure",
  "privilege.sudo",
  "privilege.su",
  "cron",
  "at",
  "logwatch",
  "raid",
  "disk",
  "updates",
  "bounce",
  "other",
] as const;

export type Kind = (typeof KINDS)[number];

/** What a classified message is, with what it says (jail, ip, user, host, ...): never sent outside the encryption. */
export interface Classification {
  kind: Kind;
  fields: Record<string, string>;
}

/** A route's match_kind pattern: a kind ("fail2ban.ban"), a family ("login.*"), or "*". */
export function kindMatches(pattern: string, kind: string): boolean {
  if (pattern === "*") return true;
  if (pattern.endsWith(".*")) return kind.startsWith(pattern.slice(0, -1));
  return pattern === kind;
}

/** True when the pattern can match some kind: a typo ("fail2ban.bans") is a config error, not a route that never matches. */
export function isKindPattern(pattern: string): boolean {
  return KINDS.some((kind) => kindMatches(pattern, kind));
}
