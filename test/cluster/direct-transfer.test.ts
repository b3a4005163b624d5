/**
 * Objects between two nodes that are not the head move over a direct link between them
 * (node/cluster/peer-links.ts), not through the head: a head and two nodes started with the CLI on
 * 127.0.0.1, a 24 MiB array made on one node and checked word by word by a task on the other. The
 * reading node's log says it copied the object directly, and the head's log has no line saying it
 * relayed the object's chunks (it logs one for every object whose chunks pass through it).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { nodeRecord, printedLines, startTestCluster } from '../support/cluster.js';
import type { TestCluster } from '../support/cluster.js';
import { packageRoot, writeDriverScript } from '../support/driver-script.js';
import type { DriverScript } from '../support/driver-script.js';

const cli = join(packageRoot, 'dist/node/cli/main.js');

const script = `
import * as tsray from 'tsray';
await tsray.init();
const onMaker = { schedulingStrategy: { nodeId: process.env.MAKER, soft: false } };
const onReader = { schedulingStrategy: { nodeId: process.env.READER, soft: false } };
// 24 MiB: three chunks of the default 8 MiB, each word its own index.
const make = tsray.remote((n) => Uint32Array.from({ length: n }, (_, i) => (i * 2654435761) >>> 0));
const check = tsray.remote((array) => {
  let wrong = 0;
  for (let i = 0; i < array.length; i += 1) if (array[i] !== (i * 2654435761) >>> 0) wrong += 1;
  return [array.length, wrong];
});
const ref = make.options(onMaker).remote(6 * 1024 * 1024);
await tsray.wait([ref]);
console.log('OBJECT', ref.id);
console.log('CHECKED', JSON.stringify(await tsray.get(check.options(onReader).remote(ref))));
await tsray.shutdown();
`;

/** The node.log of a node of the cluster. */
function nodeLog(cluster: TestCluster, nodeId: string): string {
  return readFileSync(join(nodeRecord(join(cluster.root, 'cluster'), nodeId).sessionDir, 'node.log'), 'utf8');
}

void describe('an object between two nodes that are not the head', () => {
  let cluster: TestCluster;
  let written: DriverScript | undefined;

  before(async () => {
    cluster = await startTestCluster(cli, 'tsray-direct-', ['--num-cpus', '1'], [['--num-cpus', '1'], ['--num-cpus', '1']]);
  });

  afterEach((t) => cluster?.noteOutcome(t));

  after(() => {
    written?.remove();
    cluster?.stop();
  });

  void test('crosses over a direct link between them, whole, and none of its chunks pass through the head', async () => {
    const [maker = '', reader = ''] = cluster.nodeIds;
    written = writeDriverScript('cluster-direct-transfer', script);
    const run = await cluster.run([written.path], { TSRAY_ADDRESS: cluster.address, TSRAY_TOKEN: cluster.token, MAKER: maker, READER: reader });
    assert.equal(run.code, 0, run.stderr);
    const lines = printedLines(run.stdout);
    assert.equal(lines.get('CHECKED'), JSON.stringify([6 * 1024 * 1024, 0]));
    const objectId = lines.get('OBJECT') ?? '';
    assert.notEqual(objectId, '');
    const relayed = nodeLog(cluster, cluster.headNodeId)
      .split('\n')
      .filter((line) => line.includes(`relays object ${objectId} `));
    assert.deepEqual(relayed, [], 'the head relayed chunks of the object');
    const copies = nodeLog(cluster, reader)
      .split('\n')
      .filter((line) => line.includes(`copied object ${objectId} `));
    assert.equal(copies.length, 1, `the reading node copied the object ${copies.length} times`);
    assert.match(copies[0] ?? '', new RegExp(`from node ${maker} directly in \\d+ ms`));
  });
});
