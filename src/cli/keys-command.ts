/** `sealpost keys import|list|remove` (docs/contract.md §2, §7). */
import type { Command } from "commander";
import { readFile, unlink } from "node:fs/promises";
import type { Config } from "../config/schema.js";
import { errnoOf } from "../core/errors.js";
import { printable, printableJson } from "../core/printable.js";
import type { KeyInfo } from "../crypto/key-check.js";
import { commandConfig } from "./config-option.js";
import { fail, out, readStdin } from "./io.js";
import type { Registration } from "./registration.js";

export function keysCommands(program: Command, { set, configFile }: Registration): void {
  const keys = program.command("keys").description("manage the recipients' public keys (keys_dir)");

  keys
    .command("import")
    .description("import public keys, armored or binary, one or many per file (- reads stdin)")
    .argument("<files...>", "key files, or - for stdin")
    .option("--expect-fingerprint <fpr>", "refuse any key but this one (the fingerprint the recipient gave you)")
    .option("--replace <fpr>", "rotation: after the new key is checked and stored, retire this one to keys_dir/retired/")
    .addHelpText(
      "after",
      `
Every key is checked (v4, not expired or revoked, an encryption subkey, no RFC 9580 key types or
SEIPDv2 feature) and must take a test encryption before it is stored. Only user ids the key
certifies are shown and used. A revocation (a revoked copy of a stored key, or the certificate
gpg --gen-revoke makes) is merged into the stored key: mail for its routes then waits, and
root gets a notice in the local store.

Examples:
  sealpost keys import ops.asc
  sealpost keys import --expect-fingerprint 2D078DBC84053A03A90D58A525069B8229DDA237 ops.asc
  sealpost keys import --replace 2D078DBC84053A03A90D58A525069B8229DDA237 ops-2027.asc
  gpg --export --armor ops@example.net | sealpost keys import -
  sealpost keys import ops-revocation.asc`,
    )
    .action((files: string[], opts: ImportFlags) => set(() => importAction(files, opts, configFile())));

  keys
    .command("list")
    .description("list stored keys")
    .option("--json", "print a JSON array")
    .addHelpText("after", "\nExample:\n  sealpost keys list --json")
    .action((opts: { json?: boolean }) => set(() => listAction(configFile(), opts.json === true)));

  keys
    .command("fetch")
    .description("fetch a recipient's key from their domain's Web Key Directory (HTTPS, certificate checked) and import it")
    .argument("<address>", "the recipient's e-mail address")
    .option("--expect-fingerprint <fpr>", "refuse any key but this one")
    .addHelpText(
      "after",
      `
The advanced method (openpgpkey.DOMAIN) is tried first, the direct one (DOMAIN) only when that
host does not exist. The key must carry a user id for the address and pass the import checks.

Example:
  sealpost keys fetch ops@example.net --expect-fingerprint 2D078DBC84053A03A90D58A525069B8229DDA237`,
    )
    .action((address: string, opts: ImportFlags) => set(() => fetchAction(address, opts, configFile())));

  keys
    .command("check")
    .description("for every route: is there a usable key, and how long until it expires")
    .addHelpText(
      "after",
      `
Exit status: 0 all keys usable for more than 30 days; 1 a key expires within 30 days
(warnings at 30, 7 and 1 days); 2 a route has no usable key (its mail waits in the spool).

Example (cron, daily):
  0 8 * * * sealpost sealpost keys check >/dev/null || echo "sealpost keys need attention"`,
    )
    .action(() => set(() => checkAction(configFile())));

  const host = keys
    .command("host")
    .description("this host's signing key ([message] sign = true)")
    .addHelpText(
      "after",
      "\nExamples:\n  sealpost keys host generate          then set [message] sign = true\n  sealpost keys host export > web01-signing.asc   for the recipient to import and trust",
    );
  host
    .command("generate")
    .description("make the host signing key (v4 Ed25519, mode 0600, at message.host_key); never overwrites one")
    .addHelpText("after", "\nThen: sealpost keys host export > host.asc, give host.asc to the recipient, set [message] sign = true.")
    .action(() => set(() => hostAction("generate", configFile())));
  host
    .command("export")
    .description("print the host's public signing key, for the recipient to import")
    .action(() => set(() => hostAction("export", configFile())));

  keys
    .command("remove")
    .description("delete a stored key")
    .argument("<fingerprint>", "the key's full fingerprint")
    .addHelpText("after", "\nExample:\n  sealpost keys remove 2D078DBC84053A03A90D58A525069B8229DDA237")
    .action((fpr: string) => set(() => removeAction(fpr, configFile())));
}

interface ImportFlags {
  expectFingerprint?: string;
  replace?: string;
}

async function importAction(files: string[], flags: ImportFlags, configFile: string | undefined): Promise<number> {
  const { importKeys, KeyInputError } = await import("../crypto/key-import.js");
  let config: Config;
  try {
    config = commandConfig(configFile);
  } catch (e) {
    return fail("keys import", (e as Error).message);
  }
  for (const [flag, value] of [
    ["--expect-fingerprint", flags.expectFingerprint],
    ["--replace", flags.replace],
  ] as const) {
    if (value !== undefined && !/^[0-9A-F]{40}$/i.test(value.replace(/\s+/g, "")))
      return fail("keys import", `${flag}: expected a full 40-hex-digit fingerprint`);
  }
  const keysDir = config.keysDir;
  let status = 0;
  for (const file of files) {
    const label = file === "-" ? "stdin" : file;
    try {
      const data = file === "-" ? await readStdin() : await readFile(file);
      const report = await importKeys(keysDir, data, { expectFingerprint: flags.expectFingerprint, replace: flags.replace });
      for (const imported of report.imported) {
        printImported(imported);
        if (imported.status === "revoked") await reportRevoked(config, imported.info);
      }
      if (report.retired) {
        out(`retired   ${report.retired}  (moved to ${keysDir}/retired/)`);
        config.routes.forEach((route, i) => {
          if (route.keys?.includes(report.retired!))
            out(`warning   route[${i}] pins ${report.retired}: put the new fingerprint in its keys`);
        });
      }
      for (const refusal of report.refused) {
        status = fail("keys import", printable(`${label}: ${refusal.fingerprint ? refusal.fingerprint + ": " : ""}${refusal.reason}`));
      }
    } catch (e) {
      const why = e instanceof KeyInputError ? e.message : errnoOf(e) === "ENOENT" ? "no such file" : (e as Error).message;
      status = fail("keys import", printable(`${label}: ${why}`));
    }
  }
  return status;
}

/** One imported key: its status line, then what was checked. */
function printImported({ status, info }: { status: string; info: KeyInfo }): void {
  out(`${status.padEnd(9)} ${info.fingerprint}  ${summary(info)}${info.problem ? ` — ${info.problem}` : ""}`);
  for (const line of details(info)) out(`          ${line}`);
}

function details(info: KeyInfo): string[] {
  return [
    ...info.userIds.map((uid) => `user id  ${printable(uid)}`),
    ...(info.ignoredUserIds > 0
      ? [`ignored  ${info.ignoredUserIds} user id(s) without a valid self-certification: not shown, never used for routing`]
      : []),
    `primary  ${info.algorithm}, created ${info.created.slice(0, 10)}, ${info.expires ? `expires ${info.expires.slice(0, 10)}` : "does not expire"}`,
    ...info.subkeys.map(
      (sub) =>
        `subkey   ${sub.keyId} ${sub.algorithm} [${sub.capabilities}] ${sub.expires ? `expires ${sub.expires.slice(0, 10)}` : "does not expire"}`,
    ),
    info.canEncrypt ? "test encryption ok (PKESK v3 + SEIPD v1)" : "sealpost no longer seals to this key",
  ];
}

/** User ids are the key owner's text (or an attacker's): escaped, so none can forge a row or drive the terminal. */
function summary(info: KeyInfo): string {
  const expiry = info.expires ? `expires ${info.expires.slice(0, 10)}` : "does not expire";
  return `${info.userIds.map(printable).join(", ") || "(no user id)"} (${info.algorithm}, ${expiry})`;
}

/** A revocation was taken in: which routes it stops, and root's notice (once: a repeat import is "unchanged"). */
async function reportRevoked(config: Config, info: KeyInfo): Promise<void> {
  const { noticeRevokedKey, routesUsingKey } = await import("../ops/revoked-key.js");
  const now = new Date();
  if (info.revoked?.reason) out(`          reason   ${printable(info.revoked.reason)}`);
  const routes = await routesUsingKey(config, info, now);
  for (const route of routes) {
    out(
      route.waits
        ? `warning   ${route.label}: no usable key left, its mail waits; get the new key: sealpost keys import --replace ${info.fingerprint} NEW.asc`
        : `warning   ${route.label}: sealed to its other keys only`,
    );
  }
  await noticeRevokedKey(config, info, routes, now).catch((e: unknown) =>
    out(`warning   the notice to root could not be written: ${printable(e instanceof Error ? e.message : String(e))}`),
  );
}

async function listAction(config: string | undefined, json: boolean): Promise<number> {
  const { loadKeyring } = await import("../crypto/keyring.js");
  const { describeKey } = await import("../crypto/key-check.js");
  try {
    const infos = await Promise.all((await loadKeyring(commandConfig(config).keysDir)).map((k) => describeKey(k.key)));
    if (json) {
      out(printableJson(infos));
    } else if (infos.length === 0) {
      out("no keys stored");
    } else {
      for (const info of infos) {
        out(
          `${info.fingerprint}  ${info.canEncrypt ? "usable  " : "UNUSABLE"}  ${summary(info)}${info.problem ? ` — ${info.problem}` : ""}`,
        );
        if (info.ignoredUserIds > 0) out(`${" ".repeat(42)}ignored ${info.ignoredUserIds} user id(s) without a valid self-certification`);
      }
    }
    return 0;
  } catch (e) {
    return fail("keys list", printable((e as Error).message));
  }
}

async function removeAction(fingerprint: string, config: string | undefined): Promise<number> {
  const { keyFile } = await import("../crypto/keyring.js");
  const fpr = fingerprint.replace(/\s+/g, "").toUpperCase();
  if (!/^[0-9A-F]{40}$/.test(fpr)) return fail("keys remove", "expected a full 40-hex-digit fingerprint");
  try {
    const { keysDir } = commandConfig(config);
    await unlink(keyFile(keysDir, fpr));
    await (await import("../crypto/key-index.js")).refreshKeyIndex(keysDir);
    out(`removed   ${fpr}`);
    return 0;
  } catch (e) {
    const why = errnoOf(e) === "ENOENT" ? `no stored key ${fpr}` : (e as Error).message;
    return fail("keys remove", why);
  }
}

async function hostAction(what: "generate" | "export", configFile: string | undefined): Promise<number> {
  const { generateHostKey, loadHostKey } = await import("../crypto/host-key.js");
  const { resolveHostname } = await import("../core/hostname.js");
  try {
    const config = commandConfig(configFile);
    if (what === "generate") {
      const key = await generateHostKey(config.message.hostKey, resolveHostname(config.hostname));
      out(
        `generated ${key.getFingerprint().toUpperCase()}  ${printable(key.getUserIDs().join(", "))} (Ed25519) in ${config.message.hostKey}`,
      );
      return 0;
    }
    out((await loadHostKey(config.message.hostKey)).toPublic().armor());
    return 0;
  } catch (e) {
    const why =
      errnoOf(e) === "EEXIST" ? "a host key already exists; it is never overwritten (remove it first to replace it)" : (e as Error).message;
    return fail(`keys host ${what}`, why);
  }
}

async function checkAction(configFile: string | undefined): Promise<number> {
  const { routeKeyStatus } = await import("../ops/route-key-status.js");
  let config: Config;
  try {
    config = commandConfig(configFile);
  } catch (e) {
    return fail("keys check", (e as Error).message);
  }
  await (await import("../crypto/key-index.js")).refreshKeyIndex(config.keysDir); // keys_dir changed by hand: the intake sees it now
  let status = 0;
  for (const row of await routeKeyStatus(config, new Date())) {
    if (row.problem) {
      out(`${row.label}: NO USABLE KEY — ${printable(row.problem)}; its mail waits in the spool`);
      status = 2;
    }
    for (const e of row.keys) {
      const when = e.expires ? `expires ${e.expires.toISOString().slice(0, 10)} (in ${e.daysLeft} days)` : "does not expire";
      out(
        `${row.label}: ${e.fingerprint} ${when}${e.threshold !== null ? ` — WARNING: within ${e.threshold} day${e.threshold === 1 ? "" : "s"}` : " — ok"}`,
      );
      if (e.threshold !== null) status = Math.max(status, 1);
    }
  }
  return status;
}

async function fetchAction(address: string, flags: ImportFlags, configFile: string | undefined): Promise<number> {
  const { fetchWkd } = await import("../crypto/wkd.js");
  const { importKeys } = await import("../crypto/key-import.js");
  try {
    const config = commandConfig(configFile);
    const { data, url } = await fetchWkd(address, { connectTo: testConnectTo(process.env.SEALPOST_TEST_WKD_CONNECT) });
    out(`fetched   ${printable(url)}`);
    const report = await importKeys(config.keysDir, data, { expectFingerprint: flags.expectFingerprint, requireEmail: address });
    for (const imported of report.imported) {
      printImported(imported);
      if (imported.status === "revoked") await reportRevoked(config, imported.info);
      else out(`pin it    [[route]] to = ["${printable(address)}"]  keys = ["${imported.info.fingerprint}"]`);
    }
    let status = report.imported.length > 0 ? 0 : 1;
    for (const refusal of report.refused)
      status = fail("keys fetch", printable(`${refusal.fingerprint ? refusal.fingerprint + ": " : ""}${refusal.reason}`));
    return status;
  } catch (e) {
    // a TLS error quotes the server's certificate names: the server's words, escaped
    return fail("keys fetch", printable((e as Error).message));
  }
}

/**
 * Tests point WKD hosts at a loopback HTTPS server: "host=127.0.0.1:PORT,host2=...". Hosts not
 * listed do not exist. Certificates are still checked against the real host names.
 */
function testConnectTo(spec: string | undefined): ((host: string) => { address: string; port: number } | undefined) | undefined {
  if (!spec) return undefined;
  const map = new Map(
    spec.split(",").map((pair) => {
      const [host, target] = pair.split("=");
      const [address, port] = (target ?? "").split(":");
      return [host!.toLowerCase(), { address: address!, port: Number(port) }] as const;
    }),
  );
  return (host) => map.get(host.toLowerCase());
}
