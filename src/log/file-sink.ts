/**
 * Events appended to a file: each line one open(O_APPEND) + write(2), so lines from concurrent
 * deliver processes never interleave, and a long-running `serve` follows logrotate's rename
 * without a signal. Each line starts with an RFC 3339 time and the pid.
 */
import { appendFileSync } from "node:fs";
import type { LineSink } from "./line-sink.js";

const RETRY_MS = 60_000;

export class FileSink implements LineSink {
  private failedAt = -Infinity;

  constructor(private readonly path: string) {}

  write(line: string, level: string): void {
    if (Date.now() - this.failedAt < RETRY_MS) return;
    try {
      appendFileSync(this.path, `${new Date().toISOString()} sealpost[${process.pid}] ${level}: ${line}\n`, { mode: 0o640 });
    } catch {
      this.failedAt = Date.now(); // unwritable: `doctor` reports it; serve tries again later
    }
  }

  async close(): Promise<void> {}
}
