/** `sealpost test [--to ADDRESS]`: send a sealed test message through the whole path and print its id. */
import type { Command } from "commander";
import { commandConfig } from "./config-option.js";
import { fail, out } from "./io.js";
import type { Registration } from "./registration.js";

export function testCommand(program: Command, { set, configFile }: Registration): void {
  program
    .command("test")
    .description("send a sealed test message through the whole path (local copy, keys, sealing, relay) and print its id")
    .option("--to <address>", "send to this address (its key must be in keys_dir) instead of root's route")
    .addHelpText("after", "\nExamples:\n  sealpost test\n  sealpost test --to ops@example.net")
    .action((opts: { to?: string }) =>
      set(async () => {
        try {
          const { sendTestMessage } = await import("../ops/send-test.js");
          const sent = await sendTestMessage(commandConfig(configFile()), opts.to);
          for (const { recipient, reply } of sent.replies) out(`sent ${sent.messageId} to ${recipient}: ${reply}`);
          return 0;
        } catch (e) {
          return fail("test", (e as Error).message);
        }
      }),
    );
}
