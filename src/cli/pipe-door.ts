/**
 * The two doors an MTA or a mail-sending program runs once per message — deliver and sendmail
 * (also when started under the name "sendmail") — found in argv without a command-line framework,
 * so that the light bundle (cli/intake-main.ts) can run them with nothing else loaded.
 */
import { deliverDoor, type DoorOptions } from "./deliver-door.js";
import type { PipeCommand } from "./pipe-command.js";
import { sendmailDoor } from "./sendmail-door.js";

export type { PipeCommand } from "./pipe-command.js";

export function runPipe(command: PipeCommand, options: DoorOptions): Promise<number> {
  return command.door === "deliver"
    ? deliverDoor(command.args, command.config, options)
    : sendmailDoor(command.args, command.config, options);
}
