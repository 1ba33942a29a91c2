/**
 * A small real tmpfs for storage faults (ENOSPC, EROFS). Mounting needs root; elsewhere
 * tmpfs() returns undefined and the test says it was skipped and why.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface Tmpfs {
  dir: string;
  /** Fills the file system to the last byte. */
  fill(): void;
  readOnly(): void;
  unmount(): void;
}

export function tmpfs(dir: string, size = "512k"): Tmpfs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size},mode=0700`, "tmpfs", dir], { stdio: "ignore" });
  } catch {
    return undefined;
  }
  return {
    dir,
    fill() {
      const chunk = Buffer.alloc(16 * 1024);
      for (let i = 0; ; i++) {
        try {
          writeFileSync(join(dir, `filler-${i}`), chunk);
        } catch {
          break;
        }
      }
      // the last partial chunk: one byte at a time until even that fails
      for (let i = 0; ; i++) {
        try {
          writeFileSync(join(dir, `crumb-${i}`), "x");
        } catch {
          return;
        }
      }
    },
    readOnly() {
      execFileSync("mount", ["-o", "remount,ro", dir], { stdio: "ignore" });
    },
    unmount() {
      execFileSync("umount", ["-l", dir], { stdio: "ignore" });
    },
  };
}

export const NEEDS_ROOT = "needs root (or a mountable tmpfs) to make a small real file system";
