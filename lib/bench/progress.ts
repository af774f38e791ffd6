/**
 * Progress for long runs. On a terminal, a cli-progress bar on stderr per policy (jobs done of
 * all, elapsed); elsewhere (CI logs, pipes) one line per finished policy instead of a bar.
 * `--json` keeps stdout for the JSON lines: progress only ever goes to stderr.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  start(label: string, total: number): void;
  update(done: number): void;
  stop(summaryLine: string): void;
}

export function progress(stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) {
    return { start() {}, update() {}, stop: (line) => void stream.write(line + '\n') };
  }
  let bar: cliProgress.SingleBar | null = null;
  return {
    start(label, total) {
      bar = new cliProgress.SingleBar(
        { stream, format: `${label.padEnd(14)} {bar} {value}/{total} jobs | {duration_formatted}`, hideCursor: true, clearOnComplete: true, etaBuffer: 50 },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total, 0);
    },
    update(done) {
      bar?.update(done);
    },
    stop(line) {
      bar?.stop();
      bar = null;
      stream.write(line + '\n');
    },
  };
}
