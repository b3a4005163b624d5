/**
 * Handlers of the actor messages: registration (with names), lookup, subscription, kill, and the
 * worker's reply to a creation push.
 */
import { send } from '../effects.js';
import type { ActorId, WorkerId } from '../ids.js';
import { creatorOfActor, rayletAddress, workerAddress } from '../ids.js';
import type { ActorSpec, MessageOf } from '../protocol.js';
import type { ErrorInfo } from '../values.js';
import { actorStateMessage, destroyActor, isJobFinished, isWorkerDead, outOfScopeCause, publishActor, scheduleActor } from './actors.js';
import { cloneData } from './clone.js';
import type { GcsEffect } from './events.js';
import { actorDisposeTimerPrefix } from './events.js';
import type { ActorRecord, GcsState, RegistrationRedirect } from './state.js';
import { defaultActorDisposeTimeoutMs, maxDeadActors, maxEarlySubscribedActors, maxRememberedRedirects, nameKey } from './state.js';
import { keepRedirect, redirectOf, releaseHeldRedirect, rememberRedirect } from './redirects.js';
import { transitionActor } from './transition.js';

/** Sends the registration reply for `requestedActorId`, redirected or refused when `redirect` says so. */
function replyRegistration(owner: WorkerId, requestedActorId: ActorId, redirect: RegistrationRedirect | undefined, effects: GcsEffect[]): void {
  effects.push(
    send(workerAddress(owner), {
      type: 'actor/registration-replied',
      requestedActorId,
      actorId: redirect?.actorId ?? requestedActorId,
      ...(redirect?.error !== undefined ? { error: redirect.error } : {}),
    }),
  );
}

/** The processes that subscribed to `actorId` before its registration arrived, no longer kept. */
function takeEarlySubscribers(state: GcsState, actorId: ActorId): WorkerId[] {
  const early = state.earlySubscribers[actorId] ?? [];
  delete state.earlySubscribers[actorId];
  return early;
}

/** The live actor holding the name `spec` asks for, if any. */
function nameHolder(state: GcsState, spec: ActorSpec): ActorRecord | undefined {
  if (spec.name === undefined) return undefined;
  const holderId = state.names[nameKey(spec.namespace, spec.name)];
  const holder = holderId === undefined ? undefined : state.actors[holderId];
  return holder !== undefined && holder.state !== 'DEAD' ? holder : undefined;
}

/**
 * Registers an actor, once per actor id: a repeat gets the same reply. A taken name refuses it (or,
 * with getIfExists, points at the holder); an actor whose owner or job is already gone is born DEAD.
 */
export function onActorRegistrationRequested(state: GcsState, spec: ActorSpec, effects: GcsEffect[]): void {
  const requestedActorId = spec.actorId;
  if (state.actors[requestedActorId] !== undefined) {
    replyRegistration(spec.owner, requestedActorId, undefined, effects);
    return;
  }
  const remembered = redirectOf(state, requestedActorId);
  if (remembered !== undefined) {
    replyRegistration(spec.owner, requestedActorId, remembered, effects);
    return;
  }
  const holder = nameHolder(state, spec);
  if (holder !== undefined) {
    const redirect = keepRedirect(
      state,
      spec,
      spec.getIfExists
        ? { actorId: holder.actorId }
        : { error: `actor name '${spec.name ?? ''}' is already taken in namespace '${spec.namespace}'; pass getIfExists: true to use the existing actor, or choose another name` },
    );
    replyRegistration(spec.owner, requestedActorId, redirect, effects);
    // Processes that got the handle before this registration arrived learn the same answer; they
    // would otherwise wait for an actor that is never registered under this id.
    for (const subscriber of takeEarlySubscribers(state, requestedActorId)) {
      if (subscriber !== spec.owner) replyRegistration(subscriber, requestedActorId, redirect, effects);
    }
    return;
  }
  const early = takeEarlySubscribers(state, requestedActorId);
  const actor: ActorRecord = {
    actorId: requestedActorId,
    spec: cloneData(spec),
    state: 'PENDING',
    numRestarts: 0,
    restartCount: 0,
    subscribers: early.filter((workerId) => workerId !== spec.owner),
  };
  state.actors[requestedActorId] = actor;
  replyRegistration(spec.owner, requestedActorId, undefined, effects);
  // Read it back so that, under immer, the rest of the step mutates the state's own copy.
  const registered = state.actors[requestedActorId];
  if (registered === undefined) return;
  if (!spec.detached && isWorkerDead(state, spec.owner)) {
    destroyActor(state, registered, 'owner died', { kind: 'none' }, effects);
    return;
  }
  if (!spec.detached && isJobFinished(state, spec.jobId)) {
    destroyActor(state, registered, 'job finished', { kind: 'none' }, effects);
    return;
  }
  if (spec.name !== undefined) state.names[nameKey(spec.namespace, spec.name)] = requestedActorId;
  publishActor(registered, effects);
  scheduleActor(state, registered, effects);
}

/** Answers a lookup by name with the live actor holding it, or with nothing. */
export function onActorLookupRequested(state: GcsState, message: MessageOf<'actor/lookup-requested'>, effects: GcsEffect[]): void {
  const actorId = state.names[nameKey(message.namespace, message.name)];
  const actor = actorId === undefined ? undefined : state.actors[actorId];
  const found = actor !== undefined && actor.state !== 'DEAD';
  effects.push(
    send(workerAddress(message.requester), {
      type: 'actor/lookup-replied',
      requestId: message.requestId,
      ...(found ? { actorId: actor.actorId, spec: cloneData(actor.spec) } : {}),
    }),
  );
}

/**
 * The error of a handle to an actor the GCS no longer knows, which `why` explains: it keeps only the
 * latest dead actors and getIfExists answers, as Ray's GCS caps the destroyed actors it keeps.
 */
function forgottenActorError(actorId: ActorId, why: string): string {
  return `actor ${actorId} is not known to the GCS: ${why} (the GCS keeps only the latest ${maxDeadActors} dead actors, maxDeadActors, and ${maxRememberedRedirects} getIfExists answers, maxRememberedRedirects)`;
}

/** Why an actor whose creator died is not known: it was never registered, or was forgotten since. */
function creatorDiedError(actorId: ActorId, creator: WorkerId): string {
  return forgottenActorError(actorId, `its creator ${creator} died before registering it, or it ended and the GCS forgot it`);
}

/**
 * The owner of an actor the GCS does not know answered that no registration of it is on its way: the
 * processes waiting for that registration hear what the owner knows (the actor a getIfExists creation
 * stands for, which is remembered again) or that the actor is gone. A registration that arrived
 * meanwhile answered them already.
 */
export function onActorStatusReplied(state: GcsState, message: MessageOf<'actor/status-replied'>, effects: GcsEffect[]): void {
  const { actorId, aliasOf, deathCause } = message;
  if (state.actors[actorId] !== undefined || redirectOf(state, actorId) !== undefined) return;
  const redirect: RegistrationRedirect =
    aliasOf !== undefined ? { actorId: aliasOf } : { error: forgottenActorError(actorId, deathCause === undefined ? 'it ended, and neither the GCS nor its owner remembers it' : `it died (${deathCause}), and the GCS forgot it`) };
  if (aliasOf !== undefined) rememberRedirect(state, actorId, redirect);
  for (const subscriber of takeEarlySubscribers(state, actorId)) replyRegistration(subscriber, actorId, redirect, effects);
}

/**
 * `workerId` died: the processes waiting for the registration of an actor it created hear that none
 * will come. A registration it sent before it died is taken to have arrived first: live, the report
 * of its death follows what it sent on the same link (its node's, or a driver's own connection).
 */
export function answerEarlySubscribersOf(state: GcsState, workerId: WorkerId, effects: GcsEffect[]): void {
  for (const actorId of Object.keys(state.earlySubscribers)) {
    if (creatorOfActor(actorId) !== workerId) continue;
    const redirect: RegistrationRedirect = { error: creatorDiedError(actorId, workerId) };
    for (const subscriber of takeEarlySubscribers(state, actorId)) replyRegistration(subscriber, actorId, redirect, effects);
  }
}

/**
 * Adds a subscriber to the actor's state changes and sends it the current state. When the list is
 * full, subscribers known dead make room; if none are, the newcomer only gets the current state.
 */
export function onActorSubscribed(state: GcsState, actorId: ActorId, subscriber: WorkerId, effects: GcsEffect[]): void {
  const actor = state.actors[actorId];
  if (actor === undefined) {
    // A getIfExists handle whose creation found the actor already there, passed to another process:
    // that process learns, as the creating one did, which actor the handle stands for (or why none).
    // Without this its calls waited for an actor that is never registered under that id.
    const redirect = redirectOf(state, actorId);
    if (redirect !== undefined) {
      replyRegistration(subscriber, actorId, redirect, effects);
      return;
    }
    // Its creator is gone: no registration of it can come any more.
    const owner = creatorOfActor(actorId);
    if (owner !== undefined && isWorkerDead(state, owner)) {
      replyRegistration(subscriber, actorId, { error: creatorDiedError(actorId, owner) }, effects);
      return;
    }
    // Its registration may still be on the way, and the subscriber hears from the GCS once it
    // arrives; or the GCS forgot the actor (a dead one, or a getIfExists answer, past its bounds),
    // and only the owner can tell which: it is asked once, when the first subscriber comes.
    // Past either bound the subscriber is told so: dropped, it would wait for an answer that never comes.
    const early = state.earlySubscribers[actorId];
    if (early === undefined) {
      if (Object.keys(state.earlySubscribers).length >= maxEarlySubscribedActors) {
        replyRegistration(subscriber, actorId, { error: `the GCS already waits for the registrations of ${maxEarlySubscribedActors} actors that processes subscribed to (maxEarlySubscribedActors); actor ${actorId} is not known to it yet` }, effects);
        return;
      }
      state.earlySubscribers[actorId] = [subscriber];
      if (owner !== undefined) effects.push(send(workerAddress(owner), { type: 'actor/status-requested', actorId }));
    } else if (!early.includes(subscriber)) {
      if (early.length >= state.config.maxSubscribersPerActor) {
        replyRegistration(subscriber, actorId, { error: `${state.config.maxSubscribersPerActor} processes already wait for the registration of actor ${actorId} (maxSubscribersPerActor)` }, effects);
        return;
      }
      early.push(subscriber);
    }
    return;
  }
  if (actor.state !== 'DEAD' && subscriber !== actor.spec.owner && !actor.subscribers.includes(subscriber)) {
    if (actor.subscribers.length >= state.config.maxSubscribersPerActor) {
      actor.subscribers = actor.subscribers.filter((workerId) => !isWorkerDead(state, workerId));
    }
    if (actor.subscribers.length < state.config.maxSubscribersPerActor) actor.subscribers.push(subscriber);
  }
  effects.push(send(workerAddress(subscriber), actorStateMessage(actor)));
}

/**
 * `tsray.kill`. With noRestart the actor dies at once, as Ray's GCS destroys it: its name is free for
 * the next registration (a driver's kill and its creation of a successor by the same name arrive in
 * that order), its worker is killed and its lease request cancelled. Without, an actor with a worker
 * has it killed and restarts from the failure that follows; one still waiting for a worker goes on
 * waiting.
 */
export function onActorKillRequested(state: GcsState, actorId: ActorId, noRestart: boolean, effects: GcsEffect[]): void {
  const actor = state.actors[actorId];
  if (actor === undefined || actor.state === 'DEAD') return;
  if (noRestart) {
    destroyActor(state, actor, 'killed via tsray.kill', { kind: 'kill', reason: 'killed' }, effects);
    return;
  }
  if (actor.workerId !== undefined && actor.nodeId !== undefined) {
    effects.push(send(rayletAddress(actor.nodeId), { type: 'worker/kill-requested', workerId: actor.workerId, reason: 'killed' }));
  }
}

/** The message of a constructor's error, preferring what the user's code threw. */
function constructorErrorMessage(error: ErrorInfo): string {
  return error.cause?.message ?? error.message;
}

/**
 * The worker ran the constructor for the current incarnation: the actor is ALIVE, or, when the
 * constructor threw, DEAD for good and its worker is handed back to be dropped.
 */
export function onActorCreationReplied(state: GcsState, message: MessageOf<'actor/creation-replied'>, effects: GcsEffect[]): void {
  const actor = state.actors[message.actorId];
  if (actor === undefined || (actor.state !== 'PENDING' && actor.state !== 'RESTARTING')) return;
  if (actor.restartCount !== message.restartCount || actor.workerId !== message.workerId) return;
  if (message.error !== undefined) {
    destroyActor(state, actor, `constructor threw: ${constructorErrorMessage(message.error)}`, { kind: 'return' }, effects, message.error.cause);
    return;
  }
  transitionActor(actor, 'ALIVE');
  publishActor(actor, effects);
}

/** The bound on an actor's dispose method in force. */
function disposeTimeoutMs(state: GcsState): number {
  return state.config.actorDisposeTimeoutMs ?? defaultActorDisposeTimeoutMs;
}

/** Arms the timer that ends the actor even if its dispose method never finishes. */
export function armDisposeTimer(state: GcsState, actorId: ActorId, effects: GcsEffect[]): void {
  effects.push({ type: 'timer/armed', timerId: `${actorDisposeTimerPrefix}${actorId}`, delayMs: disposeTimeoutMs(state) });
}

/**
 * No handle to a non-detached actor is reachable any more (Ray's rule). An ALIVE actor's worker is
 * asked to run the instance's dispose method first, bounded by a timer; an actor still waiting for a
 * worker, or still constructing, ends at once. Detached actors live until killed.
 */
export function onActorOutOfScope(state: GcsState, actorId: ActorId, effects: GcsEffect[]): void {
  const actor = state.actors[actorId];
  if (actor === undefined) {
    // A creation that was redirected or refused: no counted handle of it is left to ask about it.
    releaseHeldRedirect(state, actorId);
    return;
  }
  if (actor.state === 'DEAD' || actor.spec.detached || actor.disposing === true) return;
  if (actor.state === 'ALIVE' && actor.workerId !== undefined) {
    actor.disposing = true;
    effects.push(send(workerAddress(actor.workerId), { type: 'actor/dispose-requested', actorId, restartCount: actor.restartCount }));
    armDisposeTimer(state, actorId, effects);
    return;
  }
  destroyActor(state, actor, outOfScopeCause, actor.workerId === undefined ? { kind: 'none' } : { kind: 'kill', reason: 'killed' }, effects);
}

/** The worker ran the dispose method: the actor ends, and its worker is handed back to be ended. */
export function onActorDisposed(state: GcsState, message: MessageOf<'actor/disposed'>, effects: GcsEffect[]): void {
  const actor = state.actors[message.actorId];
  if (actor === undefined || actor.disposing !== true || actor.state !== 'ALIVE') return;
  if (actor.restartCount !== message.restartCount || actor.workerId !== message.workerId) return;
  destroyActor(state, actor, outOfScopeCause, { kind: 'return' }, effects);
}

/** The dispose method did not finish in time: the actor ends anyway, its worker killed. */
export function onActorDisposeTimer(state: GcsState, actorId: ActorId, effects: GcsEffect[]): void {
  const actor = state.actors[actorId];
  if (actor === undefined || actor.disposing !== true || actor.state === 'DEAD') return;
  const cause = `${outOfScopeCause} (its dispose method did not finish within actorDisposeTimeoutMs, ${disposeTimeoutMs(state)} ms)`;
  destroyActor(state, actor, cause, actor.workerId === undefined ? { kind: 'none' } : { kind: 'kill', reason: 'killed' }, effects);
}
