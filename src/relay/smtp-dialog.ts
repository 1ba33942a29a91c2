/**
 * One SMTP conversation, a command line at a time, for doctor's probe (probe.ts). Our own over
 * node:net and node:tls because nodemailer has no public "one command, its reply" call, and
 * driving its internals breaks silently whenever they change.
 *
 * The relay is not ours to trust: every wait has a timeout, a reply line and a whole reply
 * have a size bound (a relay that never ends a line is dropped, not buffered), and a failure
 * is an Error with the code nodemailer would have given it (ESOCKET, ECONNECTION, ETIMEDOUT,
 * ETLS, EAUTH, EPROTOCOL), so relayError (relay.ts) stays the one place that words it.
 */
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";

/** RFC 5321 4.5.3.1.5 allows 512 octets a reply line; 8 times that still fits every real relay. */
export const MAX_LINE = 4096;
/** A whole reply, continuation lines and all (a long EHLO is a few hundred bytes). */
export const MAX_REPLY = 64 * 1024;

export type SmtpError = Error & { code: string; response?: string; responseCode?: number; command?: string };

/** An Error in nodemailer's shape: the reply in `response` (and the message), its code as `responseCode`. */
export function smtpError(message: string, code: string, more: { response?: string; command?: string; cause?: unknown } = {}): SmtpError {
  const err = new Error(more.response === undefined ? message : `${message}: ${more.response}`, { cause: more.cause }) as SmtpError;
  err.code = code;
  if (more.response !== undefined) {
    err.response = more.response;
    const responseCode = Number(/^\d+/.exec(more.response)?.[0]);
    if (responseCode) err.responseCode = responseCode;
  }
  if (more.command) err.command = more.command;
  return err;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Reply text has no declared charset (RFC 5321 4.2.1): UTF-8 when it is that, else byte for byte. */
function decode(bytes: Buffer): string {
  try {
    return utf8.decode(bytes);
  } catch {
    return bytes.toString("latin1");
  }
}

export class SmtpDialog {
  private partial: Buffer[] = []; // the line being received
  private partialLength = 0;
  private lines: string[] = []; // the reply being received ("250-..." so far)
  private replyLength = 0;
  /** At most one reply nobody asked for yet: the greeting, when it beats the first read. */
  private early?: string;
  private waiting?: { resolve: (reply: string) => void; reject: (err: Error) => void };
  private failure?: Error; // once set, every later call fails with it

  private constructor(private socket: Socket) {
    this.attach(socket);
  }

  /** Connects (with implicit TLS when `tls` is given), within `ms`; socket and handshake errors are ESOCKET, as in nodemailer. */
  static open(host: string, port: number, tls: ConnectionOptions | undefined, ms: number): Promise<SmtpDialog> {
    return new Promise((resolve, reject) => {
      const socket = tls ? tlsConnect({ ...tls, host, port }) : netConnect({ host, port });
      const timer = setTimeout(() => fail(smtpError("Connection timeout", "ETIMEDOUT")), ms);
      const fail = (err: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      };
      const onError = (err: Error) => fail(smtpError(err.message, "ESOCKET", { cause: err }));
      socket.on("error", onError); // on, not once: a second error would be unhandled, and crash us
      socket.once(tls ? "secureConnect" : "connect", () => {
        clearTimeout(timer);
        socket.off("error", onError);
        resolve(new SmtpDialog(socket));
      });
    });
  }

  /** Sends one command line and waits `ms` at most for its whole reply (lines joined by "\n"). */
  async command(line: string, ms: number): Promise<string> {
    this.write(line);
    return this.read(ms);
  }

  private write(line: string): void {
    if (this.failure) throw this.failure;
    // Our lines only, but an address with a CR or LF in it would be a command of its own.
    if (/[\r\n]/.test(line)) throw new Error("an SMTP command line cannot hold a line break");
    if (this.early !== undefined) {
      // a reply before its command: the relay talks out of turn, and every later reply would be off by one
      const err = smtpError("Unexpected Response", "EPROTOCOL", { response: this.early, command: "CONN" });
      this.fail(err);
      throw err;
    }
    this.socket.write(`${line}\r\n`);
  }

  /** The next whole reply, within `ms`; on timeout the dialog fails with ETIMEDOUT and `what` as its message. */
  read(ms: number, what = "Timeout"): Promise<string> {
    if (this.failure) return Promise.reject(this.failure);
    const early = this.early;
    this.early = undefined;
    if (early !== undefined) return Promise.resolve(early);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(smtpError(what, "ETIMEDOUT")), ms);
      this.waiting = {
        resolve: (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
    });
  }

  /**
   * Upgrades to TLS after the relay's 2xx to STARTTLS, within `ms`. What arrived in plaintext
   * after that reply is dropped (RFC 3207 6): it could be a reply injected on the way, which
   * would then pass for one said over TLS. Errors here are ETLS, as nodemailer calls them.
   */
  startTls(options: ConnectionOptions, ms: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    this.partial = [];
    this.partialLength = 0;
    this.lines = [];
    this.replyLength = 0;
    this.early = undefined;
    const plain = this.socket;
    this.detach(plain);
    plain.on("error", () => undefined); // the TLS socket reports what goes wrong from here
    return new Promise((resolve, reject) => {
      const secure = tlsConnect({ ...options, socket: plain });
      this.socket = secure;
      const fail = (err: Error) => {
        clearTimeout(timer);
        this.failure = err;
        secure.destroy();
        plain.destroy();
        reject(err);
      };
      const timer = setTimeout(() => fail(smtpError("TLS handshake timed out", "ETIMEDOUT")), ms);
      const onError = (err: Error) => fail(smtpError(`Error initiating TLS - ${err.message}`, "ETLS", { command: "STARTTLS", cause: err }));
      secure.on("error", onError);
      secure.once("secureConnect", () => {
        clearTimeout(timer);
        secure.off("error", onError);
        this.attach(secure);
        resolve();
      });
    });
  }

  /** Ends the dialog; a read still waiting fails. */
  close(): void {
    this.fail(smtpError("Connection closed", "ECONNECTION"));
  }

  private attach(socket: Socket): void {
    socket.on("data", this.onData);
    socket.on("error", this.onError);
    socket.on("close", this.onClose);
  }

  private detach(socket: Socket): void {
    socket.off("data", this.onData);
    socket.off("error", this.onError);
    socket.off("close", this.onClose);
  }

  private readonly onError = (err: Error) => this.fail(smtpError(err.message, "ESOCKET", { cause: err }));
  private readonly onClose = () => this.fail(smtpError("Connection closed unexpectedly", "ECONNECTION", { command: "CONN" }));

  private readonly onData = (chunk: Buffer) => {
    let start = 0;
    for (let nl = chunk.indexOf(10); nl !== -1 && !this.failure; start = nl + 1, nl = chunk.indexOf(10, start)) {
      this.take(chunk.subarray(start, nl), true);
    }
    if (!this.failure) this.take(chunk.subarray(start), false);
  };

  /** Adds bytes to the line being received (`ends`: a LF followed them), bounded as it goes. */
  private take(bytes: Buffer, ends: boolean): void {
    this.partialLength += bytes.length;
    if (this.partialLength > MAX_LINE)
      return this.fail(smtpError(`Reply line longer than ${MAX_LINE} bytes`, "EPROTOCOL", { command: "CONN" }));
    if (bytes.length > 0) this.partial.push(bytes);
    if (!ends) return;
    const line = decode(Buffer.concat(this.partial)).replace(/\r$/, "");
    this.replyLength += this.partialLength + 1;
    this.partial = [];
    this.partialLength = 0;
    if (line.trim() === "") return; // a stray empty line is no reply (nodemailer skips them too), but it counts
    this.lines.push(line);
    if (this.replyLength > MAX_REPLY) return this.fail(smtpError(`Reply longer than ${MAX_REPLY} bytes`, "EPROTOCOL", { command: "CONN" }));
    if (/^\d+-/.test(line)) return; // "250-...": more lines follow
    const reply = this.lines.join("\n");
    this.lines = [];
    this.replyLength = 0;
    this.deliver(reply);
  }

  private deliver(reply: string): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    if (waiting) waiting.resolve(reply);
    else if (this.early === undefined) this.early = reply;
    else this.fail(smtpError("Unexpected Response", "EPROTOCOL", { response: reply, command: "CONN" }));
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.socket.destroy();
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.reject(err);
  }
}
