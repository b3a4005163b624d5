/**
 * Paths of values inside the encoded value, as error messages show them: `args[1].cfg.onDone`,
 * `value.m.get("k")`, `value.s[0]`. A path is kept as the containers above the value and the step
 * taken in each, and is formatted only when an error needs it.
 */

/**
 * The step into a child: a property key (objects; `cause` and `errors` of errors), an index (arrays,
 * sets), or for maps `2 * i` for the key of entry i and `2 * i + 1` for its value.
 */
export type Step = string | number;

const identifier = /^[A-Za-z_$][\w$]*$/;

/** Formats a path from its root and the first `depth` containers and steps. */
export function formatPath(root: string, containers: readonly object[], steps: readonly Step[], depth: number): string {
  let path = root;
  for (let d = 0; d < depth; d++) {
    const container = containers[d];
    const step = steps[d];
    if (step === undefined) break;
    if (container instanceof Map && typeof step === 'number') path += mapStep(container, step);
    else if (typeof step === 'number') path += `[${step}]`;
    else path += identifier.test(step) ? `.${step}` : `[${JSON.stringify(step)}]`;
  }
  return path;
}

function mapStep(map: Map<unknown, unknown>, step: number): string {
  const index = step >> 1;
  if (step % 2 === 0) return `.keys()[${index}]`;
  let i = 0;
  for (const key of map.keys()) {
    if (i++ === index) {
      const literal = keyLiteral(key);
      return literal === undefined ? `.values()[${index}]` : `.get(${literal})`;
    }
  }
  return `.values()[${index}]`;
}

function keyLiteral(key: unknown): string | undefined {
  switch (typeof key) {
    case 'string':
      return JSON.stringify(key);
    case 'number':
    case 'boolean':
    case 'undefined':
      return String(key);
    case 'bigint':
      return `${key}n`;
    case 'object':
      return key === null ? 'null' : undefined;
    case 'function':
    case 'symbol':
      return undefined;
  }
}
