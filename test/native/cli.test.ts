/**
 * The installed command as a user runs it: `astraea make-model`, then `astraea logits --json`,
 * checked against the independent reference; bad use exits non-zero with a message.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Value } from 'typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunSummarySchema } from '../../lib/bench/summary-schema.js';
import { referenceForDir, relativeError, removeDir, tempDir } from './fixtures.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'astraea.js');

function astraea(...args: string[]) {
  return astraeaWithEnv({}, ...args);
}

function astraeaWithEnv(env: Record<string, string>, ...args: string[]) {
  const run = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

let dir: string;

beforeAll(() => {
  dir = join(tempDir('cli'), 'tiny');
  const made = astraea('make-model', '--preset', 'tiny', '--out', dir, '--seed', '5');
  expect(made.stderr).toBe('');
  expect(made.code).toBe(0);
});
afterAll(() => removeDir(join(dir, '..')));

describe('astraea CLI', () => {
  it('make-model writes a complete Hugging Face directory', () => {
    for (const file of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) {
      expect(existsSync(join(dir, file)), file).toBe(true);
    }
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ architectures: ['LlamaForCausalLM'], hidden_size: 128, vocab_size: 384 });
  });

  it('logits --json prints every position, matching the reference', () => {
    const ids = [5, 17, 3, 99, 250, 7];
    const run = astraea('logits', '--model', dir, '--ids', ids.join(','), '--split', '2', '--json');
    expect(run.code).toBe(0);
    const rows = JSON.parse(run.stdout) as number[][];
    expect(rows).toHaveLength(ids.length);
    const reference = referenceForDir(dir, ids);
    rows.forEach((row, p) => expect(relativeError(row, reference[p]), `position ${p}`).toBeLessThan(1e-4));
  });

  it.each(['avx2', 'scalar'])('the %s kernels (forced with ASTRAEA_SIMD) also match the reference', (level) => {
    // The machine may lack the level asked for; the addon then uses what it has, still checked.
    const ids = [5, 17, 3, 99, 250, 7, 31, 64, 2, 200, 11, 42, 8, 1, 300, 77, 9, 120];
    const run = astraeaWithEnv({ ASTRAEA_SIMD: level }, 'logits', '--model', dir, '--ids', ids.join(','), '--split', '5', '--json');
    expect(run.stderr).toBe('');
    const rows = JSON.parse(run.stdout) as number[][];
    const reference = referenceForDir(dir, ids);
    rows.forEach((row, p) => expect(relativeError(row, reference[p]), `position ${p}`).toBeLessThan(1e-4));
  });

  it('logits --dummy with the same seed equals the written model', () => {
    const a = astraea('logits', '--model', dir, '--ids', '1,2,3', '--json');
    const b = astraea('logits', '--model', dir, '--dummy', '--seed', '5', '--ids', '1,2,3', '--json');
    expect(b.code).toBe(0);
    expect(JSON.parse(b.stdout)).toEqual(JSON.parse(a.stdout));
  });

  it('bad use exits non-zero with a message naming the problem', () => {
    const cases: [string[], RegExp][] = [
      [['logits', '--model', dir, '--ids', '1,x'], /"x" is not an integer/],
      [['logits', '--model', dir, '--ids', '1,2', '--split', '3'], /split must be between 1 and 2/],
      [['logits', '--model', dir, '--ids', '1,999'], /outside the vocabulary/],
      [['logits', '--model', join(dir, 'nope'), '--ids', '1'], /does not exist/],
      [['logits', '--model', dir, '--ids', '1', '--frobnicate'], /frobnicate/],
      [['make-model', '--preset', 'huge', '--out', dir], /--preset must be tiny or small/],
      [['nonsense'], /unknown command/],
    ];
    for (const [args, message] of cases) {
      const run = astraea(...args);
      expect(run.code, args.join(' ')).not.toBe(0);
      expect(run.stderr, args.join(' ')).toMatch(message);
    }
  });

  it('--help for every command lists its options and exits 0', () => {
    const expected: Record<string, string[]> = {
      bench: ['--workload', '--policies', '--load', '--json', '--chart', '--scale-tokens', '--model', '--kv-blocks', '--seeds'],
      simulate: ['--workload', '--loads', '--jobs', '--profile', '--host-blocks', '--json', '--chart', '--capacity', '--objective', '--bound', '--precision'],
      calibrate: ['--model', '--out', '--kv-blocks', '--no-long-replay'],
      serve: ['--port', '--policy', '--set', '--kv-blocks'],
      'make-model': ['--preset', '--out'],
      logits: ['--ids', '--split'],
      info: ['--model'],
      micro: ['--filter', '--max-time', '--json'],
    };
    for (const [command, flags] of Object.entries(expected)) {
      const run = astraea(command, '--help');
      expect(run.code, command).toBe(0);
      for (const flag of flags) expect(run.stdout, `${command} ${flag}`).toContain(flag);
    }
    const top = astraea();
    expect(top.code).toBe(0);
    for (const command of Object.keys(expected)) expect(top.stdout).toContain(command);
  });

  it('bench on a tiny workload finishes every job under each policy and prints schema-valid JSON', () => {
    // Three jobs, two with a 50 ms tool call: small enough for the tiny model in a second or two.
    const workload = join(dir, '..', 'tiny-workload.jsonl');
    writeFileSync(
      workload,
      [
        '{"id":"a","arrival_s":0,"kind":"k","segments":[{"input_tokens":20,"output_tokens":4,"tool":{"name":"t","duration_s":0.05}},{"input_tokens":6,"output_tokens":3,"tool":null}]}',
        '{"id":"b","arrival_s":0.01,"kind":"k","segments":[{"input_tokens":30,"output_tokens":5,"tool":null}]}',
        '{"id":"c","arrival_s":0.02,"kind":"k","segments":[{"input_tokens":12,"output_tokens":2,"tool":{"name":"t","duration_s":0.05}},{"input_tokens":4,"output_tokens":2,"tool":null}]}',
      ].join('\n') + '\n',
    );
    const chart = join(dir, '..', 'bench.svg');
    const run = astraea('bench', '--model', dir, '--workload', workload, '--policies', 'fcfs,astraea', '--kv-blocks', '64', '--json', '--chart', chart);
    expect(run.stderr).toContain(`chart: ${chart}`);
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.policy)).toEqual(['fcfs', 'astraea']);
    for (const line of lines) {
      expect(Value.Errors(RunSummarySchema, line)).toEqual([]);
      expect(line).toMatchObject({ engine: 'cpu', workload: workload, jobs: 3, completed: 3, failed: 0, kv_blocks: 64, predictor: 'learned' });
      // Every JCT includes its job's tool call: jobs a and c wait 50 ms.
      expect(line.breakdown_s.tool).toBeCloseTo((0.05 + 0 + 0.05) / 3, 1);
      expect(line.jct_s.mean).toBeGreaterThan(line.breakdown_s.tool);
    }
    expect(readFileSync(chart, 'utf8')).toMatch(/^<svg/);

    // The table form of the same run, and the same workload on the simulator.
    const table = astraea('bench', '--model', dir, '--workload', workload, '--policies', 'fcfs', '--kv-blocks', '64', '--no-chart');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^fcfs\s+\d+\.\d+/m);
    const sim = astraea('simulate', '--workload', workload, '--policies', 'fcfs,astraea', '--profile', 'cpu-small', '--json', '--no-chart');
    expect(sim.code).toBe(0);
    const simLines = sim.stdout.trim().split('\n').map((l) => JSON.parse(l));
    for (const line of simLines) {
      expect(Value.Errors(RunSummarySchema, line)).toEqual([]);
      expect(line).toMatchObject({ engine: 'sim', completed: 3 });
    }
  });

  it('bench --seeds runs every seed, the policies reversed on every other one, each paired with astraea', () => {
    const run = astraea('bench', '--model', dir, '--workload', 'synthetic', '--jobs', '3', '--scale-tokens', '0.05', '--scale-time', '0.01',
      '--policies', 'fcfs,astraea', '--seeds', '1-2', '--kv-blocks', '64');
    expect(run.code).toBe(0);
    // Progress goes to stderr (not a terminal here): one line per run, in the order they ran.
    const done = [...run.stderr.matchAll(/^([a-z-]+), seed (\d+): 3\/3 jobs, mean JCT ([\d.]+) s/gm)].map((m) => ({ policy: m[1], seed: Number(m[2]), mean: Number(m[3]) }));
    expect(done.map((d) => `${d.policy}@${d.seed}`)).toEqual(['fcfs@1', 'astraea@1', 'astraea@2', 'fcfs@2']);
    const mean = (policy: string, seed: number) => done.find((d) => d.policy === policy && d.seed === seed)!.mean;
    expect(run.stdout).toContain('seeds 1,2');
    const row = (policy: string) => run.stdout.split('\n').find((l) => l.startsWith(`${policy} `))!.trim().split(/\s{2,}/);
    expect(row('astraea').slice(1, 3).map(Number)).toEqual([mean('astraea', 1), mean('astraea', 2)]);
    const fcfs = row('fcfs');
    expect(fcfs.slice(1, 3).map(Number)).toEqual([mean('fcfs', 1), mean('fcfs', 2)]);
    // The paired difference by hand from the per-seed means (printed to 0.01, so within 0.011).
    const d = [mean('fcfs', 1) - mean('astraea', 1), mean('fcfs', 2) - mean('astraea', 2)];
    const [diff, se] = fcfs[4].replace('−', '-').split(' ± ').map(Number);
    expect(Math.abs(diff - (d[0] + d[1]) / 2)).toBeLessThan(0.011);
    expect(Math.abs(se - Math.abs(d[0] - d[1]) / 2)).toBeLessThan(0.011); // two seeds: s.e. = |d₁ − d₂| / 2
    // The bench counts the seeds on unrounded means; a difference within the printed 0.01 could
    // have either sign, so the count is checked between what the clear differences allow.
    expect(fcfs[5]).toMatch(/^[0-2] of 2$/);
    const slowerOn = Number(fcfs[5].split(' of ')[0]);
    expect(slowerOn).toBeGreaterThanOrEqual(d.filter((x) => x > 0.011).length);
    expect(slowerOn).toBeLessThanOrEqual(d.filter((x) => x > -0.011).length);
  });

  it('simulate --host-blocks sets the host pool: with none, a policy that swaps every waiting job discards instead', () => {
    // infercept sends every job waiting on a tool to the host; the main job's workload at CPU scale.
    const run = (...extra: string[]) => {
      const r = astraea('simulate', '--workload', 'coding', '--jobs', '14', '--scale-tokens', '0.006', '--scale-time', '0.02', '--load', '2',
        '--profile', 'cpu-small', '--kv-blocks', '96', '--policies', 'infercept', '--json', '--no-chart', ...extra);
      expect(r.code).toBe(0);
      return JSON.parse(r.stdout.trim()).kv as { swap: number; discard: number };
    };
    const roomy = run(); // the profile's 256 host blocks
    const none = run('--host-blocks', '0');
    expect(roomy.swap).toBeGreaterThan(0);
    expect(none.swap).toBe(0);
    expect(none.discard).toBe(roomy.swap + roomy.discard); // the same tool waits, every one discarded
  });

  it('a reader that closes the pipe early ends the command quietly, not with an EPIPE stack trace', () => {
    // head exits after the first policy's line; the next ones are written to a closed pipe.
    const command = `"${process.execPath}" "${BIN}" simulate --workload coding --jobs 6 --scale-tokens 0.006 --scale-time 0.02 --profile cpu-small --kv-blocks 96 --seed 1 --json --no-chart | head -c 50 >/dev/null; echo "exit=\${PIPESTATUS[0]}"`;
    const run = spawnSync('bash', ['-c', command], { encoding: 'utf8' });
    expect(run.stdout.trim()).toBe('exit=0');
    expect(run.stderr).not.toMatch(/EPIPE|Error|\n\s+at /);
  });

  it('bench and simulate refuse bad flags with a message naming them', () => {
    const cases: [string[], RegExp][] = [
      [['bench', '--workload', 'nope.jsonl', '--no-chart'], /neither a file nor a generator/],
      [['bench', '--policies', 'fcfs,lifo', '--no-chart'], /--policies: unknown "lifo"/],
      [['simulate', '--load', '0', '--no-chart'], /--load must be a number > 0/],
      [['simulate', '--loads', '1,x', '--no-chart'], /--loads must be a number > 0/],
      [['simulate', '--profile', 'nope', '--no-chart'], /neither a built-in profile/],
      [['simulate', '--hints', 'psychic', '--no-chart'], /--hints must be none or oracle/],
      [['simulate', '--set', 'astraea.kvrule=watermark', '--no-chart'], /astraea has no option "kvrule" \(options: .*kvRule/],
      [['simulate', '--set', 'lifo.x=1', '--no-chart'], /unknown policy "lifo"/],
      [['simulate', '--set', 'astraea.batchWidth=fitt', '--no-chart'], /--set "astraea\.batchWidth=fitt": astraea option batchWidth: expected one of fit, all, got "fitt"/],
      [['simulate', '--set', 'mori.windowCycles=2.5', '--no-chart'], /mori option windowCycles: expected an integer ≥ 1, got 2\.5/],
      [['simulate', '--set', 'astraea', '--no-chart'], /expected policy\.key=value/],
      [['simulate', '--chart', 'x.png', '--jobs', '2'], /\.svg/],
      [['simulate', '--host-blocks', '-1', '--no-chart'], /--host-blocks must be an integer >= 0/],
      [['simulate', '--bound', '--no-chart'], /--bound is a capacity: give --capacity with it/],
      [['simulate', '--moved-calls', 'fresh', '--no-chart'], /--moved-calls is about calls routed between replicas: give --replicas/],
      [['simulate', '--replicas', '2', '--moved-calls', 'teleport', '--no-chart'], /--moved-calls must be one of segments, history, fresh; got "teleport"/],
      [['simulate', '--capacity', '--precision', '1', '--no-chart'], /--precision must be above 1/],
      [['bench', '--seeds', '3-1', '--no-chart'], /--seeds takes seeds and ranges such as 1-8 or 1,3,5; got "3-1"/],
      [['bench', '--seeds', '1,2,1', '--no-chart'], /--seeds names a seed twice/],
      [['bench', '--workload', 'jobs.jsonl', '--seeds', '1-2', '--no-chart'], /--seeds draws a generated workload anew for each seed/],
      // serve checks its policy's options before it listens.
      [['serve', '--port', '0', '--set', 'astraea.kvRule=lru'], /astraea option kvRule: expected one of contention, watermark, got "lru"/],
      [['serve', '--port', '0', '--policy', 'astraea', '--set', 'mori.windowCycles=2'], /--set names an option of mori, but the policy served is astraea/],
    ];
    for (const [args, message] of cases) {
      const run = astraea(...args);
      expect(run.code, args.join(' ')).not.toBe(0);
      expect(run.stderr, args.join(' ')).toMatch(message);
    }
  });
});
