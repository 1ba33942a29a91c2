// A 25 MB message with attachments (a backup report: a text part and three gzip attachments in
// base64) through `sealpost deliver` with relay = "inline": local copy, streamed sealing, relay to a
// loopback sink, all in the one process measured.
// Peak RSS and wall time from /usr/bin/time, against `gpg -e` (default compression) and the
// procmail recipe's pipeline (formail -I "" | gpg -ea) on the same file, in the same run,
// alternating, median of RUNS each.
// Usage: node bench/large-message.mjs [RUNS=5] [--json]
import { randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanEnv, gpgHome, KEY_UID, median, needs, scratchSetup, sealpost, startSink, timed } from "./lib.mjs";

const runs = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 5);
needs(["gpg", "formail"]);
const sink = await startSink();
// relay = "inline": deliver seals and relays it itself, so one process's time and peak memory
// are the whole path (with the default, the runner would do that part after deliver exits)
const setup = scratchSetup(sink.port, '[deliver]\nrelay = "inline"\n');
const gpg = gpgHome();
try {
  const file = join(setup.dir, "backup-report.eml");
  writeFileSync(file, backupReport());
  const input = (i) => Buffer.concat([Buffer.from(`X-Bench-Run: ${i}\n`), backupReport.last]); // a new message each run
  const columns = {
    deliver: [],
    gpg: [],
    recipe: [],
  };
  for (let i = 0; i < runs; i++) {
    columns.deliver.push(
      await timed([sealpost, "deliver"], {
        input: input(i),
        env: { ...setup.env, SENDER: "root@web01.example.org", RECIPIENT: "root@localhost" },
      }),
    );
    rmSync(join(setup.dir, "Maildir"), { recursive: true, force: true }); // keep the disk from filling
    columns.gpg.push(
      await timed(["gpg", "--batch", "--homedir", gpg.home, "-e", "-r", KEY_UID, "-o", "/dev/null", file], { env: cleanEnv() }),
    );
    columns.recipe.push(
      await timed(["sh", "-c", `formail -I "" < ${file} | gpg --batch --homedir ${gpg.home} -ea -r ${KEY_UID} > /dev/null`], {
        env: cleanEnv(),
      }),
    );
  }
  const summary = (xs) => ({ ms: +median(xs.map((x) => x.ms)).toFixed(0), rssMb: +Math.max(...xs.map((x) => x.rssMb)).toFixed(0) });
  const mb = backupReport.last.length / 1e6;
  const result = {
    runs,
    sizeMb: +mb.toFixed(1),
    relayed: sink.count,
    deliver: summary(columns.deliver),
    gpg: summary(columns.gpg),
    recipe: summary(columns.recipe),
  };
  result.deliverMBps = +(mb / (result.deliver.ms / 1000)).toFixed(1);
  result.gpgMBps = +(mb / (result.gpg.ms / 1000)).toFixed(1);
  result.speedVsGpg = +(result.gpg.ms / result.deliver.ms).toFixed(2);
  if (process.argv.includes("--json")) console.log(JSON.stringify(result));
  else {
    console.log(`large message, ${result.sizeMb} MB (median of ${runs}, peak RSS the highest):`);
    console.log(
      `  sealpost deliver (store + seal + relay): ${result.deliver.ms} ms, ${result.deliverMBps} MB/s, peak RSS ${result.deliver.rssMb} MB`,
    );
    console.log(`  gpg -e (encrypt only):                   ${result.gpg.ms} ms, ${result.gpgMBps} MB/s, peak RSS ${result.gpg.rssMb} MB`);
    console.log(`  formail | gpg -ea (encrypt only):        ${result.recipe.ms} ms, peak RSS ${result.recipe.rssMb} MB`);
    console.log(`  sealpost end to end is ${result.speedVsGpg} x the speed of gpg -e; ${sink.count} relayed`);
  }
} finally {
  gpg.cleanup();
  setup.cleanup();
  await sink.close();
}

/** About 25 MB: random gzip-like attachments, base64 in 76-column lines, as a backup script mails them. */
function backupReport() {
  if (backupReport.last) return backupReport.last;
  const attachment = (name, size) =>
    [
      `--b1`,
      `Content-Type: application/gzip; name="${name}"`,
      "Content-Transfer-Encoding: base64",
      `Content-Disposition: attachment; filename="${name}"`,
      "",
      randomBytes(size).toString("base64").replace(/.{76}/g, "$&\n"),
    ].join("\n");
  backupReport.last = Buffer.from(
    [
      "From: backup <root@web01.example.org>",
      "To: root@web01.example.org",
      "Subject: nightly backup report web01",
      "Date: Sat, 21 Nov 2026 03:00:00 +0100",
      "Message-ID: <backup.20261121@web01.example.org>",
      "MIME-Version: 1.0",
      'Content-Type: multipart/mixed; boundary="b1"',
      "",
      "--b1",
      "Content-Type: text/plain; charset=utf-8",
      "",
      "Nightly backup of web01.example.org: 3 archives attached.",
      attachment("db-dump.sql.gz", 9_000_000),
      attachment("www.tar.gz", 8_000_000),
      attachment("etc.tar.gz", 1_400_000),
      "--b1--",
      "",
    ].join("\n"),
  );
  return backupReport.last;
}
