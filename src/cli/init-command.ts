/** `sealpost init`: the host set-up, idempotent; `--dry-run` says what it would do. */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { packageFile } from "./entry.js";
import type { Command } from "commander";
import { fail, out } from "./io.js";
import { lookupUser } from "../core/passwd.js";
import type { Registration } from "./registration.js";

interface InitFlags {
  dryRun?: boolean;
  user: string;
  root: string;
  writeAliases?: boolean;
  sendmailLink?: boolean;
  systemd?: boolean;
}

export function initCommand(program: Command, { set }: Registration): void {
  program.command("init")
    .description("set this host up: system user, /etc/sealpost, spool, local store, .forward, /etc/aliases (as root; idempotent)")
    .option("--dry-run", "only say what would be done")
    .option("--user <name>", "the system user sealpost runs as", "sealpost")
    .option("--root <dir>", "set up under this directory instead of / (images, tests)", "/")
    .option("--write-aliases", "write root: USER into /etc/aliases and run newaliases (otherwise the line is printed)")
    .option("--sendmail-link", "make /usr/sbin/sendmail a link to sealpost (hosts without an MTA)")
    .option("--systemd", "install the systemd unit for sealpost serve")
    .addHelpText("after", "\nExamples:\n  sudo sealpost init --dry-run\n  sudo sealpost init --write-aliases\n  sudo sealpost init --sendmail-link --systemd    (no MTA on this host)")
    .action((flags: InitFlags) => set(async () => {
      if (!flags.dryRun && flags.root === "/" && process.getuid?.() !== 0) return fail("init", "needs root (or --dry-run to see what it would do)");
      const { init } = await import("../ops/init.js");
      const asset = packageFile;
      try {
        const steps = await init({
          user: flags.user, root: flags.root, dryRun: flags.dryRun === true, writeAliases: flags.writeAliases === true,
          sendmailLink: flags.sendmailLink === true, systemd: flags.systemd === true,
          launcher: asset("bin/sealpost"), exampleConfig: asset("examples/sealpost.toml"), systemdUnit: asset("examples/systemd/sealpost.service"),
        }, { lookupUser, createUser, newaliases });
        for (const step of steps) out(`${step.state.padEnd(5)} ${step.text}`);
        return 0;
      } catch (e) {
        return fail("init", (e as Error).message);
      }
    }));
}

function createUser(user: string, home: string): void {
  const r = spawnSync("/usr/sbin/useradd", ["--system", "--home-dir", home, "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group", user]);
  if (r.status !== 0) throw new Error(`useradd ${user} failed: ${r.stderr.toString().trim().split("\n")[0]}`);
}

function newaliases(): void {
  const cmd = ["/usr/bin/newaliases", "/usr/sbin/newaliases"].find((p) => existsSync(p));
  if (cmd) spawnSync(cmd);
}
