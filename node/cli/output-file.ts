/**
 * The file a command writes as it goes (`tsray trace collect`'s trace, `tsray timeline`'s JSON): in
 * place only once whole, removed when writing it fails midway, and a failure to write it is one line
 * naming the path and what to do.
 */

/** A file being written beside its path (see `ChunkedFile` and `TraceFile` in node/trace/write.ts). */
export interface OutputFile {
  /** Writes what is left and renames the file into place; returns the bytes written. */
  finish(): number;
  /** Removes the file. */
  abandon(): void;
}

/**
 * Opens the `what` (`trace`, `timeline`) at `output` with `open`, has `fill` write it, and puts it in
 * place; returns the bytes written and what `fill` returned. When `fill` throws, the file is removed
 * and the error goes on (as one line naming the path, when it is the file system's).
 *
 * @throws Error (one line) when the file cannot be opened or written; whatever `fill` throws.
 */
export function writeOutputFile<F extends OutputFile, T>(what: string, output: string, open: (path: string) => F, fill: (file: F) => T): { readonly bytes: number; readonly result: T } {
  const cannotWrite = (error: unknown): Error => new Error(`cannot write the ${what} to ${output}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}; pass -o with a writable path`);
  let file: F;
  try {
    file = open(output);
  } catch (error) {
    throw cannotWrite(error);
  }
  let result: T;
  try {
    result = fill(file);
  } catch (error) {
    file.abandon();
    throw (error as NodeJS.ErrnoException).code === undefined ? error : cannotWrite(error);
  }
  try {
    return { bytes: file.finish(), result };
  } catch (error) {
    throw cannotWrite(error);
  }
}
