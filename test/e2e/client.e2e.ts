/**
 * Real mail clients read sealpost's output: Debian's NeoMutt, then Debian's classic Mutt 2.2,
 * each with gpgme and a throw-away GNUPGHOME holding the TEST-ONLY secret key, driven headless in
 * tmux, open sealed fixtures from a Maildir as the administrator would. For A01, A11 (UTF-8), A12
 * (attachments) and A13 (already encrypted), with and without protect_subject, the real Subject
 * and the decrypted body text must be on the screen; so must the legacy display's Subject line
 * when protected headers are not read. The messages are sealed by `bin/sealpost deliver` and
 * caught by a loopback sink: no MTA is needed.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fixtureBytes, fixtures, pipeEnv, type Fixture } from "../helpers/fixtures.js";
import { Gpg } from "../helpers/gpg.js";
import { Home } from "../helpers/home.js";
import { RCPT } from "../helpers/paths.js";
import { Sink } from "../helpers/sink.js";
import { blocker, waitFor } from "./system.js";

const TMUX = "/usr/bin/tmux";

/** What each case must show in the pager once the client has decrypted it. */
const CASES: Array<{ prefix: string; body: string[]; attachments?: boolean }> = [
  { prefix: "A01", body: ["The IP 203.0.113.45 has just been banned by Fail2Ban after"] },
  { prefix: "A11", body: ["die nächtliche Sicherung von nas-01 ist abgeschlossen", "Prüfsummen: ✓ 412 904 OK"] },
  { prefix: "A12", body: ["Daily traffic report for web01 (eth0), 2026-11-20."], attachments: true },
  // sealpost's note, and both clients even open the original inside (it is encrypted to the same test key)
  {
    prefix: "A13",
    body: [
      "This message was already encrypted when sealpost received it",
      "0xF998DB0BD7E4EBB2",
      "CRITICAL - disk /srv/backup on nas-02 at 97%",
    ],
  },
];

/**
 * NeoMutt, or Mutt, as an administrator sets it up for PGP/MIME: gpgme, protected headers read,
 * nothing cached. Mutt 2.2 knows every one of these variables (`mutt -n -F /dev/null -Q name`),
 * so both read the same rc.
 */
function muttrc(maildir: string, protectedHeaders = true): string {
  return [
    `set folder = "${maildir}"`,
    `set spoolfile = "${maildir}"`,
    "set mbox_type = Maildir",
    "set crypt_use_gpgme = yes",
    `set crypt_protected_headers_read = ${protectedHeaders ? "yes" : "no"}`,
    "set crypt_verify_sig = no",
    'set header_cache = ""',
    'set message_cachedir = ""',
    'set record = ""',
    'set postponed = ""',
    'set mbox = ""',
    "set help = no",
    "set wait_key = no",
    "set markers = no",
    "set pager_stop = yes",
    'set charset = "utf-8"',
    "",
  ].join("\n");
}

/**
 * The clients under test, and what differs between them: the binary (both take `-n -F rc -f folder`).
 * Mutt shows every line these cases look for just as NeoMutt does, protected headers and the
 * decrypted A13 original included. Its screens differ only in layout: the status message ends in
 * a full stop, long header lines are not refolded, part headers leave out the charset.
 */
const CLIENTS: Array<{ name: string; suite: string; program: string }> = [
  { name: "NeoMutt", suite: "Debian neomutt, gpgme, headless in tmux", program: "/usr/bin/neomutt" },
  { name: "Mutt", suite: "Debian mutt 2.2, gpgme, headless in tmux", program: "/usr/bin/mutt" },
];
type Client = (typeof CLIENTS)[number];

/** One client in its own tmux server (its own socket), on a screen wide enough for a whole Subject. */
class Screen {
  private readonly socket: string;

  constructor(
    dir: string,
    private readonly env: Record<string, string>,
    command: string[],
  ) {
    this.socket = join(dir, "tmux.sock");
    this.tmux(["-u", "new-session", "-d", "-s", "client", "-x", "200", "-y", "80", ...command]);
  }

  keys(...keys: string[]): void {
    this.tmux(["send-keys", "-t", "client", ...keys]);
  }

  text(): string {
    const r = spawnSync(TMUX, ["-f", "/dev/null", "-S", this.socket, "capture-pane", "-p", "-J", "-t", "client"], {
      encoding: "utf8",
      env: this.env,
    });
    return r.status === 0 ? r.stdout : `(no screen: ${r.stderr.trim()})`;
  }

  /** Waits until every one of `texts` is on the screen; the screen, or an error showing it. */
  show(what: string, texts: string[]): Promise<string> {
    let last = "";
    return waitFor(
      what,
      () => {
        last = this.text();
        return texts.every((t) => last.includes(t)) ? last : undefined;
      },
      20_000,
      () => `screen:\n${last}\nmissing: ${texts.filter((t) => !last.includes(t)).join(" | ")}`,
    );
  }

  close(): void {
    this.tmux(["kill-server"], true);
  }

  private tmux(args: string[], mayFail = false): void {
    const r = spawnSync(TMUX, ["-f", "/dev/null", "-S", this.socket, ...args], { encoding: "utf8", env: this.env });
    if (r.status !== 0 && !mayFail) throw new Error(`tmux ${args[0]}: ${r.stderr}`);
  }
}

for (const client of CLIENTS) describe(`${client.name} reads sealed mail (${client.suite})`, () => suite(client));

/** One client's cases: each opens its own Maildir in a fresh client, in its own tmux server. */
function suite(client: Client): void {
  const sink = new Sink();
  let gpg: Gpg | undefined;
  let skip: string | undefined = "set-up failed";
  before(async () => {
    skip = blocker(client.program, false) ?? blocker(TMUX, false);
    if (skip) return;
    await sink.start();
    gpg = new Gpg(); // the TEST-ONLY secret key, no passphrase: gpg-agent needs no pinentry
    skip = undefined;
  });
  after(async () => {
    if (gpg) gpg.close();
    await sink.stop();
  });

  /** bin/sealpost deliver, as Postfix runs it, with the sink as relay; the sealed message it relayed. */
  async function sealed(fx: Fixture, protectSubject: boolean): Promise<Buffer> {
    const home = new Home({
      hostname: fx.hostname,
      relayPort: sink.port,
      extra: protectSubject ? "[message]\nprotect_subject = true\n" : "",
    });
    try {
      await home.importTestKey();
      sink.take(RCPT);
      const r = await home.deliver(fixtureBytes(fx), pipeEnv(fx));
      assert.equal(r.code, 0, r.stderr.toString());
      const [got] = await waitFor(
        "the sealed message at the sink",
        () => {
          const m = sink.take(RCPT);
          return m.length > 0 ? m : undefined;
        },
        30_000,
      );
      return got!.raw;
    } finally {
      await home.cleanup();
    }
  }

  /** A Maildir holding `sealed`, the client started on it in tmux; `use` gets the screen, then all is removed. */
  async function inClient(name: string, sealed: Buffer, protectedHeaders: boolean, use: (screen: Screen) => Promise<void>): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), `sealpost-${client.name.toLowerCase()}-`));
    const maildir = join(dir, "Maildir");
    for (const sub of ["cur", "new", "tmp"]) mkdirSync(join(maildir, sub), { recursive: true });
    // The bytes as the sink got them over SMTP, CRLF line ends and all (an MDA would store LF). Mutt
    // shows the CR ending each of the outer header lines as ^M in the pager; NeoMutt drops it.
    // Nothing below looks at those lines' ends.
    writeFileSync(join(maildir, "new", `1700000000.M1P1.${name}`), sealed);
    writeFileSync(join(dir, "muttrc"), muttrc(maildir, protectedHeaders));
    const env = { PATH: "/usr/bin:/bin", HOME: dir, GNUPGHOME: gpg!.home, LANG: "C.UTF-8", TERM: "xterm-256color" };
    const screen = new Screen(dir, env, [client.program, "-n", "-F", join(dir, "muttrc"), "-f", maildir]);
    try {
      await use(screen);
    } finally {
      screen.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }

  for (const protectSubject of [false, true]) {
    for (const c of CASES) {
      const fx = fixtures().find((f) => f.file.startsWith(c.prefix))!;
      const subject = fx.expected.subject!;
      it(
        `${c.prefix} ${protectSubject ? "with" : "without"} protect_subject: ${client.name} decrypts it and shows the real Subject and the body` +
          (c.attachments ? ", and lists the attachments" : ""),
        async (t) => {
          if (skip) {
            t.skip(skip);
            return;
          }
          await inClient(c.prefix, await sealed(fx, protectSubject), true, async (screen) => {
            const index = await screen.show("the index with one message", ["Msgs:1"]);
            if (protectSubject) assert.match(index, /\[\.\.\.\]/, "the outside Subject is hidden");
            screen.keys("Enter");
            const pager = await screen.show("the decrypted message", ["PGP message successfully decrypted", subject, ...c.body]);
            assert.doesNotMatch(pager, /-----BEGIN PGP MESSAGE-----/, "nothing is left encrypted on the screen");
            if (c.attachments) {
              screen.keys("v");
              await screen.show("the attachment menu", Object.keys(fx.expected.attachments ?? {}));
            }
          });
        },
      );
    }
  }

  it("with protected headers not read (as in Claws Mail), the legacy display alone shows the real Subject", async (t) => {
    if (skip) {
      t.skip(skip);
      return;
    }
    const fx = fixtures().find((f) => f.file.startsWith("A11"))!;
    await inClient("A11", await sealed(fx, true), false, async (screen) => {
      screen.keys("Enter");
      const pager = await screen.show("the decrypted message", ["PGP message successfully decrypted", CASES[1]!.body[0]!]);
      assert.ok(pager.includes(`Subject: ${fx.expected.subject}`), `the legacy display line is on the screen:\n${pager}`);
      assert.equal(pager.split(fx.expected.subject!).length - 1, 1, `once: ${client.name} itself shows only the outer [...]`);
    });
  });
}
