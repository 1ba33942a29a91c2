/**
 * `doctor`'s look at the relay: connect, TLS with verification, AUTH, then MAIL FROM and RCPT TO
 * for each route's recipient, RSET and QUIT — so nothing is ever sent.
 */
import SMTPConnection from "nodemailer/lib/smtp-connection";
import { SealpostError } from "../core/errors.js";
import { Reason } from "../core/outcome.js";
import { relayError, relayIdentity, smtpOptions, type RelaySettings } from "./relay.js";

/**
 * nodemailer has no public "one command" call (its envelope method goes on to DATA). These two
 * internals do exactly one command and its reply; nodemailer is pinned (10.6.0) and
 * test/cli/doctor.test.ts notices if they change.
 */
interface CommandInternals {
  _responseActions: Array<(reply: string) => void>;
  _sendCommand(line: string): void;
}

function command(connection: SMTPConnection, line: string): Promise<string> {
  const internals = connection as unknown as CommandInternals;
  return new Promise((resolve) => {
    internals._responseActions.push(resolve);
    internals._sendCommand(line);
  });
}

export async function probeRelay(settings: RelaySettings, recipients: string[]): Promise<void> {
  const options = await smtpOptions(settings);
  const connection = new SMTPConnection(options);
  const where = `relay ${settings.relay.host}:${settings.relay.port}`;
  try {
    await new Promise<void>((resolve, reject) => {
      connection.once("error", reject);
      connection.connect(() => resolve());
    });
    if (options.auth)
      await new Promise<void>((resolve, reject) => connection.login(options.auth!, (err) => (err ? reject(err) : resolve())));
    for (const line of [`MAIL FROM:<${relayIdentity(settings)}>`, ...recipients.map((r) => `RCPT TO:<${r}>`), "RSET"]) {
      const reply = await command(connection, line);
      if (!reply.startsWith("2"))
        throw new SealpostError(Reason.relay, `${where} answered ${line.split(":")[0]} with: ${reply.replace(/\s+/g, " ").slice(0, 200)}`);
    }
    connection.quit();
  } catch (err) {
    connection.close();
    throw err instanceof SealpostError ? err : relayError(err, settings.relay);
  }
}
