/** Which RCPT TO addresses `serve` takes: local ones only (docs/contract.md §6, §7), so it is never an open relay. */

export function isLocalRecipient(address: string, hostname: string, localDomains: readonly string[]): boolean {
  const at = address.lastIndexOf("@");
  if (at === -1) return address.length > 0; // a bare local part ("root") is local by definition
  const domain = address
    .slice(at + 1)
    .toLowerCase()
    .replace(/\.$/, "");
  const local = new Set([hostname.toLowerCase(), "localhost", "localhost.localdomain", ...localDomains.map((d) => d.toLowerCase())]);
  return at > 0 && (local.has(domain) || domain === "[127.0.0.1]" || domain === "[ipv6:::1]");
}
