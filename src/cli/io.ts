/** The only place that reads stdin and writes stdout/stderr. */
export async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
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
