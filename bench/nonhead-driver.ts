/**
 * A driver's get of a 256 MiB Uint8Array made by a task on another node, attached to the reader's
 * node (issue 10 item 7): a head and a second node started with the CLI on this host, and this
 * process connecting to them as a driver three ways, each timing `tsray.get` of an object whose task
 * has finished (the store holds it):
 *
 * - `second`: attached to the second node (TSRAY_NODE_ID), reading an object made on the head: the
 *   second node copies it from the head over TCP into its store, then stages it in its /dev/shm folder;
 * - `head-remote`: attached to the head, reading an object made on the second node (the same copy
 *   between the nodes, the other way, then the head's folder);
 * - `head-local`: attached to the head, reading an object made on the head (no copy between nodes:
 *   only the staging through the folder);
 * - `head-tcp`: attached to the head as a driver on another host is (it finds no folder of the head:
 *   TSRAY_SHM_DIR points elsewhere), reading an object made on the head: pulled over TCP into the
 *   driver's memory. That is the way a driver on the second node's machine read it before it could
 *   attach to that node.
 *
 * Part of `npm run bench` (full run); alone: `npm run build && node --expose-gc dist/bench/nonhead-driver.js [--quick]`.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as tsray from '../node/index.js';
import { median, Recorder, scaleFor, section } from './harness.js';
import type { BenchScale } from './harness.js';

const cli = fileURLToPath(new URL('../node/cli/main.js', import.meta.url));
const sizeBytes = 256 * 1024 * 1024;

function tsrayCli(args: string[], root: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, TSRAY_SESSIONS_ROOT: root, TSRAY_ADDRESS: '', TSRAY_TOKEN: '', TSRAY_NODE_ID: '' } }, (error, stdout, stderr) => {
      if (error === null) resolve(stdout);
      else reject(new Error(`tsray ${args.join(' ')} failed: ${stderr.trim() || error.message}`));
    });
  });
}

/** The ways measured: which node the driver attaches to, and where the object is made. */
const ways = [
  { id: 'second', label: 'attached to the second node, object made on the head', attach: 'second', maker: 'head' },
  { id: 'head-remote', label: 'attached to the head, object made on the second node', attach: 'head', maker: 'second' },
  { id: 'head-local', label: 'attached to the head, object made on the head', attach: 'head', maker: 'head' },
  { id: 'head-tcp', label: 'attached to the head from another host (no /dev/shm), object made on the head', attach: 'head', maker: 'head' },
] as const;

/** Lets the owner drop the object (and the nodes free it) before the next sample: each node's store holds one at a time. */
async function settle(): Promise<void> {
  for (let round = 0; round < 5; round += 1) {
    globalThis.gc?.();
    await new Promise((resolve) => setTimeout(resolve, 100));
    await tsray.get(tsray.put(round));
  }
}

/** Measures each way `scale.repeats` times on one cluster of two nodes into `recorder`. */
export async function benchNonheadDriver(recorder: Recorder, scale: BenchScale): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'tsray-bench-nonhead-'));
  const saved = { token: process.env['TSRAY_TOKEN'], node: process.env['TSRAY_NODE_ID'], root: process.env['TSRAY_SESSIONS_ROOT'], shm: process.env['TSRAY_SHM_DIR'] };
  try {
    await tsrayCli(['start', '--head', '--port', '0', '--num-cpus', '1'], root);
    const head = JSON.parse(readFileSync(join(root, 'cluster', 'address.json'), 'utf8')) as { address: string; token: string; nodeId: string };
    const joined = await tsrayCli(['start', '--address', head.address, '--num-cpus', '1'], root);
    const second = /node (n[0-9a-f]+) joined/.exec(joined)?.[1];
    if (second === undefined) throw new Error(`the second node did not say its id: ${joined}`);
    const nodeOf = { head: head.nodeId, second };
    process.env['TSRAY_TOKEN'] = head.token;
    // The driver finds the second node's port in the records under this root.
    process.env['TSRAY_SESSIONS_ROOT'] = root;
    for (const way of ways) {
      process.env['TSRAY_NODE_ID'] = way.attach === 'second' ? second : '';
      // The nodes keep their folders in /dev/shm; this driver looks for them in a folder that has none.
      if (way.id === 'head-tcp') process.env['TSRAY_SHM_DIR'] = join(root, 'no-shm');
      else if (saved.shm === undefined) delete process.env['TSRAY_SHM_DIR'];
      else process.env['TSRAY_SHM_DIR'] = saved.shm;
      await recorder.repeat(`driver.nonhead.get.${way.id}`, `driver get of a 256 MiB Uint8Array, ${way.label}`, 'ms', scale.repeats, async () => {
        const info = await tsray.init({ address: head.address });
        try {
          if (info.nodeId !== nodeOf[way.attach]) throw new Error(`the driver attached to ${info.nodeId}, not to ${nodeOf[way.attach]}`);
          const make = tsray.remote((n: number) => new Uint8Array(n).fill(9));
          let ref: tsray.ObjectRef<Uint8Array> | undefined = make.options({ schedulingStrategy: { nodeId: nodeOf[way.maker], soft: false } }).remote(sizeBytes);
          await tsray.wait([ref], { fetchLocal: false });
          const startedMs = performance.now();
          const value = await tsray.get(ref);
          const elapsedMs = performance.now() - startedMs;
          if (value.length !== sizeBytes || value[sizeBytes - 1] !== 9) throw new Error(`the get brought ${value.length} bytes, not ${sizeBytes} of 9`);
          ref = undefined;
          await settle();
          return elapsedMs;
        } finally {
          await tsray.shutdown();
        }
      });
    }
  } finally {
    for (const [name, value] of [['TSRAY_TOKEN', saved.token], ['TSRAY_NODE_ID', saved.node], ['TSRAY_SESSIONS_ROOT', saved.root], ['TSRAY_SHM_DIR', saved.shm]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await tsrayCli(['stop'], root).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const scale = scaleFor(process.argv.includes('--quick'));
  const recorder = new Recorder();
  if (globalThis.gc === undefined) console.log("(run with node --expose-gc, so that each repeat's object is freed before the next)");
  section('a driver on the second node reading a 256 MiB object made on the head, against head-attached drivers');
  await benchNonheadDriver(recorder, scale);
  for (const way of ways) {
    const samples = recorder.figures.find((found) => found.id === `driver.nonhead.get.${way.id}`)?.samples ?? [];
    const ms = median(samples);
    console.log(`${way.label}: median ${ms.toFixed(0)} ms (${(sizeBytes / 1e9 / (ms / 1000)).toFixed(2)} GB/s) of [${samples.map((sample) => sample.toFixed(0)).join(', ')}] ms`);
  }
}
