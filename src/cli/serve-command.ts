/** `sealpost serve`: the loopback SMTP listener and spool runner, in the foreground (docs/contract.md §1, §2). */
import type { Command } from "commander";
import { commandConfig } from "./config-option.js";
import { fail, out } from "./io.js";
import type { Registration } from "./registration.js";
import { enterSpool } from "./spool-user.js";

const STOP_DEADLINE_MS = 14_000; // within 15 s, under the unit's TimeoutStopSec; what has not had its 250 is retried by its sender

export function serveCommand(program: Command, { set, configFile }: Registration): void {
  program
    .command("serve")
    .description("SMTP on loopback for hosts without an MTA; runs the spool; stops cleanly on SIGTERM")
    .addHelpText(
      "after",
      `
Examples:
  sealpost -c /etc/sealpost/sealpost.toml serve     (systemd: examples/systemd/sealpost.service)
  msmtp --host=127.0.0.1 --port=2525 root < report.txt`,
    )
    .action(() =>
      set(async () => {
        let server;
        try {
          const config = commandConfig(configFile());
          // Run as root, serve becomes the spool's user first, like every door that writes the spool.
          if ((await enterSpool(config)) === "drop")
            return fail("serve", `this user may not write spool_dir ${config.spoolDir}; run serve as its owner (${config.user})`);
          const { SealpostServer } = await import("../serve/server.js");
          server = new SealpostServer(config, out);
          await server.start();
          out(`sealpost serve: listening on ${config.serve.listen}${config.serve.lmtp ? `, LMTP on ${config.serve.lmtp}` : ""}`);
        } catch (e) {
          return fail("serve", (e as Error).message);
        }
        const running = server;
        return new Promise<number>((resolve) => {
          const stop = () => {
            out("sealpost serve: stopping");
            setTimeout(() => resolve(0), STOP_DEADLINE_MS).unref();
            running.stop().then(
              () => resolve(0),
              () => resolve(0),
            );
          };
          process.once("SIGTERM", stop);
          process.once("SIGINT", stop);
        });
      }),
    );
}
