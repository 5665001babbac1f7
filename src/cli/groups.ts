/**
 * `ferry groups list|describe|delete|reset-offsets`, modelled on Kafka's
 * kafka-consumer-groups.sh and, like it, a Kafka protocol client of a
 * running broker (--bootstrap-server): it works against Ferry's Kafka port
 * and against any Kafka cluster. Tables keep that tool's columns and widths:
 *
 *   GROUP           TOPIC           PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG             CONSUMER-ID     HOST            CLIENT-ID
 *   orders-app      orders          0          5               8               3               app-1-3c…       /127.0.0.1      app-1
 *
 * with `-` where there is no value (a partition with a committed offset and
 * no owner, a partition owned and never committed). Notes Kafka writes to
 * stderr (no active members, rebalancing, a preview) go to `warn`.
 *
 * reset-offsets follows Kafka's rules: only while the group has no members
 * (Empty, or Dead: not yet existing), a preview unless --execute, target
 * offsets clamped into [log start, log end], --to-datetime falling back to
 * the log end where no record is that new, --shift-by needing a committed
 * offset. The commit is a simple one (no generation, no member id), which a
 * coordinator refuses once a member has joined in the meantime.
 */

import { Command, InvalidArgumentError, Option } from 'commander';
import { FerryError } from '../errors.js';
import { KafkaAdminClient } from '../client/kafka/index.js';
import type { GroupDescription, ListedOffset, PartitionOffset, SaslPlainCredentials, TopicPartition } from '../client/kafka/index.js';
import { alignedTable } from './columns.js';
import { CliError } from './http-api.js';

type Write = (line: string) => void;

export const DEFAULT_BOOTSTRAP_SERVER = 'localhost:9092';
const MISSING = '-';
/** States in which a group has members, or is getting them: Kafka refuses a reset then. */
const INACTIVE_STATES = new Set(['Empty', 'Dead']);
const REBALANCING_STATES = new Set(['PreparingRebalance', 'CompletingRebalance', 'Assigning', 'Reconciling']);

// ------------------------------------------------------------------ argument parsing

/** `user:password` (the password may hold colons). */
export function saslPlainCredentials(value: string): SaslPlainCredentials {
  const colon = value.indexOf(':');
  if (colon <= 0) throw new InvalidArgumentError('expected user:password');
  return { username: value.slice(0, colon), password: value.slice(colon + 1) };
}

function integer(value: string): bigint {
  if (!/^-?\d+$/.test(value)) throw new InvalidArgumentError('an integer');
  return BigInt(value);
}

function offsetArgument(value: string): bigint {
  const parsed = integer(value);
  if (parsed < 0n) throw new InvalidArgumentError('an offset from 0');
  return parsed;
}

const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:\d{2})?$/;

/** Kafka's reset datetime, YYYY-MM-DDTHH:mm:SS.sss with an optional Z or ±hh:mm; local time without one (as ECMAScript reads it). */
export function parseDatetime(value: string): number {
  const ms = DATETIME.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) throw new InvalidArgumentError('a datetime as YYYY-MM-DDTHH:mm:SS.sss, optionally followed by Z or ±hh:mm');
  return ms;
}

export interface TopicSelection {
  topic: string;
  /** null: every partition of the topic. */
  partitions: number[] | null;
}

/** `orders` or `orders:0,2`; repeatable. */
export function topicSelection(value: string, previous: TopicSelection[] = []): TopicSelection[] {
  const colon = value.lastIndexOf(':');
  if (colon < 0) return [...previous, { topic: value, partitions: null }];
  const list = value.slice(colon + 1);
  if (!/^\d+(,\d+)*$/.test(list) || colon === 0) throw new InvalidArgumentError(`expected <topic> or <topic>:<partition>,<partition>..., got ${value}`);
  return [...previous, { topic: value.slice(0, colon), partitions: list.split(',').map(Number) }];
}

// ------------------------------------------------------------------ reset arithmetic

export type ResetMode = { kind: 'earliest' } | { kind: 'latest' } | { kind: 'offset'; offset: bigint } | { kind: 'shift'; by: bigint } | { kind: 'datetime'; timestampMs: number };

interface PartitionBounds {
  start: bigint;
  end: bigint;
}

/** Kafka's checkOffsetsRange: below the log start becomes the log start, past the log end the log end. */
export function clampOffset(offset: bigint, bounds: PartitionBounds): bigint {
  if (offset < bounds.start) return bounds.start;
  if (offset > bounds.end) return bounds.end;
  return offset;
}

function key(entry: TopicPartition): string {
  return `${entry.topic}-${entry.partition}`;
}

function offsetsByPartition(entries: readonly ListedOffset[]): Map<string, bigint> {
  const failed = entries.find((entry) => entry.error !== null);
  if (failed?.error) throw failed.error;
  return new Map(entries.map((entry) => [key(entry), entry.offset]));
}

async function newOffsets(admin: KafkaAdminClient, groupId: string, partitions: readonly TopicPartition[], mode: ResetMode, warn: Write): Promise<PartitionOffset[]> {
  const [earliest, latest] = await Promise.all([admin.listOffsets(partitions, 'earliest'), admin.listOffsets(partitions, 'latest')]);
  const starts = offsetsByPartition(earliest);
  const ends = offsetsByPartition(latest);
  const bounds = (entry: TopicPartition): PartitionBounds => ({ start: starts.get(key(entry)) ?? 0n, end: ends.get(key(entry)) ?? 0n });
  const requested = await requestedOffsets(admin, groupId, partitions, mode, bounds);
  return partitions.map((entry) => {
    const wanted = requested.get(key(entry)) ?? 0n;
    const offset = clampOffset(wanted, bounds(entry));
    if (offset !== wanted) {
      warn(`New offset (${wanted}) is ${wanted < offset ? 'lower than the earliest' : 'higher than the latest'} offset of ${key(entry)}: it will be set to ${offset}.`);
    }
    return { ...entry, offset };
  });
}

async function requestedOffsets(
  admin: KafkaAdminClient,
  groupId: string,
  partitions: readonly TopicPartition[],
  mode: ResetMode,
  bounds: (entry: TopicPartition) => PartitionBounds,
): Promise<Map<string, bigint>> {
  switch (mode.kind) {
    case 'earliest':
      return new Map(partitions.map((entry) => [key(entry), bounds(entry).start]));
    case 'latest':
      return new Map(partitions.map((entry) => [key(entry), bounds(entry).end]));
    case 'offset':
      return new Map(partitions.map((entry) => [key(entry), mode.offset]));
    case 'shift': {
      const committed = new Map((await admin.committedOffsets(groupId, partitions)).map((entry) => [key(entry), entry.offset]));
      return new Map(
        partitions.map((entry) => {
          const current = committed.get(key(entry));
          if (current === undefined) throw new CliError(`Cannot shift offset for partition ${key(entry)} since there is no current committed offset.`);
          return [key(entry), current + mode.by];
        }),
      );
    }
    case 'datetime': {
      const found = offsetsByPartition(await admin.listOffsets(partitions, { timestampMs: mode.timestampMs }));
      return new Map(
        partitions.map((entry) => {
          const offset = found.get(key(entry)) ?? -1n;
          // No record at or after the time (-1): the log end, as Kafka resets it.
          return [key(entry), offset < 0n ? bounds(entry).end : offset];
        }),
      );
    }
  }
}

async function partitionsToReset(admin: KafkaAdminClient, groupId: string, selections: readonly TopicSelection[], allTopics: boolean): Promise<TopicPartition[]> {
  if (allTopics) return (await admin.committedOffsets(groupId)).map(({ topic, partition }) => ({ topic, partition }));
  const topics = await admin.describeTopics([...new Set(selections.map((selection) => selection.topic))]);
  return selections.flatMap((selection) => {
    const existing = topics.find((topic) => topic.name === selection.topic)?.partitions.map((p) => p.partition) ?? [];
    for (const partition of selection.partitions ?? []) {
      if (!existing.includes(partition)) throw new CliError(`topic ${selection.topic} has no partition ${partition} (it has ${existing.length})`);
    }
    return (selection.partitions ?? existing).map((partition) => ({ topic: selection.topic, partition }));
  });
}

// ------------------------------------------------------------------ describe views

interface OffsetRow {
  topic: string;
  partition: number;
  current: bigint | null;
  logEnd: bigint | null;
  owner: { consumerId: string; host: string; clientId: string } | null;
}

/** Kafka's --describe --offsets rows: owned partitions, then committed ones no member owns; by topic and partition. */
export async function groupOffsetRows(admin: KafkaAdminClient, group: GroupDescription): Promise<OffsetRow[]> {
  const committed = await admin.committedOffsets(group.groupId);
  const owners = new Map<string, OffsetRow['owner'] & TopicPartition>();
  for (const member of group.members) {
    for (const { topic, partitions } of member.assignment) {
      for (const partition of partitions) owners.set(key({ topic, partition }), { topic, partition, consumerId: member.memberId, host: member.clientHost, clientId: member.clientId });
    }
  }
  const committedBy = new Map(committed.map((entry) => [key(entry), entry.offset]));
  const partitions = [...owners.values(), ...committed.filter((entry) => !owners.has(key(entry)))].map(({ topic, partition }) => ({ topic, partition }));
  const logEnds = new Map((await admin.listOffsets(partitions, 'latest')).map((entry) => [key(entry), entry.error === null ? entry.offset : null]));
  const rows = partitions.map((entry) => {
    const owner = owners.get(key(entry));
    return {
      ...entry,
      current: committedBy.get(key(entry)) ?? null,
      logEnd: logEnds.get(key(entry)) ?? null,
      owner: owner ? { consumerId: owner.consumerId, host: owner.host, clientId: owner.clientId } : null,
    };
  });
  const owned = (row: OffsetRow): number => (row.owner === null ? 1 : 0);
  return rows.sort((a, b) => owned(a) - owned(b) || (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
}

function offsetsTable(groupId: string, rows: readonly OffsetRow[]): string[] {
  const text = (value: bigint | null): string => (value === null ? MISSING : String(value));
  return alignedTable(
    [
      { header: 'GROUP', widthMin: 15 },
      { header: 'TOPIC', widthMin: 15 },
      { header: 'PARTITION', widthMin: 10 },
      { header: 'CURRENT-OFFSET', widthMin: 15 },
      { header: 'LOG-END-OFFSET', widthMin: 15 },
      { header: 'LAG', widthMin: 15 },
      { header: 'CONSUMER-ID', widthMin: 15 },
      { header: 'HOST', widthMin: 15 },
      { header: 'CLIENT-ID', widthMin: 0 },
    ],
    rows.map((row) => [
      groupId,
      row.topic,
      String(row.partition),
      text(row.current),
      text(row.logEnd),
      row.current === null || row.logEnd === null ? MISSING : String(row.logEnd - row.current),
      row.owner?.consumerId ?? MISSING,
      row.owner?.host ?? MISSING,
      row.owner?.clientId ?? MISSING,
    ]),
  );
}

function membersTable(group: GroupDescription, verbose: boolean): string[] {
  const withInstanceId = group.members.some((member) => member.groupInstanceId !== null);
  const columns = [
    { header: 'GROUP', widthMin: 15 },
    { header: 'CONSUMER-ID', widthMin: 15 },
    ...(withInstanceId ? [{ header: 'GROUP-INSTANCE-ID', widthMin: 17 }] : []),
    { header: 'HOST', widthMin: 15 },
    { header: 'CLIENT-ID', widthMin: 15 },
    { header: '#PARTITIONS', widthMin: verbose ? 12 : 0 },
    ...(verbose ? [{ header: 'ASSIGNMENT', widthMin: 0 }] : []),
  ];
  const rows = group.members.map((member) => {
    const count = member.assignment.reduce((sum, entry) => sum + entry.partitions.length, 0);
    const assignment = member.assignment.map((entry) => `${entry.topic}(${entry.partitions.join(',')})`).join(', ') || MISSING;
    return [
      group.groupId,
      member.memberId,
      ...(withInstanceId ? [member.groupInstanceId ?? MISSING] : []),
      member.clientHost,
      member.clientId,
      String(count),
      ...(verbose ? [assignment] : []),
    ];
  });
  return alignedTable(columns, rows);
}

function stateTable(group: GroupDescription & { coordinator: { nodeId: number; host: string; port: number } }): string[] {
  return alignedTable(
    [
      { header: 'GROUP', widthMin: 15 },
      { header: 'COORDINATOR (ID)', widthMin: 25 },
      { header: 'ASSIGNMENT-STRATEGY', widthMin: 20 },
      { header: 'STATE', widthMin: 15 },
      { header: '#MEMBERS', widthMin: 0 },
    ],
    [[group.groupId, `${group.coordinator.host}:${group.coordinator.port}  (${group.coordinator.nodeId})`, group.protocolName, group.state, String(group.members.length)]],
  );
}

function resetTable(groupId: string, offsets: readonly PartitionOffset[]): string[] {
  return alignedTable(
    [
      { header: 'GROUP', widthMin: 30 },
      { header: 'TOPIC', widthMin: 30 },
      { header: 'PARTITION', widthMin: 10 },
      { header: 'NEW-OFFSET', widthMin: 0 },
    ],
    offsets.map((entry) => [groupId, entry.topic, String(entry.partition), String(entry.offset)]),
  );
}

// ------------------------------------------------------------------ commands

/** A group that does not exist is an error for describe, as kafka-consumer-groups says it. */
async function existingGroup(admin: KafkaAdminClient, groupId: string): ReturnType<KafkaAdminClient['describeGroup']> {
  const group = await admin.describeGroup(groupId);
  if (group.state === 'Dead') throw new CliError(`Consumer group '${groupId}' does not exist.`);
  return group;
}

function stateNote(group: GroupDescription, warn: Write): void {
  if (group.state === 'Empty') warn(`Consumer group '${group.groupId}' has no active members.`);
  if (REBALANCING_STATES.has(group.state)) warn(`Warning: Consumer group '${group.groupId}' is rebalancing.`);
}

interface DescribeOptions {
  members: boolean;
  state: boolean;
  verbose: boolean;
  allGroups: boolean;
}

interface ResetOptions {
  topic?: TopicSelection[];
  allTopics: boolean;
  toEarliest: boolean;
  toLatest: boolean;
  toOffset?: bigint;
  toDatetime?: number;
  shiftBy?: bigint;
  execute: boolean;
  dryRun?: boolean;
}

function resetMode(options: ResetOptions): ResetMode {
  const modes: ResetMode[] = [
    ...(options.toEarliest ? [{ kind: 'earliest' } as const] : []),
    ...(options.toLatest ? [{ kind: 'latest' } as const] : []),
    ...(options.toOffset !== undefined ? [{ kind: 'offset', offset: options.toOffset } as const] : []),
    ...(options.toDatetime !== undefined ? [{ kind: 'datetime', timestampMs: options.toDatetime } as const] : []),
    ...(options.shiftBy !== undefined ? [{ kind: 'shift', by: options.shiftBy } as const] : []),
  ];
  const [mode] = modes;
  if (modes.length !== 1 || mode === undefined) throw new CliError('reset-offsets needs exactly one of --to-earliest, --to-latest, --to-offset, --to-datetime, --shift-by');
  return mode;
}

export interface GroupsIo {
  write: Write;
  warn: Write;
}

/**
 * The `groups` command group. Every subcommand opens one admin client on
 * --bootstrap-server and closes it when done; a broker that cannot be
 * reached is said in one line.
 */
export function groupsCommand(io: GroupsIo): Command {
  const groups = new Command('groups')
    .description('list, describe, delete consumer groups and reset their offsets, over the Kafka protocol (like kafka-consumer-groups)')
    .addOption(new Option('--bootstrap-server <host:port>', "a broker's Kafka address (Ferry's --kafka-port, or any Kafka broker)").default(DEFAULT_BOOTSTRAP_SERVER).env('FERRY_BOOTSTRAP_SERVER'))
    .addOption(new Option('--sasl-plain <user:password>', 'authenticate with SASL/PLAIN (prefer the environment variable: a flag shows in ps)').argParser(saslPlainCredentials).env('FERRY_SASL_PLAIN'));

  const withAdmin = async (run: (admin: KafkaAdminClient) => Promise<void>): Promise<void> => {
    const { bootstrapServer, saslPlain } = groups.opts<{ bootstrapServer: string; saslPlain?: SaslPlainCredentials }>();
    const admin = new KafkaAdminClient({ bootstrapServer, clientId: 'ferry-groups', ...(saslPlain === undefined ? {} : { saslPlain }) });
    try {
      await admin.connect().catch((error: unknown) => {
        if (error instanceof FerryError && error.errorName === 'NETWORK_EXCEPTION') {
          throw new CliError(`${error.message}; is a broker listening there? (ferry start, or set --bootstrap-server / FERRY_BOOTSTRAP_SERVER)`);
        }
        throw error;
      });
      await run(admin);
    } finally {
      admin.close();
    }
  };

  groups
    .command('list')
    .description('every group with its state (like kafka-consumer-groups --list --state)')
    .option('--state <states>', 'only groups in these states, comma-separated (case-insensitive): Empty, Stable, PreparingRebalance, CompletingRebalance')
    .action((options: { state?: string }) =>
      withAdmin(async (admin) => {
        const listed = await admin.listGroups();
        // A broker below ListGroups v4 does not say the state: ask DescribeGroups, as Kafka's tool does.
        const withStates = await Promise.all(listed.map(async (group) => ({ ...group, state: group.state ?? (await admin.describeGroup(group.groupId)).state })));
        const wanted = new Set((options.state ?? '').split(',').filter(Boolean).map((state) => state.toLowerCase()));
        const shown = withStates.filter((group) => wanted.size === 0 || wanted.has(group.state.toLowerCase()));
        for (const line of alignedTable([{ header: 'GROUP', widthMin: 15 }, { header: 'STATE', widthMin: 0 }], shown.map((group) => [group.groupId, group.state]))) io.write(line);
      }),
    );

  groups
    .command('describe')
    .argument('[groups...]', 'groups to describe')
    .description("each partition's committed offset, log end and lag, with its owner (like kafka-consumer-groups --describe)")
    .option('--all-groups', 'describe every group', false)
    .option('--members', 'the members instead: consumer id, host, client id, partition count', false)
    .option('--verbose', 'with --members: each member\'s assignment too', false)
    .option('--state', "the group's coordinator, assignor, state and member count instead", false)
    .action((names: string[], options: DescribeOptions) =>
      withAdmin(async (admin) => {
        if (options.members && options.state) throw new CliError('--members and --state are different views: give one');
        const groupIds = options.allGroups ? (await admin.listGroups()).map((group) => group.groupId) : names;
        if (groupIds.length === 0) throw new CliError(options.allGroups ? 'there are no groups' : 'name a group to describe, or give --all-groups');
        for (const [i, groupId] of groupIds.entries()) {
          if (i > 0) io.write('');
          const group = await existingGroup(admin, groupId);
          if (options.state) {
            for (const line of stateTable(group)) io.write(line);
            continue;
          }
          stateNote(group, io.warn);
          if (options.members) {
            if (group.members.length > 0) for (const line of membersTable(group, options.verbose)) io.write(line);
            continue;
          }
          const rows = await groupOffsetRows(admin, group);
          if (rows.length > 0) for (const line of offsetsTable(groupId, rows)) io.write(line);
        }
      }),
    );

  groups
    .command('delete')
    .argument('<groups...>', 'groups to delete, with their committed offsets')
    .description('delete groups that have no members (like kafka-consumer-groups --delete)')
    .action((groupIds: string[]) =>
      withAdmin(async (admin) => {
        const outcomes = await admin.deleteGroups(groupIds);
        const failed = outcomes.filter((outcome) => outcome.error !== null);
        const deleted = outcomes.filter((outcome) => outcome.error === null).map((outcome) => `'${outcome.groupId}'`);
        if (failed.length === 0) {
          io.write(`Deletion of requested consumer groups (${deleted.join(', ')}) was successful.`);
          return;
        }
        if (deleted.length > 0) io.write(`These consumer groups were deleted successfully: ${deleted.join(', ')}`);
        const reasons = failed.map((outcome) => `* Group '${outcome.groupId}' could not be deleted due to: ${outcome.error?.errorName}${groupErrorHint(outcome.error)}`);
        throw new CliError(`Deletion of some consumer groups failed:\n${reasons.join('\n')}`);
      }),
    );

  groups
    .command('reset-offsets')
    .argument('<group>')
    .description('set committed offsets of a group with no members; a preview unless --execute (like kafka-consumer-groups --reset-offsets)')
    .option('--topic <topic[:partitions]>', 'a topic, or some of its partitions (orders:0,2); repeat for several', topicSelection)
    .option('--all-topics', 'every topic the group has committed offsets for', false)
    .option('--to-earliest', 'to the log start', false)
    .option('--to-latest', 'to the log end', false)
    .addOption(new Option('--to-offset <offset>', 'to this offset (clamped into the log)').argParser(offsetArgument))
    .addOption(new Option('--to-datetime <YYYY-MM-DDTHH:mm:SS.sss>', 'to the first record at or after this time (Z or ±hh:mm; local time without)').argParser(parseDatetime))
    .addOption(new Option('--shift-by <n>', 'move the committed offset by n, back if negative (clamped into the log)').argParser(integer))
    .option('--execute', 'commit the new offsets', false)
    .option('--dry-run', 'only print the new offsets (as without --execute)')
    .action((groupId: string, options: ResetOptions) =>
      withAdmin(async (admin) => {
        const mode = resetMode(options);
        if (options.allTopics === (options.topic !== undefined)) throw new CliError('reset-offsets needs one of --topic or --all-topics');
        if (options.execute && options.dryRun) throw new CliError('--execute and --dry-run contradict each other');
        const group = await admin.describeGroup(groupId);
        if (!INACTIVE_STATES.has(group.state)) {
          throw new CliError(`Assignments can only be reset if the group '${groupId}' is inactive, but the current state is ${group.state} (${group.members.length} members).`);
        }
        const partitions = await partitionsToReset(admin, groupId, options.topic ?? [], options.allTopics);
        if (partitions.length === 0) throw new CliError(`nothing to reset: group '${groupId}' has no committed offsets`);
        const offsets = await newOffsets(admin, groupId, partitions, mode, io.warn);
        if (options.execute) await commit(admin, groupId, offsets);
        for (const line of resetTable(groupId, offsets)) io.write(line);
        if (!options.execute) io.warn('Preview only: nothing was committed. Add --execute to apply these offsets.');
      }),
    );

  return groups;
}

async function commit(admin: KafkaAdminClient, groupId: string, offsets: readonly PartitionOffset[]): Promise<void> {
  const failed = (await admin.commitOffsets(groupId, offsets)).filter((outcome) => outcome.error !== null);
  const [first] = failed;
  if (first === undefined) return;
  // A member joined between the state check and the commit: the coordinator refuses a simple commit then.
  if (failed.every((outcome) => outcome.error?.errorName === 'UNKNOWN_MEMBER_ID' || outcome.error?.errorName === 'REBALANCE_IN_PROGRESS')) {
    throw new CliError(`Assignments can only be reset if the group '${groupId}' is inactive: a member joined it (the coordinator refused the commit with ${first.error?.errorName}).`);
  }
  throw new CliError(`committing new offsets failed for ${failed.map((outcome) => `${outcome.topic}-${outcome.partition} (${outcome.error?.errorName})`).join(', ')}`);
}

function groupErrorHint(error: FerryError | null): string {
  if (error?.errorName === 'NON_EMPTY_GROUP') return ' (the group has members: stop them first)';
  if (error?.errorName === 'GROUP_ID_NOT_FOUND') return ' (no such group)';
  return '';
}
