import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ConfigLoadError, configPath, loadConfig } from "../../src/config/load.js";
import { parseDuration, parseSize } from "../../src/config/units.js";

const dir = mkdtempSync(join(tmpdir(), "sealpost-config-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const MINIMAL = '[relay]\nhost = "smtp.example.net"\n\n[[route]]\nto = ["ops@example.net"]\n';

function load(text: string) {
  const file = join(dir, `c${Math.random()}.toml`);
  writeFileSync(file, text);
  return loadConfig(file);
}

function loadError(text: string): string {
  try {
    load(text);
  } catch (err) {
    assert.ok(err instanceof ConfigLoadError);
    return err.message.replace(/^config \S+: /, "");
  }
  assert.fail("expected an error");
}

describe("config", () => {
  it("a minimal config gets the documented defaults; relative paths resolve beside the file", () => {
    const c = load(MINIMAL);
    assert.equal(c.keysDir, join(dir, "keys"));
    assert.equal(c.spoolDir, "/var/spool/sealpost");
    assert.deepEqual(c.local, { store: "maildir", path: "/var/lib/sealpost/Maildir" });
    assert.deepEqual(c.relay, {
      host: "smtp.example.net",
      port: 587,
      security: "starttls",
      user: undefined,
      passwordFile: undefined,
      envelopeFrom: undefined,
      timeoutSeconds: 30,
    });
    assert.deepEqual(c.message, {
      format: "pgp-mime",
      protectSubject: false,
      from: "original",
      sign: false,
      hostKey: join(dir, "host-key.asc"),
    });
    assert.deepEqual(c.deliver, { relay: "queued", onRelayFailure: "defer" });
    assert.deepEqual(c.serve, {
      listen: "127.0.0.1:2525",
      listenHost: "127.0.0.1",
      listenPort: 2525,
      maxSize: 25 * 1024 * 1024,
      localDomains: [],
      lmtp: undefined,
    });
    assert.equal(c.user, "sealpost");
    assert.deepEqual(c.spool, {
      retryMinSeconds: 60,
      retryMaxSeconds: 3600,
      maxAgeSeconds: 5 * 86_400,
      perUserMessagesPerHour: 100,
      perUserBytesPerHour: 50 * 1024 * 1024,
    });
    assert.deepEqual(c.log, { level: "info", syslog: "/dev/log", facility: "mail" });
    assert.deepEqual(c.routes, [{ matchRecipient: undefined, to: ["ops@example.net"], keys: undefined }]);
  });

  it("a route with match_kind, coalesce and max_per_hour; a message with subject_template", () => {
    const c = load(
      '[relay]\nhost = "h"\n[message]\nprotect_subject = true\nsubject_template = "[{host}] {kind}"\n' +
        '[[route]]\nto = ["a@b.c"]\nmatch_kind = ["fail2ban.*", "login.failure"]\ncoalesce = "2m"\nmax_per_hour = 20\n',
    );
    assert.equal(c.message.subjectTemplate, "[{host}] {kind}");
    assert.deepEqual(c.routes[0], {
      matchRecipient: undefined,
      to: ["a@b.c"],
      keys: undefined,
      matchKind: ["fail2ban.*", "login.failure"],
      coalesceSeconds: 120,
      maxPerHour: 20,
    });
  });

  it("serve.lmtp: a socket path, relative to the config's directory; too long for a socket is refused", () => {
    assert.equal(load(MINIMAL + '[serve]\nlmtp = "run/lmtp"\n').serve.lmtp, join(dir, "run/lmtp"));
    assert.equal(load(MINIMAL + '[serve]\nlmtp = ""\n').serve.lmtp, undefined);
    assert.match(
      loadError(MINIMAL + `[serve]\nlmtp = "/run/${"x".repeat(120)}"\n`),
      /^serve\.lmtp: expected a unix socket path of at most 107 bytes/,
    );
  });

  it("security = tls defaults to port 465", () => {
    assert.equal(load('[relay]\nhost = "smtp.example.net"\nsecurity = "tls"\n[[route]]\nto = ["a@b.c"]\n').relay.port, 465);
  });

  const errors: Array<[string, string, RegExp]> = [
    [
      "a bad port names the key",
      '[relay]\nhost = "h"\nport = "25a"\n[[route]]\nto = ["a@b.c"]\n',
      /^relay\.port: expected an integer 1-65535, got "25a"$/,
    ],
    ["an unknown key is an error", MINIMAL + 'colour = "blue"\n', /^route\[0\]\.colour: expected one of the known keys/],
    ["an unknown top-level key is an error", 'keysdir = "k"\n' + MINIMAL, /^keysdir: expected one of the known keys/],
    [
      "a bad choice lists the choices",
      MINIMAL + '[local]\nstore = "maildirs"\n',
      /^local\.store: expected "maildir" or "mbox" or "none", got "maildirs"$/,
    ],
    [
      "security none is for loopback only",
      '[relay]\nhost = "203.0.113.5"\nsecurity = "none"\n[[route]]\nto = ["a@b.c"]\n',
      /^relay\.security: .*loopback/,
    ],
    [
      "security none: an IPv4-mapped address outside 127/8 is not loopback",
      '[relay]\nhost = "::ffff:10.0.0.1"\nsecurity = "none"\n[[route]]\nto = ["a@b.c"]\n',
      /^relay\.security: .*loopback/,
    ],
    ["a relay host is required", '[[route]]\nto = ["a@b.c"]\n', /^relay\.host: expected/],
    ["a route is required", '[relay]\nhost = "h"\n', /^route: expected at least one/],
    ["route.to must be addresses", '[relay]\nhost = "h"\n[[route]]\nto = ["root"]\n', /^route\[0\]\.to: expected full addresses/],
    [
      "pinned keys are fingerprints",
      '[relay]\nhost = "h"\n[[route]]\nto = ["a@b.c"]\nkeys = ["ABCD"]\n',
      /^route\[0\]\.keys: expected 40-hex-digit/,
    ],
    ["a bad duration", '[relay]\nhost = "h"\ntimeout = "soon"\n[[route]]\nto = ["a@b.c"]\n', /^relay\.timeout: expected a duration/],
    ["a bad size", MINIMAL + '[serve]\nmax_size = "big"\n', /^serve\.max_size: expected a size/],
    [
      "spool.retry_max may not undercut retry_min",
      MINIMAL + '[spool]\nretry_min = "2h"\n',
      /^spool\.retry_max: expected a duration no shorter than spool\.retry_min/,
    ],
    ["spool.max_age is a duration", MINIMAL + '[spool]\nmax_age = "forever"\n', /^spool\.max_age: expected a duration/],
    [
      "log.syslog is an absolute socket path or empty",
      MINIMAL + '[log]\nsyslog = "dev/log"\n',
      /^log\.syslog: expected the syslog socket's absolute path, or "" for no syslog, got "dev\/log"$/,
    ],
    [
      "log.level is one of four",
      MINIMAL + '[log]\nlevel = "notice"\n',
      /^log\.level: expected "debug" or "info" or "warning" or "error", got "notice"$/,
    ],
    ["log.facility is a known one", MINIMAL + '[log]\nfacility = "kern"\n', /^log\.facility: expected "mail" or .* got "kern"$/],
    ["serve listens on loopback only", MINIMAL + '[serve]\nlisten = "0.0.0.0:25"\n', /^serve\.listen: expected a loopback address/],
    ["wrong type for a table", 'relay = 5\n[[route]]\nto = ["a@b.c"]\n', /^relay: expected a table, got 5$/],
    ["invalid TOML says where", "[relay\n", /^not valid TOML at line 1/],
    [
      "match_kind refuses a kind that does not exist",
      MINIMAL + 'match_kind = ["fail2ban.bans"]\n',
      /^route\[0\]\.match_kind: expected kinds such as "fail2ban\.ban".*got "fail2ban\.bans"$/,
    ],
    ["match_kind may not be empty", MINIMAL + "match_kind = []\n", /^route\[0\]\.match_kind: expected kinds/],
    ["coalesce is a window from 1s to 1d", MINIMAL + 'coalesce = "2d"\n', /^route\[0\]\.coalesce: expected a window from 1s to 1d/],
    ["max_per_hour is a positive integer", MINIMAL + "max_per_hour = 0\n", /^route\[0\]\.max_per_hour: expected an integer from 1, got 0$/],
    [
      "subject_template takes only host, kind and count",
      MINIMAL + '[message]\nprotect_subject = true\nsubject_template = "{host} {ip}"\n',
      /^message\.subject_template: expected printable ASCII with only the tokens \{host\}, \{kind\} and \{count\}, got "\{host\} \{ip\}"$/,
    ],
    [
      "subject_template needs protect_subject",
      MINIMAL + '[message]\nsubject_template = "[{host}] {kind}"\n',
      /^message\.subject_template: expected message\.protect_subject = true as well/,
    ],
  ];
  for (const [name, text, want] of errors) it(name, () => assert.match(loadError(text), want));

  it("a missing file is a one-line error", () => {
    assert.throws(() => loadConfig(join(dir, "nope.toml")), /config .*nope\.toml: not found$/);
  });

  it("-c wins over $SEALPOST_CONFIG, which wins over the default", () => {
    assert.equal(configPath("/a.toml", { SEALPOST_CONFIG: "/b.toml" }), "/a.toml");
    assert.equal(configPath(undefined, { SEALPOST_CONFIG: "/b.toml" }), "/b.toml");
    assert.equal(configPath(undefined, {}), "/etc/sealpost/sealpost.toml");
  });
});

describe("units", () => {
  for (const [input, want] of [
    [30, 30],
    ["30s", 30],
    ["5m", 300],
    ["4h", 14400],
    ["5d", 432000],
    ["5x", undefined],
    [-1, undefined],
    [1.5, undefined],
  ] as const) {
    it(`duration ${JSON.stringify(input)}`, () => assert.equal(parseDuration(input), want));
  }
  for (const [input, want] of [
    [1024, 1024],
    ["512KB", 524288],
    ["25MB", 26214400],
    ["1gb", 1073741824],
    ["25 MB", 26214400],
    ["MB", undefined],
  ] as const) {
    it(`size ${JSON.stringify(input)}`, () => assert.equal(parseSize(input), want));
  }
});
