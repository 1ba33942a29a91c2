/** Message events: syslog through logger(1), a file when there is no syslog socket, levels, no body text. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fixtureBytes, fixtures, pipeEnv } from "../helpers/fixtures.js";
import { RCPT, TEST_FPR } from "../helpers/paths.js";
import { SyslogSocket } from "../helpers/syslog.js";
import { inHome, useWorld } from "../helpers/world.js";

const A01 = fixtures().find((f) => f.file.startsWith("A01"))!;
const RAW = fixtureBytes(A01);
const ENV = pipeEnv(A01);
const SECRETS = ["203.0.113.45", "banned", "Fail2Ban", "whois"]; // body and Subject: never in a log line

describe("event log", () => {
  const world = useWorld();

  it("sends one syslog line per event to the socket, mail facility, info level, with id, sizes and the key fingerprint", () =>
    inHome(world, {}, async (home) => {
      const syslog = await new SyslogSocket(join(home.root, "log.sock")).start();
      try {
        home.writeConfig({ log: `syslog = "${syslog.path}"` });
        const r = await home.deliver(RAW, ENV);
        assert.equal(r.code, 0, r.stderr.toString());
        assert.equal(r.stderr.length, 0, "nothing of the log reaches the MTA's stderr");
        const lines = await syslog.waitFor(5);
        const events = lines.map((l) => /event=(\w+)/.exec(l)?.[1]);
        // deliver commits and answers; the runner, another process, seals and relays
        assert.deepEqual(events, ["received", "stored", "spooled", "sealed", "relayed"], lines.join("\n"));
        for (const line of lines) {
          assert.match(line, /^<22>\w{3} [ \d]\d \d\d:\d\d:\d\d sealpost\[\d+\]: event=/, "mail.info, tagged sealpost[pid]");
          for (const secret of SECRETS) assert.ok(!line.includes(secret), `no "${secret}" in ${line}`);
        }
        const id = /id=([0-9a-f]{12})/.exec(lines[0]!)?.[1];
        assert.ok(id, lines[0]);
        assert.ok(
          lines.every((l) => l.includes(`id=${id}`)),
          "one id across the message's events",
        );
        // size: the message as stored, without the From_ line Postfix puts in front
        assert.match(
          lines[0]!,
          new RegExp(
            `via=deliver size=${RAW.length - RAW.indexOf(10) - 1} from=<root@web01\\.example\\.org> to=root@localhost msgid=<20261121103148\\.7D3A41E0B2@web01\\.example\\.org>`,
          ),
        );
        assert.match(lines[2]!, new RegExp(`event=spooled id=${id} to=${RCPT} spool_id=[0-9a-z]+-[0-9a-f]+$`));
        assert.match(lines[3]!, new RegExp(`to=${RCPT} size=\\d+ keys=${TEST_FPR}$`));
        assert.match(lines[4]!, /reply="250 /);

        const again = await home.deliver(RAW, ENV);
        assert.equal(again.code, 0);
        assert.match((await syslog.waitFor(6)).at(-1)!, new RegExp(`event=duplicate id=${id}$`), "an MTA retry logs the same id");
      } finally {
        syslog.stop();
      }
    }));

  it("logs a deferral at warning level with its status", () =>
    inHome(world, { relayPort: 1, extra: '[deliver]\nrelay = "inline"\n' }, async (home) => {
      const syslog = await new SyslogSocket(join(home.root, "log.sock")).start();
      try {
        home.writeConfig({ log: `syslog = "${syslog.path}"\nlevel = "warning"` });
        const r = await home.deliver(RAW, ENV);
        assert.equal(r.code, 75);
        const lines = await syslog.waitFor(1);
        await new Promise((resolve) => setTimeout(resolve, 200));
        assert.equal(lines.length, 1, `level = "warning" keeps info lines out: ${lines.join("\n")}`);
        assert.match(lines[0]!, new RegExp(`^<20>.* event=deferred id=[0-9a-f]{12} to=${RCPT} status=4\\.4\\.1 reason="[^"]+"$`));
      } finally {
        syslog.stop();
      }
    }));

  it("writes to the configured file when the syslog socket is missing, one line per event", () =>
    inHome(world, {}, async (home) => {
      const file = join(home.root, "sealpost.log");
      home.writeConfig({ log: `syslog = "${join(home.root, "no-such.sock")}"\nfile = "${file}"\nfacility = "local3"` });
      assert.equal((await home.deliver(RAW, ENV)).code, 0);
      const read = () => readFileSync(file, "utf8").trimEnd().split("\n");
      for (let i = 0; i < 50 && read().length < 5; i++) await new Promise((resolve) => setTimeout(resolve, 100)); // the runner logs its 250 just after recording it
      const lines = read();
      assert.deepEqual(
        lines.map((l) => /event=(\w+)/.exec(l)?.[1]),
        ["received", "stored", "spooled", "sealed", "relayed"],
      );
      for (const line of lines) {
        assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z sealpost\[\d+\] info: event=\w+ id=[0-9a-f]{12} /);
        for (const secret of SECRETS) assert.ok(!line.includes(secret), `no "${secret}" in ${line}`);
      }
    }));

  it("an unwritable log file costs nothing: the message is delivered, stderr stays empty", () =>
    inHome(world, {}, async (home, relayed) => {
      home.writeConfig({ log: `syslog = ""\nfile = "${join(home.root, "missing-dir", "sealpost.log")}"` });
      const r = await home.deliver(RAW, ENV);
      assert.equal(r.code, 0);
      assert.equal(r.stderr.length, 0);
      assert.equal(relayed().length, 1);
    }));

  it("sendmail and the queue run log under the spool entry's id", () =>
    inHome(world, {}, async (home) => {
      const file = join(home.root, "sealpost.log");
      home.writeConfig({ log: `syslog = ""\nfile = "${file}"` });
      const r = await home.run(["sendmail", "-oi", "root"], RAW);
      assert.equal(r.code, 0, r.stderr.toString());
      assert.equal((await home.run(["queue", "run"])).code, 0);
      const lines = readFileSync(file, "utf8").trimEnd().split("\n");
      const events = lines.map((l) => /event=(\w+) id=(\S+)/.exec(l)!);
      assert.deepEqual(events.map((m) => m[1]).slice(0, 3), ["received", "stored", "spooled"], lines.join("\n"));
      assert.ok(events.map((m) => m[1]).includes("relayed"), lines.join("\n"));
      assert.equal(new Set(events.map((m) => m[2])).size, 1, "one id from sendmail to the relay");
      assert.match(lines[0]!, / via=sendmail /);
    }));
});
