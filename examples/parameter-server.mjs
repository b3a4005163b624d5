// A parameter server: one actor holds the model's parameters; worker tasks read them, compute the
// gradient of the loss on their shard of the data, and push it back to the actor, which applies it.
// The model is a linear regression fitted by gradient descent, so the loss must go down.
//   node examples/parameter-server.mjs [ITERATIONS]     (default 10)
import * as tsray from 'tsray';

const iterations = Number(process.argv[2] ?? 10);
const features = 20;
const shards = 4;
const rowsPerShard = 5_000;

// The actor's state is its parameters. An actor runs one call at a time (maxConcurrency 1, the
// default), so two workers pushing gradients at once never interleave inside applyGradient.
class ParameterServer {
  constructor(size, learningRate) {
    this.weights = new Float64Array(size);
    this.learningRate = learningRate;
  }

  getWeights() {
    return this.weights;
  }

  applyGradient(gradient) {
    for (let i = 0; i < this.weights.length; i += 1) this.weights[i] -= this.learningRate * gradient[i];
    return this.weights;
  }
}

// A worker's step: fetch the current parameters, compute the mean squared error and its gradient on
// one shard, push the gradient to the server, and report the loss it saw. The actor handle and the
// shard's arrays arrive as arguments; the arrays, put objects, are read from the node's store.
const computeGradient = tsray.remote(async function computeGradient(ps, x, y) {
  const weights = await tsray.get(ps.getWeights.remote());
  const size = weights.length;
  const gradient = new Float64Array(size);
  let loss = 0;
  for (let row = 0; row < y.length; row += 1) {
    let error = -y[row];
    for (let i = 0; i < size; i += 1) error += weights[i] * x[row * size + i];
    loss += error * error;
    for (let i = 0; i < size; i += 1) gradient[i] += (2 * error * x[row * size + i]) / y.length;
  }
  // Waiting for the update to be applied keeps one iteration from running ahead of the next.
  await tsray.get(ps.applyGradient.remote(gradient));
  return loss / y.length;
});

// Synthetic data: y = x · trueWeights + noise, from a seeded generator so that every run is alike.
let seed = 42;
const random = () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
  return seed / 2_147_483_648 - 0.5;
};
const trueWeights = Float64Array.from({ length: features }, () => 4 * random());
function makeShard() {
  const x = Float64Array.from({ length: rowsPerShard * features }, random);
  const y = new Float64Array(rowsPerShard);
  for (let row = 0; row < rowsPerShard; row += 1) {
    for (let i = 0; i < features; i += 1) y[row] += trueWeights[i] * x[row * features + i];
    y[row] += 0.01 * random();
  }
  return { x, y };
}

await tsray.init();
// Each shard is put once and passed by reference on every iteration, not copied again.
const shardRefs = Array.from({ length: shards }, () => {
  const { x, y } = makeShard();
  return { x: tsray.put(x), y: tsray.put(y) };
});
const ps = tsray.remote(ParameterServer).remote(features, 0.25);

for (let iteration = 1; iteration <= iterations; iteration += 1) {
  // One step per shard, all in flight at once; the driver waits for the whole iteration.
  const steps = shardRefs.map(({ x, y }) => computeGradient.remote(ps, x, y));
  const losses = await tsray.get(steps);
  const mean = losses.reduce((sum, loss) => sum + loss, 0) / losses.length;
  console.log(`iteration ${String(iteration).padStart(2)}: loss ${mean.toFixed(6)}`);
}

const weights = await tsray.get(ps.getWeights.remote());
const distance = Math.hypot(...weights.map((weight, i) => weight - trueWeights[i]));
console.log(`distance from the true weights: ${distance.toFixed(4)}`);
await tsray.shutdown();
