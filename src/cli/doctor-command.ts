/** `sealpost doctor`: plain-words checks with a fix for each problem; exit 0 ok, 1 warnings, 2 errors. */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { commandConfig } from "./config-option.js";
import { fail, out } from "./io.js";
import { homeOf, lookupUser, userName } from "../core/passwd.js";
import type { Registration } from "./registration.js";
import type { MtaFacts } from "../ops/doctor.js";
import type { LmtpFacts } from "../ops/lmtp-check.js";
import { readFile } from "node:fs/promises";

export function doctorCommand(program: Command, { set, configFile }: Registration): void {
  program
    .command("doctor")
    .description("check the config, the keys, the relay (without sending), storage as the MTA's user, and the spool")
    .addHelpText("after", "\nExit status: 0 all well, 1 warnings, 2 something stops mail.\n\nExample:\n  sudo -u sealpost sealpost doctor")
    .action(() =>
      set(async () => {
        const { doctor, readAliases } = await import("../ops/doctor.js");
        let config;
        try {
          config = commandConfig(configFile());
        } catch (e) {
          fail("doctor", (e as Error).message);
          return 2;
        }
        const findings = await doctor(config, {
          aliases: readAliases,
          postfixAliasUser,
          eximAliasPipes,
          userIds: lookupUser,
          lmtp: lmtpFacts(config.user),
        });
        for (const f of findings) {
          out(`${f.level === "ok" ? "ok   " : f.level === "warn" ? "WARN " : "ERROR"} ${f.area}: ${f.text}`);
          if (f.fix) out(`      fix: ${f.fix}`);
        }
        const errors = findings.filter((f) => f.level === "error").length;
        const warnings = findings.filter((f) => f.level === "warn").length;
        out(errors ? `${errors} problem(s) stop mail` : warnings ? `${warnings} warning(s)` : "all well");
        return errors ? 2 : warnings ? 1 : 0;
      }),
    );
}

function postfixAliasUser(): ReturnType<MtaFacts["postfixAliasUser"]> {
  const postconf = ["/usr/sbin/postconf", "/usr/bin/postconf"].find((p) => existsSync(p));
  if (!postconf) return undefined;
  const db = ["/etc/aliases.db", "/etc/aliases.lmdb", "/etc/aliases.cdb"].map((p) => statSync(p, { throwIfNoEntry: false })).find(Boolean);
  const owner = db && db.uid !== 0 ? userName(db.uid) : undefined;
  if (owner) return { user: owner, as: "the alias database's owner" };
  const r = spawnSync(postconf, ["-h", "default_privs"]);
  return r.status === 0 ? { user: r.stdout.toString().trim() || "nobody", as: "default_privs" } : undefined;
}

/** Debian's Exim runs pipes from /etc/aliases only with SYSTEM_ALIASES_PIPE_TRANSPORT set. */
function eximAliasPipes(): boolean | undefined {
  if (!existsSync("/usr/sbin/exim4")) return undefined;
  const files = [
    "/etc/exim4/exim4.conf.localmacros",
    "/etc/exim4/exim4.conf.template",
    ...(existsSync("/etc/exim4/conf.d/main") ? readdirSync("/etc/exim4/conf.d/main").map((n) => join("/etc/exim4/conf.d/main", n)) : []),
  ];
  return files.some((f) => existsSync(f) && /^\s*SYSTEM_ALIASES_PIPE_TRANSPORT\s*=\s*\S/m.test(readFileSync(f, "utf8")));
}

/** The MTA's LMTP set-up as its own tools say it (postconf, postmap, exim4 -bt). */
function lmtpFacts(user: string): LmtpFacts {
  const env = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C" };
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { encoding: "utf8", env });
    return r.status === 0 ? r.stdout.trim() : undefined;
  };
  const home = homeOf(user);
  return {
    postfix: existsSync("/usr/sbin/postconf")
      ? (local) => {
          const maps = (run("/usr/sbin/postconf", ["-h", "mailbox_transport_maps"]) ?? "").split(/[\s,]+/).filter(Boolean);
          const route = maps.map((m) => run("/usr/sbin/postmap", ["-q", local, m])).find(Boolean);
          const service = route?.split(":")[0];
          const entry = service ? run("/usr/sbin/postconf", ["-M", `${service}/unix`])?.split(/\s+/) : undefined;
          const group = readFileSync("/etc/group", "utf8")
            .split("\n")
            .find((l) => l.startsWith("postfix:"));
          return { route, chrooted: entry ? entry[4] !== "n" : undefined, gid: group ? Number(group.split(":")[2]) : undefined };
        }
      : undefined,
    exim: existsSync("/usr/sbin/exim4")
      ? (address) => /transport = (\S+)/.exec(run("/usr/sbin/exim4", ["-bt", address]) ?? "")?.[1]
      : undefined,
    forward: async () => (home ? readFile(join(home, ".forward"), "utf8").catch(() => undefined) : undefined),
  };
}
