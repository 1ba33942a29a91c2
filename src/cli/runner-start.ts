/**
 * After a commit: make sure a runner will pick the entry up (docs/contract.md §5). When one is alive — one
 * stat and one read of its lock, no node start — it sees the entry; it looks at the spool again
 * after letting its lock go. Otherwise a detached `queue run --background` is started, with the
 * same node flags as this process (so the code cache fits). Failing to start it loses nothing:
 * the next runner, serve or the queue run timer relays the entry.
 */
import type * as ChildProcess from "node:child_process";
import { lazy } from "../core/builtin.js";
import { runnerAlive } from "../store/runner-lock.js";
import { entryScript } from "./entry.js";

const childProcess = lazy<typeof ChildProcess>("node:child_process"); // only when no runner is alive

export async function ensureRunner(spoolDir: string, configFile: string): Promise<void> {
  if (await runnerAlive(spoolDir).catch(() => false)) return;
  const env = { ...process.env, SEALPOST_CONFIG: configFile, SEALPOST_INVOKED_AS: "sealpost" };
  try {
    childProcess()
      .spawn(process.execPath, [...process.execArgv, entryScript(), "queue", "run", "--background"], {
        detached: true,
        stdio: "ignore",
        env,
      })
      .unref();
  } catch {
    // the message is committed; the next runner relays it
  }
}
