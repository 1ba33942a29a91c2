/** `sealpost doctor`: plain-words checks with a fix for each problem; exit 0 ok, 1 warnings, 2 errors. */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { commandConfig } from "./config-option.js";
import { fail, out } from "./io.js";
import { lookupUser, userName } from "../core/passwd.js";
import type { Registration } from "./registration.js";
import type { MtaFacts } from "../ops/doctor.js";

export function doctorCommand(program: Command, { set, globalConfig }: Registration): void {
  program.command("doctor")
    .description("check the config, the keys, the relay (without sending), storage as the MTA's user, and the spool")
    .option("-c, --config <file>", "config file")
    .addHelpText("after", "\nExit status: 0 all well, 1 warnings, 2 something stops mail.\n\nExample:\n  sudo -u sealpost sealpost doctor")
    .action((opts: { config?: string }) => set(async () => {
      const { doctor, readAliases } = await import("../ops/doctor.js");
      let config;
      try {
        config = commandConfig(opts.config ?? globalConfig());
      } catch (e) {
        fail("doctor", (e as Error).message);
        return 2;
      }
      const findings = await doctor(config, { aliases: readAliases, postfixAliasUser, eximAliasPipes, userIds: lookupUser });
      for (const f of findings) {
        out(`${f.level === "ok" ? "ok   " : f.level === "warn" ? "WARN " : "ERROR"} ${f.area}: ${f.text}`);
        if (f.fix) out(`      fix: ${f.fix}`);
      }
      const errors = findings.filter((f) => f.level === "error").length;
      const warnings = findings.filter((f) => f.level === "warn").length;
      out(errors ? `${errors} problem(s) stop mail` : warnings ? `${warnings} warning(s)` : "all well");
      return errors ? 2 : warnings ? 1 : 0;
    }));
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
  const files = ["/etc/exim4/exim4.conf.localmacros", "/etc/exim4/exim4.conf.template",
    ...(existsSync("/etc/exim4/conf.d/main") ? readdirSync("/etc/exim4/conf.d/main").map((n) => join("/etc/exim4/conf.d/main", n)) : [])];
  return files.some((f) => existsSync(f) && /^\s*SYSTEM_ALIASES_PIPE_TRANSPORT\s*=\s*\S/m.test(readFileSync(f, "utf8")));
}

