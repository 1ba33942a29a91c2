/**
 * Which pipe door argv names, read once, by the process entry (start.cts picks the light bundle
 * with it) and passed on: deliver, or sendmail (also when started under the name "sendmail").
 * CommonJS, because the entry that reads it is.
 */
export interface PipeCommand {
  door: "deliver" | "sendmail";
  /** The arguments after the command's name (all of them, started as "sendmail"). */
  args: string[];
  /** -c FILE given before the command. */
  config?: string;
}

/** The pipe command in argv, or undefined when argv names another command (or none). */
export function pipeCommand(argv: readonly string[], invokedAs: string): PipeCommand | undefined {
  if (invokedAs === "sendmail") return { door: "sendmail", args: [...argv] };
  let config: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "-c" || a === "--config") config = argv[++i];
    else if (a.startsWith("--config=")) config = a.slice("--config=".length);
    else if (a.startsWith("-")) return undefined; // --help, --version: the full CLI's
    else return a === "deliver" || a === "sendmail" ? { door: a, args: argv.slice(i + 1), config } : undefined;
  }
  return undefined;
}
