// sealpost against the procmail recipe it replaces, through the same real Postfix in the same run
// One Postfix delivering to two local users' ~/.forward (see postfix-host.mjs),
// both ending at one loopback sink that tells their mail apart by envelope sender.
//   drain:   a backlog of N fail2ban ban notices (distinct IPs, from fixture A01) queued to a
//            target while Postfix holds it, then released at once: N / (last arrival − release);
//            the recipe's before and after sealpost's (a shared machine's load drifts);
//   latency: M single notices, one at a time through /usr/sbin/sendmail, submission → sink,
//            the two targets interleaved; median and p90.
// Every notice must reach the sink exactly once, sealed, from its own target, and Postfix must
// end with an empty queue and no bounce; otherwise the run fails (exit 1). Postfix is stopped at
// the end. Installs Debian packages and rewrites /etc: only with SEALPOST_BENCH_POSTFIX=1, as root,
// on a throw-away machine.
// Usage: SEALPOST_BENCH_POSTFIX=1 node bench/postfix.mjs [--notices N=200] [--latency M=30]
//          [--sealpost-mode pipe|lmtp] [--json]
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { fixture, median, quantile, startSink } from "./lib.mjs";
import {
  HOLD_FIELD,
  HOST,
  SEALPOST_MODES,
  TARGETS,
  configurePostfix,
  installPackages,
  installSealpost,
  postfixLogSince,
  postfixLogSize,
  setUpRecipe,
  setUpSealpost,
  shAsync,
  stopGpgAgent,
  stopPostfix,
  whyNotHere,
} from "./postfix-host.mjs";

const { values: opts } = parseArgs({
  options: {
    notices: { type: "string", default: "200" },
    latency: { type: "string", default: "30" },
    "sealpost-mode": { type: "string", default: "pipe" },
    json: { type: "boolean", default: false },
  },
});
const N = Number(opts.notices);
const M = Number(opts.latency);
const mode = SEALPOST_MODES[opts["sealpost-mode"]];
const refusal = !mode
  ? `--sealpost-mode: one of ${Object.keys(SEALPOST_MODES).join(", ")}`
  : !(Number.isInteger(N) && N >= 1 && Number.isInteger(M) && M >= 1)
    ? "--notices and --latency: whole numbers ≥ 1"
    : whyNotHere();
if (refusal) {
  console.error(`bench/postfix.mjs: ${refusal}`);
  process.exit(2);
}
const STALL_MS = 60_000; // no arrival for this long: something is stuck (diagnosed, then the run fails)
const INJECTORS = 4;
const FIRST_IP = 198 * 2 ** 24 + 18 * 2 ** 16 + 1; // 198.18.0.1: the notices ban 198.18.0.0/15, set aside for benchmarks

const run = randomBytes(4).toString("hex"); // Message-IDs of this run only, whatever earlier runs left
const sent = new Map(); // notice number → the target it was sent to
const arrivals = new Map(); // notice number → each time it reached the sink from its target
const strays = [];
let inClear = 0;
let noticeText; // fixture A01 made into the notice template, once
let waiter = null; // { check, resolve }: one wait at a time, woken by each arrival

const sink = await startSink((text, envelope) => {
  const at = now();
  const target = Object.keys(TARGETS).find((t) => TARGETS[t].from === envelope.from);
  const ip = /^Subject:.*banned (198\.1[89]\.\d+\.\d+) from/im.exec(text)?.[1];
  const number = ip === undefined ? undefined : numberOf(ip);
  if (!target || number === undefined || sent.get(number) !== target) strays.push({ from: envelope.from, ip });
  else arrivals.set(number, [...(arrivals.get(number) ?? []), at]);
  if (!text.includes("-----BEGIN PGP MESSAGE-----") || text.includes("has just been banned")) inClear++;
  if (waiter?.check()) waiter.resolve();
});
const logStart = postfixLogSize();
let stopMode = async () => {};
try {
  console.error("bench: installing and setting up Postfix, the recipe and sealpost");
  installPackages();
  installSealpost();
  configurePostfix(sink.port, mode);
  setUpRecipe();
  setUpSealpost(sink.port, mode);
  stopMode = await mode.start();

  for (const target of Object.keys(TARGETS)) await single(target); // warm-up: gpg's trustdb, sealpost's first run, the disk
  // The recipe's backlog before and after sealpost's: a change in the machine's load during the
  // run (it is shared) then weighs on both.
  const drains = { recipe: [], sealpost: [] };
  for (const target of ["recipe", "sealpost", "recipe"]) {
    console.error(`bench: ${N} held notices to ${target}, released at once`);
    drains[target].push(await drain(target));
    await queueEmpty(); // a delivery still finishing must not overlap the next phase
  }
  console.error(`bench: ${M} single notices to each, one at a time`);
  const latencies = { recipe: [], sealpost: [] };
  for (let i = 0; i < M; i++) for (const target of Object.keys(TARGETS)) latencies[target].push(await single(target));
  const queueLeft = await queueEmpty().then(
    () => 0,
    async () => (await queue()).length,
  );
  await new Promise((r) => setTimeout(r, 1_000)); // anything delivered twice would show up now
  const log = postfixLogSince(logStart);
  const counts = [...sent.keys()].map((n) => arrivals.get(n)?.length ?? 0);
  const check = {
    notices: sent.size,
    missing: counts.filter((c) => c === 0).length,
    twice: counts.filter((c) => c > 1).length,
    strays: strays.length,
    inClear,
    queueLeft,
    bounced: (log.match(/status=bounced/g) ?? []).length,
    deferred: (log.match(/status=deferred/g) ?? []).length,
  };
  const summary = (target) => ({
    drainSeconds: drains[target].map((s) => +s.toFixed(2)),
    drainRate: +((N * drains[target].length) / drains[target].reduce((a, b) => a + b)).toFixed(1),
    latencyP50: +median(latencies[target]).toFixed(0),
    latencyP90: +quantile(latencies[target], 0.9).toFixed(0),
  });
  const recipe = summary("recipe");
  const sealpost = summary("sealpost");
  const result = {
    notices: N,
    latencyMessages: M,
    sealpostMode: opts["sealpost-mode"],
    noticeBytes: notice(0, false).length,
    recipe,
    sealpost,
    drainRatio: +(sealpost.drainRate / recipe.drainRate).toFixed(2),
    latencyRatio: +(sealpost.latencyP50 / recipe.latencyP50).toFixed(2),
    latencyP90Ratio: +(sealpost.latencyP90 / recipe.latencyP90).toFixed(2),
    check,
  };
  if (!opts.json) printTable(result);
  console.log(JSON.stringify(result));
  if (check.missing || check.twice || check.strays || check.inClear || check.queueLeft || check.bounced) {
    console.error(`bench: FAILED: not every notice arrived exactly once and sealed\n${diagnosis()}`);
    process.exitCode = 1;
  }
} catch (e) {
  console.error(`bench: ${e.message}\n${diagnosis()}`);
  process.exitCode = 1;
} finally {
  await stopMode();
  stopPostfix(); // leave nothing running on a shared machine
  stopGpgAgent();
  await sink.close();
}

/** The N-notice backlog: submitted while held, released at once, timed until the last arrival. */
async function drain(target) {
  const first = sent.size;
  const numbers = Array.from({ length: N }, (_, i) => first + i);
  for (const n of numbers) sent.set(n, target);
  let next = 0;
  await Promise.all(
    Array.from({ length: INJECTORS }, async () => {
      while (next < numbers.length) await sendmail(numbers[next++], target, true);
    }),
  );
  await until(async () => (await heldCount()) >= N, `${N} notices on hold`, 60_000);
  const release = now();
  await shAsync("postsuper", ["-H", "ALL"]);
  await shAsync("postqueue", ["-f"]);
  await arrived(numbers, target);
  const last = numbers.reduce((max, n) => (arrivals.get(n)[0] > max ? arrivals.get(n)[0] : max), 0n);
  return Number(last - release) / 1e9;
}

/** One notice through /usr/sbin/sendmail to its sealed arrival: ms. */
async function single(target) {
  const n = sent.size;
  sent.set(n, target);
  const at = now();
  await sendmail(n, target, false);
  await arrived([n], target);
  return Number(arrivals.get(n)[0] - at) / 1e6;
}

function sendmail(n, target, held) {
  return new Promise((resolve, reject) => {
    const child = spawn("/usr/sbin/sendmail", ["-oi", "-f", `root@${HOST}`, TARGETS[target].user], {
      stdio: ["pipe", "ignore", "inherit"],
      env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
    });
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`sendmail exited ${code}`))));
    child.stdin.end(notice(n, held));
  });
}

/**
 * Fixture A01 (fail2ban's sendmail-whois-lines ban notice) as fail2ban hands it to sendmail, its
 * whois block left out (about 2 KB), banning a distinct IP each (from FIRST_IP on).
 */
function notice(n, held) {
  noticeText ??= fixture("A01-fail2ban-ban-sshd-whois-lines.eml")
    .toString("latin1")
    .replace(/^From .*\n/, "")
    .replace(/^(Return-Path|X-Original-To|Delivered-To|Message-I[Dd]):.*\n/gim, "")
    .replace(/^Received:.*\n(?:[ \t].*\n)*/m, "")
    .replace(/\n\nHere is more information about [\s\S]*?\n\n\n(?=Lines containing failures)/, "\n\n");
  const text = noticeText.replaceAll("203.0.113.45", ipOf(n));
  return `Message-ID: <bench-${run}-${n}@${HOST}>\n${held ? `${HOLD_FIELD}\n` : ""}${text}`;
}

function ipOf(n) {
  const a = FIRST_IP + n;
  return [24, 16, 8, 0].map((shift) => Math.floor(a / 2 ** shift) % 256).join(".");
}

function numberOf(ip) {
  const [a, b, c, d] = ip.split(".").map(Number);
  return ((a * 256 + b) * 256 + c) * 256 + d - FIRST_IP;
}

/** Postfix's queue, one object per message (postqueue -j). */
async function queue() {
  return (await shAsync("postqueue", ["-j"]))
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

async function heldCount() {
  return (await queue()).filter((m) => m.queue_name === "hold").length;
}

function queueEmpty() {
  return until(async () => (await queue()).length === 0, "Postfix's queue to empty", STALL_MS);
}

/** Waits until each of `numbers` has reached the sink (from `target`); fails after STALL_MS without progress. */
function arrived(numbers, target) {
  const count = () => numbers.filter((n) => arrivals.has(n)).length;
  return new Promise((resolve, reject) => {
    let seen = count();
    if (seen === numbers.length) return resolve();
    const timer = setInterval(() => {
      const c = count();
      if (c > seen) return void (seen = c);
      clearInterval(timer);
      waiter = null;
      reject(new Error(`stalled: ${c} of ${numbers.length} notices to ${target} at the sink, none for ${STALL_MS / 1000} s`));
    }, STALL_MS);
    waiter = {
      check: () => count() === numbers.length,
      resolve: () => {
        clearInterval(timer);
        waiter = null;
        resolve();
      },
    };
  });
}

async function until(probe, what, ms) {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function now() {
  return process.hrtime.bigint();
}

function diagnosis() {
  const log = postfixLogSince(logStart).trimEnd().split("\n");
  return [`strays: ${JSON.stringify(strays.slice(0, 5))}`, "--- Postfix log (last 30 lines)", ...log.slice(-30)].join("\n");
}

function printTable(r) {
  const row = (cells) => console.log(`| ${cells.map((c) => c.replaceAll("|", "\\|")).join(" | ")} |`);
  console.log(
    `Postfix ${HOST}: a backlog of ${r.notices} ban notices (${r.noticeBytes} bytes) released at once (the recipe's before and after sealpost's), then ${r.latencyMessages} single ones to each`,
  );
  row(["target", "backlog drain", "latency p50", "latency p90"]);
  row(["---", "---", "---", "---"]);
  row([
    TARGETS.recipe.what,
    `${r.recipe.drainRate} msg/s (${r.recipe.drainSeconds.join(" s, ")} s)`,
    `${r.recipe.latencyP50} ms`,
    `${r.recipe.latencyP90} ms`,
  ]);
  row([
    mode.what,
    `${r.sealpost.drainRate} msg/s (${r.sealpost.drainSeconds.join(" s, ")} s)`,
    `${r.sealpost.latencyP50} ms`,
    `${r.sealpost.latencyP90} ms`,
  ]);
  row(["**sealpost / recipe**", `**${r.drainRatio} ×**`, `**${r.latencyRatio} ×**`, `${r.latencyP90Ratio} ×`]);
  const c = r.check;
  console.log(
    `${c.notices} notices: ${c.missing} missing, ${c.twice} twice, ${c.strays} stray, ${c.inClear} in clear; Postfix: ${c.queueLeft} left in the queue, ${c.bounced} bounced, ${c.deferred} deferred`,
  );
}
