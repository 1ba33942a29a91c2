import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isEximPipe, pipeEnvelope } from "../../src/mail/envelope.js";

const H = "web01.example.org";

describe("pipeEnvelope", () => {
  it("Postfix: SENDER, RECIPIENT and ORIGINAL_RECIPIENT", () => {
    const e = pipeEnvelope(
      { SENDER: "root@web01.example.org", RECIPIENT: "sealpost@web01.example.org", ORIGINAL_RECIPIENT: "root" },
      { recipients: [] },
      H,
    );
    assert.deepEqual(e, { sender: "root@web01.example.org", recipients: ["sealpost@web01.example.org", "root@web01.example.org"] });
  });
  it("Postfix null sender stays null", () => {
    assert.equal(pipeEnvelope({ SENDER: "", RECIPIENT: "root@h" }, { recipients: [] }, H).sender, "");
  });
  it("Exim: SENDER, LOCAL_PART and DOMAIN", () => {
    const env = { SENDER: "root@mx2.example.net", LOCAL_PART: "root", DOMAIN: "localhost" };
    assert.deepEqual(pipeEnvelope(env, { recipients: [] }, H), { sender: "root@mx2.example.net", recipients: ["root@localhost"] });
    assert.equal(isEximPipe(env), true);
  });
  it("Exim's RECIPIENT wins over LOCAL_PART@DOMAIN when set", () => {
    const e = pipeEnvelope({ SENDER: "a@b", RECIPIENT: "root@mx2", LOCAL_PART: "root", DOMAIN: "x" }, { recipients: [] }, H);
    assert.deepEqual(e.recipients, ["root@mx2"]);
  });
  it("Postfix is not mistaken for Exim", () => {
    assert.equal(isEximPipe({ LOCAL: "root", DOMAIN: "h", ORIGINAL_RECIPIENT: "root@h" }), false);
  });
  it("-f and arguments override the environment and are qualified", () => {
    const e = pipeEnvelope({ SENDER: "x@y", RECIPIENT: "z@y" }, { sender: "root", recipients: ["postmaster", "<ops@example.net>"] }, H);
    assert.deepEqual(e, { sender: "root@web01.example.org", recipients: ["postmaster@web01.example.org", "ops@example.net"] });
  });
  it("-f <> is the null sender", () => {
    assert.equal(pipeEnvelope({}, { sender: "<>", recipients: [] }, H).sender, "");
  });
  it("duplicates are dropped, case-insensitively", () => {
    assert.deepEqual(pipeEnvelope({ RECIPIENT: "Root@H", ORIGINAL_RECIPIENT: "root@h" }, { recipients: [] }, H).recipients, ["Root@H"]);
  });
  it("no envelope at all", () => {
    assert.deepEqual(pipeEnvelope({}, { recipients: [] }, H), { sender: "", recipients: [] });
  });
});
