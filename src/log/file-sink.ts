/**
 * Events appended to a file, one write(2) per line with O_APPEND, so lines from concurrent
 * deliver processes never interleave. Each line starts with an RFC 3339 time and the pid.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import type { LineSink } from "./event-log.js";

export class FileSink implements LineSink {
  private fd: number | undefined;
  private failed = false;

  constructor(private readonly path: string) {}

  write(line: string, level: string): void {
    if (this.failed) return;
    try {
      this.fd ??= openSync(this.path, "a", 0o640);
      writeSync(this.fd, `${new Date().toISOString()} sealpost[${process.pid}] ${level}: ${line}\n`);
    } catch {
      this.failed = true; // unwritable: stop trying for this process; `doctor` reports it
    }
  }

  async close(): Promise<void> {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
