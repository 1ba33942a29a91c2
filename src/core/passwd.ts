/** Users from /etc/passwd: uid and gid by name, name by uid. Read afresh each time: it is small, and a user may be added meanwhile. */
import { readFileSync } from "node:fs";

function passwd(): string[][] {
  try {
    return readFileSync("/etc/passwd", "utf8").split("\n").map((l) => l.split(":"));
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
