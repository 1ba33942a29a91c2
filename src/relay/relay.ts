/**
 * The relay: nodemailer's SMTP transport, set up as docs/contract.md §3 and §7 ask (TLS verified,
 * STARTTLS required unless told otherwise, AUTH from a password file, short timeouts),
 * with the egress check in front of every send.
 */
import { lookup } from "node:dns/promises";
import { stat, readFile } from "node:fs/promises";
import { isIP } from "node:net";
import { Readable } from "node:stream";
import { createTransport, type Transporter } from "nodemailer";
import { isLoopbackAddress } from "../config/loopback.js";
import type { Config } from "../config/schema.js";
import { SealpostError } from "../core/errors.js";
import { Reason } from "../core/outcome.js";
import { assertSealed, guardSealed } from "./egress.js";

export interface RelaySettings {
  relay: Config["relay"];
  hostname: string;
  /** How a relay name becomes addresses (security = "none"); tests give their own. */
  resolve?: Resolve;
}

export type Resolve = (host: string) => Promise<Array<{ address: string }>>;

const systemResolve: Resolve = (host) => lookup(host, { all: true, verbatim: true });

export function relayIdentity(s: RelaySettings): string {
  return s.relay.envelopeFrom ?? (s.relay.user?.includes("@") ? s.relay.user : `sealpost@${s.hostname}`);
}

export class Relay {
  private transport?: Transporter;

  /** `pool`: keep up to that many connections open between messages (serve), instead of one per send. */
  constructor(
    private readonly settings: RelaySettings,
    private readonly pool = 0,
  ) {}

  /**
   * Sends one sealed message to one recipient; returns the relay's reply to it (250 ...) and the
   * size sent. A buffer is checked whole before the connection; a stream (a large message,
   * sealed as it goes) is checked as it passes, and a failure there aborts the DATA.
   */
  async send(
    recipient: string,
    sealed: Buffer | AsyncIterable<Buffer> | Iterable<Buffer>,
    keyIds: ReadonlySet<string>,
  ): Promise<{ reply: string; size: number }> {
    if (Buffer.isBuffer(sealed)) await assertSealed(sealed, keyIds);
    const transport = await this.open();
    let size = 0;
    let failure: unknown;
    const raw = Buffer.isBuffer(sealed)
      ? sealed
      : Readable.from(
          (async function* () {
            try {
              for await (const piece of guardSealed(sealed, keyIds)) {
                size += piece.length;
                yield piece;
              }
            } catch (err) {
              failure = err;
              throw err;
            }
          })(),
          { objectMode: false },
        );
    try {
      const info = await transport.sendMail({ envelope: { from: relayIdentity(this.settings), to: [recipient] }, raw });
      const response = (info as { response?: unknown }).response;
      return { reply: typeof response === "string" ? response : "250", size: Buffer.isBuffer(sealed) ? sealed.length : size };
    } catch (err) {
      if (failure instanceof SealpostError) throw failure; // sealing or egress, not the relay
      throw relayError(err, this.settings.relay);
    }
  }

  close(): void {
    this.transport?.close();
    this.transport = undefined;
  }

  private async open(): Promise<Transporter> {
    if (this.transport) return this.transport;
    this.transport = createTransport({
      ...(await smtpOptions(this.settings)),
      disableFileAccess: true,
      disableUrlAccess: true,
      ...(this.pool ? { pool: true, maxConnections: this.pool } : {}),
    });
    return this.transport;
  }
}

/** nodemailer's connection options for the relay: TLS verified, STARTTLS required unless told otherwise, short timeouts. */
export async function smtpOptions(settings: RelaySettings) {
  const r = settings.relay;
  const ms = r.timeoutSeconds * 1000;
  return {
    host: r.security === "none" ? await loopbackAddress(r, settings.resolve ?? systemResolve) : r.host,
    port: r.port,
    secure: r.security === "tls",
    requireTLS: r.security === "starttls",
    ignoreTLS: r.security === "none",
    name: settings.hostname,
    auth: r.user ? { user: r.user, pass: await readPassword(r.passwordFile) } : undefined,
    // SNI takes a host name only; Node warns on stderr (which goes to the MTA) when given an IP.
    tls: { rejectUnauthorized: true, ...(isIP(r.host) ? {} : { servername: r.host }), minVersion: "TLSv1.2" as const },
    connectionTimeout: ms,
    greetingTimeout: ms,
    socketTimeout: ms,
    dnsTimeout: ms,
  };
}

/**
 * Without TLS (security = "none") the relay must be this machine, or the password and the
 * envelope cross the network in clear. A name is not loopback by its spelling: it is resolved
 * once, here, every address it has must be loopback, and nodemailer is given the address, so
 * no second lookup can answer differently. A refusal is a temporary config error (4.3.5): the
 * mail waits until the config or the name is fixed.
 */
async function loopbackAddress(r: Config["relay"], resolve: Resolve): Promise<string> {
  const host = r.host.replace(/^\[|\]$/g, "");
  let addresses = [{ address: host }];
  if (isIP(host) === 0) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(Object.assign(new Error(`looking up ${host} timed out`), { code: "ETIMEDOUT" })),
        r.timeoutSeconds * 1000,
      );
    });
    try {
      addresses = await Promise.race([resolve(host), timeout]);
    } catch (err) {
      throw new SealpostError(Reason.relay, `relay ${r.host}:${r.port} cannot be resolved`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }
  const outside = addresses.find((a) => !isLoopbackAddress(a.address));
  if (outside || addresses.length === 0) {
    throw new SealpostError(
      Reason.config,
      `relay.security = "none" is only for loopback relay hosts; ${r.host} is ${outside ? outside.address : "no address"}`,
    );
  }
  return addresses[0]!.address;
}

async function readPassword(file: string | undefined): Promise<string> {
  if (!file) throw new SealpostError(Reason.config, "relay.user is set but relay.password_file is not");
  try {
    const info = await stat(file);
    // 0600 or 0640 (docs/contract.md §7): readable by its owner and at most its group, writable by the owner only.
    if ((info.mode & 0o037) !== 0) throw new SealpostError(Reason.config, "relay.password_file must be mode 0600 or 0640");
    return (await readFile(file, "utf8")).replace(/\r?\n$/, "");
  } catch (err) {
    if (err instanceof SealpostError) throw err;
    throw new SealpostError(Reason.config, "relay.password_file cannot be read", { cause: err });
  }
}

/**
 * The relay itself failed (no connection, TLS, login, a refusal at the greeting), not this
 * message: the next message would meet the same, so a pass defers the rest without trying.
 */
export class RelayUnreachable extends SealpostError {}

/**
 * The one place that decides temporary vs permanent. Permanent only for a reply >= 500 to the
 * message itself (MAIL, RCPT, DATA: nodemailer's EENVELOPE and EMESSAGE). A 5xx to STARTTLS,
 * AUTH or the greeting is about our set-up or the relay, not the message: it stays temporary,
 * like everything unknown.
 */
export function relayError(err: unknown, relay: Config["relay"]): SealpostError {
  const e = err as { responseCode?: number; response?: string; code?: string; message?: string; command?: string };
  const where = `relay ${relay.host}:${relay.port}`;
  const aboutMessage = e.code === "EENVELOPE" || e.code === "EMESSAGE";
  if (typeof e.responseCode === "number" && (aboutMessage || e.code === "EPROTOCOL")) {
    const reply = (e.response ?? String(e.responseCode)).replace(/\s+/g, " ").slice(0, 200);
    // RFC 5321 4.5.3.1.10: 552 to RCPT is the old "too many recipients", to be treated as 452.
    const tooManyRecipients = e.responseCode === 552 && e.command === "RCPT TO";
    const permanent = aboutMessage && e.responseCode >= 500 && !tooManyRecipients;
    if (!aboutMessage) return new RelayUnreachable(Reason.relay, `${where} answered: ${reply}`, { cause: err });
    return new SealpostError(permanent ? Reason.relayRefused : Reason.relay, `${where} answered: ${reply}`, { cause: err });
  }
  const kind = failureKind(e);
  return new (kind === "failed" ? SealpostError : RelayUnreachable)(Reason.relay, `${where} ${kind}`, { cause: err });
}

function failureKind(e: { code?: string; message?: string }): string {
  if (e.code === "ETLS" || /certificate|self.signed|SSL|TLS/i.test(e.message ?? ""))
    return "TLS failed (no STARTTLS, or a certificate that does not verify)";
  if (e.code === "EAUTH") return "refused the login (check relay.user and relay.password_file)";
  if (e.code === "ETIMEDOUT") return "timed out";
  if (e.code === "ECONNECTION" || e.code === "ESOCKET" || e.code === "EDNS") return "cannot connect";
  return "failed";
}
