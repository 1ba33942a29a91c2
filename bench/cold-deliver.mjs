// `sealpost deliver` as a cold process, the way Postfix runs it for every message: a 2 KB
// fail2ban notice, stored and committed to the spool (the default relay = "queued"; the runner it
// starts seals and relays it meanwhile), and `sealpost sendmail -t` with the same notice, as
// fail2ban starts it. Timed by hyperfine against `node -e 0` in the same run (each under `sh -c`,
// as an MTA's pipe starts it), with the procmail recipe's pipeline (formail -I "" | gpg -ea,
// sealing only) as a reference column. Each run starts with an empty ledger, so every deliver is
// a first delivery, never a duplicate. Every message must reach the sink.
// Usage: node bench/cold-deliver.mjs [RUNS=40] [--json]
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanEnv, fixture, gpgHome, KEY_UID, needs, scratchSetup, sealpost, startSink } from "./lib.mjs";

const runs = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 40);
needs(["hyperfine", "gpg", "formail"]);
const sink = await startSink();
const setup = scratchSetup(sink.port);
const gpg = gpgHome();
try {
  const notice = join(setup.dir, "notice.eml");
  writeFileSync(notice, fixture("A01-fail2ban-ban-sshd-whois-lines.eml"));
  const submitted = join(setup.dir, "submitted.eml"); // as fail2ban writes it: no mbox From_ line, no trace
  writeFileSync(
    submitted,
    fixture("A01-fail2ban-ban-sshd-whois-lines.eml")
      .toString("latin1")
      .replace(/^From .*\n/, ""),
    "latin1",
  );
  const json = join(setup.dir, "hyperfine.json");
  const commands = {
    "node -e 0": `exec node -e 0 < ${notice}`,
    "sealpost deliver": `exec ${sealpost} deliver < ${notice}`,
    "sealpost sendmail -t": `exec ${sealpost} sendmail -t -f root@web01.example.org < ${submitted}`,
    "procmail recipe (formail | gpg -ea)": `formail -I "" < ${notice} | gpg --batch --homedir ${gpg.home} -ea -r ${KEY_UID} > /dev/null`,
  };
  await run(
    "hyperfine",
    [
      "-N",
      "--warmup",
      "3",
      "--runs",
      String(runs),
      "--export-json",
      json,
      "--prepare",
      `rm -rf ${join(setup.dir, "spool/ledger")}`,
      ...Object.entries(commands).flatMap(([name, cmd]) => ["-n", name, `sh -c '${cmd.replaceAll("'", "'\\''")}'`]),
    ],
    { ...setup.env, SENDER: "root@web01.example.org", RECIPIENT: "root@localhost" },
  );
  const results = JSON.parse(readFileSync(json, "utf8")).results;
  const expected = results.filter((r) => r.command.startsWith("sealpost")).reduce((n, r) => n + r.times.length, 0) + 6; // and the warmups
  for (let i = 0; i < 600 && sink.count < expected; i++) await new Promise((r) => setTimeout(r, 100)); // the runner's last few
  if (sink.count < expected) throw new Error(`only ${sink.count} of ${expected} messages reached the sink`);
  const ms = (name) => results.find((r) => r.command === name).median * 1000;
  const node = ms("node -e 0");
  const result = {
    runs,
    relayed: sink.count,
    nodeMs: +node.toFixed(1),
    deliverMs: +ms("sealpost deliver").toFixed(1),
    ratio: +(ms("sealpost deliver") / node).toFixed(2),
    recipeMs: +ms("procmail recipe (formail | gpg -ea)").toFixed(1),
    sendmailMs: +ms("sealpost sendmail -t").toFixed(1),
    sendmailRatio: +(ms("sealpost sendmail -t") / node).toFixed(2),
  };
  if (process.argv.includes("--json")) console.log(JSON.stringify(result));
  else {
    console.log(
      `cold deliver (median of ${runs}): node -e 0 ${result.nodeMs} ms, sealpost deliver ${result.deliverMs} ms = ${result.ratio} x node -e 0`,
    );
    console.log(`  sealpost sendmail -t ${result.sendmailMs} ms = ${result.sendmailRatio} x node -e 0`);
    console.log(`  procmail recipe pipeline (formail | gpg -ea, no relay): ${result.recipeMs} ms; ${sink.count} messages at the sink`);
  }
} finally {
  gpg.cleanup();
  setup.cleanup();
  await sink.close();
}

/** Not spawnSync: the sink in this process must keep answering while hyperfine runs. */
function run(command, args, env) {
  return new Promise((done, fail) => {
    const child = spawn(command, args, {
      env: cleanEnv(env),
      stdio: ["ignore", process.argv.includes("--json") ? "ignore" : "inherit", "inherit"],
    });
    child.on("close", (status) => (status === 0 ? done() : fail(new Error(`${command} exited ${status}`))));
  });
}
