/**
 * A syslog socket for tests: a unix datagram socket (what /dev/log is) bound by python3, since
 * Node cannot bind one. Every datagram it receives becomes one entry of `lines`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

const LISTENER = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("ready", flush=True)
while True:
    data = s.recv(65536)
    print(data.decode("utf-8", "replace").replace("\\n", "\\\\n"), flush=True)
`;

export class SyslogSocket {
  readonly lines: string[] = [];
  private child?: ChildProcess;

  constructor(readonly path: string) {}

  async start(): Promise<this> {
    const child = spawn("python3", ["-c", LISTENER, this.path], { stdio: ["ignore", "pipe", "inherit"] });
    this.child = child;
    let buffered = "";
    child.stdout.on("data", (c: Buffer) => {
      buffered += c.toString("utf8");
      const parts = buffered.split("\n");
      buffered = parts.pop()!;
      this.lines.push(...parts.filter((l) => l !== "ready"));
    });
    for (let i = 0; i < 100 && !existsSync(this.path); i++) await sleep(20);
    return this;
  }

  /** Waits until `count` lines have come, or ten seconds have passed. */
  async waitFor(count: number): Promise<string[]> {
    for (let i = 0; i < 500 && this.lines.length < count; i++) await sleep(20);
    return this.lines;
  }

  stop(): void {
    this.child?.kill();
  }
}
