// `sealpost serve` at line rate: Postfix's own load generator, smtp-source, sending
// one 2 KB message per connection, S connections at a time, as cron, fail2ban, msmtp and web
// apps do. Measures the rate at which serve accepts (smtp-source's wall time) and relays (to the
// last message at a loopback sink); while it runs, a probe client sends a message of its own on a
// new connection every 50 ms and times connect → 250 (the latency each of those clients sees);
// serve's RSS at the end. Reference in the same run: the procmail recipe's sealing pipeline
// (formail | gpg -ea, 4 workers, no relay), as bench/serve-throughput.mjs measures it.
// Every message must reach the sink; otherwise the run fails.
// Usage: node bench/serve-line-rate.mjs [MESSAGES=2000] [SESSIONS=4] [--json]
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import SMTPConnection from "nodemailer/lib/smtp-connection";
import {
  fixture,
  freePort,
  median,
  needs,
  quantile,
  recipeRate,
  scratchSetup,
  startSink,
  spawnServe,
  waitForSmtp,
  waitUntil,
} from "./lib.mjs";

const [total = 2000, sessions = 4] = process.argv
  .slice(2)
  .filter((a) => /^\d+$/.test(a))
  .map(Number);
needs(["smtp-source", "gpg", "formail"]);
const probeText = fixture("A01-fail2ban-ban-sshd-whois-lines.eml")
  .toString("latin1")
  .replace(/^From .*\n/, "")
  .replace(/\n/g, "\r\n");

let relayed = 0;
let lastArrival = 0n;
const sink = await startSink(() => {
  relayed++;
  lastArrival = process.hrtime.bigint();
});
const port = await freePort();
const setup = scratchSetup(sink.port, `[serve]\nlisten = "127.0.0.1:${port}"\n`);
const server = spawnServe(setup);
try {
  await waitForSmtp(port);
  await smtpSource(50); // warm-up: the JIT, the relay pool, the disk
  await waitUntil(
    () => relayed >= 50,
    () => `${relayed} at the sink`,
  );
  relayed = 0;
  const latencies = [];
  let probing = true;
  let probes = 0;
  const probe = (async () => {
    while (probing) {
      const start = process.hrtime.bigint();
      await sendOne();
      latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
      probes++;
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const t0 = process.hrtime.bigint();
  await smtpSource(total);
  const accepted = process.hrtime.bigint();
  probing = false;
  await probe;
  await waitUntil(
    () => relayed >= total + probes,
    () => `${relayed} at the sink`,
    300_000,
  );
  const rss = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, "utf8"))?.[1];
  const seconds = (end) => Number(end - t0) / 1e9;
  const reference = await recipeRate(Math.min(200, total), probeText);
  const result = {
    messages: total,
    sessions,
    acceptRate: +(total / seconds(accepted)).toFixed(0),
    relayRate: +((total + probes) / seconds(lastArrival)).toFixed(0),
    latencyP50: +median(latencies).toFixed(1),
    latencyP99: +quantile(latencies, 0.99).toFixed(1),
    probes,
    rssMb: rss ? Math.round(Number(rss) / 1024) : null,
    recipeRate: +reference.toFixed(0),
  };
  result.ratio = +(result.relayRate / result.recipeRate).toFixed(2);
  if (process.argv.includes("--json")) console.log(JSON.stringify(result));
  else {
    console.log(
      `serve, smtp-source -s ${sessions} -m ${total} -l 2048 (one message per connection): accepted ${result.acceptRate} msg/s, relayed ${result.relayRate} msg/s`,
    );
    console.log(
      `  a client's connect → 250 while it runs: p50 ${result.latencyP50} ms, p99 ${result.latencyP99} ms (${probes} probes); serve's RSS at the end ${result.rssMb} MB`,
    );
    console.log(
      `  procmail recipe pipeline (formail | gpg -ea, 4 workers, no relay): ${result.recipeRate} msg/s; serve relays ${result.ratio} x that`,
    );
  }
} finally {
  await server.stop();
  await sink.close();
  setup.cleanup();
}

/** smtp-source's run of `count` messages, without blocking this process (the sink lives in it). */
function smtpSource(count) {
  return new Promise((done, fail) => {
    const child = spawn(
      "smtp-source",
      [
        "-l",
        "2048",
        "-m",
        String(count),
        "-s",
        String(sessions),
        "-f",
        "root@web01.example.org",
        "-t",
        "root@localhost",
        `127.0.0.1:${port}`,
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let said = "";
    child.stderr.on("data", (c) => (said += c));
    child.on("close", (status) => (status === 0 ? done() : fail(new Error(`smtp-source exited ${status}: ${said.trim()}`))));
  });
}

/** One message on a connection of its own, as a one-shot client sends it. */
async function sendOne() {
  const connection = new SMTPConnection({ port, host: "127.0.0.1", ignoreTLS: true, name: "probe.example.org" });
  await new Promise((done, fail) => {
    connection.once("error", fail);
    connection.connect(done);
  });
  await new Promise((done, fail) =>
    connection.send({ from: "root@web01.example.org", to: ["root@web01.example.org"] }, probeText, (err) => (err ? fail(err) : done())),
  );
  connection.quit();
}
