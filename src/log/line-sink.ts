/** Where the event log's lines go: syslog, a file, or serve's stdout. */
import type { LogLevel } from "../config/schema.js";

export interface LineSink {
  write(line: string, level: LogLevel): void;
  close(): Promise<void>;
}
