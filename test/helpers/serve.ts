/** A `sealpost serve` process for a test: started on a free loopback port, its stdout at hand. */
import type { ChildProcess } from "node:child_process";
import { createServer, createConnection, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import type { Home } from "./home.js";

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export class Served {
  readonly stdout: string[] = [];
  exit?: Promise<number | null>;
  private child?: ChildProcess;

  constructor(
    readonly home: Home,
    readonly port: number,
  ) {}

  async start(): Promise<this> {
    const run = this.home.start(["serve"], null);
    this.child = run.child;
    run.child.stdout!.on("data", (c: Buffer) => this.stdout.push(...c.toString().split("\n").filter(Boolean)));
    this.exit = run.done.then((r) => r.code);
    for (let i = 0; i < 100; i++) {
      if (this.stdout.some((l) => l.includes("listening"))) return this;
      await sleep(50);
    }
    throw new Error(`serve did not start: ${this.stdout.join("\n")}`);
  }

  /** kill -9 (the launcher execs node: the child is serve itself); resolves once it is gone. */
  async kill(): Promise<void> {
    this.child?.kill("SIGKILL");
    await this.exit;
  }

  /** SIGTERM; resolves with the exit status. */
  async stop(): Promise<number | null> {
    this.child?.kill("SIGTERM");
    return this.exit!;
  }
}

/** Runs `fn` while `home` serves on a free port with `serveToml` in its [serve] table; serve is stopped afterwards whatever happens. */
export async function whileServing<T>(home: Home, serveToml: string, fn: (served: Served) => Promise<T>): Promise<T> {
  const port = await freePort();
  home.writeConfig({ extra: `[serve]\nlisten = "127.0.0.1:${port}"\n${serveToml}` });
  const served = await new Served(home, port).start();
  try {
    return await fn(served);
  } finally {
    await served.stop();
  }
}

/** A raw SMTP session: sends `lines` (CRLF-joined, as written) and returns everything the server said. */
export async function rawSmtp(port: number, script: string[], pauseMs = 100): Promise<string> {
  const socket = createConnection(port, "127.0.0.1");
  const closed = new Promise((resolve) => socket.once("close", resolve)); // the server may close first (QUIT)
  socket.on("error", () => undefined);
  let said = "";
  socket.on("data", (c: Buffer) => (said += c.toString()));
  await new Promise((resolve) => socket.once("connect", resolve));
  await sleep(200); // smtp-server greets after 100 ms
  for (const line of script) {
    if (!socket.writable) break;
    socket.write(line);
    await sleep(pauseMs);
  }
  socket.end();
  await closed;
  return said;
}

/**
 * Another client of the same serve, asking NOOP every 10 ms: the longest wait for an answer is
 * how long serve kept its other connections waiting (its event loop, seen from outside). serve
 * cuts a session that sends no DATA for a minute; the probe then connects again.
 */
export class NoopProbe {
  private socket?: Socket;
  private timer?: NodeJS.Timeout;
  private sentAt = 0;
  private waiting = false;
  private stopped = false;
  /** The longest wait for an answer so far, in ms. */
  longestMs = 0;

  async start(port: number): Promise<this> {
    const socket = createConnection(port, "127.0.0.1");
    this.socket = socket;
    socket.on("error", () => undefined);
    await new Promise((resolve) => socket.once("data", resolve)); // the greeting
    socket.write("EHLO probe.example\r\n");
    await new Promise((resolve) => socket.once("data", resolve));
    this.waiting = false;
    socket.on("data", () => {
      this.longestMs = Math.max(this.longestMs, Date.now() - this.sentAt);
      this.waiting = false;
    });
    socket.once("close", () => {
      clearInterval(this.timer);
      if (!this.stopped) void this.start(port);
    });
    this.timer = setInterval(() => {
      if (this.waiting) this.longestMs = Math.max(this.longestMs, Date.now() - this.sentAt);
      else {
        this.waiting = true;
        this.sentAt = Date.now();
        socket.write("NOOP\r\n");
      }
    }, 10);
    return this;
  }

  /** Stops asking; returns the longest wait. */
  stop(): number {
    this.stopped = true;
    clearInterval(this.timer);
    this.socket?.destroy();
    return this.longestMs;
  }
}
