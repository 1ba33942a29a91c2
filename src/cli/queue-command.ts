/** `sealpost queue list|show|run|flush|release|purge` (docs/contract.md §2, §5). */
import { Option, type Command } from "commander";
import type { Config } from "../config/schema.js";
import { commandConfig } from "./config-option.js";
import { crashSeam, fail, out } from "./io.js";
import type { Registration } from "./registration.js";
import { enterSpool } from "./spool-user.js";
import { listQueue } from "./queue-list.js";

type Step = (config: Config) => Promise<number>;

export function queueCommands(program: Command, { set, configFile }: Registration): void {
  const queue = program
    .command("queue")
    .description("inspect and steer the spool")
    .addHelpText(
      "after",
      "\nExamples:\n  sealpost queue list\n  sealpost queue show ID --json\n  sealpost queue release ID     after fixing why the relay refused it\n  sealpost queue run            (a systemd timer or cron job, where serve does not run)",
    );
  // Commands that write the spool first become its user, as root's sendmail does: a file root
  // wrote there would be one the sealpost user's runs cannot read.
  const withConfig = (name: string, step: Step, writes = true) =>
    set(async () => {
      try {
        const config = commandConfig(configFile());
        if (writes) await enterSpool(config);
        return await step(config);
      } catch (e) {
        return fail(`queue ${name}`, (e as Error).message);
      }
    });

  queue
    .command("list")
    .description("list spooled messages")
    .option("--json", "print a JSON array")
    .addHelpText("after", "\nExample:\n  sealpost queue list --json")
    .action((opts: { json?: boolean }) => withConfig("list", (c) => listQueue(c, opts.json === true), false));
  queue
    .command("show")
    .description("one entry: its state, its recipients and where its message is")
    .argument("<id>")
    .option("--json", "print a JSON object")
    .action((id: string, opts: { json?: boolean }) => withConfig("show", (c) => show(c, id, opts.json === true), false));
  queue
    .command("run")
    .description("one pass: try every due entry once, then exit")
    .addOption(new Option("--background", "started by sendmail: one such runner at a time").hideHelp())
    .addHelpText("after", "\nExample (cron, every 5 minutes):\n  */5 * * * * sealpost sealpost queue run")
    .action((opts: { background?: boolean }) => withConfig("run", (c) => (opts.background ? background(c) : run(c, false))));
  queue
    .command("flush")
    .description("try every queued entry now, due or not")
    .action(() => withConfig("flush", (c) => run(c, true)));
  queue
    .command("release")
    .description("put a held entry back in the queue; the next queue run tries it")
    .argument("<id>")
    .action((id: string) => withConfig("release", (c) => release(c, id)));
  queue
    .command("purge")
    .description("delete one entry")
    .argument("<id>")
    .action((id: string) => withConfig("purge", (c) => purge(c, id)));
}

async function spoolOf(config: Config) {
  const { Spool } = await import("../store/spool.js");
  return new Spool(config.spoolDir);
}

async function show(config: Config, id: string, json: boolean): Promise<number> {
  const spool = await spoolOf(config);
  const entry = await spool.get(id);
  if (!entry) return fail("queue show", `no spool entry ${id}`);
  const message = spool.messagePath(id);
  const size = await spool.message(id).then(
    (b) => b.length,
    () => -1,
  );
  if (json) {
    out(JSON.stringify({ ...entry, message, size }, null, 2));
    return 0;
  }
  const rows: [string, string][] = [
    ["id", entry.id],
    ["state", entry.state],
    ["created", entry.created],
    ["attempts", String(entry.attempts)],
    ["next attempt", entry.nextAttempt],
    ["last error", entry.lastError ?? "-"],
    ["recipients", entry.recipients.join(", ")],
    ["sender", entry.sender || "<>"],
    ["pinned keys", entry.keys?.join(", ") ?? "-"],
    ["kind", entry.kind ?? "-"],
    ["digest", entry.batch?.waiting ? `waits for its route's digest (window ${entry.batch.windowSeconds}s)` : "-"],
    ["message", size >= 0 ? `${message} (${size} bytes)` : `${message} (missing)`],
  ];
  for (const [name, value] of rows) out(`${(name + ":").padEnd(14)}${value}`);
  return 0;
}

async function run(config: Config, force: boolean): Promise<number> {
  const { runPass } = await import("../pipeline/pass.js");
  const report = await runPass(config, { force, checkpoint: crashSeam(), lockWaitMs: 30_000 });
  out(`relayed ${report.relayed}, deferred ${report.deferred}, held ${report.held}`);
  return 0;
}

/** The runner an intake starts when none is alive: one at a time, lingering for the rest of a wave. */
async function background(config: Config): Promise<number> {
  const { Runner, RUNNER_LINGER_MS } = await import("../pipeline/runner.js");
  const { configFollower } = await import("../config/load.js");
  // re-read for each pass when it changed: an admin's fix to [relay] is used at once
  await new Runner({ loadConfig: configFollower(config), lingerMs: RUNNER_LINGER_MS, checkpoint: crashSeam() }).start();
  return 0;
}

async function release(config: Config, id: string): Promise<number> {
  const spool = await spoolOf(config);
  const entry = await spool.get(id);
  if (!entry) return fail("queue release", `no spool entry ${id}`);
  entry.state = "queued";
  entry.nextAttempt = new Date().toISOString();
  await spool.save(entry);
  out(`released ${id}`);
  return 0;
}

async function purge(config: Config, id: string): Promise<number> {
  const spool = await spoolOf(config);
  if (!(await spool.get(id))) return fail("queue purge", `no spool entry ${id}`);
  await spool.remove(id);
  out(`purged ${id}`);
  return 0;
}
