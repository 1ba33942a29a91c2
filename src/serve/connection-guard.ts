/**
 * Time bounds for every SMTP connection `serve` holds. smtp-server's own
 * timeout is an idle timeout that any byte resets, so a client dripping one byte every 20 s
 * keeps its slot forever. Here every connection has deadlines no byte can extend:
 *   - a command line, or a line of the message, must be complete within LINE_MS of the last one;
 *   - DATA must be reached within ENVELOPE_MS of the greeting (or of the last message's reply);
 *   - the message must be in within DATA_MS of the DATA command;
 *   - the whole session ends after SESSION_MS.
 * None of them runs while the client waits for us (a message being committed): cutting then would
 * make the client send again a message we may already have taken. A connection past a deadline
 * is told so (421, the outcome table's timeout) and closed; a well-behaved client tries again. The clocks are looked at once
 * a second for all connections, so a thousand connections cost one timer, not a thousand.
 *
 * The raw socket comes from the net.Server that smtp-server exposes; smtp-server gives its
 * handlers the session, with the same four addresses and ports, which ties the two together.
 * Connections on a unix socket (LMTP) all have the same empty addresses: they are taken in the
 * order they were accepted, which is the order smtp-server begins their sessions in.
 */
import type { Server, Socket } from "node:net";
import type { SMTPServerSession } from "smtp-server";
import { Reason, smtpRefusal } from "../core/outcome.js";

/** RFC 5321 asks servers to wait 5 minutes for a command; clients of a loopback server are local programs, not humans or slow links. */
export const LINE_MS = 30_000;
export const ENVELOPE_MS = 60_000;
export const DATA_MS = 300_000; // a 25 MB message streams over loopback in well under a second; this leaves room for a slow producer
export const SESSION_MS = 600_000;
const SWEEP_MS = 1_000;
const LF = 0x0a;

type Phase = "envelope" | "data" | "reply";

interface Watch {
  socket: Socket;
  connectedAt: number;
  phase: Phase;
  /** When the current phase began. */
  since: number;
  /** When the last complete line arrived (or the greeting went out, or we last answered). */
  lastLine: number;
}

export class ConnectionGuard {
  /** Sockets accepted whose session has not started yet, oldest first for each four-tuple. */
  private readonly pending = new Map<string, Socket[]>();
  /** By session id. */
  private readonly watches = new Map<string, Watch>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now) {}

  /** Starts taking the sockets `server` accepts. */
  attach(server: Server): void {
    server.on("connection", (socket: Socket) => {
      const key = socketKey(socket);
      const waiting = this.pending.get(key) ?? [];
      waiting.push(socket);
      this.pending.set(key, waiting);
      socket.once("close", () => {
        this.takePending(key, socket);
        for (const [id, watch] of this.watches) if (watch.socket === socket) this.watches.delete(id);
      });
    });
    this.timer ??= setInterval(() => this.sweep(), SWEEP_MS).unref();
  }

  /** onConnect: the session has begun; its clocks start. */
  begin(session: SMTPServerSession): void {
    const socket = this.takePending(sessionKey(session));
    if (!socket) return; // gone already
    const at = this.now();
    const watch: Watch = { socket, connectedAt: at, phase: "envelope", since: at, lastLine: at };
    this.watches.set(watchKey(session), watch);
    // Attached only now, when smtp-server's parser already reads the socket: this listener only watches.
    socket.on("data", (chunk: Buffer) => {
      if (chunk.includes(LF)) watch.lastLine = this.now();
    });
  }

  /** onData: the message is coming. */
  receiving(session: SMTPServerSession): void {
    this.enter(session, "data");
  }

  /** The message is in; the client waits for our reply. */
  replying(session: SMTPServerSession): void {
    this.enter(session, "reply");
  }

  /** We answered the message: a new transaction may begin. */
  answered(session: SMTPServerSession): void {
    this.enter(session, "envelope");
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** The oldest socket waiting under `key` (or `socket` itself), no longer waiting. */
  private takePending(key: string, socket?: Socket): Socket | undefined {
    const waiting = this.pending.get(key);
    if (!waiting) return undefined;
    const i = socket ? waiting.indexOf(socket) : 0;
    const [taken] = i < 0 ? [] : waiting.splice(i, 1);
    if (waiting.length === 0) this.pending.delete(key);
    return taken;
  }

  private enter(session: SMTPServerSession, phase: Phase): void {
    const watch = this.watches.get(watchKey(session));
    if (!watch) return;
    watch.phase = phase;
    watch.since = watch.lastLine = this.now();
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, watch] of this.watches) {
      const overdue = overdueBy(watch, now);
      if (overdue === undefined) continue;
      this.watches.delete(key);
      cut(watch.socket, overdue);
    }
  }
}

/** Which deadline the connection has passed, in words for its 421, or undefined. */
function overdueBy(watch: Watch, now: number): string | undefined {
  if (watch.phase === "reply") return undefined;
  if (now - watch.connectedAt > SESSION_MS) return `session longer than ${SESSION_MS / 1000} s`;
  if (now - watch.lastLine > LINE_MS) return `no complete line for ${LINE_MS / 1000} s`;
  if (watch.phase === "envelope" && now - watch.since > ENVELOPE_MS) return `no DATA within ${ENVELOPE_MS / 1000} s`;
  if (watch.phase === "data" && now - watch.since > DATA_MS) return `message not in within ${DATA_MS / 1000} s`;
  return undefined;
}

/** 421 and closed: the write first, then the socket, which ends smtp-server's session with it. */
function cut(socket: Socket, why: string): void {
  const destroy = () => socket.destroy();
  setTimeout(destroy, 1_000).unref(); // a client that reads nothing must not keep it open
  const { code, text } = smtpRefusal(Reason.timeout, `timeout: ${why}, closing connection`);
  if (socket.writable) socket.write(`${code} ${text}\r\n`, destroy);
  else destroy();
}

function socketKey(socket: Socket): string {
  return tupleKey(socket.remoteAddress, socket.remotePort, socket.localAddress, socket.localPort);
}

/** smtp-server's session id; the four-tuple for a session made by hand (the unit test). */
function watchKey(session: SMTPServerSession): string {
  return (session as { id?: string }).id ?? sessionKey(session);
}

function sessionKey(session: SMTPServerSession): string {
  return tupleKey(session.remoteAddress, session.remotePort, session.localAddress, session.localPort);
}

/** The TCP four-tuple names the connection; smtp-server reports addresses without the IPv4-mapped prefix, in lower case. */
function tupleKey(
  remote: string | undefined,
  remotePort: number | undefined,
  local: string | undefined,
  localPort: number | undefined,
): string {
  const bare = (a: string | undefined) => (a ?? "").replace(/^::ffff:/i, "").toLowerCase();
  return `${bare(remote)}|${remotePort ?? 0}|${bare(local)}|${localPort ?? 0}`;
}
