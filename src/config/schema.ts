/**
 * The config file's schema (docs/contract.md §3): every key with its default beside it.
 * buildConfig() turns a parsed TOML table into a typed, validated Config.
 */
import { isAbsolute, resolve } from "node:path";
import {
  ConfigError,
  Table,
  bool,
  duration,
  isTable,
  oneOf,
  optionalStr,
  port,
  rejectUnknownKeys,
  size,
  str,
  stringList,
  subTable,
} from "./fields.js";
import { ipFamily, isLoopbackAddress, isLoopbackHost } from "./loopback.js";
import { isKindPattern } from "../classify/kinds.js";

export type StoreKind = "maildir" | "mbox" | "none";
export type RelaySecurity = "starttls" | "tls" | "none";
export type LogLevel = "debug" | "info" | "warning" | "error";

export interface RouteConfig {
  matchRecipient?: string[]; // absent: the route catches every recipient
  to: string[];
  keys?: string[]; // pinned fingerprints, upper case, no spaces
  alsoEncryptTo?: string[]; // archive keys added to every message of the route (fingerprints)
  matchKind?: string[]; // absent: every kind (classify/kinds.ts patterns)
  /** Batching (pipeline/batch.ts): gather the route's mail for this long into one sealed digest. */
  coalesceSeconds?: number;
  /** At most this many mails an hour leave for the route; past it, the rest go as digests. */
  maxPerHour?: number;
}

export interface Config {
  file: string;
  hostname?: string; // undefined: resolved from the host when needed
  /** The system user that owns the spool and the local store; root's submissions switch to it, and to no one else. */
  user: string;
  keysDir: string;
  spoolDir: string;
  local: { store: StoreKind; path: string };
  relay: {
    host: string;
    port: number;
    security: RelaySecurity;
    user?: string;
    passwordFile?: string;
    envelopeFrom?: string;
    timeoutSeconds: number;
  };
  message: {
    format: "pgp-mime" | "inline";
    protectSubject: boolean;
    from: "original" | "relay";
    sign: boolean;
    hostKey: string;
    /** With protect_subject: the outer Subject from non-sensitive tokens only ({host}, {kind}, {count}). */
    subjectTemplate?: string;
  };
  /**
   * relay: "queued" answers the MTA once the local copy and the spool entry are durable and the
   * runner relays; "inline" relays before answering (onRelayFailure then says what a temporary
   * failure does: exit EX_TEMPFAIL, or spool it and exit 0). With "queued" every failure is the spool's.
   */
  deliver: { relay: "queued" | "inline"; onRelayFailure: "defer" | "spool" };
  /** lmtp: the unix socket to take LMTP on, or undefined for none. */
  serve: { listen: string; listenHost: string; listenPort: number; maxSize: number; localDomains: string[]; lmtp?: string };
  spool: {
    retryMinSeconds: number;
    retryMaxSeconds: number;
    maxAgeSeconds: number;
    /** What one local user (uid) may submit through drop/ an hour; past it, their drops are set aside with a notice. */
    perUserMessagesPerHour: number;
    perUserBytesPerHour: number;
  };
  /** Message events: to the syslog socket when it exists, else to `file`, else nowhere (serve: its standard output). */
  log: { level: LogLevel; syslog: string; file?: string; facility: SyslogFacility };
  routes: RouteConfig[];
}

const TOP_KEYS = [
  "hostname",
  "user",
  "keys_dir",
  "spool_dir",
  "local",
  "relay",
  "message",
  "deliver",
  "serve",
  "spool",
  "log",
  "route",
] as const;
const FACILITIES = ["mail", "daemon", "user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"] as const;
export type SyslogFacility = (typeof FACILITIES)[number];

export function buildConfig(table: Table, file: string, dir: string): Config {
  rejectUnknownKeys(table, TOP_KEYS, "");
  const path = (value: string) => (isAbsolute(value) ? value : resolve(dir, value));
  const hostname = optionalStr(table, "hostname", "");
  if (hostname !== undefined && !/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(hostname)) {
    throw new ConfigError("hostname", "a host name such as web01.example.org", hostname);
  }
  const user = str(table, "user", "", "sealpost");
  if (!/^[a-z_][a-z0-9_-]{0,31}\$?$/i.test(user)) throw new ConfigError("user", "a system user name such as sealpost", user);
  return {
    file,
    hostname,
    user,
    keysDir: path(str(table, "keys_dir", "", "keys")),
    spoolDir: path(str(table, "spool_dir", "", "/var/spool/sealpost")),
    local: buildLocal(subTable(table, "local", ""), path),
    relay: buildRelay(subTable(table, "relay", ""), path),
    message: buildMessage(subTable(table, "message", ""), path),
    deliver: buildDeliver(subTable(table, "deliver", "")),
    serve: buildServe(subTable(table, "serve", ""), path),
    spool: buildSpool(subTable(table, "spool", "")),
    log: buildLog(subTable(table, "log", ""), path),
    routes: buildRoutes(table.route),
  };
}

function buildLocal(t: Table, path: (p: string) => string): Config["local"] {
  rejectUnknownKeys(t, ["store", "path"], "local.");
  return {
    store: oneOf(t, "store", "local.", ["maildir", "mbox", "none"] as const, "maildir"),
    path: path(str(t, "path", "local.", "/var/lib/sealpost/Maildir")),
  };
}

function buildRelay(t: Table, path: (p: string) => string): Config["relay"] {
  const p = "relay.";
  rejectUnknownKeys(t, ["host", "port", "security", "user", "password_file", "envelope_from", "timeout"], p);
  if (t.host === undefined) throw new ConfigError("relay.host", "the relay's host name (a minimal config needs it)", undefined);
  const host = str(t, "host", p, "");
  const security = oneOf(t, "security", p, ["starttls", "tls", "none"] as const, "starttls");
  // An address is checked here; a name only when the relay is used, by resolving it (relay.ts):
  // loading the config stays synchronous, and a name is loopback only if all it resolves to is.
  if (security === "none" && !isLoopbackAddress(host) && ipFamily(host) !== 0) {
    throw new ConfigError("relay.security", '"starttls" or "tls" ("none" is only for loopback relay hosts)', security);
  }
  const passwordFile = optionalStr(t, "password_file", p);
  const timeoutSeconds = duration(t, "timeout", p, 30);
  if (timeoutSeconds < 1 || timeoutSeconds > 600) throw new ConfigError("relay.timeout", "a duration from 1s to 10m", t.timeout);
  return {
    host,
    port: port(t, "port", p, security === "tls" ? 465 : 587),
    security,
    user: optionalStr(t, "user", p),
    passwordFile: passwordFile === undefined ? undefined : path(passwordFile),
    envelopeFrom: optionalStr(t, "envelope_from", p),
    timeoutSeconds,
  };
}

function buildMessage(t: Table, path: (p: string) => string): Config["message"] {
  const p = "message.";
  rejectUnknownKeys(t, ["format", "protect_subject", "from", "sign", "host_key", "subject_template"], p);
  const protectSubject = bool(t, "protect_subject", p, false);
  const subjectTemplate = optionalStr(t, "subject_template", p);
  if (subjectTemplate !== undefined) {
    // Only tokens that say nothing an attacker could use: never the IPs or users inside.
    const bad = /\{(?!(?:host|kind|count)\})[^}]*\}?/.exec(subjectTemplate)?.[0];
    if (bad || !/^[\x20-\x7e]{1,200}$/.test(subjectTemplate)) {
      throw new ConfigError("message.subject_template", "printable ASCII with only the tokens {host}, {kind} and {count}", subjectTemplate);
    }
    if (!protectSubject)
      throw new ConfigError(
        "message.subject_template",
        "message.protect_subject = true as well (the template replaces the hidden Subject)",
        subjectTemplate,
      );
  }
  return {
    format: oneOf(t, "format", p, ["pgp-mime", "inline"] as const, "pgp-mime"),
    protectSubject,
    ...(subjectTemplate !== undefined ? { subjectTemplate } : {}),
    from: oneOf(t, "from", p, ["original", "relay"] as const, "original"),
    sign: bool(t, "sign", p, false), // sign with the host key, then encrypt
    hostKey: path(str(t, "host_key", p, "host-key.asc")), // secret: beside the config, never in keys_dir
  };
}

function buildDeliver(t: Table): Config["deliver"] {
  rejectUnknownKeys(t, ["relay", "on_relay_failure"], "deliver.");
  return {
    relay: oneOf(t, "relay", "deliver.", ["queued", "inline"] as const, "queued"),
    // only meaningful with "inline"; accepted with "queued" (which always spools) so an older config keeps working
    onRelayFailure: oneOf(t, "on_relay_failure", "deliver.", ["defer", "spool"] as const, "defer"),
  };
}

function buildServe(t: Table, path: (p: string) => string): Config["serve"] {
  const p = "serve.";
  rejectUnknownKeys(t, ["listen", "max_size", "local_domains", "lmtp"], p);
  const listen = str(t, "listen", p, "127.0.0.1:2525");
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(listen);
  const listenHost = m ? (m[1] ?? m[2])! : "";
  const listenPort = m ? Number(m[3]) : 0;
  if (!m || listenPort < 1 || listenPort > 65535 || !isLoopbackHost(listenHost)) {
    throw new ConfigError("serve.listen", 'a loopback address and port such as "127.0.0.1:2525" or "[::1]:2525"', t.listen);
  }
  return {
    listen,
    listenHost,
    listenPort,
    maxSize: size(t, "max_size", p, 25 * 1024 * 1024),
    localDomains: stringList(t, "local_domains", p, []),
    lmtp: lmtpSocket(t.lmtp, path),
  };
}

/** A unix socket path (relative to the config's directory), or undefined for "": LMTP off. */
function lmtpSocket(value: unknown, path: (p: string) => string): string | undefined {
  if (value === undefined || value === "") return undefined;
  if (typeof value !== "string") throw new ConfigError("serve.lmtp", 'a unix socket path, or ""', value);
  // sun_path holds 108 bytes with its NUL; a longer path cannot be bound
  if (/[\0\n]/.test(value) || Buffer.byteLength(path(value)) > 107)
    throw new ConfigError("serve.lmtp", 'a unix socket path of at most 107 bytes, or ""', value);
  return path(value);
}

function buildSpool(t: Table): Config["spool"] {
  const p = "spool.";
  rejectUnknownKeys(t, ["retry_min", "retry_max", "max_age", "per_user_messages_per_hour", "per_user_bytes_per_hour"], p);
  const retryMinSeconds = duration(t, "retry_min", p, 60); // the first retry; each next one waits twice as long
  const retryMaxSeconds = duration(t, "retry_max", p, 3600); // ... up to this
  const maxAgeSeconds = duration(t, "max_age", p, 5 * 86_400); // then the entry is held, with a notice to root
  if (retryMinSeconds < 1) throw new ConfigError("spool.retry_min", "a duration of at least 1s", t.retry_min);
  if (retryMaxSeconds < retryMinSeconds)
    throw new ConfigError("spool.retry_max", "a duration no shorter than spool.retry_min", t.retry_max);
  if (maxAgeSeconds < retryMinSeconds) throw new ConfigError("spool.max_age", "a duration no shorter than spool.retry_min", t.max_age);
  // A local user's cron jobs and at jobs send a few mails an hour; a flood of drops is an attack on root's disk.
  const perUserMessagesPerHour = t.per_user_messages_per_hour ?? 100;
  if (typeof perUserMessagesPerHour !== "number" || !Number.isInteger(perUserMessagesPerHour) || perUserMessagesPerHour < 1) {
    throw new ConfigError("spool.per_user_messages_per_hour", "an integer from 1", t.per_user_messages_per_hour);
  }
  const perUserBytesPerHour = size(t, "per_user_bytes_per_hour", p, 50 * 1024 * 1024);
  if (perUserBytesPerHour < 1024)
    throw new ConfigError("spool.per_user_bytes_per_hour", 'a size of at least "1KB"', t.per_user_bytes_per_hour);
  return { retryMinSeconds, retryMaxSeconds, maxAgeSeconds, perUserMessagesPerHour, perUserBytesPerHour };
}

function buildLog(t: Table, path: (p: string) => string): Config["log"] {
  const p = "log.";
  rejectUnknownKeys(t, ["level", "syslog", "file", "facility"], p);
  const file = optionalStr(t, "file", p);
  const syslog = t.syslog ?? "/dev/log";
  if (typeof syslog !== "string" || (syslog !== "" && !isAbsolute(syslog))) {
    throw new ConfigError("log.syslog", 'the syslog socket\'s absolute path, or "" for no syslog', t.syslog);
  }
  return {
    level: oneOf(t, "level", p, ["debug", "info", "warning", "error"] as const, "info"),
    syslog,
    ...(file ? { file: path(file) } : {}),
    facility: oneOf(t, "facility", p, FACILITIES, "mail"),
  };
}

function buildRoutes(value: unknown): RouteConfig[] {
  if (value === undefined) throw new ConfigError("route", "at least one [[route]] with a `to` list", undefined);
  if (!Array.isArray(value) || value.length === 0) throw new ConfigError("route", "an array of tables ([[route]])", value);
  return value.map((item, i) => {
    const p = `route[${i}].`;
    if (!isTable(item)) throw new ConfigError(`route[${i}]`, "a table", item);
    rejectUnknownKeys(item, ["match_recipient", "match_kind", "to", "keys", "also_encrypt_to", "coalesce", "max_per_hour"], p);
    const to = stringList(item, "to", p, []);
    if (to.length === 0) throw new ConfigError(p + "to", "a non-empty array of external addresses", item.to);
    for (const addr of to) {
      if (!/^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$/.test(addr)) throw new ConfigError(p + "to", "full addresses such as ops@example.net", addr);
    }
    const keys = fingerprints(item, "keys", p);
    const alsoEncryptTo = fingerprints(item, "also_encrypt_to", p);
    const matchRecipient = item.match_recipient === undefined ? undefined : stringList(item, "match_recipient", p, []);
    return { matchRecipient, to, keys, ...(alsoEncryptTo ? { alsoEncryptTo } : {}), ...batching(item, p) };
  });
}

/** match_kind, coalesce and max_per_hour of one [[route]]. */
function batching(item: Table, p: string): Pick<RouteConfig, "matchKind" | "coalesceSeconds" | "maxPerHour"> {
  const out: Pick<RouteConfig, "matchKind" | "coalesceSeconds" | "maxPerHour"> = {};
  if (item.match_kind !== undefined) {
    const kinds = stringList(item, "match_kind", p, []);
    const typo = kinds.find((k) => !isKindPattern(k));
    if (kinds.length === 0 || typo !== undefined) {
      throw new ConfigError(
        p + "match_kind",
        'kinds such as "fail2ban.ban", families such as "login.*", or "*" (see sealpost classify --help)',
        typo ?? item.match_kind,
      );
    }
    out.matchKind = kinds;
  }
  if (item.coalesce !== undefined) {
    const seconds = duration(item, "coalesce", p, 0);
    if (seconds < 1 || seconds > 86_400) throw new ConfigError(p + "coalesce", 'a window from 1s to 1d, such as "2m"', item.coalesce);
    out.coalesceSeconds = seconds;
  }
  if (item.max_per_hour !== undefined) {
    const n = item.max_per_hour;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > 100_000)
      throw new ConfigError(p + "max_per_hour", "an integer from 1", n);
    out.maxPerHour = n;
  }
  return out;
}

function fingerprints(item: Table, key: string, prefix: string): string[] | undefined {
  if (item[key] === undefined) return undefined;
  const list = stringList(item, key, prefix, []).map((k) => k.replace(/\s+/g, "").toUpperCase());
  for (const fpr of list) {
    if (!/^[0-9A-F]{40}$/.test(fpr)) throw new ConfigError(prefix + key, "40-hex-digit v4 fingerprints", fpr);
  }
  return list;
}
