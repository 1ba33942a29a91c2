/** A raw LMTP dialogue over a unix socket, as Postfix's lmtp(8) and Exim's lmtp transport speak it. */
import { createConnection, type Socket } from "node:net";

export interface Reply {
  code: number;
  text: string;
}

/** Reads replies (multi-line ones joined) off a socket, one at a time. */
class Replies {
  private buffer = "";
  private lines: string[] = [];
  private waiters: Array<(r: Reply | undefined) => void> = [];
  private queued: Reply[] = [];
  private closed = false;

  constructor(socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.buffer += chunk.toString("latin1");
      let nl: number;
      while ((nl = this.buffer.indexOf("\r\n")) >= 0) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 2);
        this.lines.push(line);
        if (line[3] !== "-") {
          this.push({ code: Number(line.slice(0, 3)), text: this.lines.join(" ") });
          this.lines = [];
        }
      }
    });
    socket.on("close", () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w(undefined);
    });
  }

  next(): Promise<Reply> {
    const r = this.queued.shift();
    if (r) return Promise.resolve(r);
    if (this.closed) return Promise.reject(new Error("connection closed"));
    return new Promise((resolve, reject) => this.waiters.push((x) => (x ? resolve(x) : reject(new Error("connection closed")))));
  }

  private push(r: Reply): void {
    const w = this.waiters.shift();
    if (w) w(r);
    else this.queued.push(r);
  }
}

export class LmtpClient {
  private constructor(
    private readonly socket: Socket,
    private readonly replies: Replies,
    readonly greeting: Reply,
  ) {}

  static async connect(path: string): Promise<LmtpClient> {
    const socket = createConnection(path);
    socket.on("error", () => undefined);
    const replies = new Replies(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const greeting = await replies.next();
    const client = new LmtpClient(socket, replies, greeting);
    await client.command("LHLO test.example");
    return client;
  }

  async command(line: string): Promise<Reply> {
    this.socket.write(line + "\r\n");
    return this.replies.next();
  }

  /** One transaction: the RCPT replies, then (when any was accepted) one DATA reply per accepted recipient. */
  async send(sender: string, recipients: string[], message: Buffer | string): Promise<{ rcpt: Reply[]; data: Reply[] }> {
    await this.command(`MAIL FROM:<${sender}>`);
    const rcpt: Reply[] = [];
    for (const r of recipients) rcpt.push(await this.command(`RCPT TO:<${r}>`));
    const accepted = rcpt.filter((r) => r.code === 250).length;
    if (accepted === 0) {
      await this.command("RSET");
      return { rcpt, data: [] };
    }
    const go = await this.command("DATA");
    if (go.code !== 354) throw new Error(`DATA: ${go.text}`);
    const body = Buffer.from(message).toString("latin1").replace(/\r?\n/g, "\r\n").replace(/^\./gm, "..");
    this.socket.write(body + (body.endsWith("\r\n") ? "" : "\r\n") + ".\r\n");
    const data: Reply[] = [];
    for (let i = 0; i < accepted; i++) data.push(await this.replies.next());
    return { rcpt, data };
  }

  async quit(): Promise<void> {
    await this.command("QUIT").catch(() => undefined);
    this.socket.destroy();
  }
}
