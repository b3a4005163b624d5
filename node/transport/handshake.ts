/**
 * The handshake's rules, shared by server and client: what makes a hello acceptable, and how a
 * refusal reads on the refused side.
 */
import { protocolVersion } from './frames.js';
import type { Frame } from './frames.js';
import { tokensMatch } from './token.js';

/** Why the server refuses `hello`, as the one line both sides show, or undefined to accept it. */
export function helloProblem(hello: Extract<Frame, { kind: 'hello' }>, clusterToken: string): string | undefined {
  if (hello.protocol !== protocolVersion) {
    return `protocol version ${hello.protocol}, but this cluster speaks version ${protocolVersion}; run the same tsray version on every node`;
  }
  if (hello.token === undefined || hello.token === '') return 'missing cluster token';
  if (!tokensMatch(hello.token, clusterToken)) return 'wrong cluster token';
  return undefined;
}

/** The message of the error a refused client raises: the cluster's reason, then what to do about it. */
export function refusalMessage(reason: string): string {
  const advice = /token/.test(reason) ? '; pass the --token that `tsray start --head` printed (or run on the head node, where it is read from the session dir)' : '';
  return `the cluster refused this node: ${reason}${advice}`;
}

/** How a frame kind is named in a reason: `a 'messages' frame`. */
export function frameNamed(frame: Frame): string {
  return `a '${frame.kind}' frame`;
}
