/**
 * `astraea serve` as a user runs it: the installed command (bin/astraea.js, which runs the
 * compiled dist/) in its own process on a port the system picks, stopped with SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'astraea.js');

export interface ServeProcess {
  /** The OpenAI base URL, e.g. http://127.0.0.1:41234/v1. */
  baseURL: string;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  /** Everything the process wrote to stdout so far. */
  stdout(): string;
  /** Closes the reading end of its stdout, as a log reader that went away does. */
  closeStdout(): void;
  /** SIGTERM, then the exit code once it has drained. */
  stop(): Promise<number | null>;
}

export async function startServe(args: string[], timeoutMs = 60_000): Promise<ServeProcess> {
  const child: ChildProcess = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const baseURL = await new Promise<string>((resolve, reject) => {
    let listening = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`astraea serve did not start in ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const m = /(http:\/\/\S+\/v1)\n/.exec(stdout);
      if (m && !listening) {
        listening = true;
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    void exited.then((code) => {
      if (listening) return;
      clearTimeout(timer);
      reject(new Error(`astraea serve exited with ${code} before listening; stderr: ${stderr}`));
    });
  });

  return {
    baseURL,
    stderr: () => stderr,
    stdout: () => stdout,
    closeStdout: () => child.stdout!.destroy(),
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
