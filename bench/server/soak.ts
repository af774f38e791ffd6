/**
 * The soak as a script (bench/server/soak-run.ts says what it does): prints RSS each ten seconds,
 * then the report. Exit status 1 if a response broke the rules or anything was left at the end.
 *
 *   npm run build:ts && node dist/bench/server/soak.js [--minutes 10] [--concurrency 16] [--kv-blocks 48] [--seed 1] [--max-tokens 48] [--tool-ms 200] [--policy astraea]
 */
import { parseArgs } from 'node:util';
import type { PolicyName } from '../../lib/sched/registry.js';
import { runSoak } from './soak-run.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '16' },
    'kv-blocks': { type: 'string', default: '48' },
    seed: { type: 'string', default: '1' },
    'max-tokens': { type: 'string', default: '48' },
    'tool-ms': { type: 'string', default: '200' },
    policy: { type: 'string', default: 'astraea' },
  },
});

const report = await runSoak({
  durationS: Number(values.minutes) * 60,
  concurrency: Number(values.concurrency),
  kvBlocks: Number(values['kv-blocks']),
  seed: Number(values.seed),
  maxTokens: Number(values['max-tokens']),
  toolMs: Number(values['tool-ms']),
  policy: values.policy as PolicyName,
  onSample: (s) => {
    if (s.atS % 10 === 0) console.log(`${s.atS} s: ${s.calls} calls, RSS ${s.rssMiB} MiB`);
  },
});
const { rss, ...rest } = report;
console.log(JSON.stringify({ ...rest, rssFirstMiB: rss[0]?.rssMiB, rssMaxMiB: Math.max(...rss.map((s) => s.rssMiB)), rssLastMiB: rss.at(-1)?.rssMiB }, null, 2));
const leftovers = report.end.ownedBlocks + report.end.hostOwned + report.end.runningJobs + report.end.openJobs + report.end.waiting;
if (report.violations.length > 0 || leftovers > 0) process.exitCode = 1;
