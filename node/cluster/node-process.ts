/**
 * The life of a node process: start the node, leave the files by which this machine finds it (the
 * node's record, and for the head the address file and the token in the session dir), report ready
 * or the one-line reason it could not start, and on SIGTERM or SIGINT stop cleanly and remove its
 * files. `tsray start --block` runs this in its own process; without `--block` the daemon entry
 * (node-main.ts) runs it and reports over IPC.
 */
import { join } from 'node:path';
import { writeTokenFile } from '../transport/index.js';
import { ClusterNode } from './cluster-node.js';
import type { ClusterNodeOptions } from './cluster-node.js';
import { forgetNode, readAddressFile, recordNode, removeAddressFile, writeAddressFile } from './local-nodes.js';

/** What a node process is started with (sent over IPC: the token never shows in a process list). */
export type NodeProcessConfig = Omit<ClusterNodeOptions, 'objectStoreBytes' | 'sessionDir' | 'onFatal'> & {
  /** Chosen by `start`, which names the node's log in it. */
  readonly sessionDir: string;
  /** The supervisor that runs this head (named in the address file), if any. */
  readonly supervisorPid?: number;
};

/** What a node process reports once it started, or failed to. */
export type NodeStartReport =
  | {
      readonly kind: 'ready';
      readonly nodeId: string;
      readonly address: string;
      readonly sessionDir: string;
      readonly pid: number;
      /** For a head that resumed its cluster: the GCS events it replayed from its log. */
      readonly replayedEvents?: number;
    }
  | { readonly kind: 'failed'; readonly reason: string };

/**
 * Runs a node until a signal or a fatal condition ends it. `report` hears once whether it started.
 * Resolves to the exit code the process should end with.
 */
export async function runNodeProcess(config: NodeProcessConfig, report: (report: NodeStartReport) => void): Promise<number> {
  let fatalReason: string | undefined;
  let wake: (() => void) | undefined;
  const ended = new Promise<void>((resolve) => {
    wake = resolve;
  });
  let node: ClusterNode;
  try {
    node = await ClusterNode.start({
      ...config,
      onFatal: (reason) => {
        fatalReason = reason;
        wake?.();
      },
    });
  } catch (error) {
    report({ kind: 'failed', reason: error instanceof Error ? error.message : String(error) });
    return 1;
  }
  const address = config.head ? node.address : `${config.host}:${config.port}`;
  const driverAddress = node.driverAddress;
  recordNode({ pid: process.pid, nodeId: node.nodeId, head: config.head, address, sessionDir: node.sessionDir, ...(driverAddress === undefined ? {} : { driverAddress }) });
  if (config.head) {
    writeTokenFile(join(node.sessionDir, 'token'), config.token);
    writeAddressFile({ address, token: config.token, nodeId: node.nodeId, pid: process.pid, sessionDir: node.sessionDir, ...(config.supervisorPid === undefined ? {} : { supervisorPid: config.supervisorPid }) });
  }
  const onSignal = (): void => wake?.();
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const resumed = config.resume === undefined ? '' : `, resuming the cluster after ${config.resume.previousNodeId} (${node.replayedEvents} GCS events replayed)`;
  process.stderr.write(`tsray: node ${node.nodeId}${config.head ? ' (head)' : ''} up at ${address}, session ${node.sessionDir}${resumed}\n`);
  report({ kind: 'ready', nodeId: node.nodeId, address, sessionDir: node.sessionDir, pid: process.pid, ...(config.resume === undefined ? {} : { replayedEvents: node.replayedEvents }) });
  await ended;
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  await node.stop();
  forgetNode(process.pid);
  // Only the head that wrote the address file removes it (a newer head may have replaced it).
  if (config.head && readAddressFileQuietly()?.pid === process.pid) removeAddressFile();
  process.stderr.write(`tsray: node ${node.nodeId} stopped${fatalReason === undefined ? '' : `: ${fatalReason}`}\n`);
  return fatalReason === undefined ? 0 : 1;
}

function readAddressFileQuietly(): ReturnType<typeof readAddressFile> {
  try {
    return readAddressFile();
  } catch {
    return undefined;
  }
}
