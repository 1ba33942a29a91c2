/**
 * Users from /etc/passwd: uid and gid by name, name by uid. Read again whenever the file changed
 * (a user may be added meanwhile); serve asks for every message from a local user.
 */
import { readFileSync, statSync } from "node:fs";

let known: { stamp: string; rows: string[][] } | undefined;

function passwd(): string[][] {
  try {
    const s = statSync("/etc/passwd");
    const stamp = `${s.ino}:${s.mtimeMs}:${s.size}`;
    if (known?.stamp !== stamp)
      known = {
        stamp,
        rows: readFileSync("/etc/passwd", "utf8")
          .split("\n")
          .map((l) => l.split(":")),
      };
    return known.rows;
  } catch {
    return []; // no passwd file (a container): nobody is known by name
  }
}

export function userName(uid: number): string | undefined {
  return passwd().find((f) => f[2] === String(uid))?.[0];
}

export function lookupUser(user: string): { uid: number; gid: number } | undefined {
  const [, , uid, gid] = passwd().find((f) => f[0] === user) ?? [];
  return uid === undefined ? undefined : { uid: Number(uid), gid: Number(gid) };
}

/** The user's home directory, as /etc/passwd has it. */
export function homeOf(user: string): string | undefined {
  return passwd().find((f) => f[0] === user)?.[5] || undefined;
}
