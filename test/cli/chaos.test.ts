/**
 * Chaos (docs/contract.md §5): 200 notices delivered as an MTA delivers them, while deliver processes and the
 * background runner are killed with SIGKILL at random moments, and every killed delivery is
 * retried as the MTA retries it. Nothing may be lost, nothing stored twice, and a message may be
 * relayed twice only when a runner dies between the relay's 250 and its record of it (one fsync):
 * at most 1 % of the kills.
 */
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it } from "node:test";
import { fixtureBytes, fixtures, pipeEnv } from "../helpers/fixtures.js";
import { backgroundRunners, nodeChildOf } from "../helpers/home.js";
import { openSealed } from "../helpers/sealed.js";
import { inHome, useWorld } from "../helpers/world.js";

const A01 = fixtures().find((f) => f.file.startsWith("A01"))!;
const RAW = fixtureBytes(A01);
const ENV = pipeEnv(A01);
const MESSAGES = 200;

describe("chaos", () => {
  const world = useWorld();

  it(`${MESSAGES} deliveries with random kills of deliver and of the runner: none lost, none stored twice, relayed twice at most 1 % of the kills`, () =>
    inHome(world, {}, async (home, relayed) => {
      let deliverKills = 0;
      let runnerKills = 0;
      let stop = false;
      const killRunners = async () => {
        while (!stop) {
          await sleep(100 + Math.random() * 400);
          for (const pid of backgroundRunners(home)) {
            try {
              process.kill(pid, "SIGKILL");
              runnerKills++;
            } catch {
              // gone meanwhile
            }
          }
        }
      };
      const runnerKiller = killRunners();
      for (let i = 0; i < MESSAGES; i++) {
        const input = Buffer.from(`X-Round: ${i}\n${RAW.toString("latin1")}`, "latin1");
        for (let attempt = 0; ; attempt++) {
          const run = home.start(["deliver"], input, ENV);
          if (attempt === 0 && Math.random() < 0.5) {
            await sleep(Math.random() * 250);
            const pid = nodeChildOf(run.child.pid!);
            if (pid) {
              try {
                process.kill(pid, "SIGKILL");
                deliverKills++;
              } catch {
                // it had answered already
              }
            }
          }
          const r = await run.done;
          assert.ok(r.code === 0 || r.code === 75, `exit ${r.code} ${r.stderr.toString()}`);
          if (r.code === 0) break;
          assert.ok(attempt < 5, `round ${i} still deferred: ${r.stderr.toString()}`);
        }
      }
      stop = true;
      await runnerKiller;
      // what the dead runners left: their entry locks are broken once their holders are seen dead
      const queued = async () => (JSON.parse((await home.run(["queue", "list", "--json"])).stdout.toString()) as unknown[]).length;
      for (let i = 0; i < 20 && (await queued()) > 0; i++) {
        await sleep(500);
        await home.run(["queue", "flush"]);
      }
      await home.settled();
      const stored = home.localCopies().map((c) => /^X-Round: (\d+)/.exec(c.toString("latin1"))?.[1]);
      assert.equal(stored.length, MESSAGES, "every message stored");
      assert.equal(new Set(stored).size, MESSAGES, "none stored twice");
      const rounds = relayed().map((raw) => /^X-Round: (\d+)/m.exec(openSealed(raw, world.gpg).inner.toString("latin1"))?.[1]);
      assert.equal(new Set(rounds).size, MESSAGES, "none lost");
      const twice = rounds.length - new Set(rounds).size;
      const kills = deliverKills + runnerKills;
      assert.ok(
        twice <= Math.max(1, kills / 100),
        `${twice} relayed twice for ${kills} kills (${deliverKills} of deliver, ${runnerKills} of runners)`,
      );
      console.log(`chaos: ${MESSAGES} messages, ${deliverKills} deliver kills, ${runnerKills} runner kills, ${twice} relayed twice`);
    }));
});
