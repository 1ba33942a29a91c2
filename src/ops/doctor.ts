/**
 * `sealpost doctor`: what is wrong, in plain words, with what to do about it.
 * Keys for every route, the relay (connect, verified TLS, AUTH, MAIL FROM and RCPT TO, never a
 * message), storage as the user the MTA runs sealpost as (the Postfix default_privs trap, Exim's
 * pipes in /etc/aliases), the LMTP route when [serve] lmtp is set, and the spool.
 */
import { constants } from "node:fs";
import { access, readFile, stat } from "node:fs/promises";
import { dirname } from "node:path";
import type { Config } from "../config/schema.js";
import { resolveHostname } from "../core/hostname.js";
import { printable } from "../core/printable.js";
import { logDestination } from "../log/event-log.js";
import { probeRelay } from "../relay/probe.js";
import { runnerAlive } from "../store/runner-lock.js";
import { Spool } from "../store/spool.js";
import { ownershipFindings, type OwnershipFinding } from "./ownership.js";
import { routeKeyStatus } from "./route-key-status.js";
import { lmtpFindings, type LmtpFacts } from "./lmtp-check.js";
import type { Finding } from "./finding.js";
import { errnoOf } from "../core/errors.js";

export type { Finding, Level } from "./finding.js";

/** What doctor reads of the host's MTA; tests give their own. */
export interface MtaFacts {
  aliases: () => Promise<string>; // /etc/aliases
  /**
   * Whom Postfix runs /etc/aliases commands as (local(8)): the alias database's owner, or
   * default_privs when root owns it. Undefined without Postfix.
   */
  postfixAliasUser: () => { user: string; as: "default_privs" | "the alias database's owner" } | undefined;
  eximAliasPipes: () => boolean | undefined; // whether Debian's Exim runs pipes from /etc/aliases; undefined without Exim
  userIds: (user: string) => { uid: number; gid: number } | undefined;
  /** The MTA's LMTP set-up, looked at when [serve] lmtp is set. */
  lmtp?: LmtpFacts;
}

export async function doctor(config: Config, mta: MtaFacts, now = new Date()): Promise<Finding[]> {
  const lmtp = mta.lmtp ? await lmtpFindings(config, config.user, resolveHostname(config.hostname), mta.lmtp) : [];
  return [
    ...(await keyFindings(config, now)),
    await relayFinding(config),
    ...(await storageFindings(config, mta)),
    ...lmtp,
    ...(await spoolFindings(config, now)),
    await logFinding(config),
  ];
}

async function logFinding(config: Config): Promise<Finding> {
  const to = logDestination(config.log);
  if (to.kind === "syslog")
    return {
      level: "ok",
      area: "log",
      text: `events go to syslog (${to.path}), facility ${config.log.facility}, level ${config.log.level} and up`,
    };
  if (to.kind === "none") {
    // not a fault: mail flows the same; containers often have no syslog
    return {
      level: "ok",
      area: "log",
      text: `no syslog socket${config.log.syslog ? ` at ${config.log.syslog}` : ""} and no [log] file: message events are not logged (serve prints them)`,
    };
  }
  const writable = await access(to.path, constants.W_OK).then(
    () => true,
    async (e: unknown) =>
      errnoOf(e) === "ENOENT" &&
      (await access(dirname(to.path), constants.W_OK).then(
        () => true,
        () => false,
      )),
  );
  return writable
    ? { level: "ok", area: "log", text: `events go to ${to.path}, level ${config.log.level} and up` }
    : {
        level: "error",
        area: "log",
        text: `the log file ${to.path} is not writable by this user: events are lost (mail is not)`,
        fix: `create its directory and give it to the user sealpost runs as`,
      };
}

async function keyFindings(config: Config, now: Date): Promise<Finding[]> {
  const out: Finding[] = [];
  for (const row of await routeKeyStatus(config, now)) {
    if (row.problem) {
      // the problem can quote a key's reasons: printed escaped, like every key-derived text
      out.push({
        level: "error",
        area: "keys",
        text: `${row.label}: ${printable(row.problem)}`,
        fix: "sealpost keys import --expect-fingerprint FPR KEY.asc (its mail waits in the spool until then)",
      });
    }
    for (const e of row.keys) {
      const when = e.expires ? `expires ${e.expires.toISOString().slice(0, 10)} (in ${e.daysLeft} days)` : "does not expire";
      out.push(
        e.threshold === null
          ? { level: "ok", area: "keys", text: `${row.label}: ${e.fingerprint} ${when}` }
          : {
              level: "warn",
              area: "keys",
              text: `${row.label}: ${e.fingerprint} ${when}`,
              fix: `get the new key, then: sealpost keys import --replace ${e.fingerprint} NEW.asc`,
            },
      );
    }
  }
  return out;
}

async function relayFinding(config: Config): Promise<Finding> {
  const recipients = [...new Set(config.routes.flatMap((r) => r.to))];
  const r = config.relay;
  try {
    await probeRelay({ relay: r, hostname: resolveHostname(config.hostname) }, recipients);
    const tls = r.security === "none" ? "no TLS (loopback)" : "TLS verified";
    return {
      level: "ok",
      area: "relay",
      text: `${r.host}:${r.port} takes mail for ${recipients.join(", ")} (${tls}${r.user ? `, AUTH as ${r.user}` : ""}); nothing was sent`,
    };
  } catch (err) {
    // the message can quote the relay's reply: the relay's words, escaped
    return {
      level: "error",
      area: "relay",
      text: printable((err as Error).message),
      fix: "check [relay] host, port, security, user and password_file; sealpost queue list shows what waits",
    };
  }
}

async function storageFindings(config: Config, mta: MtaFacts): Promise<Finding[]> {
  const places: Array<[string, string]> = [["spool", config.spoolDir]];
  if (config.local.store !== "none")
    places.push([`local ${config.local.store}`, config.local.store === "mbox" ? dirname(config.local.path) : config.local.path]);
  const out: Finding[] = [];
  for (const [name, dir] of places) {
    const ok = await access(dir, constants.W_OK).then(
      () => true,
      () => false,
    );
    out.push(
      ok
        ? { level: "ok", area: "storage", text: `${name} ${dir} is writable by this user` }
        : {
            level: "error",
            area: "storage",
            text: `${name} ${dir} is missing or not writable by this user`,
            fix: `install -d -m 0700 -o sealpost ${dir}`,
          },
    );
  }
  out.push(...(await insideFindings(config)));
  const aliases = await mta.aliases().catch(() => "");
  if (!/^[^#\n]*:.*\|[^\n]*sealpost/m.test(aliases)) return out;
  const runAs = mta.postfixAliasUser();
  if (runAs !== undefined) {
    const ids = mta.userIds(runAs.user);
    for (const [name, dir] of places) {
      if (ids && (await writableBy(dir, ids))) continue;
      out.push({
        level: "error",
        area: "mta",
        text: `/etc/aliases pipes into sealpost, which Postfix runs as ${runAs.as} (${runAs.user}); ${runAs.user} cannot write the ${name} ${dir}`,
        fix: 'deliver through the sealpost user\'s ~/.forward instead ("root: sealpost" in /etc/aliases), or give the directory to that user',
      });
    }
  }
  if (mta.eximAliasPipes() === false) {
    out.push({
      level: "error",
      area: "mta",
      text: "/etc/aliases pipes into sealpost, but Debian's Exim runs no pipes from /etc/aliases",
      fix: "set SYSTEM_ALIASES_PIPE_TRANSPORT = address_pipe (and SYSTEM_ALIASES_USER = sealpost) in exim4.conf.localmacros, then update-exim4.conf — or use the sealpost user's ~/.forward",
    });
  }
  return out;
}

/** What stands inside the spool and the local store that the spool's owner does not own, or that others may write (ops/ownership.ts). */
async function insideFindings(config: Config): Promise<Finding[]> {
  const owner = (await stat(config.spoolDir).catch(() => undefined))?.uid;
  if (owner === undefined) return [];
  const local = config.local.store === "maildir" ? { maildir: config.local.path } : { mbox: config.local.path };
  return (await ownershipFindings(config.spoolDir, local, owner)).map((f) => insideFinding(f, owner, local.mbox));
}

function insideFinding(f: OwnershipFinding, owner: number, mbox: string | undefined): Finding {
  const error = (text: string, fix: string): Finding => ({ level: "error", area: "storage", text, fix });
  switch (f.problem) {
    case "writable":
      return error(
        `${f.path} may be written by group or others (mode ${f.mode.toString(8).padStart(4, "0")}): another user could change or remove root's mail there`,
        `chmod ${f.path === mbox ? "o-w" : "go-w"} ${f.path}`, // an mbox stays its mail group's
      );
    case "root":
      return error(
        `${f.path} belongs to root, not to the spool's owner (uid ${owner}), who then cannot write it: mail defers`,
        "sudo sealpost init (it hands back what root left in the spool)",
      );
    case "link":
    case "foreign":
      return error(
        `${f.path} ${f.problem === "link" ? "is a symbolic link" : `belongs to uid ${f.uid}`}, not to the spool's owner (uid ${owner})`,
        "check who made it; remove it, or chown it to the spool's owner",
      );
  }
}

async function writableBy(dir: string, ids: { uid: number; gid: number }): Promise<boolean> {
  const info = await stat(dir).catch(() => undefined);
  if (!info) return false;
  if (ids.uid === 0) return true;
  if (info.uid === ids.uid) return (info.mode & 0o300) === 0o300;
  if (info.gid === ids.gid) return (info.mode & 0o030) === 0o030;
  return (info.mode & 0o003) === 0o003;
}

async function spoolFindings(config: Config, now: Date): Promise<Finding[]> {
  const entries = await new Spool(config.spoolDir).list().catch(() => []);
  const held = entries.filter((e) => e.state === "held");
  const queued = entries.filter((e) => e.state === "queued");
  const out: Finding[] = [];
  if (held.length > 0) {
    out.push({
      level: "warn",
      area: "spool",
      text: `${held.length} message(s) held (refused by the relay, or too old): ${held.map((e) => e.id).join(", ")}`,
      fix: "sealpost queue show ID, fix the cause, then sealpost queue release ID",
    });
  }
  const oldest = queued.map((e) => Date.parse(e.created)).sort((a, b) => a - b)[0];
  if (oldest !== undefined && now.getTime() - oldest > 3_600_000) {
    out.push({
      level: "warn",
      area: "spool",
      text: `${queued.length} message(s) waiting, the oldest since ${new Date(oldest).toISOString()}`,
      fix: "sealpost queue list; is serve or the queue run timer running?",
    });
  }
  // An entry due for a minute with no runner alive waits for the next message, serve, or the timer.
  const waiting = queued.filter((e) => !e.batch?.waiting && now.getTime() - Date.parse(e.nextAttempt) > 60_000);
  const alive = await runnerAlive(config.spoolDir, now.getTime());
  if (waiting.length > 0 && !alive) {
    out.push({
      level: "warn",
      area: "spool",
      text: `${waiting.length} message(s) due and no runner is running to relay them`,
      fix: "sealpost queue run now; for the future, run serve or a queue run timer (every 5 minutes)",
    });
  }
  if (out.length === 0)
    out.push({
      level: "ok",
      area: "spool",
      text: `${queued.length} queued, none held; ${alive ? "a runner is working on the spool" : "no runner running (one starts with the next message)"}`,
    });
  return out;
}

/** Reads the host's real MTA set-up. */
export async function readAliases(): Promise<string> {
  return readFile("/etc/aliases", "utf8");
}
