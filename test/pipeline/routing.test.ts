import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { matchesRecipient, routesNeedKind, selectRoute } from "../../src/pipeline/routing.js";

describe("matchesRecipient", () => {
  const table: Array<[string, string, boolean]> = [
    ["root", "root@web01.example.org", true],
    ["root", "ROOT@localhost", true],
    ["root", "root", true],
    ["root", "rootkit@web01.example.org", false],
    ["root@web01.example.org", "root@web01.example.org", true],
    ["root@web01.example.org", "root@localhost", false],
    ["Postmaster@Web01.example.org", "postmaster@web01.EXAMPLE.org", true],
  ];
  for (const [pattern, recipient, want] of table)
    it(`${pattern} ~ ${recipient} = ${want}`, () => assert.equal(matchesRecipient(pattern, recipient), want));
});

describe("selectRoute", () => {
  const routes = [
    { matchRecipient: ["postmaster"], to: ["pm@example.net"] },
    { matchRecipient: ["root"], to: ["ops@example.net"] },
    { to: ["catchall@example.net"] },
  ];
  it("first match wins", () => assert.equal(selectRoute(routes, ["root@h"])?.to[0], "ops@example.net"));
  it("an original recipient matches too", () => assert.equal(selectRoute(routes, ["sealpost@h", "postmaster@h"])?.to[0], "pm@example.net"));
  it("a route without match_recipient catches all", () => assert.equal(selectRoute(routes, ["www-data@h"])?.to[0], "catchall@example.net"));
  it("no route matches", () => assert.equal(selectRoute(routes.slice(0, 2), ["www-data@h"]), undefined));
});

describe("selectRoute by kind", () => {
  const routes = [
    { matchKind: ["fail2ban.*"], to: ["bans@example.net"] },
    { matchRecipient: ["root"], matchKind: ["login.*", "privilege.sudo"], to: ["audit@example.net"] },
    { to: ["all@example.net"] },
  ];
  it("a family matches its kinds", () => assert.equal(selectRoute(routes, ["root@h"], "fail2ban.unban")?.to[0], "bans@example.net"));
  it("kind and recipient must both match", () => {
    assert.equal(selectRoute(routes, ["root@h"], "login.failure")?.to[0], "audit@example.net");
    assert.equal(selectRoute(routes, ["www-data@h"], "login.failure")?.to[0], "all@example.net");
  });
  it("a route with match_kind never takes a message of unknown kind", () =>
    assert.equal(selectRoute(routes, ["root@h"])?.to[0], "all@example.net"));
  it("routesNeedKind only when some route has match_kind", () => {
    assert.ok(routesNeedKind(routes));
    assert.ok(!routesNeedKind([{ to: ["a@b.c"] }]));
  });
});
