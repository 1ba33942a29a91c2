/**
 * `doctor`'s look at the relay: connect, TLS with verification, AUTH, then MAIL FROM and RCPT TO
 * for each route's recipient, RSET and QUIT — so nothing is ever sent.
 *
 * The dialog is our own (smtp-dialog.ts), set up from the very options the real relay path
 * gives nodemailer (smtpOptions: address, TLS mode, verification, SNI, timeouts, credentials)
 * and taking the same steps nodemailer takes with them, so what doctor finds is what a send
 * would meet. Failures before MAIL FROM go through relayError, as a send's do.
 */
import { SealpostError } from "../core/errors.js";
import { Reason } from "../core/outcome.js";
import { relayError, relayIdentity, smtpOptions, type RelaySettings } from "./relay.js";
import { SmtpDialog, smtpError } from "./smtp-dialog.js";

type Options = Awaited<ReturnType<typeof smtpOptions>>;

export async function probeRelay(settings: RelaySettings, recipients: string[]): Promise<void> {
  const options = await smtpOptions(settings);
  const ms = options.socketTimeout;
  const where = `relay ${settings.relay.host}:${settings.relay.port}`;
  // Connecting, the greeting and the TLS handshake share one deadline, as they share
  // nodemailer's connectionTimeout; every other reply has the timeout to itself.
  const deadline = Date.now() + options.connectionTimeout;
  const setupLeft = () => Math.max(deadline - Date.now(), 1);
  let dialog: SmtpDialog | undefined;
  try {
    dialog = await SmtpDialog.open(options.host, options.port, options.secure ? options.tls : undefined, setupLeft());
    const greeting = await dialog.read(setupLeft(), "Greeting never received");
    if (!greeting.startsWith("220")) throw smtpError("Invalid greeting", "EPROTOCOL", { response: greeting, command: "CONN" });
    let ehlo = await hello(dialog, options, ms);
    // security = "starttls" requires it; nodemailer would also take it when offered, unless told to ignore it
    if (!options.secure && !options.ignoreTLS && ehlo !== undefined && (options.requireTLS || /[ -]STARTTLS\b/im.test(ehlo))) {
      const reply = await dialog.command("STARTTLS", ms);
      if (!reply.startsWith("2"))
        throw smtpError("Error upgrading connection with STARTTLS", "ETLS", { response: reply, command: "STARTTLS" });
      await dialog.startTls({ ...options.tls, host: options.host }, setupLeft());
      ehlo = await hello(dialog, options, ms); // RFC 3207: what was said before TLS no longer counts
    }
    if (options.auth) await login(dialog, options.auth, ehlo, ms);
    for (const line of [`MAIL FROM:<${relayIdentity(settings)}>`, ...recipients.map((r) => `RCPT TO:<${r}>`), "RSET"]) {
      const reply = await dialog.command(line, ms);
      if (!reply.startsWith("2"))
        throw new SealpostError(Reason.relay, `${where} answered ${line.split(":")[0]} with: ${reply.replace(/\s+/g, " ").slice(0, 200)}`);
    }
    await dialog.command("QUIT", ms).catch(() => undefined); // the probe has its answer; a silent QUIT changes nothing
  } catch (err) {
    throw err instanceof SealpostError ? err : relayError(err, settings.relay);
  } finally {
    dialog?.close();
  }
}

/**
 * EHLO, falling back to HELO as nodemailer does (never when TLS is required: HELO cannot
 * offer STARTTLS). The EHLO reply, or undefined after HELO.
 */
async function hello(dialog: SmtpDialog, options: Options, ms: number): Promise<string | undefined> {
  const name = options.name.replace(/[\r\n]+/g, "");
  const ehlo = await dialog.command(`EHLO ${name}`, ms);
  if (ehlo.startsWith("421")) throw smtpError("Server terminates connection", "ECONNECTION", { response: ehlo, command: "EHLO" });
  if (ehlo.startsWith("2")) return ehlo;
  if (options.requireTLS)
    throw smtpError("EHLO failed but HELO does not support required STARTTLS", "ECONNECTION", { response: ehlo, command: "EHLO" });
  const helo = await dialog.command(`HELO ${name}`, ms);
  if (!helo.startsWith("2")) throw smtpError("Invalid HELO", "EPROTOCOL", { response: helo, command: "HELO" });
  return undefined;
}

/** AUTH PLAIN, or AUTH LOGIN when the relay offers LOGIN and not PLAIN; any refusal is EAUTH. */
async function login(dialog: SmtpDialog, auth: { user: string; pass: string }, ehlo: string | undefined, ms: number): Promise<void> {
  const offered = mechanisms(ehlo);
  const base64 = (text: string) => Buffer.from(text, "utf8").toString("base64");
  const method = offered.has("LOGIN") && !offered.has("PLAIN") ? "LOGIN" : "PLAIN";
  const refused = (reply: string) => smtpError("Invalid login", "EAUTH", { response: reply, command: `AUTH ${method}` });
  let reply: string;
  if (method === "LOGIN") {
    // 334 asks for the user name, then the password (whatever words it says them in)
    for (const line of ["AUTH LOGIN", base64(auth.user)]) {
      reply = await dialog.command(line, ms);
      if (!/^334[ -]/.test(reply)) throw refused(reply);
    }
    reply = await dialog.command(base64(auth.pass), ms);
  } else {
    // no authorization identity: some relays refuse one
    reply = await dialog.command(`AUTH PLAIN ${base64(`\0${auth.user}\0${auth.pass}`)}`, ms);
  }
  // A 334 here asks for more: one empty answer, as nodemailer gives; asked again, it is a refusal.
  if (reply.startsWith("334")) reply = await dialog.command("", ms);
  if (!reply.startsWith("2")) throw refused(reply);
}

/** The SASL mechanisms of the EHLO reply's AUTH lines (upper case); none after HELO. */
function mechanisms(ehlo: string | undefined): Set<string> {
  const out = new Set<string>();
  const lines = (ehlo ?? "")
    .split("\n")
    .map((l) => l.replace(/^\d+[ -]/, "").trim())
    .filter((l) => l)
    .slice(1); // the first is the relay's name
  for (const line of lines) {
    const auth = /^AUTH[\s=](.*)/i.exec(line);
    for (const mechanism of auth ? auth[1]!.split(/[\s=]+/) : []) out.add(mechanism.toUpperCase());
  }
  return out;
}
