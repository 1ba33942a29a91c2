/** What start.cts found in argv for the pipe doors (deliver, sendmail), handed to the bundle that runs them. */
export interface PipeCommand {
  door: "deliver" | "sendmail";
  /** The arguments after the command's name (all of them, started as "sendmail"). */
  args: string[];
  /** -c FILE given before the command. */
  config?: string;
}
