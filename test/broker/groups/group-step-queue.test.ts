import { describe, expect, it } from 'vitest';
import { GroupStepQueue } from '../../../src/broker/groups/group-step-queue.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

describe('GroupStepQueue', () => {
  it('runs one group\'s steps one at a time in arrival order, other groups\' alongside, and forgets an idle group', async () => {
    const drained: string[] = [];
    const queue = new GroupStepQueue((groupId) => drained.push(groupId));
    const log: string[] = [];
    const gate = deferred();
    const first = queue.run('g', async () => {
      log.push('g1 start');
      await gate.promise;
      log.push('g1 end');
      return 1;
    });
    const second = queue.run('g', async () => {
      log.push('g2');
      return 2;
    });
    const other = queue.run('h', async () => {
      log.push('h');
      return 3;
    });
    expect(queue.isBusy('g')).toBe(true);
    expect(await other).toBe(3);
    expect(log).toEqual(['g1 start', 'h']);
    gate.resolve();
    expect(await Promise.all([first, second])).toEqual([1, 2]);
    expect(log).toEqual(['g1 start', 'h', 'g1 end', 'g2']);
    expect(queue.isBusy('g')).toBe(false);
    expect(drained).toEqual(['h', 'g']);
  });

  it('a failed step fails its caller only; the next step runs, and the group is drained before the caller is answered', async () => {
    const drained: string[] = [];
    const queue = new GroupStepQueue((groupId) => drained.push(groupId));
    const failed = queue.run('g', async () => {
      throw new Error('append failed');
    });
    const next = queue.run('g', async () => 'ok');
    await expect(failed).rejects.toThrow('append failed');
    expect(await next).toBe('ok');
    expect(drained).toEqual(['g']);
  });
});
