/**
 * The head's GCS started from its log (issue 10 item 6): a resumed GCS replays its LMDB log to the
 * state the lost process had, runs under the next incarnation (so receivers take its messages as
 * new), still drops repeats of messages its log holds, and resumes with `gcs/restarted` as the
 * simulator's restart does. Each test works on a real log in a fresh folder.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { defaultGcsConfig, gcsCore } from '../../../../core/gcs/index.js';
import type { GcsEvent } from '../../../../core/gcs/index.js';
import { hashState } from '../../../../core/hash.js';
import type { Delivered, Message } from '../../../../core/protocol.js';
import { admit } from '../../../../core/inbox.js';
import type { Inbox } from '../../../../core/inbox.js';
import { openGcsShell, replayGcsLog } from '../../../../node/cluster/gcs-shell.js';
import type { OpenedGcs, ResentMessage } from '../../../../node/cluster/gcs-shell.js';
import { Router } from '../../../../node/runtime/router.js';
import { replayLog } from '../../../../node/runtime/shell.js';
import { EventLog, logDirFor } from '../../../../node/store/event-log.js';

const root = mkdtempSync(join(tmpdir(), 'tsray-gcs-shell-'));
let sessions = 0;
after(() => rmSync(root, { recursive: true, force: true }));

function freshSession(): string {
  sessions += 1;
  return join(root, `session-${sessions}`);
}

function openLog(sessionDir: string): EventLog {
  return EventLog.open(logDirFor(sessionDir, 'gcs'), { component: 'gcs', address: 'gcs', durable: true });
}

/** A router whose raylets and drivers record what the GCS sends them. */
function recordingRouter(): { router: Router; received: Delivered<Message>[] } {
  const router = new Router();
  const received: Delivered<Message>[] = [];
  for (const address of ['raylet:n1', 'raylet:n2', 'worker:n1.d1', 'worker:n2.d2']) router.addLocal(address, (message) => received.push(message));
  return { router, received };
}

/** Lets the GCS's commits land and its replies be delivered. */
async function settle(log: EventLog): Promise<void> {
  await log.flush();
  for (let turn = 0; turn < 3; turn += 1) await new Promise((resolve) => setImmediate(resolve));
}

const config = { ...defaultGcsConfig, healthCheckPeriodMs: 60_000 };

/** Two nodes register and two drivers get jobs, as a live cluster's would. */
function populate(gcs: OpenedGcs): void {
  const events: GcsEvent[] = [
    { type: 'node/registered', nodeId: 'n1', resources: { CPU: 2 }, via: { from: 'raylet:n1', incarnation: 0, seq: 0 } },
    { type: 'node/registered', nodeId: 'n2', resources: { CPU: 4, worker: 1 }, via: { from: 'raylet:n2', incarnation: 0, seq: 0 } },
    { type: 'job/registration-requested', driverId: 'n1.d1', namespace: 'default', via: { from: 'worker:n1.d1', incarnation: 0, seq: 0 } },
    { type: 'job/registration-requested', driverId: 'n2.d2', namespace: 'ns', via: { from: 'worker:n2.d2', incarnation: 0, seq: 0 } },
  ];
  for (const event of events) gcs.shell.apply(event);
}

void test('a resumed GCS replays its log to the state the lost one had, under the next incarnation', async () => {
  const sessionDir = freshSession();
  const first = recordingRouter();
  const log = openLog(sessionDir);
  const live = openGcsShell({ router: first.router, log, config, resume: false });
  assert.equal(live.restart, undefined);
  populate(live);
  await settle(log);
  const liveHash = hashState(live.shell.state);
  const loggedEvents = log.lastSeq;
  // The process dies: its shell stops, and only what its log committed is left.
  live.shell.stop();
  first.router.close();
  await log.close();

  const second = recordingRouter();
  const reopened = openLog(sessionDir);
  const resumed = openGcsShell({ router: second.router, log: reopened, config: { ...config, healthCheckPeriodMs: 5 }, resume: true });
  assert.equal(resumed.replayedEvents, loggedEvents);
  assert.equal(hashState(resumed.shell.state), liveHash);
  assert.deepEqual(Object.keys(resumed.shell.state.jobs).sort(), ['j1', 'j2']);
  // The log's configuration holds, not the one a resumed start was given.
  assert.equal(resumed.shell.state.config.healthCheckPeriodMs, 60_000);
  assert.deepEqual(resumed.restart, { type: 'gcs/restarted', incarnation: 1 });

  // A repeat of a message the log holds is still dropped; a new driver's job continues the numbering.
  resumed.shell.apply({ type: 'job/registration-requested', driverId: 'n1.d1', namespace: 'default', via: { from: 'worker:n1.d1', incarnation: 0, seq: 0 } });
  assert.equal(resumed.shell.state.jobCounter, 2);

  // gcs/restarted resumes: every alive raylet gets the cluster view again, from incarnation 1 with seqs from 0.
  assert.ok(resumed.restart !== undefined);
  resumed.shell.apply(resumed.restart);
  assert.equal(resumed.shell.state.incarnation, 1);
  await settle(reopened);
  const views = second.received.filter((message) => message.type === 'cluster/view-published');
  assert.deepEqual(views.map((message) => message.via).sort((a, b) => a.from.localeCompare(b.from)), [
    { from: 'gcs', incarnation: 1, seq: 0, cause: reopened.lastSeq },
    { from: 'gcs', incarnation: 1, seq: 0, cause: reopened.lastSeq },
  ]);
  assert.deepEqual(
    views.flatMap((message) => (message.type === 'cluster/view-published' ? message.nodes.map((node) => node.nodeId) : [])).sort(),
    ['n1', 'n1', 'n2', 'n2'],
  );
  resumed.shell.stop();
  second.router.close();
  await reopened.close();

  // A second restart replays the first one's gcs/restarted too, and goes one incarnation further.
  const third = recordingRouter();
  const again = openLog(sessionDir);
  const twice = openGcsShell({ router: third.router, log: again, config, resume: true });
  assert.deepEqual(twice.restart, { type: 'gcs/restarted', incarnation: 2 });
  assert.equal(twice.shell.state.incarnation, 1);
  twice.shell.stop();
  third.router.close();
  await again.close();
});

void test('resuming needs a log that started a cluster, and a fresh start needs an empty one', async () => {
  const empty = openLog(freshSession());
  const { router } = recordingRouter();
  assert.throws(() => openGcsShell({ router, log: empty, config, resume: true }), /holds no started cluster \(0 events\); start a new cluster instead/);
  const fresh = openGcsShell({ router, log: empty, config, resume: false });
  fresh.shell.stop();
  await empty.flush();
  assert.throws(() => openGcsShell({ router, log: empty, config, resume: false }), /already holds 1 events; a new cluster needs a new session dir/);
  router.close();
  await empty.close();
});

void test('a damaged record stops the replay, naming the log and the event', () => {
  const log = {
    address: 'gcs',
    *read() {
      yield { seq: 1, atMs: 0, event: { type: 'gcs/started', incarnation: 0, config } };
      yield { seq: 2, corrupt: 'not MessagePack' };
    },
  };
  assert.throws(() => replayLog(gcsCore, log), /^Error: the log of gcs is damaged at event 2 \(not MessagePack\); its state cannot be rebuilt from it$/);
});

void test('a resumed GCS sends again the messages of its last moments exactly as the lost process stamped them: a receiver takes only those it never got', async () => {
  const sessionDir = freshSession();
  const router = new Router();
  const received: ResentMessage[] = [];
  for (const address of ['raylet:n1', 'raylet:n2', 'worker:n1.d1', 'worker:n2.d2']) router.addLocal(address, (message) => received.push({ to: address, message }));
  const log = openLog(sessionDir);
  const live = openGcsShell({ router, log, config, resume: false });
  populate(live);
  await settle(log);
  live.shell.stop();
  router.close();
  await log.close();
  const key = ({ to, message }: ResentMessage): string => JSON.stringify([to, message]);
  assert.ok(received.some(({ message }) => message.type === 'job/registration-replied'));

  const second = recordingRouter();
  const reopened = openLog(sessionDir);
  const resumed = openGcsShell({ router: second.router, log: reopened, config, resume: true });
  assert.deepEqual(resumed.resend.map(key).sort(), received.map(key).sort(), 'the same messages to the same receivers, with the same envelopes');

  // Every receiver got everything but driver n1.d1 its job's reply (the process died between the commit and the send).
  const inboxes = new Map<string, Inbox>();
  const admitted = ({ to, message }: ResentMessage): boolean => {
    const inbox = inboxes.get(to) ?? {};
    inboxes.set(to, inbox);
    return admit(inbox, message.via);
  };
  const lost = ({ to, message }: ResentMessage): boolean => to === 'worker:n1.d1' && message.type === 'job/registration-replied';
  for (const sent of received) if (!lost(sent)) assert.equal(admitted(sent), true);
  const taken = resumed.resend.filter(admitted).map(({ to, message }) => `${to} ${message.type}`);
  assert.deepEqual(taken, ['worker:n1.d1 job/registration-replied'], 'only the lost reply is new to its receivers');
  resumed.shell.stop();
  second.router.close();
  await reopened.close();
});

void test('the messages sent again are those of the last incarnation, within the window, at most the newest maxMessages', () => {
  const job = (driverId: string, seq: number): GcsEvent => ({ type: 'job/registration-requested', driverId, namespace: 'default', via: { from: `worker:${driverId}`, incarnation: 0, seq } });
  const records = [
    { seq: 1, atMs: 0, event: { type: 'gcs/started', incarnation: 0, config } },
    { seq: 2, atMs: 0, event: job('a.d1', 0) },
    { seq: 3, atMs: 10_000, event: job('b.d1', 0) },
    { seq: 4, atMs: 11_000, event: { type: 'gcs/restarted', incarnation: 1 } },
    { seq: 5, atMs: 12_000, event: job('c.d1', 0) },
    { seq: 6, atMs: 12_500, event: job('a.d1', 1) },
  ];
  const log = { address: 'gcs', read: () => records };
  const replies = (windowMs: number, maxMessages?: number): string[] =>
    replayGcsLog(log, windowMs, maxMessages).resend.map(({ to, message }) => `${to} ${message.type === 'job/registration-replied' ? message.jobId : message.type} ${message.via.incarnation}/${message.via.seq}/${String(message.via.cause)}`);
  // What b's reply was sent under died with incarnation 0, whose own restart sent it again; numbering starts afresh at 1.
  assert.deepEqual(replies(3000), ['worker:c.d1 j3 1/0/5', 'worker:a.d1 j1 1/0/6']);
  assert.deepEqual(replies(100), ['worker:a.d1 j1 1/0/6']);
  assert.deepEqual(replies(3000, 1), ['worker:a.d1 j1 1/0/6']);
  assert.equal(replayGcsLog(log).events, records.length);
});
