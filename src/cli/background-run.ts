/** The detached `queue run --background` that sendmail and a batching deliver leave behind. */
import { spawn } from "node:child_process";
import { entryScript } from "./entry.js";

/** Outlives us, in its own session, with no stdio. Failing to start it loses nothing: the next queue run (timer, serve) relays. */
export function startBackgroundRun(configFile: string): void {
  const env = { ...process.env, SEALPOST_CONFIG: configFile, SEALPOST_INVOKED_AS: "sealpost" };
  try {
    spawn(process.execPath, [entryScript(), "queue", "run", "--background"], { detached: true, stdio: "ignore", env }).unref();
  } catch {
    // the message is committed; the next queue run relays it
  }
}
