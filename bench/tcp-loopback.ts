/**
 * Throughput of one 256 MiB transfer over TCP loopback: raw sockets (the ceiling), against the
 * cluster transport carrying the same bytes as `object/fetched` messages in 8 MiB (and 1 MiB) chunks,
 * honouring its backpressure. The baseline for issue 11's P9 (object transfer between nodes).
 * Run: `npm run build && node dist/bench/tcp-loopback.js`.
 */
import { createServer, connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { generateClusterToken, TransportClient, TransportServer } from '../node/transport/index.js';
import type { RoutedMessage } from '../node/transport/index.js';

const totalBytes = 256 * 1024 * 1024;
const runs = 3;

/**
 * Raw TCP: one socket, 1 MiB writes from `payload` (following 'drain'), until the reader has every
 * byte; returns the elapsed ms. Also the TCP baseline of `npm run bench`.
 */
export async function rawLoopback(payload: Buffer, totalBytes = payload.byteLength): Promise<number> {
  let received = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const server = createServer((socket) => {
    socket.on('data', (chunk: Buffer) => {
      received += chunk.byteLength;
      if (received >= totalBytes) done();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const socket = connect({ host: '127.0.0.1', port, noDelay: true });
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  const startedMs = performance.now();
  const stepBytes = 1024 * 1024;
  for (let at = 0; at < totalBytes; at += stepBytes) {
    if (!socket.write(payload.subarray(at, at + stepBytes))) await new Promise((resolve) => socket.once('drain', resolve));
  }
  await finished;
  const elapsedMs = performance.now() - startedMs;
  socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return elapsedMs;
}

/** The transport: `object/fetched` messages of `chunkBytes` each, sent as fast as backpressure allows. */
async function transportLoopback(payload: Buffer, chunkBytes: number): Promise<number> {
  const token = generateClusterToken();
  let received = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const server = await TransportServer.listen({
    token,
    identity: { nodeId: 'n1', role: 'raylet' },
    onMessages: (messages) => {
      for (const message of messages) if (message.type === 'object/fetched') received += (message.data as Uint8Array).byteLength;
      if (received >= totalBytes) done();
    },
  });
  const client = await TransportClient.connect({ host: '127.0.0.1', port: server.address.port, token, identity: { nodeId: 'n2', role: 'raylet' }, onMessages: () => undefined });
  const startedMs = performance.now();
  for (let at = 0, seq = 0; at < totalBytes; at += chunkBytes, seq += 1) {
    const message: RoutedMessage = {
      type: 'object/fetched',
      objectId: `n2.d1.p1#${seq}`,
      data: payload.subarray(at, at + chunkBytes),
      sizeBytes: chunkBytes,
      refs: [],
      via: { from: 'raylet:n2', incarnation: 0, seq },
      to: 'raylet:n1',
    };
    if (!client.send([message])) await client.whenWritable();
  }
  await finished;
  const elapsedMs = performance.now() - startedMs;
  await client.close();
  await server.close();
  return elapsedMs;
}

function report(label: string, times: number[]): number {
  const best = Math.min(...times);
  const mbPerS = totalBytes / 1024 / 1024 / (best / 1000);
  console.log(`${label.padEnd(36)} best ${best.toFixed(0).padStart(5)} ms  ${mbPerS.toFixed(0).padStart(5)} MiB/s   (runs: ${times.map((t) => t.toFixed(0)).join(', ')} ms)`);
  return mbPerS;
}

async function main(): Promise<void> {
  const payload = Buffer.alloc(totalBytes);
  for (let i = 0; i < totalBytes; i += 4096) payload[i] = i & 0xff;
  console.log(`TCP loopback, one 256 MiB transfer, best of ${runs}:`);
  const raw: number[] = [];
  const chunked8: number[] = [];
  const chunked1: number[] = [];
  for (let run = 0; run < runs; run += 1) {
    raw.push(await rawLoopback(payload));
    chunked8.push(await transportLoopback(payload, 8 * 1024 * 1024));
    chunked1.push(await transportLoopback(payload, 1024 * 1024));
  }
  const rawRate = report('raw TCP (1 MiB writes)', raw);
  const rate8 = report('transport, 8 MiB object/fetched', chunked8);
  const rate1 = report('transport, 1 MiB object/fetched', chunked1);
  console.log(`transport / raw: ${((rate8 / rawRate) * 100).toFixed(0)}% with 8 MiB chunks, ${((rate1 / rawRate) * 100).toFixed(0)}% with 1 MiB chunks`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
