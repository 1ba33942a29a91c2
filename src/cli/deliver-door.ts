/**
 * `sealpost deliver [-f SENDER] [RECIPIENT...]`: the pipe target (docs/contract.md §1), with its own argv
 * reading — no command-line framework is loaded for the one command that runs once per message.
 * It answers 0 or EX_TEMPFAIL and nothing else, whatever the arguments (an MTA bounces anything else).
 */
import { configPath } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { SealpostError, asSealpostError } from "../core/errors.js";
import { Reason } from "../core/outcome.js";
import { readPipeConfig } from "../config/pipe-config.js";
import { deliver, type DeliverRequest } from "../pipeline/deliver.js";
import type { Outcome } from "../core/outcome.js";
import { readKeyIndex, type KeyIndex } from "../store/key-index.js";
import { crashSeam, out, readStdin } from "./io.js";
import { answer, pipeFailure } from "./pipe-answer.js";
import { ensureRunner } from "./runner-start.js";
import { enterSpool } from "./spool-user.js";
import { EX_TEMPFAIL } from "../core/outcome.js";

/** What only the full bundle has (OpenPGP, the SMTP client); the light one hands the whole door over instead. */
export interface Heavy {
  deliverInline(req: DeliverRequest): Promise<Outcome>;
  /** The key index rebuilt from the keys themselves, for when the stored one is stale. */
  freshKeyIndex(keysDir: string): Promise<KeyIndex>;
  runQueue(config: Config): Promise<void>;
}

export interface DoorOptions {
  heavy?: Heavy;
  /** Runs the same door in the full bundle, before stdin is read. */
  handOver?: () => Promise<number>;
}

const HELP = `Usage: sealpost deliver [-c FILE] [-f SENDER] [RECIPIENT...] < message

The pipe target for ~/.forward and /etc/aliases: reads one message on stdin (as Postfix local(8)
or Exim's pipe transport hand it over), keeps the local copy, commits it to the spool and answers;
a background runner seals and relays it. The envelope comes from -f and the arguments, else from
$SENDER, $RECIPIENT / $ORIGINAL_RECIPIENT (Postfix) or $LOCAL_PART@$DOMAIN (Exim).
Exit status is 0 (stored, and relayed or spooled) or ${EX_TEMPFAIL} (try again later), never anything else.

Examples:
  ~/.forward:      "|/usr/bin/sealpost deliver"
  /etc/aliases:    root: root, "|/usr/bin/sealpost -c /etc/sealpost/sealpost.toml deliver"
`;

interface DeliverArgs {
  config?: string;
  sender?: string;
  recipients: string[];
  help: boolean;
}

/** -c/--config FILE, -f/--from SENDER (also -fSENDER, --from=SENDER), --help, "--", recipients. */
export function parseDeliverArgs(argv: readonly string[], config?: string): DeliverArgs | string {
  const args: DeliverArgs = { config, recipients: [], help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      args.recipients.push(...argv.slice(i + 1));
      break;
    }
    const valued: Array<string | undefined> | null =
      /^(-c|--config|-f|--from)(?:=(.*))?$/.exec(arg) ?? (/^-[cf]./.test(arg) ? [arg, arg.slice(0, 2), arg.slice(2)] : null);
    if (valued) {
      const value = valued[2] ?? argv[++i];
      if (value === undefined) return `option ${valued[1]} needs a value`;
      if (valued[1] === "-c" || valued[1] === "--config") args.config = value;
      else args.sender = value;
    } else if (arg === "--help" || arg === "-h") args.help = true;
    else if (arg.startsWith("-") && arg !== "-") return `unknown option ${arg.slice(0, 40)}`;
    else args.recipients.push(arg);
  }
  return args;
}

export async function deliverDoor(argv: readonly string[], globalConfig: string | undefined, options: DoorOptions): Promise<number> {
  const args = parseDeliverArgs(argv, globalConfig);
  if (typeof args === "string") return pipeFailure(args);
  if (args.help) {
    out(HELP);
    return 0;
  }
  const configFile = configPath(args.config, process.env);
  let config: Config;
  let index: KeyIndex | undefined;
  try {
    config = readPipeConfig(configFile);
    if ((await enterSpool(config)) === "drop") {
      throw new SealpostError(
        Reason.storage,
        "permission denied on sealpost's spool or store (run as the wrong user? see sealpost doctor)",
      );
    }
    index = config.deliver.relay === "inline" ? undefined : await readKeyIndex(config.keysDir);
  } catch (err) {
    return answer({ kind: "deferred", error: asSealpostError(err) });
  }
  const heavy = options.heavy;
  // relay = "inline", or a key index to rebuild (keys_dir changed by hand): the full bundle's job.
  if (!heavy && (config.deliver.relay === "inline" || index === undefined)) return options.handOver!();
  const input = await readStdin();
  const req: DeliverRequest = {
    config,
    input,
    env: process.env,
    args: { sender: args.sender, recipients: args.recipients },
    checkpoint: crashSeam(),
    keyIndex: async () => index ?? heavy!.freshKeyIndex(config.keysDir),
  };
  const outcome = config.deliver.relay === "inline" ? await heavy!.deliverInline(req) : await deliver(req);
  if (outcome.kind === "spooled" || outcome.kind === "batched" || outcome.kind === "duplicate")
    await ensureRunner(config.spoolDir, configFile);
  return answer(outcome);
}
