/** The lines of JSONL files (each a JSON value; blank lines skipped), in file order: the bench scripts' result files. */
import { readFileSync } from 'node:fs';

export function readJsonLines<T>(files: readonly string[]): T[] {
  return files.flatMap((file) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as T),
  );
}
