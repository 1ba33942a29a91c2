/**
 * The light bundle's entry (dist/bundle/intake.cjs): deliver and sendmail, the doors that run
 * once per message, with nothing of OpenPGP, nodemailer, smtp-server or commander in it
 * (tools/bundle.mjs fails the build if any of them gets in). When a door needs them it hands
 * itself over, before reading stdin, to the full bundle, which `loadFull` runs.
 */
import type { EntryOptions } from "./main.js";
import { runPipe } from "./pipe-door.js";
import { finish, guardProcess } from "./process-guard.js";

export function run(options: EntryOptions & { loadFull: () => { run: (o: EntryOptions) => void } }): void {
  guardProcess(true);
  const handOver = (): Promise<number> => {
    options.loadFull().run(options); // it answers and exits the process
    return new Promise<number>(() => undefined);
  };
  finish(runPipe(options.pipe!, { handOver }));
}
