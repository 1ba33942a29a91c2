/**
 * Where message events go (config [log]): the syslog socket when it exists, else the
 * configured file, else the caller's fallback (serve: its standard output, which journald keeps; pipe commands: nowhere,
 * since their stderr is the MTA's one-line answer). Logging never fails a delivery.
 */
import { statSync } from "node:fs";
import type { Config } from "../config/schema.js";
import { EVENT_LEVEL, LEVEL_RANK, formatEvent, type EventFields, type EventName } from "./events.js";
import { FileSink } from "./file-sink.js";
import type { LineSink } from "./line-sink.js";
import { SyslogSink } from "./syslog-sink.js";

export interface EventLog {
  event(name: EventName, fields: EventFields): void;
  /** Waits (briefly) until what was logged has been handed over. */
  close(): Promise<void>;
}

export const silentLog: EventLog = { event: () => undefined, close: () => Promise.resolve() };

export function openEventLog(log: Config["log"], fallback?: (line: string) => void): EventLog {
  const sink = chooseSink(log, fallback);
  if (!sink) return silentLog;
  const threshold = LEVEL_RANK[log.level];
  return {
    event(name, fields) {
      const level = EVENT_LEVEL[name];
      if (LEVEL_RANK[level] < threshold) return;
      try {
        sink.write(formatEvent(name, fields), level);
      } catch {
        // a log that cannot be written must not cost a message
      }
    },
    close: () => sink.close().catch(() => undefined),
  };
}

export type LogDestination = { kind: "syslog" | "file"; path: string } | { kind: "none" };

/** The syslog socket when it exists, else the file, else none; `doctor` reports the same choice. */
export function logDestination(log: Config["log"]): LogDestination {
  if (log.syslog !== "" && isSocket(log.syslog)) return { kind: "syslog", path: log.syslog };
  if (log.file) return { kind: "file", path: log.file };
  return { kind: "none" };
}

function chooseSink(log: Config["log"], fallback?: (line: string) => void): LineSink | undefined {
  const to = logDestination(log);
  if (to.kind === "syslog") return new SyslogSink(to.path, log.facility);
  if (to.kind === "file") return new FileSink(to.path);
  if (fallback) return { write: (line) => fallback(line), close: () => Promise.resolve() };
  return undefined;
}

function isSocket(path: string): boolean {
  try {
    return statSync(path).isSocket();
  } catch {
    return false;
  }
}
