/**
 * Which cluster a command asks, and with which token: the address from `--address` (`auto` meaning
 * the head this machine started), else TSRAY_ADDRESS, else this machine's address file; the token
 * from `--token`, else TSRAY_TOKEN, else the address file.
 */
import { noAddressFileHere, readAddressFile } from '../cluster/local-nodes.js';
import { parseAddress } from '../cluster/local-nodes.js';
import { UsageError } from './usage.js';

/** A cluster to ask. */
export interface Target {
  readonly address: string;
  readonly token: string;
}

/**
 * The cluster `command` asks.
 *
 * @throws UsageError (one line) when no address or token can be found, or the address is no HOST:PORT.
 */
export function clusterTarget(command: string, given: { readonly address?: string | undefined; readonly token?: string | undefined }): Target {
  const file = readAddressFile();
  const envAddress = process.env['TSRAY_ADDRESS'];
  const named = given.address ?? (envAddress === undefined || envAddress === '' ? undefined : envAddress);
  const address = named === 'auto' || named === undefined ? file?.address : named;
  if (address === undefined) {
    throw new UsageError(
      named === 'auto'
        ? `${command}: --address auto found no cluster started on this machine (${noAddressFileHere()}); pass --address HOST:PORT, or start one with \`tsray start --head\``
        : `${command}: no cluster to ask (${noAddressFileHere()}): pass --address HOST:PORT, set TSRAY_ADDRESS, or start one with \`tsray start --head\``,
    );
  }
  try {
    parseAddress(address);
  } catch (error) {
    throw new UsageError(`${command}: ${(error as Error).message}`);
  }
  const envToken = process.env['TSRAY_TOKEN'];
  const token = given.token ?? (envToken === undefined || envToken === '' ? undefined : envToken) ?? file?.token;
  if (token === undefined) throw new UsageError(`${command}: no cluster token: pass --token T (the one \`tsray start --head\` printed), or run this on the head's machine`);
  return { address, token };
}
