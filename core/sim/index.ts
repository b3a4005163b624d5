/**
 * The deterministic simulator: run a workload on the real recipes under injected faults.
 */
export * from './program.js';
export * from './options.js';
export { SeededRandom } from './random.js';
export { Simulator, SimFailure, simulate, simulationFailure } from './simulator.js';
export type { SimResult, SimInstance, SimProcess, SimProcessFactory } from './simulator.js';
export { WorkerRuntime } from './runtime.js';
export { crossInvariants } from './cross-invariants.js';
export { shrinkPlan, shrinkSteps, smallerPlans } from './shrink.js';
export type { ShrinkResult } from './shrink.js';
export { mutations, mutationNamed } from './mutations.js';
export type { Mutation } from './mutations.js';
export { faultPlans, FaultPlanOptionError, scheduledFaultKinds } from './fault-plans.js';
export type { FaultPlanOptions } from './fault-plans.js';
