// Cold-process cost of one `sealpost deliver` (a 4 KB fail2ban notice, relayed to an
// in-process loopback sink), against `node -e 0` measured in the same run on the same machine.
// Usage: npm run build && node bench/deliver-cold.mjs [runs]
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { SMTPServer } from "smtp-server";

const root = resolve(import.meta.dirname, "..");
const runs = Number(process.argv[2] ?? 30);
const input = readFileSync(resolve(root, "../shared/fixtures/A01-fail2ban-ban-sshd-whois-lines.eml"));
const dir = mkdtempSync(join(tmpdir(), "sealpost-bench-"));

let relayed = 0;
const sink = new SMTPServer({ disabledCommands: ["AUTH", "STARTTLS"], logger: false,
  onData(stream, _s, cb) { stream.resume(); stream.on("end", () => { relayed++; cb(); }); } });
await new Promise((r) => sink.listen(0, "127.0.0.1", r));
writeFileSync(join(dir, "sealpost.toml"), `hostname = "web01.example.org"\nkeys_dir = "keys"\nspool_dir = "spool"\n[local]\npath = "Maildir"\n` +
  `[relay]\nhost = "127.0.0.1"\nport = ${sink.server.address().port}\nsecurity = "none"\n[[route]]\nto = ["ops@example.net"]\n`);
const env = { PATH: "/usr/bin:/bin", SEALPOST_CONFIG: join(dir, "sealpost.toml") };
spawnSync(join(root, "bin/sealpost"), ["keys", "import", join(root, "test/keys/TEST-ONLY-recipient-a.pub.asc")], { env });

const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
// async spawns keep the sink's event loop free to answer while deliver runs
const { spawn } = await import("node:child_process");
async function timeAsync(cmd, args, i) {
  const t0 = process.hrtime.bigint();
  await new Promise((res, rej) => {
    const c = spawn(cmd, args, { env: { ...env, RECIPIENT: `root${i}@localhost`, SENDER: "root@web01.example.org" } });
    c.on("close", (code) => (code === 0 ? res() : rej(new Error(`${cmd} exited ${code}`))));
    c.stdin.end(Buffer.concat([Buffer.from(`X-Bench: ${i}\n`), input.subarray(input.indexOf("\n") + 1)]));
  });
  return Number(process.hrtime.bigint() - t0) / 1e6;
}
const node = [], deliver = [];
for (let i = 0; i < runs; i++) {
  node.push(await timeAsync(process.execPath, ["-e", "0"], i));
  deliver.push(await timeAsync(join(root, "bin/sealpost"), ["deliver"], i));
}
sink.close();
rmSync(dir, { recursive: true, force: true });
const n = median(node), d = median(deliver);
console.log(`runs: ${runs}, relayed: ${relayed}`);
console.log(`node -e 0          median ${n.toFixed(1)} ms`);
console.log(`sealpost deliver   median ${d.toFixed(1)} ms   (${(d / n).toFixed(2)} x node -e 0)`);
