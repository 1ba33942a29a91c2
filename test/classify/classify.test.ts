import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { classify, classifyRaw } from "../../src/classify/classify.js";
import { KINDS, isKindPattern, kindMatches } from "../../src/classify/kinds.js";
import { fixtureBytes, fixtures } from "../helpers/fixtures.js";

/**
 * What each manifest description says the fixture is, read the way a person reads it: the
 * first rule whose words the description has gives the kind. A new fixture whose description
 * fits none fails the table test below, so it cannot go unchecked.
 */
const BY_DESCRIPTION: Array<[RegExp, string]> = [
  [/^fail2ban ban\b/i, "fail2ban.ban"],
  [/^fail2ban unban\b/i, "fail2ban.unban"],
  [/^fail2ban jail start/i, "fail2ban.start"],
  [/^fail2ban jail stop/i, "fail2ban.stop"],
  [/login alert/i, "login.success"],
  [/login failure/i, "login.failure"],
  [/^sudo\b/i, "privilege.sudo"],
  [/^su audit/i, "privilege.su"],
  [/^cron job output/i, "cron"],
  [/^at\(1\) job output/i, "at"],
  [/^logwatch/i, "logwatch"],
  [/^mdadm/i, "raid"],
  [/^smartd/i, "disk"],
  [/^unattended-upgrades/i, "updates"],
  [/\bDSN \(bounce\)/i, "bounce"],
  [/^(UTF-8 8bit body|multipart\/mixed|already PGP\/MIME)/i, "other"],
];

/** The fields each fixture must yield, beyond its kind: the values its manifest subject and body state. */
const FIELDS: Record<string, Record<string, string>> = {
  "A01-fail2ban-ban-sshd-whois-lines.eml": { jail: "sshd", ip: "203.0.113.45", host: "web01.example.org", attempts: "5" },
  "A02-fail2ban-jail-started-raw-sendmail.eml": { jail: "nginx-http-auth", host: "web01.example.org" },
  "A03-fail2ban-jail-stopped-exim-pipe.eml": { jail: "dovecot", host: "mx2.example.net" },
  "A04-fail2ban-unban-custom-action.eml": { jail: "postfix-sasl", ip: "198.51.100.77", host: "web01.example.org" },
  "A05-sshd-login-alert-pam_exec.eml": { user: "alice", ip: "198.51.100.23", service: "sshd", host: "web01" },
  "A06-sudo-security-alert.eml": {
    user: "mallory",
    target: "root",
    host: "web01",
    event: "3 incorrect password attempts",
    command: "/usr/bin/cat /etc/shadow",
  },
  "A07-su-audit-logcheck-style.eml": { user: "bob", target: "root", host: "web01.example.org", failures: "2" },
  "A08-webapp-login-failure-smtp-crlf.eml": { user: "admin", ip: "203.0.113.77", service: "wordpress", host: "www.example.org" },
  "A09-cron-output-cronie-raw-sendmail.eml": { user: "root", host: "db-03", command: "/usr/local/sbin/pg-backup.sh --verify" },
  "A10-logwatch-daily-report-200k.eml": { host: "web01" },
  "A11-utf8-8bit-body-rfc2047-subject.eml": {},
  "A12-multipart-mixed-binary-attachments.eml": {},
  "A13-already-pgp-mime-encrypted.eml": {},
  "A14-postfix-from-line-null-sender-dsn.eml": {
    recipient: "ops@example.net",
    action: "failed",
    status: "5.7.26",
    host: "web01.example.org",
  },
  "A15-mdadm-degraded-array-raw-sendmail.eml": { event: "DegradedArray", device: "/dev/md/0", host: "db-03" },
  "A16-unattended-upgrades-qp.eml": { host: "web01.example.org", result: "SUCCESS", reboot: "required" },
  "A17-smartd-warning-exim-pipe.eml": { error: "CurrentPendingSector", host: "nas-01", device: "/dev/sdc" },
  "A18-at-job-output-no-from-raw-sendmail.eml": { job: "42", user: "deploy" },
};

describe("classify: every fixture as its manifest describes it", () => {
  for (const fx of fixtures()) {
    const description = (fx as unknown as { kind: string }).kind;
    it(`${fx.file}: ${description}`, async () => {
      const expectedKind = BY_DESCRIPTION.find(([words]) => words.test(description))?.[1];
      assert.ok(expectedKind, `no kind for the manifest description "${description}"`);
      const got = await classifyRaw(fixtureBytes(fx));
      assert.equal(got.kind, expectedKind);
      assert.deepEqual(got.fields, FIELDS[fx.file], "fields");
    });
  }
});

const mail = (header: string, body: string) => Buffer.from(`${header.trim()}\n\n${body}`);

describe("classify: beyond the fixtures", () => {
  it("sshd's own failure lines in a login alert are a failure", async () => {
    const got = await classify(
      mail(
        "Subject: sshd alert on web02",
        "Nov 21 10:00:00 web02 sshd[1]: Failed password for invalid user oracle from 192.0.2.9 port 4242 ssh2\n",
      ),
    );
    assert.deepEqual(got, { kind: "login.failure", fields: { user: "oracle", ip: "192.0.2.9", service: "sshd", host: "web02" } });
  });
  it("a fail2ban ban whose Subject the admin rewrote is still known by its body", async () => {
    const got = await classify(
      mail("Subject: ban!", "The IP 192.0.2.7 has just been banned by Fail2Ban after\n3 attempts against recidive.\n"),
    );
    assert.deepEqual(got, { kind: "fail2ban.ban", fields: { jail: "recidive", ip: "192.0.2.7", attempts: "3" } });
  });
  it("8,000 To fields: read up to its 500th field, then its body, so a ban is still known and fast (LF and CRLF alike)", async () => {
    for (const eol of ["\n", "\r\n"]) {
      const header = ["From: fail2ban <root@web01.example.org>", "Subject: [Fail2Ban] sshd: banned 192.0.2.7 from web01"];
      for (let i = 0; i < 8000; i++) header.push(`To: u${i}@example.net`);
      const body = ["", "The IP 192.0.2.7 has just been banned by Fail2Ban after", "5 attempts against sshd.", ""];
      const started = process.hrtime.bigint();
      const got = await classify(Buffer.from([...header, ...body].join(eol)));
      assert.equal(got.kind, "fail2ban.ban", JSON.stringify(eol));
      assert.equal(got.fields.ip, "192.0.2.7");
      assert.ok(
        process.hrtime.bigint() - started < 5_000_000_000n,
        "bounded, not a parse of 8,000 address fields (bench/serve-stall.mjs measures it)",
      );
    }
  });
  it("a Subject that names a ban but no IP is not a ban", async () => {
    assert.equal((await classify(mail("Subject: [Fail2Ban] sshd: banned everyone from web01", "hi\n"))).kind, "other");
  });
  it("cron is known by X-Cron-Env alone; its output quoting sshd lines stays cron", async () => {
    const got = await classify(
      mail("Subject: job\nX-Cron-Env: <SHELL=/bin/sh>", "Accepted publickey for bob from 192.0.2.1 port 22 ssh2\n"),
    );
    assert.equal(got.kind, "cron");
  });
  it("a logwatch report full of sshd lines stays logwatch", async () => {
    const got = await classify(mail("Subject: Logwatch for db-03 (Linux)", "Failed password for root from 192.0.2.3 port 1 ssh2\n"));
    assert.deepEqual(got, { kind: "logwatch", fields: { host: "db-03" } });
  });
  it("a null-sender mail from MAILER-DAEMON is a bounce even without a report part", async () => {
    assert.equal(
      (await classify(mail("From: MAILER-DAEMON@h.example.org\nSubject: failure", "<x@example.net>: host said no\n"), "")).kind,
      "bounce",
    );
  });
  it("an empty message, a header only, a body only: other", async () => {
    for (const b of ["", "Subject: x", "\n\njust text"]) assert.equal((await classify(Buffer.from(b))).kind, "other");
  });
  it("never throws, whatever the bytes (fast-check)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2000 }), async (bytes) => {
        const got = await classify(Buffer.from(bytes));
        assert.ok((KINDS as readonly string[]).includes(got.kind));
      }),
      { numRuns: 300 },
    );
  });
});

describe("kind patterns", () => {
  it("kind, family and *", () => {
    assert.ok(kindMatches("login.*", "login.failure"));
    assert.ok(!kindMatches("login.*", "logwatch"));
    assert.ok(kindMatches("*", "other"));
    assert.ok(kindMatches("cron", "cron"));
    assert.ok(!kindMatches("fail2ban.ban", "fail2ban.unban"));
  });
  it("a typo matches no kind, so the config refuses it", () => {
    for (const p of ["fail2ban.bans", "login", "cron.*", ""]) assert.ok(!isKindPattern(p), p);
    for (const p of ["fail2ban.*", "privilege.su", "*", "other"]) assert.ok(isKindPattern(p), p);
  });
});
