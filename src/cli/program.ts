/** commander wiring: which command runs, with what options. No mail logic here. */
import { Command, CommanderError } from "commander";
import { deliverCommand } from "./deliver-command.js";
import { classifyCommand } from "./classify-command.js";
import { demoCommand } from "./demo-command.js";
import { doctorCommand } from "./doctor-command.js";
import { initCommand } from "./init-command.js";
import { testCommand } from "./test-command.js";
import { err } from "./io.js";
import { keysCommands } from "./keys-command.js";
import { queueCommands } from "./queue-command.js";
import { serveCommand } from "./serve-command.js";
import { VERSION } from "./version.js";

export type Action = () => Promise<number>;

/** What each command's registration gets: where to put its action, and -c given before the command. */
export interface Registration {
  set: (a: Action) => void;
  globalConfig: () => string | undefined;
}

/** `pipe`: deliver or sendmail, whose stderr goes to the MTA (decided once, in main.ts). */
export async function runCli(argv: string[], invokedAs: string, pipe: boolean): Promise<number> {
  // sendmail's flags (-FCronDaemon, -odi, -oem) are not commander's: that command parses its own.
  const sendmailAt = invokedAs === "sendmail" ? -1 : commandIndex(argv);
  if (invokedAs === "sendmail" || argv[sendmailAt] === "sendmail") {
    const { runSendmail } = await import("./sendmail-command.js");
    const config = sendmailAt > 0 ? argv.slice(0, sendmailAt).find((_, i, a) => i > 0 && (a[i - 1] === "-c" || a[i - 1] === "--config")) : undefined;
    return runSendmail(argv.slice(sendmailAt + 1), config);
  }
  let action: Action | undefined;
  // In pipe mode stderr goes to the MTA: one 4.x.x line, never commander's usage text. Set before
  // the commands are added, because each command copies these settings when it is created.
  const program = new Command("sealpost")
    .description("Forward this server's system mail to an external mailbox, sealed with OpenPGP.")
    .version(VERSION, "--version")
    .option("-c, --config <file>", "config file (also accepted after the command)")
    .exitOverride()
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => (pipe ? undefined : process.stderr.write(s)) })
    .showHelpAfterError(false)
    .addHelpText("after", `
Examples:
  sealpost keys import ops-key.asc        store the recipient's public key
  sealpost deliver                        in ~/.forward: "|/usr/bin/sealpost deliver"
  sealpost queue list --json              what waits in the spool
  sealpost serve                          SMTP on 127.0.0.1:2525 for hosts without an MTA
  sealpost sendmail -t < message          as /usr/sbin/sendmail (also when started as "sendmail")
  sealpost demo                           seal a sample alert end to end, on this machine only

Config: -c FILE, else $SEALPOST_CONFIG, else /etc/sealpost/sealpost.toml`);

  const registration: Registration = {
    set: (a: Action) => { action = a; },
    globalConfig: () => program.opts<{ config?: string }>().config,
  };
  deliverCommand(program, registration);
  keysCommands(program, registration);
  queueCommands(program, registration);
  serveCommand(program, registration);
  doctorCommand(program, registration);
  initCommand(program, registration);
  testCommand(program, registration);
  classifyCommand(program, registration);
  demoCommand(program, registration);

  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return 0; // --help, --version
      if (pipe) return pipeFailure(e.message.replace(/^error: /, ""));
      return 1;
    }
    throw e;
  }
  return action ? action() : 0;
}

/** Where the command name is in argv (after an optional -c FILE), or -1. */
function commandIndex(argv: string[]): number {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "-c" || argv[i] === "--config") i++;
    else if (!argv[i]!.startsWith("-")) return i;
  }
  return -1;
}

/** deliver/sendmail's answer when it cannot even start: 75 and one line, so the MTA retries. */
export function pipeFailure(message: string): number {
  err(`4.3.5 sealpost: ${message.split("\n")[0]}`);
  return 75;
}
