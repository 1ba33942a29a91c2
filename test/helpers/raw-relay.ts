/** Relays that misbehave below SMTP: one that accepts TCP and never speaks, one that drops the line in DATA. */
import { createServer, type Server, type Socket } from "node:net";

export class RawRelay {
  port = 0;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  /** `script` gets each line the client sends and the socket; it answers, or not. */
  constructor(greeting: string | null, script: (line: string, socket: Socket) => void = () => undefined) {
    this.server = createServer((socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
      socket.on("error", () => undefined);
      if (greeting !== null) socket.write(greeting + "\r\n");
      let buffered = "";
      socket.on("data", (chunk: Buffer) => {
        buffered += chunk.toString("latin1");
        let nl;
        while ((nl = buffered.indexOf("\n")) !== -1) {
          const line = buffered.slice(0, nl).replace(/\r$/, "");
          buffered = buffered.slice(nl + 1);
          script(line, socket);
        }
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", () => resolve()));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A relay that takes the envelope, says 354, and cuts the connection at the first line of the message. */
export function dropInData(): RawRelay {
  let inData = false;
  return new RawRelay("220 relay.test ESMTP", (line, socket) => {
    if (inData) return void socket.destroy();
    const verb = line.slice(0, 4).toUpperCase();
    if (verb === "EHLO" || verb === "HELO") socket.write("250-relay.test\r\n250 8BITMIME\r\n");
    else if (verb === "DATA") {
      inData = true;
      socket.write("354 go ahead\r\n");
    } else socket.write("250 ok\r\n");
  });
}
