/**
 * fail2ban's mail actions (action.d/sendmail-*.conf, mail-whois*.conf): "[Fail2Ban] <jail>:
 * banned <ip> from <host>", "... started on <host>". The body's wording is the fallback for
 * users who changed the Subject (actionunban is user-written, cloned from actionban).
 */
import type { Decoded } from "./decoded.js";
import { found, hostOrUndefined, ipOrUndefined } from "./fields.js";
import type { Classification } from "./kinds.js";

const BY_SUBJECT = /^\[Fail2Ban\]\s+(\S+?):\s+(banned|unbanned)\s+(\S+)\s+from\s+(\S+)$/i;
const JAIL_BY_SUBJECT = /^\[Fail2Ban\]\s+(\S+?):\s+(started|stopped)\s+on\s+(\S+)$/i;
const BY_BODY = /The IP (\S+) has just been (banned|unbanned) by Fail2Ban/i;
const JAIL_BY_BODY = /The jail (\S+) has been (started|stopped)/i;

export function fail2ban(m: Decoded): Classification | undefined {
  const attempts = /after\s+(\d+)\s+attempts/i.exec(m.text)?.[1];
  const ban = BY_SUBJECT.exec(m.subject);
  if (ban && ipOrUndefined(ban[3])) {
    return found(ban[2]!.toLowerCase() === "banned" ? "fail2ban.ban" : "fail2ban.unban", {
      jail: ban[1],
      ip: ipOrUndefined(ban[3]),
      host: hostOrUndefined(ban[4]),
      attempts: ban[2]!.toLowerCase() === "banned" ? attempts : undefined,
    });
  }
  const jail = JAIL_BY_SUBJECT.exec(m.subject);
  if (jail)
    return found(jail[2]!.toLowerCase() === "started" ? "fail2ban.start" : "fail2ban.stop", {
      jail: jail[1],
      host: hostOrUndefined(jail[3]),
    });

  const banBody = BY_BODY.exec(m.text);
  if (banBody && ipOrUndefined(banBody[1])) {
    const banned = banBody[2]!.toLowerCase() === "banned";
    const inJail = banned ? /attempts against (\S+?)\.?\s*$/im.exec(m.text)?.[1] : /in jail (\S+?)\.?\s*$/im.exec(m.text)?.[1];
    return found(banned ? "fail2ban.ban" : "fail2ban.unban", {
      jail: inJail,
      ip: ipOrUndefined(banBody[1]),
      attempts: banned ? attempts : undefined,
    });
  }
  const jailBody = JAIL_BY_BODY.exec(m.text);
  if (jailBody && /fail2ban/i.test(m.subject + m.fromName + m.text)) {
    return found(jailBody[2]!.toLowerCase() === "started" ? "fail2ban.start" : "fail2ban.stop", { jail: jailBody[1] });
  }
  return undefined;
}
