/** `sealpost deliver [-f SENDER] [RECIPIENT...]`: the pipe target (SPEC §1). */
import type { Command } from "commander";
import { configPath } from "../config/load.js";

import { pipeAnswer } from "../core/outcome.js";
import type { Config } from "../config/schema.js";
import { SealpostError, Status } from "../core/errors.js";
import { startBackgroundRun } from "./background-run.js";
import { enterSpool } from "./spool-user.js";
import { crashSeam, readStdin } from "./io.js";
import type { Registration } from "./program.js";

export function deliverCommand(program: Command, { set, globalConfig }: Registration): void {
  program.command("deliver")
    .description("read one message on stdin (as Postfix local(8) or Exim's pipe transport hand it over), keep the local copy, seal and relay it")
    .option("-c, --config <file>", "config file")
    .option("-f, --from <sender>", "envelope sender (else $SENDER)")
    .argument("[recipients...]", "envelope recipients (else $RECIPIENT / $ORIGINAL_RECIPIENT or $LOCAL_PART@$DOMAIN)")
    .addHelpText("after", `
Exit status is 0 (stored, and relayed or spooled) or 75 (try again later), never anything else.

Examples:
  ~/.forward:      "|/usr/bin/sealpost deliver"
  /etc/aliases:    root: root, "|/usr/bin/sealpost -c /etc/sealpost/sealpost.toml deliver"`)
    .action((recipients: string[], opts: { config?: string; from?: string }) => set(async () => {
      const input = await readStdin();
      const { deliver } = await import("../core/deliver.js");
      const configFile = configPath(opts.config ?? globalConfig(), process.env);
      const outcome = await deliver({
        input, env: process.env, args: { sender: opts.from, recipients }, configFile, checkpoint: crashSeam(), enterSpool: spoolForDeliver,
      });
      if (outcome.kind === "batched") startBackgroundRun(configFile); // someone must send the digest when its window ends
      const answer = pipeAnswer(outcome);
      if (answer.stderr) process.stderr.write(answer.stderr);
      if (process.env.SEALPOST_DEBUG && outcome.kind === "deferred") process.stderr.write(`${String((outcome.error.cause as Error)?.stack ?? outcome.error.cause)}\n`);
      return answer.exitCode;
    }));
}

/** deliver writes the spool itself (its ledger lives there): run as anyone who may not, it defers. */
async function spoolForDeliver(config: Config): Promise<void> {
  if ((await enterSpool(config)) === "drop") {
    throw new SealpostError(Status.storage, "permission denied on sealpost's spool (run as the wrong user? see sealpost doctor)");
  }
}
