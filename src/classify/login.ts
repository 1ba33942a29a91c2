/**
 * Login and privilege audit mail: sudo's own mail (mail_badpass, mail_always), su reports
 * (logcheck and the like), and login alerts — pam_exec hooks, web-app audits, or any mail
 * carrying sshd's "Accepted/Failed ... for <user> from <ip>" lines.
 */
import { capture, type Decoded } from "./decoded.js";
import { found, hostOrUndefined, ipOrUndefined } from "./fields.js";
import type { Classification } from "./kinds.js";

/** sudo's log line: "host : date : user : [message ;] TTY=... ; PWD=... ; USER=... ; COMMAND=...". */
const SUDO_LINE = /^(\S+) : [^:\n]+(?::\d\d)*? : (\S+) : (?:(.*?) ; )?TTY=[^;\n]*; PWD=[^;\n]*; USER=(\S+) ; COMMAND=(.*)$/m;

export function sudo(m: Decoded): Classification | undefined {
  const line = SUDO_LINE.exec(m.text);
  const host = capture(m.subject, /^\*\*\* SECURITY information for (\S+) \*\*\*$/);
  if (!line && host === undefined) return undefined;
  return found("privilege.sudo", {
    user: line?.[2],
    target: line?.[4],
    host: hostOrUndefined(host ?? line?.[1]),
    event: line?.[3],
    command: line?.[5]?.trim(),
  });
}

const SU_FAILED = /FAILED SU \(to (\S+)\) (\S+) on/;
const SU_OK = /\bsu\[\d+\]: (?:\+ \S+ |Successful su for \S+ by \S+|\(to (\S+)\) (\S+) on)/;

export function su(m: Decoded): Classification | undefined {
  const failed = m.text.match(new RegExp(SU_FAILED.source, "g")) ?? [];
  const ok = SU_OK.exec(m.text);
  if (failed.length === 0 && !ok && !/Security Events for su\b/i.test(m.subject)) return undefined;
  const first = SU_FAILED.exec(m.text);
  return found("privilege.su", {
    user: first?.[2] ?? ok?.[2],
    target: first?.[1] ?? ok?.[1],
    host: hostOrUndefined(m.subject.split(" ")[0]) ?? hostOrUndefined(capture(m.text, /^\w{3}\s+\d+\s+[\d:]+\s+(\S+)\s+su\[/m)),
    failures: failed.length > 0 ? String(failed.length) : undefined,
  });
}

const SSHD_ACCEPTED = /Accepted (\S+) for (\S+) from (\S+) port/;
const SSHD_FAILED = /Failed (?:password|publickey|none|keyboard-interactive\/pam) for (?:invalid user )?(\S+) from (\S+) port/;
const FAILURE_WORDS = /\b(fail(ed|ure)?|invalid|denied|refused|incorrect|rejected|unsuccessful)\b/i;

export function login(m: Decoded): Classification | undefined {
  const accepted = SSHD_ACCEPTED.exec(m.text);
  const sshFailed = SSHD_FAILED.exec(m.text);
  const pamOpen = /^PAM_TYPE=open_session$/m.test(m.text);
  const aboutLogin = /\blog(?:-| )?ins?\b|\bsign(?:-| )?in\b|\bauthentication\b/i.test(m.subject);
  if (!aboutLogin && !pamOpen && !accepted && !sshFailed) return undefined;

  // (?<!\S): a word is tried from its start only; \b there made "a.a.a…" quadratic (10 s for a 90 KB Subject).
  const bySubject = /(?<!\S)(?:for\s+)?(\S+)\s+from\s+(\S+)/i.exec(m.subject.replace(/^.*?\blog(?:-| )?in\b[^:]*:?/i, ""));
  const user = kv(m.text, "user|username|login|account|PAM_USER") ?? bySubject?.[1] ?? accepted?.[2] ?? sshFailed?.[1];
  const ip =
    ipOrUndefined(kv(m.text, "from ip|from|rhost|remote ip|remote address|source ip|source|ip|PAM_RHOST")) ??
    ipOrUndefined(bySubject?.[2]) ??
    ipOrUndefined(accepted?.[3]) ??
    ipOrUndefined(sshFailed?.[2]);
  if (user === undefined && ip === undefined) return undefined;

  const result = kv(m.text, "result|status") ?? "";
  const failed = FAILURE_WORDS.test(m.subject) || FAILURE_WORDS.test(result) || (!!sshFailed && !accepted && !pamOpen);
  return found(failed ? "login.failure" : "login.success", {
    user,
    ip,
    service: kv(m.text, "service|PAM_SERVICE") ?? syslogTag(m.text) ?? (/\bssh\b/i.test(m.subject) ? "sshd" : undefined),
    host: hostOrUndefined(capture(m.subject, /\bon\s+(\S+)$/)) ?? hostOrUndefined(capture(m.subject, /^\[([^\]]+)\]/)),
  });
}

/** "user: alice", "From IP:  203.0.113.77", "PAM_USER=alice": the first line naming one of `keys`. */
function kv(text: string, keys: string): string | undefined {
  return capture(text, new RegExp(`^[ \\t]*(?:${keys})[ \\t]*[:=][ \\t]*(\\S+)`, "im"));
}

/** The program of the first syslog line quoted ("Nov 21 16:19:58 web01 wordpress(www...)[31337]: ..."). */
function syslogTag(text: string): string | undefined {
  return capture(text, /^\w{3}\s+\d+\s+[\d:]+\s+\S+\s+([A-Za-z][\w.-]*?)(?:-session)?[([]/m);
}
