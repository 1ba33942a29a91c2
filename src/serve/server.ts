/**
 * `sealpost serve`: SMTP on loopback for hosts without an MTA (SPEC §1, §6, §7). No AUTH, no
 * STARTTLS (loopback only); local recipients only; 250 only after the durable commit; max_size
 * enforced while the data streams in; bounded clients and timeouts. smtp-server ends DATA only at
 * CRLF.CRLF, so a bare LF can never end a message early (no smuggling); line ends are then
 * normalised to LF, as the local store keeps them.
 */
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from "smtp-server";
import type { Config } from "../config/schema.js";
import { qualify } from "../mail/address.js";
import { asSealpostError } from "../core/errors.js";
import { resolveHostname } from "../core/hostname.js";
import { smtpReply } from "../core/outcome.js";
import { prepareSubmission } from "../pipeline/submission.js";
import { submit } from "../pipeline/submit.js";
import { isLoopbackHost } from "../config/loopback.js";
import { openEventLog, type EventLog } from "../log/event-log.js";
import { prepareDropDir } from "../store/drop.js";
import { isLocalRecipient } from "./recipients.js";
import { Runner, passFailure } from "../pipeline/runner.js";
import { loadConfig } from "../config/load.js";

const MAX_CLIENTS = 32;
const SOCKET_TIMEOUT_MS = 60_000;
const CLOSE_TIMEOUT_MS = 10_000; // SIGTERM: sessions still open after this are cut (no 250 was given for them)

export type Log = (line: string) => void;

export class SealpostServer {
  private readonly servers: SMTPServer[] = [];
  private readonly hostname: string;
  private readonly runner: Runner;
  private closing = false;
  private inFlight = 0;
  private idle?: () => void;
  private readonly events: EventLog;

  /** `log` takes the lifecycle lines; message events go to config [log], or to `log` when that names nowhere. */
  constructor(private readonly config: Config, private readonly log: Log) {
    this.hostname = resolveHostname(config.hostname);
    this.events = openEventLog(config.log, log);
    // serve's own runner: it holds the runner lock while serve lives, so no intake starts another
    this.runner = new Runner({ loadConfig: () => reloaded(config), lingerMs: Infinity, log: this.events, onError: (err) => log(passFailure(err)) });
  }

  /** Listens on serve.listen (and on ::1 beside 127.0.0.1, where the host has IPv6). */
  async start(): Promise<void> {
    const { listenHost, listenPort } = this.config.serve;
    await prepareDropDir(this.config.spoolDir); // before the first client: users' sendmail needs drop/
    await this.listen(listenHost, listenPort, true);
    if (listenHost === "127.0.0.1") await this.listen("::1", listenPort, false);
    void this.runner.start();
  }

  /** Stops accepting, lets messages in flight finish, waits for the spool pass under way. */
  async stop(): Promise<void> {
    this.closing = true;
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.idle = resolve));
    await this.runner.stop();
    await this.events.close();
  }

  private async listen(host: string, port: number, required: boolean): Promise<void> {
    const server = this.create();
    try {
      await new Promise<void>((resolve, reject) => {
        server.server.once("error", reject);
        server.listen(port, host, () => resolve());
      });
    } catch (err) {
      if (required) throw err;
      return; // no IPv6 here, or ::1 taken: 127.0.0.1 is enough
    }
    server.on("error", (err) => this.log(`smtp: ${err.message}`));
    this.servers.push(server);
  }

  private create(): SMTPServer {
    const { maxSize, localDomains } = this.config.serve;
    return new SMTPServer({
      name: this.hostname,
      banner: "sealpost",
      disabledCommands: ["AUTH", "STARTTLS"],
      authOptional: true,
      disableReverseLookup: true,
      size: maxSize,
      maxClients: MAX_CLIENTS,
      socketTimeout: SOCKET_TIMEOUT_MS,
      closeTimeout: CLOSE_TIMEOUT_MS,
      logger: false,
      onConnect: (session, cb) => {
        if (!isLoopbackHost(session.remoteAddress.replace(/^::ffff:/, ""))) return cb(smtpError(554, "5.7.1 loopback clients only"));
        cb();
      },
      onMailFrom: (_address, _session, cb) => (this.closing ? cb(smtpError(421, "4.3.2 shutting down, try again later")) : cb()),
      onRcptTo: (address, _session, cb) => {
        if (this.closing) return cb(smtpError(421, "4.3.2 shutting down, try again later"));
        if (!isLocalRecipient(address.address, this.hostname, localDomains)) return cb(smtpError(550, "5.7.1 relaying denied: local recipients only"));
        cb();
      },
      onData: (stream, session, cb) => this.receive(stream, session, cb),
    });
  }

  private receive(stream: SMTPServerDataStream, session: SMTPServerSession, cb: (err?: Error | null, message?: string) => void): void {
    this.inFlight++;
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => {
      if (!stream.sizeExceeded) chunks.push(c); // over max_size: read on to the end, keep nothing
    });
    stream.on("end", () => {
      const done = (err?: Error | null, message?: string) => {
        cb(err, message);
        if (--this.inFlight === 0) this.idle?.();
      };
      if (stream.sizeExceeded) return done(smtpError(552, `5.3.4 message exceeds the maximum size of ${this.config.serve.maxSize} bytes`));
      this.commit(Buffer.concat(chunks), session).then((id) => {
        this.runner.kick();
        done(null, id ? `2.0.0 queued as ${id}` : "2.0.0 kept locally");
      }, (err) => {
        const reply = smtpReply({ kind: "deferred", error: asSealpostError(err) });
        this.events.event("deferred", {
          via: "serve", from: `<${session.envelope.mailFrom ? session.envelope.mailFrom.address : ""}>`, status: reply.code, reason: reply.text,
        });
        done(smtpError(reply.code, reply.text));
      });
    });
  }

  /** The id of the spool entry it went into; undefined when it stays local only. */
  private async commit(data: Buffer, session: SMTPServerSession): Promise<string | undefined> {
    const now = new Date();
    const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : "";
    const recipients = session.envelope.rcptTo.map((r) => qualify(r.address, this.hostname));
    const lf = Buffer.from(data.toString("latin1").replace(/\r\n/g, "\n"), "latin1");
    const { bytes, envelope } = prepareSubmission(lf, {
      mode: "send", sender: from === "" ? "<>" : from, recipients, extractRecipients: false, dotEndsMessage: false,
    }, { user: "MAILER-DAEMON", hostname: this.hostname }, now);
    const committed = await submit(this.config, this.hostname, bytes, envelope, now, { via: "serve", client: session.remoteAddress, log: this.events });
    return committed.kind === "stored-only" ? undefined : committed.entry.id;
  }
}

/** The config for the runner's next pass: read afresh, or the one serve started with while the file is broken. */
function reloaded(started: Config): Config {
  try {
    return loadConfig(started.file);
  } catch {
    return started;
  }
}

function smtpError(code: number, text: string): Error {
  return Object.assign(new Error(text), { responseCode: code });
}
