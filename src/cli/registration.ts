/** What each command's registration gets from the program (cli/program.ts). */
export type Action = () => Promise<number>;

/** What each command's registration gets: where to put its action, and -c given before the command. */
export interface Registration {
  set: (a: Action) => void;
  globalConfig: () => string | undefined;
}
