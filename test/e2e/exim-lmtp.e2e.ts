/**
 * Real Exim (Debian's exim4) handing root's mail to `sealpost serve` over LMTP, as
 * `sealpost init --lmtp` sets it up: root: sealpost in /etc/aliases, a conf.d router for the
 * local part sealpost before the stock ones, and an lmtp transport running as the sealpost user.
 * Debian reads conf.d routers only with its split configuration, which the suite turns on as
 * init's note tells an admin to. With serve stopped, Exim keeps the message and delivers it
 * once serve is back, never bouncing.
 */
import assert from "node:assert/strict";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { describe, it } from "node:test";
import { openSealed } from "../helpers/sealed.js";
import { CONFIG, HOST, ServeProcess, localCopies, run, runAsync, sendmail, sh, systemMail, tail, useMtaSuite, waitFor } from "./system.js";

const EXIM_LOG = "/var/log/exim4/mainlog";
const LMTP = "/run/sealpost/lmtp";
const UPDATE_CONF = "/etc/exim4/update-exim4.conf.conf";

/** Debian's exim4 as the pipe suite sets it up, but with the split configuration that reads conf.d. */
function eximConfig(): void {
  writeFileSync(
    UPDATE_CONF,
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
      "dc_use_split_config='true'",
      "dc_hide_mailname=''",
      "dc_mailname_in_oh='true'",
      "dc_localdelivery='mail_spool'",
      "",
    ].join("\n"),
  );
  writeFileSync("/etc/exim4/exim4.conf.localmacros", "");
}

describe("Exim → LMTP → sealpost serve", () => {
  const serve = new ServeProcess();
  // the split configuration before init, so init's update-exim4.conf builds it with our router
  const suite = useMtaSuite(
    "/usr/sbin/exim4",
    () => {
      sh("update-exim4.conf", []);
      run("exim4", ["-Mrm", ...(run("exim4", ["-bpr"]).match(/\b\w{6}-\w{6}-\w{2}\b/g) ?? [])]);
    },
    () => void serve.stop(),
    ["--write-aliases", "--lmtp"],
    `\n[serve]\nlisten = "127.0.0.1:2526"\nlmtp = "${LMTP}"\n`,
    eximConfig,
  );
  const { gpg } = suite;
  const diagnose = () => [run("exim4", ["-bp"]), tail(EXIM_LOG), tail("/var/log/sealpost/sealpost.log")].join("\n");
  const logSince = (start: number) => readFileSync(EXIM_LOG).subarray(start).toString("utf8");
  const logSize = () => statSync(EXIM_LOG, { throwIfNoEntry: false })?.size ?? 0;

  it("root's mail: Exim → root: sealpost → the sealpost_lmtp router and transport → sealed at the relay once, local copy kept; doctor is content", async (t) => {
    if (suite.skip) {
      t.skip(suite.skip);
      return;
    }
    await serve.start();
    const start = logSize();
    const { token } = await suite.rootMail("ex-lmtp", diagnose);
    assert.ok(
      localCopies().some((c) => c.includes(`Token: ${token}`)),
      "the local copy",
    );
    await waitFor(
      "Exim to log the LMTP delivery",
      () =>
        /=> sealpost(@web01\.example\.org)? <root@web01\.example\.org> R=sealpost_lmtp T=sealpost_lmtp C="250 /.test(logSince(start)) ||
        undefined,
      30_000,
      diagnose,
    );
    const doctor = await runAsync("runuser", ["-u", "sealpost", "--", "/usr/local/bin/sealpost", "-c", CONFIG, "doctor"]);
    assert.match(doctor, /ok {4}mta: serve answers LMTP on \/run\/sealpost\/lmtp/, doctor);
    assert.match(doctor, /ok {4}mta: Exim hands sealpost@web01\.example\.org to the sealpost_lmtp transport/, doctor);
  });

  it("with serve stopped Exim keeps root's mail (never bounces it); once serve is back it is delivered", async (t) => {
    if (suite.skip) {
      t.skip(suite.skip);
      return;
    }
    await serve.stop();
    const start = logSize();
    const token = `ex-lmtp-down-${Date.now()}`;
    assert.equal(await sendmail(["-oi", "-f", `root@${HOST}`, "root"], systemMail(token)), 0);
    // Exim logs a local delivery by its local part, and lists the queue by the original recipient
    const deferred = await waitFor(
      "Exim to defer",
      () =>
        /(\S+) == sealpost(?:@web01\.example\.org)? <root@web01\.example\.org> R=sealpost_lmtp T=sealpost_lmtp defer/.exec(
          logSince(start),
        )?.[1],
      60_000,
      diagnose,
    );
    assert.doesNotMatch(logSince(start), /\*\* sealpost/, "no bounce");
    assert.ok(run("exim4", ["-bp"]).includes(deferred), "still in Exim's queue: nothing lost");
    await serve.start();
    void runAsync("exim4", ["-qff"]);
    const got = await waitFor("the queued message, delivered once serve is back", () => suite.arrived(token), 60_000, diagnose);
    assert.ok(openSealed(got.raw, gpg).inner.toString("utf8").includes(`Token: ${token}`));
    await serve.stop();
  });
});
