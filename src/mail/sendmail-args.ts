/**
 * The sendmail command line as cron, fail2ban, mdadm, sudo, at and friends write it (sendmail(8),
 * Postfix's sendmail(1)): flags attached or detached, -t, -i/-oi, --, -bp, -q, and the many
 * options that only mean something to a full MTA, which are accepted and ignored.
 */

export type SendmailMode = "send" | "list-queue" | "run-queue" | "nothing";

export interface SendmailArgs {
  mode: SendmailMode;
  sender?: string; // -f / -r
  fullName?: string; // -F
  extractRecipients: boolean; // -t
  dotEndsMessage: boolean; // false with -i / -oi
  recipients: string[];
  config?: string; // -C FILE (sendmail's alternate configuration)
}

export class SendmailUsageError extends Error {}

/** Flags whose value we need: attached (-fX) or the next argument (-f X). */
const VALUED = new Set(["f", "r", "F", "B", "C", "o", "O", "h", "L", "N", "R", "V", "X", "p", "A"]);

export function parseSendmailArgs(argv: readonly string[]): SendmailArgs {
  const args: SendmailArgs = { mode: "send", extractRecipients: false, dotEndsMessage: true, recipients: [] };
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      i++;
      break;
    }
    if (!arg.startsWith("-") || arg === "-") break;
    const flag = arg[1]!;
    const attached = arg.slice(2);
    if (flag === "t" && attached === "") args.extractRecipients = true;
    else if (flag === "i" && attached === "") args.dotEndsMessage = false;
    else if (flag === "b") args.mode = mode(attached);
    else if (flag === "q")
      args.mode = "run-queue"; // -q, -q30m, -qR...: one pass now
    else if (VALUED.has(flag)) {
      // -o and -A take only attached values in practice (-oi, -odi, -oem, -Ac); -o alone reads the next word.
      const value = attached !== "" ? attached : argv[++i];
      if (value === undefined) throw new SendmailUsageError(`option -${flag} needs a value`);
      if (flag === "f" || flag === "r") args.sender = value;
      else if (flag === "F") args.fullName = value;
      else if (flag === "C") args.config = value;
      else if (flag === "o" && value === "i") args.dotEndsMessage = false;
    }
    // Anything else (-U, -G, -m, -n, -v and flags of other MTAs) is ignored: refusing would lose
    // the caller's mail, since nothing retries for a sendmail command.
  }
  for (const rest of argv.slice(i)) {
    for (const address of rest.split(",")) if (address.trim() !== "") args.recipients.push(address.trim());
  }
  return args;
}

function mode(attached: string): SendmailMode {
  switch (attached) {
    case "m":
    case "":
      return "send"; // -bm: deliver mail, the default
    case "p":
      return "list-queue"; // -bp: mailq
    case "i":
      return "nothing"; // -bi: newaliases; sealpost has no alias database
    default:
      throw new SendmailUsageError(`-b${attached} is not supported (only -bm, -bp and -bi)`);
  }
}
