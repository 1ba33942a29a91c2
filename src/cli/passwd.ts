/** A user's uid and gid from /etc/passwd, or undefined when there is no such user. */
import { readFileSync } from "node:fs";

export function lookupUser(user: string): { uid: number; gid: number } | undefined {
  const line = readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.startsWith(`${user}:`));
  const [, , uid, gid] = line?.split(":") ?? [];
  return uid === undefined ? undefined : { uid: Number(uid), gid: Number(gid) };
}
