/** `sealpost demo`: shows the whole path on this machine, with nothing to set up. */
import type { Command } from "commander";
import { out } from "./io.js";
import type { Registration } from "./registration.js";

export function demoCommand(program: Command, { set }: Registration): void {
  program
    .command("demo")
    .addHelpText("after", "\nExamples:\n  sealpost demo\n  sealpost demo --keep     then look at the printed directory")
    .description("seal a sample fail2ban notice end to end with a throw-away key and a loopback sink (nothing leaves this machine)")
    .option("--keep", "keep the demo's directory (config, keys, Maildir) to look at")
    .action((opts: { keep?: boolean }) =>
      set(async () => {
        const { runDemo } = await import("../demo/demo.js");
        const r = await runDemo(opts.keep === true);
        const outer = r.relayed ? r.relayed.toString("latin1").split("\r\n\r\n")[0]! : "(nothing relayed)";
        out(
          [
            "sealpost demo — everything below happened on this machine, over 127.0.0.1 only",
            "",
            `1. generated a throw-away OpenPGP key for admin@example.net: ${r.fingerprint}`,
            `2. piped a fail2ban ban notice into deliver, as Postfix would: ${r.outcome.kind} (local copy and spool entry durable, exit 0)`,
            `3. kept the local plaintext copy: ${r.localCopy ?? "(none)"}${opts.keep ? "" : " (removed again; --keep keeps it)"}`,
            `4. the runner sealed it and relayed ${r.relayedCount} message; what the relay received — the header, then only the RFC 3156 wrapper around ciphertext:`,
            "",
            ...outer.split("\r\n").map((line) => `     ${line}`),
            "",
            `5. decrypted with the throw-away secret key: ${r.originalInside ? "the original body, byte for byte" : "MISMATCH"}`,
            `   plaintext visible to the relay: ${r.plaintextOutside ? "YES (this is a bug)" : "none"}`,
            "",
            r.decrypted
              ? "   the inner header, as the recipient's mail client sees it:\n" +
                r.decrypted
                  .toString("utf8")
                  .split("\r\n\r\n")[0]!
                  .split("\r\n")
                  .map((l) => `     ${l}`)
                  .join("\n")
              : "",
          ].join("\n"),
        );
        return r.originalInside && !r.plaintextOutside && r.outcome.kind === "spooled" && r.relayedCount === 1 ? 0 : 1;
      }),
    );
}
