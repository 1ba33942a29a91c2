/**
 * `sealpost init`: the set-up a careful admin would do by hand, idempotent, each step
 * said in plain words — a system user, /etc/sealpost (config, keys), the spool and the local
 * store with the right owners and modes, the user's .forward, and the /etc/aliases line.
 * `root` puts everything under another directory (tests, images); `dryRun` only says.
 */
import { copyFile, lstat, mkdir, readFile, readlink, stat, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { UnsafePath, changeNoFollow, checkNoLink, ensureDirectory, entryAt, replaceFile, type Owner } from "./no-follow.js";
import { SHARED_WRITE, ownershipFindings } from "./ownership.js";
import { setUpLmtp, type MtaTools } from "./init-lmtp.js";

export interface InitOptions {
  user: string;
  root: string; // "/" on a real host
  launcher: string; // the absolute path of bin/sealpost
  exampleConfig: string;
  systemdUnit: string;
  dryRun: boolean;
  writeAliases: boolean;
  sendmailLink: boolean;
  systemd: boolean;
  /** The MTA hands root's mail to serve over LMTP (init-lmtp.ts) instead of a .forward pipe. */
  lmtp: boolean;
}

export interface Host {
  /** uid and gid of a user, or undefined when there is none. */
  lookupUser(user: string): { uid: number; gid: number } | undefined;
  createUser(user: string, home: string): void;
  newaliases(): void;
  mta: MtaTools;
}

export type Step = { state: "done" | "ok" | "would" | "note"; text: string };

export async function init(o: InitOptions, host: Host): Promise<Step[]> {
  const at = (p: string) => join(o.root, p);
  const steps: Step[] = [];
  const act = async (already: boolean, text: string, run: () => Promise<void> | void) => {
    if (already) return void steps.push({ state: "ok", text });
    if (o.dryRun) return void steps.push({ state: "would", text });
    await run();
    steps.push({ state: "done", text });
  };
  const home = "/var/lib/sealpost";
  let ids = host.lookupUser(o.user);
  await act(ids !== undefined, `system user ${o.user} (home ${home}, no login shell)`, () => {
    host.createUser(o.user, home);
    ids = host.lookupUser(o.user);
  });
  const owner = ids ?? { uid: 0, gid: 0 };
  const root = { uid: 0, gid: 0 };
  // Every path below is looked at without following links: under the user's home and the spool,
  // that user may have planted one, hoping root chowns or writes through it.
  const dir = async (path: string, mode: number, owned: boolean) => {
    const want = owned ? owner : root;
    const info = await entryAt(at(path));
    if (info?.isSymbolicLink()) throw new UnsafePath(`${path} is a symbolic link; init never follows one (remove it, then run init again)`);
    if (info && !info.isDirectory()) throw new UnsafePath(`${path} exists and is not a directory`);
    if (info && info.uid !== want.uid && info.uid !== 0) {
      throw new UnsafePath(
        `${path} belongs to uid ${info.uid}, not to ${owned ? `root or ${o.user}` : "root"}; init does not take it over (check who made it, then fix or remove it)`,
      );
    }
    const right = info && (info.mode & 0o7777) === mode && info.uid === want.uid && (!owned || info.gid === want.gid);
    await act(Boolean(right), `directory ${path} mode ${mode.toString(8).padStart(4, "0")}${owned ? ` owned by ${o.user}` : ""}`, () =>
      ensureDirectory(at(path), path, mode, want),
    );
  };
  await dir("/etc/sealpost", 0o755, false);
  await dir("/etc/sealpost/keys", 0o755, false);
  const config = "/etc/sealpost/sealpost.toml";
  await checkNoLink(at(config), config, "file");
  await act(await exists(at(config)), `config ${config} (from the example: edit [relay] and [[route]], then sealpost doctor)`, async () => {
    // the route names the user whose ~/.forward receives root's mail (Exim passes only that address)
    const example = await readFile(o.exampleConfig, "utf8");
    const text = example
      .replace('match_recipient = ["root", "postmaster", "sealpost"]', `match_recipient = ["root", "postmaster", "${o.user}"]`)
      .replace(/^user = "sealpost"(.*)$/m, `user = "${o.user}"$1`);
    await replaceFile(at(config), config, text, 0o644, root);
  });
  await dir("/var/spool/sealpost", 0o711, true);
  await dir("/var/spool/sealpost/drop", 0o1733, true);
  await dir(home, 0o755, true);
  await dir(`${home}/Maildir`, 0o700, true);
  await dir("/var/log/sealpost", 0o750, true); // for [log] file on hosts without a syslog socket
  await handBack(o, at, owner, act);
  const forward = `${home}/.forward`;
  if (o.lmtp) {
    await setUpLmtp({
      user: o.user,
      owner,
      configPath: config,
      forwardPath: forward,
      at,
      act,
      note: (text) => void steps.push({ state: "note", text }),
      tools: host.mta,
    });
  } else {
    const forwardLine = `"|${o.launcher} -c ${config} deliver"\n`;
    await checkNoLink(at(forward), forward, "file");
    const current = await readFile(at(forward), "utf8").catch(() => undefined);
    const forwardOwner = (await entryAt(at(forward)))?.uid;
    await act(current === forwardLine && forwardOwner === owner.uid, `${forward}: ${forwardLine.trim()}`, () =>
      replaceFile(at(forward), forward, forwardLine, 0o644, owner),
    );
  }
  const aliases = await readFile(at("/etc/aliases"), "utf8").catch(() => "");
  const aliased = new RegExp(`^root:.*\\b${o.user}\\b`, "m").test(aliases);
  if (!o.writeAliases && !aliased) {
    steps.push({ state: "note", text: `add to /etc/aliases, then run newaliases:  root: ${o.user}   (or --write-aliases)` });
  } else {
    await act(aliased, `/etc/aliases: root: ${o.user}, then newaliases`, async () => {
      await writeFile(at("/etc/aliases"), aliases.replace(/^root:.*\n?/m, "") + `root: ${o.user}\n`);
      host.newaliases();
    });
  }
  if (o.sendmailLink) {
    const link = "/usr/sbin/sendmail";
    const present = await lstat(at(link)).then(
      () => true,
      () => false,
    );
    const ours = present && (await readlink(at(link)).catch(() => "")) === o.launcher;
    if (present && !ours) steps.push({ state: "note", text: `${link} exists and is not sealpost (another MTA?); left alone` });
    else
      await act(ours, `${link} -> ${o.launcher}`, async () => {
        await mkdir(dirname(at(link)), { recursive: true });
        await symlink(o.launcher, at(link));
      });
  }
  if (o.systemd || o.lmtp) {
    const unit = "/etc/systemd/system/sealpost.service";
    await act(await exists(at(unit)), `${unit} (then: systemctl daemon-reload && systemctl enable --now sealpost)`, async () => {
      await mkdir(dirname(at(unit)), { recursive: true });
      await copyFile(o.systemdUnit, at(unit));
    });
  }
  return steps;
}

type Act = (already: boolean, text: string, run: () => Promise<void> | void) => Promise<void>;

/**
 * What root left inside the spool and the Maildir (a deliver run by hand, an old version) goes
 * back to the sealpost user, and what group or others may write loses that, through O_NOFOLLOW
 * descriptors; a link, or what another user owns,
 * stops init with its path: taking that over could hand someone's file to the sealpost user.
 */
async function handBack(o: InitOptions, at: (p: string) => string, owner: Owner, act: Act): Promise<void> {
  const spool = "/var/spool/sealpost";
  const maildir = "/var/lib/sealpost/Maildir";
  const findings = await ownershipFindings(at(spool), { maildir: at(maildir) }, owner.uid);
  const shown = (path: string) => (o.root === "/" ? path : path.slice(join(o.root, "/").length - 1));
  const refused = findings.find((f) => f.problem === "foreign" || f.problem === "link");
  if (refused) {
    const what = refused.problem === "link" ? "is a symbolic link" : `belongs to uid ${refused.uid}, not to root or ${o.user}`;
    throw new UnsafePath(`${shown(refused.path)} ${what}; init does not take it over (check who made it, then fix or remove it)`);
  }
  for (const f of findings) {
    // group and world write taken away with it: only drop/ is everyone's to write (set up above, never a finding)
    const mode = (f.mode & SHARED_WRITE) !== 0 ? f.mode & ~SHARED_WRITE : undefined;
    const why = f.problem === "root" ? `handed back to ${o.user} (root had left it there)` : "no longer writable by group or others";
    await act(false, `${shown(f.path)} ${why}`, () =>
      changeNoFollow(f.path, shown(f.path), f.kind, mode, f.problem === "root" ? owner : undefined),
    );
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
