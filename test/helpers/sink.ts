/** An in-process smtp-server on 127.0.0.1:0 acting as the relay: accept, 451, 554 or drop. */
import { SMTPServer, type SMTPServerSession } from "smtp-server";

export type SinkMode = "accept" | "tempfail" | "permfail" | "drop" | "rcpt-permfail";

export interface Received {
  raw: Buffer;
  from: string;
  to: string[];
  /** When its DATA ended (the 250 follows at once) and from which port: who sent it, and when. */
  at: number;
  clientPort: number;
}

export interface SinkOptions {
  /** Require AUTH with these credentials (over plain text: the test sink is on loopback). */
  auth?: { user: string; pass: string };
  /** Offer STARTTLS with this key and certificate. */
  tls?: { key: Buffer; cert: Buffer };
  /** Recipients refused with 550 at RCPT. */
  refuse?: string[];
}

export class Sink {
  readonly messages: Received[] = [];
  readonly logins: string[] = [];
  /** Every MAIL FROM seen, whether a message followed or not. */
  readonly mailFroms: string[] = [];
  mode: SinkMode;
  port = 0;
  /** When set, the relay answers `code` at this stage of every transaction. */
  failAt?: { stage: "mail" | "rcpt" | "data"; code: number };
  /** When set, DATA is never answered: the hook runs at its first bytes, and nothing is recorded. */
  hangInData?: () => void;
  /** When set, a slow relay: the message is recorded as its DATA ends, and its 250 waits for this. */
  slowData?: () => Promise<void>;
  private server: SMTPServer;

  constructor(mode: SinkMode = "accept", options: SinkOptions = {}) {
    this.mode = mode;
    const disabled = [...(options.auth ? [] : ["AUTH"]), ...(options.tls ? [] : ["STARTTLS"])];
    this.server = new SMTPServer({
      secure: false,
      disabledCommands: disabled,
      authOptional: !options.auth,
      allowInsecureAuth: true,
      ...(options.tls ? { key: options.tls.key, cert: options.tls.cert } : {}),
      onAuth: (auth, _session, cb) => {
        const ok = options.auth && auth.username === options.auth.user && auth.password === options.auth.pass;
        if (!ok) {
          cb(Object.assign(new Error("5.7.8 authentication failed"), { responseCode: 535 }));
          return;
        }
        this.logins.push(auth.username ?? "");
        cb(null, { user: auth.username });
      },
      logger: false,
      disableReverseLookup: true, // no DNS beyond loopback, and no waiting on it
      onConnect: (_session, cb) => (this.mode === "drop" ? cb(Object.assign(new Error("bye"), { responseCode: 421 })) : cb()),
      onMailFrom: (address, _session, cb) => {
        this.mailFroms.push(address.address);
        if (this.failAt?.stage === "mail") cb(reply(this.failAt.code));
        else if (this.mode === "tempfail") cb(Object.assign(new Error("4.3.0 try again later"), { responseCode: 451 }));
        else if (this.mode === "permfail") cb(Object.assign(new Error("5.7.1 rejected"), { responseCode: 554 }));
        else cb();
      },
      onRcptTo: (address, _session, cb) =>
        this.failAt?.stage === "rcpt"
          ? cb(reply(this.failAt.code))
          : this.mode === "rcpt-permfail" || options.refuse?.includes(address.address)
            ? cb(Object.assign(new Error("5.1.1 no such user"), { responseCode: 550 }))
            : cb(),
      onData: (stream, session: SMTPServerSession, cb) => {
        if (this.hangInData) {
          const hook = this.hangInData;
          stream.once("data", () => hook());
          stream.resume();
          return;
        }
        const chunks: Buffer[] = [];
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("end", () => {
          if (this.failAt?.stage === "data") {
            cb(reply(this.failAt.code));
            return;
          }
          const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : "";
          const to = session.envelope.rcptTo.map((r) => r.address);
          this.messages.push({ raw: Buffer.concat(chunks), from, to, at: Date.now(), clientPort: session.remotePort });
          if (this.slowData)
            void this.slowData().then(
              () => cb(),
              () => cb(),
            );
          else cb();
        });
      },
    });
  }

  /** Removes and returns the messages addressed to `recipient`. */
  take(recipient: string): Received[] {
    const mine = this.messages.filter((m) => m.to.includes(recipient));
    const rest = this.messages.filter((m) => !m.to.includes(recipient));
    this.messages.splice(0, this.messages.length, ...rest);
    return mine;
  }

  async start(): Promise<this> {
    // A client killed mid-session resets its connection; that is the test's doing, not a failure.
    this.server.on("error", () => undefined);
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", () => resolve()));
    this.port = (this.server.server.address() as { port: number }).port;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function reply(code: number): Error {
  const text = code >= 500 ? "5.7.1 refused by test relay" : "4.3.0 test relay busy";
  return Object.assign(new Error(text), { responseCode: code });
}
