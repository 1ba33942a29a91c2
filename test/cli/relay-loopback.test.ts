/**
 * security = "none" against a name, with a real resolver: sealpost runs in a
 * mount namespace of its own whose /etc/hosts says where relay.localhost is (the host's file is
 * never touched). A *.localhost name that points off loopback must not get plaintext SMTP.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fixtureBytes, fixtures, pipeEnv } from "../helpers/fixtures.js";
import { Home } from "../helpers/home.js";
import { BIN } from "../helpers/paths.js";
import { openSealed } from "../helpers/sealed.js";
import { useWorld } from "../helpers/world.js";

const A01 = fixtures().find((f) => f.file.startsWith("A01"))!;

/** This machine's first non-loopback IPv4 address: connecting to it stays on the host. */
const OUTSIDE = Object.values(networkInterfaces())
  .flat()
  .find((i) => i && i.family === "IPv4" && !i.internal)?.address;
const CAN_UNSHARE = process.getuid?.() === 0 && spawnSync("/usr/bin/unshare", ["--mount", "/bin/true"]).status === 0;
const skip = !OUTSIDE ? "no non-loopback IPv4 address here" : !CAN_UNSHARE ? "needs root and unshare --mount" : false;

describe("relay security = none with a name", { skip }, () => {
  const world = useWorld();
  let listener: Server;
  let port = 0;
  const connections: string[] = [];
  const sockets = new Set<Socket>();

  before(async () => {
    // an SMTP-looking listener on the outside address: it records who connected, and says no more
    listener = createServer((socket) => {
      sockets.add(socket);
      connections.push(socket.remoteAddress ?? "");
      socket.on("error", () => undefined);
      socket.write("220 outside ESMTP\r\n");
    });
    await new Promise<void>((resolve) => listener.listen(0, OUTSIDE, () => resolve()));
    port = (listener.address() as { port: number }).port;
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => listener.close(resolve));
  });

  /** A home whose relay is relay.localhost:`relayPort`, and whose sealpost sees `hosts` as /etc/hosts. */
  function homeWithHosts(relayPort: number, hosts: string): Home {
    const home = new Home({ relayPort, extra: '[deliver]\nrelay = "inline"\n' }); // what deliver answers is the point
    writeFileSync(home.config, readFileSync(home.config, "utf8").replace('host = "127.0.0.1"', 'host = "relay.localhost"'));
    writeFileSync(join(home.root, "hosts"), hosts);
    const wrapper = join(home.root, "sealpost-with-hosts");
    writeFileSync(
      wrapper,
      `#!/bin/sh\nexec /usr/bin/unshare --mount --propagation private /bin/sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "${join(home.root, "hosts")}" "${BIN}" "$@"\n`,
    );
    chmodSync(wrapper, 0o755);
    home.bin = wrapper;
    return home;
  }

  it("a *.localhost name that resolves off loopback is refused (75, 4.3.5) and nothing connects to it", async () => {
    const home = homeWithHosts(port, `127.0.0.1 localhost\n${OUTSIDE} relay.localhost\n`);
    try {
      await home.importTestKey();
      const r = await home.deliver(fixtureBytes(A01), pipeEnv(A01));
      assert.equal(r.code, 75);
      assert.equal(
        r.stderr.toString(),
        `4.3.5 sealpost: relay.security = "none" is only for loopback relay hosts; relay.localhost is ${OUTSIDE}\n`,
      );
      assert.deepEqual(connections, [], "no plaintext SMTP to an address off this machine's loopback");
    } finally {
      await home.cleanup();
    }
  });

  it("a name that resolves to loopback only is used, at the address it resolved to", async () => {
    const home = homeWithHosts(world.sink.port, "127.0.0.1 localhost relay.localhost\n");
    try {
      await home.importTestKey();
      const before = world.sink.messages.length;
      const r = await home.deliver(fixtureBytes(A01), pipeEnv(A01));
      assert.equal(r.code, 0, r.stderr.toString());
      assert.equal(world.sink.messages.length, before + 1);
      openSealed(world.sink.messages.at(-1)!.raw, world.gpg);
    } finally {
      await home.cleanup();
    }
  });
});
