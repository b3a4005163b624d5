#!/usr/bin/env node
/**
 * The `tsray` command. Each subcommand lives in its own file; this one only dispatches and turns a
 * usage error into a one-line reason and a non-zero exit.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { replayCommand } from './replay.js';
import { sessionsCommand } from './sessions.js';
import { simCommand } from './sim.js';
import { startCommand } from './start.js';
import { listCommand, memoryCommand, statusCommand } from './status.js';
import { stopCommand } from './stop.js';
import { timelineCommand } from './timeline.js';
import { traceCommand } from './trace-collect.js';
import { UsageError } from './usage.js';
import { whyCommand } from './why.js';

const commands: Record<string, { run: (args: string[]) => Promise<number>; summary: string }> = {
  sim: { run: simCommand, summary: 'tsray sim SCRIPT [--seed N] [--runs K] [--faults SPEC] [--nodes N] [--cpus C] [-o DIR] [--shrink] [--check-determinism] [-- ARGS]   run a tsray script, unchanged, in the deterministic simulator under seeded faults' },
  replay: { run: replayCommand, summary: 'tsray replay TRACE [--verify] [--invariants every|hashes]   re-run the reducers over a trace and check its state hashes' },
  trace: { run: traceCommand, summary: 'tsray trace collect [--session DIR | --address A] [-o FILE]   merge a live session\'s or a cluster\'s event logs into one trace' },
  timeline: { run: timelineCommand, summary: 'tsray timeline [--session DIR | --address A] [-o FILE]   a live session or cluster as Chrome trace-event JSON (Perfetto)' },
  why: { run: whyCommand, summary: 'tsray why TRACE ID   the causal chain of a task (every attempt), actor, object, node, worker or event seq' },
  debug: { run: debugEntry, summary: 'tsray debug [TRACE]   browse a trace in the terminal: events, state, diffs, timelines, why (no TRACE: the curated ones)' },
  sessions: { run: sessionsCommand, summary: 'tsray sessions [--json]   sessions kept on this machine, with sizes (old ones are pruned at init)' },
  start: { run: startCommand, summary: 'tsray start --head [--port P] [--host H] | --address HOST:PORT|auto [--token T]  [--num-cpus N] [--resources JSON] [--block]   start a cluster node' },
  stop: { run: stopCommand, summary: 'tsray stop   stop every node that `tsray start` began on this machine' },
  status: { run: statusCommand, summary: 'tsray status [--address A]   the nodes of a cluster and its resources' },
  list: { run: listCommand, summary: 'tsray list nodes|jobs|tasks|actors|objects [--address A] [--json] [--limit N]   what a cluster holds' },
  memory: { run: memoryCommand, summary: 'tsray memory [--address A] [--json] [--limit N]   store usage per node, objects by owner and reference kind' },
};

/**
 * Loads the debugger only when asked for, so other commands skip Ink and React. Ink decides once,
 * when it loads, whether it runs in CI (the CI or CONTINUOUS_INTEGRATION variable) and then draws
 * only a last frame at exit. A user at a real terminal wants the live app even in a shell that
 * CI tooling marked, so those variables are cleared first when both ends are a terminal.
 */
async function debugEntry(args: string[]): Promise<number> {
  if (process.stdin.isTTY && process.stdout.isTTY) {
    delete process.env['CI'];
    delete process.env['CONTINUOUS_INTEGRATION'];
  }
  const { debugCommand } = await import('./debug.js');
  return debugCommand(args);
}

/**
 * The version in tsray's own package.json, found by walking up from this module: the compiled CLI
 * sits three folders below it (dist/node/cli), the source two.
 */
async function packageVersion(): Promise<string> {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (manifest.name === 'tsray' && typeof manifest.version === 'string') return manifest.version;
    } catch {
      // No package.json here (or not tsray's): look one folder up.
    }
    const up = dirname(dir);
    if (up === dir) throw new Error("cannot find tsray's package.json above the CLI module; reinstall tsray");
    dir = up;
  }
}

function help(): string {
  return ['usage: tsray COMMAND [options]', '', '  tsray --version   the version of tsray', '', ...Object.values(commands).map((command) => `  ${command.summary}`)].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-v' || name === 'version') {
    process.stdout.write(`${await packageVersion()}\n`);
    return 0;
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${help()}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (command === undefined) throw new UsageError(`unknown command '${name}'; this version has: ${Object.keys(commands).join(', ')} (see tsray --help)`);
  return command.run(rest);
}

// A reader that stops early (`tsray sessions | head -3`) closes the pipe: the rest of the output has
// nowhere to go, which is no failure of the command, so it ends quietly instead of with a stack.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(process.exitCode ?? 0);
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`tsray: ${message}\n`);
    process.exitCode = error instanceof UsageError ? 2 : 1;
  },
);
