/**
 * `sealpost serve`: SMTP on loopback for hosts without an MTA (docs/contract.md §1, §6, §7). No AUTH, no
 * STARTTLS (loopback only); local recipients only; 250 only after the durable commit; max_size
 * enforced while the data streams in, and again once the message is prepared. Hostile clients
 * are bounded: deadlines no trickle of bytes can extend (connection-guard.ts), as many
 * connections as the descriptors allow (capacity.ts), one memory budget for all messages in
 * DATA (data-collector.ts), at most MAX_RECIPIENTS per message. smtp-server ends DATA only at
 * CRLF.CRLF, so a bare LF can never end a message early (no smuggling); line ends are then
 * normalised to LF, as the local store keeps them.
 *
 * With [serve] lmtp it also takes LMTP from the MTA on a unix socket (unix-socket.ts says who may
 * connect): LHLO, one reply per recipient after DATA, each only after the durable commit. Its
 * clients are the MTA delivering mail it already took in, trusted as deliver's MTA is. Neither
 * listener waits before its greeting: smtp-server's 100 ms early-talker pause protects servers
 * facing the internet, and ours face only this host (greetingDelay, patches/smtp-server+*.patch).
 */
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from "smtp-server";
import type { Config } from "../config/schema.js";
import { qualify } from "../mail/address.js";
import { SealpostError, asSealpostError } from "../core/errors.js";
import { stat } from "../core/fsp.js";
import { LoopbackPeers, type Endpoint } from "../core/loopback-peer.js";
import { prependFields, traceFields, type Submitter } from "../mail/trace.js";
import { localSubmitter, withinQuota } from "../pipeline/local-user.js";
import { UserQuota } from "../store/user-quota.js";
import { readKeyIndex } from "../store/key-index.js";
import { refreshKeyIndex } from "../crypto/key-index.js";
import { deliver } from "../pipeline/deliver.js";
import type { Envelope } from "../mail/envelope.js";
import { prepareSocketPath, removeSocket, restrictSocket } from "./unix-socket.js";
import { letOthersIn } from "../core/event-loop.js";
import { resolveHostname } from "../core/hostname.js";
import { Reason, smtpAccepted, smtpRefusal, smtpReply, type SmtpReply } from "../core/outcome.js";
import { prepareSubmission } from "../pipeline/submission.js";
import { submit } from "../pipeline/submit.js";
import { isLoopbackHost } from "../config/loopback.js";
import { openEventLog, type EventLog } from "../log/event-log.js";
import { prepareDropDir } from "../store/drop.js";
import { MAX_CLIENTS, clientLimit } from "./capacity.js";
import { ConnectionGuard, LINE_MS } from "./connection-guard.js";
import { DataCollector, MemoryBudget } from "./data-collector.js";
import { isLocalRecipient } from "./recipients.js";
import { Runner, passFailure } from "../pipeline/runner.js";
import { configFollower } from "../config/load.js";

const SHUTTING_DOWN = "shutting down, try again later";
const CLOSE_TIMEOUT_MS = 10_000; // SIGTERM: sessions still open after this are cut (no 250 was given for them)
/** Postfix's smtpd_recipient_limit, and what a drop file may carry; RFC 5321 asks for at least 100. */
const MAX_RECIPIENTS = 1000;
/** Messages in DATA share this much memory: four of max_size at once, and never less than 64 MB for many small ones. */
const DATA_MEMORY = (maxSize: number) => Math.max(4 * maxSize, 64 * 1024 * 1024);

export type Log = (line: string) => void;
type Protocol = "smtp" | "lmtp";

export class SealpostServer {
  private readonly servers: SMTPServer[] = [];
  private readonly hostname: string;
  private readonly runner: Runner;
  private closing = false;
  private inFlight = 0;
  private idle?: () => void;
  private readonly events: EventLog;
  private readonly guard = new ConnectionGuard();
  private readonly memory: MemoryBudget;
  private readonly quota: UserQuota;
  private readonly peers = new LoopbackPeers();
  /** By session id: the uid the kernel gives the client's socket, looked up when it connected. */
  private readonly peerUids = new Map<string, Promise<number | undefined>>();

  /** `log` takes the lifecycle lines; message events go to config [log], or to `log` when that names nowhere. */
  constructor(
    private readonly config: Config,
    private readonly log: Log,
  ) {
    this.hostname = resolveHostname(config.hostname);
    this.events = openEventLog(config.log, log);
    this.memory = new MemoryBudget(DATA_MEMORY(config.serve.maxSize));
    this.quota = new UserQuota(config.spoolDir, { messages: config.spool.perUserMessagesPerHour, bytes: config.spool.perUserBytesPerHour });
    // serve's own runner: it holds the runner lock while serve lives, so no intake starts another
    this.runner = new Runner({
      loadConfig: configFollower(config),
      lingerMs: Infinity,
      log: this.events,
      onError: (err) => log(passFailure(err)),
    });
  }

  /** Listens on serve.listen (and on ::1 beside 127.0.0.1, where the host has IPv6), and on serve.lmtp when set. */
  async start(): Promise<void> {
    const { listenHost, listenPort, lmtp } = this.config.serve;
    await prepareDropDir(this.config.spoolDir); // before the first client: users' sendmail needs drop/
    await this.listen("smtp", [listenPort, listenHost], true);
    if (this.alsoIpv6()) await this.listen("smtp", [listenPort, "::1"], false);
    if (lmtp) {
      await prepareSocketPath(lmtp);
      await this.listen("lmtp", [lmtp], true);
      await restrictSocket(lmtp);
    }
    void this.runner.start();
  }

  /** Stops accepting, lets messages in flight finish, waits for the spool pass under way. */
  async stop(): Promise<void> {
    this.closing = true;
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    if (this.config.serve.lmtp) await removeSocket(this.config.serve.lmtp);
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.idle = resolve));
    this.guard.stop();
    await this.runner.stop();
    await this.events.close();
  }

  /** 127.0.0.1 is served on ::1 as well, where the host has IPv6. */
  private alsoIpv6(): boolean {
    return this.config.serve.listenHost === "127.0.0.1";
  }

  /** `where`: [port, host] or [socket path]. */
  private async listen(protocol: Protocol, where: [number, string] | [string], required: boolean): Promise<void> {
    const server = this.create(protocol);
    this.guard.attach(server.server);
    try {
      await new Promise<void>((resolve, reject) => {
        server.server.once("error", reject);
        // A burst of connections waits in the kernel's queue until accepted: node's default of 511 would drop the rest.
        if (where.length === 1) server.listen(where[0], MAX_CLIENTS, () => resolve());
        else server.listen(where[0], where[1], MAX_CLIENTS, () => resolve());
      });
    } catch (err) {
      if (required) throw err;
      return; // no IPv6 here, or ::1 taken: 127.0.0.1 is enough
    }
    server.on("error", (err) => this.log(`smtp: ${err.message}`));
    this.servers.push(server);
  }

  private create(protocol: Protocol): SMTPServer {
    const { maxSize, localDomains, lmtp } = this.config.serve;
    return new SMTPServer({
      name: this.hostname,
      banner: "sealpost",
      lmtp: protocol === "lmtp",
      greetingDelay: 0,
      disabledCommands: ["AUTH", "STARTTLS"],
      authOptional: true,
      disableReverseLookup: true,
      size: maxSize,
      maxClients: clientLimit((this.alsoIpv6() ? 2 : 1) + (lmtp ? 1 : 0)),
      socketTimeout: LINE_MS, // the guard's deadlines are stricter; this is smtp-server's own idle timeout behind them
      closeTimeout: CLOSE_TIMEOUT_MS,
      logger: false,
      onConnect: (session, cb) => {
        if (protocol === "smtp" && !isLoopbackHost(session.remoteAddress.replace(/^::ffff:/, "")))
          return cb(refuse(Reason.notLoopback, "loopback clients only"));
        this.guard.begin(session);
        // who it is, asked for now (answered in a batch with other connections) and needed once the message is in
        if (protocol === "smtp") this.peerUids.set(session.id, this.peers.uidOf(...ends(session)));
        cb();
      },
      onClose: (session) => void this.peerUids.delete(session.id),
      onMailFrom: (_address, _session, cb) => (this.closing ? cb(refuse(Reason.shuttingDown, SHUTTING_DOWN)) : cb()),
      onRcptTo: (address, session, cb) => {
        if (this.closing) return cb(refuse(Reason.shuttingDown, SHUTTING_DOWN));
        if (!isLocalRecipient(address.address, this.hostname, localDomains))
          return cb(refuse(Reason.notLocal, "relaying denied: local recipients only"));
        // RFC 5321 4.5.3.1.10: the client sends the rest in another transaction.
        if (session.envelope.rcptTo.length >= MAX_RECIPIENTS) return cb(refuse(Reason.tooManyRecipients, "too many recipients"));
        cb();
      },
      onData: (stream, session, cb) => this.receive(protocol, stream, session, cb),
    });
  }

  private receive(
    protocol: Protocol,
    stream: SMTPServerDataStream,
    session: SMTPServerSession,
    cb: (err?: Error | null, message?: string) => void,
  ): void {
    this.inFlight++;
    this.guard.receiving(session);
    const collector = new DataCollector(this.memory);
    let ended = false;
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      collector.release();
      if (--this.inFlight === 0) this.idle?.();
    };
    stream.on("data", (c: Buffer) => {
      if (stream.sizeExceeded)
        collector.release(); // over max_size: read on to the end, keep nothing
      else collector.add(c);
    });
    stream.on("close", () => {
      if (!ended) settle(); // the client went away (or was cut) in the middle of the message
    });
    stream.on("end", () => {
      ended = true;
      this.guard.replying(session);
      const done = (err?: Error | null, message?: string) => {
        this.guard.answered(session);
        cb(err, message);
        settle();
      };
      if (stream.sizeExceeded) return done(refuse(Reason.tooBig, `message exceeds the maximum size of ${this.config.serve.maxSize} bytes`));
      const collected = collector.finish();
      if (collected.kind === "over-budget")
        return done(refuse(Reason.arrivingAtOnce, "too many messages arriving at once, try again later"));
      this.commit(protocol, collected.bytes, session).then(
        ({ reply, entryId }) => {
          if (entryId) this.runner.kick(entryId); // (the runner's watch sees it too: this is only sooner)
          done(null, reply);
        },
        (err: unknown) => {
          const reply = smtpReply({ kind: "deferred", error: asSealpostError(err) }); // too big (once prepared) is for good; anything else temporary
          if (reply.code < 500) {
            this.events.event("deferred", {
              via: "serve",
              from: `<${session.envelope.mailFrom ? session.envelope.mailFrom.address : ""}>`,
              status: reply.code,
              reason: reply.text,
            });
          }
          done(smtpError(reply));
        },
      );
    });
  }

  /** `data`: the message with LF line ends. The text of the 250: the spool entry it went into, or that it stays local only. */
  private async commit(protocol: Protocol, data: Buffer, session: SMTPServerSession): Promise<{ reply: string; entryId?: string }> {
    const now = new Date();
    const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : "";
    const recipients = session.envelope.rcptTo.map((r) => qualify(r.address, this.hostname));
    if (protocol === "lmtp") return { reply: await this.handedOver(data, { sender: from, recipients }, now) };
    const { bytes, envelope } = prepareSubmission(
      data,
      {
        mode: "send",
        sender: from === "" ? "<>" : from,
        recipients,
        extractRecipients: false,
        dotEndsMessage: false,
      },
      { user: "MAILER-DAEMON", hostname: this.hostname },
      now,
      { maxSize: this.config.serve.maxSize },
    );
    await letOthersIn(); // each step reads the header once more: let the other connections in between
    const submitter = await this.submitterOf(session);
    if (!(await withinQuota(this.config, this.hostname, this.quota, submitter, bytes.length, now))) {
      throw new SealpostError(Reason.overQuota, "over this user's hourly quota, try again later");
    }
    // Another local user's mail says who sent it, as their sendmail's does (pipeline/drop-ingest.ts).
    const traced = submitter.trusted
      ? bytes
      : prependFields(bytes, traceFields(submitter, envelope.sender, this.hostname, now, "MAIL FROM"));
    const committed = await submit(this.config, this.hostname, traced, envelope, now, {
      via: "serve",
      client: session.remoteAddress,
      submitter,
      log: this.events,
    });
    return committed.kind === "stored-only"
      ? { reply: accepted("kept locally") }
      : { reply: accepted(`queued as ${committed.entry.id}`), entryId: committed.entry.id };
  }

  /**
   * A message the MTA hands over by LMTP: what `deliver` does with one it pipes (the key check,
   * the ledger that makes the MTA's retry a no-op, the commit), answered per recipient alike.
   */
  private async handedOver(data: Buffer, envelope: Envelope, now: Date): Promise<string> {
    const { keysDir } = this.config;
    const outcome = await deliver({
      config: this.config,
      input: data,
      env: {},
      args: { recipients: [] },
      now,
      lmtp: { envelope },
      log: this.events,
      keyIndex: async () => (await readKeyIndex(keysDir)) ?? refreshKeyIndex(keysDir, now),
    });
    if (outcome.kind === "deferred")
      throw new SealpostError(outcome.error.reason, outcome.error.publicMessage, { cause: outcome.error.cause });
    return accepted(outcome.kind === "stored-only" ? "kept locally" : outcome.kind === "duplicate" ? "taken already" : "queued");
  }

  /** The local user on the other end, by the uid the kernel shows for the client's socket; -1 (untrusted) when it shows none. */
  private async submitterOf(session: SMTPServerSession): Promise<Submitter> {
    const uid = await (this.peerUids.get(session.id) ?? this.peers.uidOf(...ends(session)));
    const owner = (await stat(this.config.spoolDir)).uid;
    return localSubmitter(uid ?? -1, owner);
  }
}

/** The client's end and ours, as the kernel's tables name them. */
function ends(session: SMTPServerSession): [Endpoint, Endpoint] {
  return [
    { address: session.remoteAddress, port: session.remotePort },
    { address: session.localAddress, port: session.localPort },
  ];
}

/** smtp-server's way to give a reply: an Error with its code. */
function smtpError({ code, text }: SmtpReply): Error {
  return Object.assign(new Error(text), { responseCode: code });
}

/** The text of a 250 (smtp-server puts the code in front). */
function accepted(text: string): string {
  return smtpAccepted(text).text;
}

function refuse(reason: Reason, text: string): Error {
  return smtpError(smtpRefusal(reason, text));
}
