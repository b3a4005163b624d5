/**
 * A driver's large puts and gets on a cluster it connects to on the same host: through the head's
 * shared mapping in /dev/shm (node/store/shm-handoff.ts) against over the TCP connection (the head
 * started with TSRAY_SHM_STORE_BYTES=0, which turns the mapping off). A head is started with the CLI
 * for each way, and this process connects to it as a driver. For a Float64Array of 64 MiB and 256 MiB:
 *
 * - put: `tsray.put(array)` until a task on the head has read it (the head took it into its store);
 * - get: `tsray.get(ref)` of an array a task made on the head, into this process.
 *
 * Part of `npm run bench`; alone: `npm run build && node --expose-gc dist/bench/driver-objects.js [--quick]`.
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

/** The sizes measured, in MiB. */
const sizesMiB = (process.env['BENCH_SIZES_MIB'] ?? '64,256').split(',').map(Number);

function tsrayCli(args: string[], root: string, env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, TSRAY_SESSIONS_ROOT: root, TSRAY_ADDRESS: '', TSRAY_TOKEN: '', ...env } }, (error, stdout, stderr) => {
      if (error === null) resolve(stdout);
      else reject(new Error(`tsray ${args.join(' ')} failed: ${stderr.trim() || error.message}`));
    });
  });
}

/**
 * Runs `measure` as a driver of a new head started for it (a head's 512 MiB store holds one 256 MiB
 * object at a time, and a freed one can stay pinned by the view a task read it through until that
 * worker collects garbage, so each sample gets a store of its own); `mapped` false starts the head
 * with TSRAY_SHM_STORE_BYTES=0.
 */
async function onNewHead(mapped: boolean, measure: () => Promise<number>): Promise<number> {
  const root = mkdtempSync(join(tmpdir(), `tsray-bench-driver-${mapped ? 'mapped' : 'tcp'}-`));
  const env = mapped ? { TSRAY_SHM_STORE_BYTES: String(1536 * 1024 * 1024) } : { TSRAY_SHM_STORE_BYTES: '0' };
  const previousToken = process.env['TSRAY_TOKEN'];
  try {
    await tsrayCli(['start', '--head', '--port', '0', '--num-cpus', '1'], root, env);
    const head = JSON.parse(readFileSync(join(root, 'cluster', 'address.json'), 'utf8')) as { address: string; token: string };
    process.env['TSRAY_TOKEN'] = head.token;
    await tsray.init({ address: head.address });
    try {
      return await measure();
    } finally {
      await tsray.shutdown();
    }
  } finally {
    if (previousToken === undefined) delete process.env['TSRAY_TOKEN'];
    else process.env['TSRAY_TOKEN'] = previousToken;
    await tsrayCli(['stop'], root, {}).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  }
}

/** Measures one way (`mapped` or `tcp`) into `recorder`. */
async function benchWay(recorder: Recorder, scale: BenchScale, way: 'mapped' | 'tcp'): Promise<void> {
  const mapped = way === 'mapped';
  const how = mapped ? 'through /dev/shm' : 'over TCP';
  for (const mib of sizesMiB) {
    const length = (mib * 1024 * 1024) / 8;
    const bytes = length * 8;
    const array = new Float64Array(length).fill(2.5);
    await recorder.repeat(`driver.put.${way}.${mib}`, `driver put of a ${mib} MiB Float64Array, ${how}`, 'GB/s', scale.repeats, () =>
      onNewHead(mapped, async () => {
        const read = tsray.remote((array: Float64Array) => array.length);
        // A first small task, so that the timed one finds its worker started.
        await tsray.get(read.remote(new Float64Array(1)));
        const startedMs = performance.now();
        const seen = await tsray.get(read.remote(tsray.put(array)));
        const elapsedMs = performance.now() - startedMs;
        if (seen !== length) throw new Error(`the task read ${seen} elements where ${length} were put`);
        return bytes / 1e9 / (elapsedMs / 1000);
      }),
    );
    await recorder.repeat(`driver.get.${way}.${mib}`, `driver get of a ${mib} MiB Float64Array, ${how}`, 'GB/s', scale.repeats, () =>
      onNewHead(mapped, async () => {
        const make = tsray.remote((length: number) => new Float64Array(length).fill(1.5));
        const ref = make.remote(length);
        await tsray.wait([ref]);
        const startedMs = performance.now();
        const value = await tsray.get(ref);
        const elapsedMs = performance.now() - startedMs;
        if (value.length !== length || value[length - 1] !== 1.5) throw new Error(`the get brought ${value.length} elements, not ${length} of 1.5`);
        return bytes / 1e9 / (elapsedMs / 1000);
      }),
    );
  }
}

/** Measures a driver's puts and gets through the shared mapping and over TCP into `recorder`. */
export async function benchDriverObjects(recorder: Recorder, scale: BenchScale): Promise<void> {
  await benchWay(recorder, scale, 'tcp');
  await benchWay(recorder, scale, 'mapped');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const scale = scaleFor(process.argv.includes('--quick'));
  const recorder = new Recorder();
  if (globalThis.gc === undefined) console.log("(run with node --expose-gc, so that each repeat's object is freed before the next)");
  section("a driver's large puts and gets on its head's host: /dev/shm against TCP");
  await benchDriverObjects(recorder, scale);
  const figure = (id: string): number => median(recorder.figures.find((found) => found.id === id)?.samples ?? []);
  for (const mib of sizesMiB) {
    for (const kind of ['put', 'get']) {
      const mapped = figure(`driver.${kind}.mapped.${mib}`);
      const tcp = figure(`driver.${kind}.tcp.${mib}`);
      console.log(`${kind} ${mib} MiB: ${mapped.toFixed(2)} GB/s through /dev/shm against ${tcp.toFixed(2)} GB/s over TCP: ${(mapped / tcp).toFixed(1)}×`);
    }
  }
}
