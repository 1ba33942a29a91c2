/** `sealpost init`: the host set-up, idempotent; `--dry-run` says what it would do. */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { MtaTools } from "../ops/init-lmtp.js";
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
  lmtp?: boolean;
}

export function initCommand(program: Command, { set }: Registration): void {
  program
    .command("init")
    .description("set this host up: system user, /etc/sealpost, spool, local store, .forward, /etc/aliases (as root; idempotent)")
    .option("--dry-run", "only say what would be done")
    .option("--user <name>", "the system user sealpost runs as", "sealpost")
    .option("--root <dir>", "set up under this directory instead of / (images, tests)", "/")
    .option("--write-aliases", "write root: USER into /etc/aliases and run newaliases (otherwise the line is printed)")
    .option("--sendmail-link", "make /usr/sbin/sendmail a link to sealpost (hosts without an MTA)")
    .option("--systemd", "install the systemd unit for sealpost serve")
    .option("--lmtp", "the MTA (Postfix or Exim) hands root's mail to sealpost serve over LMTP, instead of a .forward pipe")
    .addHelpText(
      "after",
      "\nExamples:\n  sudo sealpost init --dry-run\n  sudo sealpost init --write-aliases\n  sudo sealpost init --sendmail-link --systemd    (no MTA on this host)\n  sudo sealpost init --write-aliases --lmtp       (heavy mail: Postfix or Exim over LMTP)",
    )
    .action((flags: InitFlags) =>
      set(async () => {
        if (!flags.dryRun && flags.root === "/" && process.getuid?.() !== 0)
          return fail("init", "needs root (or --dry-run to see what it would do)");
        const { init } = await import("../ops/init.js");
        const asset = packageFile;
        try {
          const steps = await init(
            {
              user: flags.user,
              root: flags.root,
              dryRun: flags.dryRun === true,
              writeAliases: flags.writeAliases === true,
              sendmailLink: flags.sendmailLink === true,
              systemd: flags.systemd === true,
              lmtp: flags.lmtp === true,
              launcher: asset("bin/sealpost"),
              exampleConfig: asset("examples/sealpost.toml"),
              systemdUnit: asset("examples/systemd/sealpost.service"),
            },
            { lookupUser, createUser, newaliases, mta: mtaTools(flags.root) },
          );
          for (const step of steps) out(`${step.state.padEnd(5)} ${step.text}`);
          return 0;
        } catch (e) {
          return fail("init", (e as Error).message);
        }
      }),
    );
}

function createUser(user: string, home: string): void {
  const r = spawnSync("/usr/sbin/useradd", [
    "--system",
    "--home-dir",
    home,
    "--no-create-home",
    "--shell",
    "/usr/sbin/nologin",
    "--user-group",
    user,
  ]);
  if (r.status !== 0) throw new Error(`useradd ${user} failed: ${r.stderr.toString().trim().split("\n")[0]}`);
}

function newaliases(): void {
  const cmd = ["/usr/bin/newaliases", "/usr/sbin/newaliases"].find((p) => existsSync(p));
  if (cmd) spawnSync(cmd);
}

const SBIN = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C" };

/** Runs an MTA tool; its output, or an error with its first line of complaint. */
function tool(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", env: SBIN });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${(r.stderr || r.stdout || `exit ${r.status}`).trim().split("\n")[0]}`);
  return r.stdout;
}

/**
 * The host's Postfix or Exim, for init --lmtp. Under --root (an image, a test) Postfix's tools
 * work on that root's /etc/postfix (postconf -c); nothing is reloaded there.
 */
function mtaTools(root: string): MtaTools {
  const at = (p: string) => join(root, p);
  const live = root === "/";
  const kind =
    existsSync("/usr/sbin/postconf") && existsSync(at("/etc/postfix/main.cf"))
      ? "postfix"
      : existsSync(at("/etc/exim4/update-exim4.conf.conf"))
        ? "exim"
        : undefined;
  return {
    kind,
    groupId: (group) => {
      const file = existsSync(at("/etc/group")) ? at("/etc/group") : "/etc/group"; // a scratch root without one: the host's groups
      const line = readFileSync(file, "utf8")
        .split("\n")
        .find((l) => l.startsWith(`${group}:`));
      return line ? Number(line.split(":")[2]) : undefined;
    },
    postconf: (args) => tool("/usr/sbin/postconf", ["-c", at("/etc/postfix"), ...args]),
    postmap: (file) => void tool("/usr/sbin/postmap", [file]),
    reloadPostfix: () => {
      if (live && spawnSync("/usr/sbin/postfix", ["status"], { env: SBIN }).status === 0) tool("/usr/sbin/postfix", ["reload"]);
    },
    eximSplitConfig: () => /^dc_use_split_config\s*=\s*'?true'?/m.test(readFileSync(at("/etc/exim4/update-exim4.conf.conf"), "utf8")),
    updateExim: () => {
      if (live) tool("/usr/sbin/update-exim4.conf", []);
    },
  };
}
