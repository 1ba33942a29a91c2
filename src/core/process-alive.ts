/**
 * Whether a lock's holder is still running. kill(pid, 0) alone also answers for a process that
 * died and that nobody reaped yet — where no init reaps orphans (a container running serve as
 * PID 1, some sandboxes) a killed runner would look alive until its lock went stale.
 */
import { readFileSync } from "node:fs";
import { errnoOf } from "./errors.js";

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return errnoOf(err) === "EPERM"; // alive, another user's
  }
  try {
    // "PID (COMM) STATE …", where COMM may itself hold ") ": the state follows the last ")"
    const stat = readFileSync(`/proc/${String(pid)}/stat`, "latin1");
    return stat.charAt(stat.lastIndexOf(")") + 2) !== "Z";
  } catch {
    return true; // no /proc: kill's answer stands
  }
}
