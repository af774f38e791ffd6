import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectCode } from './expect-code.js';
import { formatWorkload, parseWorkload, type WorkloadJob } from '../../lib/workload/format.js';
import { exponential, mulberry32 } from '../../lib/workload/random.js';
import { jobSegmentTokens, prefixTokens, segmentTokens } from '../../lib/workload/tokens.js';
import { CONVERSATION_KIND, syntheticAgentWorkload, type SyntheticKind } from '../../lib/workload/agent-mix.js';
import { parseCsv } from '../../lib/workload/csv.js';
import { fromSweAgentSteps, fromTauBench } from '../../lib/workload/trace-converters.js';

const TRACES = path.join(import.meta.dirname, '..', '..', '..', 'shared', 'traces');
const TAU_FILE = path.join(TRACES, 'tau_bench', 'derived_gpt-4o-airline_llm_calls.csv');
const SWE_FILE = path.join(TRACES, 'swe_agent_traj', 'derived_steps.csv');

/** Every job must survive format → parse unchanged (and hence satisfy the file rules). */
function expectValidRoundTrip(jobs: WorkloadJob[]): void {
  expect(parseWorkload(formatWorkload(jobs), 'round trip')).toEqual(jobs);
}

describe('workload format', () => {
  const canonical =
    '{"id":"j1","arrival_s":0.5,"kind":"airline","segments":[' +
    '{"input_tokens":1200,"output_tokens":48,"tool":{"name":"search","duration_s":0.8}},' +
    '{"input_tokens":240,"output_tokens":30,"tool":null}],"prefix_id":"sys","prefix_tokens":900,"priority":2}\n' +
    '{"id":"j2","arrival_s":3.25,"kind":"chat","segments":[{"input_tokens":7,"output_tokens":1,"tool":null}]}\n';

  it('parses into camelCase and formats back exactly', () => {
    const jobs = parseWorkload(canonical, 'w.jsonl');
    expect(jobs).toEqual([
      {
        id: 'j1',
        arrivalS: 0.5,
        kind: 'airline',
        segments: [
          { inputTokens: 1200, outputTokens: 48, tool: { name: 'search', durationS: 0.8 } },
          { inputTokens: 240, outputTokens: 30, tool: null },
        ],
        prefixId: 'sys',
        prefixTokens: 900,
        priority: 2,
      },
      { id: 'j2', arrivalS: 3.25, kind: 'chat', segments: [{ inputTokens: 7, outputTokens: 1, tool: null }] },
    ]);
    expect(formatWorkload(jobs)).toBe(canonical);
    expectValidRoundTrip(jobs);
  });

  it('skips blank lines, accepts CRLF and sorts by arrival stably', () => {
    const line = (id: string, t: number) =>
      `{"id":"${id}","arrival_s":${t},"kind":"k","segments":[{"input_tokens":1,"output_tokens":1,"tool":null}]}`;
    const text = [line('late', 5), '', line('a', 1), line('b', 1), '   ', line('first', 0)].join('\r\n') + '\r\n';
    expect(parseWorkload(text, 'x').map((j) => j.id)).toEqual(['first', 'a', 'b', 'late']);
  });

  const seg = '{"input_tokens":10,"output_tokens":2,"tool":null}';
  const good = `{"id":"ok","arrival_s":0,"kind":"k","segments":[${seg}]}`;
  const cases: [string, string, RegExp][] = [
    ['not JSON', '{"id":', /f:2: not valid JSON/],
    ['not an object', '[1]', /f:2: a job must be a JSON object/],
    ['unknown field', `{"id":"x","arrival_s":0,"kind":"k","segments":[${seg}],"arival":1}`, /f:2: field 'arival'/],
    ['missing id', `{"arrival_s":0,"kind":"k","segments":[${seg}]}`, /f:2: field 'id'/],
    ['duplicate id', `{"id":"ok","arrival_s":1,"kind":"k","segments":[${seg}]}`, /f:2: field 'id' 'ok' repeats the id on line 1/],
    ['negative arrival', `{"id":"x","arrival_s":-1,"kind":"k","segments":[${seg}]}`, /f:2: field 'arrival_s'/],
    ['string arrival', `{"id":"x","arrival_s":"1","kind":"k","segments":[${seg}]}`, /f:2: field 'arrival_s'/],
    ['empty kind', `{"id":"x","arrival_s":0,"kind":"","segments":[${seg}]}`, /f:2: field 'kind'/],
    ['no segments', '{"id":"x","arrival_s":0,"kind":"k","segments":[]}', /f:2: field 'segments'/],
    [
      'fractional input',
      '{"id":"x","arrival_s":0,"kind":"k","segments":[{"input_tokens":1.5,"output_tokens":2,"tool":null}]}',
      /f:2: field 'segments\[0\]\.input_tokens'/,
    ],
    [
      'negative input',
      '{"id":"x","arrival_s":0,"kind":"k","segments":[{"input_tokens":-1,"output_tokens":2,"tool":null}]}',
      /f:2: field 'segments\[0\]\.input_tokens'/,
    ],
    [
      'zero output',
      '{"id":"x","arrival_s":0,"kind":"k","segments":[{"input_tokens":1,"output_tokens":0,"tool":null}]}',
      /f:2: field 'segments\[0\]\.output_tokens'/,
    ],
    [
      'tool on last segment',
      '{"id":"x","arrival_s":0,"kind":"k","segments":[{"input_tokens":1,"output_tokens":2,"tool":{"name":"t","duration_s":1}}]}',
      /f:2: field 'segments\[0\]\.tool' must be null on the last segment/,
    ],
    [
      'missing tool mid-job',
      `{"id":"x","arrival_s":0,"kind":"k","segments":[{"input_tokens":1,"output_tokens":2,"tool":null},${seg}]}`,
      /f:2: field 'segments\[0\]\.tool' must be \{name, duration_s\}/,
    ],
    [
      'negative tool duration',
      `{"id":"x","arrival_s":0,"kind":"k","segments":[{"input_tokens":1,"output_tokens":2,"tool":{"name":"t","duration_s":-0.1}},${seg}]}`,
      /f:2: field 'segments\[0\]\.tool\.duration_s'/,
    ],
    [
      'empty tool name',
      `{"id":"x","arrival_s":0,"kind":"k","segments":[{"input_tokens":1,"output_tokens":2,"tool":{"name":"","duration_s":1}},${seg}]}`,
      /f:2: field 'segments\[0\]\.tool\.name'/,
    ],
    ['prefix id alone', `{"id":"x","arrival_s":0,"kind":"k","segments":[${seg}],"prefix_id":"p"}`, /f:2: field 'prefix_tokens'/],
    [
      'fractional prefix tokens',
      `{"id":"x","arrival_s":0,"kind":"k","segments":[${seg}],"prefix_id":"p","prefix_tokens":2.5}`,
      /f:2: field 'prefix_tokens'/,
    ],
    ['bad priority', `{"id":"x","arrival_s":0,"kind":"k","segments":[${seg}],"priority":"high"}`, /f:2: field 'priority'/],
    [
      'empty first prompt',
      '{"id":"x","arrival_s":0,"kind":"k","segments":[{"input_tokens":0,"output_tokens":2,"tool":null}]}',
      /f:2: field 'segments\[0\]\.input_tokens' must be ≥ 1/,
    ],
  ];
  for (const [name, bad, message] of cases) {
    it(`rejects ${name} with the line number and field`, () => {
      expectCode(() => parseWorkload(`${good}\n${bad}\n`, 'f'), 'INVALID_WORKLOAD', message);
    });
  }

  it('allows an empty own first prompt when a prefix supplies it', () => {
    const text = '{"id":"x","arrival_s":0,"kind":"k","segments":[{"input_tokens":0,"output_tokens":2,"tool":null}],"prefix_id":"p","prefix_tokens":5}\n';
    expect(formatWorkload(parseWorkload(text, 'f'))).toBe(text);
  });
});

describe('workload format: subagents', () => {
  // A job whose first tool call starts two subagents: one answers at once, one calls a tool itself.
  const canonical =
    '{"id":"p","arrival_s":1,"kind":"coding","segments":[' +
    '{"input_tokens":100,"output_tokens":5,"tool":{"name":"task","duration_s":0.5,"subagents":[' +
    '{"segments":[{"input_tokens":8,"output_tokens":3,"tool":null}]},' +
    '{"segments":[{"input_tokens":7,"output_tokens":2,"tool":{"name":"bash","duration_s":1}},{"input_tokens":4,"output_tokens":2,"tool":null}]}]}},' +
    '{"input_tokens":5,"output_tokens":3,"tool":null}]}\n';

  it('parses subagents into camelCase and formats them back exactly', () => {
    const jobs = parseWorkload(canonical, 'w.jsonl');
    expect(jobs).toEqual([
      {
        id: 'p',
        arrivalS: 1,
        kind: 'coding',
        segments: [
          {
            inputTokens: 100,
            outputTokens: 5,
            tool: {
              name: 'task',
              durationS: 0.5,
              subagents: [
                { segments: [{ inputTokens: 8, outputTokens: 3, tool: null }] },
                {
                  segments: [
                    { inputTokens: 7, outputTokens: 2, tool: { name: 'bash', durationS: 1 } },
                    { inputTokens: 4, outputTokens: 2, tool: null },
                  ],
                },
              ],
            },
          },
          { inputTokens: 5, outputTokens: 3, tool: null },
        ],
      },
    ]);
    expect(formatWorkload(jobs)).toBe(canonical);
    expectValidRoundTrip(jobs);
  });

  it('a tool call without subagents is written without the field', () => {
    const jobs = parseWorkload(canonical, 'w.jsonl');
    delete jobs[0].segments[0].tool!.subagents;
    expect(formatWorkload(jobs)).not.toContain('subagents');
    expectValidRoundTrip(jobs);
  });

  const seg = '{"input_tokens":10,"output_tokens":2,"tool":null}';
  const good = `{"id":"ok","arrival_s":0,"kind":"k","segments":[${seg}]}`;
  /** A job whose first tool call carries `subagents` (given as JSON text). */
  const withSubagents = (subagents: string) =>
    `{"id":"x","arrival_s":0,"kind":"k","segments":[{"input_tokens":1,"output_tokens":2,"tool":{"name":"task","duration_s":0,"subagents":${subagents}}},${seg}]}`;
  const at = "field 'segments\\[0\\]\\.tool\\.subagents";
  const cases: [string, string, RegExp][] = [
    ['subagents not an array', withSubagents('{}'), new RegExp(`f:2: ${at}' must be a non-empty array`)],
    ['no subagents', withSubagents('[]'), new RegExp(`f:2: ${at}' must be a non-empty array`)],
    ['a subagent not an object', withSubagents('[1]'), new RegExp(`f:2: ${at}\\[0\\]' must be an object`)],
    ['an unknown subagent field', withSubagents(`[{"segments":[${seg}],"kind":"k"}]`), new RegExp(`f:2: ${at}\\[0\\]\\.kind' is not a subagent field`)],
    ['a subagent without segments', withSubagents('[{}]'), new RegExp(`f:2: ${at}\\[0\\]\\.segments' must be a non-empty array`)],
    ['a subagent with no segments', withSubagents('[{"segments":[]}]'), new RegExp(`f:2: ${at}\\[0\\]\\.segments' must be a non-empty array`)],
    [
      "a subagent's zero output",
      withSubagents(`[{"segments":[${seg}]},{"segments":[{"input_tokens":1,"output_tokens":0,"tool":null}]}]`),
      new RegExp(`f:2: ${at}\\[1\\]\\.segments\\[0\\]\\.output_tokens' must be a positive integer`),
    ],
    [
      "a subagent's tool on its last segment",
      withSubagents('[{"segments":[{"input_tokens":1,"output_tokens":2,"tool":{"name":"t","duration_s":1}}]}]'),
      new RegExp(`f:2: ${at}\\[0\\]\\.segments\\[0\\]\\.tool' must be null on the last segment`),
    ],
    [
      "a subagent's negative tool duration",
      withSubagents(`[{"segments":[{"input_tokens":1,"output_tokens":2,"tool":{"name":"t","duration_s":-1}},${seg}]}]`),
      new RegExp(`f:2: ${at}\\[0\\]\\.segments\\[0\\]\\.tool\\.duration_s'`),
    ],
    [
      'nested subagents',
      withSubagents(`[{"segments":[{"input_tokens":1,"output_tokens":2,"tool":{"name":"task","duration_s":0,"subagents":[{"segments":[${seg}]}]}},${seg}]}]`),
      new RegExp(`f:2: ${at}\\[0\\]\\.segments\\[0\\]\\.tool\\.subagents' is not allowed here`),
    ],
    [
      'subagents on a null tool',
      `{"id":"x","arrival_s":0,"kind":"k","segments":[{"input_tokens":1,"output_tokens":2,"tool":null,"subagents":[]}]}`,
      /f:2: field 'segments\[0\]\.subagents' is not a segment field/,
    ],
  ];
  for (const [name, bad, message] of cases) {
    it(`rejects ${name} with the line number and field`, () => {
      expectCode(() => parseWorkload(`${good}\n${bad}\n`, 'f'), 'INVALID_WORKLOAD', message);
    });
  }
});

describe('token synthesis', () => {
  it('is deterministic, inside the vocabulary and differs between jobs and segments', () => {
    const a = segmentTokens('job-1', 0, 500, 1000);
    expect(segmentTokens('job-1', 0, 500, 1000)).toEqual(a);
    expect(a).toHaveLength(500);
    expect(a.every((t) => Number.isInteger(t) && t >= 0 && t < 1000)).toBe(true);
    expect(new Set(a).size).toBeGreaterThan(300); // spread over the vocabulary, not a constant
    expect(segmentTokens('job-2', 0, 500, 1000)).not.toEqual(a);
    expect(segmentTokens('job-1', 1, 500, 1000)).not.toEqual(a);
    expect(segmentTokens('job-1', 0, 0, 1000)).toEqual([]);
    // A vocabulary of one leaves only id 0; of two, both ids appear.
    expect(segmentTokens('j', 0, 20, 1)).toEqual(new Array(20).fill(0));
    expect(new Set(segmentTokens('j', 0, 64, 2))).toEqual(new Set([0, 1]));
  });

  it('gives every job with a prefix id the same prefix tokens', () => {
    const vocab = 32000;
    const jobA: WorkloadJob = {
      id: 'a',
      arrivalS: 0,
      kind: 'k',
      prefixId: 'sys',
      prefixTokens: 64,
      segments: [
        { inputTokens: 10, outputTokens: 1, tool: { name: 't', durationS: 1 } },
        { inputTokens: 3, outputTokens: 1, tool: null },
      ],
    };
    const jobB: WorkloadJob = { ...jobA, id: 'b' };
    const firstA = jobSegmentTokens(jobA, 0, vocab);
    const firstB = jobSegmentTokens(jobB, 0, vocab);
    expect(firstA).toHaveLength(74);
    expect(firstA.slice(0, 64)).toEqual(prefixTokens('sys', 64, vocab));
    expect(firstB.slice(0, 64)).toEqual(firstA.slice(0, 64));
    expect(firstA.slice(64)).toEqual(segmentTokens('a', 0, 10, vocab));
    expect(firstB.slice(64)).not.toEqual(firstA.slice(64));
    // Later segments carry no prefix.
    expect(jobSegmentTokens(jobA, 1, vocab)).toEqual(segmentTokens('a', 1, 3, vocab));
    // A shorter prefix with the same id is a prefix of the longer one; another id differs.
    expect(prefixTokens('sys', 64, vocab).slice(0, 16)).toEqual(prefixTokens('sys', 16, vocab));
    expect(prefixTokens('other', 64, vocab)).not.toEqual(prefixTokens('sys', 64, vocab));
  });

  it('rejects bad arguments', () => {
    expectCode(() => segmentTokens('j', 0, -1, 10), 'INVALID_ARGUMENT', /count/);
    expectCode(() => segmentTokens('j', 0, 1, 0), 'INVALID_ARGUMENT', /vocabSize/);
    expectCode(() => segmentTokens('j', -1, 1, 10), 'INVALID_ARGUMENT', /segmentIndex/);
  });
});

describe('CSV parser', () => {
  it('handles quoted fields with commas, quotes and newlines, CRLF and a missing final newline', () => {
    const text = 'a,b,c\r\n"x,1","say ""hi""","two\nlines"\n\n,,\nlast,1,2';
    expect(parseCsv(text)).toEqual([
      { fields: ['a', 'b', 'c'], line: 1 },
      { fields: ['x,1', 'say "hi"', 'two\nlines'], line: 2 },
      { fields: ['', '', ''], line: 5 },
      { fields: ['last', '1', '2'], line: 6 },
    ]);
  });

  it('rejects an unterminated quote', () => {
    expectCode(() => parseCsv('a\n"open'), 'INVALID_TRACE', /unterminated.*line 2/);
  });
});

const TAU_HEADER = 'job_id,task_id,trial,reward,call_idx,prompt_tokens,output_tokens,n_tool_calls,next,next_input_tokens';
const TAU_CSV = [
  TAU_HEADER,
  'a,0,0,1,0,100,10,1,tool,20',
  'a,0,0,1,1,130,5,0,user,7',
  'a,0,0,1,2,142,8,0,user,3',
  'b,1,0,0,1,60,4,0,tool,9', // out of order: sorted by call_idx
  'b,1,0,0,0,50,2,1,tool,5',
].join('\n');

describe('fromTauBench', () => {
  const toolDurationS = (name: string) => (name === 'tool' ? 0.5 : 3);

  it('converts calls to segments by hand-checked rules', () => {
    const jobs = fromTauBench(TAU_CSV, { arrivalRatePerS: 2, seed: 7, toolDurationS });
    const rng = mulberry32(7);
    const t1 = exponential(rng, 2);
    const t2 = t1 + exponential(rng, 2);
    expect(jobs).toEqual([
      {
        id: 'tau-a',
        arrivalS: t1,
        kind: 'tau_airline',
        segments: [
          { inputTokens: 100, outputTokens: 10, tool: { name: 'tool', durationS: 0.5 } },
          { inputTokens: 20, outputTokens: 5, tool: { name: 'user', durationS: 3 } },
          { inputTokens: 7, outputTokens: 8, tool: null },
        ],
      },
      {
        id: 'tau-b',
        arrivalS: t2,
        kind: 'tau_airline',
        segments: [
          { inputTokens: 50, outputTokens: 2, tool: { name: 'tool', durationS: 0.5 } },
          { inputTokens: 5, outputTokens: 4, tool: null },
        ],
      },
    ]);
    expect(t1).toBeGreaterThan(0);
    expectValidRoundTrip(jobs);
  });

  it('passes the seeded rng to the duration function and is reproducible', () => {
    const opts = { arrivalRatePerS: 1, seed: 3, toolDurationS: (_: string, rng: () => number) => rng() * 10 };
    const one = fromTauBench(TAU_CSV, opts);
    expect(fromTauBench(TAU_CSV, opts)).toEqual(one);
    expect(fromTauBench(TAU_CSV, { ...opts, seed: 4 })).not.toEqual(one);
    expect(one[0].segments[0].tool!.durationS).not.toBe(one[0].segments[1].tool!.durationS);
  });

  it('applies maxJobs and a shared prefix', () => {
    const jobs = fromTauBench(TAU_CSV, { arrivalRatePerS: 1, seed: 1, toolDurationS, maxJobs: 1, prefixTokens: 40 });
    expect(jobs).toHaveLength(1);
    expect(jobs[0].prefixId).toBe('tau-airline-policy');
    expect(jobs[0].prefixTokens).toBe(40);
    expect(jobs[0].segments[0].inputTokens).toBe(60);
    expectCode(
      () => fromTauBench(TAU_CSV, { arrivalRatePerS: 1, seed: 1, toolDurationS, prefixTokens: 55 }),
      'INVALID_TRACE',
      /:6: prompt_tokens 50 < prefixTokens 55/,
    );
  });

  it('rejects inconsistent traces', () => {
    const opts = { arrivalRatePerS: 1, seed: 1, toolDurationS };
    expectCode(() => fromTauBench(`${TAU_HEADER}\nx,0,0,0,0,10,1,0,end,0\nx,0,0,0,1,11,1,0,end,0`, opts), 'INVALID_TRACE', /:2: 'next' is end/);
    expectCode(() => fromTauBench(`${TAU_HEADER}\nx,0,0,0,0,10,1,0,tool,0\nx,0,0,0,2,11,1,0,end,0`, opts), 'INVALID_TRACE', /:3: .*'call_idx' 2 where 1/);
    expectCode(() => fromTauBench(`${TAU_HEADER}\nx,0,0,0,0,10,1,0,wait,0`, opts), 'INVALID_TRACE', /:2: 'next' must be/);
    expectCode(() => fromTauBench(`${TAU_HEADER}\nx,0,0,0,0,-3,1,0,end,0`, opts), 'INVALID_TRACE', /:2: 'prompt_tokens'/);
    expectCode(() => fromTauBench('job_id,call_idx\nx,0', opts), 'INVALID_TRACE', /missing column 'prompt_tokens'/);
    expectCode(() => fromTauBench(`${TAU_HEADER}\nx,0`, opts), 'INVALID_TRACE', /:2: 2 fields/);
    expectCode(() => fromTauBench(TAU_CSV, { ...opts, arrivalRatePerS: 0 }), 'INVALID_ARGUMENT', /arrivalRatePerS/);
    expectCode(() => fromTauBench(TAU_CSV, { ...opts, toolDurationS: () => NaN }), 'INVALID_ARGUMENT', /toolDurationS/);
  });

  // The shared traces sit beside the checkout (CI gets a copy too); a bare clone elsewhere skips.
  it.skipIf(!existsSync(TAU_FILE))('converts the real airline trace', () => {
    const jobs = fromTauBench(readFileSync(TAU_FILE, 'utf8'), {
      arrivalRatePerS: 0.5,
      seed: 42,
      toolDurationS: (name, rng) => (name === 'user' ? 5 + 10 * rng() : 0.05),
    });
    expect(jobs).toHaveLength(200);
    expect(jobs.reduce((n, j) => n + j.segments.length, 0)).toBe(2454);
    for (const job of jobs) {
      expect(job.segments.at(-1)!.tool).toBeNull();
      expect(job.segments.slice(0, -1).every((s) => s.tool !== null)).toBe(true);
    }
    expect(jobs.find((j) => j.id === 'tau-0_0')!.segments.slice(0, 4)).toEqual([
      { inputTokens: 1276, outputTokens: 25, tool: { name: 'user', durationS: expect.any(Number) } },
      { inputTokens: 16, outputTokens: 111, tool: { name: 'user', durationS: expect.any(Number) } },
      { inputTokens: 58, outputTokens: 20, tool: { name: 'tool', durationS: 0.05 } },
      { inputTokens: 294, outputTokens: 30, tool: { name: 'tool', durationS: 0.05 } },
    ]);
    expectValidRoundTrip(jobs);
  });
});

const SWE_HEADER = 'run_dir,file,step,execution_time_s,action_chars,observation_chars,response_chars';
const SWE_CSV = [
  SWE_HEADER,
  'r1,f.traj,0,0.25,10,41,17',
  'r1,f.traj,2,0.1,3,100,0',
  'r1,f.traj,1,1.5,5,8,4',
  '"r,2",g.traj,0,0.3,1,2,9',
].join('\n');

describe('fromSweAgentSteps', () => {
  it('converts steps to segments by hand-checked rules', () => {
    const jobs = fromSweAgentSteps(SWE_CSV, { arrivalRatePerS: 1, seed: 5, systemPromptTokens: 500 });
    const rng = mulberry32(5);
    const t1 = exponential(rng, 1);
    const t2 = t1 + exponential(rng, 1);
    expect(jobs).toEqual([
      {
        id: 'swe-0',
        arrivalS: t1,
        kind: 'swe_agent',
        segments: [
          { inputTokens: 500, outputTokens: 5, tool: { name: 'swe_action', durationS: 0.25 } }, // ceil(17/4)
          { inputTokens: 11, outputTokens: 1, tool: { name: 'swe_action', durationS: 1.5 } }, // ceil(41/4), ceil(4/4)
          { inputTokens: 2, outputTokens: 1, tool: null }, // ceil(8/4); 0 response chars → 1
        ],
      },
      { id: 'swe-1', arrivalS: t2, kind: 'swe_agent', segments: [{ inputTokens: 500, outputTokens: 3, tool: null }] },
    ]);
    expectValidRoundTrip(jobs);
    // Defaults: 1300-token first prompt; charsPerToken changes the rounding.
    expect(fromSweAgentSteps(SWE_CSV, { arrivalRatePerS: 1, seed: 5 })[0].segments[0].inputTokens).toBe(1300);
    expect(fromSweAgentSteps(SWE_CSV, { arrivalRatePerS: 1, seed: 5, charsPerToken: 2 })[0].segments[1].inputTokens).toBe(21);
  });

  // As above: runs wherever ../shared/traces exists beside the checkout.
  it.skipIf(!existsSync(SWE_FILE))('converts the real steps file', () => {
    const jobs = fromSweAgentSteps(readFileSync(SWE_FILE, 'utf8'), { arrivalRatePerS: 1, seed: 1 });
    expect(jobs).toHaveLength(4);
    expect(jobs.map((j) => j.segments.length).sort((a, b) => a - b)).toEqual([5, 11, 11, 13]);
    const tools = jobs.flatMap((j) => j.segments.flatMap((s) => (s.tool ? [s.tool.durationS] : [])));
    expect(tools).toHaveLength(36);
    expect(tools.every((d) => d > 0 && d < 2)).toBe(true); // README: max 1.95 s
    for (const job of jobs) expect(job.segments.at(-1)!.tool).toBeNull();
    expectValidRoundTrip(jobs);
  });
});

describe('syntheticAgentWorkload', () => {
  it('is reproducible for a seed and valid', () => {
    const a = syntheticAgentWorkload({ jobs: 300, arrivalRatePerS: 4, seed: 11 });
    expect(syntheticAgentWorkload({ jobs: 300, arrivalRatePerS: 4, seed: 11 })).toEqual(a);
    expect(syntheticAgentWorkload({ jobs: 300, arrivalRatePerS: 4, seed: 12 })).not.toEqual(a);
    expect(a).toHaveLength(300);
    expect(new Set(a.map((j) => j.kind))).toEqual(new Set(['airline', 'coding', 'chat']));
    for (let i = 1; i < a.length; i++) expect(a[i].arrivalS).toBeGreaterThan(a[i - 1].arrivalS);
    // Mean inter-arrival ≈ 1 / rate.
    expect(a.at(-1)!.arrivalS / a.length).toBeGreaterThan(0.2);
    expect(a.at(-1)!.arrivalS / a.length).toBeLessThan(0.3);
    for (const job of a.filter((j) => j.kind === 'chat')) expect(job.segments).toHaveLength(1);
    for (const job of a.filter((j) => j.kind === 'airline')) {
      expect(job.prefixId).toBe('airline-system');
      expect(job.segments.length).toBeGreaterThanOrEqual(4);
      expect(job.segments.length).toBeLessThanOrEqual(20);
    }
    expectValidRoundTrip(a);
  });

  it('makes long conversations: a shared prompt, 4–30 turns, the person answering in between', () => {
    const jobs = syntheticAgentWorkload({ jobs: 200, arrivalRatePerS: 1, seed: 3, kinds: [CONVERSATION_KIND] });
    const ends: number[] = [];
    for (const job of jobs) {
      expect(job.kind).toBe('conversation');
      expect(job.prefixId).toBe('conversation-system');
      expect(job.segments.length).toBeGreaterThanOrEqual(4);
      expect(job.segments.length).toBeLessThanOrEqual(30);
      for (const s of job.segments.slice(0, -1)) {
        expect(s.tool!.name).toBe('user');
        expect(s.tool!.durationS).toBeGreaterThanOrEqual(1);
        expect(s.tool!.durationS).toBeLessThanOrEqual(300);
      }
      expect(job.segments.at(-1)!.tool).toBeNull();
      ends.push(job.segments.reduce((sum, s) => sum + s.inputTokens + s.outputTokens, 600));
    }
    // Contexts reach tens of thousands of tokens: a 30-turn session is ~13,000 at the medians.
    expect(Math.max(...ends)).toBeGreaterThan(20000);
    expectValidRoundTrip(jobs);
  });

  it('follows a custom kind with constant distributions exactly', () => {
    const kind: SyntheticKind = {
      name: 'fixed',
      weight: 1,
      segments: { min: 3, max: 3 },
      firstInputTokens: { type: 'constant', value: 100 },
      toolResultTokens: { type: 'constant', value: 20.4 },
      outputTokens: { type: 'constant', value: 0 },
      toolDurationS: { type: 'constant', value: 1.5 },
      tools: ['grep'],
    };
    const jobs = syntheticAgentWorkload({ jobs: 2, arrivalRatePerS: 1, seed: 1, kinds: [kind] });
    expect(jobs.map((j) => j.id)).toEqual(['syn-0', 'syn-1']);
    expect(jobs[0].prefixId).toBeUndefined();
    expect(jobs[0].segments).toEqual([
      { inputTokens: 100, outputTokens: 1, tool: { name: 'grep', durationS: 1.5 } }, // outputs ≥ 1
      { inputTokens: 20, outputTokens: 1, tool: { name: 'grep', durationS: 1.5 } }, // 20.4 rounds to 20
      { inputTokens: 20, outputTokens: 1, tool: null },
    ]);
    expectCode(
      () => syntheticAgentWorkload({ jobs: 1, arrivalRatePerS: 1, seed: 1, kinds: [{ ...kind, segments: { min: 0, max: 2 } }] }),
      'INVALID_ARGUMENT',
      /segments/,
    );
    expectCode(() => syntheticAgentWorkload({ jobs: 1, arrivalRatePerS: 1, seed: 1, kinds: [] }), 'INVALID_ARGUMENT', /kinds/);
  });
});
