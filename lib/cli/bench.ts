/**
 * `astraea bench`: the main job — an agent workload on the default model — arrives with the
 * scheduler and workload issues. Until then it says so plainly and points at what exists.
 */
export async function runBench(_args: string[]): Promise<void> {
  process.stdout.write(
    'astraea bench: not yet available (the agent-workload benchmark lands with the scheduling issues).\n' +
      'Available now: `npm run bench:forward` (the native forward pass, tokens/s), `npm run bench:engine`\n' +
      '(the control plane\'s cost) and `npm run bench:policies` (every policy on a synthetic agent workload).\n',
  );
}
