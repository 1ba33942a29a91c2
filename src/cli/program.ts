/** commander wiring: which command runs, with what options. No mail logic here. */
import { Command, CommanderError } from "commander";
import { classifyCommand } from "./classify-command.js";
import { demoCommand } from "./demo-command.js";
import { doctorCommand } from "./doctor-command.js";
import { initCommand } from "./init-command.js";
import { testCommand } from "./test-command.js";
import { heavy } from "./heavy.js";
import { runPipe, type PipeCommand } from "./pipe-door.js";
import { keysCommands } from "./keys-command.js";
import { queueCommands } from "./queue-command.js";
import { serveCommand } from "./serve-command.js";
import { VERSION } from "./version.js";
import type { Action, Registration } from "./registration.js";
import { EX_TEMPFAIL } from "../core/outcome.js";

/** `pipe`: deliver or sendmail as start.cts found it in argv; their stderr goes to the MTA. */
export async function runCli(argv: string[], pipe?: PipeCommand): Promise<number> {
  // deliver and sendmail read their own flags (-FCronDaemon, -odi, -f SENDER): never commander's.
  if (pipe) return runPipe(pipe, { heavy });
  let action: Action | undefined;
  // Set before the commands are added, because each command copies these settings when it is created.
  const program = new Command("sealpost")
    .description("Forward this server's system mail to an external mailbox, sealed with OpenPGP.")
    .version(VERSION, "--version")
    // declared once: commander reads a program option before or after the command, and every
    // command's --help lists it (showGlobalOptions)
    .option("-c, --config <file>", "config file")
    .configureHelp({ showGlobalOptions: true })
    .exitOverride()
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) })
    .showHelpAfterError(false)
    .addHelpText(
      "after",
      `
Examples:
  sealpost keys import ops-key.asc        store the recipient's public key
  sealpost deliver                        in ~/.forward: "|/usr/bin/sealpost deliver"
  sealpost queue list --json              what waits in the spool
  sealpost serve                          SMTP on 127.0.0.1:2525 for hosts without an MTA
  sealpost sendmail -t < message          as /usr/sbin/sendmail (also when started as "sendmail")
  sealpost demo                           seal a sample alert end to end, on this machine only

Config: -c FILE, else $SEALPOST_CONFIG, else /etc/sealpost/sealpost.toml`,
    );

  const registration: Registration = {
    set: (a: Action) => {
      action = a;
    },
    configFile: () => program.opts<{ config?: string }>().config,
  };
  // deliver and sendmail never get here (runPipe above); listed for `sealpost --help` only.
  program
    .command("deliver")
    .description(`the pipe target: one message on stdin, kept, committed and relayed; exit 0 or ${EX_TEMPFAIL} (sealpost deliver --help)`);
  program
    .command("sendmail")
    .description(`sendmail-compatible submission for hosts without an MTA; exit 0 or ${EX_TEMPFAIL} (sealpost sendmail --help)`);
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
      return e.exitCode === 0 ? 0 : 1; // --help, --version
    }
    throw e;
  }
  return action ? action() : 0;
}
