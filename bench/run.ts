/**
 * `npm run bench`: the speed figures of tsray on this machine. Timings never gate tests; they are
 * printed here to be compared across changes.
 */
import { benchPeer } from './peer.js';
import { benchRecipes } from './recipes.js';
import { benchRuntime } from './runtime.js';
import { benchSimScripts } from './sim-scripts.js';

benchRecipes(200, 50);
benchRecipes(2000, 200);
console.log();
await benchPeer();
console.log();
await benchRuntime();
console.log();
await benchSimScripts();
