/** Where the transport's one-line reports go. */

/** Takes one line (no newline) about a connection: a refusal, a close and its reason, a reconnect. */
export type TransportLog = (line: string) => void;

/** The default: standard error, prefixed `tsray:`. */
export const stderrLog: TransportLog = (line) => {
  process.stderr.write(`tsray: ${line}\n`);
};
