// `sealpost serve`, sustained: 2 KB fail2ban notices from 4 concurrent SMTP clients (one
// connection each, messages back to back), with the local Maildir copy, sealing and the pooled
// relay to a loopback sink. Reports messages/s from the first submission to the last message
// at the sink, and the latency of each submission (DATA to 250) and end to end (submission to
// sink), p50 and p99. Reference, same run: the procmail recipe's pipeline
// (formail -I "" | gpg -ea) run by 4 workers, without its relay: an upper bound on its rate.
// Usage: node bench/serve-throughput.mjs [MESSAGES=2000] [--json]
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

const total = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 2000);
const CLIENTS = 4;
needs(["gpg", "formail"]);
const notice = fixture("A01-fail2ban-ban-sshd-whois-lines.eml")
  .toString("latin1")
  .replace(/^From .*\n/, "")
  .replace(/^Message-I[Dd]:.*\n/m, "");
const message = (id) => Buffer.from(`Message-ID: <bench-${id}@web01.example.org>\n${notice}`.replace(/\n/g, "\r\n"), "latin1");

const arrived = new Map();
const sink = await startSink((text) => {
  const id = /Message-ID: <bench-(\d+)@/i.exec(text)?.[1];
  if (id) arrived.set(Number(id), process.hrtime.bigint());
});
const port = await freePort();
const setup = scratchSetup(sink.port, `[serve]\nlisten = "127.0.0.1:${port}"\nmax_size = 1048576\n`);
const server = spawnServe(setup);
try {
  await waitForSmtp(port);
  await submitAll(20, 1_000_000); // warm-up: the JIT, the relay pool, the disk
  await waitUntil(
    () => arrived.size >= 20,
    () => `${arrived.size} at the sink`,
  );
  arrived.clear();
  const submitted = new Map();
  const latencies = [];
  const t0 = process.hrtime.bigint();
  await submitAll(total, 0, (id, start, end) => {
    submitted.set(id, start);
    latencies.push(Number(end - start) / 1e6);
  });
  const allSubmitted = process.hrtime.bigint();
  await waitUntil(
    () => arrived.size >= total,
    () => `${arrived.size} at the sink`,
    120_000,
  );
  const t1 = process.hrtime.bigint();
  const endToEnd = [...submitted].map(([id, start]) => Number(arrived.get(id) - start) / 1e6);
  const seconds = Number(t1 - t0) / 1e9;
  const reference = await recipeRate(Math.min(200, total), message(0));
  const result = {
    messages: total,
    clients: CLIENTS,
    seconds: +seconds.toFixed(2),
    rate: +(total / seconds).toFixed(0),
    acceptRate: +(total / (Number(allSubmitted - t0) / 1e9)).toFixed(0),
    submitP50: +median(latencies).toFixed(1),
    submitP99: +quantile(latencies, 0.99).toFixed(1),
    endToEndP50: +median(endToEnd).toFixed(1),
    endToEndP99: +quantile(endToEnd, 0.99).toFixed(1),
    procmailRate: +reference.toFixed(0),
    ratio: +(total / seconds / reference).toFixed(1),
  };
  if (process.argv.includes("--json")) console.log(JSON.stringify(result));
  else {
    console.log(
      `serve: ${total} messages from ${CLIENTS} clients in ${result.seconds} s: ${result.rate} msg/s relayed (accepted at ${result.acceptRate} msg/s)`,
    );
    console.log(
      `  submission latency p50 ${result.submitP50} ms, p99 ${result.submitP99} ms; to the sink p50 ${result.endToEndP50} ms, p99 ${result.endToEndP99} ms`,
    );
    console.log(
      `  procmail recipe pipeline (formail | gpg -ea, 4 workers, no relay): ${result.procmailRate} msg/s; serve is ${result.ratio} x that`,
    );
  }
} finally {
  await server.stop();
  await sink.close();
  setup.cleanup();
}

async function submitAll(count, firstId, onSent = () => {}) {
  let next = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      const connection = new SMTPConnection({ port, host: "127.0.0.1", ignoreTLS: true, name: "bench.example.org" });
      await new Promise((done, fail) => {
        connection.once("error", fail);
        connection.connect(done);
      });
      while (next < count) {
        const id = firstId + next++;
        const start = process.hrtime.bigint();
        await new Promise((done, fail) =>
          connection.send({ from: "root@web01.example.org", to: ["root@web01.example.org"] }, message(id), (err) =>
            err ? fail(err) : done(),
          ),
        );
        onSent(id, start, process.hrtime.bigint());
      }
      connection.quit();
    }),
  );
}
