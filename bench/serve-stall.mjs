// How long one hostile message stalls `sealpost serve` for everyone else (the promise: no single
// message holds other connections for more than 100 ms). While a probe client on a connection of
// its own asks NOOP in a loop (a fresh NOOP the moment the last reply came, timed from a thread
// of its own, so this process's sending and sink never delay its clock), one hostile client sends
// one input, as test/cli/serve-hostile.test.ts sends it: a 20 MB Subject, a million header fields,
// 8,000 To fields, a quadratic login Subject routed by kind, a 20 MB To of bare addresses, 50,000
// RCPTs, a 24 MB message. An input's window runs from its connect to its reply (and, when it is
// taken, its arrival at the sink: the sealing and the relay are serve's work too). The probe's
// longest wait counts 500 ms more (what the input leaves behind, its garbage, stalls too); its p99
// is of the NOOPs asked within the window. Reference, same run and the same way: a 2 KB fail2ban
// notice. Each round sends the reference, then every input; longest waits are the worst round's,
// p99s of all rounds' NOOPs. --quick: one round, inputs at a quarter of their size (8,000 To fields and the login
// Subject as they are).
// Usage: node bench/serve-stall.mjs [ROUNDS=3] [--quick] [--json]
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { KEY_UID, fixture, freePort, quantile, scratchSetup, startSink, spawnServe, waitForSmtp, waitUntil } from "./lib.mjs";

const MB = 1024 * 1024;
const BUDGET_MS = 100;
const SETTLE_MS = 500;

async function main() {
  const quick = process.argv.includes("--quick");
  const rounds = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? (quick ? 1 : 3));
  const scale = quick ? 0.25 : 1;
  const notice = fixture("A01-fail2ban-ban-sshd-whois-lines.eml")
    .toString("latin1")
    .replace(/^From .*\n/, "")
    .replace(/\n/g, "\r\n");
  const reference = { name: "2 KB fail2ban notice", message: Buffer.from(notice, "latin1"), taken: true };
  const inputs = hostileInputs(scale);

  let arrived = 0;
  const sink = await startSink(() => arrived++);
  const port = await freePort();
  const route = `[[route]]\nmatch_kind = ["login.*"]\nto = ["${KEY_UID}"]\n`; // the login Subject goes through the kind's route
  const setup = scratchSetup(sink.port, `[serve]\nlisten = "127.0.0.1:${port}"\n${route}`);
  const server = spawnServe(setup);
  const probe = new Probe(port);
  try {
    await waitForSmtp(port);
    for (let i = 0; i < 20; i++) await send(port, reference); // warm-up: the JIT, the relay pool, the disk
    await waitUntil(
      () => arrived >= 20,
      () => `${arrived} at the sink`,
    );
    const results = new Map([reference, ...inputs].map((input) => [input, { waits: [], longest: [], windows: [], replies: [] }]));
    for (let round = 0; round < rounds; round++) {
      for (const input of [reference, ...inputs]) {
        if (!process.argv.includes("--json")) process.stderr.write(`bench: round ${round + 1}/${rounds}: ${input.name}\n`);
        const before = arrived;
        await probe.start();
        const t0 = process.hrtime.bigint();
        const answer = await send(port, input);
        if (input.taken !== answer.startsWith("250"))
          throw new Error(`${input.name}: serve answered ${answer}, expected ${input.taken ? "250" : "a refusal"}`);
        if (input.taken)
          await waitUntil(
            () => arrived > before,
            () => `${input.name}: not at the sink`,
            120_000,
          );
        const t1 = process.hrtime.bigint();
        await sleep(SETTLE_MS);
        const asked = await probe.stop(); // [sent at (ms), wait (ms)] after each other
        const result = results.get(input);
        let longest = 0;
        for (let i = 0; i < asked.length; i += 2) {
          longest = Math.max(longest, asked[i + 1]);
          if (asked[i] >= ms(t0) && asked[i] <= ms(t1)) result.waits.push(asked[i + 1]); // p99: the NOOPs asked while the input was under way
        }
        result.longest.push(longest);
        result.windows.push(ms(t1) - ms(t0));
        result.replies.push(answer);
        await sleep(SETTLE_MS); // what the input left (garbage, the spool) settles before the next one
      }
    }
    const summary = ([input, r]) => ({
      name: input.name,
      reply: r.replies[0].slice(0, 9),
      longestMs: +Math.max(...r.longest).toFixed(1),
      longestEachRound: r.longest.map((ms) => +ms.toFixed(1)),
      p99Ms: +quantile(r.waits, 0.99).toFixed(2),
      windowMs: Math.round(Math.max(...r.windows)),
      probes: r.waits.length,
    });
    const [ref, ...rest] = [...results].map(summary);
    for (const r of rest) {
      r.ratio = +(r.longestMs / ref.longestMs).toFixed(1);
      r.underBudget = r.longestMs < BUDGET_MS;
    }
    const worst = rest.reduce((a, b) => (b.longestMs > a.longestMs ? b : a));
    const result = {
      rounds,
      quick,
      budgetMs: BUDGET_MS,
      reference: ref,
      inputs: rest,
      worst: { name: worst.name, longestMs: worst.longestMs, ratio: worst.ratio },
      overBudget: rest.filter((r) => !r.underBudget).map((r) => r.name),
    };
    if (process.argv.includes("--json")) console.log(JSON.stringify(result));
    else {
      console.log(
        `serve, one message at a time beside a NOOP probe (${rounds} round${rounds === 1 ? "" : "s"}${quick ? ", inputs at 1/4 size" : ""}; the worst round):`,
      );
      console.log(
        `  reference, ${ref.name}: longest wait ${ref.longestMs} ms, p99 ${ref.p99Ms} ms (${ref.probes} NOOPs, window ${ref.windowMs} ms + ${SETTLE_MS})`,
      );
      for (const r of rest)
        console.log(
          `  ${r.name}: ${r.reply}; longest wait ${r.longestMs} ms (${r.ratio} x the reference; rounds ${r.longestEachRound.join(", ")}), p99 ${r.p99Ms} ms; ${r.underBudget ? "under" : "OVER"} ${BUDGET_MS} ms (${r.probes} NOOPs, window ${r.windowMs} ms + ${SETTLE_MS})`,
        );
    }
  } finally {
    await probe.close();
    await server.stop();
    await sink.close();
    setup.cleanup();
  }
}

/** The hostile inputs, as test/cli/serve-hostile.test.ts (and HOSTILE_SHAPES in test/property/messages.ts) make them, CRLF-ended; `scale` shrinks the large ones. */
function hostileInputs(scale) {
  const n = (count) => Math.round(count * scale);
  const mb = (m) => (m * scale).toFixed(0) + " MB";
  const input = (name, text, taken, rcpts = 1) => ({ name, message: Buffer.from(text, "latin1"), taken, rcpts });
  return [
    input(`${mb(20)} Subject`, `From: a@b.example\r\nSubject: ${"x ".repeat(n(10 * MB))}\r\n\r\nbody\r\n`, false),
    input(
      `${n(1_000_000).toLocaleString("en")} header fields`,
      `From: a@b.example\r\n${"X-F: y\r\n".repeat(n(1_000_000))}\r\nbody\r\n`,
      false,
    ),
    input("8,000 To fields", `From: a@b.example\r\n${"To: a\r\n".repeat(8_000)}Subject: many To\r\n\r\nbody\r\n`, true),
    input("quadratic login Subject (by kind)", `From: a@b.example\r\nSubject: login: ${"a.".repeat(30_000)}\r\n\r\nlogin body\r\n`, true),
    input(
      `${mb(20)} To of bare addresses`,
      `From: a@b.example\r\nTo: ${"u1, ".repeat(n(5 * MB))}u2\r\nSubject: big To\r\n\r\nbody\r\n`,
      false,
    ),
    input(`${n(50_000).toLocaleString("en")} RCPTs`, "Subject: to many\r\n\r\nbody\r\n", true, n(50_000)),
    input(
      `${mb(24)} message`,
      `From: a@b.example\r\nSubject: backup\r\n\r\n${`${"z".repeat(76)}\r\n`.repeat(Math.floor((24 * MB * scale) / 78))}`,
      true,
    ),
  ];
}

/**
 * One message on a connection of its own, written as it is (CRLF, no line starting with "."), the
 * envelope pipelined; resolves with serve's reply to the message (after its 354).
 */
function send(port, { message, rcpts = 1 }) {
  return new Promise((done, fail) => {
    const socket = net.createConnection(port, "127.0.0.1");
    let text = "";
    let state = "greeting";
    socket.on("error", fail);
    socket.on("close", () => state !== "done" && fail(new Error(`serve closed the connection (${state})`)));
    socket.on("data", (chunk) => {
      text += chunk.toString("latin1");
      const lines = text.split("\r\n");
      text = lines.pop();
      for (const line of lines) {
        if (state === "greeting" && line.startsWith("220 ")) {
          state = "envelope";
          const to = Array.from({ length: rcpts }, (_, i) => `RCPT TO:<${rcpts === 1 ? "root" : `r${i}`}@localhost>\r\n`).join("");
          socket.write(`EHLO hostile.example\r\nMAIL FROM:<a@b.example>\r\n${to}DATA\r\n`);
        } else if (state === "envelope" && line.startsWith("354 ")) {
          state = "data";
          socket.write(message);
          socket.write(".\r\n");
        } else if (state === "data" && /^\d{3} /.test(line)) {
          state = "done";
          socket.end("QUIT\r\n");
          done(line);
        } else if (state === "envelope" && /^5\d\d /.test(line)) fail(new Error(`serve refused the envelope: ${line}`));
      }
    });
  });
}

/** The probe: a thread of its own that keeps one connection asking NOOP, timing each reply. */
class Probe {
  constructor(port) {
    this.worker = new Worker(new URL(import.meta.url), { workerData: { port } });
    this.worker.on("error", (err) => {
      this.error = new Error(`the probe failed: ${err.message}`);
      this.failed?.(this.error); // and serve is stopped all the same
    });
  }

  /** A fresh connection (serve cuts one that reaches no DATA in a minute), asking already. */
  start() {
    return this.ask("start");
  }

  /** Stops asking once the NOOP out is answered; for each NOOP, when it was sent and its wait (ms), one after the other. */
  stop() {
    return this.ask("stop");
  }

  ask(what) {
    return new Promise((done, fail) => {
      if (this.error) return fail(this.error);
      this.failed = fail;
      this.worker.once("message", done);
      this.worker.postMessage(what);
    });
  }

  close() {
    return this.worker.terminate();
  }
}

function probeThread() {
  parentPort.on("message", (what) => (what === "start" ? ask() : stop()));
  let stop;
  function ask() {
    const waits = [];
    let sentAt = 0n;
    let greeted = false;
    let stopping = false;
    let finished = false;
    let text = "";
    const socket = net.createConnection({ port: workerData.port, host: "127.0.0.1", noDelay: true });
    const noop = () => {
      sentAt = process.hrtime.bigint();
      socket.write("NOOP\r\n");
    };
    stop = () => (stopping = true);
    socket.on("error", (err) => {
      if (!finished) throw err;
    });
    socket.on("data", (chunk) => {
      if (finished) return;
      text += chunk.toString("latin1");
      if (!text.endsWith("\r\n")) return;
      const last = text.slice(0, -2).split("\r\n").pop();
      text = "";
      if (!greeted) {
        if (last.startsWith("220 ")) socket.write("EHLO probe.example\r\n");
        else if (last.startsWith("250 ")) {
          greeted = true;
          parentPort.postMessage("asking");
          noop();
        }
        return;
      }
      waits.push(ms(sentAt), Number(process.hrtime.bigint() - sentAt) / 1e6);
      if (!stopping) return noop();
      finished = true;
      socket.end("QUIT\r\n");
      parentPort.postMessage(waits);
    });
  }
}

/** A process.hrtime.bigint() in ms (one clock for every thread). */
function ms(ns) {
  return Number(ns / 1000n) / 1000;
}

if (isMainThread) await main();
else probeThread();
