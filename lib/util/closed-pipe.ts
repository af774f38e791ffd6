/**
 * A reader that stops early (`astraea simulate … | head`, `node dist/bench/policies/sweep.js | head`)
 * closes the pipe, and the next write fails with EPIPE, which Node raises as an unhandled error
 * with a stack trace. Programs that print results end quietly instead, as Unix tools do; a server
 * (`keepRunning`) goes on serving with its log unread, and drains on SIGTERM as before.
 */
let handled = false;

export function endQuietlyOnClosedPipe(options: { keepRunning?: boolean } = {}): void {
  if (handled) return; // once per process, however often the CLI's main() runs
  handled = true;
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') throw error;
    if (!options.keepRunning) process.exit(0);
  });
}
