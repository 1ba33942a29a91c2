/** keys import: only usable v4 public keys are stored, each refusal says why. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import { enums, generateKey, readKey, revokeKey, unarmor } from "openpgp";
import { importKeys, KeyInputError } from "../../src/crypto/key-import.js";
import { routeKeys } from "../../src/crypto/keyring.js";
import {
  keyPair,
  withBareUserId,
  withBrokenSignature,
  withRevokedSubkey,
  withRevokedUserId,
  withSwappedUserId,
} from "../helpers/hostile-keys.js";
import { TEST_FPR, TEST_PUBLIC_KEY, TEST_SECRET_KEY } from "../helpers/paths.js";

const PUB = readFileSync(TEST_PUBLIC_KEY);
const DAY = 86_400_000;

async function armoredKey(options: Record<string, unknown> = {}, config: Record<string, unknown> = {}): Promise<string> {
  const { publicKey } = await generateKey({
    type: "ecc",
    curve: "curve25519Legacy",
    userIDs: [{ email: "x@example.net" }],
    format: "armored",
    config,
    ...options,
  });
  return publicKey;
}

describe("keys import", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "sealpost-keys-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const files = () =>
    readdirSync(dir)
      .filter((n) => n.endsWith(".asc"))
      .sort();

  it("stores an armored key as <FINGERPRINT>.asc", async () => {
    const report = await importKeys(dir, PUB);
    assert.deepEqual(report.refused, []);
    assert.equal(report.imported[0]!.status, "imported");
    assert.equal(report.imported[0]!.info.fingerprint, TEST_FPR);
    assert.deepEqual(report.imported[0]!.info.userIds.filter((u) => u.includes("ops@example.net")).length, 1);
    assert.deepEqual(files(), [`${TEST_FPR}.asc`]);
    assert.doesNotMatch(readFileSync(join(dir, `${TEST_FPR}.asc`), "utf8"), /PRIVATE/);
  });

  it("importing the same key again changes nothing", async () => {
    const before = readFileSync(join(dir, `${TEST_FPR}.asc`));
    const report = await importKeys(dir, PUB);
    assert.equal(report.imported[0]!.status, "unchanged");
    assert.deepEqual(readFileSync(join(dir, `${TEST_FPR}.asc`)), before);
  });

  it("reads binary keys", async () => {
    const binary = Buffer.from((await readKey({ armoredKey: PUB.toString() })).write());
    assert.equal((await importKeys(dir, binary)).imported[0]!.info.fingerprint, TEST_FPR);
  });

  it("reads several keys from one file", async () => {
    const report = await importKeys(dir, Buffer.from(PUB.toString() + "\n" + (await armoredKey())));
    assert.equal(report.imported.length, 2);
  });

  it("refuses a secret key and stores nothing of it", async () => {
    const before = files();
    await assert.rejects(
      importKeys(dir, readFileSync(TEST_SECRET_KEY)),
      (e: Error) => e instanceof KeyInputError && /secret \(private\) key/.test(e.message),
    );
    assert.deepEqual(files(), before);
  });

  it("refuses garbage with a reason", async () => {
    await assert.rejects(importKeys(dir, Buffer.from("this is not a key\n")), /not an OpenPGP public key/);
    await assert.rejects(
      importKeys(dir, Buffer.from("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nbroken\n-----END PGP PUBLIC KEY BLOCK-----\n")),
      /not an OpenPGP public key/,
    );
    await assert.rejects(importKeys(dir, Buffer.alloc(0)), /empty input/);
  });

  const refusals: Array<[string, () => Promise<string>, RegExp]> = [
    [
      "an expired key",
      () => armoredKey({ date: new Date(Date.now() - 10 * DAY), keyExpirationTime: DAY / 1000 }),
      /expired on \d{4}-\d\d-\d\d/,
    ],
    [
      "a revoked key",
      async () => {
        const { privateKey } = await generateKey({
          type: "ecc",
          curve: "curve25519Legacy",
          userIDs: [{ email: "r@example.net" }],
          format: "object",
        });
        return (await revokeKey({ key: privateKey, format: "object" })).publicKey.armor();
      },
      /is revoked/,
    ],
    ["a v6 key", () => armoredKey({ type: "curve25519" }, { v6Keys: true }), /is a v6 key; sealpost seals to v4 keys only/],
    ["a v4 key with an X25519 (RFC 9580) subkey", () => armoredKey({ type: "curve25519" }), /X25519\/X448/],
    ["a v4 key advertising SEIPDv2", () => armoredKey({}, { aeadProtect: true }), /advertises SEIPDv2/],
  ];
  for (const [name, make, why] of refusals) {
    it(`refuses ${name}, saying why`, async () => {
      const before = files();
      const report = await importKeys(dir, Buffer.from(await make()));
      assert.equal(report.imported.length, 0);
      assert.match(report.refused[0]!.reason, why);
      assert.deepEqual(files(), before);
    });
  }
});

describe("pinning and rotation", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "sealpost-pin-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const stored = () =>
    readdirSync(dir)
      .filter((n) => n.endsWith(".asc"))
      .sort();

  it("--expect-fingerprint refuses any other key and stores nothing of it", async () => {
    const other = await armoredKey();
    const report = await importKeys(dir, Buffer.from(other), { expectFingerprint: TEST_FPR });
    assert.equal(report.imported.length, 0);
    assert.match(report.refused[0]!.reason, new RegExp(`is not the expected key ${TEST_FPR}`));
    assert.match(report.refused.at(-1)!.reason, /the expected key .* is not in this input/);
    assert.deepEqual(stored(), []);
  });

  it("--expect-fingerprint takes the expected key, written with spaces and in lower case", async () => {
    const report = await importKeys(dir, PUB, { expectFingerprint: TEST_FPR.toLowerCase().replace(/(.{4})/g, "$1 ") });
    assert.deepEqual(
      report.imported.map((i) => i.info.fingerprint),
      [TEST_FPR],
    );
    assert.equal(report.imported[0]!.info.subkeys[0]!.capabilities, "encrypt");
  });

  it("--replace retires the old key only after the new one is checked and stored", async () => {
    const next = await armoredKey({ userIDs: [{ email: "ops@example.net" }] });
    const nextFpr = (await readKey({ armoredKey: next })).getFingerprint().toUpperCase();
    const refused = await importKeys(
      dir,
      Buffer.from(await armoredKey({ date: new Date(Date.now() - 10 * DAY), keyExpirationTime: DAY / 1000 })),
      { replace: TEST_FPR },
    );
    assert.equal(refused.retired, undefined, "a refused new key retires nothing");
    assert.deepEqual(stored(), [`${TEST_FPR}.asc`]);
    const report = await importKeys(dir, Buffer.from(next), { replace: TEST_FPR });
    assert.equal(report.retired, TEST_FPR);
    assert.deepEqual(stored(), [`${nextFpr}.asc`]);
    assert.deepEqual(readdirSync(join(dir, "retired")), [`${TEST_FPR}.asc`], "kept, not deleted");
    assert.deepEqual(
      (await routeKeys({ to: ["ops@example.net"] }, dir)).map((k) => k.getFingerprint().toUpperCase()),
      [nextFpr],
    );
  });
});

describe("route keys", () => {
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "sealpost-route-keys-"));
    await importKeys(dir, PUB);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("finds keys by user-id e-mail, case-insensitively", async () => {
    const keys = await routeKeys({ to: ["OPS@Example.NET"] }, dir);
    assert.deepEqual(
      keys.map((k) => k.getFingerprint().toUpperCase()),
      [TEST_FPR],
    );
  });
  it("uses pinned fingerprints", async () => {
    assert.equal((await routeKeys({ to: ["someone@else.example"], keys: [TEST_FPR] }, dir)).length, 1);
  });
  it("fails when any recipient has no key", async () => {
    await assert.rejects(routeKeys({ to: ["ops@example.net", "nobody@example.net"] }, dir), /no usable key for nobody@example.net/);
  });
  it("fails when the key has expired by delivery time", async () => {
    await assert.rejects(routeKeys({ to: ["ops@example.net"] }, dir, new Date("2200-01-01")), /no usable key/);
  });
});

describe("user ids the key does not certify", () => {
  let dir: string;
  let pair: Awaited<ReturnType<typeof keyPair>>;
  const BOSS = { name: "Boss", email: "boss@example.net" };
  before(async () => {
    pair = await keyPair([
      { name: "Ops", email: "ops@example.net" },
      { name: "Someone", email: "someone@example.net" },
    ]);
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "sealpost-uid-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const storedText = () =>
    readFileSync(
      join(
        dir,
        readdirSync(dir).find((n) => n.endsWith(".asc"))!,
      ),
      "utf8",
    );

  it("an unsigned user id appended to a valid key is neither stored, shown nor routed to", async () => {
    const report = await importKeys(dir, Buffer.from(withBareUserId(pair.publicKey, BOSS)));
    assert.deepEqual(report.refused, []);
    const info = report.imported[0]!.info;
    assert.deepEqual(info.userIds, ["Ops <ops@example.net>", "Someone <someone@example.net>"]);
    assert.equal(info.ignoredUserIds, 1, "the report says one was ignored");
    assert.deepEqual(
      (await readKey({ armoredKey: storedText() })).getUserIDs().filter((u) => u.includes("boss")),
      [],
      "not in the stored copy",
    );
    await assert.rejects(routeKeys({ to: ["boss@example.net"] }, dir), /^SealpostError: no usable key for boss@example\.net$/);
    assert.equal((await routeKeys({ to: ["ops@example.net"] }, dir)).length, 1, "the key's own user ids still route");
  });

  it("an unsigned user id merged into a stored key changes nothing", async () => {
    await importKeys(dir, Buffer.from(pair.publicKey.armor()));
    const before = storedText();
    const report = await importKeys(dir, Buffer.from(withBareUserId(pair.publicKey, BOSS)));
    assert.equal(report.imported[0]!.status, "unchanged");
    assert.equal(storedText(), before);
    await assert.rejects(routeKeys({ to: ["boss@example.net"] }, dir), /no usable key for boss@example\.net/);
  });

  it("a user id carrying a self-signature made over another user id routes nothing", async () => {
    const report = await importKeys(dir, Buffer.from(withSwappedUserId(pair.publicKey, "someone@example.net", BOSS)));
    assert.deepEqual(report.imported[0]!.info.userIds, ["Ops <ops@example.net>"]);
    await assert.rejects(routeKeys({ to: ["boss@example.net"] }, dir), /no usable key for boss@example\.net/);
  });

  it("a user id its owner revoked is not shown and routes nothing; the revocation is kept", async () => {
    await importKeys(dir, Buffer.from(pair.publicKey.armor()));
    assert.equal((await routeKeys({ to: ["someone@example.net"] }, dir)).length, 1);
    const report = await importKeys(dir, Buffer.from(await withRevokedUserId(pair.privateKey, "someone@example.net")));
    assert.equal(report.imported[0]!.status, "updated");
    assert.deepEqual(report.imported[0]!.info.userIds, ["Ops <ops@example.net>"]);
    await assert.rejects(routeKeys({ to: ["someone@example.net"] }, dir), /no usable key for someone@example\.net/);
    await importKeys(dir, Buffer.from(pair.publicKey.armor())); // the older copy, without the revocation
    await assert.rejects(
      routeKeys({ to: ["someone@example.net"] }, dir),
      /no usable key for someone@example\.net/,
      "an older copy does not bring it back",
    );
  });

  it("a key file put in keys_dir by hand with an uncertified user id still routes nothing", async () => {
    const key = await readKey({ armoredKey: withBareUserId(pair.publicKey, BOSS) });
    writeFileSync(join(dir, `${key.getFingerprint().toUpperCase()}.asc`), key.armor());
    await assert.rejects(routeKeys({ to: ["boss@example.net"] }, dir), /no usable key for boss@example\.net/);
  });

  it("an uncertified user id does not make a WKD answer about its address", async () => {
    const report = await importKeys(dir, Buffer.from(withBareUserId(pair.publicKey, BOSS)), { requireEmail: "boss@example.net" });
    assert.equal(report.imported.length, 0);
    assert.match(report.refused[0]!.reason, /has no user id for boss@example\.net/);
    assert.deepEqual(readdirSync(dir), []);
  });
});

describe("revocations", () => {
  let dir: string;
  let pair: Awaited<ReturnType<typeof keyPair>>;
  let fpr: string;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "sealpost-revoke-"));
    pair = await keyPair([{ name: "Ops", email: "ops@example.net" }]);
    fpr = pair.publicKey.getFingerprint().toUpperCase();
    assert.equal((await importKeys(dir, Buffer.from(pair.publicKey.armor()))).imported[0]!.status, "imported");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const storedKey = async () => readKey({ armoredKey: readFileSync(join(dir, `${fpr}.asc`), "utf8") });

  it("a revoked copy of a stored key is merged: stored revoked, reported, and the route says why", async () => {
    const revoked = await revokeKey({
      key: pair.privateKey,
      reasonForRevocation: { flag: enums.reasonForRevocation.keyCompromised, string: "laptop stolen" },
      format: "object",
    });
    const report = await importKeys(dir, Buffer.from(revoked.publicKey.armor()));
    assert.deepEqual(report.refused, []);
    assert.equal(report.imported[0]!.status, "revoked");
    assert.deepEqual(report.imported[0]!.info.revoked, { part: "key", reason: "compromised: laptop stolen" });
    assert.equal(report.imported[0]!.info.canEncrypt, false);
    assert.equal(await (await storedKey()).isRevoked(), true, "the stored copy holds the revocation");
    await assert.rejects(
      routeKeys({ to: ["ops@example.net"] }, dir),
      new RegExp(`^SealpostError: no usable key for ops@example\\.net: ${fpr} is revoked$`),
    );
    await assert.rejects(
      routeKeys({ to: ["someone@else.example"], keys: [fpr] }, dir),
      new RegExp(`no usable key: pinned key ${fpr} is revoked`),
    );
    assert.equal(
      (await importKeys(dir, Buffer.from(revoked.publicKey.armor()))).imported[0]!.status,
      "unchanged",
      "the same revocation again changes nothing",
    );
  });

  it("a bare revocation certificate revokes the stored key", async () => {
    const report = await importKeys(dir, Buffer.from(pair.revocationCertificate));
    assert.equal(report.imported[0]!.status, "revoked");
    assert.equal(report.imported[0]!.info.fingerprint, fpr);
    assert.equal(await (await storedKey()).isRevoked(), true);
  });

  it("a binary revocation signature revokes the stored key", async () => {
    const binary = Buffer.from((await unarmor(pair.revocationCertificate)).data as Uint8Array);
    assert.equal((await importKeys(dir, binary)).imported[0]!.status, "revoked");
  });

  it("a revocation whose signature does not verify is refused; the stored key still seals", async () => {
    const report = await importKeys(dir, Buffer.from(await withBrokenSignature(pair.revocationCertificate)));
    assert.equal(report.imported.length, 0);
    assert.match(report.refused[0]!.reason, /does not verify/);
    assert.equal(await (await storedKey()).isRevoked(), false);
    assert.equal((await routeKeys({ to: ["ops@example.net"] }, dir)).length, 1);
  });

  it("a revocation for a key that is not stored is refused and stores nothing", async () => {
    const other = await keyPair([{ email: "other@example.net" }]);
    const report = await importKeys(dir, Buffer.from(other.revocationCertificate));
    assert.equal(report.imported.length, 0);
    assert.match(report.refused[0]!.reason, /^a revocation for key [0-9A-F]{16}, which is not in keys_dir; nothing was stored$/);
    assert.deepEqual(
      readdirSync(dir).filter((n) => n !== "index"),
      [`${fpr}.asc`],
      "nothing stored (index/ is the key index keys import keeps)",
    );
  });

  it("a revoked encryption subkey stops the key", async () => {
    const report = await importKeys(dir, Buffer.from(await withRevokedSubkey(pair.privateKey)));
    assert.equal(report.imported[0]!.status, "revoked");
    assert.deepEqual(report.imported[0]!.info.revoked, { part: "encryption subkey", reason: "retired: encryption subkey retired" });
    await assert.rejects(
      routeKeys({ to: ["ops@example.net"] }, dir),
      /no usable key for ops@example\.net: [0-9A-F]{40} has no valid subkey that can encrypt \(its encryption subkey is revoked\)/,
    );
  });

  it("--replace retires nothing when the input only revokes", async () => {
    const report = await importKeys(dir, Buffer.from(pair.revocationCertificate), { replace: TEST_FPR });
    assert.equal(report.retired, undefined);
  });
});
