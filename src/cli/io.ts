/** The only place that reads stdin and writes stdout/stderr. */
/**
 * All of stdin in one buffer that grows by doubling: a 25 MB report is then held once, not
 * also as 400 small chunks that the allocator keeps after they are joined (peak memory).
 */
export async function readStdin(): Promise<Buffer> {
  let buffer = Buffer.allocUnsafeSlow(1 << 16);
  let length = 0;
  for await (const chunk of process.stdin) {
    const piece = chunk as Buffer;
    if (length + piece.length > buffer.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(buffer.length * 2, length + piece.length));
      buffer.copy(grown, 0, 0, length);
      buffer = grown;
    }
    length += piece.copy(buffer, length);
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
