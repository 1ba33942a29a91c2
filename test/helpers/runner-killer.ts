/**
 * A process of its own that SIGKILLs one home's background runners at random moments, 100 to
 * 500 ms apart, until its stdin closes (or SIGTERM), so it never outlives the test that started it. For each kill it prints a line of JSON: the pid,
 * when, and the local ports of the runner's TCP connections then (its pooled relay connections),
 * so a test can tell which runner sent a message the relay received.
 *
 * Why not a timer in the test itself: the test's event loop also runs the sink. When it is held
 * up (spawning the next deliver, say), the relay's DATA and the kill timer both wait, and are then
 * handled back to back: the sink records a message and answers 250, and the runner is killed
 * before it could read that answer. Kills timed that way hit the one window where a kill costs a
 * second relay far more often than random ones do.
 */
import { readFileSync, readdirSync, readlinkSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { backgroundRunners } from "./home.js";

export interface Kill {
  pid: number;
  at: number;
  ports: number[];
}

/** Local port of every TCP socket on the host, by the socket's inode. */
function tcpPortsByInode(): Map<string, number> {
  const ports = new Map<string, number>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(table, "latin1");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      const local = f[1]?.split(":")[1];
      if (local && f[9]) ports.set(f[9], Number.parseInt(local, 16));
    }
  }
  return ports;
}

function tcpPortsOf(pid: number, byInode: Map<string, number>): number[] {
  const ports: number[] = [];
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
        const port = inode ? byInode.get(inode) : undefined;
        if (port !== undefined) ports.push(port);
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    // gone meanwhile
  }
  return ports;
}

const config = process.argv[2];
if (!config) throw new Error("usage: runner-killer CONFIG");
const stopped = new AbortController();
process.on("SIGTERM", () => stopped.abort());
process.stdin.on("end", () => stopped.abort());
process.stdin.resume();
while (!stopped.signal.aborted) {
  try {
    await sleep(100 + Math.random() * 400, undefined, { signal: stopped.signal });
  } catch {
    break; // told to stop
  }
  const runners = backgroundRunners({ config });
  const byInode = runners.length > 0 ? tcpPortsByInode() : new Map<string, number>();
  for (const pid of runners) {
    const ports = tcpPortsOf(pid, byInode);
    try {
      process.kill(pid, "SIGKILL");
      const kill: Kill = { pid, at: Date.now(), ports };
      process.stdout.write(JSON.stringify(kill) + "\n");
    } catch {
      // gone meanwhile
    }
  }
}
