/**
 * Becoming the spool's user before a byte is written (core/spool-access.ts decides who that may
 * be). Root drops every supplementary group it had (setgroups to the user's own group only)
 * before setgid and setuid, so nothing of root's (shadow, adm, disk) survives in a process that
 * then reads mail from local users and spawns runners of its own.
 */
import type { Config } from "../config/schema.js";
import { SealpostError } from "../core/errors.js";
import { Reason } from "../core/outcome.js";
import { spoolAccess } from "../core/spool-access.js";

/** "write": this process may write the spool now; "drop": it must submit through drop/. Throws when refused. */
export async function enterSpool(config: Config): Promise<"write" | "drop"> {
  const access = await spoolAccess(config.spoolDir, config.user, process.getuid?.() ?? 0);
  if (access.kind === "refuse") throw new SealpostError(Reason.storage, access.reason);
  if (access.kind === "switch") {
    process.setgroups?.([access.gid]);
    process.setgid?.(access.gid);
    process.setuid?.(access.uid);
    if (process.getuid?.() !== access.uid || process.getgroups?.().some((g) => g !== access.gid)) {
      throw new SealpostError(Reason.internal, `could not become the spool's user ${access.user}`);
    }
  }
  return access.kind === "drop" ? "drop" : "write";
}
