/**
 * P9: a 256 MiB object between two nodes on loopback. A head and a second node are started with the
 * CLI (real processes, 127.0.0.1), this process connects to them as a driver, and each repeat makes a
 * 256 MiB Uint8Array in a task on the head, waits until it is in the head's store, then times a task
 * on the second node that takes it as its argument: the second node pulls it in chunks into its own
 * store (node-objects.ts) and the task reads it in place. The time includes that task's scheduling,
 * which is small next to moving 256 MiB. The object is freed between repeats (which also frees the
 * second node's copy). Raw TCP loopback (tcp-loopback.ts) is the baseline. A second figure moves the
 * object between two nodes that are not the head, which pull from each other over a direct link
 * (node/cluster/peer-links.ts) rather than through the head. On a shared machine raw TCP measured
 * minutes apart says little of the load a transfer ran under, so each repeat also times raw TCP just
 * before it, and the ratios of those pairs are recorded too (`p9.paired`, `p9.direct.paired`), as
 * is the CPU time every node process spent on each transfer, against raw TCP's (both ends of it in
 * this process): CPU per byte moved is what load on the machine changes least (`*.cpu`, on Linux).
 *
 * Part of `npm run bench`; alone: `npm run build && node --expose-gc dist/bench/object-transfer.js`.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as tsray from '../node/index.js';
import { median, Recorder, scaleFor, section } from './harness.js';
import type { BenchScale } from './harness.js';
import { rawLoopback } from './tcp-loopback.js';

/** The object's size, as issue 11's P9 names it. */
const objectBytes = 256 * 1024 * 1024;

const cli = fileURLToPath(new URL('../node/cli/main.js', import.meta.url));

/** Runs the CLI with this bench's sessions root; rejects with its stderr when it fails. */
function tsrayCli(args: string[], root: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, TSRAY_SESSIONS_ROOT: root, TSRAY_ADDRESS: '', TSRAY_TOKEN: '' } }, (error, stdout, stderr) => {
      if (error === null) resolve(stdout);
      else reject(new Error(`tsray ${args.join(' ')} failed: ${stderr.trim() || error.message}`));
    });
  });
}

/** The CPU time (user and system, ms) the processes `pids` have used so far, from /proc (0 where it cannot be read). */
function cpuMsOf(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      // The fields after the command's closing parenthesis; utime and stime are the 12th and 13th of them.
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      ticks += Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
    } catch {
      // Not Linux, or the process is gone.
    }
  }
  // Clock ticks are 1/100 s on Linux.
  return ticks * 10;
}

/** Gives the released object time to be freed on both nodes. */
async function releaseBetweenRepeats(): Promise<void> {
  for (let round = 0; round < 3; round += 1) {
    globalThis.gc?.();
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

/** Measures P9 into `recorder` (`p9.tsray`, GB/s). */
export async function benchObjectTransfer(recorder: Recorder, scale: BenchScale): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'tsray-bench-p9-'));
  const clusterDir = join(root, 'cluster');
  try {
    await tsrayCli(['start', '--head', '--port', '0', '--num-cpus', '1'], root);
    const head = JSON.parse(readFileSync(join(clusterDir, 'address.json'), 'utf8')) as { address: string; token: string; nodeId: string };
    const joined = await tsrayCli(['start', '--address', head.address, '--token', head.token, '--num-cpus', '1'], root);
    const other = /node (n[0-9a-f]+) joined/.exec(joined)?.[1];
    if (other === undefined) throw new Error(`the second node did not say its id: ${joined}`);
    const joinedThird = await tsrayCli(['start', '--address', head.address, '--token', head.token, '--num-cpus', '1'], root);
    const third = /node (n[0-9a-f]+) joined/.exec(joinedThird)?.[1];
    if (third === undefined) throw new Error(`the third node did not say its id: ${joinedThird}`);
    const previousToken = process.env['TSRAY_TOKEN'];
    process.env['TSRAY_TOKEN'] = head.token;
    await tsray.init({ address: head.address });
    try {
      const make = tsray.remote((bytes: number) => {
        const array = new Uint8Array(bytes);
        array[bytes - 1] = 7;
        return array;
      });
      const read = tsray.remote((array: Uint8Array) => array.length + (array[array.length - 1] ?? 0));
      const on = (nodeId: string) => ({ schedulingStrategy: { nodeId, soft: false } }) as const;
      const payload = Buffer.alloc(objectBytes);
      const paired: Record<string, number[]> = { 'p9.paired': [], 'p9.direct.paired': [], 'raw.tcp.cpu': [], 'p9.cpu': [], 'p9.direct.cpu': [] };
      const nodePids = readdirSync(join(clusterDir, 'nodes'))
        .filter((name) => name.endsWith('.json'))
        .map((name) => Number(name.slice(0, -5)));
      /** One repeat: the object made on `maker`, timed while a task on `reader` takes it; GB/s. Its ratio to raw TCP timed just before goes to `paired[pairId]`. */
      const transfer = async (maker: string, reader: string, pairId: string): Promise<number> => {
        const rawCpu = process.cpuUsage();
        const rawGbPerS = objectBytes / 1e9 / ((await rawLoopback(payload)) / 1000);
        const rawCpuUsage = process.cpuUsage(rawCpu);
        paired['raw.tcp.cpu']?.push((rawCpuUsage.user + rawCpuUsage.system) / 1000);
        let ref: tsray.ObjectRef<Uint8Array> | undefined = make.options(on(maker)).remote(objectBytes);
        await tsray.wait([ref]);
        const cpuBeforeMs = cpuMsOf(nodePids);
        const startedMs = performance.now();
        const length = await tsray.get(read.options(on(reader)).remote(ref));
        const elapsedMs = performance.now() - startedMs;
        paired[pairId === 'p9.paired' ? 'p9.cpu' : 'p9.direct.cpu']?.push(cpuMsOf(nodePids) - cpuBeforeMs);
        if (length !== objectBytes + 7) throw new Error(`the task on node ${reader} read ${String(length)} where ${objectBytes + 7} was expected`);
        ref = undefined;
        await releaseBetweenRepeats();
        const gbPerS = objectBytes / 1e9 / (elapsedMs / 1000);
        paired[pairId]?.push(gbPerS / rawGbPerS);
        return gbPerS;
      };
      await recorder.repeat('p9.tsray', 'P9 tsray: a 256 MiB object from one node to another (loopback)', 'GB/s', scale.repeats, () => transfer(head.nodeId, other, 'p9.paired'));
      await recorder.repeat('p9.direct', 'P9 tsray: the same between two nodes that are not the head (direct link)', 'GB/s', scale.repeats, () => transfer(other, third, 'p9.direct.paired'));
      recorder.add('p9.paired', 'P9 tsray against raw TCP timed just before each repeat', '×', paired['p9.paired'] ?? []);
      recorder.add('p9.direct.paired', 'P9 between non-head nodes against raw TCP timed just before each repeat', '×', paired['p9.direct.paired'] ?? []);
      recorder.add('raw.tcp.cpu', 'raw: CPU time of one 256 MiB TCP loopback transfer, both ends', 'ms', paired['raw.tcp.cpu'] ?? []);
      recorder.add('p9.cpu', 'P9 tsray: CPU time of every node process for one transfer', 'ms', paired['p9.cpu'] ?? []);
      recorder.add('p9.direct.cpu', 'P9 tsray between non-head nodes: CPU time of every node process for one transfer', 'ms', paired['p9.direct.cpu'] ?? []);
      // What the reading nodes say the pulls themselves took (their node.log), apart from scheduling.
      for (const reader of [other, third]) {
        const record = readdirSync(join(clusterDir, 'nodes'))
          .map((name) => JSON.parse(readFileSync(join(clusterDir, 'nodes', name), 'utf8')) as { nodeId: string; sessionDir: string })
          .find((node) => node.nodeId === reader);
        const pulls = record === undefined ? [] : readFileSync(join(record.sessionDir, 'node.log'), 'utf8').split('\n').filter((line) => line.includes(' copied object '));
        for (const line of pulls) console.log(`  ${line.replace(/^tsray: /, '')}`);
      }
    } finally {
      await tsray.shutdown();
      if (previousToken === undefined) delete process.env['TSRAY_TOKEN'];
      else process.env['TSRAY_TOKEN'] = previousToken;
    }
  } catch (error) {
    recorder.fail('p9.tsray', 'P9 tsray: a 256 MiB object from one node to another (loopback)', 'GB/s', error instanceof Error ? error : new Error(String(error)));
  } finally {
    await tsrayCli(['stop'], root).catch(() => undefined);
    stopRecordedNodes(clusterDir);
    rmSync(root, { recursive: true, force: true });
  }
}

/** Kills whatever node process `tsray stop` left (a failed start, say), by the pids the root recorded. */
function stopRecordedNodes(clusterDir: string): void {
  let names: string[] = [];
  try {
    names = readdirSync(join(clusterDir, 'nodes'));
  } catch {
    return;
  }
  for (const name of names.filter((entry) => entry.endsWith('.json'))) {
    try {
      process.kill(Number(name.slice(0, -5)), 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const scale = scaleFor(process.argv.includes('--quick'));
  const recorder = new Recorder();
  if (globalThis.gc === undefined) console.log('(run with node --expose-gc, so that each repeat\'s object is freed before the next)');
  section('P9: a 256 MiB object between two nodes, against raw TCP loopback');
  const payload = Buffer.alloc(objectBytes);
  await recorder.repeat('raw.tcp', 'raw: TCP loopback, 256 MiB in 1 MiB writes', 'GB/s', scale.repeats, async () => objectBytes / 1e9 / ((await rawLoopback(payload)) / 1000));
  await benchObjectTransfer(recorder, scale);
  const figure = (id: string): number => median(recorder.figures.find((found) => found.id === id)?.samples ?? []);
  console.log(`P9: ${figure('p9.tsray').toFixed(2)} GB/s against raw TCP ${figure('raw.tcp').toFixed(2)} GB/s: ${(figure('p9.tsray') / figure('raw.tcp')).toFixed(2)}× (target ≥ 0.5×)`);
  console.log(`P9 between two nodes that are not the head: ${figure('p9.direct').toFixed(2)} GB/s: ${(figure('p9.direct') / figure('raw.tcp')).toFixed(2)}× raw TCP`);
  const pairs = (id: string): string => (recorder.figures.find((found) => found.id === id)?.samples ?? []).map((ratio) => ratio.toFixed(2)).join(' ');
  console.log(`CPU per 256 MiB: raw TCP ${figure('raw.tcp.cpu').toFixed(0)} ms, P9 ${figure('p9.cpu').toFixed(0)} ms (${(figure('raw.tcp.cpu') / figure('p9.cpu')).toFixed(2)}× raw's efficiency), between non-head nodes ${figure('p9.direct.cpu').toFixed(0)} ms (${(figure('raw.tcp.cpu') / figure('p9.direct.cpu')).toFixed(2)}×)`);
  console.log(`paired with raw TCP just before each repeat: P9 ${figure('p9.paired').toFixed(2)}× (${pairs('p9.paired')}); between non-head nodes ${figure('p9.direct.paired').toFixed(2)}× (${pairs('p9.direct.paired')})`);
}
