/**
 * Owner events that core tests build often, written once: a driver starting, and the submission of
 * a tiny task (one inline argument, one return, one CPU).
 */
import type { OwnerEvent } from '../../core/owner/index.js';
import { defaultOwnerConfig } from '../../core/owner/index.js';

/** The driver `n1.d1` on node `n1` starting. */
export const driverStarted: OwnerEvent = { type: 'owner/started', workerId: 'n1.d1', nodeId: 'n1', isDriver: true, namespace: 'default', config: defaultOwnerConfig };

/** A tiny task submitted by the driver: `add` with one inline argument. */
export const tinySubmission: OwnerEvent = {
  type: 'task/submitted',
  functionId: 'add',
  name: 'add',
  args: [{ kind: 'value', payload: { kind: 'inline', data: 1, refs: [], sizeBytes: 1 } }],
  numReturns: 1,
  maxRetries: 3,
  retryExceptions: false,
  resources: { CPU: 1 },
  strategy: 'DEFAULT',
};
