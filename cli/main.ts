#!/usr/bin/env node
// `pgcdc` command line: the operator's verbs (pipeline processes, snapshot, dlq, status, replay,
// check, slots, contract, peers; assembled in cli/verbs.ts). Each verb gets its wiring from the
// composition root (pipeline/compose.ts). Every verb has --help. Development tooling (stack, demo,
// bench) is `pgcdc-dev` (dev/cli/main.ts).
import { runProgram } from './program.ts';
import { buildProgram } from './verbs.ts';

await runProgram(buildProgram(), 'pgcdc');
