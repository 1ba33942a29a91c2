/** The only place that reads stdin and writes stdout/stderr. */
import { read } from "node:fs";

/**
 * All of stdin in one buffer that grows by doubling: a 25 MB report is then held once, not
 * also as 400 small chunks that the allocator keeps after they are joined (peak memory). Read
 * from descriptor 0 itself, not through process.stdin: that stream would load node:net and the
 * streams (a pipe is a socket to it), and deliver runs once per message.
 */
export async function readStdin(): Promise<Buffer> {
  let buffer = Buffer.allocUnsafeSlow(1 << 16);
  let length = 0;
  for (;;) {
    if (length === buffer.length) {
      const grown = Buffer.allocUnsafeSlow(buffer.length * 2);
      buffer.copy(grown, 0, 0, length);
      buffer = grown;
    }
    const n = await new Promise<number>((resolve, reject) => {
      read(0, buffer, length, buffer.length - length, null, (err, bytes) => {
        if (err && err.code === "EAGAIN")
          resolve(-1); // a non-blocking descriptor with nothing yet: wait a moment
        else if (err && err.code !== "EOF") reject(err);
        else resolve(err ? 0 : bytes);
      });
    });
    if (n === 0) break;
    if (n < 0) await new Promise((resolve) => setTimeout(resolve, 5));
    else length += n;
  }
  return buffer.subarray(0, length);
}

export function out(text: string): void {
  process.stdout.write(text.endsWith("\n") ? text : text + "\n");
}

export function err(text: string): void {
  process.stderr.write(text.endsWith("\n") ? text : text + "\n");
}

/** One-line error for commands other than deliver/sendmail; returns their exit status. */
export function fail(command: string, message: string): number {
  err(`sealpost ${command}: ${message.split("\n")[0]}`);
  return 1;
}

/**
 * The crash tests' seam: with SEALPOST_TEST_CRASH_AT=<point>, the process kills itself with
 * SIGKILL when it reaches that point, exactly as the OOM killer or a power cut would.
 */
export function crashSeam(env: NodeJS.ProcessEnv = process.env): ((point: string) => void) | undefined {
  const at = env.SEALPOST_TEST_CRASH_AT;
  if (!at) return undefined;
  return (point) => {
    if (point === at) process.kill(process.pid, "SIGKILL");
  };
}
