/** `ferry partitions reassign`'s file, checks and --verify lines (reassignment-plan.ts). */

import { describe, expect, it } from 'vitest';
import { checkPlan, parseReassignmentFile, verifyLine } from '../../src/cli/reassignment-plan.js';

const cluster = { partitionCounts: new Map([['t', 2]]), liveBrokers: new Set([1, 2, 3, 4]) };
const plan = (replicas: number[], topic = 't', partition = 0) => [{ topic, partition, replicas }];

describe('reassignment plan', () => {
  it("reads kafka-reassign-partitions' file and refuses other shapes in one line", () => {
    expect(parseReassignmentFile('f.json', '{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[2,3,4],"log_dirs":["any","any","any"]}]}')).toEqual(plan([2, 3, 4]));
    expect(() => parseReassignmentFile('f.json', '{')).toThrow(/^f\.json: not JSON/);
    expect(() => parseReassignmentFile('f.json', '{"version":2,"partitions":[]}')).toThrow(/expected \{"version":1/);
    expect(() => parseReassignmentFile('f.json', '{"version":1,"partitions":[]}')).toThrow(/no partitions/);
    expect(() => parseReassignmentFile('f.json', '{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":["a"]}]}')).toThrow(/replicas must be broker ids/);
  });

  it('refuses unknown topics and partitions, empty, duplicate and non-live replica lists, and repeated partitions', () => {
    expect(() => checkPlan(plan([2, 3, 4]), cluster)).not.toThrow();
    expect(() => checkPlan(plan([2], 'nope'), cluster)).toThrow('unknown topic nope');
    expect(() => checkPlan(plan([2], 't', 2), cluster)).toThrow('unknown partition t-2 (topic t has 2)');
    expect(() => checkPlan(plan([]), cluster)).toThrow('partition t-0: the replica list is empty');
    expect(() => checkPlan(plan([2, 3, 2]), cluster)).toThrow('partition t-0: broker 2 is listed twice in its replicas');
    expect(() => checkPlan(plan([2, 9]), cluster)).toThrow('partition t-0: brokers 9 are not live (live: 1,2,3,4)');
    expect(() => checkPlan([...plan([2]), ...plan([3])], cluster)).toThrow('partition t-0 is listed more than once');
  });

  it('verifies: in progress with adding and removing, not started, complete, or ended elsewhere', () => {
    const [planned] = plan([2, 3, 4]);
    const moving = { leader: 1, leaderEpoch: 0, replicas: [2, 3, 4, 1], isr: [1, 2, 3], adding: [4], removing: [1], throttleBytesPerSecond: null };
    expect(verifyLine(planned!, moving, undefined)).toEqual({ line: 'Reassignment of partition t-0 is still in progress: target 2,3,4, adding 4, removing 1.', complete: false });
    const before = { leader: 1, leaderEpoch: 0, replicas: [1, 2, 3], isr: [1, 2, 3] };
    expect(verifyLine(planned!, before, { replicas: [2, 3, 4], throttleBytesPerSecond: null }).complete).toBe(false);
    expect(verifyLine(planned!, { ...before, replicas: [2, 3, 4] }, undefined)).toEqual({ line: 'Reassignment of partition t-0 is complete.', complete: true });
    expect(verifyLine(planned!, before, undefined).line).toMatch(/no active reassignment .* replica set is 1,2,3 rather than 2,3,4/);
  });
});
