/** One event, one line: quoting, control bytes, length, levels. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mkdtempSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openEventLog } from "../../src/log/event-log.js";
import { formatEvent } from "../../src/log/events.js";

describe("event lines", () => {
  it("writes key=value pairs, quoting values with spaces, quotes or '='; leaves out undefined", () => {
    assert.equal(
      formatEvent("relayed", { id: "abc", to: "ops@example.net", reply: '250 2.0.0 Ok: "x"', skip: undefined, size: 12 }),
      'event=relayed id=abc to=ops@example.net reply="250 2.0.0 Ok: \\"x\\"" size=12',
    );
    assert.equal(formatEvent("received", { msgid: "" }), 'event=received msgid=""');
    assert.equal(formatEvent("received", { msgid: "a=b" }), 'event=received msgid="a=b"');
  });

  it("can never be split into two lines by what a sender wrote", () => {
    const line = formatEvent("received", { msgid: "<x@y>\r\nevent=relayed id=forged\u0000" });
    assert.ok(!/[\r\n\0]/.test(line), line);
    assert.equal(line.split(" event=").length, 2, "the forged event stays inside the quoted value");
  });

  it("cuts long values", () => {
    assert.ok(formatEvent("received", { to: "x".repeat(5000) }).length < 400);
  });

  it("keeps what is below the configured level out", async () => {
    const lines: string[] = [];
    const log = openEventLog({ level: "warning", syslog: "", facility: "mail" }, (l) => lines.push(l));
    log.event("received", { id: "1" });
    log.event("deferred", { id: "1" });
    log.event("held", { id: "1" });
    await log.close();
    assert.deepEqual(lines, ["event=deferred id=1", "event=held id=1"]);
  });

  it("a log file renamed by logrotate: the next event starts a new file at the path", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sealpost-log-"));
    try {
      const file = join(dir, "sealpost.log");
      const log = openEventLog({ level: "info", syslog: "", file, facility: "mail" });
      log.event("received", { id: "1" });
      renameSync(file, `${file}.1`);
      log.event("relayed", { id: "1" });
      await log.close();
      assert.match(readFileSync(`${file}.1`, "utf8"), /info: event=received id=1\n$/);
      assert.match(readFileSync(file, "utf8"), /^\S+ sealpost\[\d+\] info: event=relayed id=1\n$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
