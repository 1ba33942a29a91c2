import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it } from "node:test";
import { processAlive } from "../../src/core/process-alive.js";

describe("processAlive", () => {
  it("this process is alive; a pid nobody has is not", () => {
    assert.equal(processAlive(process.pid), true);
    assert.equal(processAlive(2 ** 22 + 1), false); // above pid_max's ceiling
  });

  it("a process that died and that nobody reaped yet is not alive, though kill(pid, 0) still answers for it", async () => {
    // the shell's background sleep becomes the child of the exec'd sleep, which never waits for it
    const parent = spawn("/bin/sh", ["-c", "sleep 0.1 & echo $!; exec sleep 5"], { stdio: ["ignore", "pipe", "ignore"] });
    try {
      const [line] = (await once(parent.stdout, "data")) as [Buffer];
      const zombie = Number.parseInt(line.toString(), 10);
      await sleep(500);
      assert.doesNotThrow(() => process.kill(zombie, 0), "the kernel still has its entry");
      assert.equal(processAlive(zombie), false);
    } finally {
      parent.kill("SIGKILL");
    }
  });
});
