/** `sealpost classify [FILE|-] [--json]`: what kind of mail a message is, for writing and debugging routes. */
import type { Command } from "commander";
import { readFile } from "node:fs/promises";
import { errnoWords } from "../core/errors.js";
import { printable } from "../core/printable.js";
import { fail, out, readStdin } from "./io.js";
import type { Registration } from "./registration.js";

export function classifyCommand(program: Command, { set }: Registration): void {
  program
    .command("classify")
    .description("print the kind of a message (fail2ban.ban, login.failure, cron, ...) and what it says, as routes see it")
    .argument("[file]", "the message (an mbox From_ line first is fine); - or none reads stdin", "-")
    .option("--json", 'print {"kind": ..., "fields": {...}}')
    .addHelpText(
      "after",
      `
Kinds: fail2ban.ban fail2ban.unban fail2ban.start fail2ban.stop login.success login.failure
privilege.sudo privilege.su cron at logwatch raid disk updates bounce other.
A route's match_kind takes kinds, families ("login.*") or "*".

Examples:
  sealpost classify /var/lib/sealpost/Maildir/cur/1700000000.M1P2.web01:2,S
  sealpost classify --json < ban.eml`,
    )
    .action((file: string, opts: { json?: boolean }) =>
      set(async () => {
        let bytes: Buffer;
        try {
          bytes = file === "-" ? await readStdin() : await readFile(file);
        } catch (e) {
          return fail("classify", `cannot read ${printable(file)}: ${errnoWords(e)}`);
        }
        const { classifyRaw } = await import("../classify/classify.js");
        const result = await classifyRaw(bytes);
        if (opts.json) {
          out(JSON.stringify(result));
        } else {
          const width = Math.max(4, ...Object.keys(result.fields).map((k) => k.length));
          out(
            [`${"kind".padEnd(width)}  ${result.kind}`, ...Object.entries(result.fields).map(([k, v]) => `${k.padEnd(width)}  ${v}`)].join(
              "\n",
            ),
          );
        }
        return 0;
      }),
    );
}
