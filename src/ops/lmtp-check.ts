/**
 * doctor's LMTP lines ([serve] lmtp): does serve answer on the socket, can the MTA's
 * LMTP client reach it, does the MTA route the sealpost user's mail there, and is a .forward
 * pipe in the way (both MTAs run it first).
 */
import { createConnection } from "node:net";
import { stat } from "node:fs/promises";
import { dirname } from "node:path";
import type { Config } from "../config/schema.js";
import type { Finding } from "./finding.js";

/** What doctor reads of the MTA's LMTP set-up; undefined where that MTA is not installed. */
export interface LmtpFacts {
  /** Postfix: where mailbox_transport_maps sends the local part `user` ("sealpost-lmtp:unix:/run/sealpost/lmtp"), whether that service is chrooted, the postfix group. */
  postfix?: (user: string) => { route?: string; chrooted?: boolean; gid?: number };
  /** Exim: the transport `exim4 -bt` routes user@hostname to. */
  exim?: (address: string) => string | undefined;
  /** The sealpost user's ~/.forward, when there is one. */
  forward: () => Promise<string | undefined>;
}

const FIX_INIT = "sudo sealpost init --lmtp (it writes the MTA's part)";

export async function lmtpFindings(config: Config, user: string, hostname: string, facts: LmtpFacts): Promise<Finding[]> {
  const socket = config.serve.lmtp;
  if (!socket) return [];
  const out: Finding[] = [await greeting(socket)];
  const forward = await facts.forward();
  if (forward !== undefined) {
    out.push({
      level: "error",
      area: "mta",
      text: `~${user}/.forward exists: the MTA runs it before it looks at the LMTP route, so mail goes the pipe's way`,
      fix: `remove it (${FIX_INIT} does)`,
    });
  }
  const pf = facts.postfix?.(user);
  if (pf) {
    const want = new RegExp(`:unix:${socket.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}$`);
    if (!pf.route || !want.test(pf.route)) {
      out.push({
        level: "error",
        area: "mta",
        text: `Postfix does not hand ${user}'s mail to ${socket} (mailbox_transport_maps gives ${pf.route ?? "nothing"} for ${user})`,
        fix: FIX_INIT,
      });
    } else if (pf.chrooted) {
      out.push({
        level: "error",
        area: "mta",
        text: `Postfix's ${pf.route.split(":")[0]} service runs chrooted, where ${socket} does not exist`,
        fix: `set its chroot column to n in master.cf (${FIX_INIT})`,
      });
    } else {
      out.push({ level: "ok", area: "mta", text: `Postfix hands ${user}'s mail to ${pf.route}` });
    }
    const dir = await stat(dirname(socket)).catch(() => undefined);
    if (pf.gid !== undefined && dir && dir.gid !== pf.gid) {
      out.push({
        level: "error",
        area: "mta",
        text: `${dirname(socket)} is not in the postfix group: Postfix's lmtp(8) cannot reach the socket`,
        fix: `chgrp postfix ${dirname(socket)} && chmod 2750 ${dirname(socket)} (${FIX_INIT})`,
      });
    }
  }
  const transport = facts.exim?.(`${user}@${hostname}`);
  if (facts.exim && transport !== "sealpost_lmtp") {
    out.push({
      level: "error",
      area: "mta",
      text: `Exim routes ${user}@${hostname} to ${transport ?? "nothing it can name"}, not to the sealpost_lmtp transport`,
      fix: `${FIX_INIT}; with Debian's one-file configuration, set dc_use_split_config='true' and run update-exim4.conf`,
    });
  } else if (facts.exim) {
    out.push({ level: "ok", area: "mta", text: `Exim hands ${user}@${hostname} to the sealpost_lmtp transport` });
  }
  return out;
}

/** Connects as the MTA would and waits for serve's greeting. */
function greeting(socket: string): Promise<Finding> {
  return new Promise((resolve) => {
    const c = createConnection(socket);
    const done = (f: Finding) => {
      clearTimeout(timer);
      c.destroy();
      resolve(f);
    };
    const timer = setTimeout(
      () =>
        done({
          level: "error",
          area: "mta",
          text: `nothing answered on ${socket} within 5 s`,
          fix: "is serve stuck? systemctl restart sealpost",
        }),
      5_000,
    );
    c.once("data", (d: Buffer) =>
      done(
        /^220 .*LMTP/.test(d.toString("latin1"))
          ? { level: "ok", area: "mta", text: `serve answers LMTP on ${socket}` }
          : { level: "error", area: "mta", text: `${socket} does not answer like sealpost serve's LMTP`, fix: "check [serve] lmtp" },
      ),
    );
    c.once("error", (err: NodeJS.ErrnoException) =>
      done(
        err.code === "EACCES"
          ? {
              level: "error",
              area: "mta",
              text: `this user cannot connect to ${socket}`,
              fix: `run doctor as the sealpost user; the socket's directory must be 2750, owned by it, in the MTA's group`,
            }
          : {
              level: "error",
              area: "mta",
              text: `nothing listens on ${socket} (${err.code ?? err.message}): the MTA keeps root's mail until serve runs`,
              fix: "systemctl enable --now sealpost (or start sealpost serve)",
            },
      ),
    );
  });
}
