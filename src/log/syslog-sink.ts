/**
 * Events to syslog. Node cannot open the unix datagram socket behind /dev/log, so lines go
 * through one logger(1) child (util-linux, on every Debian) started at the first event:
 * `--prio-prefix` carries each line's own priority, `--id` our pid. The child's output is
 * discarded: a syslog error must never reach the MTA's one-line answer on our stderr.
 */
import type * as Child from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { lazy } from "../core/builtin.js";
import type { LineSink } from "./line-sink.js";
import type { SyslogFacility } from "../config/schema.js";

const FACILITY_CODE: Record<SyslogFacility, number> = {
  user: 1,
  mail: 2,
  daemon: 3,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
};
const SEVERITY: Record<string, number> = { error: 3, warning: 4, info: 6, debug: 7 };
const LOGGER = "/usr/bin/logger";
const childProcess = lazy<typeof Child>("node:child_process"); // only once there is something to log // util-linux's bsdutils, essential on Debian
const CLOSE_WAIT_MS = 2_000;

export class SyslogSink implements LineSink {
  private child: ChildProcess | undefined;
  private broken = false;

  constructor(
    private readonly socket: string,
    private readonly facility: SyslogFacility,
  ) {}

  write(line: string, level: string): void {
    const child = this.start();
    if (!child?.stdin?.writable) return;
    child.stdin.write(`<${FACILITY_CODE[this.facility] * 8 + (SEVERITY[level] ?? 6)}>${line}\n`);
  }

  close(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        child.kill();
        resolve();
      }, CLOSE_WAIT_MS);
      child.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      child.stdin?.end();
    });
  }

  private start(): ChildProcess | undefined {
    if (this.child || this.broken) return this.child;
    try {
      const child = childProcess().spawn(
        LOGGER,
        ["--socket", this.socket, "--tag", "sealpost", `--id=${process.pid}`, "--prio-prefix", "--size", "2048"],
        {
          stdio: ["pipe", "ignore", "ignore"],
        },
      );
      child.on("error", () => {
        this.broken = true; // no logger(1): events are lost, mail is not
      });
      child.stdin.on("error", () => undefined);
      this.child = child;
    } catch {
      this.broken = true;
    }
    return this.child;
  }
}
