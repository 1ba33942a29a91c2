/**
 * The envelope of a piped message: who sent it and whom it was delivered to, as Postfix
 * local(8) (SENDER, RECIPIENT, ORIGINAL_RECIPIENT), Exim's pipe transport (SENDER,
 * LOCAL_PART, DOMAIN) or the command line (-f SENDER, RECIPIENT...) tell it.
 */
import { qualify } from "./address.js";

export interface Envelope {
  /** Qualified sender; "" is the null sender (bounces). */
  sender: string;
  /** Qualified recipients this delivery is for, then the original ones (before aliasing). */
  recipients: string[];
}

export interface PipeArguments {
  sender?: string;
  recipients: string[];
}

type Env = Record<string, string | undefined>;

export function pipeEnvelope(env: Env, args: PipeArguments, hostname: string): Envelope {
  const sender = cleanAddress(args.sender ?? env.SENDER ?? "");
  const found: string[] = [...args.recipients];
  if (found.length === 0) {
    if (env.RECIPIENT) found.push(env.RECIPIENT);
    else if (env.LOCAL_PART) found.push(env.DOMAIN ? `${env.LOCAL_PART}@${env.DOMAIN}` : env.LOCAL_PART);
    if (env.ORIGINAL_RECIPIENT) found.push(env.ORIGINAL_RECIPIENT);
  }
  const recipients = unique(
    found
      .map(cleanAddress)
      .filter((a) => a !== "")
      .map((a) => qualify(a, hostname)),
  );
  return { sender: sender === "" || sender === "<>" ? "" : qualify(sender, hostname), recipients };
}

/** Whether Exim's pipe transport framed the message (it appends one extra newline). */
export function isEximPipe(env: Env): boolean {
  return env.LOCAL_PART !== undefined && env.ORIGINAL_RECIPIENT === undefined;
}

function cleanAddress(value: string): string {
  return value
    .trim()
    .replace(/^<(.*)>$/, "$1")
    .trim();
}

function unique(items: string[]): string[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const key = item.toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
