/** Whatever arrives on stdin: exit 0 or 75, no stack trace, the canary never reaches the relay, the local copy holds it. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { Home } from "../helpers/home.js";
import { openSealed } from "../helpers/sealed.js";
import { useWorld } from "../helpers/world.js";

const CANARY = "CANARY-7f3a9-never-outside";
const ENV = { SENDER: "root@web01.example.org", RECIPIENT: "root@localhost" };

const INPUTS: Array<[string, Buffer]> = [
  ["empty input", Buffer.alloc(0)],
  ["only a From_ line", Buffer.from("From root@h  Sat Nov 21 11:31:48 2026\n")],
  ["no headers at all", Buffer.from(`${CANARY}\njust output\n`)],
  ["no separator", Buffer.from(`Subject: x\nFrom: root\n${CANARY}\n`)],
  ["NUL and bare CR", Buffer.from(`Subject: a\0b\rc\n\n${CANARY}\0\r\r\n`)],
  ["random bytes", Buffer.concat([randomBytes(2048), Buffer.from(`\n${CANARY}\n`)])],
  ["a 1 MB header line", Buffer.from(`Subject: ${"x".repeat(1024 * 1024)}\n\n${CANARY}\n`)],
  ["10,000 header fields", Buffer.from("X-Filler: y\n".repeat(10_000) + `\n${CANARY}\n`)],
  [
    "invalid encoded-words and charsets",
    Buffer.from(`Subject: =?x-unknown?Q?=FF=FE?= =?UTF-8?B?####?=\nFrom: =?utf-8?q?=C3?= <a@b>\n\n${CANARY}\n`),
  ],
  ["a broken multipart", Buffer.from(`Content-Type: multipart/mixed; boundary="\n\n--zzz\n${CANARY}\n`)],
  ["a From header full of junk", Buffer.from(`From: <<<@@@>>>, "unterminated\n\n${CANARY}\n`)],
  ["8-bit header bytes", Buffer.from(`Subject: Grüße \xff\xfe\n\n${CANARY}\n`, "latin1")],
];

describe("deliver with bad input", () => {
  const world = useWorld();
  for (const [name, input] of INPUTS) {
    it(`${name}: exit 0 or 75, no stack trace, nothing readable leaves`, async () => {
      const home = new Home({ relayPort: world.sink.port });
      try {
        await home.importTestKey();
        const before = world.sink.messages.length;
        const r = await home.deliver(input, ENV);
        assert.ok(r.code === 0 || r.code === 75, `exit ${r.code}`);
        assert.doesNotMatch(r.stderr.toString(), /\n {4}at |Error:/);
        if (r.code === 0) {
          assert.equal(r.stderr.length, 0);
          const copies = home.localCopies();
          assert.equal(copies.length, 1);
          assert.ok(copies[0]!.equals(input.subarray(0, 5).toString() === "From " ? input.subarray(input.indexOf("\n") + 1) : input));
        }
        for (const { raw } of world.sink.messages.slice(before)) {
          assert.ok(!raw.includes(CANARY), "the canary is never in the relayed bytes");
          if (input.includes(CANARY)) assert.ok(openSealed(raw, world.gpg).inner.includes(CANARY), "but it is inside");
        }
      } finally {
        await home.cleanup();
      }
    });
  }
});
