/**
 * Whether a lock's holder is still running: kill(pid, 0), where EPERM means alive (another
 * user's). A process that died and that nobody reaped yet still answers: where no init reaps
 * orphans at once, its lock is judged by its age instead. (Reading /proc for the zombie state
 * was tried and taken out: it bought nothing where an init reaps, and changed what the chaos
 * test measured where none does.)
 */
import { errnoOf } from "./errors.js";

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoOf(err) === "EPERM";
  }
}
