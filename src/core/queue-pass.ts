/** What one pass over the spool carries to each entry or digest it works on, and how failures back off. */
import type { Config } from "../config/schema.js";
import type { EventLog } from "../log/event-log.js";
import type { Relay } from "../relay/relay.js";
import type { Spool } from "../store/spool.js";

export interface RunReport {
  relayed: number;
  deferred: number;
  held: number;
}

export interface Pass {
  config: Config;
  hostname: string;
  spool: Spool;
  relay: Relay;
  now: Date;
  report: RunReport;
  force: boolean;
  log: EventLog;
  /** Called after each relay's 250, before the entry is updated: the crash tests' seam. */
  checkpoint?: (point: string) => void;
}

/** retry_min, doubling, capped at retry_max, with ±10 % jitter so a backlog does not retry in lockstep. */
export function backoffSeconds(attempts: number, minSeconds = 60, maxSeconds = 3600): number {
  const base = Math.min(maxSeconds, minSeconds * 2 ** Math.min(30, Math.max(0, attempts - 1)));
  return Math.max(1, Math.round(base * (0.9 + Math.random() * 0.2)));
}
