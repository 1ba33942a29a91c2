// A ban wave on a host without an MTA: 1,000 fail2ban notices through `sealpost sendmail` (each
// a cold process, as fail2ban's sendmail-whois action starts it) from 20 parallel callers.
// Checks that every one is relayed exactly once and stored once, and that the spool ends empty;
// reports the time to submit them all and the time until the last is at the sink, against the
// same 1,000 processes of `node -e 0` from 20 callers in the same run (the floor: a node start each).
// Usage: node bench/burst.mjs [NOTICES=1000] [CALLERS=20] [--json]
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fixture, scratchSetup, sealpost, startSink } from "./lib.mjs";

const [total = 1000, callers = 20] = process.argv
  .slice(2)
  .filter((a) => /^\d+$/.test(a))
  .map(Number);
const notice = fixture("A01-fail2ban-ban-sshd-whois-lines.eml")
  .toString("latin1")
  .replace(/^From .*\n/, "")
  .replace(/^Message-I[Dd]:.*\n/m, "");
const ids = new Map();
const sink = await startSink((text) => {
  const id = /Message-ID: <ban-(\d+)@/i.exec(text)?.[1];
  if (id) ids.set(id, (ids.get(id) ?? 0) + 1);
});
const setup = scratchSetup(sink.port);

/** `total` processes of `command`, `callers` at a time, each given one notice on stdin; how many did not exit 0. */
async function wave(command, args) {
  let next = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (next < total) {
        const id = next++;
        const code = await new Promise((done) => {
          const child = spawn(command, args, { env: setup.env, stdio: ["pipe", "ignore", "ignore"] });
          child.on("close", done);
          child.stdin.on("error", () => undefined); // node -e 0 may exit before it reads
          child.stdin.end(`Message-ID: <ban-${id}@web01.example.org>\n${notice}`);
        });
        if (code !== 0) failed++;
      }
    }),
  );
  return failed;
}

try {
  const n0 = process.hrtime.bigint();
  await wave(process.execPath, ["-e", "0"]);
  const nodeSeconds = Number(process.hrtime.bigint() - n0) / 1e9;
  const t0 = process.hrtime.bigint();
  const failed = await wave(sealpost, ["sendmail", "-f", "root@web01.example.org", "root@localhost"]);
  const submitted = process.hrtime.bigint();
  const until = Date.now() + 600_000;
  while (ids.size < total && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  const done = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, 1000)); // anything relayed twice would show up now
  const meta = join(setup.dir, "spool/meta");
  const entries = existsSync(meta) ? readdirSync(meta).filter((n) => n.endsWith(".json")) : [];
  const stored = readdirSync(join(setup.dir, "Maildir/new")).length;
  const result = {
    notices: total,
    callers,
    failedSubmissions: failed,
    relayed: ids.size,
    relayedTwice: [...ids.values()].filter((n) => n > 1).length,
    stored,
    spoolLeft: entries.length,
    submitSeconds: +(Number(submitted - t0) / 1e9).toFixed(1),
    totalSeconds: +(Number(done - t0) / 1e9).toFixed(1),
    nodeSeconds: +nodeSeconds.toFixed(1),
    ratio: +(Number(done - t0) / 1e9 / nodeSeconds).toFixed(2),
  };
  if (process.argv.includes("--json")) console.log(JSON.stringify(result));
  else {
    console.log(
      `burst: ${total} notices through sendmail from ${callers} callers: submitted in ${result.submitSeconds} s, all at the sink after ${result.totalSeconds} s`,
    );
    console.log(`  ${total} x node -e 0 from ${callers} callers: ${result.nodeSeconds} s; sealpost / node = ${result.ratio}`);
    console.log(
      `  relayed ${result.relayed} (twice: ${result.relayedTwice}), stored ${result.stored}, failed submissions ${failed}, left in the spool ${result.spoolLeft}`,
    );
  }
  if (failed || ids.size !== total || result.relayedTwice || stored !== total) process.exitCode = 1;
} finally {
  setup.cleanup();
  await sink.close();
}
