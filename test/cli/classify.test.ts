/** `sealpost classify` as a user runs it: a file or stdin, a table or JSON, a one-line error. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { FIXTURES } from "../helpers/paths.js";
import { Home } from "../helpers/home.js";

describe("sealpost classify", () => {
  const home = new Home();
  const a01 = join(FIXTURES, "A01-fail2ban-ban-sshd-whois-lines.eml");

  it("prints kind and fields for a file, as JSON with --json", async () => {
    const r = await home.run(["classify", "--json", a01]);
    assert.equal(r.code, 0, r.stderr.toString());
    assert.deepEqual(JSON.parse(r.stdout.toString()), {
      kind: "fail2ban.ban",
      fields: { jail: "sshd", ip: "203.0.113.45", host: "web01.example.org", attempts: "5" },
    });
  });
  it("reads stdin and prints a table", async () => {
    const r = await home.run(["classify"], "Subject: Cron <root@db-03> /usr/bin/backup\n\nok\n");
    assert.equal(r.stdout.toString(), "kind     cron\nuser     root\nhost     db-03\ncommand  /usr/bin/backup\n");
  });
  it("a file it cannot read: one line, exit 1", async () => {
    const r = await home.run(["classify", join(home.root, "missing.eml")]);
    assert.equal(r.code, 1);
    assert.match(r.stderr.toString(), /^sealpost classify: cannot read \S+missing\.eml: not found\n$/);
    await home.cleanup();
  });

  it("a file name with an escape sequence and a newline is printed escaped, on one line", async () => {
    const home = new Home();
    const r = await home.run(["classify", join(home.root, "x\x1b[2J\nsealpost classify: all well")]);
    assert.equal(r.code, 1);
    assert.match(r.stderr.toString(), /^sealpost classify: cannot read \S+x\\x1b\[2J\\nsealpost classify: all well: not found\n$/);
    await home.cleanup();
  });
});
