// Tests for resource shapes as scheduling classes key them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { actorResourceShapes, roundQuantity, shapeKey } from '../../../core/resources.js';
import type { Resources } from '../../../core/resources.js';

/** The filter, sort, map and join reading shapeKey replaced, as the reference. */
function referenceKey(shape: Resources): string {
  return Object.keys(shape)
    .filter((name) => (shape[name] ?? 0) !== 0)
    .sort()
    .map((name) => `${name}:${roundQuantity(shape[name] ?? 0)}`)
    .join(',');
}

void test('shapeKey names the non-zero resources sorted by name, with rounded quantities', () => {
  assert.equal(shapeKey({ CPU: 1 }), 'CPU:1');
  assert.equal(shapeKey({}), '');
  assert.equal(shapeKey({ CPU: 0 }), '');
  assert.equal(shapeKey({ memory: 2, CPU: 0.5, GPU: 0, accel: 1 / 3 }), 'CPU:0.5,accel:0.3333,memory:2');
  const names = ['CPU', 'GPU', 'memory', 'a', 'B', 'zz', 'Z', 'custom_1', '10', '2', 'é'];
  // Shapes of every size up to all the names, in orders that exercise the insertion at each place.
  for (let size = 0; size <= names.length; size++) {
    for (let rotation = 0; rotation < names.length; rotation++) {
      const shape: Resources = {};
      for (let at = 0; at < size; at++) shape[names[(at * 7 + rotation) % names.length] as string] = (at + rotation) % 3 === 0 ? 0 : (at + 1) / 4;
      assert.equal(shapeKey(shape), referenceKey(shape), JSON.stringify(shape));
    }
  }
});

void test('an actor that names no resources needs a CPU to be placed and holds none; one that names any needs exactly those', () => {
  assert.deepEqual(actorResourceShapes(undefined, {}), { resources: {}, placementResources: { CPU: 1 } });
  // Ray: explicit resources, even num_cpus=0, are needed both to place the actor and while it runs.
  assert.deepEqual(actorResourceShapes(0, {}), { resources: {}, placementResources: {} });
  assert.deepEqual(actorResourceShapes(2, {}), { resources: { CPU: 2 }, placementResources: { CPU: 2 } });
  assert.deepEqual(actorResourceShapes(undefined, { side: 1 }), { resources: { side: 1 }, placementResources: { side: 1 } });
  assert.deepEqual(actorResourceShapes(0.5, { GPU: 1 }), { resources: { CPU: 0.5, GPU: 1 }, placementResources: { CPU: 0.5, GPU: 1 } });
  // The two shapes are separate objects: a recipe that takes from one never changes the other.
  const shapes = actorResourceShapes(1, {});
  assert.notEqual(shapes.resources, shapes.placementResources);
});
