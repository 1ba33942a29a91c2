/**
 * The full bundle's entry (dist/bundle/sealpost.cjs): every command. start.cts runs it for
 * everything but deliver and sendmail, and the light bundle hands those over to it when they need
 * OpenPGP in-process (relay = "inline", a key index to rebuild, sendmail -q).
 */
import type { PipeCommand } from "./pipe-command.js";
import { finish, guardProcess } from "./process-guard.js";

export interface EntryOptions {
  argv: string[];
  invokedAs: string;
  pipe?: PipeCommand;
}

export function run(options: EntryOptions): void {
  const pipe = options.pipe !== undefined;
  guardProcess(pipe);
  // No top-level await: this runs from a CommonJS bundle (start.cts).
  finish(import("./program.js").then(({ runCli }) => runCli(options.argv, options.pipe)));
}
