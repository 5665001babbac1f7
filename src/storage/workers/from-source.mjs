/**
 * Pool worker entry when Ferry runs from its TypeScript sources (tests,
 * benchmarks under tsx). Node 20 does not apply `--import tsx` loader hooks
 * inside worker threads, so the worker module is loaded through tsx's
 * scoped-import API instead. Built code (dist/) uses storage-worker.js directly.
 */

import { tsImport } from 'tsx/esm/api';

const worker = await tsImport('./storage-worker.ts', import.meta.url);

export const recoverSegment = (task) => worker.recoverSegment(task);
export const compact = (plan) => worker.compact(plan);
export const validate = (task) => worker.validate(task);
export const replayProducers = (task) => worker.replayProducers(task);
