/** An in-process smtp-server on 127.0.0.1:0 acting as the relay: accept, 451, 554 or drop. */
import { SMTPServer, type SMTPServerSession } from "smtp-server";

export type SinkMode = "accept" | "tempfail" | "permfail" | "drop" | "rcpt-permfail";

export interface Received {
  raw: Buffer;
  from: string;
  to: string[];
}

export class Sink {
  readonly messages: Received[] = [];
  mode: SinkMode;
  port = 0;
  private server: SMTPServer;

  constructor(mode: SinkMode = "accept") {
    this.mode = mode;
    this.server = new SMTPServer({
      secure: false,
      disabledCommands: ["AUTH", "STARTTLS"],
      logger: false,
      onConnect: (_session, cb) => (this.mode === "drop" ? cb(Object.assign(new Error("bye"), { responseCode: 421 })) : cb()),
      onMailFrom: (_address, _session, cb) => {
        if (this.mode === "tempfail") return cb(Object.assign(new Error("4.3.0 try again later"), { responseCode: 451 }));
        if (this.mode === "permfail") return cb(Object.assign(new Error("5.7.1 rejected"), { responseCode: 554 }));
        cb();
      },
      onRcptTo: (_address, _session, cb) =>
        this.mode === "rcpt-permfail" ? cb(Object.assign(new Error("5.1.1 no such user"), { responseCode: 550 })) : cb(),
      onData: (stream, session: SMTPServerSession, cb) => {
        const chunks: Buffer[] = [];
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("end", () => {
          const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : "";
          this.messages.push({ raw: Buffer.concat(chunks), from, to: session.envelope.rcptTo.map((r) => r.address) });
          cb();
        });
      },
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", () => resolve()));
    this.port = (this.server.server.address() as { port: number }).port;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
