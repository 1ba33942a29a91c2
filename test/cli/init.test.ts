/** sealpost init: the host set-up under a scratch root — modes, owners, idempotence, --dry-run. */
import assert from "node:assert/strict";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
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
      await home.cleanup();
    }
  }
  const init = (home: Home, root: string, ...flags: string[]) => home.run(["init", "--root", root, "--user", "nobody", ...flags]);

  it("--dry-run says what it would do and writes nothing", () =>
    scratch(async (root, home) => {
      const r = await init(home, root, "--dry-run");
      assert.equal(r.code, 0, r.stderr.toString());
      assert.match(r.stdout.toString(), /^would directory \/var\/spool\/sealpost mode 0711 owned by nobody$/m);
      assert.match(r.stdout.toString(), /^note {2}add to \/etc\/aliases, then run newaliases: {2}root: nobody/m);
      assert.ok(!existsSync(join(root, "etc")) && !existsSync(join(root, "var")));
    }));

  it("sets up config, spool, drop/, Maildir and .forward with the right modes and owners; a second run changes nothing", (t) =>
    scratch(async (root, home) => {
      if (process.getuid?.() !== 0) {
        t.skip("needs root to give the directories to the sealpost user");
        return;
      }
      const r = await init(home, root, "--write-aliases", "--sendmail-link", "--systemd");
      assert.equal(r.code, 0, r.stderr.toString());
      const mode = (p: string) => statSync(join(root, p)).mode & 0o7777;
      const uid = (p: string) => statSync(join(root, p)).uid;
      assert.equal(mode("var/spool/sealpost"), 0o711);
      assert.equal(mode("var/spool/sealpost/drop"), 0o1733);
      assert.equal(mode("var/lib/sealpost/Maildir"), 0o700);
      assert.equal(mode("var/log/sealpost"), 0o750);
      for (const p of [
        "var/spool/sealpost",
        "var/lib/sealpost",
        "var/lib/sealpost/Maildir",
        "var/lib/sealpost/.forward",
        "var/log/sealpost",
      ])
        assert.equal(uid(p), NOBODY, p);
      assert.equal(readFileSync(join(root, "var/lib/sealpost/.forward"), "utf8"), `"|${BIN} -c /etc/sealpost/sealpost.toml deliver"\n`);
      assert.match(readFileSync(join(root, "etc/aliases"), "utf8"), /^root: nobody$/m);
      assert.equal(readlinkSync(join(root, "usr/sbin/sendmail")), BIN);
      assert.ok(existsSync(join(root, "etc/systemd/system/sealpost.service")));
      assert.match(
        readFileSync(join(root, "etc/sealpost/sealpost.toml"), "utf8"),
        /^match_recipient = \["root", "postmaster", "nobody"\]$/m,
        "the route names the .forward user",
      );
      assert.match(
        readFileSync(join(root, "etc/sealpost/sealpost.toml"), "utf8"),
        /^user = "nobody" /m,
        "and the user root's submissions switch to",
      );
      const again = await init(home, root, "--write-aliases", "--sendmail-link", "--systemd");
      assert.equal(again.code, 0);
      assert.deepEqual(
        again.stdout
          .toString()
          .trim()
          .split("\n")
          .filter((l) => !l.startsWith("ok ")),
        [],
        "idempotent",
      );
    }));

  describe("--lmtp", () => {
    const postfixHere = existsSync("/usr/sbin/postconf") && existsSync("/etc/postfix/master.cf");
    const groupId = (name: string) =>
      Number(
        readFileSync("/etc/group", "utf8")
          .split("\n")
          .find((l) => l.startsWith(`${name}:`))
          ?.split(":")[2],
      );

    it("Postfix: the socket directory in postfix's group, [serve] lmtp, no .forward, a non-chrooted lmtp service and mailbox_transport_maps; a second run changes nothing", (t) =>
      scratch(async (root, home) => {
        if (process.getuid?.() !== 0 || !postfixHere) {
          t.skip("needs root and Postfix's postconf (.ci/run's e2e installs it)");
          return;
        }
        mkdirSync(join(root, "etc/postfix"), { recursive: true });
        writeFileSync(join(root, "etc/postfix/main.cf"), "myhostname = web01.example.org\n");
        // Debian's master.cf, as a fresh install has it (without a service an earlier run of ours added)
        writeFileSync(
          join(root, "etc/postfix/master.cf"),
          readFileSync("/etc/postfix/master.cf", "utf8").replace(/^sealpost-lmtp .*\n/m, ""),
        );
        const dry = await init(home, root, "--write-aliases", "--lmtp", "--dry-run");
        assert.equal(dry.code, 0, dry.stderr.toString());
        assert.match(dry.stdout.toString(), /^would Postfix master\.cf: sealpost-lmtp unix - - n - - lmtp/m);
        assert.ok(!existsSync(join(root, "run")), "a dry run writes nothing");

        const r = await init(home, root, "--write-aliases", "--lmtp");
        assert.equal(r.code, 0, r.stderr.toString());
        const dir = statSync(join(root, "run/sealpost"));
        assert.equal(dir.mode & 0o7777, 0o2750);
        assert.equal(dir.uid, NOBODY);
        assert.equal(dir.gid, groupId("postfix"));
        assert.equal(readFileSync(join(root, "etc/tmpfiles.d/sealpost.conf"), "utf8"), "d /run/sealpost 2750 nobody postfix -\n");
        assert.match(readFileSync(join(root, "etc/sealpost/sealpost.toml"), "utf8"), /^lmtp = "\/run\/sealpost\/lmtp"/m);
        assert.ok(!existsSync(join(root, "var/lib/sealpost/.forward")), "no .forward: Postfix would run its pipe first");
        assert.match(readFileSync(join(root, "etc/postfix/master.cf"), "utf8"), /^sealpost-lmtp\s+unix\s+-\s+-\s+n\s+-\s+-\s+lmtp$/m);
        assert.equal(
          readFileSync(join(root, "etc/postfix/sealpost_transport"), "utf8"),
          "sealpost sealpost-lmtp:unix:/run/sealpost/lmtp\n",
        );
        assert.ok(existsSync(join(root, "etc/postfix/sealpost_transport.db")));
        assert.match(
          readFileSync(join(root, "etc/postfix/main.cf"), "utf8"),
          /^mailbox_transport_maps = hash:\/etc\/postfix\/sealpost_transport$/m,
        );
        assert.ok(existsSync(join(root, "etc/systemd/system/sealpost.service")), "serve's unit");
        const again = await init(home, root, "--write-aliases", "--lmtp");
        assert.equal(again.code, 0, again.stderr.toString());
        assert.deepEqual(
          again.stdout
            .toString()
            .trim()
            .split("\n")
            .filter((l) => !/^(ok|note) /.test(l)),
          [],
          "idempotent",
        );
      }));

    it("Exim: a router and an lmtp transport in conf.d, and a note when Debian's one-file configuration would not read them", (t) =>
      scratch(async (root, home) => {
        if (process.getuid?.() !== 0) {
          t.skip("needs root");
          return;
        }
        mkdirSync(join(root, "etc/exim4"), { recursive: true });
        writeFileSync(join(root, "etc/exim4/update-exim4.conf.conf"), "dc_eximconfig_configtype='local'\ndc_use_split_config='false'\n");
        const r = await init(home, root, "--lmtp");
        assert.equal(r.code, 0, r.stderr.toString());
        assert.match(
          readFileSync(join(root, "etc/exim4/conf.d/router/350_sealpost_lmtp"), "utf8"),
          /driver = accept\n\s+domains = \+local_domains\n\s+local_parts = nobody\n\s+transport = sealpost_lmtp/,
        );
        assert.match(
          readFileSync(join(root, "etc/exim4/conf.d/transport/30_sealpost_lmtp"), "utf8"),
          /driver = lmtp\n\s+socket = \/run\/sealpost\/lmtp\n\s+user = nobody/,
        );
        assert.match(
          r.stdout.toString(),
          /^note {2}Debian's exim4 here builds its configuration from the one-file template.*dc_use_split_config='true'/m,
        );
        assert.equal(
          statSync(join(root, "run/sealpost")).gid,
          NOBODY,
          "Exim's transport connects as the sealpost user: its own group will do",
        );
      }));

    it("a .forward with anything but sealpost's pipe stops init, naming it", (t) =>
      scratch(async (root, home) => {
        if (process.getuid?.() !== 0) {
          t.skip("needs root");
          return;
        }
        mkdirSync(join(root, "var/lib/sealpost"), { recursive: true });
        writeFileSync(join(root, "var/lib/sealpost/.forward"), "ops@example.net\n");
        const r = await init(home, root, "--lmtp");
        assert.notEqual(r.code, 0);
        assert.match(r.stderr.toString(), /\/var\/lib\/sealpost\/\.forward holds something other than sealpost's pipe/);
        assert.equal(readFileSync(join(root, "var/lib/sealpost/.forward"), "utf8"), "ops@example.net\n");
      }));
  });

  describe("a sealpost user who plants links or files for root to follow", () => {
    const asRoot = (t: { skip: (why: string) => void }) => process.getuid?.() === 0 || (t.skip("needs root"), false);
    /** The sealpost user's home as they left it: theirs, with whatever they put in it. */
    const ownHome = (root: string) => {
      mkdirSync(join(root, "var/lib/sealpost"), { recursive: true });
      chownSync(join(root, "var/lib/sealpost"), NOBODY, NOBODY);
    };
    const rootOwned = (root: string) => {
      const secret = join(root, "etc/shadow");
      mkdirSync(join(root, "etc"), { recursive: true });
      writeFileSync(secret, "root:$6$secret:19000::::::\n", { mode: 0o600 });
      return secret;
    };

    it("a .forward that is a link to a root file stops init, which names it; the file stays root's, unchanged", (t) =>
      scratch(async (root, home) => {
        if (!asRoot(t)) return;
        const secret = rootOwned(root);
        ownHome(root);
        symlinkSync(secret, join(root, "var/lib/sealpost/.forward"));
        const r = await init(home, root);
        assert.equal(r.code, 1);
        assert.match(r.stderr.toString(), /^sealpost init: \/var\/lib\/sealpost\/\.forward is a symbolic link; init never follows one/);
        assert.equal(statSync(secret).uid, 0);
        assert.equal(statSync(secret).mode & 0o777, 0o600);
        assert.equal(readFileSync(secret, "utf8"), "root:$6$secret:19000::::::\n");
      }));

    it("a Maildir that is a link to a root directory stops init, which names it; the directory stays root's", (t) =>
      scratch(async (root, home) => {
        if (!asRoot(t)) return;
        const rootDir = join(root, "root");
        mkdirSync(rootDir, { mode: 0o700 });
        ownHome(root);
        symlinkSync(rootDir, join(root, "var/lib/sealpost/Maildir"));
        const r = await init(home, root);
        assert.equal(r.code, 1);
        assert.match(r.stderr.toString(), /^sealpost init: \/var\/lib\/sealpost\/Maildir is a symbolic link; init never follows one/);
        assert.equal(statSync(rootDir).uid, 0);
        assert.equal(statSync(rootDir).mode & 0o777, 0o700);
      }));

    it("inside the spool, what root left is handed back and what another user owns stops init with its path", (t) =>
      scratch(async (root, home) => {
        if (!asRoot(t)) return;
        const ledger = join(root, "var/spool/sealpost/ledger");
        mkdirSync(ledger, { recursive: true, mode: 0o700 });
        writeFileSync(join(ledger, "0a.json"), "{}\n", { mode: 0o600 });
        const r = await init(home, root);
        assert.equal(r.code, 0, r.stderr.toString());
        assert.match(r.stdout.toString(), /^done {2}\/var\/spool\/sealpost\/ledger handed back to nobody \(root had left it there\)$/m);
        assert.equal(statSync(ledger).uid, NOBODY);
        assert.equal(statSync(join(ledger, "0a.json")).uid, NOBODY);
        chownSync(ledger, 4242, 4242);
        const again = await init(home, root);
        assert.equal(again.code, 1);
        assert.match(
          again.stderr.toString(),
          /^sealpost init: \/var\/spool\/sealpost\/ledger belongs to uid 4242, not to root or nobody; init does not take it over/,
        );
        assert.equal(statSync(ledger).uid, 4242, "left as it was");
      }));

    it("a drop/ root left is the sealpost user's again, with its 1733: everyone's to write, by design", (t) =>
      scratch(async (root, home) => {
        if (!asRoot(t)) return;
        assert.equal((await init(home, root)).code, 0);
        const drop = join(root, "var/spool/sealpost/drop");
        chownSync(drop, 0, 0);
        const r = await init(home, root);
        assert.equal(r.code, 0, r.stderr.toString());
        assert.equal(statSync(drop).uid, NOBODY);
        assert.equal(statSync(drop).mode & 0o7777, 0o1733);
      }));

    it("inside the spool, what group or others may write loses that write; drop/ keeps its 1733", (t) =>
      scratch(async (root, home) => {
        if (!asRoot(t)) return;
        assert.equal((await init(home, root)).code, 0);
        const ledger = join(root, "var/spool/sealpost/ledger");
        mkdirSync(ledger, { recursive: true });
        chownSync(ledger, NOBODY, NOBODY);
        chmodSync(ledger, 0o777); // another user could write "relayed already" for root's next mail
        const r = await init(home, root);
        assert.equal(r.code, 0, r.stderr.toString());
        assert.match(r.stdout.toString(), /^done {2}\/var\/spool\/sealpost\/ledger no longer writable by group or others$/m);
        assert.equal(statSync(ledger).mode & 0o777, 0o755);
        assert.equal(statSync(ledger).uid, NOBODY);
        const drop = join(root, "var/spool/sealpost/drop");
        if (existsSync(drop)) assert.equal(statSync(drop).mode & 0o7777, 0o1733, "drop/ is everyone's to write, by design");
        assert.doesNotMatch((await init(home, root)).stdout.toString(), /no longer writable/, "a second run changes nothing");
      }));
  });
});
