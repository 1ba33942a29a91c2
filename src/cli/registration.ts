/** What each command's registration gets from the program (cli/program.ts). */
export type Action = () => Promise<number>;

/** What each command's registration gets: where to put its action, and -c/--config (declared once, on the program). */
export interface Registration {
  set: (a: Action) => void;
  configFile: () => string | undefined;
}
