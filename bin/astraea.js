#!/usr/bin/env node
// The installed command. The TypeScript sources are compiled to dist/ by `npm install` (prepare).
import { main } from '../dist/lib/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (error) => { console.error(error); process.exitCode = 1; },
);
