/**
 * Real Exim (Debian's exim4) delivering root's mail into `sealpost deliver`: through /etc/aliases
 * to the sealpost user's ~/.forward (Debian's userforward router runs the pipe as that user),
 * and a command directly in /etc/aliases — off in Debian until SYSTEM_ALIASES_PIPE_TRANSPORT is
 * set, which doctor names — then turned on. Exim's extra blank line after the message is removed.
 */
import assert from "node:assert/strict";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { describe, it } from "node:test";
import { openSealed } from "../helpers/sealed.js";
import { CONFIG, HOST, localCopies, logLines, run, runAsync, sendmail, sh, systemMail, tail, useMtaSuite, waitFor } from "./system.js";

const EXIM_LOG = "/var/log/exim4/mainlog";
const MACROS = "/etc/exim4/exim4.conf.localmacros";

describe("Exim → sealpost deliver", () => {
  const suite = useMtaSuite("/usr/sbin/exim4", () => {
    writeFileSync(
      "/etc/exim4/update-exim4.conf.conf",
      [
        "dc_eximconfig_configtype='local'",
        `dc_other_hostnames='${HOST}'`,
        "dc_local_interfaces='127.0.0.1'",
        "dc_readhost=''",
        "dc_relay_domains=''",
        "dc_minimaldns='false'",
        "dc_relay_nets=''",
        "dc_smarthost=''",
        "CFILEMODE='644'",
        "dc_use_split_config='false'",
        "dc_hide_mailname=''",
        "dc_mailname_in_oh='true'",
        "dc_localdelivery='mail_spool'",
        "",
      ].join("\n"),
    );
    writeFileSync(MACROS, "");
    sh("update-exim4.conf", []);
    run("exim4", ["-Mrm", ...(run("exim4", ["-bpr"]).match(/\b\w{6}-\w{6}-\w{2}\b/g) ?? [])]); // nothing left from an earlier run
  });
  const { gpg, sink } = suite;
  const diagnose = () => [run("exim4", ["-bp"]), tail(EXIM_LOG), tail("/var/log/sealpost/sealpost.log")].join("\n");

  it("root's mail: Exim → /etc/aliases (root: sealpost) → ~sealpost/.forward → sealed at the relay; local copy without Exim's extra line", async (t) => {
    if (suite.skip) {
      t.skip(suite.skip);
      return;
    }
    const { token, opened } = await suite.rootMail("ex-forward", diagnose);
    assert.match(opened.outerFields.get("subject")?.[0] ?? "", new RegExp(`\\(${token}\\)`));
    const copy = localCopies().find((c) => c.includes(`Token: ${token}`));
    assert.ok(copy, "the local copy");
    assert.ok(copy.endsWith("Regards,\nFail2Ban\n"), `Exim's message_suffix removed: ${JSON.stringify(copy.slice(-30))}`);
    assert.match(
      readFileSync(EXIM_LOG, "utf8"),
      new RegExp(
        `=> \\|${suite.launcher.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} -c /etc/sealpost/sealpost\\.toml deliver \\(sealpost@${HOST.replace(/\./g, "\\.")}\\) <root@${HOST.replace(/\./g, "\\.")}> R=userforward T=address_pipe`,
      ),
    );
    assert.ok(logLines().some((l) => / event=relayed .*to=ops@example\.net/.test(l)));
  });

  it("a command in /etc/aliases is refused by Debian's default and kept in Exim's queue; doctor says so; with SYSTEM_ALIASES_PIPE_TRANSPORT it goes out", async (t) => {
    if (suite.skip) {
      t.skip(suite.skip);
      return;
    }
    appendFileSync("/etc/aliases", `security: "|${suite.launcher} -c ${CONFIG} deliver"\n`);
    const doctor = await runAsync("runuser", ["-u", "sealpost", "--", suite.launcher, "-c", CONFIG, "doctor"]);
    assert.match(doctor, /ERROR mta: \/etc\/aliases pipes into sealpost, but Debian's Exim runs no pipes from \/etc\/aliases/, doctor);
    const token = `ex-alias-${Date.now()}`;
    const before = sink.messages.length;
    assert.equal(await sendmail(["-oi", "-f", `root@${HOST}`, "security"], systemMail(token, "security")), 0);
    await waitFor(
      "Exim to give up on the alias pipe for now",
      () => /security@web01\.example\.org.*(defer|pipe_transport)/i.test(tail(EXIM_LOG, 10)) || undefined,
      30_000,
      diagnose,
    );
    assert.equal(sink.messages.length, before, "nothing relayed");
    assert.match(run("exim4", ["-bp"]), /security@web01\.example\.org/, "still in Exim's queue: nothing lost");

    writeFileSync(
      MACROS,
      "SYSTEM_ALIASES_PIPE_TRANSPORT = address_pipe\nSYSTEM_ALIASES_USER = sealpost\nSYSTEM_ALIASES_GROUP = sealpost\n",
    );
    sh("update-exim4.conf", []);
    assert.doesNotMatch(await runAsync("runuser", ["-u", "sealpost", "--", suite.launcher, "-c", CONFIG, "doctor"]), /ERROR/);
    void runAsync("exim4", ["-qff"]);
    const got = await waitFor("the queued message, relayed after the fix", () => suite.arrived(token), 60_000, diagnose);
    assert.ok(openSealed(got.raw, gpg).inner.toString("utf8").includes(`Token: ${token}`));
  });
});
