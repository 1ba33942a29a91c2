/**
 * The key index (keys_dir/index/keys.json): read back only while it describes keys_dir as it is.
 * A key file removed, added or rewritten by hand since it was written makes it stale, and a stale
 * index is never returned: the intake would otherwise answer from keys that are not there.
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, it } from "node:test";
import { refreshKeyIndex } from "../../src/crypto/key-index.js";
import { importKeys } from "../../src/crypto/key-import.js";
import { readKeyIndex } from "../../src/store/key-index.js";
import { keyPair } from "../helpers/hostile-keys.js";
import { RCPT, TEST_FPR, TEST_PUBLIC_KEY } from "../helpers/paths.js";

describe("key index", () => {
  let dir: string;
  let keyFile: string;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "sealpost-key-index-"));
    keyFile = join(dir, `${TEST_FPR}.asc`);
    await importKeys(dir, readFileSync(TEST_PUBLIC_KEY)); // writes the index, as `keys import` does
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("is read back as written while no key file changed, whatever else lies beside them", async () => {
    const written = JSON.parse(readFileSync(join(dir, "index", "keys.json"), "utf8")) as unknown;
    const index = await readKeyIndex(dir);
    assert.ok(index, "a fresh index is used");
    assert.deepEqual(index, written);
    assert.deepEqual(Object.keys(index.files), [`${TEST_FPR}.asc`]);
    assert.deepEqual(
      index.keys.map((k) => [k.fingerprint, k.emails.includes(RCPT), k.problem]),
      [[TEST_FPR, true, null]],
    );
    // not key files: an editor's backup, a note, a key under a name that is not its fingerprint
    copyFileSync(keyFile, `${keyFile}~`);
    writeFileSync(join(dir, "README"), "ops key, from the wiki\n");
    copyFileSync(keyFile, join(dir, "ops.asc"));
    assert.deepEqual(await readKeyIndex(dir), written, "still fresh");
  });

  it("is stale once a key file is removed by hand", async () => {
    unlinkSync(keyFile);
    assert.equal(await readKeyIndex(dir), undefined);
  });

  it("is stale once a key file is added by hand", async () => {
    const { publicKey } = await keyPair([{ email: "second@example.net" }]);
    writeFileSync(join(dir, `${publicKey.getFingerprint().toUpperCase()}.asc`), publicKey.armor());
    assert.equal(await readKeyIndex(dir), undefined);
  });

  it("is stale once a key file is rewritten by hand, to another size or to the same one", async () => {
    const original = readFileSync(keyFile);
    writeFileSync(keyFile, Buffer.concat([original, Buffer.from("\n")]));
    assert.equal(await readKeyIndex(dir), undefined, "rewritten, one byte longer");

    await refreshKeyIndex(dir);
    assert.ok(await readKeyIndex(dir), "made again from keys_dir as it is: fresh");

    // the same length, other bytes: only its time says it changed (a hand edit comes a moment later)
    const before = statSync(keyFile).mtimeMs;
    await sleep(20);
    const edited = Buffer.from(original);
    edited[0] = edited[0] === 0x20 ? 0x21 : 0x20;
    writeFileSync(keyFile, Buffer.concat([edited, Buffer.from("\n")]));
    assert.notEqual(statSync(keyFile).mtimeMs, before);
    assert.equal(statSync(keyFile).size, original.length + 1);
    assert.equal(await readKeyIndex(dir), undefined, "rewritten, the same size");
  });

  it("is stale once a key file is replaced by one of the same size with its old time put back (rsync -t, install -p)", async () => {
    const stamp = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000); // whole seconds: utimes puts it back exactly
    utimesSync(keyFile, stamp, stamp);
    await refreshKeyIndex(dir);
    const before = statSync(keyFile);
    const copy = join(dir, "replacement");
    const edited = readFileSync(keyFile);
    edited[0] = edited[0] === 0x20 ? 0x21 : 0x20;
    writeFileSync(copy, edited);
    utimesSync(copy, before.atime, before.mtime);
    renameSync(copy, keyFile);
    assert.equal(statSync(keyFile).size, before.size);
    assert.equal(statSync(keyFile).mtimeMs, before.mtimeMs, "size and mtime as before");
    assert.equal(await readKeyIndex(dir), undefined);
  });
});
