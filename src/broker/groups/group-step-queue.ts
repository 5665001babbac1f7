/**
 * One lane per group id, on which every step that reads a group's state,
 * decides, appends to __consumer_offsets and then applies the outcome in
 * memory (a commit, a reset, a retention pass over the group, OffsetDelete,
 * DeleteGroups, a deleted topic, storing the group's metadata) runs alone,
 * in arrival order. Without it two steps interleave across their append: a
 * retention pass decides from offsets a commit is about to replace, and the
 * commit is acknowledged and then deleted. With it, the order of records on
 * disk is the order applied in memory and answered to clients.
 *
 * Membership (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) does not queue
 * here: it appends nothing itself, and steps re-check what it may change.
 * A lane holds at most the requests in flight on the group's connections
 * (each connection bounds its own), and disappears once idle.
 */

interface Lane {
  /** Settles (never rejects) when the last queued step has finished. */
  tail: Promise<void>;
  /** Steps queued or running. */
  steps: number;
}

export class GroupStepQueue {
  private readonly lanes = new Map<string, Lane>();

  /** `onDrained` runs when a group's last queued step finishes, before that step's caller is answered. */
  constructor(private readonly onDrained: (groupId: string) => void) {}

  /** Runs `step` once every step queued before it for this group has finished; an idle group's step starts at once. */
  run<T>(groupId: string, step: () => Promise<T>): Promise<T> {
    let lane = this.lanes.get(groupId);
    const idle = lane === undefined;
    if (lane === undefined) {
      lane = { tail: Promise.resolve(), steps: 0 };
      this.lanes.set(groupId, lane);
    }
    const owner = lane;
    owner.steps++;
    const turn = async (): Promise<T> => {
      try {
        return await step();
      } finally {
        owner.steps--;
        if (owner.steps === 0) {
          this.lanes.delete(groupId);
          this.onDrained(groupId);
        }
      }
    };
    const result = idle ? turn() : owner.tail.then(turn);
    owner.tail = result.then(ignore, ignore);
    return result;
  }

  /** Resolves once no step of any group is queued or running (broker close lets stores finish before logs close). */
  async settled(): Promise<void> {
    while (this.lanes.size > 0) await Promise.all([...this.lanes.values()].map((lane) => lane.tail));
  }

  /** A step of this group is queued or running. */
  isBusy(groupId: string): boolean {
    return this.lanes.has(groupId);
  }
}

function ignore(): void {}
