/** Users from /etc/passwd: uid and gid by name, name by uid. */
import { readFileSync } from "node:fs";

function passwd(): string[][] {
  return readFileSync("/etc/passwd", "utf8").split("\n").map((l) => l.split(":"));
}

export function userName(uid: number): string | undefined {
  return passwd().find((f) => f[2] === String(uid))?.[0];
}

export function lookupUser(user: string): { uid: number; gid: number } | undefined {
  const [, , uid, gid] = passwd().find((f) => f[0] === user) ?? [];
  return uid === undefined ? undefined : { uid: Number(uid), gid: Number(gid) };
}
