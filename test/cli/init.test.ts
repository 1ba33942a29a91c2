/** sealpost init (issue 6): the host set-up under a scratch root — modes, owners, idempotence, --dry-run. */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { BIN } from "../helpers/paths.js";
import { Home } from "../helpers/home.js";

const NOBODY = 65534;

describe("sealpost init", () => {
  async function scratch(fn: (root: string, home: Home) => Promise<void>): Promise<void> {
    const root = mkdtempSync(join(tmpdir(), "sealpost-init-"));
    const home = new Home();
    try {
      await fn(root, home);
    } finally {
      rmSync(root, { recursive: true, force: true });
      home.cleanup();
    }
  }
  const init = (home: Home, root: string, ...flags: string[]) => home.run(["init", "--root", root, "--user", "nobody", ...flags]);

  it("--dry-run says what it would do and writes nothing", () => scratch(async (root, home) => {
    const r = await init(home, root, "--dry-run");
    assert.equal(r.code, 0, r.stderr.toString());
    assert.match(r.stdout.toString(), /^would directory \/var\/spool\/sealpost mode 0711 owned by nobody$/m);
    assert.match(r.stdout.toString(), /^note  add to \/etc\/aliases, then run newaliases: {2}root: nobody/m);
    assert.ok(!existsSync(join(root, "etc")) && !existsSync(join(root, "var")));
  }));

  it("sets up config, spool, drop/, Maildir and .forward with the right modes and owners; a second run changes nothing", (t) =>
    scratch(async (root, home) => {
      if (process.getuid?.() !== 0) return void t.skip("needs root to give the directories to the sealpost user");
      const r = await init(home, root, "--write-aliases", "--sendmail-link", "--systemd");
      assert.equal(r.code, 0, r.stderr.toString());
      const mode = (p: string) => statSync(join(root, p)).mode & 0o7777;
      const uid = (p: string) => statSync(join(root, p)).uid;
      assert.equal(mode("var/spool/sealpost"), 0o711);
      assert.equal(mode("var/spool/sealpost/drop"), 0o1733);
      assert.equal(mode("var/lib/sealpost/Maildir"), 0o700);
      assert.equal(mode("var/log/sealpost"), 0o750);
      for (const p of ["var/spool/sealpost", "var/lib/sealpost", "var/lib/sealpost/Maildir", "var/lib/sealpost/.forward", "var/log/sealpost"]) assert.equal(uid(p), NOBODY, p);
      assert.equal(readFileSync(join(root, "var/lib/sealpost/.forward"), "utf8"), `"|${BIN} -c /etc/sealpost/sealpost.toml deliver"\n`);
      assert.match(readFileSync(join(root, "etc/aliases"), "utf8"), /^root: nobody$/m);
      assert.equal(readlinkSync(join(root, "usr/sbin/sendmail")), BIN);
      assert.ok(existsSync(join(root, "etc/systemd/system/sealpost.service")));
      assert.match(readFileSync(join(root, "etc/sealpost/sealpost.toml"), "utf8"), /^match_recipient = \["root", "postmaster", "nobody"\]$/m, "the route names the .forward user");
      const again = await init(home, root, "--write-aliases", "--sendmail-link", "--systemd");
      assert.equal(again.code, 0);
      assert.deepEqual(again.stdout.toString().trim().split("\n").filter((l) => !l.startsWith("ok ")), [], "idempotent");
    }));
});
