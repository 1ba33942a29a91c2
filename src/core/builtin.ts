/**
 * A Node builtin loaded when it is first used, not when the bundle starts. deliver and sendmail
 * run once per message, and each builtin they load at start-up costs every message (net, the
 * streams and child_process alone are about thirty internal modules); most runs never need them.
 * process.getBuiltinModule (Node 20.16) needs no require: node:module is not loaded for it.
 */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the module's type, which getBuiltinModule cannot infer from a string
export function lazy<T>(id: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= process.getBuiltinModule(id) as T);
}
