/**
 * `sealpost init --lmtp`: the MTA hands root's mail to a running `serve` over LMTP instead of
 * starting `sealpost deliver` for every message. What it sets up, and why this way:
 *
 * - /run/sealpost, 2750, owned by the sealpost user, in the group of the MTA's LMTP client
 *   (postfix: its lmtp(8) runs as that user and drops every other group, so only the directory's
 *   group can let it in). serve's socket there is 0660 and takes that group (unix-socket.ts):
 *   the MTA and sealpost can connect, other users cannot reach it. /run is emptied at boot, so
 *   a tmpfiles.d line makes the directory again (systemd's RuntimeDirectory= would give it the
 *   unit's own group, not the MTA's).
 * - [serve] lmtp in sealpost.toml, and the systemd unit for serve.
 * - No ~sealpost/.forward: both MTAs would run that pipe before they look at the LMTP route.
 * - Postfix: root: sealpost stays the alias; local(8), after aliases and .forward, looks up
 *   mailbox_transport_maps by the local part, and "sealpost" there names a transport of ours,
 *   sealpost-lmtp, an lmtp(8) outside Postfix's chroot (Debian chroots the stock lmtp service,
 *   where /run/sealpost does not exist). Other local users' mail is not touched.
 * - Exim (Debian's exim4): a router for the local part sealpost before the stock ones, and an
 *   lmtp transport that runs as the sealpost user. Debian takes extra routers from conf.d only
 *   with the split configuration; on a host that uses the one-file template, init says so.
 */
import { readFile, unlink } from "node:fs/promises";
import { ensureDirectory, entryAt, replaceFile, UnsafePath, type Owner } from "./no-follow.js";

export const LMTP_DIR = "/run/sealpost";
export const LMTP_SOCKET = `${LMTP_DIR}/lmtp`;
export const POSTFIX_SERVICE = "sealpost-lmtp";
export const POSTFIX_MAP = "/etc/postfix/sealpost_transport";

/** The host's MTA as init drives it; tests give their own. */
export interface MtaTools {
  kind: "postfix" | "exim" | undefined;
  groupId(group: string): number | undefined;
  postconf(args: string[]): string;
  postmap(file: string): void;
  /** postfix reload, when Postfix runs. */
  reloadPostfix(): void;
  /** Whether Debian's exim4 builds its configuration from conf.d (dc_use_split_config). */
  eximSplitConfig(): boolean;
  updateExim(): void;
}

type Act = (already: boolean, text: string, run: () => Promise<void> | void) => Promise<void>;
type Note = (text: string) => void;

export interface LmtpSetUp {
  user: string;
  owner: Owner;
  configPath: string;
  forwardPath: string;
  at: (path: string) => string;
  act: Act;
  note: Note;
  tools: MtaTools;
}

export async function setUpLmtp(s: LmtpSetUp): Promise<void> {
  const { at, act, tools } = s;
  const group = tools.kind === "postfix" ? "postfix" : s.user;
  const gid = tools.kind === "postfix" ? tools.groupId("postfix") : s.owner.gid;
  if (gid === undefined) throw new UnsafePath("Postfix is installed but there is no postfix group; is its package complete?");
  const dirOwner = { uid: s.owner.uid, gid };
  const info = await entryAt(at(LMTP_DIR));
  const right = info?.isDirectory() && (info.mode & 0o7777) === 0o2750 && info.uid === dirOwner.uid && info.gid === gid;
  await act(
    Boolean(right),
    `directory ${LMTP_DIR} mode 2750 owned by ${s.user}, group ${group} (the MTA reaches serve's socket there)`,
    () => ensureDirectory(at(LMTP_DIR), LMTP_DIR, 0o2750, dirOwner),
  );
  const tmpfiles = "/etc/tmpfiles.d/sealpost.conf";
  const tmpfilesLine = `d ${LMTP_DIR} 2750 ${s.user} ${group} -\n`;
  await act(
    (await readFile(at(tmpfiles), "utf8").catch(() => "")) === tmpfilesLine,
    `${tmpfiles}: ${tmpfilesLine.trim()} (made again at every boot)`,
    () =>
      ensureDirectory(at("/etc/tmpfiles.d"), "/etc/tmpfiles.d", 0o755).then(() =>
        replaceFile(at(tmpfiles), tmpfiles, tmpfilesLine, 0o644, { uid: 0, gid: 0 }),
      ),
  );
  await lmtpInConfig(s);
  await noForward(s);
  if (tools.kind === "postfix") await postfix(s);
  else if (tools.kind === "exim") await exim(s);
  else s.note("no Postfix or Exim found: point your MTA's LMTP delivery for root's mail at " + LMTP_SOCKET);
}

/** [serve] lmtp = "/run/sealpost/lmtp" in the config, written into its [serve] table (or a new one); another value is left to the admin. */
async function lmtpInConfig({ at, act, note, configPath }: LmtpSetUp): Promise<void> {
  const text = await readFile(at(configPath), "utf8").catch(() => undefined);
  if (text === undefined) {
    // only in a dry run: init writes the config before this
    return act(false, `${configPath}: [serve] lmtp = "${LMTP_SOCKET}"`, () => {
      throw new UnsafePath(`${configPath} is missing`);
    });
  }
  const current = /^\s*lmtp\s*=\s*"([^"]*)"/m.exec(text)?.[1];
  if (current !== undefined && current !== "" && current !== LMTP_SOCKET) {
    note(`${configPath} has [serve] lmtp = "${current}"; the MTA is set up for ${LMTP_SOCKET}: make them the same`);
    return;
  }
  const line = `lmtp = "${LMTP_SOCKET}"`;
  await act(current === LMTP_SOCKET, `${configPath}: [serve] ${line}`, async () => {
    const updated =
      current !== undefined
        ? text.replace(/^(\s*)lmtp\s*=\s*""/m, `$1${line}`)
        : /^\[serve\][^\n]*$/m.test(text)
          ? text.replace(/^\[serve\][^\n]*$/m, (header) => `${header}\n${line}`)
          : `${text.replace(/\n*$/, "\n")}\n[serve]\n${line}\n`;
    await replaceFile(at(configPath), configPath, updated, 0o644, { uid: 0, gid: 0 });
  });
}

/** A .forward pipe would run before the LMTP route: it goes (only ours; anything else stops init). */
async function noForward({ at, act, forwardPath }: LmtpSetUp): Promise<void> {
  const info = await entryAt(at(forwardPath));
  if (info?.isSymbolicLink())
    throw new UnsafePath(`${forwardPath} is a symbolic link; init never follows one (remove it, then run init again)`);
  const text = info ? await readFile(at(forwardPath), "utf8") : undefined;
  if (text !== undefined && !/^"\|[^"\n]*sealpost[^"\n]* deliver"\n?$/.test(text)) {
    throw new UnsafePath(
      `${forwardPath} holds something other than sealpost's pipe; with LMTP it must go (the MTA would run it first): look at it, then remove it`,
    );
  }
  await act(text === undefined, `no ${forwardPath} (the MTA would run its pipe before LMTP)`, () => unlink(at(forwardPath)));
}

async function postfix({ at, act, note, tools }: LmtpSetUp): Promise<void> {
  const service = `${POSTFIX_SERVICE} unix - - n - - lmtp`;
  const present = tools
    .postconf(["-M", `${POSTFIX_SERVICE}/unix`])
    .trim()
    .replace(/\s+/g, " ");
  await act(
    present === service,
    `Postfix master.cf: ${service} (lmtp(8) outside the chroot, where ${LMTP_DIR} is)`,
    () => void tools.postconf(["-M", `${POSTFIX_SERVICE}/unix=${service}`]),
  );
  const mapLine = `sealpost ${POSTFIX_SERVICE}:unix:${LMTP_SOCKET}\n`;
  const mapNow = await readFile(at(POSTFIX_MAP), "utf8").catch(() => "");
  await act(
    mapNow === mapLine && (await entryAt(at(`${POSTFIX_MAP}.db`))) !== undefined,
    `${POSTFIX_MAP}: ${mapLine.trim()}, then postmap`,
    async () => {
      await replaceFile(at(POSTFIX_MAP), POSTFIX_MAP, mapLine, 0o644, { uid: 0, gid: 0 });
      tools.postmap(at(POSTFIX_MAP));
    },
  );
  const maps = tools.postconf(["-h", "mailbox_transport_maps"]).trim();
  const ours = `hash:${POSTFIX_MAP}`;
  const has = maps.split(/[\s,]+/).includes(ours);
  await act(has, `Postfix main.cf: mailbox_transport_maps = ${has ? maps : [ours, maps].filter(Boolean).join(", ")}`, () => {
    tools.postconf(["-e", `mailbox_transport_maps = ${[ours, maps].filter(Boolean).join(", ")}`]);
    tools.reloadPostfix();
  });
  note(
    `start serve before mail comes (systemctl enable --now sealpost); until it listens, Postfix keeps root's mail deferred, never bounced`,
  );
}

const EXIM_ROUTER = "/etc/exim4/conf.d/router/350_sealpost_lmtp";
const EXIM_TRANSPORT = "/etc/exim4/conf.d/transport/30_sealpost_lmtp";

async function exim({ at, act, note, tools, user }: LmtpSetUp): Promise<void> {
  const router = `# sealpost (sealpost init --lmtp): the sealpost user's mail (root: ${user} in /etc/aliases) to serve over LMTP,
# before userforward and local_user look at it.
sealpost_lmtp:
  debug_print = "R: sealpost_lmtp for $local_part@$domain"
  driver = accept
  domains = +local_domains
  local_parts = ${user}
  transport = sealpost_lmtp
`;
  const transport = `# sealpost (sealpost init --lmtp): LMTP to sealpost serve, as the ${user} user (the socket's owner).
sealpost_lmtp:
  debug_print = "T: sealpost_lmtp for $local_part@$domain"
  driver = lmtp
  socket = ${LMTP_SOCKET}
  user = ${user}
  batch_max = 100
`;
  const written: string[] = []; // (set in act's callbacks, which flow analysis does not follow)
  for (const [path, text] of [
    [EXIM_ROUTER, router],
    [EXIM_TRANSPORT, transport],
  ] as const) {
    const dir = path.slice(0, path.lastIndexOf("/"));
    await act((await readFile(at(path), "utf8").catch(() => "")) === text, path, async () => {
      await ensureDirectory(at(dir), dir, 0o755);
      await replaceFile(at(path), path, text, 0o644, { uid: 0, gid: 0 });
      written.push(path);
    });
  }
  if (!tools.eximSplitConfig()) {
    note(
      "Debian's exim4 here builds its configuration from the one-file template, which reads no conf.d router: set dc_use_split_config='true' in /etc/exim4/update-exim4.conf.conf, then run update-exim4.conf (or paste the two conf.d files into the template's routers and transports)",
    );
    return;
  }
  if (written.length > 0) await act(false, "update-exim4.conf (Exim picks the router and transport up)", () => tools.updateExim());
  note(
    "start serve before mail comes (systemctl enable --now sealpost); until it listens, Exim keeps root's mail in its queue, never bounced",
  );
}
