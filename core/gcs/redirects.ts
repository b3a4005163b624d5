/**
 * The replies to registrations that created nothing: a getIfExists creation that found its name
 * taken (a redirect to the holder) or a creation refused for a taken name. Another process that got
 * such a handle asks the GCS by the handle's own id, maybe long after, so the reply is kept while
 * counted handles of the creation may exist: until its creator says none is left
 * (`actor/out-of-scope`) or dies. Then, and for detached creations (whose handles are never
 * counted), only the latest `maxRememberedRedirects` are remembered, the oldest forgotten first.
 */
import type { ActorId, WorkerId } from '../ids.js';
import type { ActorSpec } from '../protocol.js';
import { rememberBoundedValue } from '../remembered.js';
import { isWorkerDead } from './actors.js';
import type { GcsState, RegistrationRedirect } from './state.js';
import { maxHeldRedirects, maxRememberedRedirects } from './state.js';

/** The kept reply to the registration of `actorId`, if it created nothing. */
export function redirectOf(state: GcsState, actorId: ActorId): RegistrationRedirect | undefined {
  return state.heldRedirects[actorId]?.redirect ?? state.redirects[actorId];
}

/**
 * Keeps the reply to `spec`'s registration, which created nothing, and returns the reply to send.
 * Past `maxHeldRedirects` a getIfExists creation is refused with an error naming that limit: a
 * handle the GCS could not answer for later would leave its calls waiting for ever.
 */
export function keepRedirect(state: GcsState, spec: ActorSpec, redirect: RegistrationRedirect): RegistrationRedirect {
  if (spec.detached || isWorkerDead(state, spec.owner)) {
    rememberRedirect(state, spec.actorId, redirect);
    return redirect;
  }
  if (state.heldRedirectCount >= maxHeldRedirects) {
    const refused: RegistrationRedirect =
      redirect.actorId === undefined
        ? redirect
        : { error: `the GCS already answers for ${maxHeldRedirects} live getIfExists handles to existing actors (maxHeldRedirects); let some go out of scope, or use tsray.getActor for a handle that creates nothing` };
    rememberRedirect(state, spec.actorId, refused);
    return refused;
  }
  state.heldRedirects[spec.actorId] = { owner: spec.owner, redirect };
  state.heldRedirectCount += 1;
  return redirect;
}

/** No counted handle of the creation `actorId` is left (or its creator died): its reply joins the latest remembered. */
export function releaseHeldRedirect(state: GcsState, actorId: ActorId): void {
  const held = state.heldRedirects[actorId];
  if (held === undefined) return;
  delete state.heldRedirects[actorId];
  state.heldRedirectCount -= 1;
  rememberRedirect(state, actorId, held.redirect);
}

/** `workerId` died: the redirects of its creations are no longer held for it. */
export function releaseHeldRedirectsOf(state: GcsState, workerId: WorkerId): void {
  if (state.heldRedirectCount === 0) return;
  for (const actorId of Object.keys(state.heldRedirects)) {
    if (state.heldRedirects[actorId]?.owner === workerId) releaseHeldRedirect(state, actorId);
  }
}

/** Remembers a reply among the latest `maxRememberedRedirects`, forgetting the oldest beyond. */
export function rememberRedirect(state: GcsState, actorId: ActorId, redirect: RegistrationRedirect): void {
  if (state.redirects[actorId] !== undefined) return;
  rememberBoundedValue(state.redirects, state.redirectOrder, actorId, redirect, maxRememberedRedirects);
}
