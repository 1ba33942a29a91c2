// The host of bench/postfix.mjs: one real Postfix (Debian's, "Local only", as test/e2e/run sets
// it up) with two local users whose mail it delivers through their ~/.forward — `recipe`, whose
// procmail runs the seed recipe (the classic procmail + gpg + mail one), and `sealpost`, set up by `sealpost init` from the
// npm tarball — both ending at the same loopback sink. It installs Debian packages, adds users
// and rewrites Postfix's main.cf: a throw-away machine only (CI's), as root.
import { execFile, spawn, spawnSync } from "node:child_process";
import { chownSync, existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KEY_FILE, KEY_UID, root } from "./lib.mjs";

export const HOST = "web01.example.org";
export const POSTFIX_LOG = "/var/log/postfix.log";
export const SEALPOST = "/usr/local/bin/sealpost"; // where the tarball lands (npm install -g --prefix /usr/local)
const CONFIG = "/etc/sealpost/sealpost.toml";
const MAIN_CF = "/etc/postfix/main.cf";
const HOLD_CHECKS = "/etc/postfix/sealpost-bench-hold";
let savedMainCf; // main.cf before the run, put back at the end
/** Backlog notices carry this field; Postfix's cleanup puts them on hold until the release. */
export const HOLD_FIELD = "X-Bench-Hold: backlog";
const SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * The two delivery targets. `from` is the envelope sender each one's sealed mail has at the sink,
 * which is how arrivals are told apart: the recipe's `mail -r "$FROM"` keeps the notice's sender,
 * sealpost uses its `envelope_from`.
 */
export const TARGETS = {
  recipe: { user: "recipe", from: `root@${HOST}`, what: "procmail recipe (~recipe/.forward → procmail → formail | gpg | mail)" },
  sealpost: { user: "sealpost", from: `sealpost@${HOST}` }, // what it is: the mode's `what`
};

/**
 * How Postfix hands sealpost its mail. A mode adds entries to Postfix's transport map, flags to
 * `sealpost init` and lines to sealpost's config, and may start something (returning how to stop it).
 */
export const SEALPOST_MODES = {
  pipe: {
    what: "sealpost (~sealpost/.forward → sealpost deliver, as sealpost init writes it)",
    transport: {},
    initFlags: [],
    config: "",
    start: async () => async () => {},
  },
  // LMTP: root: sealpost, then mailbox_transport_maps → sealpost-lmtp → serve, as init --lmtp writes it
  lmtp: {
    what: "sealpost (~sealpost → mailbox_transport_maps → LMTP → sealpost serve, as sealpost init --lmtp writes it)",
    transport: {},
    initFlags: ["--lmtp"],
    config: `\n[serve]\nlisten = "127.0.0.1:2527"\nlmtp = "/run/sealpost/lmtp"\n`,
    start: startServe,
  },
};

/** sealpost serve as the sealpost user, as its systemd unit runs it, once it listens; resolves with how to stop it. */
async function startServe() {
  const ids = /^sealpost:[^:]*:(\d+):(\d+):/m.exec(readFileSync("/etc/passwd", "utf8"));
  const child = spawn(SEALPOST, ["-c", CONFIG, "serve"], {
    uid: Number(ids[1]),
    gid: Number(ids[2]),
    stdio: ["ignore", "pipe", "inherit"],
    env: { PATH: SYSTEM_PATH },
  });
  let said = "";
  child.stdout.on("data", (c) => (said += c));
  for (let i = 0; i < 300 && !said.includes("listening"); i++) await new Promise((r) => setTimeout(r, 50));
  if (!said.includes("listening")) throw new Error(`sealpost serve did not start: ${said}`);
  sh("postfix", ["reload"]); // local(8) and lmtp(8) read init's mailbox_transport_maps afresh
  return async () => {
    const gone = new Promise((r) => child.once("close", r));
    child.kill("SIGTERM");
    await gone;
  };
}

/** Why the benchmark must not run here, or undefined on the throw-away machine it is meant for. */
export function whyNotHere() {
  if (process.env.SEALPOST_BENCH_POSTFIX !== "1") {
    return "it installs Postfix and procmail, adds users and rewrites /etc/postfix: set SEALPOST_BENCH_POSTFIX=1, on a throw-away machine only";
  }
  if (process.getuid?.() !== 0) return "it needs root";
  if (!existsSync(join(root, "dist/bundle"))) return "build first: npm run build (bench/run --postfix does)";
  return undefined;
}

/** Runs a command to completion (blocking: only for set-up, never while the sink must answer). */
export function sh(cmd, args, { input, user } = {}) {
  const argv = user ? ["runuser", ["-u", user, "--", cmd, ...args]] : [cmd, args];
  const r = spawnSync(argv[0], argv[1], { input, encoding: "utf8", env: { PATH: SYSTEM_PATH, LANG: "C" } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: exit ${r.status}\n${r.stdout ?? ""}${r.stderr ?? r.error ?? ""}`);
  return r.stdout;
}

/** Like sh(), without blocking the event loop (the sink lives in it); resolves with stdout. */
export function shAsync(cmd, args) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: "utf8", env: { PATH: SYSTEM_PATH, LANG: "C" }, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${cmd} ${args.join(" ")}: ${err.message}\n${stderr}`)) : resolve(stdout),
    );
  });
}

/** Postfix ("Local only", mailname web01.example.org, as test/e2e/run), procmail, mail(1), gnupg. */
export function installPackages() {
  const wanted = { postfix: "/usr/sbin/postfix", procmail: "/usr/bin/procmail", "bsd-mailx": "/usr/bin/mail", gnupg: "/usr/bin/gpg" };
  const missing = Object.keys(wanted).filter((pkg) => !existsSync(wanted[pkg]));
  writeFileSync("/etc/mailname", `${HOST}\n`);
  if (missing.length) {
    console.error(`bench: installing ${missing.join(" ")}`);
    sh("debconf-set-selections", [], {
      input: `postfix postfix/main_mailer_type select Local only\npostfix postfix/mailname string ${HOST}\n`,
    });
    const install = () =>
      spawnSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "-o", "Dpkg::Options::=--force-confold", ...missing], {
        stdio: ["ignore", "ignore", "inherit"],
        env: { PATH: SYSTEM_PATH, DEBIAN_FRONTEND: "noninteractive" },
      }).status === 0;
    if (!install()) {
      sh("apt-get", ["update", "-qq"]);
      if (!install()) throw new Error(`apt-get install ${missing.join(" ")} failed`);
    }
  }
  // After the fail2ban e2e suite /usr/sbin/sendmail may still be sealpost's link: then neither
  // the notices nor the recipe's mail(1) would go through Postfix, and the run would mean nothing.
  if (lstatSync("/usr/sbin/sendmail").isSymbolicLink())
    throw new Error("/usr/sbin/sendmail is a symbolic link, not Postfix's: reinstall postfix");
}

/** sealpost as an admin installs it (test/e2e/run): the npm tarball of this checkout, offline, into /usr/local. */
export function installSealpost() {
  const pack = mkdtempSync(join(tmpdir(), "sealpost-bench-pack-"));
  try {
    const r = spawnSync("npm", ["pack", "--ignore-scripts", "--silent", "--pack-destination", pack], { cwd: root, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`npm pack: ${r.stderr}`);
    const tarball = join(pack, r.stdout.trim().split("\n").pop());
    const i = spawnSync("npm", ["install", "-g", "--offline", "--no-audit", "--no-fund", "--silent", "--prefix", "/usr/local", tarball], {
      encoding: "utf8",
    });
    if (i.status !== 0) throw new Error(`npm install -g ${tarball}: ${i.stderr}`);
  } finally {
    rmSync(pack, { recursive: true, force: true });
  }
}

/**
 * main.cf for the run: local delivery for web01.example.org, mail for example.net (the sealed
 * mail the recipe's mail(1) submits) to the sink, and nothing else anywhere — Debian's "Local
 * only" leaves default_transport = error, so nothing can loop out. Backlog notices are held on
 * arrival (a header check) so that each backlog is released at once.
 */
export function configurePostfix(sinkPort, mode) {
  savedMainCf ??= readFileSync(MAIN_CF);
  const transport = { "example.net": `smtp:[127.0.0.1]:${sinkPort}`, ...mode.transport };
  writeFileSync(HOLD_CHECKS, `/^${HOLD_FIELD}$/ HOLD sealpost benchmark backlog\n`);
  sh("postconf", [
    "-e",
    `myhostname=${HOST}`,
    `mydestination=${HOST}, localhost`,
    "inet_interfaces=loopback-only",
    `maillog_file=${POSTFIX_LOG}`,
    "alias_maps=hash:/etc/aliases",
    "alias_database=hash:/etc/aliases",
    `transport_maps=inline:{ ${Object.entries(transport)
      .map(([k, v]) => `${k}=${v}`)
      .join(", ")} }`,
    `header_checks=regexp:${HOLD_CHECKS}`,
  ]);
  sh("postalias", ["/etc/aliases"]);
  if (spawnSync("postfix", ["status"], { env: { PATH: SYSTEM_PATH } }).status === 0) sh("postfix", ["reload"]);
  else sh("postfix", ["start"]);
  sh("postsuper", ["-d", "ALL"]); // nothing left from an earlier run
  sh("postsuper", ["-d", "ALL", "hold"]);
}

/** Stops Postfix (nothing left running on a shared machine) and puts main.cf back as it was. */
export function stopPostfix() {
  spawnSync("postfix", ["stop"], { stdio: "ignore", env: { PATH: SYSTEM_PATH } });
  if (savedMainCf) writeFileSync(MAIN_CF, savedMainCf);
  rmSync(HOLD_CHECKS, { force: true });
}

/**
 * The seed: a user whose ~/.forward runs procmail, whose ~/.procmailrc is the classic recipe, and
 * whose gpg home holds the TEST-ONLY public key. The recipe reads $FROM and $SUBJECT without
 * setting them; two lines before it set them the way such recipes do (formail), or mail(1)
 * would send from "" with no Subject. The local copy (`:0 c` goes on to procmail's default) is
 * a Maildir, as sealpost's is: into /var/mail, procmail's dotlock makes one of Postfix's two
 * parallel deliveries sleep LOCKSLEEP (8 s) now and then, which times procmail's locking, not the recipe.
 */
export function setUpRecipe() {
  const { user } = TARGETS.recipe;
  const home = `/var/lib/sealpost-bench-${user}`;
  if (spawnSync("id", [user]).status !== 0) {
    sh("useradd", ["--system", "--create-home", "--home-dir", home, "--user-group", user]);
  }
  // procmail runs a recipe's command with the user's login shell: a nologin shell would run nothing.
  sh("usermod", ["--shell", "/bin/sh", user]);
  const ids = statSync(home);
  const file = (name, text, mode = 0o644) => {
    const path = join(home, name);
    writeFileSync(path, text, { mode });
    chownSync(path, ids.uid, ids.gid);
  };
  file(".forward", '"|/usr/bin/procmail"\n');
  file(
    ".procmailrc",
    [
      "DEFAULT=$HOME/Maildir/",
      "SUBJECT=`formail -zxSubject:`",
      "FROM=`formail -rtzxTo:`",
      "",
      ":0 c",
      "*^To:.*root.*",
      `|formail -I "" | gpg --trust-model always -ear "${KEY_UID}" | mail -r "$FROM" -s "$SUBJECT" ${KEY_UID}`,
      "",
    ].join("\n"),
  );
  rmSync(join(home, ".gnupg"), { recursive: true, force: true });
  sh("mkdir", ["-m", "0700", join(home, ".gnupg")], { user });
  // offline: never a key lookup (the test standard for every gpg home)
  sh("sh", ["-c", `printf 'auto-key-locate local\\nno-auto-key-retrieve\\n' > ${home}/.gnupg/gpg.conf`], { user });
  sh("gpg", ["--batch", "--quiet", "--import"], { user, input: readFileSync(KEY_FILE) });
  stopGpgAgent();
  rmSync(join(home, "Maildir"), { recursive: true, force: true }); // the recipe's local copies, fresh each run
}

/** gpg starts an agent for the recipe's user and leaves it running: stop it (after set-up and at the end). */
export function stopGpgAgent() {
  spawnSync("runuser", ["-u", TARGETS.recipe.user, "--", "gpgconf", "--kill", "gpg-agent"], {
    stdio: "ignore",
    env: { PATH: SYSTEM_PATH },
  });
}

/**
 * `sealpost init` (the user, /etc/sealpost, spool, Maildir, ~/.forward) without touching
 * /etc/aliases, then the config test/e2e/system.ts writes: relay = the sink, events to a file,
 * the TEST-ONLY key. Everything else is sealpost's default.
 */
export function setUpSealpost(sinkPort, mode) {
  const said = sh(SEALPOST, ["init", ...mode.initFlags]);
  writeFileSync(
    CONFIG,
    `hostname = "${HOST}"
keys_dir = "keys"
spool_dir = "/var/spool/sealpost"

[local]
store = "maildir"
path = "/var/lib/sealpost/Maildir"

[relay]
host = "127.0.0.1"
port = ${sinkPort}
security = "none"
envelope_from = "${TARGETS.sealpost.from}"

[log]
syslog = ""
file = "/var/log/sealpost/sealpost.log"
${mode.config}
[[route]]
match_recipient = ["root", "${TARGETS.sealpost.user}"]
to = ["${KEY_UID}"]
`,
  );
  sh(SEALPOST, ["-c", CONFIG, "keys", "import", KEY_FILE]);
  return said;
}

/** What Postfix logged since `offset`, for the checks and for a failure's diagnosis. */
export function postfixLogSince(offset) {
  if (!existsSync(POSTFIX_LOG)) return "";
  return readFileSync(POSTFIX_LOG).subarray(offset).toString("utf8");
}

export function postfixLogSize() {
  return existsSync(POSTFIX_LOG) ? statSync(POSTFIX_LOG).size : 0;
}
